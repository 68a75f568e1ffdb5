// RAM tag conditions in the emulator: the operators a tag guard needs (Null, StringNotLike, ForAnyValue/ForAllValues),
// then acs:RequestTag/<key>, acs:ResourceTag/<key> and acs:PrincipalARN on the ECS tag and create/copy calls through
// the real @alicloud/ecs20140526 client, each resource of a call judged with its own tags.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import * as $Sts from '@alicloud/sts20150401';
import {
  conditionHolds,
  conditionKeyMatches,
  parsePolicyDocument,
  type ConditionBlock,
} from '../../scripts/emulator/policy';
import { ApiError } from '../../scripts/emulator/types';
import { A, allow, doc, errorOf, start, twoAccounts, type Started } from './iam-fixture';
import type { SdkClients } from '../helpers/sdk';

describe('condition operators for tag guards', () => {
  const holds = (condition: ConditionBlock, context: Record<string, string | string[]>) =>
    conditionHolds(condition, context);

  it('Null "false" holds when the key is present (an empty value too), "true" when it is absent', () => {
    const present = { Null: { 'acs:RequestTag/share-with': 'false' } };
    const absent = { Null: { 'acs:RequestTag/share-with': 'true' } };
    expect(holds(present, { 'acs:RequestTag/share-with': '1000000000000002' })).toBe(true);
    expect(holds(present, { 'acs:RequestTag/share-with': '' })).toBe(true);
    expect(holds(present, { 'acs:RequestTag/team': 'x' })).toBe(false);
    expect(holds(absent, { 'acs:RequestTag/team': 'x' })).toBe(true);
    expect(holds(absent, { 'acs:RequestTag/share-with': '' })).toBe(false);
  });

  it('StringNotLike holds for a value matching no pattern, and for a missing key', () => {
    const c = {
      StringNotLike: { 'acs:PrincipalARN': ['acs:ram:*:*:role/ecs-share-publisher', 'acs:ram:*:*:user/admin-*'] },
    };
    expect(holds(c, { 'acs:PrincipalARN': 'acs:ram::1000000000000001:user/developer' })).toBe(true);
    expect(holds(c, { 'acs:PrincipalARN': 'acs:ram::1000000000000001:role/ecs-share-publisher' })).toBe(false);
    expect(holds(c, { 'acs:PrincipalARN': 'acs:ram::1000000000000001:user/admin-jo' })).toBe(false);
    expect(holds(c, {})).toBe(true);
  });

  it('StringEquals and StringLike compare tag values case-sensitively', () => {
    expect(holds({ StringEquals: { 'acs:ResourceTag/team': 'red' } }, { 'acs:ResourceTag/team': 'red' })).toBe(true);
    expect(holds({ StringEquals: { 'acs:ResourceTag/team': 'red' } }, { 'acs:ResourceTag/team': 'Red' })).toBe(false);
    expect(holds({ StringLike: { 'acs:ResourceTag/team': 're*' } }, { 'acs:ResourceTag/team': 'red' })).toBe(true);
  });

  it('ANDs the operators of one Condition block: a guard needs both the tag and a non-publisher', () => {
    const guard = {
      Null: { 'acs:RequestTag/share-with': 'false' },
      StringNotLike: { 'acs:PrincipalARN': 'acs:ram:*:*:role/ecs-share-publisher' },
    };
    expect(holds(guard, { 'acs:RequestTag/share-with': 'x', 'acs:PrincipalARN': 'acs:ram::1:user/dev' })).toBe(true);
    expect(
      holds(guard, { 'acs:RequestTag/share-with': 'x', 'acs:PrincipalARN': 'acs:ram::1:role/ecs-share-publisher' }),
    ).toBe(false);
    expect(holds(guard, { 'acs:RequestTag/team': 'x', 'acs:PrincipalARN': 'acs:ram::1:user/dev' })).toBe(false);
  });

  it('ForAnyValue holds if one value satisfies the operator (missing: false), ForAllValues if all do (missing: true)', () => {
    const ctx = { 'acs:RequestTag/share-with': ['a', 'b'] };
    expect(holds({ 'ForAnyValue:StringEquals': { 'acs:RequestTag/share-with': 'b' } }, ctx)).toBe(true);
    expect(holds({ 'ForAllValues:StringEquals': { 'acs:RequestTag/share-with': 'b' } }, ctx)).toBe(false);
    expect(holds({ 'ForAllValues:StringLike': { 'acs:RequestTag/share-with': ['a', 'b*'] } }, ctx)).toBe(true);
    expect(holds({ 'ForAnyValue:StringNotLike': { 'acs:RequestTag/share-with': 'a' } }, ctx)).toBe(true);
    expect(holds({ 'ForAllValues:StringNotLike': { 'acs:RequestTag/share-with': 'a' } }, ctx)).toBe(false);
    expect(holds({ 'ForAnyValue:StringEquals': { 'acs:RequestTag/x': 'b' } }, ctx)).toBe(false);
    expect(holds({ 'ForAllValues:StringEquals': { 'acs:RequestTag/x': 'b' } }, ctx)).toBe(true);
  });

  it('matches condition keys case-insensitively but the tag key after the slash exactly', () => {
    expect(conditionKeyMatches('acs:requesttag/share-with', 'acs:RequestTag/share-with')).toBe(true);
    expect(conditionKeyMatches('ACS:PrincipalArn', 'acs:PrincipalARN')).toBe(true);
    expect(conditionKeyMatches('acs:RequestTag/Share-With', 'acs:RequestTag/share-with')).toBe(false);
    expect(conditionKeyMatches('acs:RequestTag/share-with', 'acs:RequestTag/share-with.2')).toBe(false);
    expect(holds({ Null: { 'ACS:REQUESTTAG/share-with': 'false' } }, { 'acs:RequestTag/share-with': 'x' })).toBe(true);
  });

  it('accepts Null and qualified operators in documents, and rejects unknown qualifiers', () => {
    const parse = (Condition: unknown) =>
      parsePolicyDocument(doc(allow('ecs:*', '*', { Condition })), 'permission', 6144);
    expect(() =>
      parse({ Null: { 'acs:RequestTag/a': 'false' }, 'ForAnyValue:StringLike': { 'acs:RequestTag/a': 'x*' } }),
    ).not.toThrow();
    for (const bad of [
      'ForSomeValue:StringEquals',
      'ForAnyValue:Null',
      'ForAnyValue:StringEquals:x',
      'ForAllValues:',
    ]) {
      const err = (() => {
        try {
          parse({ [bad]: { k: 'v' } });
        } catch (e) {
          return e;
        }
      })();
      expect(err, bad).toBeInstanceOf(ApiError);
      expect((err as ApiError).code).toBe('MalformedPolicyDocument');
    }
  });
});

