// What organisation mode needs of the emulator, through the real SDKs and the generic call: a member role assumed
// across accounts only by the principal its trust names (and only with the caller's own sts:AssumeRole), and the
// resource directory listed by ResourceManager ListAccounts / ListAccountsForParent, paged, for the directory's
// manager alone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import * as $Sts from '@alicloud/sts20150401';
import {
  EXTERNAL,
  MEMBER,
  NESTED,
  OWNER,
  RD,
  SIBLING,
  SNAP,
  baseState,
  errorOf,
  start,
  type Started,
} from './share-fixture';
import type { SdkClients } from '../helpers/sdk';

const V = '2020-03-31';
const CENTRAL_ROLE = 'ecs-share-fc-role';
const MEMBER_ROLE = 'ecs-share-member';
const fcTrust = JSON.stringify({
  Version: '1',
  Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } }],
});
const memberTrust = (central: string, role = CENTRAL_ROLE) =>
  JSON.stringify({
    Version: '1',
    Statement: [
      { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${central}:role/${role}`] } },
    ],
  });
const assumePolicy = JSON.stringify({
  Version: '1',
  Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Resource: `acs:ram::*:role/${MEMBER_ROLE}` }],
});

let s: Started;
beforeAll(async () => {
  s = await start(baseState());
  // The central function role in OWNER (FC's trust), allowed to assume the member role anywhere; a second role without it.
  const owner = s.as(OWNER);
  for (const roleName of [CENTRAL_ROLE, 'other-fc-role'])
    await owner.ram.createRole(new $Ram.CreateRoleRequest({ roleName, assumeRolePolicyDocument: fcTrust }));
  await owner.ram.createPolicy(
    new $Ram.CreatePolicyRequest({ policyName: 'assume-member', policyDocument: assumePolicy }),
  );
  for (const roleName of [CENTRAL_ROLE, 'other-fc-role'])
    await owner.ram.attachPolicyToRole(
      new $Ram.AttachPolicyToRoleRequest({ roleName, policyName: 'assume-member', policyType: 'Custom' }),
    );
  // The member role in MEMBER, trusting only OWNER's central role; the same role in SIBLING trusting EXTERNAL's.
  await s
    .as(MEMBER)
    .ram.createRole(
      new $Ram.CreateRoleRequest({ roleName: MEMBER_ROLE, assumeRolePolicyDocument: memberTrust(OWNER.uid) }),
    );
  await s
    .as(SIBLING)
    .ram.createRole(
      new $Ram.CreateRoleRequest({ roleName: MEMBER_ROLE, assumeRolePolicyDocument: memberTrust(EXTERNAL.uid) }),
    );
});
afterAll(() => s.emu.stop());

function roleSession(uid: string, roleName: string): SdkClients {
  const c = s.emu.issueServiceCredentials(uid, roleName, 'fc.aliyuncs.com');
  return s.as({ accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken });
}
const assume = (who: SdkClients, uid: string) =>
  who.sts.assumeRole(
    new $Sts.AssumeRoleRequest({
      roleArn: `acs:ram::${uid}:role/${MEMBER_ROLE}`,
      roleSessionName: 'ecs-share',
      durationSeconds: 3600,
    }),
  );

describe('cross-account AssumeRole of a member role', () => {
  it('gives the central function role a session that acts as the member account', async () => {
    const c = (await assume(roleSession(OWNER.uid, CENTRAL_ROLE), MEMBER.uid)).body!.credentials!;
    expect(Date.parse(c.expiration!)).toBeGreaterThan(Date.now() + 50 * 60_000);
    const session = s.as({
      accessKeyId: c.accessKeyId!,
      accessKeySecret: c.accessKeySecret!,
      securityToken: c.securityToken!,
    });
    const who = (await session.sts.getCallerIdentity()).body!;
    expect([who.accountId, who.arn]).toEqual([
      MEMBER.uid,
      `acs:ram::${MEMBER.uid}:assumed-role/${MEMBER_ROLE}/ecs-share`,
    ]);
  });

  it('refuses another role of the central account, even one allowed sts:AssumeRole', async () => {
    const e = await errorOf(assume(roleSession(OWNER.uid, 'other-fc-role'), MEMBER.uid));
    expect([e.statusCode, e.code]).toEqual([403, 'NoPermission']);
  });

  it("refuses the central account's root, which the trust does not name", async () => {
    expect((await errorOf(assume(s.as(OWNER), MEMBER.uid))).code).toBe('NoPermission');
  });

  it('refuses the central function role where the member role trusts another account', async () => {
    expect((await errorOf(assume(roleSession(OWNER.uid, CENTRAL_ROLE), SIBLING.uid))).code).toBe('NoPermission');
  });

  it('answers EntityNotExist.Role where the member has no such role', async () => {
    expect((await errorOf(assume(roleSession(OWNER.uid, CENTRAL_ROLE), NESTED.uid))).code).toBe('EntityNotExist.Role');
  });
});

describe('ResourceManager ListAccounts and ListAccountsForParent', () => {
  const ids = (body: any) => body.Accounts.Account.map((a: { AccountId: string }) => a.AccountId);

  it('lists every account of the directory, the management account first, page by page', async () => {
    const owner = s.as(OWNER);
    const first = await owner.call('ListAccounts', V, { PageSize: 2 });
    expect(first).toMatchObject({ PageNumber: 1, PageSize: 2, TotalCount: 4 });
    expect(ids(first)).toEqual([OWNER.uid, MEMBER.uid]);
    const second = await owner.call('ListAccounts', V, { PageSize: 2, PageNumber: 2 });
    expect(ids(second)).toEqual([NESTED.uid, SIBLING.uid]);
    expect(ids(await owner.call('ListAccounts', V, { PageSize: 2, PageNumber: 3 }))).toEqual([]);
    expect(first.Accounts.Account[1]).toMatchObject({
      FolderId: RD.team,
      ResourceDirectoryId: RD.id,
      ResourceDirectoryPath: `${RD.id}/${RD.root}/${RD.team}/${MEMBER.uid}`,
      Status: 'InviteSuccess',
    });
  });

  it('defaults to 10 per page and refuses a page size above 100', async () => {
    expect((await s.as(OWNER).call('ListAccounts', V, {})).PageSize).toBe(10);
    expect((await errorOf(s.as(OWNER).call('ListAccounts', V, { PageSize: 101 }))).statusCode).toBe(400);
  });

  it('lists only the accounts directly in a folder', async () => {
    const body = await s.as(OWNER).call('ListAccountsForParent', V, { ParentFolderId: RD.team });
    expect([ids(body), body.TotalCount]).toEqual([[MEMBER.uid], 1]);
    expect(ids(await s.as(OWNER).call('ListAccountsForParent', V, { ParentFolderId: RD.root }))).toEqual([OWNER.uid]);
  });

  it('answers EntityNotExists.Folder for an unknown folder and MissingParameter without one', async () => {
    expect(
      (await errorOf(s.as(OWNER).call('ListAccountsForParent', V, { ParentFolderId: 'fd-nosuchfold' }))).code,
    ).toBe('EntityNotExists.Folder');
    expect((await errorOf(s.as(OWNER).call('ListAccountsForParent', V, {}))).code).toBe('MissingParameter');
  });

  it('refuses a member account and an account outside any directory', async () => {
    expect((await errorOf(s.as(MEMBER).call('ListAccounts', V, {}))).code).toBe(
      'NoPermission.ResourceDirectory.MemberAccount',
    );
    expect((await errorOf(s.as(EXTERNAL).call('ListAccounts', V, {}))).code).toBe('NotExists.ResourceDirectory');
  });

  it('needs resourcemanager:ListAccounts for a role of the management account', async () => {
    const e = await errorOf(roleSession(OWNER.uid, CENTRAL_ROLE).call('ListAccounts', V, {}));
    expect([e.statusCode, e.code]).toEqual([403, 'NoPermission']);
  });
});

describe("a member's cross-account event routing (state.eventRoutes)", () => {
  let r: Started;
  const MEMBER_SNAP = 's-member00000000001';
  beforeAll(async () => {
    const state = baseState();
    state.snapshots!.push({
      snapshotId: MEMBER_SNAP,
      accountId: MEMBER.uid,
      region: 'cn-hangzhou',
      encrypted: false,
      status: 'accomplished',
      size: 40,
      creationTime: '2026-11-01T00:00:00Z',
      tags: {},
    });
    state.eventRoutes = [{ fromAccountId: MEMBER.uid, toAccountId: OWNER.uid, bus: 'ecs-share-members' }];
    r = await start(state);
  });
  afterAll(() => r.emu.stop());

  const tagAs = async (who: typeof OWNER, id: string) => {
    await r.as(who).call('TagResources', '2014-05-26', {
      RegionId: 'cn-hangzhou',
      ResourceType: 'snapshot',
      'ResourceId.1': id,
      'Tag.1.Key': 'share-with',
      'Tag.1.Value': EXTERNAL.uid,
    });
    await r.emu.flushEvents();
    return r.emu.events().at(-1)!;
  };

  it("delivers the member's event to the receiving account's bus, keeping the member as the original account", async () => {
    const e = await tagAs(MEMBER, MEMBER_SNAP);
    expect([e.aliyunaccountid, e.aliyunoriginalaccountid, e.aliyuneventbusname]).toEqual([
      OWNER.uid,
      MEMBER.uid,
      'ecs-share-members',
    ]);
    expect(e.data.referencedResources).toEqual({ 'ACS::ECS::Snapshot': [MEMBER_SNAP] });
  });

  it("leaves an account's events without a route as they were", async () => {
    const e = await tagAs(OWNER, SNAP.plain);
    expect([e.aliyunaccountid, e.aliyunoriginalaccountid, e.aliyuneventbusname]).toEqual([
      OWNER.uid,
      undefined,
      'default',
    ]);
  });
});
