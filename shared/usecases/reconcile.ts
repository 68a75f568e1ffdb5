// Use case: the timer's full pass. Every tagged resource is made shared as its tags say (drift repaired), what
// ecs-share shared earlier and is no longer asked for is taken back, and the share roles are trimmed to what the
// resources still shared need. Pages are streamed, work is bounded in concurrency, and a checkpoint lets a pass cut
// short by the function timeout resume where it stopped.
import { emptyNeeds, type Checkpoint, type CheckpointStore, type RoleNeeds } from '../checkpoint';
import { InvalidInputError } from '../errors';
import { grantKey, grantsInLedger, mergeTrust, readTrustLedger } from '../domain/trust-policy';
import { keyArn } from '../domain/kms-policy';
import { parsePolicy } from '../domain/policy-json';
import type { ResourceType, SnapshotInfo } from '../cloud/ecs';
import type { EngineContext } from '../share/context';
import { applyPlan } from '../share/apply';
import { observeRole, type KnownResource } from '../share/observe';
import { planKmsPolicies } from '../share/plan';
import { shareResource } from '../share/share-resource';
import { SHARE_NAME_PREFIX, type PlanAction, type ResourceOutcome, type ResourceRef, type RoleObservation, type ToolShareState } from '../share/model';
import { emptyCounts, mapLimit, type Counts } from '../share/summary';

export interface ReconcileCommand {
  regions: string[];
  dryRun: boolean;
  /** Stop after this many resources (the rest is resumed next run); for operators who want short runs. */
  maxResources?: number;
}

export interface ReconcileSummary {
  ok: boolean;
  dryRun: boolean;
  /** False when the pass stopped early (time budget or maxResources); the checkpoint resumes it. */
  complete: boolean;
  resumed: boolean;
  counts: Counts;
  byRegion: Record<string, Counts>;
  errors: Array<{ resourceId: string; region: string; outcome: string; code?: string; message: string }>;
  /**
   * Resources with changes (or, in a dry run, with planned changes), refusals or failures. Unchanged ones are only
   * counted. A real run keeps every refusal and failure but at most MAX_CHANGED_RESULTS changed ones (the summary
   * must stay small at any scale); a dry run keeps the full plan.
   */
  results: ResourceOutcome[];
  /** Changed resources left out of `results` (counted in `counts`). */
  resultsOmitted: number;
  /** Changes to the share roles themselves (trust principals and KMS keys taken back). */
  roleActions: PlanAction[];
  apiCalls: number;
  durationMs: number;
}

const KNOWN = new Set(['action', 'regions', 'dryRun', 'maxResources']);
export const MAX_CHANGED_RESULTS = 500;
const REVOKE_BATCH = 100;

export function parseReconcileCommand(command: Record<string, unknown>, defaultRegions: string[]): ReconcileCommand {
  const unknown = Object.keys(command).filter((k) => !KNOWN.has(k));
  if (unknown.length) throw new InvalidInputError(`Unknown field(s) ${unknown.join(', ')}; expected action, regions, dryRun, maxResources`);
  if (command.action !== undefined && command.action !== 'reconcile') throw new InvalidInputError(`action must be "reconcile", got ${JSON.stringify(command.action)}`);
  const regions = command.regions ?? defaultRegions;
  if (!Array.isArray(regions) || regions.length === 0 || !regions.every((r) => typeof r === 'string' && /^[a-z]{2,}(-[a-z0-9]+)+$/.test(r))) {
    throw new InvalidInputError(`regions must be a non-empty list like ["cn-hangzhou"], got ${JSON.stringify(regions)}`);
  }
  if (command.dryRun !== undefined && typeof command.dryRun !== 'boolean') throw new InvalidInputError('dryRun must be true or false');
  const max = command.maxResources;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1)) throw new InvalidInputError('maxResources must be a positive integer');
  return { regions: [...new Set(regions as string[])], dryRun: command.dryRun === true, maxResources: max as number | undefined };
}

function freshCheckpoint(regions: string[]): Checkpoint {
  return { version: 1, startedAt: new Date().toISOString(), regions, regionIndex: 0, phase: 'snapshots', needs: { snapshot: emptyNeeds(), image: emptyNeeds() }, processed: 0 };
}

/** ecs-share's resource shares of a region with their targets, read in a few paged calls instead of two per resource. */
export async function loadShareIndex(ctx: EngineContext, region: string): Promise<Map<string, ToolShareState>> {
  const byShareId = new Map<string, { resourceId: string; state: ToolShareState }>();
  for await (const page of ctx.ports.sharing.sharesNamed(region, SHARE_NAME_PREFIX)) {
    for (const s of page) {
      byShareId.set(s.id, { resourceId: s.name.slice(SHARE_NAME_PREFIX.length), state: { id: s.id, allowExternalTargets: s.allowExternalTargets, targets: {} } });
    }
  }
  if (byShareId.size) {
    for (const a of await ctx.ports.sharing.allTargetAssociations(region)) {
      const entry = byShareId.get(a.resourceShareId);
      if (entry) entry.state.targets[a.entityId] = { status: a.status, message: a.message, external: a.external };
    }
  }
  return new Map([...byShareId.values()].map((e) => [e.resourceId, e.state]));
}

