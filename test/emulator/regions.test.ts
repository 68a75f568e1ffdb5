// Regions: every regional product refuses a region the state does not list, and ECS DescribeRegions lists them in the
// SDK model's shape (read by the product's adapter).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { CloudApi } from '../../shared/cloud/api';
import { EcsAdapter } from '../../shared/cloud/ecs';
import { OWNER, REGION, SNAP, errorOf, start, type Started } from './share-fixture';

let s: Started;
beforeAll(async () => {
  s = await start(); // regions cn-hangzhou and cn-shanghai
});
afterAll(() => s.emu.stop());

describe('unknown regions', () => {
  it('are refused by ECS, KMS and Resource Sharing with 404 InvalidRegionId.NotFound', async () => {
    const client = s.as(OWNER, 'eu-west-1');
    const errors = await Promise.all([
      errorOf(client.ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: 'eu-west-1' }))),
      errorOf(client.rs('ListResourceShares', { RegionId: 'eu-west-1', ResourceOwner: 'Self' })),
      // The KMS SDK names the region by its endpoint only; a RegionId parameter (as the product sends) is checked.
      errorOf(client.call('ListKeys', '2016-01-20', { RegionId: 'eu-west-1' })),
    ]);
    expect(errors.map((e) => [e.statusCode, e.code])).toEqual(Array(3).fill([404, 'InvalidRegionId.NotFound']));
  });

  it('are refused as the destination of a copy', async () => {
    const e = await errorOf(
      s
        .as(OWNER)
        .ecs.copySnapshot(
          new $Ecs.CopySnapshotRequest({ regionId: REGION, snapshotId: SNAP.cmk1, destinationRegionId: 'us-east-1' }),
        ),
    );
    expect([e.statusCode, e.code]).toEqual([404, 'InvalidRegionId.NotFound']);
  });
});

describe('DescribeRegions', () => {
  it("lists the state's regions in the SDK model", async () => {
    const r = await s.as(OWNER).ecs.describeRegions(new $Ecs.DescribeRegionsRequest({}));
    expect(r.body!.regions!.region!.map((x) => [x.regionId, x.status])).toEqual([
      [REGION, 'available'],
      ['cn-shanghai', 'available'],
    ]);
    expect(r.body!.regions!.region![0].regionEndpoint).toBe('ecs-cn-hangzhou.aliyuncs.com');
  });

  it('is read by the product adapter as a list of region ids', async () => {
    const api = new CloudApi({
      endpointOverride: s.emu.endpoint,
      credentials: { accessKeyId: OWNER.accessKeyId, accessKeySecret: OWNER.accessKeySecret },
    });
    expect(await new EcsAdapter(api).regions(REGION)).toEqual([REGION, 'cn-shanghai']);
  });
});
