import { describe, expect, it } from 'vitest';
import { bodyOf, statusBody, statusValue } from '../../shared/share/status';
import { parseExpiry } from '../../shared/domain/expiry';
import type { ResourceOutcome } from '../../shared/share/model';

const o = (f: Partial<ResourceOutcome>): ResourceOutcome => ({
  resourceId: 's-1',
  resourceType: 'snapshot',
  region: 'cn-hangzhou',
  outcome: 'shared',
  targets: ['account 1', 'rd rd-1', 'folder f'],
  actions: [],
  ...f,
});
const NOW = Date.UTC(2026, 11, 1, 21, 0, 30);

describe('statusBody', () => {
  it.each([
    [o({}), 'shared 3'],
    [o({ outcome: 'unchanged' }), 'shared 3'],
    [o({ outcome: 'pending', pending: ['1000000000000003'] }), 'pending 1 invitation'],
    [o({ outcome: 'pending', pending: ['1000000000000003', 'fd-x'] }), 'pending 1 invitation, 1 association'],
    [o({ outcome: 'pending', error: { code: 'NotReady', message: '' } }), 'pending: not ready yet'],
    [
      o({ outcome: 'failed', error: { code: 'Throttling.User', message: '', retryable: true } }),
      'failed Throttling.User, will retry',
    ],
    [o({ outcome: 'failed', error: { code: 'Forbidden.RAM', message: '' } }), 'failed Forbidden.RAM'],
    [o({ outcome: 'revoked', targets: [] }), undefined],
    [o({ outcome: 'unchanged', targets: [] }), undefined],
  ])('%#: %s', (outcome, body) => {
    expect(statusBody(outcome)).toBe(body);
  });

  it('shows the end of a share, and that it passed', () => {
    expect(statusBody(o({}), { text: '2026-12-31', expired: false })).toBe('shared 3 until 2026-12-31');
    expect(statusBody(o({ outcome: 'revoked', targets: [] }), { text: '2026-12-31', expired: true })).toBe(
      'expired 2026-12-31',
    );
  });

  it('fits a long refusal in 128 characters with its time, without URLs or reserved prefixes', () => {
    const body = statusBody(
      o({
        outcome: 'refused',
        error: { code: 'Malformed', message: '' },
        reason: `see https://example.com ${'x'.repeat(300)}`,
      }),
    )!;
    const value = statusValue(body, NOW);
    expect(value.length).toBeLessThanOrEqual(128);
    expect(value).not.toContain('https://');
    expect(value.endsWith(' | 2026-12-01T21:00Z')).toBe(true);
    expect(bodyOf(value)).toBe(body);
  });
});

describe('parseExpiry', () => {
  it.each([
    ['2026-12-31', Date.UTC(2027, 0, 1)],
    ['2026-12-31T18:00:00Z', Date.UTC(2026, 11, 31, 18)],
    ['2026-12-31T18:00Z', Date.UTC(2026, 11, 31, 18)],
    ['2026-12-31T18:00+08:00', Date.UTC(2026, 11, 31, 10)],
    ['2026-12-31T18:00:00-05:30', Date.UTC(2026, 11, 31, 23, 30)],
  ])('%s ends at %d', (text, at) => {
    expect(parseExpiry(text)).toEqual({ at, text });
  });

  it.each([['31/12/2026'], ['2026-02-30'], ['2026-12-31T18:00'], ['2026-12-31T25:00Z'], [''], ['tomorrow']])(
    'refuses %j with a reason',
    (text) => {
      const e = parseExpiry(text);
      expect('error' in e && e.error).toMatch(/is not a date: .*2026-12-31T18:00:00Z/);
    },
  );
});
