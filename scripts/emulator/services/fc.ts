// Function Compute 3.0 in the emulator: InvokeFunction runs a function's built bundle (dist/<fn>/index.js) in a child
// process, as one FC instance would, synchronously (the answer waits for the handler) or asynchronously (202 now, the
// event delivered later: at least once, retried with a back-off, dropped when too old, the failure sent to an
// onFailure function). A cap on child processes at once makes the rest wait. The HTTP side (signature, faults, RAM,
// call log) is server.ts; this file is what happens once a call is accepted.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { ServiceCredentials } from '../api';
import { newRequestId } from '../http';
import { isCallerAllowed } from '../permissions';
import { parseFunctionArn } from '../state';
import { ApiError, type Caller, type FcFunction, type FullState } from '../types';

export const FC_VERSION = '2023-03-30';
export const FC_SYNC_PAYLOAD_LIMIT = 32 * 1024 * 1024; // bytes: a synchronous invocation's request body
export const FC_ASYNC_PAYLOAD_LIMIT = 128 * 1024; // bytes: an asynchronous one's, and a function destination's
const LOG_TAIL = 4096; // bytes of a run's output kept (x-fc-log-result carries the last 4 KB)
const START_TIMEOUT_MS = 30_000; // a child that does not start by then is killed

export type FcInvocationType = 'Sync' | 'Async';
export type FcInvocationStatus = 'queued' | 'running' | 'succeeded' | 'failed' | 'expired';

/** One delivery of an invocation to the function: a sync call, or one attempt (or duplicate) of an async event. */
export interface FcInvocation {
  requestId: string;
  functionName: string;
  accountId: string;
  region: string;
  type: FcInvocationType;
  /** 1 for the first delivery, n for the (n-1)th retry. */
  attempt: number;
  /** An extra delivery of an async event (at-least-once): never retried, never sent to onFailure. */
  duplicate: boolean;
  /** The event: JSON-parsed when it is JSON, else its text. */
  payload: unknown;
  status: FcInvocationStatus;
  /** What the handler returned (JSON-parsed when it is JSON, else text). */
  result?: unknown;
  /** Why it failed: the thrown error's name and message, or FunctionTimeout, ProcessExited, AssumeRoleFailed. */
  error?: { type: string; message: string };
  startedAt?: string;
  endedAt?: string;
  /** The last 4 KB the run wrote to stdout and stderr. */
  logs?: string;
  /** The child's peak resident set in KiB (process.resourceUsage().maxRSS), when it ran the handler to a reply. */
  maxRssKiB?: number;
}

export interface FcInvocationFilter {
  requestId?: string;
  functionName?: string;
  accountId?: string;
  region?: string;
  type?: FcInvocationType;
  status?: FcInvocationStatus;
}

/** An async event FC gave up on: its retries were exhausted, or it was older than maxAsyncEventAgeInSeconds. */
export interface FcFailure {
  requestId: string;
  functionName: string;
  accountId: string;
  region: string;
  payload: unknown;
  reason: 'retriesExhausted' | 'expired';
  /** Deliveries made (0 when it expired before the first). */
  attempts: number;
  error?: { type: string; message: string };
  time: string;
  /** The onFailure destination, when the function has one. */
  destination?: string;
  /** The async invocation of the destination (its requestId), when it was made. */
  destinationRequestId?: string;
  /** Why the destination was not invoked. */
  destinationError?: string;
}

/** What the emulator core lends the FC runtime. */
export interface FcHost {
  state(): FullState;
  /** The emulator's own endpoint (http://127.0.0.1:PORT), given to children as ALIBABA_CLOUD_ENDPOINT_OVERRIDE. */
  endpoint(): string;
  credentials(accountId: string, roleName: string): ServiceCredentials;
}

/** The answer to a synchronous invocation. */
export interface FcSyncAnswer {
  body: Buffer;
  /** UnhandledInvocationError when the handler threw, timed out or its process died (HTTP status stays 200). */
  errorType?: 'UnhandledInvocationError';
  logs: string;
}

