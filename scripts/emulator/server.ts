// The emulator's HTTP server: RPC dispatch for the seven RPC products (signature -> faults -> required parameters ->
// RAM authorization -> handler), Function Compute 3.0's ROA InvokeFunction through the same steps (services/fc.ts
// runs the function), the call log, write hooks, and events after ECS calls. The admin surface under /_emulator/ is
// admin.ts, the authorization step authorization.ts, the public types api.ts.
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
import { FC_ASYNC_PAYLOAD_LIMIT, FC_SYNC_PAYLOAD_LIMIT, FC_VERSION, FcRuntime } from './services/fc';
import { claimedAccessKeyId, parseUrlEncoded, PROTOCOL_PARAMS, verifyRequest } from './signature';
import { addFunction, newStsSession, normaliseState, randomText, snapshotState } from './state';
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
  type FcFunction,
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
  fc: {}, // ROA, not RPC: CoreEmulator.fcInvoke
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
  core.endpoint = `http://127.0.0.1:${port}`;
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
  /** The emulator's own endpoint, once it listens (what FC functions are pointed at). */
  endpoint = '';
  readonly fc = new FcRuntime({
    state: () => this.state,
    endpoint: () => this.endpoint,
    credentials: (accountId, roleName) => this.issueServiceCredentials(accountId, roleName, 'fc.aliyuncs.com'),
  });

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
      fcInvocations: (f) => core.fc.invocations(f),
      fcFailures: () => core.fc.failures(),
      waitForFcIdle: (t) => core.fc.waitForIdle(t),
      registerFunction: (fn) => core.registerFunction(fn),
      stop: () => {
        core.closed = true;
        core.bus.close();
        core.fc.close();
        return close();
      },
    };
  }

  clearCalls(): void {
    this.callLog = [];
  }

  /** Adds an FC function to the live state, or replaces the one with the same account, region and name. */
  registerFunction(fn: FcFunction): FcFunction {
    return structuredClone(addFunction(this.state, fn, true));
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
    if (path.startsWith(`/${FC_VERSION}/`)) return this.fcInvoke(req, res, path, rawQuery, body);
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

  // ---------- Function Compute 3.0 (ROA) ----------

  /**
   * POST /2023-03-30/functions/{name}/invocations, as @alicloud/fc20230330 sends it: ACS3-signed over the real path,
   * the event as the raw body. Signature -> faults -> payload limit -> the caller's function -> RAM
   * fc:InvokeFunction -> run (Sync) or accept (Async, 202). Errors in FC's shape {Code, Message, RequestId}.
   */
  private async fcInvoke(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    path: string,
    rawQuery: string,
    body: Buffer,
  ): Promise<void> {
    const started = Date.now();
    const requestId = newRequestId();
    const action = 'InvokeFunction';
    let caller: Caller | undefined;
    let claimedKey: string | undefined;
    let cause: string | undefined;
    let applied = false;
    let params: Params = {};
    let after: 'drop' | 'unavailable' | undefined;
    const log = (status: number, code?: string) =>
      this.record({
        seq: ++this.seq,
        time: new Date(started).toISOString(),
        product: 'fc',
        action,
        version: FC_VERSION,
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
        ...(applied && status !== 200 && status !== 202 ? { applied: true as const } : {}),
        write: false,
        durationMs: Date.now() - started,
        requestId,
      });
    try {
      const query = parseUrlEncoded(rawQuery);
      claimedKey = claimedAccessKeyId({ headers: req.headers, query, form: {} });
      const m = /^\/2023-03-30\/functions\/([^/]+)\/invocations$/.exec(path);
      if (!m || req.method !== 'POST') {
        throw new ApiError(400, 'PathNotSupported', `'${req.method}' against '${path}' is not supported`);
      }
      let functionName: string;
      try {
        functionName = decodeURIComponent(m[1]);
      } catch {
        throw new ApiError(400, 'InvalidArgument', `the function name in '${path}' is not validly encoded`);
      }
      const type = headerValue(req, 'x-fc-invocation-type') ?? 'Sync';
      params = {
        functionName,
        invocationType: type,
        ...(query.qualifier !== undefined ? { qualifier: query.qualifier } : {}),
      };
      try {
        caller = verifyRequest(
          this.state,
          { method: req.method, path, query, form: {}, headers: req.headers, body },
          Date.now(),
        );
      } catch (e) {
        throw fcSignatureError(e, claimedKey);
      }
      const host = fcHost(headerValue(req, 'host'));
      let guess: FcFunction | undefined;
      try {
        guess = this.fc.find(caller.accountId, functionName, host?.region);
      } catch {
        guess = undefined; // ambiguous: answered below, after the faults
      }
      const decision = this.faults.decide('fc', action, Date.now(), {
        accountId: caller.accountId,
        region: guess?.region ?? host?.region ?? '',
      });
      cause = decision.cause;
      if (decision.latencyMs > 0) await sleep(decision.latencyMs);
      if (decision.drop) {
        req.socket.destroy();
        log(0, 'ConnectionDropped');
        return;
      }
      if (decision.error) throw decision.error;
      after = decision.after;
      this.track(caller.accessKeyId, req.socket);

      if (type !== 'Sync' && type !== 'Async') {
        throw new ApiError(400, 'InvalidArgument', `x-fc-invocation-type must be Sync or Async, got '${type}'`);
      }
      const limit = type === 'Async' ? FC_ASYNC_PAYLOAD_LIMIT : FC_SYNC_PAYLOAD_LIMIT;
      if (body.length > limit) {
        throw new ApiError(400, 'EntityTooLarge', `payload size exceeds maximum allowed size (${limit} bytes)`);
      }
      // The real host is <uid>.<region>.fc.aliyuncs.com: another account's function is not the caller's to see.
      if (host && host.accountId !== caller.accountId) {
        throw new ApiError(404, 'FunctionNotFound', `function '${functionName}' does not exist.`);
      }
      const fnCtx = (region: string) => ({
        action,
        version: FC_VERSION,
        product: 'fc' as const,
        params,
        caller: caller!,
        requestId,
        region,
        state: this.state,
        emu: this.services(),
      });
      const mayInvoke = (region: string) =>
        authorize(fnCtx(region), {
          handler: () => ({}),
          ramAction: 'fc:InvokeFunction',
          resources: () => [`acs:fc:${region}:${caller!.accountId}:functions/${functionName}`],
        });
      const found = this.fc.find(caller.accountId, functionName, host?.region);
      if (!found) {
        // RAM is asked first, as FC's gateway does from the path alone: a caller without fc:InvokeFunction on the name
        // (in any region the host allows) learns nothing of whether it exists.
        const regions = host ? [host.region] : this.state.regions;
        const denials = regions.map((r) => {
          try {
            mayInvoke(r);
            return undefined;
          } catch (e) {
            return e;
          }
        });
        if (denials.every((d) => d !== undefined)) throw denials[0];
        throw new ApiError(404, 'FunctionNotFound', `function '${functionName}' does not exist.`);
      }
      const fn = found;
      if (query.qualifier !== undefined && query.qualifier !== 'LATEST') {
        throw new ApiError(
          404,
          'AliasNotFound',
          `alias '${query.qualifier}' of function '${functionName}' does not exist (the emulator has LATEST only)`,
        );
      }
      mayInvoke(fn.region);
      if (this.severed.has(caller.accessKeyId)) {
        req.socket.destroy();
        log(0, 'ClientGone');
        return;
      }

      const headers: Record<string, string> = { 'x-fc-request-id': requestId };
      let status = 202;
      let answer: Buffer = Buffer.alloc(0);
      if (type === 'Async') {
        this.fc.acceptAsync(fn, body, requestId);
        applied = true;
      } else {
        const out = await this.fc.invokeSync(fn, body, requestId);
        applied = true;
        status = 200;
        answer = out.body;
        if (out.errorType) headers['x-fc-error-type'] = out.errorType;
        if (headerValue(req, 'x-fc-log-type') === 'Tail') {
          headers['x-fc-log-result'] = Buffer.from(out.logs).toString('base64');
        }
      }
      if (after === 'drop' || req.socket.destroyed || this.severed.has(caller.accessKeyId)) {
        req.socket.destroy();
        log(0, after === 'drop' ? 'ConnectionDropped' : 'ClientGone');
        return;
      }
      if (after === 'unavailable') throw serviceUnavailable();
      res.writeHead(status, {
        ...headers,
        'content-type': status === 200 ? 'application/octet-stream' : 'text/plain',
        'content-length': answer.length,
      });
      res.end(answer);
      log(status);
    } catch (e) {
      // An apply-then-lose fault loses a call's own error answer the same way (faults.ts).
      if (after === 'drop') {
        req.socket.destroy();
        log(0, 'ConnectionDropped');
        return;
      }
      const err = after === 'unavailable' ? serviceUnavailable() : e instanceof ApiError ? e : internalError(e, action);
      sendError(res, 'fc', requestId, err, req.headers.host);
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

/** The gateway's codes in FC's words (Function Compute error codes: SignatureNotMatch, InvalidAccessKeyID, both 403). */
function fcSignatureError(e: unknown, claimedKey: string | undefined): unknown {
  if (!(e instanceof ApiError)) return e;
  if (e.code === 'SignatureDoesNotMatch') return new ApiError(403, 'SignatureNotMatch', e.message);
  if (e.code === 'InvalidAccessKeyId.NotFound')
    return new ApiError(403, 'InvalidAccessKeyID', `invalid access key ID '${claimedKey ?? ''}'`);
  return e;
}

/** <uid>.<region>[-internal].fc.aliyuncs.com, the data-plane host; an endpoint override says nothing. */
function fcHost(host: string | undefined): { accountId: string; region: string } | undefined {
  const m = /^(\d{16})\.([a-z0-9-]+?)(?:-internal)?\.fc\.aliyuncs\.com(?::\d+)?$/.exec(host ?? '');
  return m ? { accountId: m[1], region: m[2] } : undefined;
}
