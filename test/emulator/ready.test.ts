// Resources are not ready at once (readyDelayMs): snapshots created or copied through the API are progressing, images
// Creating, and sharing, copying or creating from them fails with the documented status errors until they are ready.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import type { EmulatorState } from '../../scripts/emulator/types';
import {
  CMK1,
  IMAGE_ROLE,
  MEMBER,
  OWNER,
  REGION,
  SNAP,
  baseState,
  errorOf,
  ideal,
  sleep,
  start,
  trustAccounts,
  withShareRole,
  type Started,
} from './share-fixture';

const DELAY = 300;
let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(() => s.emu.stop());

const ecs = () => s.as(OWNER).ecs;
const rs = (action: string, query: Record<string, unknown>) => s.as(OWNER).rs(action, { RegionId: REGION, ...query });

function load(state: EmulatorState = baseState()): void {
  s.emu.setState(
    ideal({ ...withShareRole(state, IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]), options: { readyDelayMs: DELAY } }),
  );
}

async function newSnapshot(): Promise<string> {
  const disk = await ecs().createDisk(
    new $Ecs.CreateDiskRequest({
      regionId: REGION,
      zoneId: 'cn-hangzhou-h',
      size: 20,
      encrypted: true,
      KMSKeyId: CMK1,
    }),
  );
  return (await ecs().createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: disk.body!.diskId }))).body!.snapshotId!;
}

async function snapshot(id: string) {
  const r = await ecs().describeSnapshots(
    new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, snapshotIds: JSON.stringify([id]) }),
  );
  return r.body!.snapshots!.snapshot![0];
}

async function imageStatus(id: string): Promise<string | undefined> {
  const r = await ecs().describeImages(
    new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: id, status: 'Creating,Available' }),
  );
  return r.body!.images?.image?.[0]?.status;
}

const createImage = (snapshotId: string) =>
  ecs().createImage(new $Ecs.CreateImageRequest({ regionId: REGION, snapshotId }));

describe('the creation delay', () => {
  it('keeps a new snapshot progressing, not available, until the delay has passed', async () => {
    load();
    const id = await newSnapshot();
    expect(await snapshot(id)).toMatchObject({ status: 'progressing', available: false, progress: '0%' });
    await sleep(DELAY + 50);
    expect(await snapshot(id)).toMatchObject({ status: 'accomplished', available: true, progress: '100%' });
  });

  it('refuses an image, a disk and a copy from a progressing snapshot with 403 InvalidSnapshotId.NotReady', async () => {
    load();
    const id = await newSnapshot();
    const errors = await Promise.all([
      errorOf(createImage(id)),
      errorOf(
        ecs().createDisk(
          new $Ecs.CreateDiskRequest({
            regionId: REGION,
            zoneId: 'cn-hangzhou-h',
            snapshotId: id,
            diskCategory: 'cloud_essd',
          }),
        ),
      ),
      errorOf(
        ecs().copySnapshot(
          new $Ecs.CopySnapshotRequest({ regionId: REGION, snapshotId: id, destinationRegionId: REGION }),
        ),
      ),
    ]);
    expect(errors.map((e) => [e.statusCode, e.code])).toEqual(Array(3).fill([403, 'InvalidSnapshotId.NotReady']));
    await sleep(DELAY + 50);
    expect((await createImage(id)).body!.imageId).toMatch(/^m-/);
  });

  it('keeps a new image Creating (hidden from the default DescribeImages) and refuses to share or copy it meanwhile', async () => {
    load();
    const imageId = (await createImage(SNAP.cmk1)).body!.imageId!;
    const listed = await ecs().describeImages(new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId }));
    expect(listed.body!.images?.image ?? []).toEqual([]);
    expect(await imageStatus(imageId)).toBe('Creating');
    const share = await errorOf(
      ecs().modifyImageSharePermission(
        new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId, addAccount: [MEMBER.uid] }),
      ),
    );
    const copy = await errorOf(
      ecs().copyImage(new $Ecs.CopyImageRequest({ regionId: REGION, imageId, destinationRegionId: REGION })),
    );
    expect([share.statusCode, share.code, copy.statusCode, copy.code]).toEqual([
      400,
      'IncorrectImageStatus',
      400,
      'IncorrectImageStatus',
    ]);
    await sleep(DELAY + 50);
    expect(await imageStatus(imageId)).toBe('Available');
    await ecs().modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId, addAccount: [MEMBER.uid] }),
    );
  });

  it('makes a copied image Creating and its copied snapshots progressing', async () => {
    load();
    const r = await ecs().copyImage(
      new $Ecs.CopyImageRequest({
        regionId: REGION,
        imageId: 'm-cmk1000000000000001',
        destinationRegionId: 'cn-shanghai',
      }),
    );
    const copy = s.emu.state.images.find((i) => i.imageId === r.body!.imageId)!;
    const snaps = copy.diskMappings.map(
      (m) => s.emu.state.snapshots.find((x) => x.snapshotId === m.snapshotId)!.status,
    );
    expect([copy.status, ...snaps]).toEqual(['Creating', 'progressing']);
  });

  it('fails a Resource Sharing association of a progressing snapshot as Unavailable, naming its status', async () => {
    load();
    const id = await newSnapshot();
    const r = await rs('CreateResourceShare', {
      ResourceShareName: 'early',
      Resources: [{ ResourceId: id, ResourceType: 'Snapshot' }],
      Targets: [MEMBER.uid],
    });
    const rows = (
      await rs('ListResourceShareAssociations', {
        AssociationType: 'Resource',
        ResourceShareIds: [r.ResourceShare.ResourceShareId],
      })
    ).ResourceShareAssociations;
    expect(
      rows.map((x: any) => [x.EntityId, x.AssociationStatus, x.AssociationFailedDetails[0]?.FailureReason]),
    ).toEqual([[id, 'Failed', 'Unavailable']]);
    expect(rows[0].AssociationStatusMessage).toContain('progressing');
  });

  it('counts resources of the state file as ready unless they say otherwise', async () => {
    const st = baseState();
    st.snapshots = st.snapshots!.map((x) =>
      x.snapshotId === SNAP.cmk2 ? { ...x, status: 'progressing' as const } : x,
    );
    load(st);
    await sleep(DELAY + 50);
    expect([(await snapshot(SNAP.cmk1)).status, (await snapshot(SNAP.cmk2)).status]).toEqual([
      'accomplished',
      'progressing',
    ]);
  });
});
