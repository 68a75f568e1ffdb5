// ResourceSharing 2020-01-10 in the emulator, called as generated clients do (openapi-core generic callApi):
// shares, limits, the AllowExternalTargets rule, RD prerequisites, asynchronous associations and invitations.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { EmulatorState } from '../../scripts/emulator/types';
import {
  EXTERNAL,
  INTL,
  MEMBER,
  NESTED,
  OWNER,
  RD,
  REGION,
  SIBLING,
  SNAP,
  IMG,
  baseState,
  errorOf,
  ideal,
  sleep,
  start,
  type Started,
} from './share-fixture';

let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s.emu.stop();
});

const rs =
  (who = OWNER) =>
  (action: string, query: Record<string, unknown>) =>
    s.as(who).rs(action, { RegionId: REGION, ...query });
const snapshot = (id: string) => ({ ResourceId: id, ResourceType: 'Snapshot' });

async function createShare(query: Record<string, unknown>, who = OWNER): Promise<string> {
  const r = await rs(who)('CreateResourceShare', { ResourceShareName: 'share-1', ...query });
  return r.ResourceShare.ResourceShareId;
}

async function associations(type: 'Resource' | 'Target', shareId: string, who = OWNER): Promise<any[]> {
  const r = await rs(who)('ListResourceShareAssociations', { AssociationType: type, ResourceShareIds: [shareId] });
  return r.ResourceShareAssociations;
}

function load(state: EmulatorState = baseState()): void {
  s.emu.setState(ideal(state));
}

describe('creating shares', () => {
  beforeEach(() => load());

  it('creates an active share and answers it with the SDK model fields', async () => {
    const r = await rs()('CreateResourceShare', {
      ResourceShareName: 'snap.share_1-a',
      Resources: [snapshot(SNAP.cmk1)],
      Targets: [MEMBER.uid],
    });
    expect(r.ResourceShare).toMatchObject({
      ResourceShareId: expect.stringMatching(/^rs-/),
      ResourceShareName: 'snap.share_1-a',
      ResourceShareOwner: OWNER.uid,
      ResourceShareStatus: 'Active',
      AllowExternalTargets: false,
    });
    expect(r.RequestId).toBeTruthy();
  });

  it.each([
    ['a name with a space', { ResourceShareName: 'a b' }, 400, 'InvalidParameter.ResourceShareName'],
    ['a 51-character name', { ResourceShareName: 'x'.repeat(51) }, 400, 'InvalidParameter.ResourceShareName'],
    [
      'six targets',
      { Targets: [MEMBER.uid, NESTED.uid, SIBLING.uid, RD.id, RD.team, RD.sub] },
      400,
      'InvalidParameter.Targets.Length',
    ],
    [
      'six resources',
      { Resources: Array.from({ length: 6 }, () => snapshot(SNAP.cmk1)) },
      400,
      'InvalidParameter.Resources.Length',
    ],
    [
      'an unsupported resource type',
      { Resources: [{ ResourceId: 'vsw-1', ResourceType: 'VSwitch' }] },
      400,
      'InvalidParameter.ResourceType',
    ],
    ['the owner itself as target', { Targets: [OWNER.uid] }, 409, 'ShareWithYourself'],
    [
      'an account outside the RD without AllowExternalTargets',
      { Targets: [EXTERNAL.uid] },
      409,
      'AccountNotInResourceDirectory',
    ],
    ['another resource directory', { Targets: ['rd-other1'] }, 400, 'InvalidTarget'],
    [
      'an account on the other site',
      { Targets: [INTL.uid], AllowExternalTargets: true },
      409,
      'InvalidTarget.SiteMismatch',
    ],
  ])('refuses %s', async (_n, query, status, code) => {
    const e = await errorOf(
      rs()('CreateResourceShare', { ResourceShareName: 'n', Resources: [snapshot(SNAP.cmk1)], ...query }),
    );
    expect([e.statusCode, e.code]).toEqual([status, code]);
    expect(s.emu.state.resourceShares).toEqual([]);
  });

  it('refuses RD and folder targets when the owner is not in a resource directory', async () => {
    const e = await errorOf(rs(EXTERNAL)('CreateResourceShare', { ResourceShareName: 'n', Targets: [RD.team] }));
    expect([e.statusCode, e.code]).toEqual([409, 'NotEnableSharingWithResourceDirectory']);
  });

  it('refuses RD targets when sharing with the RD is not enabled', async () => {
    const st = baseState();
    load({ ...st, resourceDirectory: { ...st.resourceDirectory!, sharingEnabled: false } });
    const e = await errorOf(rs()('CreateResourceShare', { ResourceShareName: 'n', Targets: [RD.id] }));
    expect([e.statusCode, e.code]).toEqual([409, 'NotEnableSharingWithResourceDirectory']);
  });

  it('creates a second share with the same name: names are not unique (the docs speak of a duplicate id only)', async () => {
    load({ ...baseState(), options: { uniqueShareNames: false } });
    const first = await createShare({});
    const second = await rs()('CreateResourceShare', { ResourceShareName: 'share-1' });
    const named = await rs()('ListResourceShares', { ResourceOwner: 'Self', ResourceShareName: 'share-1' });
    expect(second.ResourceShare.ResourceShareId).not.toBe(first);
    expect(named.ResourceShares.map((x: any) => x.ResourceShareId).sort()).toEqual(
      [first, second.ResourceShare.ResourceShareId].sort(),
    );
  });

  it('refuses a second share with the same name under the uniqueShareNames option', async () => {
    load({ ...baseState(), options: { uniqueShareNames: true } });
    await createShare({});
    const e = await errorOf(rs()('CreateResourceShare', { ResourceShareName: 'share-1' }));
    expect([e.statusCode, e.code]).toEqual([409, 'EntityAlreadyExists.ResourceShare']);
  });
});

