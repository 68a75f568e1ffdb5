// The events EventBridge would deliver to Function Compute after ECS tag changes (fc-events-deploy.md section 2),
// and their delivery: at least once, optionally duplicated or reordered, to in-process listeners and an HTTP sink.
import { randomUUID } from 'node:crypto';
import { seededRandom } from './faults';
import { listParam, type Caller, type Params } from './types';

export interface ActionTrailRecord {
  eventId: string;
  eventVersion: number;
  eventSource: string;
  eventType: 'ApiCall';
  eventRW: 'Write';
  eventName: string;
  serviceName: 'Ecs';
  apiVersion: string;
  acsRegion: string;
  isGlobal: boolean;
  eventTime: string;
  requestId: string;
  sourceIpAddress: string;
  userAgent: string;
  userIdentity: Record<string, unknown>;
  referencedResources: Record<string, string[]>;
  requestParameters: Record<string, string>;
  responseElements: Record<string, unknown>;
}

export interface CloudEvent {
  id: string;
  source: 'acs.ecs';
  specversion: '1.0';
  type: 'ecs:ActionTrail:ApiCall';
  subject: string;
  time: string;
  datacontenttype: string;
  aliyunaccountid: string;
  aliyunpublishtime: string;
  aliyuneventbusname: string;
  aliyunregionid: string;
  aliyunpublishaddr: string;
  data: ActionTrailRecord;
}

/** What the server knows about a successful call. */
export interface CompletedCall {
  action: string;
  version: string;
  params: Params;
  caller: Caller;
  region: string;
  requestId: string;
  result: Record<string, unknown>;
  userAgent?: string;
  sourceIp?: string;
  now: Date;
}

const TAG_ACTIONS = new Set(['TagResources', 'UntagResources', 'AddTags', 'RemoveTags']);
/** Create/copy calls produce an event for the new resource only when they carried tags. */
const CREATE_ACTIONS: Record<string, { type: string; idField: string }> = {
  CreateSnapshot: { type: 'snapshot', idField: 'SnapshotId' },
  CopySnapshot: { type: 'snapshot', idField: 'SnapshotId' },
  CreateImage: { type: 'image', idField: 'ImageId' },
  CopyImage: { type: 'image', idField: 'ImageId' },
};

const RESOURCE_TYPE_NAMES: Record<string, string> = {
  snapshot: 'Snapshot', image: 'Image', disk: 'Disk', instance: 'Instance', securitygroup: 'SecurityGroup',
};

function resourceTypeKey(type: string): string {
  const t = type.toLowerCase();
  return `ACS::ECS::${RESOURCE_TYPE_NAMES[t] ?? t.charAt(0).toUpperCase() + t.slice(1)}`;
}

/** The affected resources of a tag-changing call, or undefined when the call produces no event. */
function affectedResources(call: CompletedCall): { type: string; ids: string[] } | undefined {
  const p = call.params;
  if (call.action === 'TagResources' || call.action === 'UntagResources') {
    return { type: (p.ResourceType ?? '').toLowerCase(), ids: listParam(p, 'ResourceId') };
  }
  if (call.action === 'AddTags' || call.action === 'RemoveTags') {
    return { type: (p.ResourceType ?? '').toLowerCase(), ids: p.ResourceId ? [p.ResourceId] : [] };
  }
  const create = CREATE_ACTIONS[call.action];
  if (!create || !Object.keys(p).some((k) => /^Tag\.\d+\.Key$/.test(k))) return undefined;
  const id = call.result[create.idField];
  return { type: create.type, ids: typeof id === 'string' ? [id] : [] };
}

function userIdentity(caller: Caller): Record<string, unknown> {
  const base = { principalId: caller.principalId, accountId: caller.accountId, accessKeyId: caller.accessKeyId };
  if (caller.type === 'root') return { type: 'root-account', ...base };
  if (caller.type === 'user') return { type: 'ram-user', ...base, userName: caller.userName };
  const roleId = caller.principalId.split(':')[0];
  return {
    type: 'assumed-role',
    ...base,
    userName: caller.sessionName,
    sessionContext: {
      sessionIssuer: { type: 'role', principalId: roleId, accountId: caller.accountId, userName: caller.roleName, arn: `acs:ram::${caller.accountId}:role/${caller.roleName}` },
    },
  };
}

