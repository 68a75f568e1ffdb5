// Bad input changes nothing and says why; the manual share function plans (dryRun) or shares one resource.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import { outcomeFor, outcomes, phase, tag, toolShare, use, shareWrites } from '../helpers/e2e';

const member = DEMO.rdRecipient.uid;

/** Tag as the owner, then count only what the delivered events make the product do. */
async function tagThenDeliver(w: World, id: string, value: string) {
  await tag(w, id, value);
  phase(w);
  return outcomeFor(outcomes(await w.deliverEvents()), id);
}

describe('a share-with tag that cannot be honoured', () => {
  let w: World;
  const snaps = E2E.spareSnapshots;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());
  afterEach(() => void delete process.env.SHARE_ALLOW_ACCOUNTS);

  const cases = [
    ['a wildcard', '*', /wildcard/],
    ['a malformed account uid', '12345', /16 digits/],
    ["the owner's own account", DEMO.owner.uid, /owner's own account/],
    ['one bad target next to a good one', `${member},rd-`, /malformed/],
  ] as const;
  for (const [what, value, why] of cases) {
    it(`refuses ${what} with a clear reason and writes nothing`, async () => {
      const result = await tagThenDeliver(w, snaps[0], value);
      expect(result.outcome).toBe('refused');
      expect(result.reason).toMatch(why);
      expect(result.reason).toContain('nothing was changed');
      expect(shareWrites(w)).toEqual([]);
      expect(await toolShare(w, snaps[0])).toBeUndefined();
    });
  }

  it('refuses an account outside the configured allowlist and writes nothing', async () => {
    process.env.SHARE_ALLOW_ACCOUNTS = recipientUid(1);
    const result = await tagThenDeliver(w, snaps[1], recipientUid(2));
    expect(result.outcome).toBe('refused');
    expect(result.reason).toMatch(/allowlist/);
    expect(shareWrites(w)).toEqual([]);
    expect(await use(w, recipientUid(2), snaps[1])).toMatchObject({ ok: false });
  });

  it('shares with an account inside the configured allowlist', async () => {
    process.env.SHARE_ALLOW_ACCOUNTS = `${recipientUid(1)} ${member}`;
    expect((await tagThenDeliver(w, snaps[2], member)).outcome).toBe('shared');
    expect(await use(w, member, snaps[2])).toMatchObject({ ok: true });
  });

  it('answers an event that is not JSON with an input error and no call at all', async () => {
    phase(w);
    const result = await w.invoke('on-tag', '{"specversion": "1.0", "type": ');
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(result.error.message).toMatch(/not JSON/);
    expect(w.emu.calls()).toEqual([]);
  });

  it('answers a manual command sent to on-tag with an input error and no call at all', async () => {
    phase(w);
    const result = await w.invoke('on-tag', { resourceId: snaps[3], region: DEMO.region });
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(w.emu.calls()).toEqual([]);
  });

  it('skips an event of another service and writes nothing', async () => {
    phase(w);
    const event = {
      specversion: '1.0',
      id: 'e-1',
      type: 'oss:ActionTrail:ApiCall',
      source: 'acs.oss',
      data: { eventName: 'PutBucketTagging', serviceName: 'Oss' },
    };
    const result = await w.invoke('on-tag', event);
    expect(result.results).toEqual([]);
    expect(result.skipped).toHaveLength(1);
    expect(shareWrites(w)).toEqual([]);
  });
});

describe('the manual share function', () => {
  let w: World;
  const snap = DEMO.snapshots.cmk;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    await tag(w, snap, member); // its event is never delivered: only the manual function acts
  });
  afterAll(() => w.stop());

  it('refuses an unknown resource id, saying it does not exist, and writes nothing', async () => {
    phase(w);
    const result = await w.invoke('share', { resourceId: 's-doesnotexist00001', region: DEMO.region });
    expect(result.results[0]).toMatchObject({ outcome: 'refused', resourceId: 's-doesnotexist00001' });
    expect(result.results[0].reason).toMatch(/does not exist/);
    expect(shareWrites(w)).toEqual([]);
  });

  it('refuses a malformed command with an input error and no call at all', async () => {
    phase(w);
    const result = await w.invoke('share', { resourceId: 'i-notasnapshot', region: DEMO.region });
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(result.error.message).toMatch(/resourceId/);
    expect(w.emu.calls()).toEqual([]);
  });

  it('returns the plan as data in a dry run and writes nothing', async () => {
    phase(w);
    const result = await w.invoke('share', { resourceId: snap, region: DEMO.region, dryRun: true });
    expect(result.dryRun).toBe(true);
    expect(result.results[0].dryRun).toBe(true);
    expect(result.results[0].actions.map((a: { kind: string }) => a.kind)).toEqual([
      'createRole',
      'writeKmsPolicies',
      'createResourceShare',
    ]);
    expect(shareWrites(w)).toEqual([]);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
  });

  it('shares the resource without dryRun', async () => {
    phase(w);
    const result = await w.invoke('share', { resourceId: snap, region: DEMO.region });
    expect(result.results[0]).toMatchObject({ outcome: 'shared', targets: [`account ${member}`] });
    expect(w.emu.writes().length).toBeGreaterThan(0);
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });
});