interface RunOutcome {
  ok: boolean;
  body: Buffer;
  error?: { type: string; message: string };
  logs: string;
  maxRssKiB?: number;
}

interface Reply {
  ok: boolean;
  maxRssKiB?: number;
  result?: { kind: 'empty' | 'text' | 'bytes' | 'json'; data?: string };
  error?: { errorMessage: string; errorType: string; stackTrace: string[] };
}

/** The child's entry point: load the handler, run one invocation from the IPC message, report back the same way. */
const RUNNER = `
const path = require('node:path');
const [dir, spec] = process.argv.slice(2);
const dot = spec.lastIndexOf('.');
const encode = (r) =>
  r === undefined || r === null ? { kind: 'empty' }
  : Buffer.isBuffer(r) || r instanceof Uint8Array ? { kind: 'bytes', data: Buffer.from(r).toString('base64') }
  : typeof r === 'string' ? { kind: 'text', data: r }
  : { kind: 'json', data: JSON.stringify(r) };
process.once('message', async ({ event, context }) => {
  let reply;
  try {
    const fn = require(path.join(dir, spec.slice(0, dot)))[spec.slice(dot + 1)];
    if (typeof fn !== 'function') throw Object.assign(new Error('handler ' + spec + ' is not a function'), { name: 'HandlerNotFound' });
    const ev = Buffer.from(event, 'base64');
    context.logger = console;
    const result = fn.length >= 3
      ? await new Promise((resolve, reject) => fn(ev, context, (err, out) => (err ? reject(err) : resolve(out))))
      : await fn(ev, context);
    reply = { ok: true, result: encode(result) };
  } catch (e) {
    const stack = String((e && e.stack) || '');
    reply = { ok: false, error: { errorMessage: (e && e.message) || String(e), errorType: (e && e.name) || 'Error', stackTrace: stack ? stack.split('\\n') : [] } };
  }
  reply.maxRssKiB = process.resourceUsage().maxRSS;
  process.send(reply, () => process.exit(0));
});
process.send({ ready: true });
`;

let runnerPath: string | undefined;

function runnerFile(): string {
  if (runnerPath && fs.existsSync(runnerPath)) return runnerPath;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-fc-'));
  process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  runnerPath = path.join(dir, 'runner.cjs');
  fs.writeFileSync(runnerPath, RUNNER);
  return runnerPath;
}

/** Credentials a child must not inherit from the emulator's process: a function has its role's, or none. */
const INHERITED_CREDENTIALS = [
  'ALIBABA_CLOUD_ACCESS_KEY_ID',
  'ALIBABA_CLOUD_ACCESS_KEY_SECRET',
  'ALIBABA_CLOUD_SECURITY_TOKEN',
  'ALIBABA_CLOUD_ROLE_ARN',
  'ALIBABA_CLOUD_CREDENTIALS_FILE',
  'ALIBABA_CLOUD_PROFILE',
];

function functionArn(fn: FcFunction): string {
  return `acs:fc:${fn.region}:${fn.accountId}:functions/${fn.functionName}`;
}

