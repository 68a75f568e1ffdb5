// The recipient oracle: a recipient account, with its own keys and the real ECS SDK, sees and uses what was shared
// with it only when the share reaches it and ECS can use the owner's share role and keys on its behalf.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { accountRdPath, accountsUnder, folderPath, isMember, rdOfAccount } from '../../scripts/emulator/rd';
import { recipientAccess } from '../../scripts/emulator/oracle';
import { normaliseState } from '../../scripts/emulator/state';
import type { EmulatorState } from '../../scripts/emulator/types';
import {
  CMK1,
  CMK2,
  EXTERNAL,
  IMAGE_ROLE,
  IMG,
  MEMBER,
  NESTED,
  OWNER,
  RD,
  REGION,
  SIBLING,
  SNAP,
  SNAPSHOT_ROLE,
  baseState,
  errorOf,
  ideal,
  kmsPolicyDocument,
  start,
  trustAccounts,
  trustRd,
  trustRdPath,
  withShareRole,
  type Started,
} from './share-fixture';

describe('resource directory paths', () => {
  const state = normaliseState(baseState());

  it.each([
    [RD.root, `${RD.id}/${RD.root}`],
    [RD.sub, `${RD.id}/${RD.root}/${RD.team}/${RD.sub}`],
  ])('gives folder %s the path %s', (folder, path) => {
    expect(folderPath(state, folder)).toBe(path);
  });

  it('gives a member its folder path followed by its uid', () => {
    expect(accountRdPath(state, NESTED.uid)).toBe(`${RD.id}/${RD.root}/${RD.team}/${RD.sub}/${NESTED.uid}`);
  });

  it('finds the accounts under a folder recursively, under the RD, and nothing outside it', () => {
    expect(accountsUnder(state, RD.team)).toEqual([MEMBER.uid, NESTED.uid]);
    expect(accountsUnder(state, RD.id).sort()).toEqual([OWNER.uid, MEMBER.uid, NESTED.uid, SIBLING.uid].sort());
    expect(accountsUnder(state, EXTERNAL.uid)).toEqual([]);
  });

  it('knows members and the RD they belong to', () => {
    expect([isMember(state, SIBLING.uid), isMember(state, EXTERNAL.uid), rdOfAccount(state, OWNER.uid)?.id]).toEqual([
      true,
      false,
      RD.id,
    ]);
  });
});

let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s.emu.stop();
});

const ecs = (who: typeof OWNER) => s.as(who).ecs;
const rs = (who: typeof OWNER) => (action: string, query: Record<string, unknown>) =>
  s.as(who).rs(action, { RegionId: REGION, ...query });

async function shareViaRs(
  resources: Array<{ ResourceId: string; ResourceType: string }>,
  targets: string[],
  allowExternal = false,
): Promise<string> {
  const r = await rs(OWNER)('CreateResourceShare', {
    ResourceShareName: `s${Math.random().toString(36).slice(2, 8)}`,
    Resources: resources,
    Targets: targets,
    AllowExternalTargets: allowExternal,
  });
  return r.ResourceShare.ResourceShareId;
}
const snapshotRes = (id: string) => ({ ResourceId: id, ResourceType: 'Snapshot' });
const imageRes = (id: string) => ({ ResourceId: id, ResourceType: 'Image' });

const createDiskFrom = (who: typeof OWNER, snapshotId: string, diskCategory = 'cloud_essd') =>
  ecs(who).createDisk(
    new $Ecs.CreateDiskRequest({ regionId: REGION, zoneId: 'cn-hangzhou-h', snapshotId, diskCategory }),
  );
const copyImage = (who: typeof OWNER, imageId: string, destinationRegionId = REGION) =>
  ecs(who).copyImage(new $Ecs.CopyImageRequest({ regionId: REGION, imageId, destinationRegionId }));
const copySnapshot = (who: typeof OWNER, snapshotId: string) =>
  ecs(who).copySnapshot(new $Ecs.CopySnapshotRequest({ regionId: REGION, snapshotId, destinationRegionId: REGION }));
const othersImages = async (who: typeof OWNER) =>
  (await ecs(who).describeImages(new $Ecs.DescribeImagesRequest({ regionId: REGION, imageOwnerAlias: 'others' }))).body!
    .images?.image ?? [];

function load(state: EmulatorState): void {
  s.emu.setState(ideal(state));
}