describe('associations', () => {
  beforeEach(() => load());

  it('moves new entries from Associating to Associated after the configured delay', async () => {
    s.emu.setOptions({ associationDelayMs: 150 });
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [RD.team] });
    const before = await associations('Target', id);
    await sleep(200);
    const after = await associations('Target', id);
    expect(before.map((a) => a.AssociationStatus)).toEqual(['Associating']);
    expect(after.map((a) => [a.EntityId, a.EntityType, a.AssociationType, a.AssociationStatus, a.External])).toEqual([
      [RD.team, 'Folder', 'Target', 'Associated', false],
    ]);
  });

  it('lists resource associations with their type and share name', async () => {
    const id = await createShare({
      Resources: [snapshot(SNAP.cmk1), { ResourceId: IMG.cmk1, ResourceType: 'Image' }],
      Targets: [RD.id],
    });
    const rows = await associations('Resource', id);
    expect(rows.map((a) => [a.EntityId, a.EntityType, a.AssociationStatus, a.ResourceShareName])).toEqual([
      [SNAP.cmk1, 'Snapshot', 'Associated', 'share-1'],
      [IMG.cmk1, 'Image', 'Associated', 'share-1'],
    ]);
  });

  it('requires AssociationType', async () => {
    const e = await errorOf(rs()('ListResourceShareAssociations', {}));
    expect([e.statusCode, e.code]).toEqual([400, 'MissingParameter']);
  });

  it('is idempotent for entries that already exist', async () => {
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [MEMBER.uid] });
    await rs()('AssociateResourceShare', {
      ResourceShareId: id,
      Resources: [snapshot(SNAP.cmk1)],
      Targets: [MEMBER.uid, NESTED.uid],
    });
    expect((await associations('Target', id)).map((a) => a.EntityId)).toEqual([MEMBER.uid, NESTED.uid]);
    expect((await associations('Resource', id)).length).toBe(1);
  });

  it('disassociates through Disassociating to Disassociated', async () => {
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [MEMBER.uid] });
    s.emu.setOptions({ associationDelayMs: 150 });
    const r = await rs()('DisassociateResourceShare', { ResourceShareId: id, Targets: [MEMBER.uid] });
    await sleep(200);
    expect(r.ResourceShareAssociations.map((a: any) => a.AssociationStatus)).toEqual(['Disassociating']);
    expect((await associations('Target', id)).map((a) => a.AssociationStatus)).toEqual(['Disassociated']);
  });

  it('fails the association of a service-key snapshot, naming the service key', async () => {
    const id = await createShare({ Resources: [snapshot(SNAP.svc)], Targets: [MEMBER.uid] });
    const [row] = await associations('Resource', id);
    expect([row.AssociationStatus, row.AssociationFailedDetails[0].FailureReason]).toEqual([
      'Failed',
      'UnsupportedOperation',
    ]);
    expect(row.AssociationStatusMessage).toContain('encrypted with the ECS service key');
  });

  it('associates a service-key snapshot under the legacy switch', async () => {
    s.emu.setOptions({ legacyServiceKeySharing: true });
    const id = await createShare({ Resources: [snapshot(SNAP.svc)], Targets: [MEMBER.uid] });
    expect((await associations('Resource', id)).map((a) => a.AssociationStatus)).toEqual(['Associated']);
  });

  it('fails a resource that the owner does not have', async () => {
    const id = await createShare({ Resources: [snapshot('s-doesnotexist')], Targets: [MEMBER.uid] });
    const [row] = await associations('Resource', id);
    expect([row.AssociationStatus, row.AssociationFailedDetails[0].FailureReason]).toEqual(['Failed', 'Unavailable']);
  });

  it('fails a target that would share a snapshot with more accounts than the quota', async () => {
    s.emu.setOptions({ snapshotShareQuota: 2 });
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [MEMBER.uid] });
    await rs()('AssociateResourceShare', { ResourceShareId: id, Targets: [RD.id] });
    const rows = await associations('Target', id);
    expect(rows.map((a) => [a.EntityId, a.AssociationStatus])).toEqual([
      [MEMBER.uid, 'Associated'],
      [RD.id, 'Failed'],
    ]);
    expect(rows[1].AssociationFailedDetails[0].FailureReason).toBe('LimitExceeded');
  });

  it('answers an unknown share with EntityNotExists.ResourceShare', async () => {
    const e = await errorOf(rs()('AssociateResourceShare', { ResourceShareId: 'rs-nope', Targets: [MEMBER.uid] }));
    expect([e.statusCode, e.code]).toEqual([404, 'EntityNotExists.ResourceShare']);
  });

  it('refuses six targets in one association call', async () => {
    const id = await createShare({});
    const e = await errorOf(
      rs()('AssociateResourceShare', {
        ResourceShareId: id,
        Targets: [MEMBER.uid, NESTED.uid, SIBLING.uid, RD.id, RD.team, RD.sub],
      }),
    );
    expect([e.statusCode, e.code]).toEqual([400, 'InvalidParameter.Targets.Length']);
  });
});

