// Fault injection and rate limiting for tests: which calls fail, how, and how often.
// Decisions are made here; server.ts carries them out (error body, added latency, destroyed socket).
import { ApiError, type Product } from './types';

/**
 * - `throttle` (400 Throttling.User), `unavailable` (503), `internal` (500): refused before the call is applied.
 * - `latency`: the call waits `latencyMs` first (adds up with other latency rules and the global latency).
 * - `drop`: the connection is destroyed before the call is applied (the client sees a network error).
 * - `dropAfter`: the call is applied (state changed, events emitted, onWrite hooks run), then the connection is
 *   destroyed without an answer: a write that happened although the client saw a network error.
 * - `unavailableAfter`: the call is applied, then answered 503 ServiceUnavailable instead of its result.
 * For the two `...After` kinds a call that fails on its own (e.g. a 404) loses its error answer the same way.
 */
type FaultKind = 'throttle' | 'unavailable' | 'internal' | 'latency' | 'drop' | 'dropAfter' | 'unavailableAfter';

const FAULT_KINDS: readonly FaultKind[] = [
  'throttle',
  'unavailable',
  'internal',
  'latency',
  'drop',
  'dropAfter',
  'unavailableAfter',
];

export interface FaultRule {
  /** Action name, or '*' for every action. */
  action: string;
  product?: Product;
  kind: FaultKind;
  /** Affect the Nth matching call (1-based) and, with `times`, the calls right after it. */
  nth?: number;
  /** Affect every Nth matching call (N, 2N, ...). */
  every?: number;
  /** Affect a matching call with this probability (0..1), drawn from a PRNG seeded with `seed`. */
  rate?: number;
  seed?: number;
  /** How many calls to affect at most (default 1 with `nth`, unlimited otherwise). */
  times?: number;
  /** For 'latency': the added delay. */
  latencyMs?: number;
  /** For 'throttle': the x-acs-retry-after value in ms (1000 when the header is sent); setting it implies `retryAfter: true`. */
  retryAfterMs?: number;
  /** For 'throttle': send x-acs-retry-after or not (default: the product's, see ThrottlingOptions.retryAfter). */
  retryAfter?: boolean;
}

/**
 * A per-API rate limit, counted per action, per caller account and per region (ECS and RAM document this
 * dimension), answered 400 Throttling.User. Both bounds may be set; a refused call does not count.
 */
export interface RateLimit {
  /** Calls in any rolling 1,000 ms. */
  perSecond?: number;
  /**
   * Calls per minute window, windows aligned to the clock: "if an API operation is throttled at minute T, the
   * operation can continue to be called as of minute T+1" (ECS API throttling). The window's length is
   * ThrottlingOptions.windowMs (60,000 unless a test shortens it).
   */
  perMinute?: number;
  /** Send x-acs-retry-after (ms until the call would be accepted) or not; default: the product's. */
  retryAfter?: boolean;
}

export interface ThrottlingOptions {
  /** The length of a `perMinute` window in ms: 60,000, shorter in tests. */
  windowMs: number;
  /**
   * Whether a throttling answer carries x-acs-retry-after, per product, when neither the rule nor the limit says.
   * No product documents the header, so none sends it by default (the harder side: the client must back off on its
   * own); a fault with `retryAfterMs`, a limit with `retryAfter: true` or this switch turns it on.
   */
  retryAfter: Record<Product, boolean>;
}

export const DEFAULT_THROTTLING: ThrottlingOptions = {
  windowMs: 60_000,
  retryAfter: {
    ecs: false,
    ram: false,
    kms: false,
    sts: false,
    resourcesharing: false,
    resourcemanager: false,
    eventbridge: false,
    fc: false,
  },
};

/** Who a call is counted against: a rate limit applies per action, account and region. */
interface CallScope {
  accountId?: string;
  region?: string;
}

export interface FaultRuleState extends FaultRule {
  id: number;
  matched: number; // matching calls seen
  affected: number; // calls this rule changed
}

/** What should happen to one call. */
interface FaultDecision {
  latencyMs: number;
  error?: ApiError;
  drop?: boolean;
  /** Apply the call, then lose its answer: 'drop' destroys the connection, 'unavailable' answers 503 instead. */
  after?: 'drop' | 'unavailable';
  /** A human-readable reason for the call log ("fault #2 throttle", "rate limit 5/s"). */
  cause?: string;
}

/** mulberry32: a tiny seedable PRNG, so a `rate` fault hits the same calls on every run. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function serviceUnavailable(): ApiError {
  return new ApiError(503, 'ServiceUnavailable', 'The request has failed due to a temporary failure of the server.');
}

/** 400 Throttling.User; with `retryAfterMs` undefined, no x-acs-retry-after header (the SDK then reports none). */
function throttlingError(retryAfterMs?: number): ApiError {
  const headers: Record<string, string> =
    retryAfterMs === undefined ? {} : { 'x-acs-retry-after': String(Math.max(1, Math.ceil(retryAfterMs))) };
  return new ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.', {}, headers);
}

