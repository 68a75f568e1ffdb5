// A region's two listings (tagged snapshots, tagged images) on the in-memory fake: they run side by side, so the
// image checks (DescribeImageSharePermission, one per image: what binds a steady pass, docs/benchmarks.md "Fan-out")
// do not wait for the snapshot listing's last page; one that fails stops the other at its next page; and a pass cut
// short while both are part-way resumes each listing where it stopped, handling every resource exactly once.
import { describe, expect, it } from 'vitest';
import { reconcile, type ReconcileSummary } from '../../shared/usecases/reconcile';
import { PayloadCheckpointStore, type Checkpoint } from '../../shared/checkpoint';
import { FakeCloud, REGION, fakeContext } from '../helpers/fake-cloud';

const A = '1000000000000002';
const KEY = 'key-hz000001';

/** `snapshots` CMK snapshots and `images` CMK images tagged for A, listed `pageSize` at a time. */
function world(snapshots: number, images: number, pageSize: number): FakeCloud {
  const fake = new FakeCloud();
  fake.pageSize = pageSize;
  fake.addKey({ keyId: KEY });
  for (let i = 1; i <= snapshots; i++)
    fake.addSnapshot({ id: `s-tagged${String(i).padStart(4, '0')}`, kmsKeyId: KEY, tags: { 'share-with': A } });
  for (let i = 1; i <= images; i++) {
    const disk = `s-imgdisk${String(i).padStart(4, '0')}`;
    fake.addSnapshot({ id: disk, kmsKeyId: KEY });
    fake.addImage({ id: `m-tagged${String(i).padStart(4, '0')}`, snapshotIds: [disk], tags: { 'share-with': A } });
  }
  return fake;
}

/** The types of the share-tag listing pages asked for, in order. */
const pagesAsked = (fake: FakeCloud) =>
  fake
    .callsOf('ecs.taggedIdPage')
    .filter((c) => c.args[2] === 'share-with')
    .map((c) => c.args[1]);

const run = (fake: FakeCloud, store: PayloadCheckpointStore, maxResources?: number) =>
  // No status tag: its rows would bring resources of earlier runs back in the continuation-key listing (replays),
  // and this is about what the two listings hand over.
  reconcile(
    fakeContext(fake, { statusKey: undefined }),
    { regions: [REGION], dryRun: false, maxResources },
    store,
    () => Number.MAX_SAFE_INTEGER,
  );

