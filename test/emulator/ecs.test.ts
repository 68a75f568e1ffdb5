// ECS 2014-05-26 in the emulator, driven by the real ECS SDK over HTTP: owner-side disks, snapshots, images, tags,
// paging and ModifyImageSharePermission with its documented limits and errors.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import type { EmulatorState, Snapshot } from '../../scripts/emulator/types';
import {
  CMK1,
  CMK2,
  EXTERNAL,
  IMAGE_ROLE,
  IMG,
  INTL,
  MEMBER,
  OWNER,
  REGION,
  SNAP,
  SVC,
  baseState,
  errorOf,
  ideal,
  start,
  trustAccounts,
  withShareRole,
  type Started,
} from './share-fixture';

let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s.emu.stop();
});

const ecs = (who = OWNER) => s.as(who).ecs;
const tag = (key: string, value: string) => new $Ecs.TagResourcesRequestTag({ key, value });

/** AliyunECSDiskEncryptDefaultRole with its system policy in the owner's account: ECS may then copy with a CMK. */
function grantDiskEncryptRole(): void {
  s.emu.state.roles.push({
    accountId: OWNER.uid,
    roleName: 'AliyunECSDiskEncryptDefaultRole',
    assumeRolePolicyDocument: JSON.stringify({
      Version: '1',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['ecs.aliyuncs.com'] } }],
    }),
    attachedPolicies: [{ policyName: 'AliyunECSDiskEncryptRolePolicy', policyType: 'System' }],
  });
}

function load(state: EmulatorState = baseState()): void {
  s.emu.setState(ideal(state));
}

async function snapshotsById(ids: string[], who = OWNER) {
  const r = await ecs(who).describeSnapshots(
    new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, snapshotIds: JSON.stringify(ids) }),
  );
  return r.body!.snapshots?.snapshot ?? [];
}

function manySnapshots(n: number): Snapshot[] {
  return Array.from({ length: n }, (_, i) => ({
    snapshotId: `s-page${String(i).padStart(16, '0')}`,
    accountId: OWNER.uid,
    region: REGION,
    encrypted: false,
    status: 'accomplished' as const,
    size: 20,
  }));
}

describe('disks', () => {
  beforeEach(() => load());

  it('encrypts a disk with the ECS service key when Encrypted is set without KMSKeyId', async () => {
    const r = await ecs().createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: REGION,
        zoneId: 'cn-hangzhou-h',
        size: 20,
        diskCategory: 'cloud_essd',
        encrypted: true,
      }),
    );
    const d = await ecs().describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: REGION, diskIds: JSON.stringify([r.body!.diskId]) }),
    );
    expect(d.body!.disks?.disk?.[0]).toMatchObject({ diskId: r.body!.diskId, encrypted: true, KMSKeyId: SVC });
  });

  it('encrypts a disk with the given CMK', async () => {
    const r = await ecs().createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: REGION,
        zoneId: 'cn-hangzhou-h',
        size: 20,
        encrypted: true,
        KMSKeyId: CMK1,
      }),
    );
    const d = await ecs().describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: REGION, diskIds: JSON.stringify([r.body!.diskId]) }),
    );
    expect(d.body!.disks?.disk?.[0]?.KMSKeyId).toBe(CMK1);
  });

  it("deletes the caller's own disk, and answers InvalidDiskId.NotFound for another account's", async () => {
    const r = await ecs().createDisk(
      new $Ecs.CreateDiskRequest({ regionId: REGION, zoneId: 'cn-hangzhou-h', size: 20, diskCategory: 'cloud_essd' }),
    );
    const diskId = r.body!.diskId!;
    expect(await errorOf(ecs(MEMBER).deleteDisk(new $Ecs.DeleteDiskRequest({ diskId })))).toMatchObject({
      code: 'InvalidDiskId.NotFound',
    });
    await ecs().deleteDisk(new $Ecs.DeleteDiskRequest({ diskId }));
    const d = await ecs().describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: REGION, diskIds: JSON.stringify([diskId]) }),
    );
    expect(d.body!.disks?.disk ?? []).toEqual([]);
  });

  it('refuses a disabled CMK with InvalidParameter.KMSKeyId.CMKNotEnabled', async () => {
    s.emu.state.keys.find((k) => k.keyId === CMK1)!.state = 'Disabled';
    const e = await errorOf(
      ecs().createDisk(
        new $Ecs.CreateDiskRequest({
          regionId: REGION,
          zoneId: 'cn-hangzhou-h',
          size: 20,
          encrypted: true,
          KMSKeyId: CMK1,
        }),
      ),
    );
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidParameter.KMSKeyId.CMKNotEnabled']);
  });

  it("refuses another account's key as not found", async () => {
    const e = await errorOf(
      ecs(MEMBER).createDisk(
        new $Ecs.CreateDiskRequest({
          regionId: REGION,
          zoneId: 'cn-hangzhou-h',
          size: 20,
          encrypted: true,
          KMSKeyId: CMK1,
        }),
      ),
    );
    expect([e.statusCode, e.code]).toEqual([404, 'InvalidKMSKeyId.NotFound']);
  });

  it('requires ZoneId', async () => {
    const e = await errorOf(ecs().createDisk(new $Ecs.CreateDiskRequest({ regionId: REGION, size: 20 })));
    expect([e.statusCode, e.code]).toEqual([400, 'MissingParameter']);
  });

  it("creates a disk from an own snapshot with the snapshot's key", async () => {
    const r = await ecs().createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: REGION,
        zoneId: 'cn-hangzhou-h',
        snapshotId: SNAP.cmk2,
        diskCategory: 'cloud',
      }),
    );
    const d = await ecs().describeDisks(new $Ecs.DescribeDisksRequest({ regionId: REGION, snapshotId: SNAP.cmk2 }));
    expect(d.body!.disks?.disk?.map((x) => [x.diskId, x.KMSKeyId, x.size])).toEqual([[r.body!.diskId, CMK2, 40]]);
  });
});