describe('a snapshot shared with an RD member account', () => {
  beforeEach(() => load(withShareRole(baseState(), SNAPSHOT_ROLE, trustAccounts(MEMBER.uid), [CMK1])));

  it("appears in the recipient's DescribeSnapshots with the source id and the sharedFrom tag", async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const r = await ecs(MEMBER).describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION }));
    const [snap] = r.body!.snapshots?.snapshot ?? [];
    expect(snap?.snapshotId).toBe(SNAP.cmk1);
    expect(snap?.tags?.tag?.map((t) => [t.tagKey, t.tagValue])).toEqual([
      ['acs:ecs:sharedFrom', `${OWNER.uid}:${REGION}:${SNAP.cmk1}`],
    ]);
  });

  it('lets the recipient create an ESSD disk, encrypted with its own service key', async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const disk = await createDiskFrom(MEMBER, SNAP.cmk1);
    const d = await ecs(MEMBER).describeDisks(
      new $Ecs.DescribeDisksRequest({ regionId: REGION, diskIds: JSON.stringify([disk.body!.diskId]) }),
    );
    const own = s.emu.state.keys.find((k) => k.accountId === MEMBER.uid && (k.aliases ?? []).includes('alias/acs/ecs'));
    expect(d.body!.disks?.disk?.[0]).toMatchObject({
      encrypted: true,
      KMSKeyId: own?.keyId,
      sourceSnapshotId: SNAP.cmk1,
    });
  });

  it('lets the recipient copy the snapshot', async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const copy = await copySnapshot(MEMBER, SNAP.cmk1);
    expect(s.emu.state.snapshots.find((x) => x.snapshotId === copy.body!.snapshotId)).toMatchObject({
      accountId: MEMBER.uid,
      encrypted: true,
    });
  });

  it('refuses a non-ESSD disk from a shared encrypted snapshot', async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const e = await errorOf(createDiskFrom(MEMBER, SNAP.cmk1, 'cloud_efficiency'));
    expect([e.statusCode, e.code]).toEqual([400, 'InvalidDiskCategory.NotSupported']);
  });

  it('is invisible and unusable to an account it is not shared with', async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const e = await errorOf(createDiskFrom(SIBLING, SNAP.cmk1));
    const list = await ecs(SIBLING).describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION }));
    expect([e.statusCode, e.code, list.body!.totalCount]).toEqual([404, 'InvalidSnapshotId.NotFound', 0]);
  });

  it('stops being usable once disassociated', async () => {
    const id = await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    await rs(OWNER)('DisassociateResourceShare', { ResourceShareId: id, Targets: [MEMBER.uid] });
    const e = await errorOf(createDiskFrom(MEMBER, SNAP.cmk1));
    expect(e.code).toBe('InvalidSnapshotId.NotFound');
  });

  it('is not usable while the association is still Associating', async () => {
    s.emu.setOptions({ associationDelayMs: 60_000 });
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const e = await errorOf(createDiskFrom(MEMBER, SNAP.cmk1));
    expect(e.code).toBe('InvalidSnapshotId.NotFound');
  });

  it('refuses the recipient when the share role does not trust it, naming the principal', async () => {
    load(withShareRole(baseState(), SNAPSHOT_ROLE, trustAccounts(NESTED.uid), [CMK1]));
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const e = await errorOf(createDiskFrom(MEMBER, SNAP.cmk1));
    expect([e.statusCode, e.code]).toEqual([403, 'AssumeRoleError']);
    expect(e.data.Message).toContain(`the trust policy does not allow ${MEMBER.uid}@ecs.aliyuncs.com`);
  });

  it('refuses the recipient when the share role does not exist', async () => {
    load(baseState());
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    const e = await errorOf(copySnapshot(MEMBER, SNAP.cmk1));
    expect([e.code, e.data.Message]).toEqual([
      'AssumeRoleError',
      expect.stringContaining(`${SNAPSHOT_ROLE} of account ${OWNER.uid}`),
    ]);
  });

  it('refuses the recipient when the key is disabled', async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [MEMBER.uid]);
    s.emu.state.keys.find((k) => k.keyId === CMK1)!.state = 'Disabled';
    const e = await errorOf(createDiskFrom(MEMBER, SNAP.cmk1));
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidParameter.KMSKeyId.CMKNotEnabled']);
  });

  it('needs no share role for an unencrypted snapshot', async () => {
    load(baseState());
    await shareViaRs([snapshotRes(SNAP.plain)], [MEMBER.uid]);
    const disk = await createDiskFrom(MEMBER, SNAP.plain, 'cloud');
    expect(disk.body!.diskId).toMatch(/^d-/);
  });
});