function addNeeds(needs: RoleNeeds, r: ResourceOutcome): void {
  if (r.outcome === 'refused' || r.outcome === 'failed') {
    needs.incomplete = true; // its shares were left as they are, so must be what they need
    return;
  }
  if (!r.needs) return;
  const grants = new Set(needs.grants.map(grantKey));
  for (const g of r.needs.grants) if (!grants.has(grantKey(g))) (needs.grants.push(g), grants.add(grantKey(g)));
  const keys = new Set(needs.keys.map(keyArn));
  for (const k of r.needs.keys) if (!keys.has(keyArn(k))) (needs.keys.push(k), keys.add(keyArn(k)));
}

/** Trim a share role to what the resources still shared need: only grants and keys ecs-share itself added. */
export function planRoleTrim(role: RoleObservation, type: ResourceType, needs: RoleNeeds): PlanAction[] {
  if (!role.exists || needs.incomplete) return [];
  const doc = parsePolicy(role.trustPolicy ?? '{"Version":"1","Statement":[]}');
  const ledger = readTrustLedger(role.description);
  const needed = new Set(needs.grants.map(grantKey));
  const remove = grantsInLedger(ledger).filter((g) => !needed.has(grantKey(g)));
  const actions: PlanAction[] = [];
  const merged = mergeTrust(doc, ledger, { add: needs.grants, remove });
  if (merged.changed) actions.push({ kind: 'mergeTrust', roleName: role.roleName, add: needs.grants, remove });
  actions.push(...planKmsPolicies(role, needs.keys, type, true));
  return actions;
}

/** Which of these resources still carry the share tag, read in batches of 100 ids. */
async function taggedAmong(ctx: EngineContext, region: string, refs: ResourceRef[]): Promise<Set<string>> {
  const ids = (type: ResourceType) => refs.filter((r) => r.type === type).map((r) => r.id);
  const carries = (tags: Record<string, string>) => ctx.cfg.tagKey in tags;
  const snapshots = ids('snapshot').length ? await ctx.ports.ecs.getSnapshots(region, ids('snapshot')) : [];
  const images = ids('image').length ? await ctx.ports.ecs.getImages(region, ids('image')) : [];
  return new Set([...snapshots, ...images].filter((r) => carries(r.tags)).map((r) => r.id));
}

