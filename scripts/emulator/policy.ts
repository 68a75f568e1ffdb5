// RAM policy language for the emulator: parse and validate documents, format them the way RAM returns them,
// and evaluate permission and trust policies. Pure functions over plain data (no I/O, no clock except the
// default acs:CurrentTime context key). Which policies an identity holds, and the verdict on a caller: permissions.ts.
import { ApiError } from './types';

type PolicyValue = string | string[];
export type ConditionBlock = Record<string, Record<string, PolicyValue>>;

/** One statement, values kept as sent (a string stays a string, an array stays an array) so formatting keeps them. */
export interface Statement {
  Effect: 'Allow' | 'Deny';
  Action?: PolicyValue;
  NotAction?: PolicyValue;
  Resource?: PolicyValue;
  NotResource?: PolicyValue;
  Principal?: Record<string, PolicyValue>;
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version: '1';
  Statement: Statement[];
}

type PolicyKind = 'permission' | 'trust';
export type Decision = 'Allow' | 'Deny' | 'NoMatch';
export type ConditionContext = Record<string, string | string[]>;

/**
 * MalformedPolicyDocument status: the old RAM error list says 400, the newer ResourceManager mirror says 409.
 * The emulator answers 400; clients must match on the code.
 */
const MALFORMED_STATUS = 400;

const STATEMENT_KEYS = ['Effect', 'Action', 'NotAction', 'Resource', 'NotResource', 'Principal', 'Condition'];
const PRINCIPAL_KEYS = ['RAM', 'Service', 'Federated'];

const POSITIVE_OPERATORS = [
  'StringEquals',
  'StringEqualsIgnoreCase',
  'StringLike',
  'NumericEquals',
  'NumericLessThan',
  'NumericLessThanEquals',
  'NumericGreaterThan',
  'NumericGreaterThanEquals',
  'DateEquals',
  'DateLessThan',
  'DateLessThanEquals',
  'DateGreaterThan',
  'DateGreaterThanEquals',
  'Bool',
  'IpAddress',
] as const;
/** Negated operator -> the positive operator it negates. */
const NEGATED_OPERATORS: Record<string, string> = {
  StringNotEquals: 'StringEquals',
  StringNotEqualsIgnoreCase: 'StringEqualsIgnoreCase',
  StringNotLike: 'StringLike',
  NumericNotEquals: 'NumericEquals',
  DateNotEquals: 'DateEquals',
  NotIpAddress: 'IpAddress',
};
const KNOWN_OPERATORS = new Set<string>([...POSITIVE_OPERATORS, ...Object.keys(NEGATED_OPERATORS)]);
/** Set qualifiers for multi-valued keys: `ForAnyValue:StringEquals`, `ForAllValues:StringLike`, ... */
const SET_QUALIFIERS = ['ForAnyValue', 'ForAllValues'] as const;
type SetQualifier = (typeof SET_QUALIFIERS)[number];

/** `Null` tests whether a key is in the context at all ("true": absent, "false": present); it takes no qualifier. */
function isKnownOperator(op: string): boolean {
  if (op === 'Null') return true;
  const [qualifier, base, ...rest] = op.split(':');
  if (base === undefined) return KNOWN_OPERATORS.has(op);
  return rest.length === 0 && (SET_QUALIFIERS as readonly string[]).includes(qualifier) && KNOWN_OPERATORS.has(base);
}

// ---------------------------------------------------------------- parsing

