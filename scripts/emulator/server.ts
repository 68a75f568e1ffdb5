// The emulator's HTTP server: RPC dispatch for the five products (signature -> faults -> required parameters ->
// RAM authorization -> handler), the call log, events after ECS tag changes, and the /_emulator/ admin surface.
import { randomUUID } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { buildSnapshotCompletedEvent, buildTrailEvent, EventBus, type CloudEvent, type DeadLetter, type DeliveryAttempt, type EventDeliveryOptions, type EventListener, type EventStats } from './events';
import { Faults, serviceUnavailable, type FaultRule, type FaultRuleState, type RateLimit, type ThrottlingOptions } from './faults';
import { isCallerAllowed, trustAllows } from './policy';
import { actions as ecsActions } from './services/ecs';
import { actions as kmsActions } from './services/kms';
import { actions as ramActions } from './services/ram';
import { actions as resourcesharingActions } from './services/resourcesharing';
import { actions as resourcemanagerActions } from './services/resourcemanager';
import { actions as eventbridgeActions } from './services/eventbridge';
import { actions as stsActions, trustIdentity } from './services/sts';
import { claimedAccessKeyId, parseUrlEncoded, PROTOCOL_PARAMS, verifyRequest } from './signature';
import { InvalidStateError, newStsSession, normaliseState, randomText, snapshotState } from './state';
import {
  ApiError,
  isWriteAction,
  RAM_PREFIX,
  VERSION_TO_PRODUCT,
  type ActionSpec,
  type ActionTable,
  type CallContext,
  type Caller,
  type EmulatorOptions,
  type EmulatorServices,
  type EmulatorState,
  type FullState,
  type Params,
  type Product,
  type PublishedEvent,
} from './types';

const TABLES: Record<Product, ActionTable> = {
  ecs: ecsActions,
  ram: ramActions,
  kms: kmsActions,
  sts: stsActions,
  resourcesharing: resourcesharingActions,
  resourcemanager: resourcemanagerActions,
  eventbridge: eventbridgeActions,
};

const PRODUCT_NAMES: Record<Product, string> = { ecs: 'Ecs', ram: 'Ram', kms: 'Kms', sts: 'Sts', resourcesharing: 'ResourceSharing', resourcemanager: 'ResourceManager', eventbridge: 'EventBridge' };

/** The 403 each product answers a RAM denial with. */
const DENIAL: Record<Product, { code: string; message: string }> = {
  ecs: { code: 'Forbidden.RAM', message: "User not authorized to operate on the specified resource, or this API doesn't support RAM." },
  ram: { code: 'NoPermission', message: 'You are not authorized to do this action. You should be authorized by RAM.' },
  sts: { code: 'NoPermission', message: 'You are not authorized to do this action. You should be authorized by RAM.' },
  kms: { code: 'Forbidden.NoPermission', message: 'This operation is forbidden by permission system.' },
  resourcesharing: { code: 'NoPermission', message: 'You are not authorized to perform the operation.' },
  resourcemanager: { code: 'NoPermission', message: 'You are not authorized to perform this operation.' },
  // Not documented for EventBridge: RAM's code.
  eventbridge: { code: 'NoPermission', message: 'You are not authorized to perform this operation.' },
};

const CALL_LOG_LIMIT = 50_000;

export interface CallRecord {
  seq: number;
  time: string;
  product: Product | null;
  action: string;
  version: string;
  caller: { accountId?: string; type?: Caller['type']; name?: string; accessKeyId?: string } | null;
  params: Params;
  status: number; // 0 when the connection was dropped
  code?: string;
  /** A write that changed the state although its answer was lost (dropAfter) or replaced (unavailableAfter). */
  applied?: true;
  /** Why a fault or rate limit changed the call. */
  cause?: string;
  write: boolean;
  durationMs: number;
  requestId: string;
}

export interface CallFilter {
  since?: number; // only calls with seq > since
  action?: string;
  product?: Product;
  accountId?: string;
  status?: number;
}

/**
 * A state-changing call that has just been applied, handed to onWrite hooks before its answer is sent.
 * `requestId` is the one the call log (and the answer, if any) carries.
 */