// ---------------------------------------------------------------- through the emulator

const R = 'cn-hangzhou';
const RED = 's-tagcondred00000001';
const BLUE = 's-tagcondblue0000001';
const PLAIN = 's-tagcondplain000001';
const DISK = 'd-tagcond00000000001';
const IMAGE = 'm-tagcond00000000001';

let s: Started;
let root: SdkClients;
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;

beforeAll(async () => {
  const state = twoAccounts({ options: { readyDelayMs: 0 } });
  const snap = (snapshotId: string, tags: Record<string, string>) => ({
    snapshotId,
    accountId: A.uid,
    region: R,
    encrypted: false,
    status: 'accomplished' as const,
    size: 40,
    tags,
  });
  state.disks = [
    {
      diskId: DISK,
      accountId: A.uid,
      region: R,
      zoneId: 'cn-hangzhou-h',
      size: 40,
      category: 'cloud_essd',
      encrypted: false,
    },
  ];
  state.snapshots = [
    snap(RED, { team: 'red' }),
    snap(BLUE, { team: 'blue', 'share-with': '1000000000000002' }),
    snap(PLAIN, {}),
  ];
  state.images = [
    {
      imageId: IMAGE,
      accountId: A.uid,
      region: R,
      status: 'Available',
      diskMappings: [{ device: '/dev/xvda', snapshotId: PLAIN, type: 'system' }],
      tags: { team: 'red' },
      sharedWith: [],
    },
  ];
  s = await start(state);
  root = s.clients(A);
});
afterAll(() => s.emu.stop());

const deny = (Action: unknown, Condition: unknown) => ({ Effect: 'Deny', Action, Resource: '*', Condition });

/** A RAM user of account A with ecs:* allowed and `extra` statements (denies) on top. */
async function userWith(...extra: unknown[]): Promise<{ name: string; c: SdkClients }> {
  const userName = unique('user');
  const policyName = unique('policy');
  await root.ram.createUser(new $Ram.CreateUserRequest({ userName }));
  await root.ram.createPolicy(
    new $Ram.CreatePolicyRequest({ policyName, policyDocument: doc(allow(['ecs:*', 'sts:AssumeRole']), ...extra) }),
  );
  await root.ram.attachPolicyToUser(new $Ram.AttachPolicyToUserRequest({ userName, policyName, policyType: 'Custom' }));
  const key = (await root.ram.createAccessKey(new $Ram.CreateAccessKeyRequest({ userName }))).body!.accessKey!;
  return { name: userName, c: s.clients({ accessKeyId: key.accessKeyId!, accessKeySecret: key.accessKeySecret! }) };
}

