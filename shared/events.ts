// Invocation normalisation. The event is only a trigger: this reads which resources it names and
// in which region, defensively (the exact ActionTrail parameter shape for tag calls is unconfirmed),
// and the engine re-reads tags, keys and shares from the API before deciding anything.

import { ACCOUNT_UID, REGION, RESOURCE_ID, resourceTypeOf, type ResourceType } from './domain/ids';
import { isRecord } from './domain/policy-json';
import type { Principal } from './share/model';

export type TagEvent = {
  eventId: string;
  eventName: string;
  region: string;
  /**
   * The account that owns the resource: where the call was made. A member's event routed to the central bus keeps it
   * in `aliyunoriginalaccountid` (and `data.recipientAccountId`); `aliyunaccountid` may then be the bus's account.
   */
  accountId?: string;
  /** Set instead of accountId when the event's account fields disagree: no account can be trusted to act in. */
  accountConflict?: string;
  resourceType: ResourceType;
  resourceIds: string[];
  /** Tag keys the call named; [] when unknown (e.g. UntagResources All=true). */
  tagKeys: string[];
  /** Who made the call (ActionTrail userIdentity), when the event says. */
  requestedBy?: Principal;
};

export type Skipped = { eventId?: string; reason: string };

/** What invoked a function: tag events, the timer, or a manual command (or input that is none of them). */
export type Trigger =
  | { kind: 'events'; events: TagEvent[]; skipped: Skipped[] }
  | { kind: 'timer'; payload: unknown; triggerName: string }
  | { kind: 'manual'; command: Record<string, unknown> }
  | { kind: 'invalid'; error: string };

export const HANDLED_EVENT_NAMES = [
  'TagResources',
  'UntagResources',
  'AddTags',
  'RemoveTags',
  'CreateSnapshot',
  'CreateImage',
  'CopySnapshot',
  'CopyImage',
] as const;

const ACTIONTRAIL_TYPE = /^ecs:ActionTrail:(ApiCall|ConsoleOperation)$/i;
/** ECS's system event when a snapshot (created or copied) is ready: the share that waited for it can be made. */
export const SNAPSHOT_READY_TYPE = 'ecs:Snapshot:CreateSnapshotCompleted';

/** What each Create/Copy call produces: the new resource's kind and the response field naming it. */
const CREATES: Record<string, { kind: ResourceType; idField: string; sourceField: string }> = {
  CreateSnapshot: { kind: 'snapshot', idField: 'SnapshotId', sourceField: 'DiskId' },
  CopySnapshot: { kind: 'snapshot', idField: 'SnapshotId', sourceField: 'SourceSnapshotId' },
  CreateImage: { kind: 'image', idField: 'ImageId', sourceField: 'SnapshotId' },
  CopyImage: { kind: 'image', idField: 'ImageId', sourceField: 'SourceImageId' },
};

const REFERENCED_KEYS: Record<string, ResourceType> = {
  'acs::ecs::snapshot': 'snapshot',
  'acs::ecs::image': 'image',
  snapshot: 'snapshot', // trails created before 2020-12 also emitted short keys
  image: 'image',
};

/**
 * What an invocation may hold. An ActionTrail event is a few KB and about 6 levels deep (an EventBridge event is at
 * most 256 KB); these bounds are far above that and far below what could exhaust the stack or the memory of the
 * recursive readers below, so nothing past them is ever walked. Nested JSON strings (`requestParameterJson`, a
 * `ResourceId` sent as a JSON array string) count with the depth of the field that holds them.
 */
export const INPUT_LIMITS = { maxBytes: 6 * 1024 * 1024, maxDepth: 64, maxValues: 200_000 } as const;