export interface AppliedWrite {
  product: Product;
  action: string;
  version: string;
  params: Params;
  region: string;
  caller: { accountId: string; type: Caller['type']; name: string; accessKeyId: string };
  requestId: string;
  /** The handler's result (what a 200 answer would carry). */
  result: Record<string, unknown>;
  /** What happens to the answer after the hooks: sent, dropped (dropAfter) or replaced by a 503 (unavailableAfter). */
  answer: 'ok' | 'drop' | 'unavailable';
}

/** Runs after a write is applied; the answer waits until the returned promise settles (a rejection is logged, ignored). */
export type WriteHook = (call: AppliedWrite) => void | Promise<void>;

export interface ServiceCredentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken: string;
  expiration: string;
}

export interface StartOptions {
  port?: number; // 0 or absent: a free port
  state?: EmulatorState;
  host?: '127.0.0.1';
  /** Extra or replacement actions per product, e.g. a handler that throws, for tests of the server itself. */
  actions?: Partial<Record<Product, ActionTable>>;
  /** Throttling settings from the start (the length of a "minute" window, x-acs-retry-after per product). */
  throttling?: { windowMs?: number; retryAfter?: Partial<Record<Product, boolean>> };
}

export interface Emulator {
  readonly endpoint: string; // http://127.0.0.1:PORT
  readonly port: number;
  /** The live state; handlers mutate it in place. Replaced (not mutated) by setState. */
  readonly state: FullState;
  setState(s: EmulatorState): void;
  getState(): EmulatorState;
  setOptions(partial: Partial<EmulatorOptions>): EmulatorOptions;
  calls(filter?: CallFilter): CallRecord[];
  clearCalls(): void;
  /** Calls that changed state: answered 200, or applied with their answer lost (`applied: true`). */
  writes(filter?: CallFilter): CallRecord[];
  /**
   * Calls `fn` after each state-changing call is applied and before its answer is sent; the answer waits for it.
   * Only successful writes (a handler that threw changed nothing). Returns an unsubscribe function.
   * Hooks run inside the emulator's one-call-at-a-time section: no other call is applied until they settle, so a
   * hook must not call the emulator over HTTP (it may read `state`, call severClient, kill a process).
   * A client that vanished meanwhile (e.g. a SIGKILLed child process) gets no answer; the call log records status 0.
   */
  onWrite(fn: WriteHook): () => void;
  /**
   * What a crashed client leaves behind: its open connections are destroyed, and its calls that have not been applied
   * yet (queued behind a hook, or arriving later) are never applied or answered (call log status 0, `ClientGone`).
   * Keyed by the access key the calls are signed with (an STS session's key for a function invocation).
   */
  severClient(accessKeyId: string): void;
  addFault(rule: FaultRule): FaultRuleState;
  removeFault(id: number): boolean;
  clearFaults(): void;
  faults(): FaultRuleState[];
  /**
   * Sets one action's limit ('*': each action separately), counted per action, account and region: a number is
   * calls per rolling second; { perMinute } counts per clock-aligned window of setThrottling's windowMs (a call
   * throttled in window T goes through from T+1); retryAfter overrides the product's x-acs-retry-after default.
   * null removes the limit.
   */
  setRateLimit(action: string, limit: number | RateLimit | null): void;
  rateLimits(): Record<string, number | RateLimit>;
  /** windowMs: a perMinute window's length (default 60,000); retryAfter: per product, whether throttling sends x-acs-retry-after (default: no product does). */
  setThrottling(opts: { windowMs?: number; retryAfter?: Partial<Record<Product, boolean>> }): ThrottlingOptions;
  setLatency(ms: number): void;
  /**
   * Subscribes an EventBridge target. A listener that throws or rejects fails the delivery, which is then retried
   * by the push retry strategy (setEventDelivery), as on-tag asks by failing its invocation.
   */
  onEvent(fn: EventListener): () => void;
  /**
   * Merges delivery options: duplicates, reorder (+ batchSize), lose, delayMs, sink, seed, retryStrategy
   * (BACKOFF_RETRY default, EXPONENTIAL_DECAY_RETRY), retryTimeScale (1 = real time), deadLetter (see events.ts).
   */
  setEventDelivery(opts: EventDeliveryOptions): EventDeliveryOptions;
  /** Events published so far (each once, lost ones included). */
  events(): CloudEvent[];
  /** Every delivery attempt (first tries and retries) with its outcome. */
  eventAttempts(): DeliveryAttempt[];
  /** Events that exhausted their retries while a dead-letter queue was configured. */
  deadLetters(): DeadLetter[];
  /** Events the `lose` switch dropped. */
  lostEvents(): CloudEvent[];
  /** Counters: published, lost, duplicated, attempts, failedAttempts, retries, succeeded, deadLettered, discarded. */
  eventStats(): EventStats;
  /** Delivers events held by the reorder switch; resolves when every delivery, delayed one and retry is done. */
  flushEvents(): Promise<void>;
  /** Resolves with the deliveries since the last drain once there are at least n. */
  waitForEvents(n?: number, timeoutMs?: number): Promise<CloudEvent[]>;
  /** Returns and forgets the deliveries since the last drain (after waiting for queued deliveries). */
  drainEvents(): Promise<CloudEvent[]>;
  /** Events EventBridge PutEvents calls published, in order (filter by account, bus, region, type). */
  published(filter?: PublishedFilter): PublishedEvent[];
  clearPublished(): void;
  /** What Function Compute does for a function's role: check the trust policy, then mint STS credentials. */
  issueServiceCredentials(accountId: string, roleName: string, service?: string): ServiceCredentials;
  stop(): Promise<void>;
}

