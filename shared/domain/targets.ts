// The tag contract: which tags ask for a share, how their values name targets, and the per-image
// ledger of accounts the tool itself added. Pure: tags in, targets and reasons out.
//
// Contract (README wording):
//   Key `share-with` (configurable) holds targets separated by commas and/or whitespace. When one
//   128-character value is not enough, continue in `share-with.2`, `share-with.3`, ... up to
//   `share-with.10`; all of them are read together (gaps allowed, order irrelevant). Ten keys
//   because ECS allows 20 tags per resource and the tool needs room for its own ledger tags.
//   A target is one of:
//     - an account UID, exactly 16 digits                      1000000000000002
//     - a whole resource directory                             rd-demo01
//     - a folder, by its full RD path (GetFolder's ResourceDirectoryPath)
//                                                              rd-demo01/r-demo01/fd-demofold01[/fd-...]
//   Refused, each with a reason: wildcards (`*`, `?`, `%`), malformed ids, `rd-…/r-…` alone (the
//   root folder: write `rd-…` instead), the owner's own account, anything outside a configured
//   allowlist, and keys such as `share-with.11` that the contract does not define.
//   One refused target blocks the resource's whole tag set (test/e2e/bad-input.test.ts): nothing
//   is shared and nothing is revoked until the tag is fixed, so a typo never revokes a share.

import { ACCOUNT_UID, RD_ID } from './ids';

export type ShareTarget =
  | { kind: 'account'; uid: string }
  | { kind: 'rd'; rdId: string }
  | { kind: 'folder'; rdId: string; path: string; folderId: string };

export type TargetErrorCode = 'Wildcard' | 'Malformed' | 'RootFolder' | 'Self' | 'NotAllowed' | 'UnknownKey';

export type TargetError = { value: string; reason: string; code: TargetErrorCode; key?: string };

export type Allowlist = { accounts?: string[]; rds?: string[]; folders?: string[] };

export type ParseShareTagsOptions = { tagKey: string; ownerUid: string; allowlist?: Allowlist };

const DEFAULT_SHARE_TAG_KEY = 'share-with';
const DEFAULT_LEDGER_TAG_KEY = 'ecs-share:granted';
/** The base key plus `.2` … `.10`. */
const MAX_SHARE_TAG_KEYS = 10;
export const TAG_VALUE_MAX = 128;

const ROOT_ID = /^r-[A-Za-z0-9]{4,32}$/;
// Exactly 10 characters, as GetFolder documents: the trust policy matches a folder's members with StringLike
// "<path>*", and only fixed-length ids keep that wildcard from also matching a sibling whose id merely starts the same.
const FOLDER_ID = /^fd-[A-Za-z0-9]{10}$/;
const WILDCARD = /[*?%]/;

export function targetKey(t: ShareTarget): string {
  switch (t.kind) {
    case 'account':
      return t.uid;
    case 'rd':
      return t.rdId;
    case 'folder':
      return t.path;
  }
}

export function formatTarget(t: ShareTarget): string {
  switch (t.kind) {
    case 'account':
      return `account ${t.uid}`;
    case 'rd':
      return `resource directory ${t.rdId}`;
    case 'folder':
      return `folder ${t.path}`;
  }
}

/** Every tag key the contract reads, in order: `base`, `base.2` … `base.10`. */
export function shareTagKeys(base: string = DEFAULT_SHARE_TAG_KEY): string[] {
  return [base, ...Array.from({ length: MAX_SHARE_TAG_KEYS - 1 }, (_, i) => `${base}.${i + 2}`)];
}

/**
 * True for the base key and every `base.<suffix>` key (even one outside the contract, which
 * parseShareTags refuses): used to tell whether a tag event concerns sharing at all.
 */
export function isShareTagKey(key: string, base: string = DEFAULT_SHARE_TAG_KEY): boolean {
  return key === base || key.startsWith(`${base}.`);
}

/** `base.N` → N (any N ≥ 1 written without leading zeros), else undefined. */
function continuationIndex(key: string, base: string): number | undefined {
  if (!key.startsWith(`${base}.`)) return undefined;
  const suffix = key.slice(base.length + 1);
  return /^[1-9]\d*$/.test(suffix) ? Number(suffix) : undefined;
}

export function parseShareTags(
  tags: Record<string, string>,
  opts: ParseShareTagsOptions,
): { targets: ShareTarget[]; errors: TargetError[] } {
  const targets = new Map<string, ShareTarget>();
  const errors: TargetError[] = [];
  const seenErrors = new Set<string>();
  const addError = (e: TargetError) => {
    const id = `${e.code}\u0000${e.value}`;
    if (seenErrors.has(id)) return;
    seenErrors.add(id);
    errors.push(e);
  };

  for (const key of Object.keys(tags).sort(byShareKeyOrder(opts.tagKey))) {
    if (!isShareTagKey(key, opts.tagKey)) continue;
    const index = key === opts.tagKey ? 1 : continuationIndex(key, opts.tagKey);
    if (key !== opts.tagKey && (index === undefined || index < 2 || index > MAX_SHARE_TAG_KEYS)) {
      addError({
        key,
        value: key,
        code: 'UnknownKey',
        reason: `tag key ${key} is not part of the contract: use ${opts.tagKey} and ${opts.tagKey}.2 … ${opts.tagKey}.${MAX_SHARE_TAG_KEYS}`,
      });
      continue;
    }
    for (const token of splitTargets(tags[key] ?? '')) {
      const parsed = parseTarget(token);
      if ('code' in parsed) {
        addError({ ...parsed, key });
        continue;
      }
      const refusal = refuse(parsed, opts);
      if (refusal) addError({ key, value: token, ...refusal });
      else targets.set(`${parsed.kind}:${targetKey(parsed)}`, parsed);
    }
  }
  return { targets: [...targets.values()].sort(compareTargets), errors };
}