/** FC passes a Buffer; `s invoke` and tests may pass text or an object. */
export function parseTrigger(raw: unknown): Trigger {
  let value: unknown = raw;
  const tooLarge = (size: number) => ({
    kind: 'invalid' as const,
    error: `The invocation payload is larger than ${INPUT_LIMITS.maxBytes} bytes (${size}); an ECS ActionTrail event or a command is a few KB`,
  });
  if (Buffer.isBuffer(raw) || raw instanceof Uint8Array) {
    if (raw.byteLength > INPUT_LIMITS.maxBytes) return tooLarge(raw.byteLength);
    value = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  }
  if (typeof value === 'string') {
    if (value.length > INPUT_LIMITS.maxBytes) return tooLarge(value.length);
    const text = value.trim();
    if (text === '') return { kind: 'invalid', error: 'The invocation payload is empty' };
    try {
      value = JSON.parse(text);
    } catch (err) {
      return { kind: 'invalid', error: `The invocation payload is not JSON: ${clip((err as Error).message)}` };
    }
  }
  const problem = checkShape(value);
  if (problem) return { kind: 'invalid', error: `The invocation payload ${problem}` };
  if (Array.isArray(value)) return normaliseEvents(value);
  if (!isRecord(value))
    return { kind: 'invalid', error: 'The invocation payload must be a JSON object or an array of CloudEvents' };
  if (isCloudEvent(value) || isActionTrailRecord(value)) return normaliseEvents([value]);
  if (typeof value.triggerName === 'string' && 'triggerTime' in value) {
    const payload = parseMaybeJson(value.payload);
    // A payload that starts like JSON but is not: a typo in the trigger's configuration, never "no payload".
    if (typeof payload === 'string' && /^\s*[[{]/.test(payload))
      return { kind: 'invalid', error: `The timer payload is not JSON: ${clip(payload)}` };
    return { kind: 'timer', triggerName: value.triggerName, payload };
  }
  return { kind: 'manual', command: value };
}

/**
 * Walks the payload once, without recursion, and says what is wrong with it, if anything: nested deeper than
 * INPUT_LIMITS.maxDepth (JSON strings included), more values or characters than the limits, or a value JSON cannot
 * carry (an object handed in-process may hold anything). Everything past this point may recurse safely.
 */
function checkShape(root: unknown): string | undefined {
  const stack: Array<{ v: unknown; depth: number; path: string }> = [{ v: root, depth: 0, path: '' }];
  let values = 0;
  let chars = 0;
  const at = (path: string) => (path ? ` at ${path}` : '');
  while (stack.length > 0) {
    const { v, depth, path } = stack.pop()!;
    if (++values > INPUT_LIMITS.maxValues) return `holds more than ${INPUT_LIMITS.maxValues} values`;
    if (v === null || v === undefined || typeof v === 'boolean') continue; // undefined: absent, as JSON.stringify has it
    if (typeof v === 'number') {
      if (!Number.isFinite(v)) return `holds a number JSON cannot carry${at(path)}`;
      continue;
    }
    if (typeof v === 'string') {
      chars += v.length; // nested JSON strings are counted again when their contents are walked
      if (chars > 2 * INPUT_LIMITS.maxBytes) return `holds more than ${2 * INPUT_LIMITS.maxBytes} characters`;
      const inner = parseMaybeJson(v);
      if (inner !== v) stack.push({ v: inner, depth, path: path && `${path}(JSON)` });
      continue;
    }
    if (typeof v !== 'object') return `holds a ${typeof v}, which JSON cannot carry${at(path)}`;
    if (depth >= INPUT_LIMITS.maxDepth) return `is nested more than ${INPUT_LIMITS.maxDepth} levels deep${at(path)}`;
    const proto = Object.getPrototypeOf(v);
    if (Array.isArray(v)) {
      for (let i = v.length - 1; i >= 0; i--)
        stack.push({ v: v[i], depth: depth + 1, path: depth < 12 ? `${path}[${i}]` : path });
    } else if (proto === Object.prototype || proto === null) {
      for (const [k, x] of Object.entries(v)) {
        chars += k.length;
        stack.push({
          v: x,
          depth: depth + 1,
          path: depth < 12 ? (path ? `${path}.${clip(k, 40)}` : clip(k, 40)) : path,
        });
      }
    } else {
      return `holds an object JSON cannot carry${at(path)}`;
    }
  }
  return undefined;
}

/** A value as it may appear in a reason: quoted, and never longer than a line. */
export function clip(s: string, max = 200): string {
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length} characters)`;
}

function isCloudEvent(x: Record<string, unknown>): boolean {
  return 'specversion' in x || (typeof x.type === 'string' && 'data' in x);
}

/** EventBridge's RawData schema delivers the ActionTrail record without the envelope. */
function isActionTrailRecord(x: Record<string, unknown>): boolean {
  return typeof x.eventName === 'string' && ('serviceName' in x || 'acsRegion' in x);
}

function normaliseEvents(items: unknown[]): Trigger {
  const events: TagEvent[] = [];
  const skipped: Skipped[] = [];
  const seen = new Set<string>();
  for (const item of items) {
    if (!isRecord(item) || !(isCloudEvent(item) || isActionTrailRecord(item))) {
      skipped.push({ reason: 'not a CloudEvent or ActionTrail record' });
      continue;
    }
    const result = normaliseOne(item);
    const id = result.eventId;
    if (id !== undefined && seen.has(id)) {
      skipped.push({ eventId: id, reason: 'duplicate delivery of an event already in this batch' });
      continue;
    }
    if (id !== undefined) seen.add(id);
    events.push(...result.events);
    skipped.push(...result.skipped);
  }
  return { kind: 'events', events, skipped };
}

function normaliseOne(item: Record<string, unknown>): { eventId?: string; events: TagEvent[]; skipped: Skipped[] } {
  const envelope = isCloudEvent(item);
  const data = envelope ? parseMaybeJson(item.data) : item;
  const eventId = (isRecord(data) ? str(data.eventId) : undefined) ?? str(item.id);
  const skip = (reason: string) => ({ eventId, events: [], skipped: [{ eventId, reason }] });

  if (envelope && str(item.type)?.toLowerCase() === SNAPSHOT_READY_TYPE.toLowerCase())
    return snapshotReady(item, data, eventId);
  if (envelope && !ACTIONTRAIL_TYPE.test(str(item.type) ?? '')) {
    return skip(
      `event type ${clip(str(item.type) ?? '(none)')} is not an ECS ActionTrail API call or console operation`,
    );
  }
  if (!isRecord(data)) return skip('the event has no ActionTrail record in data');
  const errorCode = str(data.errorCode);
  if (errorCode)
    return skip(`the ${clip(str(data.eventName) ?? '')} call failed (${clip(errorCode)}); nothing changed`);
  const service = str(data.serviceName);
  if (service?.toLowerCase() !== 'ecs') return skip(`service ${clip(service ?? '(none)')} is not ECS`);
  const eventName = str(data.eventName) ?? '';
  if (!(HANDLED_EVENT_NAMES as readonly string[]).includes(eventName))
    return skip(`event ${clip(eventName || '(none)')} does not affect sharing`);

  const params = requestParameters(data);
  const create = CREATES[eventName];
  // A copy lands in the destination region; everything else happens where the call was made.
  const region =
    (create && eventName.startsWith('Copy') ? str(params.destinationregionid) : undefined) ??
    str(data.acsRegion) ??
    str(item.aliyunregionid) ??
    str(params.regionid);
  if (!region || !REGION.test(region)) return skip(`no valid region in the event (${clip(region ?? 'none')})`);

  const declared = str(params.resourcetype)?.toLowerCase();
  if (!create && declared !== undefined && declared !== 'snapshot' && declared !== 'image') {
    return skip(`resource type ${clip(declared)} is not a snapshot or image`);
  }

  const candidates = create
    ? createdIds(data, params, create)
    : taggedIds(data, params, declared as ResourceType | undefined);
  const skipped: Skipped[] = [];
  const byKind: Record<ResourceType, string[]> = { snapshot: [], image: [] };
  for (const { id, kind } of candidates) {
    if (!RESOURCE_ID.test(id)) {
      skipped.push({ eventId, reason: `invalid resource id "${clip(id)}"` });
      continue;
    }
    const actual = resourceTypeOf(id);
    if (kind !== undefined && kind !== actual) {
      skipped.push({ eventId, reason: `resource id ${id} is not a ${kind}` });
      continue;
    }
    if (!byKind[actual].includes(id)) byKind[actual].push(id);
  }

  const base = {
    eventId: eventId ?? `${eventName}:${region}:${[...byKind.snapshot, ...byKind.image].join(',')}`,
    eventName,
    region,
  };
  // Only string fields: a UID sent as a bare JSON number may already have lost precision.
  const identity = isRecord(data.userIdentity) ? data.userIdentity : {};
  const { accountId, accountConflict } = ownerAccount(
    item.aliyunoriginalaccountid,
    data.recipientAccountId,
    item.aliyunaccountid,
    identity.accountId,
  );
  const tagKeys = collectTagKeys(params);
  const requestedBy = principalOf(identity);
  const events: TagEvent[] = (['snapshot', 'image'] as const)
    .filter((kind) => byKind[kind].length > 0)
    .map((kind) => ({
      ...base,
      ...(accountId ? { accountId } : {}),
      ...(accountConflict ? { accountConflict } : {}),
      resourceType: kind,
      resourceIds: byKind[kind],
      tagKeys,
      ...(requestedBy ? { requestedBy } : {}),
    }));
  if (events.length === 0) skipped.push({ eventId, reason: `no snapshot or image id in the ${eventName} event` });
  return { eventId, events, skipped };
}

/**
 * A snapshot became ready (documented fields in `data`, or under `content` as CloudMonitor shows them; the id also
 * in the subject's ARN): re-read and share it like a tag event. A failed creation names nothing to share.
 */
function snapshotReady(
  item: Record<string, unknown>,
  data: unknown,
  eventId: string | undefined,
): { eventId?: string; events: TagEvent[]; skipped: Skipped[] } {
  const skip = (reason: string) => ({ eventId, events: [], skipped: [{ eventId, reason }] });
  const body = isRecord(data) ? (isRecord(data.content) ? data.content : data) : {};
  const result = str(body.result);
  if (result && result !== 'accomplished') return skip(`the snapshot was not created (${clip(result)})`);
  const arn = /^acs:ecs:([a-z0-9-]+):(\d*):snapshot\/(s-[A-Za-z0-9]+)$/.exec(
    str(item.subject) ?? (isRecord(data) ? str(data.resourceId) : undefined) ?? '',
  );
  const id = str(body.snapshotId) ?? arn?.[3];
  const region = str(item.aliyunregionid) ?? (isRecord(data) ? str(data.regionId) : undefined) ?? arn?.[1];
  if (!id || !RESOURCE_ID.test(id) || resourceTypeOf(id) !== 'snapshot')
    return skip(`no valid snapshot id in the ${SNAPSHOT_READY_TYPE} event (${clip(id ?? 'none')})`);
  if (!region || !REGION.test(region)) return skip(`no valid region in the event (${clip(region ?? 'none')})`);
  const { accountId, accountConflict } = ownerAccount(item.aliyunoriginalaccountid, arn?.[2], item.aliyunaccountid);
  const event: TagEvent = {
    eventId: eventId ?? `ready:${region}:${id}`,
    eventName: 'CreateSnapshotCompleted',
    region,
    resourceType: 'snapshot',
    resourceIds: [id],
    tagKeys: [],
    ...(accountId ? { accountId } : {}),
    ...(accountConflict ? { accountConflict } : {}),
  };
  return { eventId, events: [event], skipped: [] };
}

/**
 * The owner account from an event's account fields, most specific first: `aliyunoriginalaccountid` (a routed event's
 * sender), then where the call was made (`data.recipientAccountId`, a snapshot ARN's account), then the bus's own
 * account, then the caller's. Only string uids count (a bare JSON number may have lost precision). The original and
 * the call's account naming two different accounts is a conflict: no owner is guessed.
 */
function ownerAccount(
  original: unknown,
  madeIn: unknown,
  bus: unknown,
  caller?: unknown,
): { accountId?: string; accountConflict?: string } {
  const uid = (a: unknown) => (typeof a === 'string' && ACCOUNT_UID.test(a) ? a : undefined);
  const [o, m] = [uid(original), uid(madeIn)];
  if (o && m && o !== m)
    return {
      accountConflict: `the event names two owner accounts (aliyunoriginalaccountid ${o}, the call's account ${m})`,
    };
  const accountId = o ?? m ?? uid(bus) ?? uid(caller);
  return accountId ? { accountId } : {};
}

