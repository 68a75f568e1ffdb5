// EventBridge delivers at least once: the same event can reach two instances at the same time. Both race to create
// the resource share and the KMS policy; neither may fail, and exactly one share exists afterwards (names are not
// unique, so twins may be made: they are deleted).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { eventsFor, outcomes, sharesOf, tag, use } from '../helpers/e2e';

describe('the same tag event delivered to two instances at once', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    w.emu.setLatency(15); // widen the read-then-create window so both instances see "no share yet"
  });
  afterAll(() => w.stop());

  it('shares once, with both instances reporting success', async () => {
    await tag(w, DEMO.snapshots.cmk, DEMO.rdRecipient.uid);
    const [event] = eventsFor(w, DEMO.snapshots.cmk);
    const results = outcomes(await Promise.all([w.invoke('on-tag', event), w.invoke('on-tag', event)]));
    expect(results.map((r) => r.outcome).sort()).toEqual(
      expect.arrayContaining([expect.stringMatching(/shared|unchanged/)]),
    );
    expect(results.filter((r) => r.outcome === 'failed')).toEqual([]);
    expect((await sharesOf(w, DEMO.snapshots.cmk)).filter((s) => s.status === 'Active')).toHaveLength(1);
    expect(await use(w, DEMO.rdRecipient.uid, DEMO.snapshots.cmk)).toMatchObject({ ok: true });
    // Share names are not unique: both may create one (twins), and then both converge on the lowest id and delete the
    // other; or one finds the other's first. Either way the race was real and exactly one share is left.
    const created = w.emu.writes().filter((c) => c.action === 'CreateResourceShare').length;
    const deleted = w.emu.writes().filter((c) => c.action === 'DeleteResourceShare').length;
    expect(created - deleted).toBe(1);
    expect(w.emu.calls().filter((c) => c.code === 'EntityAlreadyExists.Policy').length + created).toBeGreaterThan(1);
  });
});