/** The event as a record shows it: JSON when it parses, else text. */
function readable(bytes: Buffer): unknown {
  const text = bytes.toString('utf8');
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function nowIso(): string {
  return new Date().toISOString();
}

export class FcRuntime {
  private records: FcInvocation[] = [];
  private failureList: FcFailure[] = [];
  private running = 0;
  private slotWaiters: Array<() => void> = [];
  /** Sync calls and async deliveries not finished yet (scheduled, waiting for a slot, or running). */
  private busy = 0;
  private idleWaiters = new Set<() => void>();
  private timers = new Set<NodeJS.Timeout>();
  private children = new Set<ChildProcess>();
  private closed = false;

  constructor(private readonly host: FcHost) {}

  /**
   * The caller's function of that name. The real host (<uid>.<region>.fc.aliyuncs.com) names the region; behind an
   * endpoint override nothing does, so a name that exists in several regions of the account is an emulator error.
   */
  find(accountId: string, functionName: string, region?: string): FcFunction | undefined {
    const mine = (this.host.state().functions ?? []).filter(
      (f) => f.accountId === accountId && f.functionName === functionName && (!region || f.region === region),
    );
    if (mine.length > 1) {
      throw new ApiError(
        400,
        'Emulator.AmbiguousFunction',
        `function '${functionName}' exists in ${mine.map((f) => f.region).join(', ')} of account ${accountId}: the ` +
          `real endpoint host <uid>.<region>.fc.aliyuncs.com names the region, the emulator's endpoint does not. ` +
          `Keep one region per function name, or send the host header of the region.`,
      );
    }
    return mine[0];
  }

  async invokeSync(fn: FcFunction, payload: Buffer, requestId: string): Promise<FcSyncAnswer> {
    const record = this.newRecord(fn, payload, requestId, 'Sync', 1, false);
    this.busy++;
    try {
      await this.acquire();
      let outcome: RunOutcome;
      try {
        if (this.closed) throw new ApiError(503, 'ServiceUnavailable', 'The emulator is stopping.');
        record.status = 'running';
        record.startedAt = nowIso();
        const credentials = this.roleCredentials(fn);
        if ('error' in credentials) {
          this.finish(record, { ok: false, body: Buffer.alloc(0), error: credentials.error, logs: '' });
          throw new ApiError(403, 'AccessDenied', credentials.error.message);
        }
        outcome = await this.run(fn, payload, requestId, credentials.value);
      } finally {
        this.release();
      }
      this.finish(record, outcome);
      return {
        body: outcome.body,
        logs: outcome.logs,
        ...(outcome.ok ? {} : { errorType: 'UnhandledInvocationError' }),
      };
    } finally {
      this.done();
    }
  }

  /** Accepts an async event (the caller has its 202): it is delivered after fcAsyncDelayMs, sometimes twice. */
  acceptAsync(fn: FcFunction, payload: Buffer, requestId: string): void {
    const options = this.host.state().options;
    const acceptedAt = Date.now();
    this.schedule(fn, payload, requestId, acceptedAt, 1, false, options.fcAsyncDelayMs);
    if (Math.random() < options.fcAsyncDuplicateRate) {
      const later = options.fcAsyncDelayMs + Math.round(Math.random() * Math.max(options.fcAsyncDelayMs, 50));
      this.schedule(fn, payload, requestId, acceptedAt, 1, true, later);
    }
  }

  invocations(f: FcInvocationFilter = {}): FcInvocation[] {
    return this.records
      .filter(
        (r) =>
          (f.requestId === undefined || r.requestId === f.requestId) &&
          (f.functionName === undefined || r.functionName === f.functionName) &&
          (f.accountId === undefined || r.accountId === f.accountId) &&
          (f.region === undefined || r.region === f.region) &&
          (f.type === undefined || r.type === f.type) &&
          (f.status === undefined || r.status === f.status),
      )
      .map((r) => structuredClone(r));
  }

  failures(): FcFailure[] {
    return this.failureList.map((f) => structuredClone(f));
  }

  /** Resolves when nothing is scheduled, waiting or running (a chain of async invocations included). */
  waitForIdle(timeoutMs = 60_000): Promise<void> {
    if (this.busy === 0) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.idleWaiters.delete(done);
        reject(new Error(`Function Compute still busy after ${timeoutMs} ms (${this.busy} invocations pending)`));
      }, timeoutMs);
      const done = () => {
        clearTimeout(timer);
        resolve();
      };
      this.idleWaiters.add(done);
    });
  }

  /** Stopping the emulator: running children are killed, scheduled deliveries dropped. */
  close(): void {
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    for (const c of this.children) c.kill('SIGKILL');
    this.children.clear();
    for (const w of this.slotWaiters.splice(0)) w();
    for (const w of [...this.idleWaiters]) w();
    this.idleWaiters.clear();
  }

  // ---------- async delivery ----------

  private schedule(
    fn: FcFunction,
    payload: Buffer,
    requestId: string,
    acceptedAt: number,
    attempt: number,
    duplicate: boolean,
    delayMs: number,
  ): void {
    if (this.closed) return;
    const record = this.newRecord(fn, payload, requestId, 'Async', attempt, duplicate);
    this.busy++;
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      this.deliver(fn, payload, record, acceptedAt)
        .catch((e) => process.stderr.write(`[emulator] fc delivery failed: ${(e as Error)?.stack ?? String(e)}\n`))
        .finally(() => this.done());
    }, delayMs);
    timer.unref?.();
    this.timers.add(timer);
  }

  private async deliver(fn: FcFunction, payload: Buffer, record: FcInvocation, acceptedAt: number): Promise<void> {
    const maxAgeMs = (fn.asyncConfig?.maxAsyncEventAgeInSeconds ?? 86_400) * 1000;
    const expired = () => Date.now() - acceptedAt > maxAgeMs;
    if (expired()) return this.expire(fn, payload, record);
    await this.acquire();
    let outcome: RunOutcome;
    try {
      if (this.closed) return;
      if (expired()) return this.expire(fn, payload, record);
      record.status = 'running';
      record.startedAt = nowIso();
      const credentials = this.roleCredentials(fn);
      outcome =
        'error' in credentials
          ? {
              ok: false,
              body: Buffer.from(JSON.stringify({ errorMessage: credentials.error.message })),
              ...credentials,
              logs: '',
            }
          : await this.run(fn, payload, record.requestId, credentials.value);
    } finally {
      this.release();
    }
    if (this.closed) return;
    this.finish(record, outcome);
    if (outcome.ok || record.duplicate) return;
    const retries = fn.asyncConfig?.maxAsyncRetryAttempts ?? 3;
    if (record.attempt <= retries) {
      const delay = this.host.state().options.fcAsyncRetryDelayMs * 2 ** (record.attempt - 1);
      this.schedule(fn, payload, record.requestId, acceptedAt, record.attempt + 1, false, delay);
      return;
    }
    this.giveUp(fn, payload, record, 'retriesExhausted', outcome);
  }

  private expire(fn: FcFunction, payload: Buffer, record: FcInvocation): void {
    record.status = 'expired';
    record.endedAt = nowIso();
    if (!record.duplicate) this.giveUp(fn, payload, record, 'expired');
  }

  /** Records the failure and, when the function names an onFailure function, invokes it with FC's destination payload. */
  private giveUp(
    fn: FcFunction,
    payload: Buffer,
    record: FcInvocation,
    reason: FcFailure['reason'],
    outcome?: RunOutcome,
  ): void {
    const failure: FcFailure = {
      requestId: record.requestId,
      functionName: fn.functionName,
      accountId: fn.accountId,
      region: fn.region,
      payload: readable(payload),
      reason,
      attempts: reason === 'expired' ? record.attempt - 1 : record.attempt,
      ...(outcome?.error ? { error: outcome.error } : {}),
      time: nowIso(),
    };
    this.failureList.push(failure);
    const destination = fn.asyncConfig?.onFailure;
    if (!destination) return;
    failure.destination = destination;
    const target = this.destinationOf(fn, destination);
    if ('error' in target) {
      failure.destinationError = target.error;
      return;
    }
    // The result-callback payload (Function Compute "Result callback"), for an FC destination.
    const event = Buffer.from(
      JSON.stringify({
        timestamp: Date.now(),
        requestContext: {
          requestId: record.requestId,
          functionArn: functionArn(fn),
          condition: reason === 'expired' ? 'EventExpired' : 'UnhandledInvocationError',
          approximateInvokeCount: failure.attempts,
        },
        requestPayload: payload.toString('utf8'),
        responseContext: { statusCode: 200, functionError: outcome?.error?.message ?? 'the event expired' },
        responsePayload: outcome ? outcome.body.toString('utf8') : '',
      }),
    );
    if (event.length > FC_ASYNC_PAYLOAD_LIMIT) {
      failure.destinationError = `the destination payload has ${event.length} bytes, over the ${FC_ASYNC_PAYLOAD_LIMIT} an FC destination takes`;
      return;
    }
    failure.destinationRequestId = newRequestId();
    this.acceptAsync(target.fn, event, failure.destinationRequestId);
  }

  /** An onFailure function FC may invoke: same account, exists, and the function's role may fc:InvokeFunction it. */
  private destinationOf(fn: FcFunction, arn: string): { fn: FcFunction } | { error: string } {
    const parts = parseFunctionArn(arn);
    if (!parts) return { error: `not a function ARN: ${arn}` };
    if (parts.accountId !== fn.accountId)
      return { error: 'the emulator delivers to functions of the same account only' };
    const target = (this.host.state().functions ?? []).find(
      (f) => f.accountId === parts.accountId && f.region === parts.region && f.functionName === parts.functionName,
    );
    if (!target) return { error: `FunctionNotFound: function '${parts.functionName}' does not exist.` };
    if (!fn.role) return { error: `the function has no role to invoke its destination with (fc:InvokeFunction)` };
    const caller: Caller = {
      accountId: fn.accountId,
      type: 'role',
      accessKeyId: '',
      roleName: fn.role,
      sessionName: 'fc-destination',
      arn: `acs:ram::${fn.accountId}:assumed-role/${fn.role}/fc-destination`,
      principalId: fn.role,
    };
    const verdict = isCallerAllowed(this.host.state(), caller, 'fc:InvokeFunction', [arn], {});
    if (!verdict.allowed) return { error: `AccessDenied: role ${fn.role} may not fc:InvokeFunction on ${arn}` };
    return { fn: target };
  }

  // ---------- running one invocation ----------

  private roleCredentials(
    fn: FcFunction,
  ): { value: ServiceCredentials | undefined } | { error: { type: string; message: string } } {
    if (!fn.role) return { value: undefined };
    try {
      return { value: this.host.credentials(fn.accountId, fn.role) };
    } catch (e) {
      const message = `Function Compute cannot assume the function's role ${fn.role}: ${(e as Error).message}`;
      return { error: { type: 'AssumeRoleFailed', message } };
    }
  }

  private run(
    fn: FcFunction,
    payload: Buffer,
    requestId: string,
    credentials: ServiceCredentials | undefined,
  ): Promise<RunOutcome> {
    const timeoutSeconds = fn.timeoutSeconds ?? 60;
    const env: NodeJS.ProcessEnv = { ...process.env };
    for (const k of INHERITED_CREDENTIALS) delete env[k];
    Object.assign(env, {
      ALIBABA_CLOUD_ENDPOINT_OVERRIDE: this.host.endpoint(),
      FC_REGION: fn.region,
      FC_ACCOUNT_ID: fn.accountId,
      FC_FUNCTION_NAME: fn.functionName,
      ...(credentials
        ? {
            ALIBABA_CLOUD_ACCESS_KEY_ID: credentials.accessKeyId,
            ALIBABA_CLOUD_ACCESS_KEY_SECRET: credentials.accessKeySecret,
            ALIBABA_CLOUD_SECURITY_TOKEN: credentials.securityToken,
          }
        : {}),
      ...fn.environment,
    });
    const context = {
      requestId,
      accountId: fn.accountId,
      region: fn.region,
      ...(credentials
        ? {
            credentials: {
              accessKeyId: credentials.accessKeyId,
              accessKeySecret: credentials.accessKeySecret,
              securityToken: credentials.securityToken,
            },
          }
        : {}),
      function: { name: fn.functionName, handler: fn.handler ?? 'index.handler', timeout: timeoutSeconds },
    };
    return new Promise((resolve) => {
      const started = Date.now();
      let logs = '';
      let reply: Reply | undefined;
      let timedOut = false;
      let runTimer: NodeJS.Timeout | undefined;
      const child = fork(runnerFile(), [fn.codeDir, fn.handler ?? 'index.handler'], {
        env,
        cwd: fn.codeDir,
        execArgv: ['--enable-source-maps'],
        stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      });
      this.children.add(child);
      const keep = (d: Buffer) => {
        logs = (logs + d.toString()).slice(-LOG_TAIL);
      };
      child.stdout?.on('data', keep);
      child.stderr?.on('data', keep);
      const startTimer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
      child.on('message', (m: Reply | { ready: true }) => {
        if ('ready' in m) {
          clearTimeout(startTimer);
          child.send({ event: payload.toString('base64'), context });
          runTimer = setTimeout(() => {
            timedOut = true;
            child.kill('SIGKILL');
          }, timeoutSeconds * 1000);
          return;
        }
        reply = m;
      });
      child.on('error', (e) => keep(Buffer.from(`[emulator] cannot run the function: ${e.message}\n`)));
      child.once('close', () => {
        clearTimeout(startTimer);
        clearTimeout(runTimer);
        this.children.delete(child);
        const durationMs = Date.now() - started;
        const maxRssKiB = reply?.maxRssKiB;
        if (reply?.ok) return resolve({ ok: true, body: resultBytes(reply), logs, maxRssKiB });
        const failed = (type: string, body: object, message: string): void =>
          resolve({ ok: false, body: Buffer.from(JSON.stringify(body)), error: { type, message }, logs, maxRssKiB });
        if (reply?.error) return failed(reply.error.errorType, reply.error, reply.error.errorMessage);
        if (timedOut) {
          const errorMessage = `Function time out after ${timeoutSeconds} seconds (maxMemoryUsage: 0MB)`;
          return failed('FunctionTimeout', { errorMessage }, errorMessage);
        }
        const errorMessage = `Process exited unexpectedly before completing request (duration: ${durationMs}ms, maxMemoryUsage: 0MB)`;
        return failed('ProcessExited', { errorMessage }, errorMessage);
      });
    });
  }

  // ---------- records, slots, idleness ----------

  private newRecord(
    fn: FcFunction,
    payload: Buffer,
    requestId: string,
    type: FcInvocationType,
    attempt: number,
    duplicate: boolean,
  ): FcInvocation {
    const record: FcInvocation = {
      requestId,
      functionName: fn.functionName,
      accountId: fn.accountId,
      region: fn.region,
      type,
      attempt,
      duplicate,
      payload: readable(payload),
      status: 'queued',
    };
    this.records.push(record);
    if (this.records.length > 50_000) this.records.splice(0, this.records.length - 50_000);
    return record;
  }

  private finish(record: FcInvocation, outcome: RunOutcome): void {
    record.status = outcome.ok ? 'succeeded' : 'failed';
    record.endedAt = nowIso();
    record.logs = outcome.logs;
    if (outcome.maxRssKiB !== undefined) record.maxRssKiB = outcome.maxRssKiB;
    if (outcome.ok) {
      if (outcome.body.length > 0) record.result = readable(outcome.body);
    } else if (outcome.error) {
      record.error = outcome.error;
    }
  }

  private acquire(): Promise<void> {
    const cap = Math.max(1, this.host.state().options.fcConcurrency);
    if (this.running < cap || this.closed) {
      this.running++;
      return Promise.resolve();
    }
    return new Promise((resolve) =>
      this.slotWaiters.push(() => {
        this.running++;
        resolve();
      }),
    );
  }

  private release(): void {
    this.running--;
    const cap = Math.max(1, this.host.state().options.fcConcurrency);
    while (this.slotWaiters.length > 0 && this.running < cap) this.slotWaiters.shift()!();
  }

  private done(): void {
    this.busy--;
    if (this.busy > 0) return;
    for (const w of [...this.idleWaiters]) w();
    this.idleWaiters.clear();
  }
}

function resultBytes(reply: Reply): Buffer {
  const r = reply.result;
  if (!r || r.kind === 'empty') return Buffer.alloc(0);
  if (r.kind === 'bytes') return Buffer.from(r.data ?? '', 'base64');
  return Buffer.from(r.data ?? '', 'utf8');
}
