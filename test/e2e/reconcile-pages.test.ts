// A reconcile pass writes tags (the status tag, an image's grant record) while it pages through ListTagResources, whose
// offset tokens then shift: rows of resources already handled slide into the next page. Each resource must still be
// handled once per pass — a second handling planned from the share index read at the start of the region would create
// a twin resource share (found by the quota benchmark: 435 twins in a first pass over 1,000 + 1,000 resources).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState } from '../helpers/states';
import { use } from '../helpers/e2e';
import { bulkSnapshotId, reconcile, reconcileWorld, withTaggedSnapshots } from '../helpers/reconcile';
import type { ReconcileSummary } from '../../shared/usecases/reconcile';

const member = DEMO.rdRecipient.uid;
// More than one listing batch (100 ids), so the second batch is read after the first one's status tags were written.
const SNAPSHOTS = 160;

describe('a first reconcile pass over more tagged snapshots than one listing batch', () => {
  let w: World;
  let first: ReconcileSummary;
  let writes: string[];
  beforeAll(async () => {
    w = await reconcileWorld({ state: withTaggedSnapshots(e2eState(), SNAPSHOTS, { 'share-with': member }) });
    first = await reconcile(w);
    writes = w.emu.writes().map((c) => c.action);
  }, 180_000);
  afterAll(() => w.stop());

  it('handles each snapshot once, even though its own status tags shift the listing pages', () => {
    expect(first).toMatchObject({ ok: true, complete: true, counts: { shared: SNAPSHOTS, failed: 0 } });
    const ids = first.results.map((r) => r.resourceId);
    expect(ids.length).toBe(new Set(ids).size);
  });

  it('creates exactly one resource share per snapshot and never a twin to delete', async () => {
    expect(writes.filter((a) => a === 'CreateResourceShare')).toHaveLength(SNAPSHOTS);
    expect(writes.filter((a) => a === 'DeleteResourceShare')).toHaveLength(0);
    expect(await use(w, member, bulkSnapshotId(SNAPSHOTS))).toMatchObject({ ok: true });
  });
});