describe('snapshots', () => {
  beforeEach(() => load());

  it("creates a snapshot that inherits the disk's encryption and is accomplished at once", async () => {
    const disk = await ecs().createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: REGION,
        zoneId: 'cn-hangzhou-h',
        size: 30,
        encrypted: true,
        KMSKeyId: CMK2,
      }),
    );
    const r = await ecs().createSnapshot(
      new $Ecs.CreateSnapshotRequest({
        diskId: disk.body!.diskId,
        snapshotName: 'snap-1',
        tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'k', value: 'v' })],
      }),
    );
    const [snap] = await snapshotsById([r.body!.snapshotId!]);
    expect(snap).toMatchObject({
      snapshotId: r.body!.snapshotId,
      snapshotName: 'snap-1',
      encrypted: true,
      KMSKeyId: CMK2,
      status: 'accomplished',
      sourceDiskId: disk.body!.diskId,
    });
    expect(snap.tags?.tag).toEqual([expect.objectContaining({ tagKey: 'k', tagValue: 'v' })]);
  });

  it('copies a snapshot to another region re-encrypted with the given key', async () => {
    grantDiskEncryptRole();
    s.emu.state.keys.push({ keyId: 'key-shcmk', accountId: OWNER.uid, region: 'cn-shanghai', state: 'Enabled' });
    const r = await ecs().copySnapshot(
      new $Ecs.CopySnapshotRequest({
        regionId: REGION,
        snapshotId: SNAP.cmk1,
        destinationRegionId: 'cn-shanghai',
        encrypted: true,
        KMSKeyId: 'key-shcmk',
      }),
    );
    const sh = await s
      .as(OWNER, 'cn-shanghai')
      .ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: 'cn-shanghai' }));
    expect(sh.body!.snapshots?.snapshot?.map((x) => [x.snapshotId, x.KMSKeyId, x.sourceSnapshotId])).toEqual([
      [r.body!.snapshotId, 'key-shcmk', SNAP.cmk1],
    ]);
  });

  it('keeps the source key when copying within the region without a KMSKeyId', async () => {
    const r = await ecs().copySnapshot(
      new $Ecs.CopySnapshotRequest({ regionId: REGION, snapshotId: SNAP.cmk1, destinationRegionId: REGION }),
    );
    expect((await snapshotsById([r.body!.snapshotId!]))[0]).toMatchObject({ encrypted: true, KMSKeyId: CMK1 });
  });

  it('refuses to delete a snapshot an image was created from', async () => {
    const e = await errorOf(ecs().deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId: SNAP.cmk1 })));
    expect([e.statusCode, e.code]).toEqual([403, 'SnapshotCreatedImage']);
  });

  it('refuses to delete a snapshot shared through Resource Sharing', async () => {
    const free = await ecs().copySnapshot(
      new $Ecs.CopySnapshotRequest({ regionId: REGION, snapshotId: SNAP.plain, destinationRegionId: REGION }),
    );
    await s.as(OWNER).rs('CreateResourceShare', {
      RegionId: REGION,
      ResourceShareName: 'del',
      Resources: [{ ResourceId: free.body!.snapshotId, ResourceType: 'Snapshot' }],
      Targets: [MEMBER.uid],
    });
    const e = await errorOf(
      ecs().deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId: free.body!.snapshotId })),
    );
    expect([e.statusCode, e.code]).toEqual([403, 'OperationDenied.SnapshotShared']);
  });

  it('deletes an unused snapshot, which then is not found', async () => {
    const free = await ecs().copySnapshot(
      new $Ecs.CopySnapshotRequest({ regionId: REGION, snapshotId: SNAP.plain, destinationRegionId: REGION }),
    );
    await ecs().deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId: free.body!.snapshotId }));
    expect(await snapshotsById([free.body!.snapshotId!])).toEqual([]);
    const e = await errorOf(
      ecs().deleteSnapshot(new $Ecs.DeleteSnapshotRequest({ snapshotId: free.body!.snapshotId })),
    );
    expect([e.statusCode, e.code]).toEqual([404, 'InvalidSnapshotId.NotFound']);
  });

  it("does not show another account's snapshots", async () => {
    expect(await snapshotsById([SNAP.cmk1], EXTERNAL)).toEqual([]);
  });

  it.each([
    ['Encrypted', { encrypted: true }, [SNAP.cmk1, SNAP.cmk2, SNAP.svc]],
    ['KMSKeyId', { KMSKeyId: CMK2 }, [SNAP.cmk2]],
    ['SnapshotIds', { snapshotIds: JSON.stringify([SNAP.plain, SNAP.svc]) }, [SNAP.svc, SNAP.plain]],
  ])('filters by %s', async (_name, filter, expected) => {
    const r = await ecs().describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, ...filter }));
    expect(r.body!.snapshots?.snapshot?.map((x) => x.snapshotId)).toEqual(expected);
  });

  it('filters by tag key and value exactly', async () => {
    s.emu.state.snapshots.find((x) => x.snapshotId === SNAP.cmk1)!.tags = { 'share-with': 'a' };
    s.emu.state.snapshots.find((x) => x.snapshotId === SNAP.cmk2)!.tags = { 'share-with': 'ab' };
    const byValue = await ecs().describeSnapshots(
      new $Ecs.DescribeSnapshotsRequest({
        regionId: REGION,
        tag: [new $Ecs.DescribeSnapshotsRequestTag({ key: 'share-with', value: 'a' })],
      }),
    );
    const byKey = await ecs().describeSnapshots(
      new $Ecs.DescribeSnapshotsRequest({
        regionId: REGION,
        tag: [new $Ecs.DescribeSnapshotsRequestTag({ key: 'share-with' })],
      }),
    );
    expect(byValue.body!.snapshots?.snapshot?.map((x) => x.snapshotId)).toEqual([SNAP.cmk1]);
    expect(byKey.body!.snapshots?.snapshot?.map((x) => x.snapshotId)).toEqual([SNAP.cmk1, SNAP.cmk2]);
  });

  it('rejects a SnapshotIds value that is not a JSON array', async () => {
    const e = await errorOf(
      ecs().describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, snapshotIds: SNAP.cmk1 })),
    );
    expect([e.statusCode, e.code]).toEqual([400, 'InvalidSnapshotIds.Malformed']);
  });

  it('pages with MaxResults and an opaque NextToken that is empty at the end, TotalCount saying nothing', async () => {
    load({ ...baseState(), snapshots: manySnapshots(25) });
    const seen: string[] = [];
    const tokens: string[] = [];
    let token: string | undefined;
    do {
      const r = await ecs().describeSnapshots(
        new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, maxResults: 10, nextToken: token }),
      );
      expect(r.body!.totalCount).toBe(0); // documented as invalid in token mode
      seen.push(...(r.body!.snapshots?.snapshot ?? []).map((x) => x.snapshotId!));
      token = r.body!.nextToken || undefined;
      tokens.push(r.body!.nextToken ?? 'absent');
    } while (token);
    expect(seen).toEqual(manySnapshots(25).map((x) => x.snapshotId));
    expect(tokens[2]).toBe('');
    expect(tokens[0]).not.toMatch(/^\d+$/);
  });

  it('pages with PageNumber and PageSize', async () => {
    load({ ...baseState(), snapshots: manySnapshots(25) });
    const r = await ecs().describeSnapshots(
      new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, pageNumber: 3, pageSize: 10 }),
    );
    expect([r.body!.totalCount, r.body!.pageNumber, r.body!.pageSize, r.body!.snapshots?.snapshot?.length]).toEqual([
      25, 3, 10, 5,
    ]);
  });

  it.each([
    ['MaxResults', { maxResults: 101 }],
    ['PageSize', { pageSize: 101 }],
    ['NextToken', { nextToken: 'garbage' }],
  ])('rejects an invalid %s', async (name, params) => {
    const e = await errorOf(
      ecs().describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, ...params })),
    );
    expect([e.statusCode, e.code]).toEqual([400, `InvalidParameter.${name}`]);
  });
});

