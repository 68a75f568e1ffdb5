// The share role's trust policy, merged the way the seed's three scenarios write it:
//   accounts → one statement, Principal.Service ["<uid>@ecs.aliyuncs.com", …], no Condition
//   an RD    → Principal.Service "*@ecs.aliyuncs.com" + StringEquals sts:ServiceOwnerRDId
//   a folder → Principal.Service "*@ecs.aliyuncs.com" + StringLike  sts:ServiceOwnerRDPath "<RD path>*"
// The tool only ever edits statements it provably wrote: the shape is its own and every principal
// in it is recorded in the ownership ledger (kept in the role's Description). Everything else is
// someone else's and is left byte-for-byte alone.

import { asArray, canonical, isRecord, type PolicyDocument, type Statement } from './policy-json';
import type { ShareTarget } from './targets';
import { ACCOUNT_UID, RD_ID, REGION } from './ids';

export type TrustGrant =
  { kind: 'account'; uid: string } | { kind: 'rd'; rdId: string } | { kind: 'folder'; pattern: string };

/** The grants the tool added itself (and may therefore take back). */
export type TrustLedger = {
  accounts: string[];
  rds: string[];
  folders: string[];
  /**
   * Regions whose resources asked for grants of this (global) role. A take-back checks every one of them before it
   * removes a grant, so a pass over some regions never cuts off a resource of another. Absent in older records.
   */
  regions?: string[];
};

export type TrustChange = {
  add: TrustGrant[];
  remove: TrustGrant[];
  /** Regions to record as asking. */ regions?: string[];
};

export type TrustMergeResult = {
  document: PolicyDocument;
  ledger: TrustLedger;
  /** documentChanged || ledgerChanged: the role needs an UpdateRole call. */
  changed: boolean;
  documentChanged: boolean;
  ledgerChanged: boolean;
  /** Grants written into the document (now claimed in the ledger). */
  added: TrustGrant[];
  /** Grants taken out of the tool's statements. */
  removed: TrustGrant[];
};

const ECS_SERVICE_DOMAIN = '@ecs.aliyuncs.com';
const ANY_ECS_SERVICE = `*${ECS_SERVICE_DOMAIN}`;
const RD_ID_CONDITION_KEY = 'sts:ServiceOwnerRDId';
const RD_PATH_CONDITION_KEY = 'sts:ServiceOwnerRDPath';
const LEDGER_MARKER = '[ecs-share]';
/** RAM role Description limit. */
const ROLE_DESCRIPTION_MAX = 1024;

const ASSUME_ROLE = 'sts:AssumeRole';
const ACCOUNT_SERVICE = /^(\d{16})@ecs\.aliyuncs\.com$/;
const LEDGER_FOLDER = /^rd-[A-Za-z0-9]{4,32}(\/[A-Za-z0-9-]+)+\*$/;

export function grantForTarget(t: ShareTarget): TrustGrant {
  switch (t.kind) {
    case 'account':
      return { kind: 'account', uid: t.uid };
    case 'rd':
      return { kind: 'rd', rdId: t.rdId };
    case 'folder':
      return { kind: 'folder', pattern: `${t.path}*` };
  }
}

function grantValue(g: TrustGrant): string {
  return g.kind === 'account' ? g.uid : g.kind === 'rd' ? g.rdId : g.pattern;
}

export function grantKey(g: TrustGrant): string {
  return `${g.kind}:${grantValue(g)}`;
}

export function emptyTrustLedger(): TrustLedger {
  return { accounts: [], rds: [], folders: [] };
}

export function grantsInLedger(ledger: TrustLedger): TrustGrant[] {
  return [
    ...ledger.accounts.map((uid): TrustGrant => ({ kind: 'account', uid })),
    ...ledger.rds.map((rdId): TrustGrant => ({ kind: 'rd', rdId })),
    ...ledger.folders.map((pattern): TrustGrant => ({ kind: 'folder', pattern })),
  ];
}

