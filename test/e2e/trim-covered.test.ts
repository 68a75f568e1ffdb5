// The trim removes a directory grant no tag asks for any more while a folder of that directory is still asked
// elsewhere: the folder's grant was never written in its own right (the directory statement admitted it, so nothing
// was claimed), and must be written when the directory statement goes, or the folder's members are cut off (found by
// the 1,000-seed simulation, seed 552: AssumeRoleError for a member of a folder an image was still tagged with; there
// the folder's resource was handled in an earlier run of the pass, here in a region the pass does not cover).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, type EmulatorState } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { SH, useInShanghai, withShanghaiSnapshot } from '../helpers/shanghai';
import { e2eState, E2E } from '../helpers/states';
import { SNAPSHOT_ROLE, trustPolicy, untag } from '../helpers/e2e';
import { reconcileOk, reconcileWorld } from '../helpers/reconcile';

const HZ = DEMO.region;
const member = DEMO.rdRecipient.uid; // in folder fd-demofold01

function twoRegions(): EmulatorState {
  const state = withShanghaiSnapshot(e2eState(), { 'share-with': E2E.folderPath });
  state.snapshots!.find((s) => s.snapshotId === DEMO.snapshots.cmk)!.tags = { 'share-with': DEMO.resourceDirectoryId };
  return state;
}

const memberUsesShanghai = (w: World) => useInShanghai(w, member);

describe('a directory grant trimmed while one of its folders is still asked in another region', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: twoRegions(), env: { SHARE_REGIONS: `${HZ},${SH}` } });
    await reconcileOk(w); // Hangzhou first: the directory statement; then Shanghai's folder, admitted by it
    expect(await memberUsesShanghai(w)).toBe(true);
  });
  afterAll(async () => {
    delete process.env.SHARE_REGIONS;
    await w.stop();
  });

  it('writes the folder grant when it removes the directory grant, so the folder member keeps access', async () => {
    await untag(w, DEMO.snapshots.cmk);
    await reconcileOk(w, { regions: [HZ] });
    const doc = JSON.stringify(await trustPolicy(w, SNAPSHOT_ROLE));
    expect(doc).not.toContain('sts:ServiceOwnerRDId');
    expect(doc).toContain(`${E2E.folderPath}*`);
    expect(await memberUsesShanghai(w)).toBe(true);
  });
});