describe('listing and managing shares', () => {
  beforeEach(() => load());

  it('lists own shares with filters and MaxResults/NextToken paging', async () => {
    for (const n of ['a', 'b', 'c']) await createShare({ ResourceShareName: n });
    const p1 = await rs()('ListResourceShares', { ResourceOwner: 'Self', MaxResults: 2 });
    const p2 = await rs()('ListResourceShares', { ResourceOwner: 'Self', MaxResults: 2, NextToken: p1.NextToken });
    const byName = await rs()('ListResourceShares', { ResourceOwner: 'Self', ResourceShareName: 'b' });
    expect([...p1.ResourceShares, ...p2.ResourceShares].map((x: any) => x.ResourceShareName)).toEqual(['a', 'b', 'c']);
    expect([p1.NextToken !== '', p2.NextToken]).toEqual([true, '']);
    expect(byName.ResourceShares.map((x: any) => x.ResourceShareName)).toEqual(['b']);
  });

  it('lists the shares reaching a recipient under OtherAccounts', async () => {
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [RD.team] });
    const nested = await rs(NESTED)('ListResourceShares', { ResourceOwner: 'OtherAccounts' });
    const sibling = await rs(SIBLING)('ListResourceShares', { ResourceOwner: 'OtherAccounts' });
    expect([nested.ResourceShares.map((x: any) => x.ResourceShareId), sibling.ResourceShares]).toEqual([[id], []]);
  });

  it('renames a share and deletes it', async () => {
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [MEMBER.uid] });
    const u = await rs()('UpdateResourceShare', { ResourceShareId: id, ResourceShareName: 'renamed' });
    await rs()('DeleteResourceShare', { ResourceShareId: id });
    const list = await rs()('ListResourceShares', { ResourceOwner: 'Self', ResourceShareIds: [id] });
    expect(u.ResourceShare.ResourceShareName).toBe('renamed');
    expect(list.ResourceShares.map((x: any) => x.ResourceShareStatus)).toEqual(['Deleted']);
    expect((await associations('Target', id)).map((a) => a.AssociationStatus)).toEqual(['Disassociated']);
  });

  it('lists shared resources for the owner and the recipient', async () => {
    const id = await createShare({
      Resources: [snapshot(SNAP.cmk1), { ResourceId: IMG.cmk1, ResourceType: 'Image' }],
      Targets: [MEMBER.uid],
    });
    const own = await rs()('ListSharedResources', { ResourceOwner: 'Self', ResourceType: 'Snapshot' });
    const theirs = await rs(MEMBER)('ListSharedResources', { ResourceOwner: 'OtherAccounts' });
    expect(own.SharedResources.map((x: any) => [x.ResourceShareId, x.ResourceId, x.ResourceType])).toEqual([
      [id, SNAP.cmk1, 'Snapshot'],
    ]);
    expect(theirs.SharedResources.map((x: any) => [x.ResourceId, x.ResourceStatus])).toEqual([
      [SNAP.cmk1, 'Available'],
      [IMG.cmk1, 'Available'],
    ]);
  });

  it('lists shared targets by resource', async () => {
    const id = await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [MEMBER.uid, RD.sub] });
    await createShare({ ResourceShareName: 'other', Resources: [snapshot(SNAP.cmk2)], Targets: [SIBLING.uid] });
    const r = await rs()('ListSharedTargets', {
      ResourceOwner: 'Self',
      ResourceType: 'Snapshot',
      ResourceId: SNAP.cmk1,
    });
    expect(r.SharedTargets.map((x: any) => [x.TargetId, x.ResourceShareId, x.External])).toEqual([
      [MEMBER.uid, id, false],
      [RD.sub, id, false],
    ]);
  });

  it('requires ResourceOwner', async () => {
    const e = await errorOf(rs()('ListSharedResources', {}));
    expect([e.statusCode, e.code]).toEqual([400, 'MissingParameter']);
  });
});

