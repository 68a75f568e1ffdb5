// Who asked: every outcome on-tag produces carries the principal of the tag call (ActionTrail userIdentity: type,
// account, principal id, RAM user or role and session — never its access key id), in the result and on the log
// line; the timer's outcomes say "timer", a hand invocation's "manual".
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import * as $Sts from '@alicloud/sts20150401';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { sdkClients, type SdkClients } from '../helpers/sdk';
import { e2eState, E2E } from '../helpers/states';
import { outcomeFor, outcomes, untag, logLines } from '../helpers/e2e';
import { reconcile, reconcileWorld, resultFor } from '../helpers/reconcile';
import type { World } from '../helpers/world';

const member = DEMO.rdRecipient.uid;
const owner = DEMO.owner.uid;

async function tagAs(c: SdkClients, id: string, value: string): Promise<void> {
  await c.ecs.tagResources(
    new $Ecs.TagResourcesRequest({
      regionId: DEMO.region,
      resourceType: 'snapshot',
      resourceId: [id],
      tag: [{ key: 'share-with', value }],
    }),
  );
}

describe('requestedBy', () => {
  let w: World;
  let user: SdkClients;
  let userKeyId: string;
  let role: SdkClients;
  let roleKeyId: string;

  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await w.owner.ram.createUser(new $Ram.CreateUserRequest({ userName: 'alice' }));
    await w.owner.ram.attachPolicyToUser(
      new $Ram.AttachPolicyToUserRequest({
        userName: 'alice',
        policyName: 'AliyunECSFullAccess',
        policyType: 'System',
      }),
    );
    await w.owner.ram.attachPolicyToUser(
      new $Ram.AttachPolicyToUserRequest({
        userName: 'alice',
        policyName: 'AliyunSTSAssumeRoleAccess',
        policyType: 'System',
      }),
    );
    const key = (await w.owner.ram.createAccessKey(new $Ram.CreateAccessKeyRequest({ userName: 'alice' }))).body!
      .accessKey!;
    userKeyId = key.accessKeyId!;
    user = sdkClients(w.emu.endpoint, { accessKeyId: key.accessKeyId!, accessKeySecret: key.accessKeySecret! });
    const trust = {
      Version: '1',
      Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${owner}:root`] } }],
    };
    await w.owner.ram.createRole(
      new $Ram.CreateRoleRequest({ roleName: 'publisher', assumeRolePolicyDocument: JSON.stringify(trust) }),
    );
    await w.owner.ram.attachPolicyToRole(
      new $Ram.AttachPolicyToRoleRequest({
        roleName: 'publisher',
        policyName: 'AliyunECSFullAccess',
        policyType: 'System',
      }),
    );
    const assumed = await user.sts.assumeRole(
      new $Sts.AssumeRoleRequest({ roleArn: `acs:ram::${owner}:role/publisher`, roleSessionName: 'release-42' }),
    );
    const c = assumed.body!.credentials!;
    roleKeyId = c.accessKeyId!;
    role = sdkClients(w.emu.endpoint, {
      accessKeyId: c.accessKeyId!,
      accessKeySecret: c.accessKeySecret!,
      securityToken: c.securityToken!,
    });
  });
  afterAll(() => w.stop());

  it('names the RAM user whose tag call asked, in the outcome and on its log lines, without the access key id', async () => {
    const snap = E2E.spareSnapshots[0];
    await tagAs(user, snap, member);
    let results: any[] = [];
    const lines = await logLines(async () => {
      results = await w.deliverEvents();
    });
    const o = outcomeFor(outcomes(results), snap) as any;
    expect(o.outcome).toBe('shared');
    expect(o.requestedBy).toMatchObject({ type: 'ram-user', accountId: owner, userName: 'alice' });
    expect(typeof o.requestedBy.principalId).toBe('string');
    const mine = lines.filter((l) => l.resourceId === snap);
    expect(mine.length).toBeGreaterThan(0);
    for (const l of mine) expect(l.requestedBy).toEqual(o.requestedBy);
    expect(JSON.stringify([results, lines])).not.toContain(userKeyId);
  });

  it("names the role and its session of an assumed role's tag call", async () => {
    const snap = E2E.spareSnapshots[1];
    await tagAs(role, snap, member);
    const o = outcomeFor(outcomes(await w.deliverEvents()), snap) as any;
    expect(o.outcome).toBe('shared');
    expect(o.requestedBy).toMatchObject({
      type: 'assumed-role',
      accountId: owner,
      roleName: 'publisher',
      roleSession: 'release-42',
    });
    expect(JSON.stringify(o)).not.toContain(roleKeyId);
  });

  it('names the principal of a take-back too (untag by the owner root account)', async () => {
    const snap = E2E.spareSnapshots[0];
    await untag(w, snap);
    const o = outcomeFor(outcomes(await w.deliverEvents()), snap) as any;
    expect(o.outcome).toBe('revoked');
    expect(o.requestedBy).toMatchObject({ type: 'root-account', accountId: owner });
  });

  it('says "timer" on the outcomes of a scheduled reconcile and "manual" on a hand invocation', async () => {
    // Drift the role shares with, so the pass has outcomes to report.
    const snap = E2E.spareSnapshots[2];
    await w.owner.ecs.tagResources(
      new $Ecs.TagResourcesRequest({
        regionId: DEMO.region,
        resourceType: 'snapshot',
        resourceId: [snap],
        tag: [{ key: 'share-with', value: member }],
      }),
    );
    const timer = await w.invoke('reconcile', {
      triggerTime: new Date().toISOString(),
      triggerName: 'reconcile-timer',
      payload: '{"action":"reconcile"}',
    });
    expect(resultFor(timer, snap)?.requestedBy).toBe('timer');
    await w.owner.ecs.tagResources(
      new $Ecs.TagResourcesRequest({
        regionId: DEMO.region,
        resourceType: 'snapshot',
        resourceId: [snap],
        tag: [{ key: 'share-with', value: `${member} ${E2E.rootMember}` }],
      }),
    );
    const manual = await reconcile(w);
    expect(resultFor(manual, snap)?.requestedBy).toBe('manual');
    const share = await w.invoke('share', { action: 'share', resourceId: E2E.spareSnapshots[3], dryRun: true });
    expect(share.results[0].requestedBy).toBe('manual');
  });
});
