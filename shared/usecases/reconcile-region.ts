// One region of a reconcile pass from the checkpoint's cursors: the tagged snapshots and the tagged images, listed
// side by side (each from its own cursor), then resources tagged only with continuation keys, then everything
// ecs-share shared earlier that no longer asks for it (tag removed, resource deleted). Each listing reads page by page
// and the time budget is checked before every resource; a page cut short is listed again next run (what was done is
// not redone: replays write nothing).
import { shareTagKeys } from '../domain/targets';
import type { Checkpoint, Listing } from '../checkpoint';
import type { SnapshotInfo } from '../cloud/ecs';
import { resourceTypeOf, type ResourceType } from '../domain/ids';
import type { EngineContext } from '../share/context';
import type { KnownResource } from '../share/observe';
import { SHARE_NAME_PREFIX, type ResourceRef, type ToolShareState } from '../share/model';

export type Work = { ref: ResourceRef; known?: KnownResource };

export interface RegionRun {
  /** Handle resources; returns how many were handled before the budget ran out (the rest are left for next run). */
  handle(items: Work[]): Promise<number>;
  /** Save the checkpoint as it is (both listings' cursors): called by each listing after each page. */
  checkpoint(): Promise<void>;
  /** True once the time budget or maxResources is used up (no point reading another page). */
  exhausted(): boolean;
  /** How many more resources maxResources lets the run handle (Infinity without it): no page is read ahead for none. */
  room(): number;
}

const REVOKE_BATCH = 100;

/** ecs-share's resource shares of a region (by resource id, twins apart) with their targets, in a few paged calls. */
export async function loadShareIndex(
  ctx: EngineContext,
  region: string,
): Promise<Map<string, { share: ToolShareState; twins: ToolShareState[] }>> {
  const byShareId = new Map<string, { resourceId: string; state: ToolShareState }>();
  for await (const page of ctx.ports.sharing.sharesNamed(region, SHARE_NAME_PREFIX)) {
    for (const s of page) {
      byShareId.set(s.id, {
        resourceId: s.name.slice(SHARE_NAME_PREFIX.length),
        state: { id: s.id, allowExternalTargets: s.allowExternalTargets, targets: {} },
      });
    }
  }
  if (byShareId.size) {
    for (const a of await ctx.ports.sharing.allTargetAssociations(region)) {
      const entry = byShareId.get(a.resourceShareId);
      if (entry) entry.state.targets[a.entityId] = { status: a.status, message: a.message, external: a.external };
    }
  }
  const out = new Map<string, { share: ToolShareState; twins: ToolShareState[] }>();
  for (const e of [...byShareId.values()].sort((a, b) => a.state.id.localeCompare(b.state.id))) {
    const hit = out.get(e.resourceId);
    if (hit) hit.twins.push(e.state);
    else out.set(e.resourceId, { share: e.state, twins: [] });
  }
  return out;
}

