// Which image accounts ecs-share added itself, kept in tags on the image (`ecs-share:granted`, `.2`, …), so a
// take-back never removes an account someone shared by hand. A share is an intent first: before
// ModifyImageSharePermission adds an account, the record holds it as pending (`+<uid>.<base-36 seconds>`); after the
// share it is confirmed (`<uid>`). A crash between the two leaves a pending entry the next run resolves from the
// image's share list: shared means it was ours, so it is claimed; not shared and older than PENDING_TTL_S means the
// share never happened, so it is forgotten. Pure: tags in, record out.
import { ledgerTagKeys } from './targets';

export interface ImageGrantRecord {
  /** Accounts ecs-share added and confirmed. */
  granted: string[];
  /** Accounts ecs-share is about to add (or added and crashed before confirming), with when the intent was written. */
  pending: Array<{ uid: string; since: number }>;
}

export interface ImageGrantChange {
  /** Record these as about to be shared (written before the share). */
  intend?: string[];
  /** These are now shared by ecs-share. */
  confirm?: string[];
  /** ecs-share no longer owns these (taken back, gone, or an intent that never became a share). */
  forget?: string[];
}

/** A pending entry younger than this may belong to an instance still at work: only its writer resolves it. */
export const PENDING_TTL_S = 15 * 60;

const UID = /^\d{16}$/;
const PENDING = /^\+(\d{16})\.([0-9a-z]{1,8})$/;
const VALUE_MAX = 128;

export function readImageGrants(tags: Record<string, string>, ledgerKey: string): ImageGrantRecord {
  const granted = new Set<string>();
  const pending = new Map<string, number>();
  for (const key of ledgerTagKeys(tags, ledgerKey)) {
    for (const token of (tags[key] ?? '').split(/[\s,]+/)) {
      if (UID.test(token)) granted.add(token);
      const m = PENDING.exec(token);
      if (m) pending.set(m[1], Math.max(pending.get(m[1]) ?? 0, parseInt(m[2], 36)));
    }
  }
  for (const uid of granted) pending.delete(uid);
  return { granted: [...granted].sort(), pending: [...pending].map(([uid, since]) => ({ uid, since })).sort((a, b) => a.uid.localeCompare(b.uid)) };
}

export function mergeImageGrants(rec: ImageGrantRecord, change: ImageGrantChange, nowS: number): ImageGrantRecord {
  const granted = new Set(rec.granted);
  const pending = new Map(rec.pending.map((p) => [p.uid, p.since]));
  // A fresh intent keeps its date (so a re-read shows the record unchanged); a stale one is renewed.
  for (const uid of change.intend ?? []) if (!granted.has(uid) && !(nowS - (pending.get(uid) ?? -Infinity) < PENDING_TTL_S / 2)) pending.set(uid, nowS);
  for (const uid of change.confirm ?? []) (granted.add(uid), pending.delete(uid));
  for (const uid of change.forget ?? []) (granted.delete(uid), pending.delete(uid));
  return { granted: [...granted].sort(), pending: [...pending].map(([uid, since]) => ({ uid, since })).sort((a, b) => a.uid.localeCompare(b.uid)) };
}

export const sameImageGrants = (a: ImageGrantRecord, b: ImageGrantRecord): boolean =>
  a.granted.join() === b.granted.join() && a.pending.map((p) => `${p.uid}.${p.since}`).join() === b.pending.map((p) => `${p.uid}.${p.since}`).join();

/** The record as tag values of at most 128 characters: `ledgerKey`, `ledgerKey.2`, …; an empty record is no tag. */
export function formatImageGrants(rec: ImageGrantRecord, ledgerKey: string): Record<string, string> {
  const bad = rec.granted.find((u) => !UID.test(u)) ?? rec.pending.find((p) => !UID.test(p.uid))?.uid;
  if (bad !== undefined) throw new Error(`The image grant record holds account UIDs only, not "${bad}"`);
  const tokens = [...rec.granted, ...rec.pending.map((p) => `+${p.uid}.${p.since.toString(36)}`)];
  const values: string[] = [];
  for (const token of tokens) {
    const last = values.length - 1;
    if (last >= 0 && values[last].length + 1 + token.length <= VALUE_MAX) values[last] += `,${token}`;
    else values.push(token);
  }
  return Object.fromEntries(values.map((v, i) => [i === 0 ? ledgerKey : `${ledgerKey}.${i + 1}`, v]));
}