export interface PublishedFilter {
  accountId?: string;
  bus?: string;
  region?: string;
  type?: string;
}

export async function startEmulator(opts: StartOptions = {}): Promise<Emulator> {
  const tables = Object.fromEntries(
    Object.entries(TABLES).map(([p, t]) => [p, { ...t, ...(opts.actions?.[p as Product] ?? {}) }]),
  ) as Record<Product, ActionTable>;
  const core = new EmulatorCore(normaliseState(opts.state ?? { accounts: [] }), tables);
  if (opts.throttling) core.faults.setThrottling(opts.throttling);
  const server = http.createServer((req, res) => {
    core.handle(req, res).catch((e) => {
      process.stderr.write(`[emulator] unhandled: ${(e as Error).stack}\n`);
      if (!res.headersSent) res.writeHead(500).end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, opts.host ?? '127.0.0.1', () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return core.facade(port, () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    }),
  );
}

class EmulatorCore {
  private callLog: CallRecord[] = [];
  private publishedLog: PublishedEvent[] = [];
  private seq = 0;
  readonly faults = new Faults();
  readonly bus = new EventBus();
  /** Stopped: timers that fire later publish nothing. */
  closed = false;
  private handlerQueue: Promise<unknown> = Promise.resolve();
  readonly writeHooks = new Set<WriteHook>();
  /** Access keys whose client is gone (severClient): their waiting requests are never applied, answers never sent. */
  readonly severed = new Set<string>();
  private openSockets = new Map<string, Set<import('node:net').Socket>>(); // access key -> sockets of its calls
  private socketKeys = new WeakMap<import('node:net').Socket, Set<string>>();

  constructor(
    public state: FullState,
    private readonly tables: Record<Product, ActionTable>,
  ) {}

  facade(port: number, close: () => Promise<void>): Emulator {
    const core = this;
    return {
      endpoint: `http://127.0.0.1:${port}`,
      port,
      get state() {
        return core.state;
      },
      setState: (s) => core.setState(s),
      getState: () => snapshotState(core.state),
      setOptions: (p) => core.setOptions(p),
      calls: (f) => core.calls(f),
      clearCalls: () => void (core.callLog = []),
      writes: (f) => core.calls(f).filter((c) => c.write && (c.status === 200 || c.applied)),
      severClient: (key) => core.severClient(key),
      onWrite: (fn) => {
        core.writeHooks.add(fn);
        return () => void core.writeHooks.delete(fn);
      },
      addFault: (r) => core.faults.add(r),
      removeFault: (id) => core.faults.remove(id),
      clearFaults: () => core.faults.clear(),
      faults: () => core.faults.list(),
      setRateLimit: (a, n) => core.faults.setRateLimit(a, n),
      rateLimits: () => core.faults.rateLimits(),
      setThrottling: (o) => core.faults.setThrottling(o),
      setLatency: (ms) => void (core.faults.globalLatencyMs = Math.max(0, ms)),
      onEvent: (fn) => core.bus.subscribe(fn),
      setEventDelivery: (o) => core.bus.setDelivery(o),
      events: () => core.bus.recent(),
      eventAttempts: () => core.bus.attempts(),
      deadLetters: () => core.bus.deadLetters(),
      lostEvents: () => core.bus.lost(),
      eventStats: () => core.bus.stats(),
      flushEvents: () => core.bus.flush(),
      waitForEvents: (n, t) => core.bus.waitFor(n, t),
      drainEvents: async () => {
        await core.bus.idle();
        return core.bus.drain();
      },
      published: (f) => core.published(f),
      clearPublished: () => void (core.publishedLog = []),
      issueServiceCredentials: (a, r, s) => core.issueServiceCredentials(a, r, s),
      stop: () => {
        core.closed = true;
        core.bus.close();
        return close();
      },
    };
  }

  setState(s: EmulatorState): void {
    this.state = normaliseState(s);
  }

  setOptions(partial: Partial<EmulatorOptions>): EmulatorOptions {
    Object.assign(this.state.options, partial);
    return { ...this.state.options };
  }

  calls(f: CallFilter = {}): CallRecord[] {
    return this.callLog
      .filter(
        (c) =>
          (f.since === undefined || c.seq > f.since) &&
          (f.action === undefined || c.action === f.action) &&
          (f.product === undefined || c.product === f.product) &&
          (f.accountId === undefined || c.caller?.accountId === f.accountId) &&
          (f.status === undefined || c.status === f.status),
      )
      .map((c) => structuredClone(c));
  }

  published(f: PublishedFilter = {}): PublishedEvent[] {
    return this.publishedLog
      .filter(
        (p) =>
          (f.accountId === undefined || p.accountId === f.accountId) &&
          (f.bus === undefined || p.bus === f.bus) &&
          (f.region === undefined || p.region === f.region) &&
          (f.type === undefined || p.event.Type === f.type),
      )
      .map((p) => structuredClone(p));
  }

  issueServiceCredentials(accountId: string, roleName: string, service = 'fc.aliyuncs.com'): ServiceCredentials {
    const arn = `acs:ram::${accountId}:role/${roleName}`;
    const role = this.state.roles.find((r) => r.accountId === accountId && r.roleName.toLowerCase() === roleName.toLowerCase());
    if (!role) throw new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${arn}.`);
    if (!trustAllows(role.assumeRolePolicyDocument, { service }, {})) {
      throw new ApiError(403, 'NoPermission', `The role ${arn} does not trust the service ${service}.`);
    }
    const s = newStsSession(this.state, {
      accountId, roleName: role.roleName, sessionName: `${service.split('.')[0]}-${randomText('0123456789abcdef', 8)}`,
      durationSeconds: role.maxSessionDuration ?? 3600, now: Date.now(),
    });
    return { accessKeyId: s.accessKeyId, accessKeySecret: s.secret, securityToken: s.token, expiration: s.expiration };
  }

  services(): EmulatorServices {
    return {
      now: () => new Date(),
      nowIso: () => new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
      // prefix is used verbatim (include the dash: newId('s-')); `length` random lowercase characters follow.
      newId: (prefix, length = 20) => prefix + randomText('abcdefghijklmnopqrstuvwxyz0123456789', length),
      requestId: newRequestId,
      options: this.state.options,
      publish: (events) => {
        this.publishedLog.push(...structuredClone(events));
        if (this.publishedLog.length > CALL_LOG_LIMIT) this.publishedLog.splice(0, this.publishedLog.length - CALL_LOG_LIMIT);
      },
    };
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    if (path === '/_emulator' || path.startsWith('/_emulator/')) return this.admin(req, res, path, rawQuery, body);
    return this.rpc(req, res, path, rawQuery, body);
  }

  // ---------- RPC ----------

  private async rpc(req: http.IncomingMessage, res: http.ServerResponse, path: string, rawQuery: string, body: Buffer): Promise<void> {
    const started = Date.now();
    const requestId = newRequestId();
    let product: Product | null = null;
    let action = '';
    let version = '';
    let spec: ActionSpec | undefined;
    let caller: Caller | undefined;
    let params: Params = {};
    let claimedKey: string | undefined;
    let cause: string | undefined;
    let applied = false;
    const log = (status: number, code?: string) =>
      this.record({
        seq: ++this.seq,
        time: new Date(started).toISOString(),
        product,
        action,
        version,
        caller: caller
          ? { accountId: caller.accountId, type: caller.type, name: callerName(caller), accessKeyId: caller.accessKeyId }
          : claimedKey
            ? { accessKeyId: claimedKey }
            : null,
        params,
        status,
        ...(code ? { code } : {}),
        ...(cause ? { cause } : {}),
        ...(applied && status !== 200 ? { applied: true as const } : {}),
        write: spec?.write ?? isWriteAction(action),
        durationMs: Date.now() - started,
        requestId,
      });

    try {
      const query = parseUrlEncoded(rawQuery);
      const contentType = String(req.headers['content-type'] ?? '');
      const form = contentType.includes('application/x-www-form-urlencoded') ? parseUrlEncoded(body.toString('utf8'), true) : {};
      const all = { ...query, ...form };
      action = headerValue(req, 'x-acs-action') ?? all.Action ?? '';
      version = headerValue(req, 'x-acs-version') ?? all.Version ?? '';
      params = Object.fromEntries(Object.entries(all).filter(([k]) => !PROTOCOL_PARAMS.has(k)));
      claimedKey = claimedAccessKeyId({ headers: req.headers, query, form });

      if (path !== '/' || (req.method !== 'POST' && req.method !== 'GET')) throw apiNotFound();
      if (!action) throw missingParameter('Action');
      if (!version) throw missingParameter('Version');
      product = VERSION_TO_PRODUCT[version] ?? null;
      if (!product) throw new ApiError(400, 'InvalidVersion', `Specified parameter Version "${version}" is not valid.`);
      spec = Object.prototype.hasOwnProperty.call(this.tables[product], action) ? this.tables[product][action] : undefined;
      if (!spec) throw apiNotFound();

      caller = verifyRequest(this.state, { method: req.method, query, form, headers: req.headers, body }, Date.now());

      const decision = this.faults.decide(product, action, Date.now(), { accountId: caller.accountId, region: params.RegionId ?? '' });
      cause = decision.cause;
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.drop) {
        req.socket.destroy();
        log(0, 'ConnectionDropped');
        return;
      }
      if (decision.error) throw decision.error;
      this.track(caller.accessKeyId, req.socket);

      for (const name of spec.required ?? []) {
        if (params[name] === undefined || params[name] === '') throw missingParameter(name);
      }
      const ctx: CallContext = {
        action, version, product, params, caller, requestId,
        region: params.RegionId || 'cn-hangzhou',
        state: this.state,
        emu: this.services(),
      };
      const handlerSpec = spec;
      const who = caller;
      const isWrite = handlerSpec.write ?? isWriteAction(action);
      let result: Record<string, unknown> | undefined;
      let failure: unknown;
      let gone = false;
      try {
        // One handler at a time: an async handler must not interleave with another call's changes to the state.
        // The onWrite hooks run inside the same turn, so nothing else is applied between a write and its hooks.
        result = await this.serialised(async () => {
          if (this.severed.has(who.accessKeyId)) {
            gone = true; // its client was severed while this request waited: never applied
            return undefined;
          }
          authorize(ctx, handlerSpec);
          const r = await handlerSpec.handler(ctx);
          if (isWrite) {
            applied = true;
            await this.runWriteHooks({
              product: ctx.product, action, version, params, region: ctx.region,
              caller: { accountId: who.accountId, type: who.type, name: callerName(who), accessKeyId: who.accessKeyId },
              requestId, result: r, answer: decision.after ?? 'ok',
            });
          }
          return r;
        });
      } catch (e) {
        failure = e;
      }
      // The call happened: ActionTrail records it whatever becomes of the answer.
      if (result && product === 'ecs') this.publishTrailEvent(ctx, result, req);
      gone ||= this.severed.has(who.accessKeyId) || req.socket.destroyed;
      if (decision.after === 'drop' || gone) {
        req.socket.destroy();
        log(0, gone ? 'ClientGone' : 'ConnectionDropped');
        return;
      }
      if (decision.after === 'unavailable') throw serviceUnavailable();
      if (failure) throw failure;
      // RequestId first, and ours even if a handler returned one.
      send(res, 200, Object.assign({ RequestId: requestId }, result, { RequestId: requestId }));
      log(200);
    } catch (e) {
      const err = e instanceof ApiError ? e : internalError(e, action);
      sendError(res, product, requestId, err, req.headers.host);
      log(err.status, err.code);
    }
  }

  private track(accessKeyId: string, socket: import('node:net').Socket): void {
    let set = this.openSockets.get(accessKeyId);
    if (!set) this.openSockets.set(accessKeyId, (set = new Set()));
    set.add(socket);
    let keys = this.socketKeys.get(socket);
    if (keys) return void keys.add(accessKeyId);
    // One close listener per (keep-alive) socket, however many calls it carries.
    this.socketKeys.set(socket, (keys = new Set([accessKeyId])));
    socket.once('close', () => {
      for (const key of keys!) {
        const open = this.openSockets.get(key);
        open?.delete(socket);
        if (open?.size === 0) this.openSockets.delete(key);
      }
    });
  }

  severClient(accessKeyId: string): void {
    this.severed.add(accessKeyId);
    for (const socket of this.openSockets.get(accessKeyId) ?? []) socket.destroy();
    this.openSockets.delete(accessKeyId);
  }

  private async runWriteHooks(call: AppliedWrite): Promise<void> {
    for (const hook of [...this.writeHooks]) {
      try {
        await hook(structuredClone(call));
      } catch (e) {
        process.stderr.write(`[emulator] onWrite hook failed for ${call.action}: ${(e as Error)?.stack ?? String(e)}\n`);
      }
    }
  }

  private record(entry: CallRecord): void {
    this.callLog.push(entry);
    // A long-running `npm run emulator` must not grow without bound; tests never come near this.
    if (this.callLog.length > CALL_LOG_LIMIT) this.callLog.splice(0, this.callLog.length - CALL_LOG_LIMIT);
  }

  private serialised<T>(fn: () => T | Promise<T>): Promise<T> {
    const run = this.handlerQueue.then(fn);
    this.handlerQueue = run.catch(() => undefined);
    return run;
  }

  private publishTrailEvent(ctx: CallContext, result: Record<string, unknown>, req: http.IncomingMessage): void {
    const event = buildTrailEvent({
      action: ctx.action, version: ctx.version, params: ctx.params, caller: ctx.caller, region: ctx.region,
      requestId: ctx.requestId, result, now: new Date(),
      userAgent: headerValue(req, 'user-agent'), sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, ''),
    });
    if (event) this.bus.publish(event);
    if ((ctx.action === 'CreateSnapshot' || ctx.action === 'CopySnapshot') && typeof result.SnapshotId === 'string') this.announceWhenReady(ctx, result.SnapshotId);
  }

  /** ECS tells EventBridge when a snapshot it is making is ready (Snapshot:CreateSnapshotCompleted). */
  private announceWhenReady(ctx: CallContext, snapshotId: string): void {
    const snap = this.state.snapshots.find((x) => x.snapshotId === snapshotId);
    if (!snap) return;
    const publish = () => {
      if (this.closed) return;
      this.bus.publish(buildSnapshotCompletedEvent({
        accountId: snap.accountId, region: snap.region, snapshotId, name: snap.name, diskId: snap.sourceDiskId,
        copied: ctx.action === 'CopySnapshot', startTime: snap.creationTime ?? new Date().toISOString(), endTime: new Date(),
      }));
    };
    const wait = snap.readyAt === undefined ? 0 : Math.max(0, snap.readyAt - Date.now());
    const timer = setTimeout(publish, wait);
    timer.unref?.();
  }

  // ---------- admin ----------

  private async admin(req: http.IncomingMessage, res: http.ServerResponse, path: string, rawQuery: string, body: Buffer): Promise<void> {
    const route = `${req.method} ${path.replace(/\/+$/, '')}`;
    const query = new URLSearchParams(rawQuery);
    try {
      const json = () => parseJson(body);
      switch (route) {
        case 'GET /_emulator/health':
          return send(res, 200, { ok: true });
        case 'GET /_emulator/state':
          return send(res, 200, snapshotState(this.state));
        case 'PUT /_emulator/state':
          this.setState(json() as EmulatorState);
          return send(res, 200, snapshotState(this.state));
        case 'PUT /_emulator/options':
          return send(res, 200, this.setOptions(json() as Partial<EmulatorOptions>));
        case 'GET /_emulator/calls':
          return send(res, 200, { calls: this.calls(callFilterOf(query)) });
        case 'DELETE /_emulator/calls':
          this.callLog = [];
          return send(res, 200, { calls: [] });
        case 'GET /_emulator/faults':
          return send(res, 200, { faults: this.faults.list() });
        case 'POST /_emulator/faults': {
          const input = json();
          const rules = Array.isArray(input) ? input : [input];
          const added = rules.map((r) => this.faults.add(r as FaultRule));
          return send(res, 200, { added, faults: this.faults.list() });
        }
        case 'DELETE /_emulator/faults':
          this.faults.clear();
          return send(res, 200, { faults: [] });
        case 'GET /_emulator/rate-limits':
          return send(res, 200, this.faults.rateLimits());
        case 'PUT /_emulator/rate-limits':
          this.faults.replaceRateLimits(json() as Record<string, number | RateLimit>);
          return send(res, 200, this.faults.rateLimits());
        case 'GET /_emulator/throttling':
          return send(res, 200, this.faults.throttlingOptions());
        case 'PUT /_emulator/throttling':
          return send(res, 200, this.faults.setThrottling(json() as Partial<ThrottlingOptions>));
        case 'GET /_emulator/latency':
          return send(res, 200, { ms: this.faults.globalLatencyMs });
        case 'PUT /_emulator/latency': {
          const ms = Number((json() as { ms?: unknown }).ms);
          if (!Number.isFinite(ms) || ms < 0) throw new Error('"ms" must be a number >= 0');
          this.faults.globalLatencyMs = ms;
          return send(res, 200, { ms });
        }
        case 'GET /_emulator/events':
          return send(res, 200, {
            events: this.bus.recent(), delivery: this.bus.deliveryOptions(), stats: this.bus.stats(),
            deadLetters: this.bus.deadLetters(), lost: this.bus.lost().map((e) => e.id),
          });
        case 'GET /_emulator/events/attempts':
          return send(res, 200, { attempts: this.bus.attempts() });
        case 'PUT /_emulator/events':
          return send(res, 200, { delivery: this.bus.setDelivery(json() as EventDeliveryOptions) });
        case 'POST /_emulator/events/flush':
          await this.bus.flush();
          return send(res, 200, { flushed: true });
        case 'GET /_emulator/published': {
          const f: PublishedFilter = {};
          for (const k of ['accountId', 'bus', 'region', 'type'] as const) if (query.has(k)) f[k] = query.get(k)!;
          return send(res, 200, { published: this.published(f) });
        }
        case 'DELETE /_emulator/published':
          this.publishedLog = [];
          return send(res, 200, { published: [] });
        case 'POST /_emulator/service-credentials': {
          const b = json() as { accountId?: string; roleName?: string; service?: string };
          if (!b.accountId || !b.roleName) throw new Error('"accountId" and "roleName" are required');
          return send(res, 200, this.issueServiceCredentials(b.accountId, b.roleName, b.service));
        }
      }
      const faultId = /^DELETE \/_emulator\/faults\/(\d+)$/.exec(route);
      if (faultId) return send(res, this.faults.remove(Number(faultId[1])) ? 200 : 404, { faults: this.faults.list() });
      return send(res, 404, { Code: 'NotFound', Message: `no admin route ${route}` });
    } catch (e) {
      if (e instanceof ApiError) return send(res, e.status, { Code: e.code, Message: e.message });
      // Bad JSON, an invalid state document or an invalid fault rule: the admin caller's mistake.
      return send(res, 400, { Code: e instanceof InvalidStateError ? 'InvalidState' : 'InvalidRequest', Message: (e as Error).message });
    }
  }
}

// ---------- helpers ----------

function authorize(ctx: CallContext, spec: ActionSpec): void {
  if (ctx.caller.type === 'root' || spec.noAuthorization) return;
  const ramAction = spec.ramAction ?? `${RAM_PREFIX[ctx.product]}:${ctx.action}`;
  const resources = spec.resources?.(ctx) ?? ['*'];
  const context = {
    'acs:CurrentTime': ctx.emu.nowIso(),
    'acs:SourceIp': '127.0.0.1',
    // The caller's identity ARN, not the session ARN: a role session is acs:ram::<uid>:role/<name> (the role as
    // stored), a RAM user acs:ram::<uid>:user/<name>; the same identity a trust policy sees.
    'acs:PrincipalARN': trustIdentity(ctx.caller),
    ...(spec.conditionContext?.(ctx) ?? {}),
  };
  const perResource = spec.resourceConditionContext;
  const verdict = isCallerAllowed(ctx.state, ctx.caller, ramAction, resources, context, perResource && ((r) => perResource(ctx, r)));
  if (verdict.allowed) return;
  const denial = DENIAL[ctx.product];
  const noPermissionType = verdict.explicitDeny ? 'ExplicitDeny' : 'ImplicitDeny';
  // RAM reports where the deciding policy is attached, not whether it is System or Custom.
  const policyType = verdict.policyType && !['System', 'Custom'].includes(verdict.policyType) ? verdict.policyType : 'AccountLevelIdentityBasedPolicy';
  const diagnostic = { AuthAction: ramAction, Resources: resources, Principal: ctx.caller.arn, NoPermissionType: noPermissionType, PolicyType: policyType };
  throw new ApiError(403, denial.code, denial.message, {
    AccessDeniedDetail: {
      AuthAction: ramAction,
      AuthPrincipalType: ctx.caller.type === 'user' ? 'SubUser' : 'AssumedRoleUser',
      AuthPrincipalOwnerId: ctx.caller.accountId,
      AuthPrincipalDisplayName: callerName(ctx.caller),
      PolicyType: policyType,
      NoPermissionType: noPermissionType,
      EncodedDiagnosticMessage: Buffer.from(JSON.stringify(diagnostic)).toString('base64'),
    },
  });
}

function callerName(c: Caller): string {
  if (c.type === 'user') return c.userName ?? '';
  if (c.type === 'role') return `${c.roleName}:${c.sessionName}`;
  return 'root';
}

function callFilterOf(q: URLSearchParams): CallFilter {
  const f: CallFilter = {};
  if (q.has('since')) f.since = Number(q.get('since'));
  if (q.has('action')) f.action = q.get('action')!;
  if (q.has('product')) f.product = q.get('product') as Product;
  if (q.has('accountId')) f.accountId = q.get('accountId')!;
  if (q.has('status')) f.status = Number(q.get('status'));
  return f;
}

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

function missingParameter(name: string): ApiError {
  return new ApiError(400, 'MissingParameter', `The input parameter "${name}" that is mandatory for processing this request is not supplied.`);
}

function apiNotFound(): ApiError {
  return new ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
}

function internalError(e: unknown, action: string): ApiError {
  process.stderr.write(`[emulator] ${action || 'request'} failed: ${(e as Error)?.stack ?? String(e)}\n`);
  return new ApiError(500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.');
}

function sendError(res: http.ServerResponse, product: Product | null, requestId: string, err: ApiError, host?: string): void {
  const productName = product ? PRODUCT_NAMES[product] : '';
  const body = {
    RequestId: requestId,
    HostId: product ? `${product}.aliyuncs.com` : host ?? '127.0.0.1',
    Code: err.code,
    Message: err.message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=${productName}&requestId=${requestId}`,
    ...err.extra,
  };
  send(res, err.status, body, err.headers);
}

function send(res: http.ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json;charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (!text.trim()) throw new Error('a JSON body is required');
  return JSON.parse(text);
}

function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