function malformed(detail: string): ApiError {
  return new ApiError(MALFORMED_STATUS, 'MalformedPolicyDocument', `The policy document is malformed: ${detail}`);
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkStringOrList(v: unknown, what: string): PolicyValue {
  if (typeof v === 'string' && v !== '') return v;
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string' && x !== '')) return v as string[];
  throw malformed(`${what} must be a non-empty string or array of strings`);
}

/** Condition values may be JSON strings, numbers or booleans; they are compared as strings. */
function checkConditionValue(v: unknown, what: string): PolicyValue {
  const scalar = (x: unknown) => typeof x === 'string' || typeof x === 'number' || typeof x === 'boolean';
  if (scalar(v)) return String(v);
  if (Array.isArray(v) && v.length > 0 && v.every(scalar)) return v.map(String);
  throw malformed(`${what} must be a value or an array of values`);
}

function checkCondition(v: unknown): ConditionBlock {
  if (!isPlainObject(v)) throw malformed('Condition must be an object');
  const out: ConditionBlock = {};
  for (const [op, block] of Object.entries(v)) {
    if (!isKnownOperator(op)) throw malformed(`unknown condition operator ${op}`);
    if (!isPlainObject(block) || Object.keys(block).length === 0) throw malformed(`${op} must map keys to values`);
    out[op] = {};
    for (const [key, value] of Object.entries(block)) out[op][key] = checkConditionValue(value, `${op}.${key}`);
  }
  return out;
}

function checkPrincipal(v: unknown): Record<string, PolicyValue> {
  if (!isPlainObject(v) || Object.keys(v).length === 0) throw malformed('Principal must be a non-empty object');
  const out: Record<string, PolicyValue> = {};
  for (const [k, value] of Object.entries(v)) {
    if (!PRINCIPAL_KEYS.includes(k)) throw malformed(`unknown principal type ${k}`);
    out[k] = checkStringOrList(value, `Principal.${k}`);
  }
  return out;
}

function checkStatement(raw: unknown, kind: PolicyKind): Statement {
  if (!isPlainObject(raw)) throw malformed('each Statement must be an object');
  for (const k of Object.keys(raw)) if (!STATEMENT_KEYS.includes(k)) throw malformed(`unknown element ${k}`);
  if (raw.Effect !== 'Allow' && raw.Effect !== 'Deny') throw malformed('Effect must be Allow or Deny');
  if ((raw.Action === undefined) === (raw.NotAction === undefined))
    throw malformed('exactly one of Action, NotAction is required');
  const st: Statement = { Effect: raw.Effect };
  if (raw.Action !== undefined) st.Action = checkStringOrList(raw.Action, 'Action');
  if (raw.NotAction !== undefined) st.NotAction = checkStringOrList(raw.NotAction, 'NotAction');
  if (kind === 'trust') {
    if (raw.Principal === undefined) throw malformed('a trust policy statement needs a Principal');
    st.Principal = checkPrincipal(raw.Principal);
  } else {
    if (raw.Principal !== undefined) throw malformed('a permission policy statement cannot have a Principal');
    if ((raw.Resource === undefined) === (raw.NotResource === undefined))
      throw malformed('exactly one of Resource, NotResource is required');
  }
  if (raw.Resource !== undefined) st.Resource = checkStringOrList(raw.Resource, 'Resource');
  if (raw.NotResource !== undefined) st.NotResource = checkStringOrList(raw.NotResource, 'NotResource');
  if (raw.Condition !== undefined) st.Condition = checkCondition(raw.Condition);
  return st;
}

/**
 * Validates a policy document as RAM does. `lengthCode` is the error for an over-long document; it differs per
 * parameter (PolicyDocument, AssumeRolePolicyDocument, NewAssumeRolePolicyDocument).
 */
export function parsePolicyDocument(
  text: string,
  kind: PolicyKind,
  maxLength: number,
  lengthCode = kind === 'trust'
    ? 'InvalidParameter.AssumeRolePolicyDocument.Length'
    : 'InvalidParameter.PolicyDocument.Length',
): PolicyDocument {
  if (text.length > maxLength) {
    throw new ApiError(
      400,
      lengthCode,
      `The length of the policy document exceeds the limit of ${maxLength} characters.`,
    );
  }
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    throw malformed('not valid JSON');
  }
  if (!isPlainObject(raw)) throw malformed('the document must be a JSON object');
  for (const k of Object.keys(raw)) if (k !== 'Version' && k !== 'Statement') throw malformed(`unknown element ${k}`);
  if (raw.Version !== '1') throw malformed('Version must be "1"');
  if (!Array.isArray(raw.Statement) || raw.Statement.length === 0)
    throw malformed('Statement must be a non-empty array');
  return { Version: '1', Statement: raw.Statement.map((s) => checkStatement(s, kind)) };
}

