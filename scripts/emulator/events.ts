// The events EventBridge would deliver to Function Compute after ECS tag changes (fc-events-deploy.md section 2),
// and their delivery as EventBridge pushes them: at least once, with its documented push retry and an optional
// dead-letter queue, and switches for what it does not promise (duplicates, order, loss, delay).
import { randomUUID } from 'node:crypto';
import { seededRandom } from './faults';
import { listParam, type Caller, type Params } from './types';

interface ActionTrailRecord {
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
  /** Set on an event a member's cross-account routing rule delivered: the account it happened in. */
  aliyunoriginalaccountid?: string;
  aliyunpublishtime: string;
  aliyuneventbusname: string;
  aliyunregionid: string;
  aliyunpublishaddr: string;
  data: ActionTrailRecord;
}

/**
 * A member account's cross-account routing rule (state.eventRoutes) delivers its event to the receiving account's
 * bus: the event names the receiver as aliyunaccountid and keeps the sender as aliyunoriginalaccountid (the field
 * Alibaba Cloud documents for routed events; which account aliyunaccountid then names is the emulator's reading).
 */
export function routeEvent(
  routes: Array<{ fromAccountId: string; toAccountId: string; bus: string }> | undefined,
  event: CloudEvent,
): CloudEvent {
  const route = routes?.find((r) => r.fromAccountId === event.aliyunaccountid);
  if (!route) return event;
  return {
    ...event,
    aliyunaccountid: route.toAccountId,
    aliyunoriginalaccountid: event.aliyunaccountid,
    aliyuneventbusname: route.bus,
  };
}

/** What the server knows about a successful call. */
interface CompletedCall {
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
  snapshot: 'Snapshot',
  image: 'Image',
  disk: 'Disk',
  instance: 'Instance',
  securitygroup: 'SecurityGroup',
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
      sessionIssuer: {
        type: 'role',
        principalId: roleId,
        accountId: caller.accountId,
        userName: caller.roleName,
        arn: `acs:ram::${caller.accountId}:role/${caller.roleName}`,
      },
    },
  };
}

/**
 * ECS's system event when a snapshot (made or copied) is ready, as EventBridge delivers it on the default bus:
 * type `ecs:Snapshot:CreateSnapshotCompleted`, the documented `content` fields (result, snapshotId, snapshotName,
 * snapshotType user|timer|copied, diskId, startTime, endTime) in `data`. Typed as a CloudEvent for the bus, which
 * carries any event; its `data` is not an ActionTrail record.
 */
