import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { handler as reconcileHandler } from '../../functions/reconcile/index';

describe('reconcile smoke', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ env: { SHARE_CHECKPOINT_FILE: `/tmp/ecs-share-test-${process.pid}.json` } });
  });
  afterAll(() => w.stop());

  it('runs', async () => {
    await w.owner.ecs.tagResources(new $Ecs.TagResourcesRequest({ regionId: 'cn-hangzhou', resourceType: 'snapshot', resourceId: [DEMO.snapshots.cmk], tag: [{ key: 'share-with', value: DEMO.externalRecipient.uid }] }));
    await w.owner.ecs.tagResources(new $Ecs.TagResourcesRequest({ regionId: 'cn-hangzhou', resourceType: 'image', resourceId: [DEMO.images.cmk], tag: [{ key: 'share-with', value: `${DEMO.externalRecipient.uid} rd-demo01/r-demo01/fd-demofold01` }] }));
    const ctx = (await import('../helpers/world')).FUNCTION_ROLE;
    void ctx;
    const r1 = await w.invoke('share' as any, { resourceId: DEMO.images.cmk, region: 'cn-hangzhou', dryRun: true });
    console.log(JSON.stringify(r1.results[0].actions));
    const run = (e: unknown) => reconcileHandler(Buffer.from(JSON.stringify(e)), { accountId: DEMO.owner.uid, credentials: w.emu.issueServiceCredentials(DEMO.owner.uid, 'ecs-share-fc-role') as any, function: { timeout: 300 } });
    const dry = await run({ action: 'reconcile', dryRun: true });
    console.log('DRY', JSON.stringify(dry.counts), dry.apiCalls, w.emu.writes().length);
    const first = await run({ action: 'reconcile' });
    console.log('FIRST', JSON.stringify(first.counts), JSON.stringify(first.errors), first.apiCalls, JSON.stringify(first.roleActions));
    w.emu.clearCalls();
    const second = await run({ action: 'reconcile' });
    console.log('SECOND', JSON.stringify(second.counts), second.apiCalls, w.emu.writes().map(c => c.action));
    await w.owner.ecs.untagResources(new $Ecs.UntagResourcesRequest({ regionId: 'cn-hangzhou', resourceType: 'image', resourceId: [DEMO.images.cmk], tagKey: ['share-with'] }));
    w.emu.clearCalls();
    const third = await run({ action: 'reconcile' });
    console.log('THIRD', JSON.stringify(third.counts), JSON.stringify(third.results.map((r: any) => [r.resourceId, r.outcome, r.actions.map((a: any) => a.kind)])), JSON.stringify(third.roleActions), w.emu.writes().map(c => c.action));
    const role = w.emu.state.roles.find(r => r.roleName === 'AliyunECSShareEncryptImageDefaultRole');
    console.log(role?.assumeRolePolicyDocument, role?.description, JSON.stringify(w.emu.state.policies.map(p => [p.policyName, p.defaultVersion])));
    expect(second.counts.unchanged).toBe(2);
  });
});