async function tagsOf(id: string, type = 'snapshot'): Promise<Record<string, string>> {
  const res = await root.ecs.listTagResources(
    new $Ecs.ListTagResourcesRequest({ regionId: R, resourceType: type, resourceId: [id] }),
  );
  return Object.fromEntries((res.body!.tagResources?.tagResource ?? []).map((t) => [t.tagKey!, t.tagValue ?? '']));
}

const tagIt = (c: SdkClients, ids: string[], tags: Record<string, string>, type = 'snapshot') =>
  c.ecs.tagResources(
    new $Ecs.TagResourcesRequest({
      regionId: R,
      resourceType: type,
      resourceId: ids,
      tag: Object.entries(tags).map(([key, value]) => ({ key, value })),
    }),
  );

async function forbidden(p: Promise<unknown>): Promise<void> {
  const err = await errorOf(p);
  expect([err.code, err.statusCode]).toEqual(['Forbidden.RAM', 403]);
}

describe('acs:RequestTag on the tag calls', () => {
  it('TagResources carries each Tag.N: a deny on one key refuses it, other keys pass', async () => {
    const { c } = await userWith(deny('ecs:TagResources', { Null: { 'acs:RequestTag/share-with': 'false' } }));
    await forbidden(tagIt(c, [PLAIN], { team: 'green', 'share-with': '1000000000000002' }));
    expect(await tagsOf(PLAIN)).toEqual({});
    await tagIt(c, [PLAIN], { team: 'green' });
    expect(await tagsOf(PLAIN)).toEqual({ team: 'green' });
  });

  it('compares the value: StringEquals on a RequestTag value', async () => {
    const { c } = await userWith(deny('ecs:TagResources', { StringEquals: { 'acs:RequestTag/env': 'prod' } }));
    await forbidden(tagIt(c, [PLAIN], { env: 'prod' }));
    await tagIt(c, [PLAIN], { env: 'dev' });
    expect((await tagsOf(PLAIN)).env).toBe('dev');
  });

  it('AddTags carries its Tag.N', async () => {
    const { c } = await userWith(deny('ecs:AddTags', { Null: { 'acs:RequestTag/share-with.2': 'false' } }));
    await forbidden(
      c.ecs.addTags(
        new $Ecs.AddTagsRequest({
          regionId: R,
          resourceType: 'snapshot',
          resourceId: PLAIN,
          tag: [{ key: 'share-with.2', value: 'x' }],
        }),
      ),
    );
    expect(await tagsOf(PLAIN)).not.toHaveProperty('share-with.2');
  });

  it('UntagResources carries a RequestTag per removed key, valued as on the resource (the harder reading)', async () => {
    const { c } = await userWith(
      deny('ecs:UntagResources', { StringEquals: { 'acs:RequestTag/share-with': '1000000000000002' } }),
      deny('ecs:UntagResources', { Null: { 'acs:RequestTag/locked': 'false' } }),
    );
    await forbidden(
      c.ecs.untagResources(
        new $Ecs.UntagResourcesRequest({
          regionId: R,
          resourceType: 'snapshot',
          resourceId: [BLUE],
          tagKey: ['share-with'],
        }),
      ),
    );
    expect(await tagsOf(BLUE)).toHaveProperty('share-with', '1000000000000002');
    // A key the resource lacks is still carried (empty value), so a Null guard catches it.
    await forbidden(
      c.ecs.untagResources(
        new $Ecs.UntagResourcesRequest({
          regionId: R,
          resourceType: 'snapshot',
          resourceId: [RED],
          tagKey: ['locked'],
        }),
      ),
    );
    // All=true carries every key on the resource.
    await forbidden(
      c.ecs.untagResources(
        new $Ecs.UntagResourcesRequest({ regionId: R, resourceType: 'snapshot', resourceId: [BLUE], all: true }),
      ),
    );
    expect(await tagsOf(BLUE)).toHaveProperty('share-with');
  });

  it('RemoveTags carries its Tag.N.Key, valued as sent or as on the resource', async () => {
    const { c } = await userWith(
      deny('ecs:RemoveTags', { StringEquals: { 'acs:RequestTag/share-with': '1000000000000002' } }),
    );
    await forbidden(
      c.ecs.removeTags(
        new $Ecs.RemoveTagsRequest({
          regionId: R,
          resourceType: 'snapshot',
          resourceId: BLUE,
          tag: [{ key: 'share-with' }],
        }),
      ),
    );
    expect(await tagsOf(BLUE)).toHaveProperty('share-with');
  });
});