/**
 * The principal of an ActionTrail userIdentity: strings only, each clipped, and never the access key id (a
 * credential's name has no place in a log). For an assumed role, the role from sessionContext.sessionIssuer and the
 * session from the principal id (`<role id>:<session>`) or userName.
 */
export function principalOf(identity: Record<string, unknown>): Principal | undefined {
  const field = (v: unknown, max = 128) => (typeof v === 'string' && v.trim() ? v.trim().slice(0, max) : undefined);
  const type = field(identity.type, 40);
  if (!type) return undefined;
  const p: Principal = { type };
  const accountId = field(identity.accountId, 16);
  if (accountId && ACCOUNT_UID.test(accountId)) p.accountId = accountId;
  const principalId = field(identity.principalId);
  if (principalId) p.principalId = principalId;
  const issuer =
    isRecord(identity.sessionContext) && isRecord(identity.sessionContext.sessionIssuer)
      ? identity.sessionContext.sessionIssuer
      : undefined;
  if (type === 'assumed-role' || issuer) {
    const arnRole = /:role\/([^/]+)$/.exec(typeof issuer?.arn === 'string' ? issuer.arn : '')?.[1];
    const roleName = field(issuer?.userName) ?? field(arnRole);
    if (roleName) p.roleName = roleName;
    const session = principalId?.includes(':')
      ? principalId.slice(principalId.indexOf(':') + 1)
      : field(identity.userName);
    if (session) p.roleSession = session.slice(0, 128);
  } else {
    const userName = field(identity.userName);
    if (userName) p.userName = userName;
  }
  return p;
}