describe('RD and folder shares', () => {
  it('reach a member through the RD id with a StringEquals sts:ServiceOwnerRDId trust', async () => {
    load(withShareRole(baseState(), SNAPSHOT_ROLE, trustRd(RD.id), [CMK1]));
    await shareViaRs([snapshotRes(SNAP.cmk1)], [RD.id]);
    expect((await createDiskFrom(SIBLING, SNAP.cmk1)).body!.diskId).toBeTruthy();
  });

  it('reach a nested member through a folder with a StringLike sts:ServiceOwnerRDPath trust', async () => {
    load(withShareRole(baseState(), SNAPSHOT_ROLE, trustRdPath(`${RD.id}/${RD.root}/${RD.team}*`), [CMK1]));
    await shareViaRs([snapshotRes(SNAP.cmk1)], [RD.team]);
    expect((await createDiskFrom(NESTED, SNAP.cmk1)).body!.diskId).toBeTruthy();
  });

  it('do not reach a member of a sibling folder', async () => {
    load(withShareRole(baseState(), SNAPSHOT_ROLE, trustRdPath(`${RD.id}/${RD.root}/${RD.team}*`), [CMK1]));
    await shareViaRs([snapshotRes(SNAP.cmk1)], [RD.team]);
    const e = await errorOf(createDiskFrom(SIBLING, SNAP.cmk1));
    expect(e.code).toBe('InvalidSnapshotId.NotFound');
  });

  it('refuse a member the folder trust does not cover even when the share reaches it', async () => {
    load(withShareRole(baseState(), SNAPSHOT_ROLE, trustRdPath(`${RD.id}/${RD.root}/${RD.team}*`), [CMK1]));
    await shareViaRs([snapshotRes(SNAP.cmk1)], [RD.id]);
    const e = await errorOf(createDiskFrom(SIBLING, SNAP.cmk1));
    expect([e.statusCode, e.code]).toEqual([403, 'AssumeRoleError']);
  });

  it('refuse an external account under an RD-scoped trust', async () => {
    load(withShareRole(baseState(), SNAPSHOT_ROLE, trustRd(RD.id), [CMK1]));
    await shareViaRs([snapshotRes(SNAP.cmk1)], [EXTERNAL.uid], true);
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    await rs(EXTERNAL)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId });
    const e = await errorOf(createDiskFrom(EXTERNAL, SNAP.cmk1));
    expect(e.code).toBe('AssumeRoleError');
  });
});

describe('external accounts', () => {
  beforeEach(() => load(withShareRole(baseState(), SNAPSHOT_ROLE, trustAccounts(EXTERNAL.uid), [CMK1])));

  it('cannot use a shared snapshot before accepting the invitation, and can after', async () => {
    await shareViaRs([snapshotRes(SNAP.cmk1)], [EXTERNAL.uid], true);
    const before = await errorOf(createDiskFrom(EXTERNAL, SNAP.cmk1));
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    await rs(EXTERNAL)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId });
    const after = await createDiskFrom(EXTERNAL, SNAP.cmk1);
    expect([before.statusCode, before.code, !!after.body!.diskId]).toEqual([404, 'InvalidSnapshotId.NotFound', true]);
  });
});