export function trustPolicyLength(doc: PolicyDocument): number {
  return JSON.stringify(doc).length;
}

// ---------------------------------------------------------------------------------------------
// Reading statements

type Cond = { op: string; key: string; values: string[] };

function isAllowAssumeRole(s: Statement): boolean {
  return s.Effect === 'Allow' && asArray(s.Action).some((a) => a.toLowerCase() === ASSUME_ROLE.toLowerCase());
}

/** Condition flattened to (operator, key, values); keys compared case-insensitively as RAM does. */
function conditionsOf(s: Statement): Cond[] {
  const out: Cond[] = [];
  for (const [op, block] of Object.entries(s.Condition ?? {})) {
    if (!isRecord(block)) continue;
    for (const [key, value] of Object.entries(block))
      out.push({ op, key: key.toLowerCase(), values: asArray(value).map(String) });
  }
  return out;
}

function servicesOf(s: Statement): string[] {
  return asArray(s.Principal?.Service).map(String);
}

function onlyCondition(s: Statement, op: string, key: string): string[] | undefined {
  const conds = conditionsOf(s);
  if (conds.length !== 1 || conds[0].op !== op || conds[0].key !== key.toLowerCase()) return undefined;
  return conds[0].values;
}

/** StringLike value `v` admits every RD path the grant pattern admits (trailing-`*` prefix only). */
function likeCovers(v: string, pattern: string): boolean {
  if (v === pattern) return true;
  const prefix = v.slice(0, -1);
  return v.endsWith('*') && !/[*?]/.test(prefix) && pattern.startsWith(prefix);
}

/**
 * Whether any Allow sts:AssumeRole statement (the tool's or anyone's) already admits the grant.
 * A statement for "*@ecs.aliyuncs.com" without a condition admits every grant; a folder is also
 * admitted by its RD's StringEquals statement or by a StringLike on a parent path.
 */
export function grantSatisfied(doc: PolicyDocument, grant: TrustGrant): boolean {
  return doc.Statement.some((s) => isAllowAssumeRole(s) && statementAdmits(s, grant));
}

function statementAdmits(s: Statement, g: TrustGrant): boolean {
  const services = servicesOf(s);
  const hasAny = services.includes(ANY_ECS_SERVICE);
  const unconditional = conditionsOf(s).length === 0;
  if (hasAny && unconditional) return true;
  switch (g.kind) {
    case 'account':
      return unconditional && services.includes(`${g.uid}${ECS_SERVICE_DOMAIN}`);
    case 'rd':
      return hasAny && (onlyCondition(s, 'StringEquals', RD_ID_CONDITION_KEY) ?? []).includes(g.rdId);
    case 'folder': {
      if (!hasAny) return false;
      const rdId = g.pattern.split('/')[0];
      if ((onlyCondition(s, 'StringEquals', RD_ID_CONDITION_KEY) ?? []).includes(rdId)) return true;
      return (onlyCondition(s, 'StringLike', RD_PATH_CONDITION_KEY) ?? []).some((v) => likeCovers(v, g.pattern));
    }
  }
}

type ToolShape = { kind: TrustGrant['kind']; values: string[] };