describe('images', () => {
  beforeEach(() => load());

  it('creates an image from a snapshot', async () => {
    const r = await ecs().createImage(
      new $Ecs.CreateImageRequest({ regionId: REGION, snapshotId: SNAP.plain, imageName: 'img-a' }),
    );
    const d = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: r.body!.imageId, imageOwnerAlias: 'self' }),
    );
    expect(d.body!.images?.image?.[0]).toMatchObject({
      imageId: r.body!.imageId,
      imageName: 'img-a',
      imageOwnerAlias: 'self',
      isSelfShared: 'False',
      status: 'Available',
    });
  });

  it('creates an image from two disk mappings whose snapshots keep their own keys', async () => {
    const r = await ecs().createImage(
      new $Ecs.CreateImageRequest({
        regionId: REGION,
        diskDeviceMapping: [
          new $Ecs.CreateImageRequestDiskDeviceMapping({
            snapshotId: SNAP.cmk1,
            device: '/dev/xvda',
            diskType: 'system',
          }),
          new $Ecs.CreateImageRequestDiskDeviceMapping({
            snapshotId: SNAP.cmk2,
            device: '/dev/xvdb',
            diskType: 'data',
            size: 50,
          }),
        ],
      }),
    );
    const d = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: r.body!.imageId }),
    );
    const maps = d.body!.images?.image?.[0]?.diskDeviceMappings?.diskDeviceMapping ?? [];
    expect(maps.map((m) => [m.snapshotId, m.device, m.type, m.size, m.encrypted])).toEqual([
      [SNAP.cmk1, '/dev/xvda', 'system', '40', true],
      [SNAP.cmk2, '/dev/xvdb', 'data', '50', true],
    ]);
  });

  it('answers an image without any key id (the key is found through its snapshots)', async () => {
    const raw = await s.as(OWNER).call('DescribeImages', '2014-05-26', { RegionId: REGION, ImageId: IMG.two });
    expect(JSON.stringify(raw)).not.toMatch(/KMSKeyId|KmsKeyId/);
  });

  it('copies an image re-encrypting every mapped snapshot with the given key', async () => {
    grantDiskEncryptRole();
    const r = await ecs().copyImage(
      new $Ecs.CopyImageRequest({
        regionId: REGION,
        imageId: IMG.two,
        destinationRegionId: REGION,
        encrypted: true,
        KMSKeyId: CMK2,
      }),
    );
    const d = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: r.body!.imageId }),
    );
    const ids = d.body!.images?.image?.[0]?.diskDeviceMappings?.diskDeviceMapping?.map((m) => m.snapshotId!) ?? [];
    expect(ids).toHaveLength(2);
    expect(ids).not.toContain(SNAP.cmk1);
    expect((await snapshotsById(ids)).map((x) => x.KMSKeyId)).toEqual([CMK2, CMK2]);
  });

  it('deletes an image', async () => {
    await ecs().deleteImage(new $Ecs.DeleteImageRequest({ regionId: REGION, imageId: IMG.plain }));
    const d = await ecs().describeImages(new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: IMG.plain }));
    expect(d.body!.totalCount).toBe(0);
  });

  it('lists images by a comma-separated ImageId, by tag, and pages them', async () => {
    s.emu.state.images.find((i) => i.imageId === IMG.svc)!.tags = { team: 'x' };
    const byIds = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: `${IMG.plain},${IMG.cmk1}` }),
    );
    const byTag = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({
        regionId: REGION,
        tag: [new $Ecs.DescribeImagesRequestTag({ key: 'team', value: 'x' })],
      }),
    );
    const page2 = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({ regionId: REGION, imageOwnerAlias: 'self', pageNumber: 2, pageSize: 3 }),
    );
    expect(byIds.body!.images?.image?.map((i) => i.imageId)).toEqual([IMG.cmk1, IMG.plain]);
    expect(byTag.body!.images?.image?.map((i) => i.imageId)).toEqual([IMG.svc]);
    expect([page2.body!.totalCount, page2.body!.images?.image?.map((i) => i.imageId)]).toEqual([4, [IMG.plain]]);
  });

  it("does not let another account delete or describe the owner's image", async () => {
    const e = await errorOf(
      ecs(EXTERNAL).deleteImage(new $Ecs.DeleteImageRequest({ regionId: REGION, imageId: IMG.plain })),
    );
    const d = await ecs(EXTERNAL).describeImages(
      new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: IMG.plain }),
    );
    expect([e.statusCode, e.code, d.body!.totalCount]).toEqual([404, 'InvalidImageId.NotFound', 0]);
  });
});

