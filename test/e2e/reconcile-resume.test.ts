// A pass cut short resumes where it stopped: 250 tagged snapshots (three listing pages of 100) handled 100 at a time.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState } from '../helpers/states';
import { use } from '../helpers/e2e';
import {
  bulkSnapshotId,
  checkpointFile,
  productCalls,
  reconcile,
  reconcileWorld,
  withTaggedSnapshots,
} from '../helpers/reconcile';
import type { ReconcileSummary } from '../../shared/usecases/reconcile';

const member = DEMO.rdRecipient.uid;
const COUNT = 250;
const total = (s: ReconcileSummary) => Object.values(s.counts).reduce((a, b) => a + b, 0);

/** The snapshots ecs-share has a live resource share for, read back through the API. */
async function sharedSnapshots(w: World): Promise<Set<string>> {
  const ids = new Set<string>();
  for (let token: string | undefined; ;) {
    const page = await w.owner.rs('ListResourceShares', {
      RegionId: DEMO.region,
      ResourceOwner: 'Self',
      MaxResults: 100,
      NextToken: token,
    });
    for (const s of page.ResourceShares ?? [])
      if (s.ResourceShareStatus === 'Active' && s.ResourceShareName.startsWith('ecs-share-s-'))
        ids.add(s.ResourceShareName.slice('ecs-share-'.length));
    token = page.NextToken;
    if (!token) return ids;
  }
}

/** The product's snapshot listing: ListTagResources pages (ids, 50 tag rows each) and DescribeSnapshots reads by id. */
function describeSnapshotCalls(w: World) {
  const calls = productCalls(w);
  return {
    listings: calls.filter(
      (c) =>
        c.action === 'ListTagResources' &&
        c.params.ResourceType === 'snapshot' &&
        c.params['Tag.1.Key'] === 'share-with',
    ),
    byId: calls.filter((c) => c.action === 'DescribeSnapshots' && c.params.SnapshotIds),
  };
}

describe('a reconcile pass cut short by maxResources', () => {
  let w: World;
  const runs: Array<{
    summary: ReconcileSummary;
    listings: Array<string | undefined>;
    byId: number;
    shared: number;
    checkpoint: boolean;
  }> = [];
  beforeAll(async () => {
    // The status tags a run writes add tag rows before the checkpoint's page token, so a resumed listing re-reads
    // some resources (replays: no writes); the exact page arithmetic below is about resumption, so without them.
    w = await reconcileWorld({
      state: withTaggedSnapshots(e2eState(), COUNT, { 'share-with': member }),
      env: { SHARE_STATUS_KEY: 'off' },
    });
    for (let i = 0; i < 3; i++) {
      w.emu.clearCalls();
      const summary = await reconcile(w, { maxResources: 100 });
      const { listings, byId } = describeSnapshotCalls(w);
      runs.push({
        summary,
        listings: listings.map((c) => c.params.NextToken),
        byId: byId.length,
        shared: (await sharedSnapshots(w)).size,
        checkpoint: fs.existsSync(checkpointFile(w)),
      });
    }
  }, 120_000);
  afterAll(() => w.stop());

  it('stops after the first page, incomplete, with some snapshots shared and a checkpoint written', () => {
    expect(runs[0].summary).toMatchObject({ ok: true, complete: false, resumed: false });
    expect(runs[0].summary.counts.shared).toBe(100);
    expect(runs[0].shared).toBe(100);
    expect(runs[0].checkpoint).toBe(true);
  });

  it('resumes on the second run and continues with the next page', () => {
    expect(runs[1].summary).toMatchObject({ ok: true, complete: false, resumed: true });
    expect(runs[1].summary.counts.shared).toBe(100);
    expect(runs[1].shared).toBe(200);
    expect(runs[1].checkpoint).toBe(true);
  });

  it('finishes on the third run with every snapshot shared and the checkpoint cleared', async () => {
    expect(runs[2].summary).toMatchObject({ ok: true, complete: true, resumed: true });
    expect(runs[2].shared).toBe(COUNT);
    expect(runs[2].checkpoint).toBe(false);
    expect(await use(w, member, bulkSnapshotId(1))).toMatchObject({ ok: true });
    expect(await use(w, member, bulkSnapshotId(COUNT))).toMatchObject({ ok: true });
  });

  it("lists from where the last run stopped: each run's first tag page is new, and no page is read twice", () => {
    const [first, second, third] = runs.map((r) => r.listings[0]);
    expect(first).toBeUndefined();
    expect(second).toBeTruthy();
    expect(third).toBeTruthy();
    expect(third).not.toBe(second);
    // 250 snapshots are 5 tag pages of 50 rows; a run that used up its budget reads no page ahead, so none twice.
    const tokens = runs.flatMap((r) => r.listings);
    expect(tokens.length).toBe(new Set(tokens).size);
    expect(tokens.length).toBeLessThanOrEqual(6);
  });

  it('does not count again the snapshots earlier runs handled', () => {
    expect(runs.map((r) => total(r.summary))).toEqual([100, 100, 50]);
  });

  it('does not read again, one by one, the snapshots earlier runs handled (reads by id in batches of 100)', () => {
    // One read of up to 100 ids per listing page (a read-ahead page included), never one per snapshot.
    expect(
      runs
        .map((r) => r.byId)
        .slice(0, 2)
        .every((n) => n <= 2),
    ).toBe(true);
    expect(runs[2].byId).toBeLessThanOrEqual(2 + Math.ceil(200 / 100));
  });
});

describe('a budget smaller than a listing page', () => {
  let w: World;
  const runs: ReconcileSummary[] = [];
  beforeAll(async () => {
    // 30 resources per run from 50-row pages: each run stops mid-page, and the next must skip what is done there.
    w = await reconcileWorld({
      state: withTaggedSnapshots(e2eState(), 70, { 'share-with': member }),
      env: { SHARE_STATUS_KEY: 'off' },
    });
    for (let i = 0; i < 4; i++) {
      const summary = await reconcile(w, { maxResources: 30 });
      runs.push(summary);
      if (summary.complete) break;
    }
  }, 120_000);
  afterAll(() => w.stop());

  it('still makes progress: every run shares resources no earlier run handled, and the pass completes', async () => {
    // Without the page's done list each resumed run handled the page's first 30 again (replays) and never got on.
    expect(runs.slice(0, 2).map((r) => r.counts.shared)).toEqual([30, 30]);
    expect(runs.at(-1)!.complete).toBe(true);
    expect((await sharedSnapshots(w)).size).toBe(70);
    expect(await use(w, member, bulkSnapshotId(70))).toMatchObject({ ok: true });
  });
});