// ---------------------------------------------------------------- formatting

/**
 * How RAM hands a stored document back: not the text that was sent. The emulator pretty-prints with a 2-space
 * indent, puts Statement before Version, orders statement keys Action, NotAction, Effect, Principal, Resource,
 * NotResource, Condition, and turns every Principal value into an array (as RAM does for trust policies).
 * Deterministic, so two equal documents format identically.
 */
export function formatPolicyDocument(doc: PolicyDocument): string {
  const statements = doc.Statement.map((s) => {
    const out: Record<string, unknown> = {};
    if (s.Action !== undefined) out.Action = s.Action;
    if (s.NotAction !== undefined) out.NotAction = s.NotAction;
    out.Effect = s.Effect;
    if (s.Principal !== undefined) {
      out.Principal = Object.fromEntries(Object.entries(s.Principal).map(([k, v]) => [k, asList(v)]));
    }
    if (s.Resource !== undefined) out.Resource = s.Resource;
    if (s.NotResource !== undefined) out.NotResource = s.NotResource;
    if (s.Condition !== undefined) out.Condition = s.Condition;
    return out;
  });
  return JSON.stringify({ Statement: statements, Version: doc.Version }, null, 2);
}

// ---------------------------------------------------------------- matching

function asList(v: PolicyValue | undefined): string[] {
  if (v === undefined) return [];
  return Array.isArray(v) ? v : [v];
}

/** `*` any run of characters (also empty), `?` exactly one. */
function wildcardMatch(pattern: string, value: string, ignoreCase = false): boolean {
  const re =
    '^' +
    pattern
      .split('')
      .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
      .join('') +
    '$';
  return new RegExp(re, ignoreCase ? 'is' : 's').test(value);
}

/**
 * Action patterns: the service prefix matches case-insensitively, the action name case-sensitively
 * (the emulator's choice; RAM documents element values as case-sensitive).
 */
function actionMatches(pattern: string, action: string): boolean {
  if (pattern === '*') return true;
  const [pPrefix, ...pRest] = pattern.split(':');
  const [aPrefix, ...aRest] = action.split(':');
  if (pRest.length === 0) return wildcardMatch(pattern, action, true);
  return wildcardMatch(pPrefix, aPrefix, true) && wildcardMatch(pRest.join(':'), aRest.join(':'));
}

/**
 * Condition keys match case-insensitively (RAM), except the part after the first `/`: that names a tag key
 * (`acs:RequestTag/<key>`, `acs:ResourceTag/<key>`) and ECS tag keys are case-sensitive, so it is matched exactly
 * (the emulator's choice; RAM does not say). `acs:requesttag/share-with` finds `acs:RequestTag/share-with`,
 * `acs:RequestTag/Share-With` does not.
 */
export function conditionKeyMatches(policyKey: string, contextKey: string): boolean {
  const split = (k: string) => {
    const i = k.indexOf('/');
    return i < 0 ? [k, undefined] : [k.slice(0, i), k.slice(i + 1)];
  };
  const [pHead, pTail] = split(policyKey);
  const [cHead, cTail] = split(contextKey);
  return (pHead ?? '').toLowerCase() === (cHead ?? '').toLowerCase() && pTail === cTail;
}