describe('tags', () => {
  beforeEach(() => load());

  const tagSnapshots = (ids: string[], tags: $Ecs.TagResourcesRequestTag[]) =>
    ecs().tagResources(
      new $Ecs.TagResourcesRequest({ regionId: REGION, resourceType: 'snapshot', resourceId: ids, tag: tags }),
    );

  it('tags and untags snapshots and lists them', async () => {
    await tagSnapshots([SNAP.cmk1, SNAP.cmk2], [tag('share-with', MEMBER.uid), tag('env', 'prod')]);
    await ecs().untagResources(
      new $Ecs.UntagResourcesRequest({
        regionId: REGION,
        resourceType: 'snapshot',
        resourceId: [SNAP.cmk2],
        tagKey: ['env'],
      }),
    );
    const r = await ecs().listTagResources(
      new $Ecs.ListTagResourcesRequest({
        regionId: REGION,
        resourceType: 'snapshot',
        resourceId: [SNAP.cmk1, SNAP.cmk2],
      }),
    );
    expect(r.body!.tagResources?.tagResource?.map((t) => [t.resourceId, t.resourceType, t.tagKey, t.tagValue])).toEqual(
      [
        [SNAP.cmk1, 'snapshot', 'share-with', MEMBER.uid],
        [SNAP.cmk1, 'snapshot', 'env', 'prod'],
        [SNAP.cmk2, 'snapshot', 'share-with', MEMBER.uid],
      ],
    );
    expect(r.body!.nextToken).toBe('');
  });

  it('removes all tags with All', async () => {
    await tagSnapshots([SNAP.cmk1], [tag('a', '1'), tag('b', '2')]);
    await ecs().untagResources(
      new $Ecs.UntagResourcesRequest({
        regionId: REGION,
        resourceType: 'snapshot',
        resourceId: [SNAP.cmk1],
        all: true,
      }),
    );
    const r = await ecs().listTagResources(
      new $Ecs.ListTagResourcesRequest({ regionId: REGION, resourceType: 'snapshot', resourceId: [SNAP.cmk1] }),
    );
    expect(r.body!.tagResources?.tagResource).toEqual([]);
  });

  it('lists tag resources by tag filter across pages', async () => {
    const ids = manySnapshots(60).map((x) => x.snapshotId);
    load({ ...baseState(), snapshots: manySnapshots(60) });
    await tagSnapshots(ids.slice(0, 50), [tag('k', 'v')]);
    await tagSnapshots(ids.slice(50), [tag('k', 'v')]);
    const seen: string[] = [];
    let token: string | undefined;
    let pages = 0;
    do {
      const r = await ecs().listTagResources(
        new $Ecs.ListTagResourcesRequest({
          regionId: REGION,
          resourceType: 'snapshot',
          tag: [new $Ecs.ListTagResourcesRequestTag({ key: 'k', value: 'v' })],
          nextToken: token,
        }),
      );
      seen.push(...(r.body!.tagResources?.tagResource ?? []).map((t) => t.resourceId!));
      token = r.body!.nextToken || undefined;
      pages++;
    } while (token);
    expect([seen.length, pages]).toEqual([60, 2]);
  });

  it.each([
    ['a key starting with acs:', tag('acs:ecs:sharedFrom', 'x'), 'InvalidTagKey.Malformed'],
    ['a key starting with aliyun', tag('aliyunx', 'x'), 'InvalidTagKey.Malformed'],
    ['a value longer than 128', tag('k', 'v'.repeat(129)), 'InvalidTagValue.Malformed'],
  ])('rejects %s', async (_n, t, code) => {
    const e = await errorOf(tagSnapshots([SNAP.cmk1], [t]));
    expect([e.statusCode, e.code]).toEqual([400, code]);
  });

  it('refuses a 21st tag on a resource and changes nothing', async () => {
    await tagSnapshots(
      [SNAP.cmk1],
      Array.from({ length: 20 }, (_, i) => tag(`k${i}`, 'v')),
    );
    const e = await errorOf(tagSnapshots([SNAP.cmk2, SNAP.cmk1], [tag('extra', 'v')]));
    const r = await ecs().listTagResources(
      new $Ecs.ListTagResourcesRequest({ regionId: REGION, resourceType: 'snapshot', resourceId: [SNAP.cmk2] }),
    );
    expect([e.statusCode, e.code, r.body!.tagResources?.tagResource?.length]).toEqual([
      400,
      'OperationDenied.QuotaExceed',
      0,
    ]);
  });

  it('refuses more than 50 resources in one call', async () => {
    const e = await errorOf(
      tagSnapshots(
        Array.from({ length: 51 }, () => SNAP.cmk1),
        [tag('k', 'v')],
      ),
    );
    expect([e.statusCode, e.code]).toEqual([400, 'NumberExceed.ResourceIds']);
  });

  it("refuses another account's resource as not found", async () => {
    const e = await errorOf(
      ecs(EXTERNAL).tagResources(
        new $Ecs.TagResourcesRequest({
          regionId: REGION,
          resourceType: 'snapshot',
          resourceId: [SNAP.cmk1],
          tag: [tag('k', 'v')],
        }),
      ),
    );
    expect([e.statusCode, e.code]).toEqual([404, 'InvalidResourceId.NotFound']);
  });

  it('refuses an unknown resource type', async () => {
    const e = await errorOf(
      ecs().tagResources(
        new $Ecs.TagResourcesRequest({
          regionId: REGION,
          resourceType: 'bucket',
          resourceId: [SNAP.cmk1],
          tag: [tag('k', 'v')],
        }),
      ),
    );
    expect([e.statusCode, e.code]).toEqual([404, 'InvalidResourceType.NotFound']);
  });

  it('supports the deprecated AddTags and RemoveTags on an image', async () => {
    await ecs().addTags(
      new $Ecs.AddTagsRequest({
        regionId: REGION,
        resourceType: 'image',
        resourceId: IMG.plain,
        tag: [
          new $Ecs.AddTagsRequestTag({ key: 'a', value: '1' }),
          new $Ecs.AddTagsRequestTag({ key: 'b', value: '2' }),
        ],
      }),
    );
    await ecs().removeTags(
      new $Ecs.RemoveTagsRequest({
        regionId: REGION,
        resourceType: 'image',
        resourceId: IMG.plain,
        tag: [new $Ecs.RemoveTagsRequestTag({ key: 'a' })],
      }),
    );
    const r = await ecs().listTagResources(
      new $Ecs.ListTagResourcesRequest({ regionId: REGION, resourceType: 'image', resourceId: [IMG.plain] }),
    );
    expect(r.body!.tagResources?.tagResource?.map((t) => [t.tagKey, t.tagValue])).toEqual([['b', '2']]);
  });
});