export async function reconcile(ctx: EngineContext, cmd: ReconcileCommand, store: CheckpointStore, remainingMs: () => number): Promise<ReconcileSummary> {
  const started = Date.now();
  const callsBefore = ctx.api.countCalls();
  const saved = cmd.dryRun ? undefined : await store.load();
  const resumed = Boolean(saved && saved.regions.join() === cmd.regions.join());
  const cp = resumed ? saved! : freshCheckpoint(cmd.regions);
  const counts = emptyCounts();
  const byRegion: Record<string, Counts> = {};
  const kept: ResourceOutcome[] = [];
  const roleCache = new Map<string, Promise<RoleObservation>>();
  let handled = 0;
  let changedKept = 0;
  let resultsOmitted = 0;
  // Keep a reserve to write the checkpoint and the summary before Function Compute stops the instance.
  const reserveMs = 15_000;
  const outOfBudget = () => remainingMs() < reserveMs || (cmd.maxResources !== undefined && handled >= cmd.maxResources);

  const record = (r: ResourceOutcome) => {
    counts[r.outcome]++;
    (byRegion[r.region] ??= emptyCounts())[r.outcome]++;
    addNeeds(cp.needs[r.resourceType], r);
    if (r.outcome === 'unchanged') return;
    const isError = r.outcome === 'refused' || r.outcome === 'failed';
    if (isError || cmd.dryRun || changedKept < MAX_CHANGED_RESULTS) {
      kept.push(r);
      if (!isError) changedKept++;
    } else resultsOmitted++;
  };
  const run = async (refs: Array<{ ref: ResourceRef; known?: KnownResource }>) => {
    const results = await mapLimit(refs, ctx.cfg.concurrency, ({ ref, known }) => shareResource(ctx, ref, { dryRun: cmd.dryRun, known, roleCache }));
    for (const r of results) record(r);
    handled += refs.length;
    cp.processed += refs.length;
  };
  const checkpoint = async () => {
    if (!cmd.dryRun) await store.save(cp);
  };

  for (; cp.regionIndex < cp.regions.length; cp.regionIndex++, cp.phase = 'snapshots', cp.pageToken = undefined) {
    const region = cp.regions[cp.regionIndex];
    const shares = await loadShareIndex(ctx, region);
    const tagged = new Set<string>();

    /** One listing phase, page by page from the checkpoint; false when the budget ran out before its end. */
    const listPhase = async <T extends { id: string }>(
      fetch: (token?: string) => Promise<{ items: T[]; next?: string }>,
      toRuns: (items: T[]) => Promise<Array<{ ref: ResourceRef; known: KnownResource }>>,
      nextPhase: Checkpoint['phase'],
    ): Promise<boolean> => {
      for await (const page of ctx.ports.ecs.pages(fetch, cp.pageToken)) {
        await run(await toRuns(page.items));
        for (const item of page.items) tagged.add(item.id);
        cp.pageToken = page.next;
        await checkpoint();
        if (outOfBudget() && page.next) return false;
      }
      cp.phase = nextPhase;
      cp.pageToken = undefined;
      await checkpoint();
      return !outOfBudget();
    };

    if (cp.phase === 'snapshots') {
      const done = await listPhase(
        (t) => ctx.ports.ecs.snapshotPage(region, ctx.cfg.tagKey, t),
        async (items) => items.map((s) => ({ ref: { type: 'snapshot' as const, id: s.id, region }, known: { exists: true, tags: s.tags, snapshots: [s], toolShare: shares.get(s.id) } })),
        'images',
      );
      if (!done) return finish(false);
    }

    if (cp.phase === 'images') {
      const done = await listPhase(
        (t) => ctx.ports.ecs.imagePage(region, ctx.cfg.tagKey, t),
        async (items) => {
          // The snapshots behind a whole page of images in one read: their keys decide the images' encryption.
          const snapshots = new Map((await ctx.ports.ecs.getSnapshots(region, items.flatMap((i) => i.snapshotIds))).map((s) => [s.id, s]));
          return items.map((i) => ({
            ref: { type: 'image' as const, id: i.id, region },
            known: { exists: true, tags: i.tags, snapshots: i.snapshotIds.map((id) => snapshots.get(id)).filter((s): s is SnapshotInfo => Boolean(s)), toolShare: shares.get(i.id) },
          }));
        },
        'revoke',
      );
      if (!done) return finish(false);
    }

    // What ecs-share shared earlier and no longer carries the tag (tag removed, resource deleted): take it back.
    const candidates = new Map<string, ResourceRef>();
    for (const id of shares.keys()) if (!tagged.has(id)) candidates.set(id, { type: id.startsWith('m-') ? 'image' : 'snapshot', id, region });
    for await (const page of ctx.ports.ecs.pages((t) => ctx.ports.ecs.imagePage(region, ctx.cfg.ledgerKey, t))) {
      for (const i of page.items) if (!tagged.has(i.id)) candidates.set(i.id, { type: 'image', id: i.id, region });
    }
    // After a resume, resources an earlier run of this pass handled are not in `tagged`: one batched read tells
    // which candidates still carry the tag (already handled) from those to take back.
    const stillTagged = await taggedAmong(ctx, region, [...candidates.values()]);
    const toRevoke = [...candidates.values()].filter((ref) => !stillTagged.has(ref.id));
    // In batches, within the budget: what is revoked stops being a candidate, so a resumed run simply recomputes.
    for (let i = 0; i < toRevoke.length; ) {
      if (outOfBudget()) return finish(false);
      const room = cmd.maxResources === undefined ? REVOKE_BATCH : Math.min(REVOKE_BATCH, cmd.maxResources - handled);
      const batch = toRevoke.slice(i, i + room);
      await run(batch.map((ref) => ({ ref })));
      await checkpoint();
      i += batch.length;
    }
    await checkpoint();
  }

  // The whole pass is done: trim the roles to what is still needed (never what ecs-share did not add).
  const roleActions: PlanAction[] = [];
  for (const type of ['snapshot', 'image'] as const) {
    const role = await observeRole(ctx, type);
    const actions = planRoleTrim(role, type, cp.needs[type]);
    roleActions.push(...actions);
    if (!cmd.dryRun && actions.length) await applyPlan(ctx, actions);
  }
  if (!cmd.dryRun) await store.clear();
  return finish(true, roleActions);

  function finish(complete: boolean, roleActions: PlanAction[] = []): ReconcileSummary {
    const errors = kept
      .filter((r) => r.outcome === 'refused' || r.outcome === 'failed')
      .map((r) => ({ resourceId: r.resourceId, region: r.region, outcome: r.outcome, code: r.error?.code, message: r.error?.message ?? r.reason ?? '' }));
    return {
      ok: counts.failed === 0,
      dryRun: cmd.dryRun,
      complete,
      resumed,
      counts,
      byRegion,
      errors,
      results: kept,
      resultsOmitted,
      roleActions,
      apiCalls: ctx.api.countCalls() - callsBefore,
      durationMs: Date.now() - started,
    };
  }
}
