// Resource Sharing quotas as documented (and settable): resource shares and shared resources per account, snapshots
// shared per account (ECS), and UpdateResourceShare's required name, through the real signing client and the product.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_OPTIONS, type EmulatorOptions } from '../../scripts/emulator/types';
import { CloudApi } from '../../shared/cloud/api';
import { SharingAdapter } from '../../shared/cloud/sharing';
import { EXTERNAL, MEMBER, OWNER, REGION, SNAP, baseState, errorOf, ideal, start, type Started } from './share-fixture';

let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(() => s.emu.stop());

const rs = (action: string, query: Record<string, unknown>) => s.as(OWNER).rs(action, { RegionId: REGION, ...query });
const snapshot = (id: string) => ({ ResourceId: id, ResourceType: 'Snapshot' });
const load = (options: Partial<EmulatorOptions> = {}) => s.emu.setState(ideal({ ...baseState(), options }));
const create = (name: string, resources: string[] = [], targets: string[] = [MEMBER.uid]) =>
  rs('CreateResourceShare', { ResourceShareName: name, Resources: resources.map(snapshot), Targets: targets });

describe('Resource Sharing quotas', () => {
  it('are the documented figures by default', () => {
    expect(DEFAULT_OPTIONS).toMatchObject({
      resourceShareQuota: 1000,
      sharedResourceQuota: 1000,
      sharedSnapshotQuota: 1024,
      snapshotShareQuota: 64,
    });
  });

  it('refuse a resource share past the per-account quota with 409 QuotaExceeded.ResourceShare.Count', async () => {
    load({ resourceShareQuota: 2 });
    await create('one');
    await create('two');
    const e = await errorOf(create('three'));
    expect([e.statusCode, e.code]).toEqual([409, 'QuotaExceeded.ResourceShare.Count']);
  });

  it('count shares in every region of the account', async () => {
    load({ resourceShareQuota: 1 });
    await s.as(OWNER).rs('CreateResourceShare', { RegionId: 'cn-shanghai', ResourceShareName: 'elsewhere' });
    const e = await errorOf(create('here'));
    expect(e.code).toBe('QuotaExceeded.ResourceShare.Count');
  });

  it('refuse a resource past the shared-resource quota with 409 QuotaExceeded.SharedResource.Count, on create and associate', async () => {
    load({ sharedResourceQuota: 2 });
    const id = (await create('a', [SNAP.cmk1, SNAP.cmk2])).ResourceShare.ResourceShareId;
    const onCreate = await errorOf(create('b', [SNAP.plain]));
    const onAssociate = await errorOf(
      rs('AssociateResourceShare', { ResourceShareId: id, Resources: [snapshot(SNAP.plain)] }),
    );
    expect([onCreate.statusCode, onCreate.code, onAssociate.code]).toEqual([
      409,
      'QuotaExceeded.SharedResource.Count',
      'QuotaExceeded.SharedResource.Count',
    ]);
  });

  it('fail the association of a snapshot past the shared-snapshot quota as LimitExceeded', async () => {
    load({ sharedSnapshotQuota: 1 });
    await create('first', [SNAP.cmk1]);
    const r = await create('second', [SNAP.cmk2]);
    const rows = (
      await rs('ListResourceShareAssociations', {
        AssociationType: 'Resource',
        ResourceShareIds: [r.ResourceShare.ResourceShareId],
      })
    ).ResourceShareAssociations;
    expect(rows.map((x: any) => [x.AssociationStatus, x.AssociationFailedDetails[0]?.FailureReason])).toEqual([
      ['Failed', 'LimitExceeded'],
    ]);
  });
});

describe('UpdateResourceShare', () => {
  it('requires ResourceShareName (documented): MissingParameter without it', async () => {
    load();
    const id = (await create('named')).ResourceShare.ResourceShareId;
    const e = await errorOf(rs('UpdateResourceShare', { ResourceShareId: id, AllowExternalTargets: true }));
    expect([e.statusCode, e.code]).toEqual([400, 'MissingParameter']);
  });

  it("is called by the product with the share's own name, so AllowExternalTargets turns on and the name stays", async () => {
    load();
    const id = (await create('ecs-share-s-x')).ResourceShare.ResourceShareId;
    const api = new CloudApi({
      endpointOverride: s.emu.endpoint,
      credentials: { accessKeyId: OWNER.accessKeyId, accessKeySecret: OWNER.accessKeySecret },
    });
    await new SharingAdapter(api).updateAllowExternal(REGION, id, true, 'ecs-share-s-x');
    await rs('AssociateResourceShare', { ResourceShareId: id, Targets: [EXTERNAL.uid] });
    const [share] = (await rs('ListResourceShares', { ResourceOwner: 'Self', ResourceShareIds: [id] })).ResourceShares;
    expect([share.ResourceShareName, share.AllowExternalTargets]).toEqual(['ecs-share-s-x', true]);
  });
});