describe('image share permissions', () => {
  const share = (imageId: string, add: string[] = [], remove: string[] = []) =>
    ecs().modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId, addAccount: add, removeAccount: remove }),
    );
  const sharedAccounts = async (imageId: string, pageNumber = 1, pageSize = 100) => {
    const r = await ecs().describeImageSharePermission(
      new $Ecs.DescribeImageSharePermissionRequest({ regionId: REGION, imageId, pageNumber, pageSize }),
    );
    return r.body!;
  };
  /** 60 extra accounts, enough to cross the 50-account quota. */
  const extraUids = Array.from({ length: 60 }, (_, i) => `20000000000000${String(i).padStart(2, '0')}`);
  const withExtraAccounts = (): EmulatorState => {
    const st = baseState();
    return {
      ...st,
      accounts: [
        ...st.accounts,
        ...extraUids.map((uid) => ({ uid, accessKeys: [{ id: `LTAIx${uid}`, secret: 's' }] })),
      ],
    };
  };

  beforeEach(() => load(withExtraAccounts()));

  it('shares a plain image with an account and lists it', async () => {
    await share(IMG.plain, [MEMBER.uid]);
    const body = await sharedAccounts(IMG.plain);
    expect([body.totalCount, body.accounts?.account?.map((a) => a.aliyunId), body.shareGroups?.shareGroup]).toEqual([
      1,
      [MEMBER.uid],
      [],
    ]);
    const img = await ecs().describeImages(new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: IMG.plain }));
    expect(img.body!.images?.image?.[0]?.isSelfShared).toBe('True');
  });

  it('applies only the first 10 AddAccount entries, silently', async () => {
    await share(IMG.plain, extraUids.slice(0, 12));
    const body = await sharedAccounts(IMG.plain);
    expect(body.accounts?.account?.map((a) => a.aliyunId)).toEqual(extraUids.slice(0, 10));
  });

  it('pages the share list with PageNumber and PageSize', async () => {
    await share(IMG.plain, extraUids.slice(0, 10));
    await share(IMG.plain, extraUids.slice(10, 20));
    await share(IMG.plain, extraUids.slice(20, 25));
    const page3 = await sharedAccounts(IMG.plain, 3, 10);
    expect([page3.totalCount, page3.accounts?.account?.map((a) => a.aliyunId)]).toEqual([25, extraUids.slice(20, 25)]);
  });

  it('refuses the 51st account with QuotaExceed.ShareImageUser', async () => {
    for (let i = 0; i < 50; i += 10) await share(IMG.plain, extraUids.slice(i, i + 10));
    const e = await errorOf(share(IMG.plain, [extraUids[50]]));
    expect([e.statusCode, e.code, (await sharedAccounts(IMG.plain)).totalCount]).toEqual([
      403,
      'QuotaExceed.ShareImageUser',
      50,
    ]);
  });

  it('treats adding a shared account and removing an unshared one as no-ops', async () => {
    await share(IMG.plain, [MEMBER.uid]);
    await share(IMG.plain, [MEMBER.uid], [EXTERNAL.uid]);
    expect((await sharedAccounts(IMG.plain)).accounts?.account?.map((a) => a.aliyunId)).toEqual([MEMBER.uid]);
  });

  it('removes an account', async () => {
    await share(IMG.plain, [MEMBER.uid, EXTERNAL.uid]);
    await share(IMG.plain, [], [MEMBER.uid]);
    expect((await sharedAccounts(IMG.plain)).accounts?.account?.map((a) => a.aliyunId)).toEqual([EXTERNAL.uid]);
  });

  it.each([
    ['an unknown account', '9999999999999999', 404, 'InvalidAccount.NotFound'],
    ['the owner itself', OWNER.uid, 404, 'InvalidAccount.Forbbiden'],
    ['an account on the other site', INTL.uid, 403, 'InvalidImageId.BidMismatch'],
  ])('refuses %s', async (_n, uid, status, code) => {
    const e = await errorOf(share(IMG.plain, [uid]));
    expect([e.statusCode, e.code]).toEqual([status, code]);
  });

  it('refuses an encrypted image when the share role is missing, with the documented message', async () => {
    const e = await errorOf(share(IMG.cmk1, [MEMBER.uid]));
    expect([e.statusCode, e.code, e.data.Message]).toEqual([
      403,
      'AssumeRoleError',
      `Requires a RAM role of ${IMAGE_ROLE} before sharing encrypted image.`,
    ]);
  });

  it('refuses an encrypted image when the share role does not trust the account', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(EXTERNAL.uid), [CMK1]));
    const e = await errorOf(share(IMG.cmk1, [MEMBER.uid]));
    expect([e.statusCode, e.code]).toEqual([403, 'AssumeRoleError']);
    expect(e.data.Message).toContain(`${MEMBER.uid}@ecs.aliyuncs.com`);
  });

  it('shares an encrypted image when the role exists, trusts the account and may use the key', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]));
    await share(IMG.cmk1, [MEMBER.uid]);
    expect((await sharedAccounts(IMG.cmk1)).totalCount).toBe(1);
  });

  it('refuses an encrypted image with several snapshots with OperationDeined.FullImage (documented)', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1, CMK2]));
    const e = await errorOf(share(IMG.two, [MEMBER.uid]));
    expect([e.statusCode, e.code]).toEqual([403, 'OperationDeined.FullImage']);
    expect((await sharedAccounts(IMG.two)).totalCount).toBe(0);
  });

  it('shares an encrypted image with several snapshots under the fullImageSharing option', async () => {
    load({
      ...withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1, CMK2]),
      options: { fullImageSharing: true },
    });
    await share(IMG.two, [MEMBER.uid]);
    expect((await sharedAccounts(IMG.two)).totalCount).toBe(1);
  });

  it('refuses at share time with InvalidParameter.KMSKeyId.CMKUnauthorized when the role may not use the key', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK2]));
    const e = await errorOf(share(IMG.cmk1, [MEMBER.uid]));
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidParameter.KMSKeyId.CMKUnauthorized']);
    expect(e.data.Message).toContain(`key/${CMK1}`);
  });

  it('still removes accounts from an image whose key the role may no longer use', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]));
    await share(IMG.cmk1, [MEMBER.uid]);
    s.emu.state.roles.find((r) => r.roleName === IMAGE_ROLE)!.attachedPolicies = [];
    await ecs().modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.cmk1, removeAccount: [MEMBER.uid] }),
    );
    expect((await sharedAccounts(IMG.cmk1)).totalCount).toBe(0);
  });

  it('refuses an image encrypted with the service key', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [SVC], ['AliyunKMSFullAccess']));
    const e = await errorOf(share(IMG.svc, [MEMBER.uid]));
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidOperation.ServiceKeyEncryptedImageUnsupported']);
  });

  it('allows a service-key image under the legacy switch only with AliyunKMSFullAccess on the role', async () => {
    load({
      ...withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), []),
      options: { legacyServiceKeySharing: true },
    });
    const e = await errorOf(share(IMG.svc, [MEMBER.uid]));
    load({
      ...withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [], ['AliyunKMSFullAccess']),
      options: { legacyServiceKeySharing: true },
    });
    await share(IMG.svc, [MEMBER.uid]);
    expect([e.statusCode, e.code, (await sharedAccounts(IMG.svc)).totalCount]).toEqual([403, 'AssumeRoleError', 1]);
  });

  it('refuses an image whose key is disabled', async () => {
    load(withShareRole(withExtraAccounts(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]));
    s.emu.state.keys.find((k) => k.keyId === CMK1)!.state = 'Disabled';
    const e = await errorOf(share(IMG.cmk1, [MEMBER.uid]));
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidParameter.KMSKeyId.CMKNotEnabled']);
  });

  it("refuses another account's image as not found", async () => {
    const e = await errorOf(
      ecs(EXTERNAL).modifyImageSharePermission(
        new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.plain, addAccount: [MEMBER.uid] }),
      ),
    );
    expect([e.statusCode, e.code]).toEqual([404, 'InvalidImageId.NotFound']);
  });
});
