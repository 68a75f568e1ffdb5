// How reconcile is invoked (the timer's event, a hand-made command, bad commands) and the one JSON summary it returns.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import { SNAPSHOT_ROLE, isStatusWrite, tag, toolShare, trustPolicy, trustServices, untag, use } from '../helpers/e2e';
import { productCalls, reconcile, reconcileOk, reconcileWorld, resultFor } from '../helpers/reconcile';
import type { ReconcileSummary } from '../../shared/usecases/reconcile';

const member = DEMO.rdRecipient.uid;
const other = E2E.rootMember;
const [snap, wildcard, spoiled, untagged] = E2E.spareSnapshots;

describe('the timer invocation', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
  });
  afterAll(() => w.stop());

  it('runs a full pass from the timer trigger event and its payload', async () => {
    const timer = {
      triggerTime: '2026-11-28T03:00:00Z',
      triggerName: 'reconcile-timer',
      payload: JSON.stringify({ action: 'reconcile' }),
    };

    const s: ReconcileSummary = await w.invoke('reconcile', timer);

    expect(s).toMatchObject({ ok: true, dryRun: false, complete: true, counts: { shared: 1 } });
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });

  it('takes a dry run from the timer payload as well, writing nothing', async () => {
    await untag(w, snap);
    w.emu.clearCalls();

    const s: ReconcileSummary = await w.invoke('reconcile', {
      triggerTime: '2026-11-28T04:00:00Z',
      triggerName: 'reconcile-timer',
      payload: '{"action":"reconcile","dryRun":true}',
    });

    expect(s).toMatchObject({ ok: true, dryRun: true, counts: { revoked: 1 } });
    expect(w.emu.writes()).toEqual([]);
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });
});

describe('bad reconcile commands', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member); // something a run would change, were the command accepted
  });
  afterAll(() => w.stop());

  const bad: Array<[string, unknown, RegExp]> = [
    ['an unknown field', { action: 'reconcile', region: 'cn-hangzhou' }, /Unknown field\(s\) region/],
    [
      'regions that are not a list',
      { action: 'reconcile', regions: 'cn-hangzhou' },
      /regions must be a non-empty list/,
    ],
    ['an empty region list', { action: 'reconcile', regions: [] }, /regions must be a non-empty list/],
    ['maxResources 0', { action: 'reconcile', maxResources: 0 }, /maxResources must be a positive integer/],
    ['dryRun as a string', { action: 'reconcile', dryRun: 'yes' }, /dryRun must be true or false/],
    [
      'an unknown field in the timer payload',
      {
        triggerTime: '2026-11-28T03:00:00Z',
        triggerName: 'reconcile-timer',
        payload: '{"action":"reconcile","dryrun":true}',
      },
      /Unknown field\(s\) dryrun/,
    ],
    ['a payload that is not JSON', '{"action":"reconcile"', /not JSON/],
  ];

  it.each(bad)('answers %s with a clear InvalidInput error and changes nothing', async (_name, event, message) => {
    w.emu.clearCalls();

    const result = await w.invoke('reconcile', event);

    expect(result).toEqual({ ok: false, error: { code: 'InvalidInput', message: expect.stringMatching(message) } });
    expect(w.emu.writes()).toEqual([]);
    expect(productCalls(w)).toEqual([]);
    expect(await toolShare(w, snap)).toBeUndefined();
  });
});

describe('the run summary', () => {
  let w: World;
  let s: ReconcileSummary;
  let calls: number;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, spoiled, member);
    await tag(w, untagged, member);
    await reconcileOk(w);
    await tag(w, spoiled, `${other} *`); // a typo on a shared snapshot: refused, and its share must stay
    await tag(w, wildcard, '*'); // never shared: refused, and nothing made
    await tag(w, snap, other);
    await untag(w, untagged);
    w.emu.clearCalls();
    s = await reconcile(w);
    calls = productCalls(w).length;
  });
  afterAll(() => w.stop());

  it('counts the outcomes overall and per region', () => {
    const counts = { shared: 1, revoked: 1, unchanged: 0, pending: 0, refused: 2, failed: 0 };
    expect(s.counts).toEqual(counts);
    expect(s.byRegion).toEqual({ [DEMO.region]: counts });
    expect(s).toMatchObject({ ok: true, dryRun: false, complete: true, resumed: false });
  });

  it('lists the refused resources by id with the reason', () => {
    expect(s.errors).toHaveLength(2);
    expect(s.errors).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          resourceId: wildcard,
          region: DEMO.region,
          outcome: 'refused',
          message: expect.stringContaining('wildcard'),
        }),
        expect.objectContaining({
          resourceId: spoiled,
          region: DEMO.region,
          outcome: 'refused',
          message: expect.stringContaining('wildcard'),
        }),
      ]),
    );
    expect(resultFor(s, wildcard)).toMatchObject({ outcome: 'refused', actions: [] });
  });

  it('changes nothing of a refused resource: no share made, and an existing share and its trust principal kept', async () => {
    // Its status tag says why (feedback, not a change to the share).
    const touched = w.emu
      .writes()
      .filter(
        (c) =>
          !isStatusWrite(c) &&
          (JSON.stringify(c.params).includes(wildcard) || JSON.stringify(c.params).includes(spoiled)),
      );
    expect(touched).toEqual([]);
    expect(await toolShare(w, wildcard)).toBeUndefined();
    expect((await toolShare(w, spoiled))?.targets).toEqual([
      expect.objectContaining({ id: member, status: 'Associated' }),
    ]);
    expect(await use(w, member, spoiled)).toMatchObject({ ok: true });
    // A refused resource might still need its grants: the pass takes nothing back from the role.
    expect(s.roleActions).toEqual([]);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(`${member}@ecs.aliyuncs.com`);
  });

  it('reports its duration and the API calls it made', () => {
    expect(s.durationMs).toBeGreaterThan(0);
    expect(s.durationMs).toBeLessThan(60_000);
    expect(s.apiCalls).toBe(calls);
  });

  it('is a plain JSON document', () => {
    expect(JSON.parse(JSON.stringify(s))).toEqual(s);
  });
});
