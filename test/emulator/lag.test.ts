// Read-after-write lag (readLagMs): the reads a client verifies its writes with answer with the state as of readLagMs
// ago, from a small history of versions per entity; later they catch up.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import {
  IMG,
  MEMBER,
  OWNER,
  REGION,
  SNAP,
  baseState,
  errorOf,
  ideal,
  sleep,
  start,
  type Started,
} from './share-fixture';
import { allow, doc, trustAccount } from './iam-fixture';

const LAG = 250;
let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(() => s.emu.stop());

const ram = () => s.as(OWNER).ram;
const ecs = () => s.as(OWNER).ecs;
const rs = (action: string, query: Record<string, unknown>) => s.as(OWNER).rs(action, { RegionId: REGION, ...query });
const load = () => s.emu.setState(ideal({ ...baseState(), options: { readLagMs: LAG } }));
const trustOf = async (roleName: string) =>
  JSON.parse((await ram().getRole(new $Ram.GetRoleRequest({ roleName }))).body!.role!.assumeRolePolicyDocument!)
    .Statement[0].Principal.RAM;

describe('read-after-write lag', () => {
  it('GetRole does not see a role just created, then does', async () => {
    load();
    await ram().createRole(
      new $Ram.CreateRoleRequest({ roleName: 'Fresh', assumeRolePolicyDocument: trustAccount(OWNER.uid) }),
    );
    const early = await errorOf(ram().getRole(new $Ram.GetRoleRequest({ roleName: 'Fresh' })));
    expect([early.statusCode, early.code]).toEqual([404, 'EntityNotExist.Role']);
    await sleep(LAG + 50);
    expect((await ram().getRole(new $Ram.GetRoleRequest({ roleName: 'Fresh' }))).body!.role!.roleName).toBe('Fresh');
  });

  it('GetRole shows the trust policy as it was before an update, then the new one', async () => {
    load();
    await ram().createRole(
      new $Ram.CreateRoleRequest({ roleName: 'Moving', assumeRolePolicyDocument: trustAccount(OWNER.uid) }),
    );
    await sleep(LAG + 50);
    await ram().updateRole(
      new $Ram.UpdateRoleRequest({ roleName: 'Moving', newAssumeRolePolicyDocument: trustAccount(MEMBER.uid) }),
    );
    expect(await trustOf('Moving')).toEqual([`acs:ram::${OWNER.uid}:root`]);
    await sleep(LAG + 50);
    expect(await trustOf('Moving')).toEqual([`acs:ram::${MEMBER.uid}:root`]);
  });

  it('GetPolicyVersion and GetPolicy lag behind a new default version', async () => {
    load();
    await ram().createPolicy(
      new $Ram.CreatePolicyRequest({ policyName: 'lagging', policyDocument: doc(allow('ecs:DescribeImages')) }),
    );
    await sleep(LAG + 50);
    await ram().createPolicyVersion(
      new $Ram.CreatePolicyVersionRequest({
        policyName: 'lagging',
        policyDocument: doc(allow('ecs:DescribeSnapshots')),
        setAsDefault: true,
      }),
    );
    const v2 = await errorOf(
      ram().getPolicyVersion(
        new $Ram.GetPolicyVersionRequest({ policyName: 'lagging', policyType: 'Custom', versionId: 'v2' }),
      ),
    );
    const policy = await ram().getPolicy(new $Ram.GetPolicyRequest({ policyName: 'lagging', policyType: 'Custom' }));
    expect([v2.code, policy.body!.defaultPolicyVersion!.versionId]).toEqual(['EntityNotExist.Policy.Version', 'v1']);
    await sleep(LAG + 50);
    const later = await ram().getPolicy(new $Ram.GetPolicyRequest({ policyName: 'lagging', policyType: 'Custom' }));
    expect(later.body!.defaultPolicyVersion!.versionId).toBe('v2');
  });

  it('DescribeImageSharePermission lists an account added a moment ago only later', async () => {
    load();
    await ecs().modifyImageSharePermission(
      new $Ecs.ModifyImageSharePermissionRequest({ regionId: REGION, imageId: IMG.plain, addAccount: [MEMBER.uid] }),
    );
    const read = async () =>
      (
        await ecs().describeImageSharePermission(
          new $Ecs.DescribeImageSharePermissionRequest({ regionId: REGION, imageId: IMG.plain }),
        )
      ).body!.accounts?.account?.map((a) => a.aliyunId) ?? [];
    expect(await read()).toEqual([]);
    await sleep(LAG + 50);
    expect(await read()).toEqual([MEMBER.uid]);
  });

  it("ListResourceShareAssociations shows a new share's associations only later", async () => {
    load();
    const r = await rs('CreateResourceShare', {
      ResourceShareName: 'lagged',
      Resources: [{ ResourceId: SNAP.cmk1, ResourceType: 'Snapshot' }],
      Targets: [MEMBER.uid],
    });
    const read = async () =>
      (
        await rs('ListResourceShareAssociations', {
          AssociationType: 'Target',
          ResourceShareIds: [r.ResourceShare.ResourceShareId],
        })
      ).ResourceShareAssociations.map((a: any) => a.EntityId);
    expect(await read()).toEqual([]);
    await sleep(LAG + 50);
    expect(await read()).toEqual([MEMBER.uid]);
  });

  it('is off with readLagMs 0: every read shows the last write', async () => {
    s.emu.setState(ideal(baseState()));
    await ram().createRole(
      new $Ram.CreateRoleRequest({ roleName: 'AtOnce', assumeRolePolicyDocument: trustAccount(OWNER.uid) }),
    );
    expect((await ram().getRole(new $Ram.GetRoleRequest({ roleName: 'AtOnce' }))).body!.role!.roleName).toBe('AtOnce');
  });
});