type Candidate = { id: string; kind?: ResourceType };

function taggedIds(data: Record<string, unknown>, params: Params, declared?: ResourceType): Candidate[] {
  const fromParams = collectList(params, 'resourceid').map((id) => ({ id, kind: declared }));
  const fromRefs = referencedIds(data).filter((c) => declared === undefined || c.kind === declared);
  return [...fromParams, ...fromRefs];
}

/** The new resource only: never the source snapshot/disk/image the call also references. */
function createdIds(data: Record<string, unknown>, params: Params, create: (typeof CREATES)[string]): Candidate[] {
  const response = isRecord(data.responseElements) ? data.responseElements : {};
  const fromResponse = str(lowerKeys(response)[create.idField.toLowerCase()]);
  if (fromResponse) return [{ id: fromResponse, kind: create.kind }];
  const sources = new Set(collectList(params, create.sourceField.toLowerCase()));
  return referencedIds(data).filter((c) => c.kind === create.kind && !sources.has(c.id));
}

function referencedIds(data: Record<string, unknown>): Candidate[] {
  const refs = parseMaybeJson(data.referencedResources);
  if (!isRecord(refs)) return [];
  const out: Candidate[] = [];
  for (const [key, ids] of Object.entries(refs)) {
    const kind = Object.hasOwn(REFERENCED_KEYS, key.toLowerCase()) ? REFERENCED_KEYS[key.toLowerCase()] : undefined;
    if (kind) for (const id of listValues(ids)) out.push({ id, kind });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Request parameters: flat RPC keys (`ResourceId.1`), arrays, scalars, JSON strings, camelCase.
// Keys are looked up lower-cased; values are coerced to strings.

type Params = Record<string, unknown>;

function requestParameters(data: Record<string, unknown>): Params {
  const fromJson = parseMaybeJson(data.requestParameterJson);
  const fromParams = parseMaybeJson(data.requestParameters);
  return Object.assign(
    lowerKeys(isRecord(fromJson) ? fromJson : {}),
    lowerKeys(isRecord(fromParams) ? fromParams : {}),
  );
}

function lowerKeys(o: Record<string, unknown>): Params {
  const out: Params = Object.create(null); // a "__proto__" key is a key like any other, never a prototype
  for (const [k, v] of Object.entries(o)) out[k.toLowerCase()] = v;
  return out;
}

/** `name` as scalar, array or JSON-array string, plus `name.1 … name.N` in index order. */
function collectList(params: Params, name: string): string[] {
  const direct = listValues(params[name]);
  const index = new RegExp(`^${escapeRegExp(name)}\\.(\\d+)$`);
  const indexed = Object.keys(params)
    .map((k) => ({ k, n: index.exec(k)?.[1] }))
    .filter((e): e is { k: string; n: string } => e.n !== undefined)
    .sort((a, b) => Number(a.n) - Number(b.n))
    .flatMap((e) => listValues(params[e.k]));
  return [...direct, ...indexed];
}

function collectTagKeys(params: Params): string[] {
  const keys = [
    ...collectList(params, 'tagkey'),
    ...Object.keys(params)
      .map((k) => ({ k, n: /^tags?\.(\d+)\.key$/.exec(k)?.[1] }))
      .filter((e) => e.n !== undefined)
      .sort((a, b) => Number(a.n) - Number(b.n))
      .flatMap((e) => listValues(params[e.k])),
    ...['tag', 'tags'].flatMap((name) => {
      const v = parseMaybeJson(params[name]);
      return (Array.isArray(v) ? v : [])
        .map((t) => (isRecord(t) ? str(lowerKeys(t).key) : undefined))
        .filter((k): k is string => k !== undefined);
    }),
  ];
  return [...new Set(keys)];
}

/** Strings, numbers coerced to strings, arrays flattened, JSON array strings parsed. */
function listValues(value: unknown): string[] {
  const v = parseMaybeJson(value);
  if (Array.isArray(v)) return v.flatMap((x) => listValues(x));
  const s = str(v);
  return s === undefined || s === '' ? [] : [s];
}

function parseMaybeJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const t = value.trim();
  if (!(t.startsWith('[') || t.startsWith('{'))) return value;
  try {
    return JSON.parse(t);
  } catch {
    return value;
  }
}

function str(value: unknown): string | undefined {
  if (typeof value === 'string') return value.trim() || undefined;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return undefined;
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
