// Tags set at creation produce CreateSnapshot / CopyImage events, not TagResources: the new resource is shared from
// them, and the source it was made from is left alone. A new resource is not ready at once (the emulator's
// readyDelayMs, minutes in the real cloud): the event answers pending NotReady, and once it is ready the next run
// (here the timer) shares it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { afterReadLag, outcomes, toolShare, use, imageShareAccounts, shareWrites } from '../helpers/e2e';

describe('resources created with a share-with tag', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
    w.emu.clearCalls();
  });
  afterAll(() => w.stop());

  /**
   * The create event arrives while the resource is not ready: on-tag fails the invocation so EventBridge delivers it
   * again (the trigger's retry strategy spans a day), and nothing is written meanwhile; delivered once it is ready,
   * the same event shares it.
   */
  async function shareOnceReady(id: string): Promise<void> {
    await w.emu.flushEvents();
    w.emu.clearCalls();
    const event = w.emu
      .events()
      .filter((e) => JSON.stringify(e.data).includes(id))
      .at(-1)!;
    await expect(w.invoke('on-tag', event)).rejects.toMatchObject({
      code: 'TransientFailure',
      message: expect.stringContaining('NotReady'),
    });
    expect(shareWrites(w)).toEqual([]);
    await new Promise((r) => setTimeout(r, w.emu.state.options.readyDelayMs + 50));
    expect(outcomes([await w.invoke('on-tag', event)]).map((r) => [r.resourceId, r.outcome])).toEqual([[id, 'shared']]);
    await afterReadLag(w);
  }

  it('shares a snapshot created from an encrypted disk with the tag, and not its disk or source', async () => {
    const created = await w.owner.ecs.createSnapshot(
      new $Ecs.CreateSnapshotRequest({
        diskId: 'd-demo0cmk0000000001',
        snapshotName: 'nightly',
        tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'share-with', value: DEMO.rdRecipient.uid })],
      }),
    );
    const id = created.body!.snapshotId!;
    await shareOnceReady(id);
    expect((await toolShare(w, id))?.targets.map((t) => t.id)).toEqual([DEMO.rdRecipient.uid]);
    expect(await use(w, DEMO.rdRecipient.uid, id)).toMatchObject({ ok: true });
  });

  it('shares a snapshot from the ECS event that says it is ready (Snapshot:CreateSnapshotCompleted)', async () => {
    const created = await w.owner.ecs.createSnapshot(
      new $Ecs.CreateSnapshotRequest({
        diskId: 'd-demo0cmk0000000001',
        snapshotName: 'hourly',
        tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'share-with', value: DEMO.rdRecipient.uid })],
      }),
    );
    const id = created.body!.snapshotId!;
    await w.deliverEvents().catch(() => undefined); // the create event: not ready yet
    await new Promise((r) => setTimeout(r, w.emu.state.options.readyDelayMs + 100));
    await w.emu.flushEvents();
    const ready = w.emu
      .events()
      .filter((e) => e.type === ('ecs:Snapshot:CreateSnapshotCompleted' as string) && e.subject.endsWith(id));
    expect(ready).toHaveLength(1);

    const results = outcomes([await w.invoke('on-tag', ready[0])]);

    expect(results.map((r) => [r.resourceId, r.outcome])).toEqual([[id, 'shared']]);
    await afterReadLag(w);
    expect(await use(w, DEMO.rdRecipient.uid, id)).toMatchObject({ ok: true });
  });

  it('shares an image copied with the tag, leaving the source image unshared', async () => {
    const copied = await w.owner.ecs.copyImage(
      new $Ecs.CopyImageRequest({
        regionId: DEMO.region,
        imageId: DEMO.images.cmk,
        destinationRegionId: DEMO.region,
        tag: [new $Ecs.CopyImageRequestTag({ key: 'share-with', value: DEMO.externalRecipient.uid })],
      }),
    );
    const id = copied.body!.imageId!;
    await shareOnceReady(id);
    expect(await imageShareAccounts(w, id)).toEqual([DEMO.externalRecipient.uid]);
    expect(await imageShareAccounts(w, DEMO.images.cmk)).toEqual([]);
    expect(await use(w, DEMO.externalRecipient.uid, id)).toMatchObject({ ok: true });
  });
});
