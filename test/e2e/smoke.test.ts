import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';

describe('smoke', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.stop());

  it('shares a CMK snapshot with an external account from a tag', async () => {
    await w.owner.ecs.tagResources(new $Ecs.TagResourcesRequest({ regionId: 'cn-hangzhou', resourceType: 'snapshot', resourceId: [DEMO.snapshots.cmk], tag: [{ key: 'share-with', value: DEMO.externalRecipient.uid }] }));
    const results = await w.deliverEvents();
    console.log(JSON.stringify(results, null, 1).slice(0, 3000));
    console.log(JSON.stringify(w.emu.calls().filter(c => c.status !== 200).map(c => [c.action, c.code]), null, 0));
    expect(results[0].results[0].outcome).toMatch(/shared|pending/);
  });
});