describe('acs:ResourceTag, per resource', () => {
  it('judges each ResourceId.N with its own tags: one denied resource refuses the whole call, nothing changes', async () => {
    const { c } = await userWith(deny('ecs:TagResources', { StringEquals: { 'acs:ResourceTag/team': 'blue' } }));
    const err = await errorOf(tagIt(c, [RED, BLUE], { note: 'both' }));
    expect([err.code, err.statusCode]).toEqual(['Forbidden.RAM', 403]);
    expect(err.accessDeniedDetail.NoPermissionType).toBe('ExplicitDeny');
    const detail = JSON.parse(Buffer.from(err.accessDeniedDetail.EncodedDiagnosticMessage, 'base64').toString());
    expect(detail.Resources).toEqual([
      `acs:ecs:${R}:${A.uid}:snapshot/${RED}`,
      `acs:ecs:${R}:${A.uid}:snapshot/${BLUE}`,
    ]);
    expect(await tagsOf(RED)).not.toHaveProperty('note');
    expect(await tagsOf(BLUE)).not.toHaveProperty('note');
    // Alone, the red snapshot passes: its own tags do not match the deny.
    await tagIt(c, [RED], { note: 'red only' });
    expect((await tagsOf(RED)).note).toBe('red only');
  });

  it('a guard on a resource already carrying a tag (Null ResourceTag) blocks every tag change on it, not on others', async () => {
    const { c } = await userWith(
      deny(['ecs:TagResources', 'ecs:UntagResources'], { Null: { 'acs:ResourceTag/share-with': 'false' } }),
    );
    await forbidden(tagIt(c, [BLUE], { note: 'x' }));
    await forbidden(
      c.ecs.untagResources(
        new $Ecs.UntagResourcesRequest({ regionId: R, resourceType: 'snapshot', resourceId: [BLUE], tagKey: ['team'] }),
      ),
    );
    await tagIt(c, [RED], { note: 'fine' });
  });

  it('an Allow conditioned on ResourceTag admits only the matching resources', async () => {
    const userName = unique('user');
    const policyName = unique('policy');
    await root.ram.createUser(new $Ram.CreateUserRequest({ userName }));
    await root.ram.createPolicy(
      new $Ram.CreatePolicyRequest({
        policyName,
        policyDocument: doc(
          allow('ecs:TagResources', '*', { Condition: { StringEquals: { 'acs:ResourceTag/team': 'red' } } }),
        ),
      }),
    );
    await root.ram.attachPolicyToUser(
      new $Ram.AttachPolicyToUserRequest({ userName, policyName, policyType: 'Custom' }),
    );
    const key = (await root.ram.createAccessKey(new $Ram.CreateAccessKeyRequest({ userName }))).body!.accessKey!;
    const c = s.clients({ accessKeyId: key.accessKeyId!, accessKeySecret: key.accessKeySecret! });
    await tagIt(c, [RED], { owner: 'red-team' });
    const err = await errorOf(tagIt(c, [RED, BLUE], { owner: 'red-team' }));
    expect(err.code).toBe('Forbidden.RAM');
    expect(err.accessDeniedDetail.NoPermissionType).toBe('ImplicitDeny');
    expect(await tagsOf(BLUE)).not.toHaveProperty('owner');
  });

  it("CopySnapshot and CopyImage see the source resource's tags", async () => {
    const { c } = await userWith(
      deny(['ecs:CopySnapshot', 'ecs:CopyImage'], { StringEquals: { 'acs:ResourceTag/team': 'red' } }),
    );
    await forbidden(
      c.ecs.copySnapshot(new $Ecs.CopySnapshotRequest({ regionId: R, snapshotId: RED, destinationRegionId: R })),
    );
    await forbidden(
      c.ecs.copyImage(new $Ecs.CopyImageRequest({ regionId: R, imageId: IMAGE, destinationRegionId: R })),
    );
    const copy = await c.ecs.copySnapshot(
      new $Ecs.CopySnapshotRequest({ regionId: R, snapshotId: PLAIN, destinationRegionId: R }),
    );
    expect(copy.body!.snapshotId).toMatch(/^s-/);
  });
});