function contextValues(context: ConditionContext, key: string): string[] | undefined {
  const found = Object.keys(context).find((k) => conditionKeyMatches(key, k));
  if (found === undefined) return undefined;
  return asList(context[found]);
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function ipInCidr(ip: string, cidr: string): boolean {
  const [base, bitsText] = cidr.split('/');
  const bits = bitsText === undefined ? 32 : Number(bitsText);
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(base);
  if (a === undefined || b === undefined || !(bits >= 0 && bits <= 32)) return false;
  const size = 2 ** (32 - bits);
  return Math.floor(a / size) === Math.floor(b / size);
}

function compareNumbers(op: string, actual: number, expected: number): boolean {
  if (Number.isNaN(actual) || Number.isNaN(expected)) return false;
  switch (op) {
    case 'Equals':
      return actual === expected;
    case 'LessThan':
      return actual < expected;
    case 'LessThanEquals':
      return actual <= expected;
    case 'GreaterThan':
      return actual > expected;
    case 'GreaterThanEquals':
      return actual >= expected;
    default:
      return false;
  }
}

/** Dates as ISO 8601 text or epoch seconds. */
function parseDate(v: string): number {
  return /^\d+$/.test(v) ? Number(v) * 1000 : Date.parse(v);
}

/** One positive operator, one context value against one policy value. */
function positiveMatch(op: string, actual: string, expected: string): boolean {
  switch (op) {
    case 'StringEquals':
      return actual === expected;
    case 'StringEqualsIgnoreCase':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'StringLike':
      return wildcardMatch(expected, actual);
    case 'Bool':
      return actual.toLowerCase() === expected.toLowerCase();
    case 'IpAddress':
      return ipInCidr(actual, expected);
  }
  if (op.startsWith('Numeric')) return compareNumbers(op.slice('Numeric'.length), Number(actual), Number(expected));
  if (op.startsWith('Date')) return compareNumbers(op.slice('Date'.length), parseDate(actual), parseDate(expected));
  return false;
}

/** One context value against the policy values of a plain operator: OR over the values, negated operators negate. */
function valueHolds(op: string, actual: string, expected: string[]): boolean {
  const positive = NEGATED_OPERATORS[op] ?? op;
  const any = expected.some((e) => positiveMatch(positive, actual, e));
  return op in NEGATED_OPERATORS ? !any : any;
}

/**
 * Several policy values for one key are OR-ed. Without a qualifier a multi-valued context key matches a positive
 * operator if any of its values does, and a negated one if none does; a missing key makes a positive operator false
 * and a negated one true. `ForAnyValue:` holds if at least one context value satisfies the operator (a missing key:
 * false); `ForAllValues:` if every one does (a missing key: true). `Null` "true" holds when the key is absent,
 * "false" when it is present (any value, also an empty one).
 */
function operatorHolds(op: string, key: string, expected: string[], context: ConditionContext): boolean {
  const actual = contextValues(context, key);
  if (op === 'Null')
    return expected.some((e) =>
      e.toLowerCase() === 'true' ? actual === undefined : e.toLowerCase() === 'false' && actual !== undefined,
    );
  const [qualifier, base] = op.includes(':') ? (op.split(':') as [SetQualifier, string]) : [undefined, op];
  if (qualifier === 'ForAnyValue') return actual !== undefined && actual.some((a) => valueHolds(base, a, expected));
  if (qualifier === 'ForAllValues') return actual === undefined || actual.every((a) => valueHolds(base, a, expected));
  const positive = NEGATED_OPERATORS[op] ?? op;
  const any = actual !== undefined && actual.some((a) => expected.some((e) => positiveMatch(positive, a, e)));
  return op in NEGATED_OPERATORS ? !any : any;
}

/** Every operator and every key of a Condition block must hold (AND). */
export function conditionHolds(condition: ConditionBlock | undefined, context: ConditionContext): boolean {
  if (!condition) return true;
  return Object.entries(condition).every(([op, block]) =>
    Object.entries(block).every(([key, values]) => operatorHolds(op, key, asList(values), context)),
  );
}

export interface EvaluationRequest {
  action: string;
  resource: string;
  context: ConditionContext;
}

function statementMatches(st: Statement, req: EvaluationRequest): boolean {
  const actionOk =
    st.Action !== undefined
      ? asList(st.Action).some((p) => actionMatches(p, req.action))
      : !asList(st.NotAction).some((p) => actionMatches(p, req.action));
  if (!actionOk) return false;
  const resourceOk =
    st.NotResource !== undefined
      ? !asList(st.NotResource).some((p) => wildcardMatch(p, req.resource))
      : asList(st.Resource ?? '*').some((p) => wildcardMatch(p, req.resource));
  return resourceOk && conditionHolds(st.Condition, req.context);
}

/** Explicit Deny wins over Allow; nothing matching is 'NoMatch' (an implicit deny). */
export function evaluate(docs: PolicyDocument[], req: EvaluationRequest): Decision {
  let allowed = false;
  for (const doc of docs) {
    for (const st of doc.Statement) {
      if (!statementMatches(st, req)) continue;
      if (st.Effect === 'Deny') return 'Deny';
      allowed = true;
    }
  }
  return allowed ? 'Allow' : 'NoMatch';
}

export function policiesAllow(
  docs: PolicyDocument[],
  action: string,
  resource: string,
  context: ConditionContext,
): boolean {
  return evaluate(docs, { action, resource, context }) === 'Allow';
}

export function defaultContext(now = new Date()): ConditionContext {
  return {
    'acs:CurrentTime': now.toISOString(),
    'acs:SecureTransport': 'false',
    'acs:SourceIp': '127.0.0.1',
  };
}

// ---------------------------------------------------------------- trust policies

interface TrustPrincipal {
  /** A service principal as the calling service presents it, e.g. "1000000000000002@ecs.aliyuncs.com". */
  service?: string;
  /** The RAM identity: acs:ram::<uid>:root, acs:ram::<uid>:user/<name> or acs:ram::<uid>:role/<name>. */
  ram?: string;
}

const RAM_ROOT = /^acs:ram::(\d+):root$/i;
const RAM_IDENTITY = /^acs:ram::(\d+):(root|user\/.+|role\/.+)$/i;

/** `acs:ram::<uid>:root` trusts every identity of that account; otherwise the identity ARN must match. */
function ramPrincipalMatches(entry: string, ram: string): boolean {
  const identity = RAM_IDENTITY.exec(ram);
  if (!identity) return false;
  const root = RAM_ROOT.exec(entry);
  if (root) return root[1] === identity[1];
  // Names in RAM ARNs are compared case-insensitively (role names are case-insensitive in RAM).
  return wildcardMatch(entry, ram, true);
}

function principalMatches(principal: Record<string, PolicyValue> | undefined, who: TrustPrincipal): boolean {
  if (!principal) return false;
  const services = asList(principal.Service);
  const rams = asList(principal.RAM);
  if (who.service !== undefined && services.some((s) => wildcardMatch(s, who.service ?? '', true))) return true;
  if (who.ram !== undefined && rams.some((r) => ramPrincipalMatches(r, who.ram ?? ''))) return true;
  return false;
}

/** Whether a role's trust policy lets this principal call sts:AssumeRole, given the condition context. */
export function trustAllows(trustDocument: string, principal: TrustPrincipal, context: ConditionContext): boolean {
  const doc = (() => {
    try {
      return parsePolicyDocument(trustDocument, 'trust', Number.MAX_SAFE_INTEGER);
    } catch {
      return undefined;
    }
  })();
  if (!doc) return false;
  const fullContext = { ...defaultContext(), ...context };
  let allowed = false;
  for (const st of doc.Statement) {
    const actionOk =
      st.Action !== undefined
        ? asList(st.Action).some((p) => actionMatches(p, 'sts:AssumeRole'))
        : !asList(st.NotAction).some((p) => actionMatches(p, 'sts:AssumeRole'));
    if (!actionOk || !principalMatches(st.Principal, principal) || !conditionHolds(st.Condition, fullContext)) continue;
    if (st.Effect === 'Deny') return false;
    allowed = true;
  }
  return allowed;
}
