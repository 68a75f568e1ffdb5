// Acting in a member account (organisation mode): the member role's STS session, refreshed before it expires, and
// an engine context whose ports act as that account. One context per member per invocation, so a batch of events
// from one member assumes its role once.
import { CloudApi, type CredentialProvider } from '../cloud/api';
import { assumeRole, type RoleSession } from '../cloud/assume-role';
import { createContext, type EngineContext } from '../share/context';
import { memberRoleArn, type OrgConfig } from './scope';

/** A session is renewed this long before STS ends it, so no call is signed with credentials about to lapse. */
export const REFRESH_BEFORE_MS = 5 * 60_000;
const SESSION_SECONDS = 3600;

/** The member role's credentials, asked by openapi-core before each request; assumed once, renewed near expiry. */
export class MemberCredentials implements CredentialProvider {
  private current?: Promise<RoleSession>;

  constructor(
    private readonly central: CloudApi,
    readonly roleArn: string,
    private readonly region: string,
    private readonly now: () => number = Date.now,
  ) {}

  private assume(): Promise<RoleSession> {
    const p = assumeRole(this.central, this.roleArn, 'ecs-share', this.region, SESSION_SECONDS);
    // A failed assume is asked again by the next request rather than remembered.
    p.catch(() => {
      if (this.current === p) this.current = undefined;
    });
    return (this.current = p);
  }

  async session(): Promise<RoleSession> {
    const p = this.current ?? this.assume();
    const s = await p;
    if (s.expiresAt - this.now() >= REFRESH_BEFORE_MS) return s;
    // Renew once however many requests noticed at the same time.
    return this.current === p || !this.current ? this.assume() : this.current;
  }

  async getCredential() {
    const s = await this.session();
    return {
      accessKeyId: s.accessKeyId,
      accessKeySecret: s.accessKeySecret,
      securityToken: s.securityToken,
      type: 'sts',
    };
  }
}

const contexts = new WeakMap<EngineContext, Map<string, Promise<EngineContext>>>();

/**
 * The engine context for `uid` made from the central one: the member role's session for every product, except the
 * resource directory questions (is a target a member?), which only the central account (management account or
 * delegated administrator) may ask. The role is assumed before the context is handed out, so a missing or
 * untrusting member role fails here, before anything is read or written in that account.
 */
export function memberContext(
  central: EngineContext,
  org: OrgConfig,
  uid: string,
  remainingMs?: () => number,
): Promise<EngineContext> {
  let byUid = contexts.get(central);
  if (!byUid) contexts.set(central, (byUid = new Map()));
  let p = byUid.get(uid);
  if (!p) {
    p = makeMemberContext(central, org, uid, remainingMs);
    p.catch(() => byUid!.delete(uid));
    byUid.set(uid, p);
  }
  return p;
}

async function makeMemberContext(
  central: EngineContext,
  org: OrgConfig,
  uid: string,
  remainingMs?: () => number,
): Promise<EngineContext> {
  if (!(central.api instanceof CloudApi))
    throw new Error('organisation mode needs the cloud client (no member session without it)');
  const credentials = new MemberCredentials(central.api, memberRoleArn(org, uid), central.cfg.regions[0]);
  await credentials.session();
  const ctx = await createContext({
    cfg: central.cfg,
    log: central.log.child({ accountId: uid }),
    accountId: uid,
    remainingMs,
    api: { credentialProvider: credentials },
  });
  return { ...ctx, ports: { ...ctx.ports, directory: central.ports.directory }, memberCache: central.memberCache };
}
