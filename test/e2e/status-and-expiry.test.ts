// The status tag (ecs-share:status): what happened, on the resource itself, written only when it changes, removed
// with the share tags, skipped by on-tag (loop-safe); and share-until: a share that works before its end and is
// taken back after it, a resource already past it refused, a malformed date refusing the tag and changing nothing.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import {
  acceptInvitations,
  afterReadLag,
  outcomeFor,
  outcomes,
  phase,
  productWrites,
  resourceTags,
  shareWrites,
  statusOf,
  tag,
  tagAndDeliver,
  untag,
  use,
} from '../helpers/e2e';
import { modifyImageShare, reconcile, reconcileOk, reconcileWorld, resultFor } from '../helpers/reconcile';

const external = DEMO.externalRecipient.uid;
const member = DEMO.rdRecipient.uid;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** An ISO date-time `s` seconds from now, to the second, in UTC. */
const inSeconds = (s: number) => `${new Date(Date.now() + s * 1000).toISOString().slice(0, 19)}Z`;

describe('the status tag', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());
  afterEach(() => {
    delete process.env.SHARE_STATUS_KEY;
  });

  it('follows a share through pending, accepted and revoked, and a replay writes nothing', async () => {
    const snap = E2E.spareSnapshots[0];
    const first = outcomeFor(await tagAndDeliver(w, snap, external), snap);
    expect(first.outcome).toBe('pending');
    await afterReadLag(w);
    expect(await statusOf(w, snap)).toBe('pending 1 invitation');
    expect((await resourceTags(w, snap))['ecs-share:status']).toMatch(
      /^pending 1 invitation \| \d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/,
    );

    // The status write's own tag event is skipped: no loop.
    const again = await w.deliverEvents();
    expect(outcomes(again)).toEqual([]);
    expect(JSON.stringify(again)).toContain("changed only ecs-share's own tags");

    await acceptInvitations(w.client(external));
    await reconcileOk(w);
    expect(await statusOf(w, snap)).toBe('shared 1');
    phase(w);
    await reconcile(w);
    expect(productWrites(w)).toEqual([]);

    await untag(w, snap);
    await w.deliverEvents();
    await afterReadLag(w);
    expect(await resourceTags(w, snap)).not.toHaveProperty('ecs-share:status');
    expect(await use(w, external, snap)).toMatchObject({ ok: false });
  });

  it('says why a tag is refused, and writes nothing else', async () => {
    const snap = E2E.spareSnapshots[1];
    phase(w);
    const o = outcomeFor(await tagAndDeliver(w, snap, 'not-an-account'), snap);
    expect(o.outcome).toBe('refused');
    expect(shareWrites(w)).toEqual([]);
    await afterReadLag(w);
    const status = (await resourceTags(w, snap))['ecs-share:status'];
    expect(status).toMatch(/^refused Malformed: The share-with tag is refused/);
    expect(status.length).toBeLessThanOrEqual(128);
  });

  it('is removed by the timer when the take-back run died before removing it, and then a replay writes nothing', async () => {
    // Found by the simulation (seed 188): an image's take-back was done (its account unshared, its grant record
    // gone) but the run died before removing the status tag; nothing else made the timer list the image.
    const image = DEMO.images.cmk;
    expect(outcomeFor(await tagAndDeliver(w, image, member), image).outcome).toBe('shared');
    await afterReadLag(w);
    await untag(w, image, ['share-with', 'ecs-share:granted']); // its event is never delivered
    await modifyImageShare(w, image, { remove: [member] });
    await afterReadLag(w);
    expect(await resourceTags(w, image)).toHaveProperty('ecs-share:status');
    await reconcile(w);
    await afterReadLag(w);
    expect(await resourceTags(w, image)).not.toHaveProperty('ecs-share:status');
    phase(w);
    await reconcile(w);
    expect(productWrites(w)).toEqual([]);
  });

  it('stays as it was when a timer pass fails transiently: a share that works is not reported failed', async () => {
    // A read that keeps failing (5xx past every retry, or throttling past its window) leaves the resource unknown, not
    // failed: no "failed ..., will retry" over a share that works, and no second write to put "shared" back.
    const image = DEMO.images.cmk;
    expect(outcomeFor(await tagAndDeliver(w, image, recipientUid(2)), image).outcome).toMatch(/^(shared|unchanged)$/);
    await afterReadLag(w);
    const before = (await resourceTags(w, image))['ecs-share:status'];
    expect(before).toMatch(/^shared \d+ \| /);
    phase(w);
    w.emu.addFault({ action: 'DescribeImageSharePermission', kind: 'unavailable', nth: 1, times: 1_000 });
    try {
      const pass = await reconcile(w);
      expect(resultFor(pass, image)).toMatchObject({ outcome: 'failed', error: { retryable: true } });
    } finally {
      w.emu.clearFaults();
    }
    expect(productWrites(w)).toEqual([]);
    await afterReadLag(w);
    expect((await resourceTags(w, image))['ecs-share:status']).toBe(before);
  }, 60_000);

  it.each(['GetRole', 'ListPoliciesForRole'])(
    'stays as it was when the timer cannot read the share role (%s) of a shared snapshot for a while',
    async (action) => {
      // Found by the fan-out benchmark at 50 members: timer passes that could not read wrote "failed RequestTimeout,
      // will retry" on 388 resources whose shares worked (and the next pass would write "shared" back).
      const snap = E2E.spareSnapshots[3];
      const o = outcomeFor(await tagAndDeliver(w, snap, member), snap);
      expect(o.outcome).toMatch(/^(shared|unchanged)$/);
      await afterReadLag(w);
      const before = (await resourceTags(w, snap))['ecs-share:status'];
      expect(before).toMatch(/^shared 1 \| /);
      phase(w);
      w.emu.addFault({ action, kind: 'unavailable', nth: 1, times: 1_000 });
      let pass;
      try {
        pass = await reconcile(w);
      } finally {
        w.emu.clearFaults();
      }
      const r = resultFor(pass, snap);
      if (r) expect(r).toMatchObject({ outcome: 'failed', error: { retryable: true } });
      expect(productWrites(w).filter((x) => x.action === 'TagResources')).toEqual([]);
      await afterReadLag(w);
      expect((await resourceTags(w, snap))['ecs-share:status']).toBe(before);
    },
    60_000,
  );

  it('is not written when switched off (SHARE_STATUS_KEY=off)', async () => {
    process.env.SHARE_STATUS_KEY = 'off';
    const snap = E2E.spareSnapshots[2];
    expect(outcomeFor(await tagAndDeliver(w, snap, member), snap).outcome).toBe('shared');
    await afterReadLag(w);
    expect(await resourceTags(w, snap)).not.toHaveProperty('ecs-share:status');
  });
});