/** Builds the CloudEvent for a successful ECS call, or undefined for calls that EventBridge would not deliver here. */
export function buildTrailEvent(call: CompletedCall): CloudEvent | undefined {
  if (!TAG_ACTIONS.has(call.action) && !CREATE_ACTIONS[call.action]) return undefined;
  const resources = affectedResources(call);
  if (!resources || resources.ids.length === 0) return undefined;
  const eventTime = call.now.toISOString().replace(/\.\d{3}Z$/, 'Z');
  const host = `ecs.${call.region}.aliyuncs.com`;
  return {
    id: randomUUID(),
    source: 'acs.ecs',
    specversion: '1.0',
    type: 'ecs:ActionTrail:ApiCall',
    subject: `acs.ecs:${call.region}:${call.caller.accountId}:${resources.type}/${resources.ids[0]}`,
    time: eventTime,
    datacontenttype: 'application/json;charset=utf-8',
    aliyunaccountid: call.caller.accountId,
    aliyunpublishtime: call.now.toISOString(),
    aliyuneventbusname: 'default',
    aliyunregionid: call.region,
    aliyunpublishaddr: call.sourceIp ?? '127.0.0.1',
    data: {
      eventId: randomUUID().toUpperCase(),
      eventVersion: 1,
      eventSource: 'ecs.aliyuncs.com',
      eventType: 'ApiCall',
      eventRW: 'Write',
      eventName: call.action,
      serviceName: 'Ecs',
      apiVersion: call.version,
      acsRegion: call.region,
      isGlobal: false,
      eventTime,
      requestId: call.requestId,
      sourceIpAddress: call.sourceIp ?? '127.0.0.1',
      userAgent: call.userAgent ?? '',
      userIdentity: userIdentity(call.caller),
      referencedResources: { [resourceTypeKey(resources.type)]: resources.ids },
      requestParameters: { ...call.params, AcsProduct: 'Ecs', AcsHost: host, RequestId: call.requestId },
      responseElements: { ...call.result, RequestId: call.requestId },
    },
  };
}

// ---------- delivery ----------

export type EventListener = (event: CloudEvent) => unknown | Promise<unknown>;

export interface EventDeliveryOptions {
  /** true: deliver every event twice; a number p in 0..1: deliver a second copy with probability p. */
  duplicates?: boolean | number;
  /** Hold events and deliver them in a different order when flushed: 'reverse' or 'shuffle' (seeded). false: in order. */
  reorder?: false | 'reverse' | 'shuffle';
  /** With reorder: flush automatically once this many deliveries are held (default: only on flushEvents()). */
  batchSize?: number;
  /** POST each event as JSON to this URL as well (null removes it). */
  sink?: string | null;
  /** Seed of the PRNG behind probabilistic duplicates and shuffling. */
  seed?: number;
}

const MAX_ATTEMPTS = 3; // a listener or sink that fails is retried, as EventBridge retries a failed FC invocation
const RECENT_LIMIT = 1000;

export class EventBus {
  private listeners = new Set<EventListener>();
  private options: Required<Omit<EventDeliveryOptions, 'sink' | 'batchSize'>> & { sink: string | null; batchSize?: number } = {
    duplicates: false, reorder: false, sink: null, seed: 1,
  };
  private random = seededRandom(1);
  private published: CloudEvent[] = [];
  private held: CloudEvent[] = [];
  private delivered: CloudEvent[] = [];
  private chain: Promise<void> = Promise.resolve();
  private waiters: Array<{ n: number; resolve: (e: CloudEvent[]) => void }> = [];

  subscribe(fn: EventListener): () => void {
    this.listeners.add(fn);
    return () => {
      this.listeners.delete(fn);
    };
  }

