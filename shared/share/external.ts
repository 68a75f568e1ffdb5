// The secure default for accounts outside the owner's resource directory (docs/security.md): such an
// account is a target only when the configuration says so, the way Resource Sharing's AllowExternalTargets is false
// unless asked. Resource directories and folders are members by construction; only account targets are looked up.
import type { ShareTarget } from '../domain/targets';
import { membershipCached, type EngineContext } from './context';

export const EXTERNAL_NOT_ALLOWED = 'ExternalNotAllowed';

const FIX =
  'to share outside the resource directory, list the account in SHARE_ALLOW_ACCOUNTS (this turns the allowlist on: ' +
  'list your directories and folders in SHARE_ALLOW_RDS / SHARE_ALLOW_FOLDERS too) or set SHARE_ALLOW_EXTERNAL=true';

/**
 * Why the account targets cannot all be shared with, or undefined when they can. Membership is asked of the
 * directory once per account per invocation; where this account may not read the directory, every account counts
 * as external. Throws (retryably) when the directory could not be asked at all.
 */
export async function externalRefusal(ctx: EngineContext, targets: ShareTarget[]): Promise<string | undefined> {
  if (ctx.cfg.allowExternal) return undefined;
  const listed = new Set(ctx.cfg.allowlist?.accounts ?? []);
  const accounts = targets.flatMap((t) => (t.kind === 'account' && !listed.has(t.uid) ? [t.uid] : []));
  if (accounts.length === 0) return undefined;
  const found = await Promise.all(accounts.map(async (uid) => ({ uid, m: await membershipCached(ctx, uid) })));
  const outside = found.filter((f) => f.m.kind !== 'member');
  if (outside.length === 0) return undefined;
  const unknown = outside.flatMap((f) => (f.m.kind === 'unknown' ? [f.m.code] : []));
  const who = outside.map((f) => f.uid).join(', ');
  const why = unknown.length
    ? `account ${ctx.ownerUid} cannot read its resource directory (${unknown[0]}), so every account counts as outside it ` +
      '(run ecs-share in the management account or a delegated administrator of the directory to share with members without configuration)'
    : `${outside.length === 1 ? 'it is' : 'they are'} not in the owner's resource directory`;
  return `Sharing with ${who} is not allowed: ${why}; ${FIX}.`;
}