describe('share-until', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());

  it('works before its end, is taken back after it, and then a replay writes nothing', async () => {
    const snap = E2E.spareSnapshots[0];
    const until = inSeconds(4);
    const o = outcomeFor(await tagAndDeliver(w, snap, { 'share-with': member, 'share-until': until }), snap);
    expect(o.outcome).toBe('shared');
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
    await afterReadLag(w);
    expect(await statusOf(w, snap)).toBe(`shared 1 until ${until}`);

    await sleep(Math.max(0, Date.parse(until) - Date.now()) + 300);
    const s = await reconcile(w);
    expect(resultFor(s, snap)?.outcome).toBe('revoked');
    await afterReadLag(w);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
    expect(await statusOf(w, snap)).toBe(`expired ${until}`);

    phase(w);
    const replay = await reconcile(w);
    expect(resultFor(replay, snap)?.error?.code).toBe('Expired');
    expect(productWrites(w)).toEqual([]);
  });

  it('on-tag refuses to share a resource already past its end', async () => {
    const image = DEMO.images.cmk;
    phase(w);
    const o = outcomeFor(await tagAndDeliver(w, image, { 'share-with': member, 'share-until': '2020-01-31' }), image);
    expect(o.outcome).toBe('refused');
    expect(o.error?.code).toBe('Expired');
    expect(o.reason).toContain('2020-01-31');
    expect(shareWrites(w)).toEqual([]);
    expect(await use(w, member, image)).toMatchObject({ ok: false });
  });

  it.each([['31/12/2026'], ['2026-02-30'], ['2026-12-31T18:00']])(
    'a malformed date (%s) refuses the tag with a reason and changes nothing',
    async (value) => {
      const snap = E2E.spareSnapshots[1];
      await tag(w, snap, { 'share-with': member });
      await w.deliverEvents();
      await afterReadLag(w);
      expect(await use(w, member, snap)).toMatchObject({ ok: true });
      phase(w);
      const o = outcomeFor(await tagAndDeliver(w, snap, { 'share-until': value }), snap);
      expect(o.outcome).toBe('refused');
      expect(o.error?.code).toBe('MalformedExpiry');
      expect(o.reason).toContain('2026-12-31T18:00:00Z');
      expect(shareWrites(w)).toEqual([]);
      expect(await use(w, member, snap)).toMatchObject({ ok: true }); // not cut off
      await untag(w, snap, ['share-until']);
      await w.deliverEvents();
    },
  );
});