describe('invitations', () => {
  beforeEach(() => load());

  async function externalShare(): Promise<string> {
    return createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [EXTERNAL.uid], AllowExternalTargets: true });
  }

  it('invites an external account, which accepts', async () => {
    const id = await externalShare();
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    const accepted = await rs(EXTERNAL)('AcceptResourceShareInvitation', {
      ResourceShareInvitationId: inv.ResourceShareInvitationId,
    });
    expect(inv).toMatchObject({
      ResourceShareId: id,
      ResourceShareName: 'share-1',
      SenderAccountId: OWNER.uid,
      ReceiverAccountId: EXTERNAL.uid,
      Status: 'Pending',
    });
    expect(accepted.ResourceShareInvitation.Status).toBe('Accepted');
    expect((await associations('Target', id))[0].External).toBe(true);
  });

  it('answers a second accept with InvitationStatus.AlreadyAccepted', async () => {
    await externalShare();
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    await rs(EXTERNAL)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId });
    const e = await errorOf(
      rs(EXTERNAL)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId }),
    );
    expect([e.statusCode, e.code]).toEqual([409, 'InvitationStatus.AlreadyAccepted']);
  });

  it('lets the recipient reject, after which accepting fails', async () => {
    await externalShare();
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    await rs(EXTERNAL)('RejectResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId });
    const e = await errorOf(
      rs(EXTERNAL)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId }),
    );
    expect([e.statusCode, e.code]).toEqual([409, 'InvitationStatus.AlreadyRejected']);
  });

  it('does not invite RD members (their invitations are accepted automatically)', async () => {
    await createShare({ Resources: [snapshot(SNAP.cmk1)], Targets: [MEMBER.uid, RD.sub] });
    const r = await rs(MEMBER)('ListResourceShareInvitations', {});
    expect([r.ResourceShareInvitations, s.emu.state.invitations]).toEqual([[], []]);
  });

  it('expires a pending invitation after seven days', async () => {
    await externalShare();
    s.emu.state.invitations[0].createTime = new Date(Date.now() - 8 * 24 * 3600 * 1000).toISOString();
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    const e = await errorOf(
      rs(EXTERNAL)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId }),
    );
    expect([inv.Status, e.statusCode, e.code]).toEqual(['Expired', 409, 'InvitationStatus.Expired']);
  });

  it('does not let another account accept the invitation', async () => {
    await externalShare();
    const [inv] = (await rs(EXTERNAL)('ListResourceShareInvitations', {})).ResourceShareInvitations;
    const e = await errorOf(
      rs(MEMBER)('AcceptResourceShareInvitation', { ResourceShareInvitationId: inv.ResourceShareInvitationId }),
    );
    expect(e.code).toBe('EntityNotExists.ResourceShareInvitation');
  });
});
