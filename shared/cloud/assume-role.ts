// STS AssumeRole (organisation mode): a member account's role session, made with the central function's own
// credentials. Only the answer's credentials and expiry are read; they are never logged.
import type { CloudApi, Credentials } from './api';

export interface RoleSession extends Credentials {
  securityToken: string;
  /** Epoch milliseconds at which STS says the session ends. */
  expiresAt: number;
}

export async function assumeRole(
  api: CloudApi,
  roleArn: string,
  sessionName: string,
  region: string,
  durationSeconds = 3600,
): Promise<RoleSession> {
  // Never resent blindly: a lost answer is just asked again by the next getCredential.
  const body = await api.call<{
    Credentials?: { AccessKeyId?: string; AccessKeySecret?: string; SecurityToken?: string; Expiration?: string };
  }>('sts', 'AssumeRole', { RoleArn: roleArn, RoleSessionName: sessionName, DurationSeconds: durationSeconds }, region);
  const c = body?.Credentials ?? {};
  const expiresAt = Date.parse(String(c.Expiration ?? ''));
  if (!c.AccessKeyId || !c.AccessKeySecret || !c.SecurityToken || !Number.isFinite(expiresAt)) {
    throw new Error(`AssumeRole of ${roleArn} answered without credentials`);
  }
  return {
    accessKeyId: String(c.AccessKeyId),
    accessKeySecret: String(c.AccessKeySecret),
    securityToken: String(c.SecurityToken),
    expiresAt,
  };
}
