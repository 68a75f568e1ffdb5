// Re-read everything the decision depends on from the API: the event is only a trigger, never the truth.
import { parseGrantLedger } from '../domain/targets';
import { keysInPolicy, policyNameFor, type KeyRef } from '../domain/kms-policy';
import { parsePolicy } from '../domain/policy-json';
import type { SnapshotInfo } from '../cloud/ecs';
import { describeKeyCached, type EngineContext } from './context';
import { ROLE_NAMES, shareNameFor, type Encryption, type ResourceObservation, type ResourceRef, type RoleObservation, type ToolShareState } from './model';
import type { ResourceType } from '../cloud/ecs';

/** Encryption of a set of snapshots: none, customer master keys, or (any of them) the ECS service key. */
async function encryptionOf(ctx: EngineContext, region: string, snapshots: SnapshotInfo[]): Promise<{ encryption: Encryption; disabledKeys: ResourceObservation['disabledKeys'] }> {
  const keyIds = [...new Set(snapshots.filter((s) => s.encrypted).map((s) => s.kmsKeyId ?? ''))];
  if (keyIds.length === 0) return { encryption: { kind: 'none' }, disabledKeys: [] };
  const serviceKeyId = await ctx.ports.kms.serviceKeyId(region);
  const keys: KeyRef[] = [];
  const disabledKeys: ResourceObservation['disabledKeys'] = [];
  let serviceKey = false;
  for (const keyId of keyIds) {
    // An encrypted snapshot without a key id can only be the service key's (the default when no key is given).
    if (!keyId || keyId === serviceKeyId) {
      serviceKey = true;
      if (serviceKeyId) keys.push({ region, accountId: ctx.ownerUid, keyId: serviceKeyId });
      continue;
    }
    const info = await describeKeyCached(ctx, region, keyId);
    if (!info) {
      disabledKeys.push({ keyId, state: 'NotFound' });
      continue;
    }
    if (info.state !== 'Enabled') disabledKeys.push({ keyId, state: info.state });
    keys.push({ region: info.region || region, accountId: info.accountId || ctx.ownerUid, keyId: info.keyId || keyId });
  }
  return { encryption: serviceKey ? { kind: 'service-key', keys } : { kind: 'cmk', keys }, disabledKeys };
}

export async function observeToolShare(ctx: EngineContext, ref: ResourceRef): Promise<ToolShareState | undefined> {
  const share = await ctx.ports.sharing.findShare(ref.region, shareNameFor(ref.id));
  if (!share) return undefined;
  const targets: ToolShareState['targets'] = {};
  for (const a of await ctx.ports.sharing.associations(ref.region, share.id, 'Target')) targets[a.entityId] = { status: a.status, message: a.message, external: a.external };
  return { id: share.id, allowExternalTargets: share.allowExternalTargets, targets };
}

/** What a listing already read: the resource (absent when it no longer exists) and ecs-share's resource share. */
export interface KnownResource {
  exists: boolean;
  tags: Record<string, string>;
  snapshots: SnapshotInfo[];
  toolShare: ToolShareState | undefined;
}

/** Observe a resource, given its already-read description when a listing produced it (reconcile). */
export async function observeResource(
  ctx: EngineContext,
  ref: ResourceRef,
  known?: KnownResource,
): Promise<ResourceObservation> {
  let tags: Record<string, string>;
  let snapshots: SnapshotInfo[];
  if (known) {
    if (!known.exists) return { ref, exists: false, tags: {}, encryption: { kind: 'none' }, disabledKeys: [], toolShare: known.toolShare };
    ({ tags, snapshots } = known);
  } else if (ref.type === 'snapshot') {
    const [s] = await ctx.ports.ecs.getSnapshots(ref.region, [ref.id]);
    if (!s) return { ref, exists: false, tags: {}, encryption: { kind: 'none' }, disabledKeys: [] };
    tags = s.tags;
    snapshots = [s];
  } else {
    const image = await ctx.ports.ecs.getImage(ref.region, ref.id);
    if (!image) return { ref, exists: false, tags: {}, encryption: { kind: 'none' }, disabledKeys: [] };
    tags = image.tags;
    snapshots = image.snapshotIds.length ? await ctx.ports.ecs.getSnapshots(ref.region, image.snapshotIds) : [];
  }
  const { encryption, disabledKeys } = await encryptionOf(ctx, ref.region, snapshots);
  const obs: ResourceObservation = { ref, exists: true, tags, encryption, disabledKeys };
  if (ref.type === 'image') {
    obs.imageAccounts = await ctx.ports.ecs.imageShareAccounts(ref.region, ref.id);
    obs.grantLedger = parseGrantLedger(tags, ctx.cfg.ledgerKey);
  }
  obs.toolShare = known ? known.toolShare : await observeToolShare(ctx, ref);
  return obs;
}

/** The share role of a resource type, its trust policy, attached policies and ecs-share's KMS policies. */
export async function observeRole(ctx: EngineContext, type: ResourceType): Promise<RoleObservation> {
  const roleName = ROLE_NAMES[type];
  const role = await ctx.ports.ram.getRole(roleName);
  if (!role) return { roleName, exists: false, attached: [], kmsPolicies: {} };
  const attached = await ctx.ports.ram.listPoliciesForRole(roleName);
  const kmsPolicies = await readKmsPolicies(ctx, type);
  return { roleName, exists: true, trustPolicy: role.trustPolicy, description: role.description, attached, kmsPolicies };
}

/** ecs-share's KMS policies of a role type by name (they are numbered; read until the first that does not exist). */
export async function readKmsPolicies(ctx: EngineContext, type: ResourceType): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (let i = 0; ; i++) {
    const name = policyNameFor(type, i);
    const doc = await ctx.ports.ram.getPolicyDocument(name);
    if (doc === undefined) return out;
    out[name] = doc;
  }
}

/** Keys granted by the role's ecs-share KMS policies. */
export function grantedKeys(role: RoleObservation): KeyRef[] {
  return Object.values(role.kmsPolicies).flatMap((doc) => (doc ? keysInPolicy(parsePolicy(doc)) : []));
}
