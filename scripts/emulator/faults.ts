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
export type FaultKind = 'throttle' | 'unavailable' | 'internal' | 'latency' | 'drop' | 'dropAfter' | 'unavailableAfter';

export const FAULT_KINDS: readonly FaultKind[] = ['throttle', 'unavailable', 'internal', 'latency', 'drop', 'dropAfter', 'unavailableAfter'];

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
  /** For 'throttle': the x-acs-retry-after value in ms (default 1000). */
  retryAfterMs?: number;
}

export interface FaultRuleState extends FaultRule {
  id: number;
  matched: number; // matching calls seen
  affected: number; // calls this rule changed
}

/** What should happen to one call. */
export interface FaultDecision {
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

export function throttlingError(retryAfterMs: number): ApiError {
  const ms = Math.max(1, Math.ceil(retryAfterMs));
  return new ApiError(400, 'Throttling.User', 'Request was denied due to user flow control.', {}, { 'x-acs-retry-after': String(ms) });
}

function faultError(rule: FaultRule): ApiError | undefined {
  switch (rule.kind) {
    case 'throttle':
      return throttlingError(rule.retryAfterMs ?? 1000);
    case 'unavailable':
      return serviceUnavailable();
    case 'internal':
      return new ApiError(500, 'InternalError', 'The request processing has failed due to some unknown error, exception or failure.');
    default:
      return undefined;
  }
}

export class Faults {
  private rules: Array<FaultRuleState & { random: () => number }> = [];
  private nextId = 1;
  private limits = new Map<string, number>(); // action ('*' = each action) -> calls per second
  private windows = new Map<string, number[]>(); // action -> accepted call times in the last second
  globalLatencyMs = 0;

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

  /** Sets (or with perSecond <= 0 removes) the limit for one action; '*' limits each action separately. */
  setRateLimit(action: string, perSecond: number | null): void {
    if (perSecond === null || !(perSecond > 0)) this.limits.delete(action);
    else this.limits.set(action, Math.max(1, Math.floor(perSecond)));
    this.windows.clear();
  }

  replaceRateLimits(limits: Record<string, number>): void {
    this.limits.clear();
    this.windows.clear();
    for (const [a, n] of Object.entries(limits)) this.setRateLimit(a, n);
  }

  rateLimits(): Record<string, number> {
    return Object.fromEntries(this.limits);
  }

  /** Decides the fate of one authenticated call. Counting happens here, so call it exactly once per call. */
  decide(product: Product, action: string, now: number): FaultDecision {
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
        decision.error = faultError(rule);
        decision.cause = `fault #${rule.id} ${rule.kind}`;
      }
    }
    if (!decision.error && !decision.drop) {
      const limited = this.checkRateLimit(action, now);
      if (limited) {
        // A throttled call is never applied, so an apply-then-lose rule has not had its effect yet: it stays armed.
        if (afterRule) {
          afterRule.affected--;
          decision.after = undefined;
        }
        decision.error = limited;
        decision.cause = `rate limit ${this.limitFor(action)}/s`;
      }
    }
    return decision;
  }

  private limitFor(action: string): number | undefined {
    return this.limits.get(action) ?? this.limits.get('*');
  }

  // Sliding one-second window per action: the call is refused while `limit` calls were accepted in the last 1000 ms,
  // and x-acs-retry-after says when the oldest of them leaves the window.
  private checkRateLimit(action: string, now: number): ApiError | undefined {
    const limit = this.limitFor(action);
    if (limit === undefined) return undefined;
    const recent = (this.windows.get(action) ?? []).filter((t) => now - t < 1000);
    if (recent.length >= limit) {
      this.windows.set(action, recent);
      return throttlingError(recent[recent.length - limit] + 1000 - now);
    }
    recent.push(now);
    this.windows.set(action, recent);
    return undefined;
  }
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
  if (rule.nth !== undefined && !(Number.isInteger(rule.nth) && rule.nth >= 1)) throw new Error('"nth" must be an integer >= 1');
  if (rule.every !== undefined && !(Number.isInteger(rule.every) && rule.every >= 1)) throw new Error('"every" must be an integer >= 1');
  if (rule.rate !== undefined && !(rule.rate >= 0 && rule.rate <= 1)) throw new Error('"rate" must be between 0 and 1');
}

function publicRule(r: FaultRuleState): FaultRuleState {
  const { random: _random, ...rest } = r as FaultRuleState & { random?: unknown };
  return { ...rest };
}