/** Runs one region's phases from the cursors; false when the budget ran out first. */
export async function reconcileRegion(
  ctx: EngineContext,
  region: string,
  cp: Checkpoint,
  run: RegionRun,
): Promise<boolean> {
  const shares = await loadShareIndex(ctx, region);
  // Resources of the pages in progress that an earlier run of this pass already handled (it stopped mid-page).
  const tagged = new Set<string>([...(cp.listings.snapshots.pageDone ?? []), ...(cp.listings.images.pageDone ?? [])]);
  const known = (id: string) => ({
    toolShare: shares.get(id)?.share,
    ...(shares.get(id)?.twins.length ? { twinShares: shares.get(id)!.twins } : {}),
  });
  // Set when one listing fails: the other stops at its next page instead of running on after the pass has failed.
  let failed = false;

  /**
   * One listing, page by page from its cursor; false when it stopped before its end (budget, or the other failed).
   * The ids of the next page are read while this one is handled: when the other listing (or the later phases' early
   * listings) has used up a rate-limit window of ListTagResources, this listing's checks do not wait out the window
   * for their next page. The resources themselves are read by id when their page's turn comes, as fresh as before;
   * the cursor moves once the page is handled. A run that maxResources will stop within this page reads none ahead;
   * one the time budget stops has read one page of ids for nothing (the next run reads it again).
   */
  const list = async (listing: Listing, type: ResourceType, toWork: (ids: string[]) => Promise<Work[]>) => {
    const fetch = (token?: string) => ctx.ports.ecs.taggedIdPage(region, type, ctx.cfg.tagKey, token);
    let ahead: ReturnType<typeof fetch> | undefined;
    try {
      return await pages();
    } finally {
      await ahead?.catch(() => undefined); // a read ahead that is not used does not outlive the run
    }

    async function pages(): Promise<boolean> {
      while (!cp.listings[listing].done) {
        const at = cp.listings[listing];
        const page = await (ahead ?? fetch(at.pageToken));
        ahead = undefined;
        if (page.next && run.room() > page.ids.length && !run.exhausted() && !failed) {
          ahead = fetch(page.next);
          ahead.catch(() => undefined); // awaited at the next page, or in finally
        }
        // The pass's own tag writes (status tag, grant record) shift ListTagResources' offsets, so rows of resources
        // handled on an earlier page come round again: handle each once (a second handling would plan from the share
        // index read before its share was made, and create a twin).
        const ids = page.ids.filter((id) => !tagged.has(id));
        const work = ids.length ? await toWork(ids) : [];
        const handled = await run.handle(work);
        for (const w of work.slice(0, handled)) tagged.add(w.ref.id);
        if (handled < work.length) {
          // This page again next run, without what is done: a budget smaller than a page still makes progress.
          cp.listings[listing] = {
            ...at,
            pageDone: [...(at.pageDone ?? []), ...work.slice(0, handled).map((w) => w.ref.id)],
          };
          await run.checkpoint();
          return false;
        }
        cp.listings[listing] = page.next ? { pageToken: page.next } : { done: true };
        await run.checkpoint();
        if (page.next && (run.exhausted() || failed)) return false; // the next page is read by the next run, once
      }
      return true;
    }
  };
  const listSnapshots = () =>
    list('snapshots', 'snapshot', async (ids) =>
      // Ids whose snapshot vanished since the listing are simply missing.
      (await ctx.ports.ecs.getSnapshots(region, ids)).map((s) => ({
        ref: { type: 'snapshot' as const, id: s.id, region },
        known: { exists: true, tags: s.tags, snapshots: [s], status: s.status, ...known(s.id) },
      })),
    );
  const listImages = () =>
    list('images', 'image', async (ids) => {
      const items = await ctx.ports.ecs.getImages(region, ids);
      // The snapshots behind a whole page of images in one read: their keys decide the images' encryption.
      const disks = items.flatMap((i) => i.snapshotIds);
      const snapshots = new Map(
        (disks.length ? await ctx.ports.ecs.getSnapshots(region, disks) : []).map((s) => [s.id, s]),
      );
      return items.map((i) => ({
        ref: { type: 'image' as const, id: i.id, region },
        known: {
          exists: true,
          tags: i.tags,
          status: i.status,
          snapshotIds: i.snapshotIds,
          snapshots: i.snapshotIds.map((id) => snapshots.get(id)).filter((s): s is SnapshotInfo => Boolean(s)),
          ...known(i.id),
        },
      }));
    });

  // What the phases after the listings list (continuation keys, the status key, the grant records: most of a steady
  // pass's ListTagResources) is read while the other listing still runs, not after it: the image checks bind a steady
  // pass, and these pages would otherwise take one more rate-limit window after them (docs/benchmarks.md, "Fan-out").
  // Begun once one listing has read its last page; what to do with them is decided from `tagged` after both end.
  let early: Promise<Trailing | undefined> | undefined;
  const readEarly = () => {
    if (early || run.exhausted() || failed) return;
    // Read once more at once when the first try fails (a timeout, say): the phases' own reads would come only after
    // the image checks. Should that fail too, the phases read for themselves.
    const again = () => (run.exhausted() || failed ? undefined : readTrailing(ctx, region));
    early = readTrailing(ctx, region)
      .catch(again)
      .catch(() => undefined);
  };
  try {
    return await phases();
  } finally {
    await early; // nothing of this run goes on after it returns (Function Compute freezes the instance)
  }

  async function phases(): Promise<boolean> {
    if (cp.phase === 'listings') {
      // Side by side, so that one listing's rate-limit windows (the image checks, one DescribeImageSharePermission per
      // image, bind a steady pass) are not spent waiting for the other's (docs/benchmarks.md, "Fan-out"). Each listing
      // hands its pages to run.handle, which takes the run's concurrency per call: the two types write different
      // roles, KMS policies and shares, and one limit for both would let images waiting out a throttling window hold
      // every slot the snapshots need. Both end before the pass moves on, so a run cut short records each cursor.
      const stopTheOther = (e: unknown): never => {
        failed = true;
        throw e;
      };
      const whenDone = (done: boolean) => {
        if (done) readEarly();
        return done;
      };
      const ends = await Promise.allSettled(
        [listSnapshots(), listImages()].map((l) => l.then(whenDone).catch(stopTheOther)),
      );
      for (const end of ends) if (end.status === 'rejected') throw end.reason;
      if (!ends.every((end) => end.status === 'fulfilled' && end.value)) return false;
      cp.phase = 'continued';
      await run.checkpoint();
    }
    if (cp.phase === 'continued') {
      // Tagged only with continuation keys (share-with.2 … without share-with), or left with ecs-share's status tag
      // after a take-back whose run died before removing it (found by the simulation, seed 188): the listings above
      // cannot see them.
      const work: Work[] = [];
      const { continued } = (await early) ?? { continued: await continuedOnly(ctx, region) };
      for (const r of continued) {
        // Only the listed keys are in r.tags: a resource handled above (it carries the base key) is skipped by id.
        if (!(ctx.cfg.tagKey in r.tags) && !tagged.has(r.id)) work.push({ ref: { type: r.type, id: r.id, region } });
      }
      const handled = await run.handle(work);
      for (const w of work.slice(0, handled)) tagged.add(w.ref.id);
      if (handled < work.length) return false;
      cp.phase = 'revoke';
      await run.checkpoint();
    }

    // What ecs-share shared earlier and no longer carries a share tag (tag removed, resource deleted): take it back.
    const candidates = new Map<string, ResourceRef>();
    for (const id of shares.keys()) if (!tagged.has(id)) candidates.set(id, { type: resourceTypeOf(id), id, region });
    for (const id of (await early)?.granted ?? (await grantRecorded(ctx, region))) {
      if (!tagged.has(id)) candidates.set(id, { type: 'image', id, region });
    }
    // After a resume, resources an earlier run of this pass handled are not in `tagged`: one batched read tells which
    // candidates still carry a share tag (already handled) from those to take back.
    const stillTagged = await taggedAmong(ctx, region, [...candidates.values()]);
    const toRevoke = [...candidates.values()].filter((ref) => !stillTagged.has(ref.id));
    // In batches, within the budget: what is revoked stops being a candidate, so a resumed run simply recomputes.
    for (let i = 0; i < toRevoke.length; i += REVOKE_BATCH) {
      const batch = toRevoke.slice(i, i + REVOKE_BATCH);
      const handled = await run.handle(batch.map((ref) => ({ ref, known: undefined })));
      await run.checkpoint();
      if (handled < batch.length) return false;
    }
    return true;
  }
}

