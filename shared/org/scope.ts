// Organisation mode's scope (SHARE_ACCOUNTS, SHARE_MEMBER_ROLE): which owner accounts one central deployment acts
// in, and the pure decision whether an owner account is one of them. Parsing is strict: a bad value is a
// configuration error before any call is made, never a guess at what was meant.
import { InvalidInputError } from '../errors';
import type { Membership } from '../share/ports';

export interface OrgConfig {
  /** `all`: every account of the central account's resource directory; else the uids and folders listed. */
  accounts: 'all' | { uids: string[]; folders: string[] };
  /** The role ecs-share assumes in a member account: acs:ram::<uid>:role/<memberRole>. */
  memberRole: string;
  /** The fan-out's worker function (SHARE_WORKER_FUNCTION), invoked asynchronously by the coordinator. */
  worker: string;
}

const UID = /^\d{16}$/;
/** A folder id as RD writes it: fd- and exactly 10 letters or digits (the tag contract's rule). */
const FOLDER = /^fd-[A-Za-z0-9]{10}$/;
/** RAM role names: 1–64 letters, digits, `.`, `-`, `_`. */
const ROLE_NAME = /^[A-Za-z0-9._-]{1,64}$/;
/** FC 3.0 function names: a letter or `_` first, then letters, digits, `_`, `-`; at most 128. */
const FUNCTION_NAME = /^[A-Za-z_][A-Za-z0-9_-]{0,127}$/;

/** Single account (undefined) unless SHARE_ACCOUNTS is set; SHARE_MEMBER_ROLE alone is a mistake worth saying. */
export function parseOrgConfig(env: NodeJS.ProcessEnv): OrgConfig | undefined {
  const raw = env.SHARE_ACCOUNTS?.trim() ?? '';
  const role = env.SHARE_MEMBER_ROLE?.trim() ?? '';
  const workerName = env.SHARE_WORKER_FUNCTION?.trim() ?? '';
  if (raw === '') {
    for (const [name, value] of [
      ['SHARE_MEMBER_ROLE', role],
      ['SHARE_WORKER_FUNCTION', workerName],
    ])
      if (value !== '')
        throw new InvalidInputError(
          `${name} is set but SHARE_ACCOUNTS is not: set SHARE_ACCOUNTS (all, or uids and fd- folder ids) for organisation mode`,
        );
    return undefined;
  }
  const worker = workerName || 'ecs-share-reconcile-worker';
  if (!FUNCTION_NAME.test(worker))
    throw new InvalidInputError(
      `SHARE_WORKER_FUNCTION "${worker.slice(0, 130)}" is not a Function Compute function name (a letter or "_" first, then letters, digits, "_", "-"; at most 128)`,
    );
  const memberRole = role || 'ecs-share-member';
  if (!ROLE_NAME.test(memberRole))
    throw new InvalidInputError(
      `SHARE_MEMBER_ROLE "${memberRole}" is not a RAM role name (1-64 letters, digits, ".", "-", "_")`,
    );
  const entries = raw.split(/[\s,]+/).filter(Boolean);
  if (entries.some((e) => e.toLowerCase() === 'all')) {
    if (entries.length > 1)
      throw new InvalidInputError('SHARE_ACCOUNTS is "all" or a list of account uids and fd- folder ids, not both');
    return { accounts: 'all', memberRole, worker };
  }
  const uids: string[] = [];
  const folders: string[] = [];
  for (const e of entries) {
    if (UID.test(e)) uids.push(e);
    else if (FOLDER.test(e)) folders.push(e);
    else
      throw new InvalidInputError(
        `SHARE_ACCOUNTS: "${e.slice(0, 80)}" is not a 16-digit account uid, an fd- folder id (fd- and 10 letters or digits) or "all"`,
      );
  }
  return { accounts: { uids: [...new Set(uids)], folders: [...new Set(folders)] }, memberRole, worker };
}

export type ScopeDecision = { kind: 'in' } | { kind: 'out'; reason: string } | { kind: 'ask-directory' };

/**
 * Whether organisation mode acts in `owner`'s account. The central account itself is always in scope (single-account
 * mode's behaviour, kept). A listed uid is in without a call; `all` and folders need the account's membership in the
 * central account's resource directory (GetAccount), which the caller passes once it has asked.
 */
export function decideScope(org: OrgConfig, owner: string, central: string, membership?: Membership): ScopeDecision {
  if (owner === central) return { kind: 'in' };
  const listed = org.accounts !== 'all' && org.accounts.uids.includes(owner);
  if (listed) return { kind: 'in' };
  if (org.accounts !== 'all' && org.accounts.folders.length === 0)
    return { kind: 'out', reason: `account ${owner} is not listed in SHARE_ACCOUNTS; ${notConfigured(owner)}` };
  if (!membership) return { kind: 'ask-directory' };
  if (membership.kind !== 'member') {
    const why =
      membership.kind === 'external'
        ? 'is not a member of the resource directory'
        : `has a resource directory membership that cannot be read (${membership.code})`;
    return { kind: 'out', reason: `account ${owner} ${why}; ${notConfigured(owner)}` };
  }
  if (org.accounts === 'all') return { kind: 'in' };
  // The member's path is rd-…/r-…/fd-…/…/<uid>: a listed folder anywhere on it holds the account.
  const path = (membership.path ?? '').split('/');
  const folders = org.accounts.folders;
  if (folders.some((f) => path.includes(f) || membership.folderId === f)) return { kind: 'in' };
  return {
    kind: 'out',
    reason: `account ${owner} is in none of the folders SHARE_ACCOUNTS lists (${folders.join(', ')}); ${notConfigured(owner)}`,
  };
}

function notConfigured(owner: string): string {
  return `ecs-share acts only in the accounts SHARE_ACCOUNTS names, so nothing was changed in ${owner}`;
}

/** The member role's ARN in `uid`. */
export const memberRoleArn = (org: OrgConfig, uid: string) => `acs:ram::${uid}:role/${org.memberRole}`;