function splitTargets(value: string): string[] {
  return value.split(/[\s,]+/).filter((s) => s.length > 0);
}

/** Parses one token into a target, or says why it is not one (before owner and allowlist checks). */
function parseTarget(token: string): ShareTarget | TargetError {
  if (WILDCARD.test(token)) {
    return {
      value: token,
      code: 'Wildcard',
      reason: `"${token}" contains a wildcard; name each account, RD or folder exactly`,
    };
  }
  if (/^\d+$/.test(token)) {
    return ACCOUNT_UID.test(token)
      ? { kind: 'account', uid: token }
      : malformed(token, 'an account UID has exactly 16 digits');
  }
  if (!token.includes('/')) {
    if (RD_ID.test(token)) return { kind: 'rd', rdId: token };
    return malformed(token, 'expected a 16-digit account UID, rd-<id>, or rd-<id>/r-<root>/fd-<folder> path');
  }
  const segments = token.split('/');
  if (segments.some((s) => s === '' || s === '.' || s === '..')) {
    return malformed(token, 'a folder path has no empty segments, no "." or "..", and no trailing slash');
  }
  const [rdId, rootId, ...folders] = segments;
  if (!RD_ID.test(rdId))
    return malformed(token, `a folder path starts with the resource directory id (rd-…), not "${rdId}"`);
  if (!ROOT_ID.test(rootId))
    return malformed(token, `the second segment of a folder path is the root folder id (r-…), not "${rootId}"`);
  if (folders.length === 0) {
    return {
      value: token,
      code: 'RootFolder',
      reason: `${token} is the root folder, i.e. the whole resource directory: write ${rdId} instead`,
    };
  }
  const bad = folders.find((f) => !FOLDER_ID.test(f));
  if (bad !== undefined)
    return malformed(token, `"${bad}" is not a folder id (fd- followed by exactly 10 letters or digits)`);
  return { kind: 'folder', rdId, path: token, folderId: folders[folders.length - 1] };
}

function malformed(value: string, why: string): TargetError {
  return { value, code: 'Malformed', reason: `"${value}" is malformed: ${why}` };
}

function refuse(t: ShareTarget, opts: ParseShareTagsOptions): Pick<TargetError, 'code' | 'reason'> | undefined {
  if (t.kind === 'account' && t.uid === opts.ownerUid) {
    return { code: 'Self', reason: `${t.uid} is the owner's own account; a resource is never shared with itself` };
  }
  if (!isAllowed(t, opts.allowlist)) {
    return { code: 'NotAllowed', reason: `${formatTarget(t)} is not in the configured allowlist` };
  }
  return undefined;
}

/**
 * No allowlist (or one with no list at all) allows everything. Once any list is configured, the
 * missing lists are empty: configuring only accounts forbids every RD and folder.
 * A folder is allowed when listed, when under a listed folder (by path, or by a listed fd- id on
 * its path), or when its RD is listed.
 */
function isAllowed(t: ShareTarget, allowlist?: Allowlist): boolean {
  if (!allowlist || (!allowlist.accounts && !allowlist.rds && !allowlist.folders)) return true;
  const accounts = allowlist.accounts ?? [];
  const rds = allowlist.rds ?? [];
  const folders = allowlist.folders ?? [];
  switch (t.kind) {
    case 'account':
      return accounts.includes(t.uid);
    case 'rd':
      return rds.includes(t.rdId);
    case 'folder': {
      if (rds.includes(t.rdId)) return true;
      const segments = t.path.split('/');
      return folders.some(
        (f) => f === t.path || t.path.startsWith(`${f}/`) || (FOLDER_ID.test(f) && segments.includes(f)),
      );
    }
  }
}

const KIND_ORDER: Record<ShareTarget['kind'], number> = { account: 0, rd: 1, folder: 2 };

function compareTargets(a: ShareTarget, b: ShareTarget): number {
  if (a.kind !== b.kind) return KIND_ORDER[a.kind] - KIND_ORDER[b.kind];
  const ka = targetKey(a);
  const kb = targetKey(b);
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

function byShareKeyOrder(base: string) {
  const rank = (k: string) => (k === base ? 1 : (continuationIndex(k, base) ?? Number.MAX_SAFE_INTEGER));
  return (a: string, b: string) => rank(a) - rank(b) || (a < b ? -1 : a > b ? 1 : 0);
}

// ---------------------------------------------------------------------------------------------
// Per-image grant ledger keys (`ecs-share:granted`, `ecs-share:granted.2`, …): what they hold is
// domain/image-grants.ts (confirmed accounts and intents).

/** The ledger keys present on a resource, base key first; the engine untags the ones it no longer writes. */
export function ledgerTagKeys(tags: Record<string, string>, ledgerKey: string = DEFAULT_LEDGER_TAG_KEY): string[] {
  return Object.keys(tags)
    .filter((k) => k === ledgerKey || (continuationIndex(k, ledgerKey) ?? 0) >= 2)
    .sort(byShareKeyOrder(ledgerKey));
}