function faultError(rule: FaultRule, sendRetryAfter: boolean): ApiError | undefined {
  switch (rule.kind) {
    case 'throttle':
      return throttlingError(sendRetryAfter ? (rule.retryAfterMs ?? 1000) : undefined);
    case 'unavailable':
      return serviceUnavailable();
    case 'internal':
      return new ApiError(
        500,
        'InternalError',
        'The request processing has failed due to some unknown error, exception or failure.',
      );
    default:
      return undefined;
  }
}

export class Faults {
  private rules: Array<FaultRuleState & { random: () => number }> = [];
  private nextId = 1;
  private limits = new Map<string, RateLimit>(); // action ('*' = each action separately) -> its limit
  private seconds = new Map<string, number[]>(); // action|account|region -> accepted call times in the last second
  private minutes = new Map<string, { window: number; count: number }>(); // action|account|region -> current window
  private throttling: ThrottlingOptions = structuredClone(DEFAULT_THROTTLING);
  globalLatencyMs = 0;

  setThrottling(partial: { windowMs?: number; retryAfter?: Partial<Record<Product, boolean>> }): ThrottlingOptions {
    if (partial.windowMs !== undefined && !(Number.isFinite(partial.windowMs) && partial.windowMs >= 1)) {
      throw new Error('"windowMs" must be a number >= 1');
    }
    for (const [p, v] of Object.entries(partial.retryAfter ?? {})) {
      if (!(p in DEFAULT_THROTTLING.retryAfter) || typeof v !== 'boolean')
        throw new Error(`"retryAfter.${p}" must be a product and a boolean`);
    }
    this.throttling = {
      windowMs: partial.windowMs ?? this.throttling.windowMs,
      retryAfter: { ...this.throttling.retryAfter, ...partial.retryAfter },
    };
    this.minutes.clear();
    return this.throttlingOptions();
  }

  throttlingOptions(): ThrottlingOptions {
    return structuredClone(this.throttling);
  }

  add(rule: FaultRule): FaultRuleState {
    validateRule(rule);
    const state = { ...rule, id: this.nextId++, matched: 0, affected: 0, random: seededRandom(rule.seed ?? 1) };
    this.rules.push(state);
    return publicRule(state);
  }

  remove(id: number): boolean {
    const before = this.rules.length;
    this.rules = this.rules.filter((r) => r.id !== id);
    return this.rules.length < before;
  }

  clear(): void {
    this.rules = [];
  }

  list(): FaultRuleState[] {
    return this.rules.map(publicRule);
  }

  /**
   * Sets the limit for one action ('*': each action separately); a number is `perSecond`. null, 0 or a limit with
   * no bound removes it.
   */
  setRateLimit(action: string, limit: number | RateLimit | null): void {
    const l = normaliseLimit(limit);
    if (l) this.limits.set(action, l);
    else this.limits.delete(action);
    this.seconds.clear();
    this.minutes.clear();
  }

  replaceRateLimits(limits: Record<string, number | RateLimit>): void {
    if (!limits || typeof limits !== 'object' || Array.isArray(limits))
      throw new Error('rate limits are an object of action -> limit');
    const checked = Object.entries(limits).map(([a, l]) => [a, normaliseLimit(l)] as const); // validate all first
    this.limits.clear();
    for (const [a, l] of checked) this.setRateLimit(a, l ?? null);
  }

  /** The limits per action: a plain number where only `perSecond` is set, as PUT rate-limits accepts it. */
  rateLimits(): Record<string, number | RateLimit> {
    return Object.fromEntries(
      [...this.limits].map(([a, l]) => [
        a,
        l.perMinute === undefined && l.retryAfter === undefined ? l.perSecond! : { ...l },
      ]),
    );
  }

  /** Decides the fate of one authenticated call. Counting happens here, so call it exactly once per call. */
  decide(product: Product, action: string, now: number, scope: CallScope = {}): FaultDecision {
    const decision: FaultDecision = { latencyMs: this.globalLatencyMs };
    let afterRule: FaultRuleState | undefined;
    for (const rule of this.rules) {
      if (rule.action !== '*' && rule.action !== action) continue;
      if (rule.product && rule.product !== product) continue;
      rule.matched++;
      // The first failing rule wins; later rules still count the call.
      if (decision.error || decision.drop || decision.after) continue;
      if (!triggers(rule)) continue;
      rule.affected++;
      if (rule.kind === 'latency') {
        decision.latencyMs += rule.latencyMs ?? 0;
      } else if (rule.kind === 'drop') {
        decision.drop = true;
        decision.cause = `fault #${rule.id} drop`;
      } else if (rule.kind === 'dropAfter' || rule.kind === 'unavailableAfter') {
        decision.after = rule.kind === 'dropAfter' ? 'drop' : 'unavailable';
        decision.cause = `fault #${rule.id} ${rule.kind}`;
        afterRule = rule;
      } else {
        decision.error = faultError(
          rule,
          rule.retryAfter ?? (rule.retryAfterMs !== undefined || this.throttling.retryAfter[product]),
        );
        decision.cause = `fault #${rule.id} ${rule.kind}`;
      }
    }
    if (!decision.error && !decision.drop) {
      const limited = this.checkRateLimit(product, action, now, scope);
      if (limited) {
        // A throttled call is never applied, so an apply-then-lose rule has not had its effect yet: it stays armed.
        if (afterRule) {
          afterRule.affected--;
          decision.after = undefined;
        }
        decision.error = limited.error;
        decision.cause = `rate limit ${limited.what}`;
      }
    }
    return decision;
  }

