// One reconcile covers several regions; the share role and its KMS policy are global, so keys of every region end
// up in one policy, and a region's resources are shared through that region's endpoints.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO, demoState, type EmulatorState } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { sdkClients } from '../helpers/sdk';
import { reconcileWorld, reconcileOk } from '../helpers/reconcile';
import { policyDocument } from '../helpers/e2e';

const SH = 'cn-shanghai';
const SH_KEY = 'key-shanghai0cmk000001';
const SH_SNAP = 's-shanghai00000000001';

function twoRegions(): EmulatorState {
  const state = demoState();
  state.regions = [DEMO.region, SH];
  state.keys!.push({ keyId: SH_KEY, accountId: DEMO.owner.uid, region: SH, state: 'Enabled' });
  state.snapshots!.push({
    snapshotId: SH_SNAP,
    accountId: DEMO.owner.uid,
    region: SH,
    encrypted: true,
    kmsKeyId: SH_KEY,
    status: 'accomplished',
    tags: { 'share-with': DEMO.rdRecipient.uid },
  });
  const hz = state.snapshots!.find((s) => s.snapshotId === DEMO.snapshots.cmk)!;
  hz.tags = { ...hz.tags, 'share-with': DEMO.rdRecipient.uid };
  return state;
}

describe('a reconcile over cn-hangzhou and cn-shanghai', () => {
  let w: World;
  let summary: Awaited<ReturnType<typeof reconcileOk>>;
  beforeAll(async () => {
    w = await reconcileWorld({ state: twoRegions(), env: { SHARE_REGIONS: `${DEMO.region},${SH}` } });
    summary = await reconcileOk(w);
  });
  afterAll(() => w.stop());

  it('counts each region on its own', () => {
    expect(summary.byRegion[DEMO.region].shared).toBe(1);
    expect(summary.byRegion[SH].shared).toBe(1);
  });

  it("grants both regions' keys, and kms:List* in both regions, in the one KMS policy", async () => {
    const doc = await policyDocument(w, 'ecs-share-snapshot-kms');
    const resources = doc.Statement.flatMap((s: { Resource: string | string[] }) => [s.Resource].flat());
    expect(resources).toEqual(
      expect.arrayContaining([
        `acs:kms:${DEMO.region}:${DEMO.owner.uid}:key`,
        `acs:kms:${SH}:${DEMO.owner.uid}:key`,
        `acs:kms:${DEMO.region}:${DEMO.owner.uid}:key/${DEMO.cmkId}`,
        `acs:kms:${SH}:${DEMO.owner.uid}:key/${SH_KEY}`,
      ]),
    );
  });

  it('lets the recipient create a disk from the Shanghai snapshot in Shanghai', async () => {
    const account = w.emu.state.accounts.find((a) => a.uid === DEMO.rdRecipient.uid)!;
    const recipient = sdkClients(
      w.emu.endpoint,
      { accessKeyId: account.accessKeys[0].id, accessKeySecret: account.accessKeys[0].secret },
      SH,
    );
    const disk = await recipient.ecs.createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: SH,
        zoneId: 'cn-shanghai-b',
        snapshotId: SH_SNAP,
        diskCategory: 'cloud_essd',
      }),
    );
    expect(disk.body?.diskId).toMatch(/^d-/);
  });
});