/** The grants a statement holds if it has exactly the shape the tool writes; otherwise undefined. */
function toolShape(s: Statement): ToolShape | undefined {
  const extraKeys = Object.keys(s).filter((k) => !['Effect', 'Action', 'Principal', 'Condition'].includes(k));
  const actions = asArray(s.Action);
  if (extraKeys.length > 0 || s.Effect !== 'Allow' || actions.length !== 1 || actions[0] !== ASSUME_ROLE)
    return undefined;
  if (!isRecord(s.Principal) || Object.keys(s.Principal).some((k) => k !== 'Service')) return undefined;
  const services = servicesOf(s);
  if (services.length === 0) return undefined;
  if (conditionsOf(s).length === 0 && Object.keys(s.Condition ?? {}).length === 0) {
    const uids = services.map((svc) => ACCOUNT_SERVICE.exec(svc)?.[1]);
    return uids.every((u): u is string => u !== undefined) ? { kind: 'account', values: uids } : undefined;
  }
  if (services.length !== 1 || services[0] !== ANY_ECS_SERVICE || Object.keys(s.Condition ?? {}).length !== 1)
    return undefined;
  const rds = onlyCondition(s, 'StringEquals', RD_ID_CONDITION_KEY);
  if (rds && rds.length > 0) return { kind: 'rd', values: rds };
  const paths = onlyCondition(s, 'StringLike', RD_PATH_CONDITION_KEY);
  if (paths && paths.length > 0) return { kind: 'folder', values: paths };
  return undefined;
}

function ledgerList(ledger: TrustLedger, kind: TrustGrant['kind']): string[] {
  return kind === 'account' ? ledger.accounts : kind === 'rd' ? ledger.rds : ledger.folders;
}

function ownedShape(s: Statement, ledger: TrustLedger): ToolShape | undefined {
  const shape = toolShape(s);
  if (!shape) return undefined;
  const owned = ledgerList(ledger, shape.kind);
  return shape.values.every((v) => owned.includes(v)) ? shape : undefined;
}

// ---------------------------------------------------------------------------------------------
// Writing statements

function statementForGrants(kind: TrustGrant['kind'], values: string[]): Statement {
  const sorted = [...new Set(values)].sort();
  const base = { Action: ASSUME_ROLE, Effect: 'Allow' as const };
  if (kind === 'account')
    return { ...base, Principal: { Service: sorted.map((uid) => `${uid}${ECS_SERVICE_DOMAIN}`) } };
  const value = sorted.length === 1 ? sorted[0] : sorted;
  return kind === 'rd'
    ? {
        ...base,
        Principal: { Service: ANY_ECS_SERVICE },
        Condition: { StringEquals: { [RD_ID_CONDITION_KEY]: value } },
      }
    : {
        ...base,
        Principal: { Service: ANY_ECS_SERVICE },
        Condition: { StringLike: { [RD_PATH_CONDITION_KEY]: value } },
      };
}

function withLedger(ledger: TrustLedger, g: TrustGrant, present: boolean): TrustLedger {
  const field = g.kind === 'account' ? 'accounts' : g.kind === 'rd' ? 'rds' : 'folders';
  const set = new Set(ledger[field]);
  if (present) set.add(grantValue(g));
  else set.delete(grantValue(g));
  return { ...ledger, [field]: [...set].sort() };
}

function uniqueSorted(grants: TrustGrant[]): TrustGrant[] {
  const byKey = new Map(grants.map((g) => [grantKey(g), g]));
  return [...byKey.keys()].sort().map((k) => byKey.get(k)!);
}

function normaliseLedger(ledger: TrustLedger): TrustLedger {
  const out: TrustLedger = {
    accounts: [...new Set(ledger.accounts)].sort(),
    rds: [...new Set(ledger.rds)].sort(),
    folders: [...new Set(ledger.folders)].sort(),
  };
  if (ledger.regions?.length) out.regions = [...new Set(ledger.regions)].sort();
  return out;
}

/**
 * Applies removals first (so a grant that was only admitted by a removed tool statement is then
 * added back in its own right), then additions. Pure and idempotent: merging the result again
 * with the same change is a no-op. Pass every grant still needed in `add`; it costs nothing.
 */