  // perSecond: a sliding 1,000 ms window; retry-after is when the oldest accepted call leaves it.
  // perMinute: fixed windows aligned to the clock; retry-after is the start of the next window.
  // A call is accepted only when both have room, and only an accepted call counts.
  private checkRateLimit(
    product: Product,
    action: string,
    now: number,
    scope: CallScope,
  ): { error: ApiError; what: string } | undefined {
    const limit = this.limits.get(action) ?? this.limits.get('*');
    if (!limit) return undefined;
    const key = `${action}|${scope.accountId ?? ''}|${scope.region ?? ''}`;
    const sendRetryAfter = limit.retryAfter ?? this.throttling.retryAfter[product];
    const recent = (this.seconds.get(key) ?? []).filter((t) => now - t < 1000);
    this.seconds.set(key, recent);
    if (limit.perSecond !== undefined && recent.length >= limit.perSecond) {
      const wait = recent[recent.length - limit.perSecond] + 1000 - now;
      return { error: throttlingError(sendRetryAfter ? wait : undefined), what: `${limit.perSecond}/s` };
    }
    const windowMs = this.throttling.windowMs;
    const window = Math.floor(now / windowMs);
    let minute = this.minutes.get(key);
    if (!minute || minute.window !== window) this.minutes.set(key, (minute = { window, count: 0 }));
    if (limit.perMinute !== undefined && minute.count >= limit.perMinute) {
      const wait = (window + 1) * windowMs - now;
      return {
        error: throttlingError(sendRetryAfter ? wait : undefined),
        what: `${limit.perMinute}/${windowMs === 60_000 ? 'min' : `${windowMs} ms window`}`,
      };
    }
    recent.push(now);
    minute.count++;
    return undefined;
  }
}

function normaliseLimit(limit: number | RateLimit | null | undefined): RateLimit | undefined {
  if (limit === null || limit === undefined) return undefined;
  const l: RateLimit = typeof limit === 'number' ? { perSecond: limit } : { ...limit };
  if (typeof l !== 'object')
    throw new Error('a rate limit is a number (per second) or { perSecond, perMinute, retryAfter }');
  for (const k of Object.keys(l)) {
    if (!['perSecond', 'perMinute', 'retryAfter'].includes(k)) throw new Error(`unknown rate limit field "${k}"`);
  }
  for (const k of ['perSecond', 'perMinute'] as const) {
    const v = l[k];
    if (v === undefined) continue;
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) throw new Error(`"${k}" must be a number >= 0`);
    if (v > 0) l[k] = Math.max(1, Math.floor(v));
    else delete l[k];
  }
  if (l.retryAfter !== undefined && typeof l.retryAfter !== 'boolean')
    throw new Error('"retryAfter" must be a boolean');
  return l.perSecond === undefined && l.perMinute === undefined ? undefined : l;
}

function triggers(rule: FaultRuleState & { random: () => number }): boolean {
  const times = rule.times ?? (rule.nth !== undefined ? 1 : Infinity);
  if (rule.affected >= times) return false;
  if (rule.nth !== undefined && rule.matched < rule.nth) return false;
  if (rule.every !== undefined && rule.matched % rule.every !== 0) return false;
  if (rule.rate !== undefined && !(rule.random() < rule.rate)) return false;
  return true;
}

function validateRule(rule: FaultRule): void {
  const kinds = FAULT_KINDS;
  if (!rule || typeof rule.action !== 'string' || !kinds.includes(rule.kind)) {
    throw new Error(`a fault rule needs "action" and "kind" (one of ${kinds.join(', ')})`);
  }
  if (rule.nth !== undefined && !(Number.isInteger(rule.nth) && rule.nth >= 1))
    throw new Error('"nth" must be an integer >= 1');
  if (rule.every !== undefined && !(Number.isInteger(rule.every) && rule.every >= 1))
    throw new Error('"every" must be an integer >= 1');
  if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) throw new Error('"rate" must be between 0 and 1');
  if (rule.retryAfter !== undefined && typeof rule.retryAfter !== 'boolean')
    throw new Error('"retryAfter" must be a boolean');
}

function publicRule(r: FaultRuleState): FaultRuleState {
  const { random: _random, ...rest } = r as FaultRuleState & { random?: unknown };
  return { ...rest };
}