describe('images', () => {
  it('shared by account: the recipient sees it under others and copies it when both keys are granted', async () => {
    load({
      ...withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1, CMK2]),
      options: { fullImageSharing: true },
    });
    await ecs(OWNER).modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.two, addAccount: [MEMBER.uid] }),
    );
    const seen = await othersImages(MEMBER);
    const copy = await copyImage(MEMBER, IMG.two);
    expect(seen.map((i) => [i.imageId, i.imageOwnerAlias, String(i.imageOwnerId)])).toEqual([
      [IMG.two, 'others', OWNER.uid],
    ]);
    expect(s.emu.state.images.find((i) => i.imageId === copy.body!.imageId)).toMatchObject({
      accountId: MEMBER.uid,
      sourceImageId: IMG.two,
    });
  });

  it("refuses the copy when the role's policy misses one of the image's keys, naming that key", async () => {
    load({
      ...withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1, CMK2]),
      options: { fullImageSharing: true },
    });
    await ecs(OWNER).modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.two, addAccount: [MEMBER.uid] }),
    );
    // The grant of CMK2 goes after the share (the share itself checks the keys).
    s.emu.state.policies.find((p) => p.policyName === `${IMAGE_ROLE}Kms`)!.versions[0].document = kmsPolicyDocument([
      CMK1,
    ]);
    const e = await errorOf(copyImage(MEMBER, IMG.two));
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidParameter.KMSKeyId.CMKUnauthorized']);
    expect(e.data.Message).toContain(`acs:kms:${REGION}:${OWNER.uid}:key/${CMK2}`);
  });

  it('shared through Resource Sharing to the RD: copied by a member under an RD trust', async () => {
    load(withShareRole(baseState(), IMAGE_ROLE, trustRd(RD.id), [CMK1]));
    await shareViaRs([imageRes(IMG.cmk1)], [RD.id]);
    expect((await othersImages(NESTED)).map((i) => i.imageId)).toEqual([IMG.cmk1]);
    expect((await copyImage(NESTED, IMG.cmk1)).body!.imageId).toMatch(/^m-/);
  });

  it('not shared: the recipient neither sees nor copies it', async () => {
    load(withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]));
    const e = await errorOf(copyImage(MEMBER, IMG.cmk1));
    expect([e.statusCode, e.code, (await othersImages(MEMBER)).length]).toEqual([404, 'InvalidImageId.NotFound', 0]);
  });

  it('shared: copied only within its region', async () => {
    load(withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]));
    await ecs(OWNER).modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.cmk1, addAccount: [MEMBER.uid] }),
    );
    const e = await errorOf(copyImage(MEMBER, IMG.cmk1, 'cn-shanghai'));
    expect([e.statusCode, e.code]).toEqual([403, 'OperationDenied.SharedResourceCrossRegion']);
  });

  it('encrypted with the service key: refused to the recipient', async () => {
    const st = withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [], ['AliyunKMSFullAccess']);
    st.images!.find((i) => i.imageId === IMG.svc)!.sharedWith = [{ accountId: MEMBER.uid }]; // shared under the older rules
    load(st);
    const e = await errorOf(copyImage(MEMBER, IMG.svc));
    expect([e.statusCode, e.code]).toEqual([403, 'InvalidOperation.ServiceKeyEncryptedImageUnsupported']);
  });

  it('encrypted with the service key: usable under the legacy switch when the role has AliyunKMSFullAccess', async () => {
    const st = withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [], ['AliyunKMSFullAccess']);
    load({ ...st, options: { legacyServiceKeySharing: true } });
    await ecs(OWNER).modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.svc, addAccount: [MEMBER.uid] }),
    );
    expect((await copyImage(MEMBER, IMG.svc)).body!.imageId).toBeTruthy();
  });

  it('encrypted with the service key: refused under the legacy switch without AliyunKMSFullAccess', async () => {
    const st = withShareRole(baseState(), IMAGE_ROLE, trustAccounts(MEMBER.uid), [CMK1]);
    st.images!.find((i) => i.imageId === IMG.svc)!.sharedWith = [{ accountId: MEMBER.uid }];
    load({ ...st, options: { legacyServiceKeySharing: true } });
    const e = await errorOf(copyImage(MEMBER, IMG.svc));
    expect([e.statusCode, e.code]).toEqual([403, 'AssumeRoleError']);
    expect(e.data.Message).toContain('AliyunKMSFullAccess');
  });
});

describe('recipientAccess as a function', () => {
  it('answers ok for a shared unencrypted image and a 404 for an unshared one', () => {
    const st = normaliseState(baseState());
    const plain = st.images.find((i) => i.imageId === IMG.plain)!;
    plain.sharedWith = [{ accountId: MEMBER.uid }];
    expect(recipientAccess(st, MEMBER.uid, { type: 'Image', image: plain })).toEqual({ ok: true });
    expect(recipientAccess(st, SIBLING.uid, { type: 'Image', image: plain })).toMatchObject({
      ok: false,
      status: 404,
      code: 'InvalidImageId.NotFound',
    });
  });
});
