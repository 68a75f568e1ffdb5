// The emulator's HTTP server: RPC dispatch for the seven products (signature -> faults -> required parameters ->
// RAM authorization -> handler), the call log, write hooks, and events after ECS calls. The admin surface under
// /_emulator/ is admin.ts, the authorization step authorization.ts, the public types api.ts.
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { admin } from './admin';
import type {
  AppliedWrite,
  CallFilter,
  CallRecord,
  Emulator,
  PublishedFilter,
  ServiceCredentials,
  StartOptions,
  WriteHook,
} from './api';
import { authorize, callerName } from './authorization';
import { buildSnapshotCompletedEvent, buildTrailEvent, EventBus, routeEvent } from './events';
import { Faults, serviceUnavailable } from './faults';
import {
  apiNotFound,
  headerValue,
  internalError,
  missingParameter,
  newRequestId,
  readBody,
  send,
  sendError,
  sleep,
} from './http';
import { trustAllows } from './policy';
import { actions as ecsActions } from './services/ecs';
import { actions as kmsActions } from './services/kms';
import { actions as ramActions } from './services/ram';
import { actions as resourcesharingActions } from './services/resourcesharing';
import { actions as resourcemanagerActions } from './services/resourcemanager';
import { actions as eventbridgeActions } from './services/eventbridge';
import { actions as stsActions } from './services/sts';
import { claimedAccessKeyId, parseUrlEncoded, PROTOCOL_PARAMS, verifyRequest } from './signature';
import { newStsSession, normaliseState, randomText, snapshotState } from './state';
import {
  ApiError,
  isWriteAction,
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

const CALL_LOG_LIMIT = 50_000;

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
  return core.facade(
    port,
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
}

export class EmulatorCore {
  private callLog: CallRecord[] = [];
  private publishedLog: PublishedEvent[] = [];
  private seq = 0;
  readonly faults = new Faults();
  readonly bus = new EventBus();
  /** Stopped: timers that fire later publish nothing. */
  closed = false;
  /** Pending Snapshot:CreateSnapshotCompleted announcements (cancelled when the state is replaced). */
  private announcements = new Set<NodeJS.Timeout>();
  private handlerQueue: Promise<unknown> = Promise.resolve();
  readonly writeHooks = new Set<WriteHook>();
  /** Access keys whose client is gone (severClient): their waiting requests are never applied, answers never sent. */
  readonly severed = new Set<string>();
  private openSockets = new Map<string, Set<Socket>>(); // access key -> sockets of its calls
  private socketKeys = new WeakMap<Socket, Set<string>>();

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
      clearCalls: () => core.clearCalls(),
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
      clearPublished: () => core.clearPublished(),
      issueServiceCredentials: (a, r, s) => core.issueServiceCredentials(a, r, s),
      stop: () => {
        core.closed = true;
        core.bus.close();
        return close();
      },
    };
  }

  clearCalls(): void {
    this.callLog = [];
  }

  clearPublished(): void {
    this.publishedLog = [];
  }

  setState(s: EmulatorState): void {
    // The snapshots of the old state are gone: none of them announces its completion into the new one.
    for (const t of this.announcements) clearTimeout(t);
    this.announcements.clear();
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
    const role = this.state.roles.find(
      (r) => r.accountId === accountId && r.roleName.toLowerCase() === roleName.toLowerCase(),
    );
    if (!role) throw new ApiError(404, 'EntityNotExist.Role', `The role not exists: ${arn}.`);
    if (!trustAllows(role.assumeRolePolicyDocument, { service }, {})) {
      throw new ApiError(403, 'NoPermission', `The role ${arn} does not trust the service ${service}.`);
    }
    const s = newStsSession(this.state, {
      accountId,
      roleName: role.roleName,
      sessionName: `${service.split('.')[0]}-${randomText('0123456789abcdef', 8)}`,
      durationSeconds: role.maxSessionDuration ?? 3600,
      now: Date.now(),
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
        if (this.publishedLog.length > CALL_LOG_LIMIT)
          this.publishedLog.splice(0, this.publishedLog.length - CALL_LOG_LIMIT);
      },
    };
  }

  async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const body = await readBody(req);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    if (path === '/_emulator' || path.startsWith('/_emulator/')) return admin(this, req, res, path, rawQuery, body);
    return this.rpc(req, res, path, rawQuery, body);
  }

  // ---------- RPC ----------

  private async rpc(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    rawQuery: string,
    body: Buffer,
  ): Promise<void> {
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
          ? {
              accountId: caller.accountId,
              type: caller.type,
              name: callerName(caller),
              accessKeyId: caller.accessKeyId,
            }
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
      const form = contentType.includes('application/x-www-form-urlencoded')
        ? parseUrlEncoded(body.toString('utf8'), true)
        : {};
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
      spec = Object.prototype.hasOwnProperty.call(this.tables[product], action)
        ? this.tables[product][action]
        : undefined;
      if (!spec) throw apiNotFound();

      caller = verifyRequest(this.state, { method: req.method, query, form, headers: req.headers, body }, Date.now());

      const decision = this.faults.decide(product, action, Date.now(), {
        accountId: caller.accountId,
        region: params.RegionId ?? '',
      });
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
        action,
        version,
        product,
        params,
        caller,
        requestId,
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
              product: ctx.product,
              action,
              version,
              params,
              region: ctx.region,
              caller: { accountId: who.accountId, type: who.type, name: callerName(who), accessKeyId: who.accessKeyId },
              requestId,
              result: r,
              answer: decision.after ?? 'ok',
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

  private track(accessKeyId: string, socket: Socket): void {
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
        process.stderr.write(
          `[emulator] onWrite hook failed for ${call.action}: ${(e as Error)?.stack ?? String(e)}\n`,
        );
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
      action: ctx.action,
      version: ctx.version,
      params: ctx.params,
      caller: ctx.caller,
      region: ctx.region,
      requestId: ctx.requestId,
      result,
      now: new Date(),
      userAgent: headerValue(req, 'user-agent'),
      sourceIp: req.socket.remoteAddress?.replace(/^::ffff:/, ''),
    });
    if (event) this.bus.publish(routeEvent(this.state.eventRoutes, event));
    if ((ctx.action === 'CreateSnapshot' || ctx.action === 'CopySnapshot') && typeof result.SnapshotId === 'string')
      this.announceWhenReady(ctx, result.SnapshotId);
  }

  /** ECS tells EventBridge when a snapshot it is making is ready (Snapshot:CreateSnapshotCompleted). */
  private announceWhenReady(ctx: CallContext, snapshotId: string): void {
    const snap = this.state.snapshots.find((x) => x.snapshotId === snapshotId);
    if (!snap) return;
    const publish = () => {
      this.announcements.delete(timer);
      if (this.closed) return;
      this.bus.publish(
        routeEvent(
          this.state.eventRoutes,
          buildSnapshotCompletedEvent({
            accountId: snap.accountId,
            region: snap.region,
            snapshotId,
            name: snap.name,
            diskId: snap.sourceDiskId,
            copied: ctx.action === 'CopySnapshot',
            startTime: snap.creationTime ?? new Date().toISOString(),
            endTime: new Date(),
          }),
        ),
      );
    };
    const wait = snap.readyAt === undefined ? 0 : Math.max(0, snap.readyAt - Date.now());
    const timer: NodeJS.Timeout = setTimeout(publish, wait);
    timer.unref?.();
    this.announcements.add(timer);
  }
}
