// Issue 7: the plan decides, apply executes, so a dry run says exactly what the real run then does. Each scenario
// runs `share` with dryRun (nothing written), then for real, and compares the plans action by action; then a replay
// plans nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import { afterReadLag, productWrites, tag, untag } from '../helpers/e2e';
import { reconcileWorld } from '../helpers/reconcile';

const member = DEMO.rdRecipient.uid;
const external = DEMO.externalRecipient.uid;

type Scenario = [name: string, resourceId: string, arrange: (w: World) => Promise<void>];
const scenarios: Scenario[] = [
  [
    'a CMK snapshot to an account (role, KMS policy and resource share made)',
    E2E.spareSnapshots[0],
    (w) => tag(w, E2E.spareSnapshots[0], external),
  ],
  [
    'a CMK image to an account (intent, share, confirmation)',
    DEMO.images.cmk,
    (w) => tag(w, DEMO.images.cmk, external),
  ],
  [
    'a CMK image to a folder and an RD',
    DEMO.images.cmk,
    (w) => tag(w, DEMO.images.cmk, `${E2E.folderPath} ${DEMO.resourceDirectoryId}`),
  ],
  [
    'a retag that moves the snapshot to another account',
    E2E.spareSnapshots[0],
    (w) => tag(w, E2E.spareSnapshots[0], member),
  ],
  ['an untag (take-backs only)', DEMO.images.cmk, (w) => untag(w, DEMO.images.cmk)],
  [
    'a snapshot whose key is disabled, retagged (refused, take-backs still apply)',
    E2E.spareSnapshots[0],
    async (w) => {
      await tag(w, E2E.spareSnapshots[0], E2E.rootMember);
      w.emu.state.keys!.find((k) => k.keyId === DEMO.cmkId)!.state = 'Disabled';
    },
  ],
  ['a service-key snapshot (refused)', DEMO.snapshots.serviceKey, (w) => tag(w, DEMO.snapshots.serviceKey, member)],
  ['a plain snapshot (no role needed)', DEMO.snapshots.plain, (w) => tag(w, DEMO.snapshots.plain, member)],
];

describe('a dry run and the real run agree', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());

  it.each(scenarios)('%s', async (_name, resourceId, arrange) => {
    await arrange(w);
    await afterReadLag(w);
    const cmd = { resourceId, region: DEMO.region };
    w.emu.clearCalls();

    const dry = (await w.invoke('share', { ...cmd, dryRun: true })).results[0];
    expect(productWrites(w)).toEqual([]);
    const real = (await w.invoke('share', cmd)).results[0];
    await afterReadLag(w);
    const replay = (await w.invoke('share', { ...cmd, dryRun: true })).results[0];

    expect(real.actions).toEqual(dry.actions);
    expect(real.outcome === 'pending' ? 'shared' : real.outcome).toBe(dry.outcome);
    expect(real.error?.code).toEqual(dry.error?.code);
    if (real.outcome !== 'refused') expect(replay.actions).toEqual([]);
    w.emu.state.keys!.find((k) => k.keyId === DEMO.cmkId)!.state = 'Enabled';
  });
});