describe("a region's listings", () => {
  it("asks for the image listing before the snapshot listing's last page is handled", async () => {
    // Three snapshot pages; when the last is listed, none of its snapshots is handled yet.
    const fake = world(5, 2, 2);

    const s = await run(fake, new PayloadCheckpointStore());

    expect(s).toMatchObject({ ok: true, complete: true });
    const listed = pagesAsked(fake);
    expect(listed.filter((t) => t === 'snapshot')).toHaveLength(3);
    expect(listed.indexOf('image')).toBeLessThan(listed.lastIndexOf('snapshot'));
  });

  it("reads a page's ids while the page before is handled, and its resources only when its turn comes", async () => {
    // Three image pages of two: while the first image is checked, the second page's ids are read, its images not.
    const fake = world(0, 6, 2);
    let atFirstCheck: { imagePages: number; imageReads: number } | undefined;
    fake.on(
      'ecs.imageShareAccounts',
      (f) =>
        void (atFirstCheck = {
          imagePages: pagesAsked(f).filter((t) => t === 'image').length,
          imageReads: f.count('ecs.getImages'),
        }),
      { nth: 1, when: 'before' },
    );

    const s = await run(fake, new PayloadCheckpointStore());

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(atFirstCheck).toEqual({ imagePages: 2, imageReads: 1 });
    expect(s.results.filter((r) => r.outcome === 'shared' || r.outcome === 'unchanged')).toHaveLength(6);
  });

  it("reads the later phases' listings while the image checks still run, and ends with the same outcome", async () => {
    // One snapshot page, three image pages: the continuation-key, status-key and grant-record listings (the phases
    // after the listings) are asked for before the last image is checked, not after it.
    const fake = world(2, 6, 2);
    fake.addSnapshot({ id: 's-continued', kmsKeyId: KEY, tags: { 'share-with.2': A } });
    let laterListingsBeforeLastCheck: boolean | undefined;
    fake.on('ecs.imageShareAccounts', (f) => void (laterListingsBeforeLastCheck = f.count('ecs.taggedResources') > 0), {
      nth: 6,
    });

    const s = await run(fake, new PayloadCheckpointStore());

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(laterListingsBeforeLastCheck).toBe(true);
    // The resource only the continuation-key listing finds is still handled, once.
    expect(s.results.filter((r) => r.resourceId === 's-continued')).toHaveLength(1);
  });

  it('fails when one listing fails, once the other has stopped at its next page with its cursor saved', async () => {
    const fake = world(20, 4, 2);
    fake.fail('ecs.getImages', { code: 'InvalidParameter', status: 400, message: 'bad request' }, { nth: 2 });
    const store = new PayloadCheckpointStore();

    await expect(run(fake, store)).rejects.toMatchObject({ code: 'InvalidParameter' });

    // The snapshot listing did not run on to its tenth page after the pass had failed, and says where it is.
    expect(pagesAsked(fake).filter((t) => t === 'snapshot').length).toBeLessThan(10);
    expect(store.saved!.listings.snapshots).toEqual({ pageToken: expect.any(String) });
    const callsAfter = fake.calls.length;
    await new Promise((r) => setTimeout(r, 20));
    expect(fake.calls.length).toBe(callsAfter);
  });

  it('cut short while both are part-way, resume each where it stopped: every resource handled exactly once', async () => {
    // 7 snapshots and 5 images in pages of 3, 4 resources a run: runs stop mid-page in one listing or the other.
    const fake = world(7, 5, 3);
    let store = new PayloadCheckpointStore();
    const runs: ReconcileSummary[] = [];
    const saved: Checkpoint[] = [];
    for (let i = 0; i < 10; i++) {
      const s = await run(fake, store, 4);
      runs.push(s);
      if (store.saved) saved.push(store.saved);
      if (s.complete) break;
      store = new PayloadCheckpointStore(structuredClone(store.saved)); // the next run, as a worker's continuation
    }

    // The first run handled resources of both listings and stopped with both part-way.
    expect(runs[0].complete).toBe(false);
    const first = runs[0].results.map((r) => r.resourceId);
    expect(first.filter((id) => id.startsWith('s-'))).not.toEqual([]);
    expect(first.filter((id) => id.startsWith('m-'))).not.toEqual([]);
    expect(saved[0].listings.snapshots.done).toBeUndefined();
    expect(saved[0].listings.images.done).toBeUndefined();
    // Every resource was shared once, in one run or another, and no run handled one again (no replay counted).
    expect(runs.at(-1)!.complete).toBe(true);
    const handled = runs.flatMap((s) => s.results.map((r) => r.resourceId)).sort();
    expect(handled).toEqual(
      [...fake.snapshots.keys(), ...fake.images.keys()].filter((id) => !id.includes('disk')).sort(),
    );
    expect(runs.flatMap((s) => s.results.map((r) => r.outcome)).every((o) => o === 'shared')).toBe(true);
    expect(runs.reduce((n, s) => n + Object.values(s.counts).reduce((a, b) => a + b, 0), 0)).toBe(12);
    // And the end state says so.
    for (const img of fake.images.values()) expect(img.accounts).toEqual([A]);
    const shared = [...fake.shares.values()].flatMap((sh) => Object.keys(sh.resources));
    expect(shared.filter((id) => id.startsWith('s-tagged')).sort()).toEqual(
      [...fake.snapshots.keys()].filter((id) => id.startsWith('s-tagged')).sort(),
    );
  });
});
