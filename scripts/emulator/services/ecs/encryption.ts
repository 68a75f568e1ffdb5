// The encryption of a new disk, snapshot copy or image copy: the caller's CMK (KMSKeyId), the source's key, or the
// caller's ECS service key; and the service role ECS needs before it may use a CMK.
import { findRole } from '../../permissions';
import { ApiError, type CallContext, type KmsKey, type Snapshot } from '../../types';
import { ensureServiceKey, findKey } from '../kms';
import { owner } from './common';

function cmkNotEnabled(key: KmsKey): ApiError {
  return new ApiError(
    403,
    'InvalidParameter.KMSKeyId.CMKNotEnabled',
    `The CMK ${key.keyId} must be in the Enabled state.`,
  );
}

/** A key of the caller given by KMSKeyId (id, ARN-less alias): it must exist in the region and be enabled. */
export function callerKey(ctx: CallContext, region: string, keyId: string): KmsKey {
  const key = findKey(ctx.state, owner(ctx), region, keyId);
  if (!key) throw new ApiError(404, 'InvalidKMSKeyId.NotFound', `The specified KMSKeyId ${keyId} is not found.`);
  if (key.state !== 'Enabled') throw cmkNotEnabled(key);
  return key;
}

export interface Encryption {
  encrypted: boolean;
  kmsKeyId?: string;
}

/** The service role ECS assumes to use a customer master key of the account, and its system policies (either name). */
const DISK_ENCRYPT_ROLE = 'AliyunECSDiskEncryptDefaultRole';
const DISK_ENCRYPT_POLICIES = ['AliyunECSDiskEncryptRolePolicy', 'AliyunECSDiskEncryptDefaultRolePolicy'];

/**
 * ECS may encrypt with a CMK only once AliyunECSDiskEncryptDefaultRole exists in the account with its system policy
 * (the ECS encryption guide; the console creates it the first time a CMK is picked). Checked on CopySnapshot and
 * CopyImage with KMSKeyId; 403 InvalidParameter.KMSKeyId.KMSUnauthorized ("ECS is not authorized to access KMS").
 */
export function requireDiskEncryptRole(ctx: CallContext): void {
  const role = findRole(ctx.state, owner(ctx), DISK_ENCRYPT_ROLE);
  const ok = role?.attachedPolicies?.some(
    (p) => p.policyType === 'System' && DISK_ENCRYPT_POLICIES.includes(p.policyName),
  );
  if (!ok) {
    throw new ApiError(
      403,
      'InvalidParameter.KMSKeyId.KMSUnauthorized',
      `ECS is not authorized to access KMS: the role ${DISK_ENCRYPT_ROLE} is missing or lacks its system policy.`,
    );
  }
}

/**
 * The encryption of a new disk or snapshot copy: KMSKeyId wins; an own source in the same region keeps its key;
 * otherwise an encrypted result (asked for, or from an encrypted source) gets the caller's ECS service key.
 */
export function chooseEncryption(
  ctx: CallContext,
  region: string,
  opts: { requested: boolean; keyId?: string; source?: Snapshot; sourceKeyReusable?: boolean },
): Encryption {
  if (opts.keyId) return { encrypted: true, kmsKeyId: callerKey(ctx, region, opts.keyId).keyId };
  const source = opts.source;
  if (source?.encrypted && source.kmsKeyId && opts.sourceKeyReusable) {
    const key = findKey(ctx.state, source.accountId, source.region, source.kmsKeyId);
    if (key && key.state !== 'Enabled') throw cmkNotEnabled(key);
    return { encrypted: true, kmsKeyId: source.kmsKeyId };
  }
  if (opts.requested || source?.encrypted) {
    return { encrypted: true, kmsKeyId: ensureServiceKey(ctx.state, ctx.emu, owner(ctx), region).keyId };
  }
  return { encrypted: false };
}