export function mergeTrust(doc: PolicyDocument, ledger: TrustLedger, change: TrustChange): TrustMergeResult {
  let statements: Statement[] = structuredClone(doc.Statement);
  let led = normaliseLedger({ ...ledger, regions: [...(ledger.regions ?? []), ...(change.regions ?? [])] });
  const added: TrustGrant[] = [];
  const removed: TrustGrant[] = [];

  for (const g of uniqueSorted(change.remove)) {
    if (!ledgerList(led, g.kind).includes(grantValue(g))) continue; // not ours: never touched
    let touched = false;
    statements = statements.flatMap((s) => {
      const shape = ownedShape(s, led);
      if (!shape || shape.kind !== g.kind || !shape.values.includes(grantValue(g))) return [s];
      touched = true;
      const rest = shape.values.filter((v) => v !== grantValue(g));
      return rest.length > 0 ? [statementForGrants(g.kind, rest)] : [];
    });
    led = withLedger(led, g, false);
    if (touched) removed.push(g);
  }

  for (const g of uniqueSorted(change.add)) {
    if (grantSatisfied({ ...doc, Statement: statements }, g)) continue; // admitted already: claim nothing
    const own = g.kind === 'account' ? statements.findIndex((s) => ownedShape(s, led)?.kind === 'account') : -1;
    if (own >= 0)
      statements[own] = statementForGrants('account', [...ownedShape(statements[own], led)!.values, grantValue(g)]);
    else statements.push(statementForGrants(g.kind, [grantValue(g)]));
    led = withLedger(led, g, true);
    added.push(g);
  }

  const document: PolicyDocument = { ...doc, Statement: statements };
  const documentChanged = canonical(document) !== canonical(doc);
  const ledgerChanged = canonical(led) !== canonical(normaliseLedger(ledger));
  return {
    document,
    ledger: led,
    changed: documentChanged || ledgerChanged,
    documentChanged,
    ledgerChanged,
    added,
    removed,
  };
}

// ---------------------------------------------------------------------------------------------
// The ledger in the role Description: human text kept, one marker line owned by the tool:
//   [ecs-share] {"a":["1000000000000002"],"rd":["rd-demo01"],"fd":["rd-demo01/r-demo01/fd-demofold01*"]}

export function readTrustLedger(description?: string): TrustLedger {
  const line = (description ?? '')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l.startsWith(LEDGER_MARKER))
    .pop();
  if (!line) return emptyTrustLedger();
  let data: unknown;
  try {
    data = JSON.parse(line.slice(LEDGER_MARKER.length));
  } catch {
    // A hand-mangled marker means we can prove ownership of nothing: safe, never revokes.
    return emptyTrustLedger();
  }
  if (!isRecord(data)) return emptyTrustLedger();
  const pick = (field: string, re: RegExp) =>
    asArray(data[field] as unknown).filter((v): v is string => typeof v === 'string' && re.test(v));
  return normaliseLedger({
    accounts: pick('a', ACCOUNT_UID),
    rds: pick('rd', RD_ID),
    folders: pick('fd', LEDGER_FOLDER),
    regions: pick('rg', REGION),
  });
}

export function writeTrustLedger(description: string | undefined, ledger: TrustLedger): string {
  const human = (description ?? '')
    .split('\n')
    .filter((l) => !l.trim().startsWith(LEDGER_MARKER))
    .join('\n')
    .trimEnd();
  const led = normaliseLedger(ledger);
  const data: Record<string, string[]> = {};
  if (led.accounts.length) data.a = led.accounts;
  if (led.rds.length) data.rd = led.rds;
  if (led.folders.length) data.fd = led.folders;
  if (Object.keys(data).length && led.regions?.length) data.rg = led.regions;
  const marker = Object.keys(data).length ? `${LEDGER_MARKER} ${JSON.stringify(data)}` : '';
  const result = [human, marker].filter((p) => p.length > 0).join('\n');
  if (result.length > ROLE_DESCRIPTION_MAX) {
    throw new Error(
      `The role description would be ${result.length} characters (RAM allows ${ROLE_DESCRIPTION_MAX}) to record ` +
        `${led.accounts.length} accounts, ${led.rds.length} RDs and ${led.folders.length} folders: ` +
        'share with a resource directory or folder instead of many single accounts, or shorten the human description',
    );
  }
  return result;
}