describe('acs:RequestTag on the create and copy calls', () => {
  it('CreateSnapshot, CopySnapshot, CreateImage and CopyImage carry their Tag.N', async () => {
    const guard = deny(['ecs:CreateSnapshot', 'ecs:CopySnapshot', 'ecs:CreateImage', 'ecs:CopyImage'], {
      Null: { 'acs:RequestTag/share-with': 'false' },
    });
    const { c } = await userWith(guard);
    const shareTag = [{ key: 'share-with', value: '1000000000000002' }];
    const before = s.emu.getState().snapshots!.length;
    await forbidden(c.ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: DISK, tag: shareTag })));
    await forbidden(
      c.ecs.copySnapshot(
        new $Ecs.CopySnapshotRequest({ regionId: R, snapshotId: PLAIN, destinationRegionId: R, tag: shareTag }),
      ),
    );
    await forbidden(c.ecs.createImage(new $Ecs.CreateImageRequest({ regionId: R, snapshotId: PLAIN, tag: shareTag })));
    await forbidden(
      c.ecs.copyImage(
        new $Ecs.CopyImageRequest({ regionId: R, imageId: IMAGE, destinationRegionId: R, tag: shareTag }),
      ),
    );
    expect(s.emu.getState().snapshots!.length).toBe(before);
    const made = await c.ecs.createSnapshot(
      new $Ecs.CreateSnapshotRequest({ diskId: DISK, tag: [{ key: 'team', value: 'red' }] }),
    );
    expect(made.body!.snapshotId).toMatch(/^s-/);
  });
});

describe('acs:PrincipalARN', () => {
  it('is the RAM user ARN for a user', async () => {
    const first = await userWith(
      deny('ecs:TagResources', { StringLike: { 'acs:PrincipalARN': 'acs:ram::*:user/user-*' } }),
    );
    await forbidden(tagIt(first.c, [PLAIN], { x: '1' }));
    const exempt = await userWith(
      deny('ecs:TagResources', { StringNotLike: { 'acs:PrincipalARN': `acs:ram::${A.uid}:user/user-*` } }),
    );
    await tagIt(exempt.c, [PLAIN], { x: '2' });
  });

  it('is the role ARN (not the session ARN) for a role session', async () => {
    const roleName = unique('Publisher');
    const policyName = unique('policy');
    const trust = doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${A.uid}:root`] } });
    const role = await root.ram.createRole(new $Ram.CreateRoleRequest({ roleName, assumeRolePolicyDocument: trust }));
    const arn = role.body!.role!.arn!;
    await root.ram.createPolicy(
      new $Ram.CreatePolicyRequest({
        policyName,
        policyDocument: doc(
          allow('ecs:*'),
          deny('ecs:TagResources', { StringNotEquals: { 'acs:PrincipalARN': `acs:ram::${A.uid}:role/${roleName}` } }),
        ),
      }),
    );
    await root.ram.attachPolicyToRole(
      new $Ram.AttachPolicyToRoleRequest({ roleName, policyName, policyType: 'Custom' }),
    );
    const { c: user } = await userWith();
    const creds = (await user.sts.assumeRole(new $Sts.AssumeRoleRequest({ roleArn: arn, roleSessionName: 'sess' })))
      .body!.credentials!;
    const session = s.clients({
      accessKeyId: creds.accessKeyId!,
      accessKeySecret: creds.accessKeySecret!,
      securityToken: creds.securityToken!,
    });
    await tagIt(session, [PLAIN], { byRole: 'yes' });
    expect((await tagsOf(PLAIN)).byRole).toBe('yes');
    // The same policy denies a session whose ARN would be the assumed-role form.
    const denyAssumed = unique('policy');
    await root.ram.createPolicy(
      new $Ram.CreatePolicyRequest({
        policyName: denyAssumed,
        policyDocument: doc(deny('ecs:UntagResources', { StringLike: { 'acs:PrincipalARN': '*:assumed-role/*' } })),
      }),
    );
    await root.ram.attachPolicyToRole(
      new $Ram.AttachPolicyToRoleRequest({ roleName, policyName: denyAssumed, policyType: 'Custom' }),
    );
    await session.ecs.untagResources(
      new $Ecs.UntagResourcesRequest({
        regionId: R,
        resourceType: 'snapshot',
        resourceId: [PLAIN],
        tagKey: ['byRole'],
      }),
    );
    expect(await tagsOf(PLAIN)).not.toHaveProperty('byRole');
  });
});