  setDelivery(opts: EventDeliveryOptions): EventDeliveryOptions {
    const next = { ...this.options, ...opts };
    if (opts.sink !== undefined) next.sink = opts.sink || null;
    if (next.reorder !== false && next.reorder !== 'reverse' && next.reorder !== 'shuffle') {
      throw new Error('"reorder" must be false, "reverse" or "shuffle"');
    }
    this.options = next;
    if (opts.seed !== undefined) this.random = seededRandom(opts.seed);
    if (next.reorder === false && this.held.length > 0) void this.flush();
    return this.deliveryOptions();
  }

  deliveryOptions(): EventDeliveryOptions {
    return { ...this.options };
  }

  /** Events published so far (each once, in publish order), most recent last. */
  recent(): CloudEvent[] {
    return structuredClone(this.published);
  }

  publish(event: CloudEvent): void {
    this.published.push(event);
    if (this.published.length > RECENT_LIMIT) this.published.shift();
    const d = this.options.duplicates;
    const copies = d === true || (typeof d === 'number' && this.random() < d) ? 2 : 1;
    for (let i = 0; i < copies; i++) {
      if (this.options.reorder) this.held.push(event);
      else this.enqueue(event);
    }
    if (this.options.reorder && this.options.batchSize && this.held.length >= this.options.batchSize) void this.flush();
  }

  /** Delivers the held events (reversed or shuffled) and resolves once every queued delivery has finished. */
  flush(): Promise<void> {
    const batch = this.held;
    this.held = [];
    const ordered = this.options.reorder === 'shuffle' ? shuffle(batch, this.random) : batch.reverse();
    for (const e of ordered) this.enqueue(e);
    return this.idle();
  }

  /** Resolves when every delivery queued so far is done. */
  idle(): Promise<void> {
    return this.chain;
  }

  /** Resolves with the deliveries since the last drain once there are at least n of them. */
  waitFor(n = 1, timeoutMs = 5000): Promise<CloudEvent[]> {
    if (this.delivered.length >= n) return Promise.resolve([...this.delivered]);
    return new Promise((resolve, reject) => {
      const waiter = {
        n,
        resolve: (e: CloudEvent[]) => {
          clearTimeout(timer);
          resolve(e);
        },
      };
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w !== waiter);
        reject(new Error(`expected ${n} event deliveries within ${timeoutMs} ms, got ${this.delivered.length}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  /** Returns the deliveries since the last drain and forgets them. */
  drain(): CloudEvent[] {
    const out = this.delivered;
    this.delivered = [];
    return out;
  }

  private enqueue(event: CloudEvent): void {
    // setImmediate: the caller's HTTP response goes out before any listener runs.
    this.chain = this.chain.then(() => new Promise<void>((r) => setImmediate(r))).then(() => this.deliver(event));
  }

  private async deliver(event: CloudEvent): Promise<void> {
    for (const fn of [...this.listeners]) {
      await withRetries(() => fn(structuredClone(event)), `event listener (${event.data.eventName} ${event.id})`);
    }
    const sink = this.options.sink;
    if (sink) await withRetries(() => postJson(sink, event), `event sink ${sink}`);
    this.delivered.push(event);
    const ready = this.waiters.filter((w) => this.delivered.length >= w.n);
    this.waiters = this.waiters.filter((w) => this.delivered.length < w.n);
    for (const w of ready) w.resolve([...this.delivered]);
  }
}

async function withRetries(fn: () => unknown, what: string): Promise<void> {
  for (let attempt = 1; attempt <= MAX_ATTEMPTS; attempt++) {
    try {
      await fn();
      return;
    } catch (e) {
      process.stderr.write(`[emulator] ${what} failed (attempt ${attempt}/${MAX_ATTEMPTS}): ${(e as Error).message}\n`);
      if (attempt < MAX_ATTEMPTS) await new Promise((r) => setTimeout(r, 20 * attempt));
    }
  }
}

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json;charset=utf-8' }, body: JSON.stringify(body) });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`HTTP ${res.status}`);
}

function shuffle<T>(items: T[], random: () => number): T[] {
  const a = [...items];
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}
