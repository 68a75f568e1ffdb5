// What every answer to fuzzed input must look like, shared by the parser and handler properties.
import { expect } from 'vitest';
import { HANDLED_EVENT_NAMES, type Trigger } from '../../shared/events';

// The id forms spelled out again on purpose (not imported from shared/domain/ids): the properties hold the parser to
// the contract, not to itself.
export const RESOURCE_ID = /^[sm]-[A-Za-z0-9]{4,64}$/;
export const REGION_FORM = /^[a-z]{2,}(-[a-z0-9]+)+$/;
const OUTCOMES = ['shared', 'revoked', 'unchanged', 'pending', 'refused', 'failed'];

/** A reason a person can read: a non-empty line, not an echo of a huge payload. */
export function expectReason(s: unknown, max = 1200): void {
  expect(typeof s).toBe('string');
  expect((s as string).trim().length).toBeGreaterThan(0);
  expect((s as string).length).toBeLessThanOrEqual(max);
}

/** The parser's output: a known kind, serialisable, and every event it extracted well-formed. */
export function expectSaneTrigger(inv: Trigger, items: number): void {
  expect(['events', 'timer', 'manual', 'invalid']).toContain(inv.kind);
  expect(() => JSON.stringify(inv)).not.toThrow();
  if (inv.kind === 'invalid') expectReason(inv.error);
  if (inv.kind !== 'events') return;
  for (const e of inv.events) {
    expect(e.resourceIds.length).toBeGreaterThan(0);
    expect(new Set(e.resourceIds).size).toBe(e.resourceIds.length);
    for (const id of e.resourceIds) {
      expect(id).toMatch(RESOURCE_ID);
      expect(id.startsWith('s-') ? 'snapshot' : 'image').toBe(e.resourceType);
    }
    expect(e.region).toMatch(REGION_FORM);
    if (e.accountId !== undefined) expect(e.accountId).toMatch(/^\d{16}$/);
    expect(HANDLED_EVENT_NAMES as readonly string[]).toContain(e.eventName);
    expect(typeof e.eventId).toBe('string');
    for (const k of e.tagKeys) expect(typeof k).toBe('string');
  }
  for (const s of inv.skipped) expectReason(s.reason, 600);
  // Every item of the batch is accounted for: it named resources or was skipped with a reason.
  expect(inv.events.length + inv.skipped.length).toBeGreaterThanOrEqual(items);
}

/** A handler's answer: an input error with a reason, or a summary whose every result has a known outcome. */
export function expectSaneAnswer(res: any): 'invalid' | 'summary' {
  expect(res).toBeTypeOf('object');
  expect(() => JSON.stringify(res)).not.toThrow();
  if (res.ok === false && res.error && !('counts' in res)) {
    expect(res.error.code).toBe('InvalidInput');
    expectReason(res.error.message);
    return 'invalid';
  }
  expect(res.counts).toBeTypeOf('object');
  expect(Array.isArray(res.results)).toBe(true);
  for (const r of res.results) {
    expect(OUTCOMES).toContain(r.outcome);
    expect(r.resourceId).toMatch(RESOURCE_ID);
    if (r.outcome === 'refused') expectReason(r.reason, 4000);
  }
  for (const s of res.skipped ?? []) expectReason(s.reason, 600);
  return 'summary';
}
