// Which image accounts ecs-share added itself, kept in tags on the image (`ecs-share:granted`, `.2`, …), so a
// take-back never removes an account someone shared by hand. A share is an intent first: before
// ModifyImageSharePermission adds an account, the record holds it as pending (`+<uid>`); after the
// share it is confirmed (`<uid>`); `at.<base-36 seconds>` dates the newest intent. A crash between the two leaves a
// pending entry the next run resolves from the image's share list: shared means it was ours, so it is claimed; not
// shared and older than PENDING_TTL_S means the share never happened, so it is forgotten. Pure: tags in, record out.
import { TAG_VALUE_MAX, ledgerTagKeys } from './targets';
import { ACCOUNT_UID } from './ids';

export interface ImageGrantRecord {
  /** Accounts ecs-share added and confirmed. */
  granted: string[];
  /** Accounts ecs-share is about to add (or added and crashed before confirming). */
  pending: string[];
  /** When the newest intent was written (epoch seconds); absent without pending entries. */
  since?: number;
}

export interface ImageGrantChange {
  /** Record these as about to be shared (written before the share). */
  intend?: string[];
  /** These are now shared by ecs-share. */
  confirm?: string[];
  /** ecs-share no longer owns these (taken back, gone, or an intent that never became a share). */
  forget?: string[];
}

/** Intents younger than this may belong to an instance still at work: only their writer resolves them. */
export const PENDING_TTL_S = 15 * 60;

const PENDING = /^\+(\d{16})$/;
const SINCE = /^at\.([0-9a-z]{1,8})$/;

export function readImageGrants(tags: Record<string, string>, ledgerKey: string): ImageGrantRecord {
  const granted = new Set<string>();
  const pending = new Set<string>();
  let since: number | undefined;
  for (const key of ledgerTagKeys(tags, ledgerKey)) {
    for (const token of (tags[key] ?? '').split(/[\s,]+/)) {
      if (ACCOUNT_UID.test(token)) granted.add(token);
      const p = PENDING.exec(token);
      if (p) pending.add(p[1]);
      const t = SINCE.exec(token);
      if (t) since = Math.max(since ?? 0, parseInt(t[1], 36));
    }
  }
  for (const uid of granted) pending.delete(uid);
  return record(granted, pending, since);
}

function record(granted: Set<string>, pending: Set<string>, since: number | undefined): ImageGrantRecord {
  return { granted: [...granted].sort(), pending: [...pending].sort(), ...(pending.size ? { since: since ?? 0 } : {}) };
}

export function mergeImageGrants(rec: ImageGrantRecord, change: ImageGrantChange, nowS: number): ImageGrantRecord {
  const granted = new Set(rec.granted);
  const pending = new Set(rec.pending);
  let since = rec.since;
  const fresh = (change.intend ?? []).filter((uid) => !granted.has(uid) && !pending.has(uid));
  for (const uid of fresh) pending.add(uid);
  // A new intent dates the record (a re-read then shows it unchanged); a stale date is renewed by any intent.
  if (
    fresh.length ||
    ((change.intend ?? []).some((uid) => pending.has(uid)) && nowS - (since ?? 0) >= PENDING_TTL_S / 2)
  )
    since = nowS;
  for (const uid of change.confirm ?? []) {
    granted.add(uid);
    pending.delete(uid);
  }
  for (const uid of change.forget ?? []) {
    granted.delete(uid);
    pending.delete(uid);
  }
  return record(granted, pending, since);
}

export const sameImageGrants = (a: ImageGrantRecord, b: ImageGrantRecord): boolean =>
  a.granted.join() === b.granted.join() && a.pending.join() === b.pending.join() && a.since === b.since;

/** The record as tag values of at most 128 characters: `ledgerKey`, `ledgerKey.2`, …; an empty record is no tag. */
export function formatImageGrants(rec: ImageGrantRecord, ledgerKey: string): Record<string, string> {
  const bad = [...rec.granted, ...rec.pending].find((u) => !ACCOUNT_UID.test(u));
  if (bad !== undefined) throw new Error(`The image grant record holds account UIDs only, not "${bad}"`);
  const tokens = [
    ...rec.granted,
    ...rec.pending.map((uid) => `+${uid}`),
    ...(rec.pending.length ? [`at.${(rec.since ?? 0).toString(36)}`] : []),
  ];
  const values: string[] = [];
  for (const token of tokens) {
    const last = values.length - 1;
    if (last >= 0 && values[last].length + 1 + token.length <= TAG_VALUE_MAX) values[last] += `,${token}`;
    else values.push(token);
  }
  return Object.fromEntries(values.map((v, i) => [i === 0 ? ledgerKey : `${ledgerKey}.${i + 1}`, v]));
}
