// The emulator's programmatic surface: what startEmulator() takes and returns, and the records it keeps (the call
// log, applied writes). The HTTP admin API under /_emulator/ (admin.ts) mirrors these methods.
import type {
  CloudEvent,
  DeadLetter,
  DeliveryAttempt,
  EventDeliveryOptions,
  EventListener,
  EventStats,
} from './events';
import type { FaultRule, FaultRuleState, RateLimit, ThrottlingOptions } from './faults';
import type { FcFailure, FcInvocation, FcInvocationFilter } from './services/fc';
import type {
  ActionTable,
  Caller,
  EmulatorOptions,
  EmulatorState,
  FcFunction,
  FullState,
  Params,
  Product,
  PublishedEvent,
} from './types';

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
  /**
   * A write that changed the state although its answer was lost (dropAfter) or replaced (unavailableAfter); for FC
   * InvokeFunction (never a write), an invocation that was run or queued all the same.
   */
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
  /** Every delivery FC InvokeFunction made (a sync call; each attempt and duplicate of an async event), in order. */
  fcInvocations(filter?: FcInvocationFilter): FcInvocation[];
  /** Async invocations FC gave up on: retries exhausted, or older than maxAsyncEventAgeInSeconds. */
  fcFailures(): FcFailure[];
  /** Resolves when no invocation is queued or running (async chains included); rejects after timeoutMs (60 s). */
  waitForFcIdle(timeoutMs?: number): Promise<void>;
  /** Adds an FC function to the live state, or replaces the one with the same account, region and name. */
  registerFunction(fn: FcFunction): FcFunction;
  /** Stops the server; running function children are killed and queued invocations dropped. */
  stop(): Promise<void>;
}

export interface PublishedFilter {
  accountId?: string;
  bus?: string;
  region?: string;
  type?: string;
}