/** The listings of the phases after the two main ones, read before they are needed (see reconcileRegion). */
interface Trailing {
  continued: Array<{ type: ResourceType; id: string; tags: Record<string, string> }>;
  granted: string[];
}

async function readTrailing(ctx: EngineContext, region: string): Promise<Trailing> {
  const [continued, granted] = await Promise.all([continuedOnly(ctx, region), grantRecorded(ctx, region)]);
  return { continued, granted };
}

/** Resources carrying a continuation key or ecs-share's status tag (r.tags holds only those keys). */
async function continuedOnly(ctx: EngineContext, region: string): Promise<Trailing['continued']> {
  const keys = [...shareTagKeys(ctx.cfg.tagKey).slice(1), ...(ctx.cfg.statusKey ? [ctx.cfg.statusKey] : [])];
  const out: Trailing['continued'] = [];
  for (const type of ['snapshot', 'image'] as const) {
    for (const r of await ctx.ports.ecs.taggedResources(region, type, keys)) out.push({ type, ...r });
  }
  return out;
}

/** Images carrying ecs-share's grant record (accounts it shared them with). */
async function grantRecorded(ctx: EngineContext, region: string): Promise<string[]> {
  const ids: string[] = [];
  for (let t: string | undefined; ;) {
    const page = await ctx.ports.ecs.taggedIdPage(region, 'image', ctx.cfg.ledgerKey, t);
    // Available images only, as the image listing reads them.
    if (page.ids.length) ids.push(...(await ctx.ports.ecs.getImages(region, page.ids)).map((i) => i.id));
    if (!(t = page.next)) return ids;
  }
}

/** Which of these resources still carry any share tag key, read in batches of 100 ids. */
async function taggedAmong(ctx: EngineContext, region: string, refs: ResourceRef[]): Promise<Set<string>> {
  const keys = shareTagKeys(ctx.cfg.tagKey);
  const ids = (type: ResourceType) => refs.filter((r) => r.type === type).map((r) => r.id);
  const carries = (tags: Record<string, string>) => keys.some((k) => k in tags);
  const snapshots = ids('snapshot').length ? await ctx.ports.ecs.getSnapshots(region, ids('snapshot')) : [];
  const images = ids('image').length ? await ctx.ports.ecs.getImages(region, ids('image')) : [];
  return new Set([...snapshots, ...images].filter((r) => carries(r.tags)).map((r) => r.id));
}