export function buildSnapshotCompletedEvent(s: {
  accountId: string;
  region: string;
  snapshotId: string;
  name?: string;
  diskId?: string;
  copied: boolean;
  startTime: string;
  endTime: Date;
}): CloudEvent {
  return {
    id: randomUUID(),
    source: 'acs.ecs',
    specversion: '1.0',
    type: 'ecs:Snapshot:CreateSnapshotCompleted' as CloudEvent['type'],
    subject: `acs:ecs:${s.region}:${s.accountId}:snapshot/${s.snapshotId}`,
    time: s.endTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    datacontenttype: 'application/json;charset=utf-8',
    aliyunaccountid: s.accountId,
    aliyunpublishtime: s.endTime.toISOString(),
    aliyuneventbusname: 'default',
    aliyunregionid: s.region,
    aliyunpublishaddr: '127.0.0.1',
    data: {
      result: 'accomplished',
      snapshotId: s.snapshotId,
      snapshotName: s.name ?? '',
      snapshotType: s.copied ? 'copied' : 'user',
      diskId: s.diskId ?? '',
      startTime: s.startTime,
      endTime: s.endTime.toISOString().replace(/\.\d{3}Z$/, 'Z'),
    } as unknown as CloudEvent['data'],
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

/**
 * EventBridge's push retry for a failed delivery (https://www.alibabacloud.com/help/en/eventbridge/user-guide/retry-and-dead-letter):
 * BACKOFF_RETRY (the default) retries 3 times, 10–20 s apart at random; EXPONENTIAL_DECAY_RETRY retries 176 times,
 * 1 s doubling up to 512 s, then every 512 s, about one day in all.
 */
export type PushRetryStrategy = 'BACKOFF_RETRY' | 'EXPONENTIAL_DECAY_RETRY';

export interface EventDeliveryOptions {
  /** true: deliver every event twice; a number p in 0..1: deliver a second copy with probability p. */
  duplicates?: boolean | number;
  /** Hold events and deliver them in a different order when flushed: 'reverse' or 'shuffle' (seeded). false: in order. */
  reorder?: false | 'reverse' | 'shuffle';
  /** With reorder: flush automatically once this many deliveries are held (default: only on flushEvents()). */
  batchSize?: number;
  /** POST each event as JSON to this URL as well (null removes it); a non-2xx answer is a failed delivery. */
  sink?: string | null;
  /** Seed of the PRNGs behind duplicates, shuffling, loss, delays and retry jitter. */
  seed?: number;
  /** How a failed delivery (a listener that throws or rejects, a sink that fails) is retried. Default BACKOFF_RETRY. */
  retryStrategy?: PushRetryStrategy;
  /** Multiplies every retry wait: 1 (the default) is real time; 0.001 turns 10–20 s into 10–20 ms. */
  retryTimeScale?: number;
  /**
   * What happens to an event whose retries are exhausted: false or null (the default, as EventBridge without a
   * configured dead-letter queue) discards it; true keeps it in the dead-letter queue (deadLetters()); a URL keeps
   * it there and also POSTs it to that URL.
   */
  deadLetter?: boolean | string | null;
  /** Probability (0..1, seeded) that a published event is never delivered to anyone. Default 0. */
  lose?: number;
  /**
   * Each delivery starts this long after the event is published (or flushed): ms, or [min, max] for a seeded draw.
   * A delayed delivery does not hold back the ones behind it, so delays also reorder. Default 0.
   */
  delayMs?: number | [number, number];
}

/** One try to hand one event to one target. `attempt` 1 is the first delivery, 2.. are retries. */
export interface DeliveryAttempt {
  eventId: string;
  /** 'listener#N' (in subscription order) or 'sink'. */
  target: string;
  attempt: number;
  at: string;
  ok: boolean;
  error?: string;
  /** On the last attempt of a failed delivery: where the event went. */
  exhausted?: 'dead-lettered' | 'discarded';
}

export interface DeadLetter {
  event: CloudEvent;
  target: string;
  attempts: number;
  error: string;
  at: string;
}

export interface EventStats {
  published: number;
  /** Dropped by the `lose` switch. */
  lost: number;
  /** Extra copies from the `duplicates` switch. */
  duplicated: number;
  attempts: number;
  failedAttempts: number;
  retries: number;
  /** Target deliveries that eventually succeeded. */
  succeeded: number;
  deadLettered: number;
  discarded: number;
}

const RECENT_LIMIT = 1000;
const LOG_LIMIT = 10_000;

/** The waits (ms, unscaled) before each retry of a strategy; BACKOFF_RETRY's are drawn from `random`. */
export function retryDelaysMs(strategy: PushRetryStrategy, random: () => number = Math.random): number[] {
  if (strategy === 'BACKOFF_RETRY') return [0, 1, 2].map(() => 10_000 + Math.floor(random() * 10_001));
  const out: number[] = [];
  for (let s = 1; s < 512; s *= 2) out.push(s * 1000); // 1, 2, 4 ... 256 s: 9 retries
  while (out.length < 176) out.push(512_000); // then every 512 s: 167 more, 86,015 s in all
  return out;
}

interface Target {
  name: string;
  send: () => unknown;
  alive: () => boolean;
}

type BusOptions = Required<Omit<EventDeliveryOptions, 'sink' | 'batchSize' | 'deadLetter'>> & {
  sink: string | null;
  batchSize?: number;
  deadLetter: boolean | string;
};

export class EventBus {
  private listeners = new Map<EventListener, string>();
  private listenerCount = 0;
  private options: BusOptions = {
    duplicates: false,
    reorder: false,
    sink: null,
    seed: 1,
    retryStrategy: 'BACKOFF_RETRY',
    retryTimeScale: 1,
    deadLetter: false,
    lose: 0,
    delayMs: 0,
  };
  private random = seededRandom(1); // duplicates and shuffling
  private lossRandom = seededRandom(2);
  private delayRandom = seededRandom(3);
  private retryRandom = seededRandom(4);
  private published: CloudEvent[] = [];
  private held: CloudEvent[] = [];
  private delivered: CloudEvent[] = [];
  private chain: Promise<void> = Promise.resolve();
  private pending = new Set<Promise<unknown>>();
  private timers = new Set<NodeJS.Timeout>();
  private waiters: Array<{ n: number; resolve: (e: CloudEvent[]) => void }> = [];
  private attemptLog: DeliveryAttempt[] = [];
  private dead: DeadLetter[] = [];
  private lostEvents: CloudEvent[] = [];
  private counts: EventStats = {
    published: 0,
    lost: 0,
    duplicated: 0,
    attempts: 0,
    failedAttempts: 0,
    retries: 0,
    succeeded: 0,
    deadLettered: 0,
    discarded: 0,
  };

  subscribe(fn: EventListener): () => void {
    this.listeners.set(fn, `listener#${++this.listenerCount}`);
    return () => {
      this.listeners.delete(fn);
    };
  }

  setDelivery(opts: EventDeliveryOptions): EventDeliveryOptions {
    const next = { ...this.options, ...opts } as BusOptions;
    if (opts.sink !== undefined) next.sink = opts.sink || null;
    if (opts.deadLetter !== undefined) next.deadLetter = opts.deadLetter || false;
    if (next.reorder !== false && next.reorder !== 'reverse' && next.reorder !== 'shuffle') {
      throw new Error('"reorder" must be false, "reverse" or "shuffle"');
    }
    if (next.retryStrategy !== 'BACKOFF_RETRY' && next.retryStrategy !== 'EXPONENTIAL_DECAY_RETRY') {
      throw new Error('"retryStrategy" must be "BACKOFF_RETRY" or "EXPONENTIAL_DECAY_RETRY"');
    }
    if (!(typeof next.retryTimeScale === 'number' && next.retryTimeScale >= 0))
      throw new Error('"retryTimeScale" must be a number >= 0');
    if (!(typeof next.lose === 'number' && next.lose >= 0 && next.lose <= 1))
      throw new Error('"lose" must be between 0 and 1');
    const d = next.delayMs;
    const validDelay = (x: unknown) => typeof x === 'number' && x >= 0 && Number.isFinite(x);
    if (!(validDelay(d) || (Array.isArray(d) && d.length === 2 && d.every(validDelay) && d[0] <= d[1]))) {
      throw new Error('"delayMs" must be a number >= 0 or [min, max]');
    }
    this.options = next;
    if (opts.seed !== undefined) {
      this.random = seededRandom(opts.seed);
      this.lossRandom = seededRandom(opts.seed + 1);
      this.delayRandom = seededRandom(opts.seed + 2);
      this.retryRandom = seededRandom(opts.seed + 3);
    }
    if (next.reorder === false && this.held.length > 0) void this.flush();
    return this.deliveryOptions();
  }

  deliveryOptions(): EventDeliveryOptions {
    return { ...this.options };
  }

  /** Events published so far (each once, in publish order, lost ones included), most recent last. */
  recent(): CloudEvent[] {
    return structuredClone(this.published);
  }

  /** Every delivery attempt, first tries and retries, oldest first (the last 10,000). */
  attempts(): DeliveryAttempt[] {
    return structuredClone(this.attemptLog);
  }

  /** Events whose retries were exhausted while a dead-letter queue was configured. */
  deadLetters(): DeadLetter[] {
    return structuredClone(this.dead);
  }

  /** Events the `lose` switch dropped. */
  lost(): CloudEvent[] {
    return structuredClone(this.lostEvents);
  }

  stats(): EventStats {
    return { ...this.counts };
  }

  /** Forgets the attempt log, the dead letters, the lost events and the counters (not the published events). */
  clearLog(): void {
    this.attemptLog = [];
    this.dead = [];
    this.lostEvents = [];
    for (const k of Object.keys(this.counts) as Array<keyof EventStats>) this.counts[k] = 0;
  }

  publish(event: CloudEvent): void {
    this.published.push(event);
    if (this.published.length > RECENT_LIMIT) this.published.shift();
    this.counts.published++;
    if (this.options.lose > 0 && this.lossRandom() < this.options.lose) {
      this.lostEvents.push(event);
      this.counts.lost++;
      return;
    }
    const d = this.options.duplicates;
    const copies = d === true || (typeof d === 'number' && this.random() < d) ? 2 : 1;
    this.counts.duplicated += copies - 1;
    for (let i = 0; i < copies; i++) {
      if (this.options.reorder) this.held.push(event);
      else this.dispatch(event);
    }
    if (this.options.reorder && this.options.batchSize && this.held.length >= this.options.batchSize) void this.flush();
  }

  /** Delivers the held events (reversed or shuffled) and resolves once every delivery and retry has finished. */
  flush(): Promise<void> {
    const batch = this.held;
    this.held = [];
    const ordered = this.options.reorder === 'shuffle' ? shuffle(batch, this.random) : batch.reverse();
    for (const e of ordered) this.dispatch(e);
    return this.idle();
  }

  /** Resolves when every delivery started so far is done, delayed ones and retries included. */
  async idle(): Promise<void> {
    for (;;) {
      const chain = this.chain;
      await chain;
      if (this.pending.size === 0 && chain === this.chain) return;
      await Promise.all([...this.pending]);
    }
  }

  /** Cancels every pending delay and retry (the emulator is stopping). */
  close(): void {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    this.pending.clear();
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

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.timers.delete(t);
        resolve();
      }, ms);
      this.timers.add(t);
    });
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    void p.finally(() => this.pending.delete(p)).catch(() => undefined);
    return p;
  }

  private dispatch(event: CloudEvent): void {
    const d = this.options.delayMs;
    const ms = Array.isArray(d) ? d[0] + Math.floor(this.delayRandom() * (d[1] - d[0] + 1)) : d;
    if (ms > 0) void this.track(this.sleep(ms).then(() => this.enqueue(event)));
    else this.enqueue(event);
  }

  private enqueue(event: CloudEvent): void {
    // setImmediate: the caller's HTTP response goes out before any listener runs.
    this.chain = this.chain.then(() => new Promise<void>((r) => setImmediate(r))).then(() => this.deliver(event));
  }

  // First tries run in publish order, one event after the other; a failed one is retried on its own schedule
  // without holding back the events behind it. The event counts as delivered once every target has settled.
  private async deliver(event: CloudEvent): Promise<void> {
    const targets: Target[] = [...this.listeners].map(([fn, name]) => ({
      name,
      send: () => fn(structuredClone(event)),
      alive: () => this.listeners.has(fn),
    }));
    const sink = this.options.sink;
    if (sink) targets.push({ name: 'sink', send: () => postJson(sink, event), alive: () => true });
    const retries: Promise<void>[] = [];
    for (const t of targets) {
      const error = await this.attempt(event, t, 1);
      if (error !== undefined) retries.push(this.retry(event, t, error));
      else this.counts.succeeded++;
    }
    if (retries.length === 0) return this.settle(event);
    void this.track(Promise.all(retries).then(() => this.settle(event)));
  }

  private async retry(event: CloudEvent, t: Target, firstError: string): Promise<void> {
    let error = firstError;
    const delays = retryDelaysMs(this.options.retryStrategy, this.retryRandom);
    for (const [i, delay] of delays.entries()) {
      await this.sleep(delay * this.options.retryTimeScale);
      if (!t.alive()) return; // the target is gone (unsubscribed): nothing left to deliver to
      this.counts.retries++;
      const next = await this.attempt(event, t, i + 2);
      if (next === undefined) {
        this.counts.succeeded++;
        return;
      }
      error = next;
    }
    const dlq = this.options.deadLetter;
    const last = [...this.attemptLog].reverse().find((a) => a.eventId === event.id && a.target === t.name);
    if (last) last.exhausted = dlq ? 'dead-lettered' : 'discarded';
    process.stderr.write(
      `[emulator] event ${event.id} to ${t.name}: ${delays.length} retries exhausted, ${dlq ? 'dead-lettered' : 'discarded'}: ${error}\n`,
    );
    if (!dlq) {
      this.counts.discarded++;
      return;
    }
    this.counts.deadLettered++;
    this.dead.push({
      event: structuredClone(event),
      target: t.name,
      attempts: delays.length + 1,
      error,
      at: new Date().toISOString(),
    });
    if (typeof dlq === 'string')
      await postJson(dlq, event).catch((e) =>
        process.stderr.write(`[emulator] dead-letter POST ${dlq} failed: ${(e as Error).message}\n`),
      );
  }

  /** One try; the error message when it failed. */
  private async attempt(event: CloudEvent, t: Target, attempt: number): Promise<string | undefined> {
    const entry: DeliveryAttempt = {
      eventId: event.id,
      target: t.name,
      attempt,
      at: new Date().toISOString(),
      ok: true,
    };
    this.counts.attempts++;
    try {
      await t.send();
      return undefined;
    } catch (e) {
      entry.ok = false;
      entry.error = (e as Error)?.message ?? String(e);
      this.counts.failedAttempts++;
      return entry.error;
    } finally {
      this.attemptLog.push(entry);
      if (this.attemptLog.length > LOG_LIMIT) this.attemptLog.shift();
    }
  }

  private settle(event: CloudEvent): void {
    this.delivered.push(event);
    const ready = this.waiters.filter((w) => this.delivered.length >= w.n);
    this.waiters = this.waiters.filter((w) => this.delivered.length < w.n);
    for (const w of ready) w.resolve([...this.delivered]);
  }
}

async function postJson(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json;charset=utf-8' },
    body: JSON.stringify(body),
  });
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
