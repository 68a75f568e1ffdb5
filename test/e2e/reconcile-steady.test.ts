// The first pass over many new tagged resources shares them all; the second, over an unchanged world, writes
// nothing and costs few calls per resource.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, recipientUid } from '../helpers/states';
import { tag, use } from '../helpers/e2e';
import { bulkSnapshotId, productCalls, reconcile, reconcileWorld, withTaggedSnapshots } from '../helpers/reconcile';
import type { ReconcileSummary } from '../../shared/usecases/reconcile';

const member = DEMO.rdRecipient.uid;
const SNAPSHOTS = 100;
const image = DEMO.images.cmk;

describe('reconcile over 100 tagged snapshots and an image, at the default concurrency', () => {
  let w: World;
  let first: ReconcileSummary;
  let steady: ReconcileSummary;
  let steadyCalls: ReturnType<typeof productCalls>;
  let steadyWrites: string[];
  beforeAll(async () => {
    w = await reconcileWorld({ state: withTaggedSnapshots(e2eState(), SNAPSHOTS, { 'share-with': member }) });
    await tag(w, image, `${recipientUid(1)} ${DEMO.resourceDirectoryId}`);
    first = await reconcile(w);
    w.emu.clearCalls();
    steady = await reconcile(w);
    steadyCalls = productCalls(w);
    steadyWrites = w.emu.writes().map((c) => c.action);
  }, 120_000);
  afterAll(() => w.stop());

  it('shares every resource on the first pass, even though concurrent workers create the share role and its KMS policy together', async () => {
    expect(first.errors).toEqual([]);
    expect(first).toMatchObject({ ok: true, complete: true, counts: { shared: SNAPSHOTS + 1, failed: 0 } });
    expect(await use(w, member, bulkSnapshotId(1))).toMatchObject({ ok: true });
    expect(await use(w, recipientUid(1), image)).toMatchObject({ ok: true });
  });

  it('makes zero writes on the second pass over an unchanged world and reports every resource unchanged', () => {
    expect(steadyWrites).toEqual([]);
    expect(steady).toMatchObject({
      ok: true,
      complete: true,
      results: [],
      roleActions: [],
      counts: { unchanged: SNAPSHOTS + 1 },
    });
  });

  it('costs at most 3 calls per resource in steady state, and reports exactly the calls it made', () => {
    const perResource = steadyCalls.length / (SNAPSHOTS + 1);
    console.log(
      `steady state: ${steadyCalls.length} calls for ${SNAPSHOTS + 1} resources = ${perResource.toFixed(2)} per resource`,
    );
    expect(perResource).toBeLessThanOrEqual(3);
    expect(steady.apiCalls).toBe(steadyCalls.length);
    // The listing reads the snapshots by id, 100 a call, after ListTagResources; the image's disks are one more batch.
    const byId = steadyCalls.filter((c) => c.action === 'DescribeSnapshots' && c.params.SnapshotIds && !c.params.Tag);
    const listed = steadyCalls.filter((c) => c.action === 'ListTagResources' && c.params.ResourceType === 'snapshot');
    expect(steadyCalls.filter((c) => c.action === 'DescribeSnapshots' && c.params.Tag)).toHaveLength(0);
    expect(byId.length).toBeLessThanOrEqual(Math.ceil(listed.length / 2) + 1);
  });
});
