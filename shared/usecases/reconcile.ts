// Use case: the timer's full pass. Every tagged resource is made shared as its tags say (drift repaired), what
// ecs-share shared earlier and is no longer asked for is taken back, and the share roles are trimmed to what the
// resources still ask for. The pass is a cursor over regions and phases (shared/checkpoint.ts) so a run cut short
// by the function timeout resumes where it stopped; each region is reconcile-region.ts, the trim trim-roles.ts.
import { emptyNeeds, firstPages, type Checkpoint, type CheckpointStore, type RoleNeeds } from '../checkpoint';
import { InvalidInputError } from '../errors';
import { REGION } from '../domain/ids';
import { grantKey } from '../domain/trust-policy';
import { keyArn } from '../domain/kms-policy';
import type { EngineContext } from '../share/context';
import { shareResource } from './share-resource';
import type { PlanAction, ResourceOutcome, RoleObservation } from '../share/model';
import { emptyCounts, mapLimit, type Counts } from '../share/summary';
import { reconcileRegion, type Work } from './reconcile-region';
import { outcomeLabels, trimRoles, type TrimHold } from './trim-roles';

export interface ReconcileCommand {
  regions: string[];
  dryRun: boolean;
  /** Stop after this many resources (the rest is resumed next run); for operators who want short runs. */
  maxResources?: number;
  /** Set by the function, never read from the payload: the timer, or a hand invocation. */
  requestedBy?: 'timer' | 'manual';
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
  /** Grants and keys the trim would have taken back but kept, because a resource still asks for them. */
  trimHeld: TrimHold[];
  apiCalls: number;
  durationMs: number;
}

const KNOWN = new Set(['action', 'regions', 'dryRun', 'maxResources']);
const MAX_CHANGED_RESULTS = 500;
/** Kept back from the function timeout to write the checkpoint and the summary. */
const RESERVE_MS = 15_000;

export function parseReconcileCommand(command: Record<string, unknown>, defaultRegions: string[]): ReconcileCommand {
  const unknown = Object.keys(command).filter((k) => !KNOWN.has(k));
  if (unknown.length)
    throw new InvalidInputError(
      `Unknown field(s) ${unknown.join(', ')}; expected action, regions, dryRun, maxResources`,
    );
  if (command.action !== undefined && command.action !== 'reconcile')
    throw new InvalidInputError(`action must be "reconcile", got ${JSON.stringify(command.action)}`);
  const regions = command.regions ?? defaultRegions;
  if (
    !Array.isArray(regions) ||
    regions.length === 0 ||
    !regions.every((r) => typeof r === 'string' && REGION.test(r))
  ) {
    throw new InvalidInputError(
      `regions must be a non-empty list like ["cn-hangzhou"], got ${JSON.stringify(regions)}`,
    );
  }
  if (command.dryRun !== undefined && typeof command.dryRun !== 'boolean')
    throw new InvalidInputError('dryRun must be true or false');
  const max = command.maxResources;
  if (max !== undefined && (typeof max !== 'number' || !Number.isInteger(max) || max < 1))
    throw new InvalidInputError('maxResources must be a positive integer');
  return {
    regions: [...new Set(regions as string[])],
    dryRun: command.dryRun === true,
    maxResources: max as number | undefined,
  };
}

function freshCheckpoint(regions: string[]): Checkpoint {
  return {
    version: 3,
    startedAt: new Date().toISOString(),
    regions,
    regionIndex: 0,
    phase: 'listings',
    listings: firstPages(),
    needs: { snapshot: emptyNeeds(), image: emptyNeeds() },
    processed: 0,
  };
}

function addNeeds(needs: RoleNeeds, r: ResourceOutcome): void {
  if (!r.needs) return;
  const grants = new Set(needs.grants.map(grantKey));
  for (const g of r.needs.grants) {
    if (grants.has(grantKey(g))) continue;
    needs.grants.push(g);
    grants.add(grantKey(g));
  }
  const keys = new Set(needs.keys.map(keyArn));
  for (const k of r.needs.keys) {
    if (keys.has(keyArn(k))) continue;
    needs.keys.push(k);
    keys.add(keyArn(k));
  }
}

/** A region the account does not have is refused before anything is written (a typo would otherwise trim). */
async function checkRegions(ctx: EngineContext, regions: string[]): Promise<void> {
  const known = new Set(await ctx.ports.ecs.regions(ctx.cfg.regions[0] ?? regions[0]));
  const unknown = regions.filter((r) => !known.has(r));
  if (unknown.length) {
    throw new InvalidInputError(
      `Unknown region(s) ${unknown.join(', ')}: this account has ${[...known].sort().join(', ')}. Nothing was changed.`,
    );
  }
}

export async function reconcile(
  ctx: EngineContext,
  cmd: ReconcileCommand,
  store: CheckpointStore,
  remainingMs: () => number,
): Promise<ReconcileSummary> {
  const started = Date.now();
  const callsBefore = ctx.api.countCalls();
  await checkRegions(ctx, cmd.regions);
  const saved = cmd.dryRun ? undefined : await store.load();
  const fresh = saved && Date.now() - Date.parse(saved.startedAt) <= ctx.cfg.checkpointMaxAgeMs;
  if (saved && !fresh) ctx.log.warn('checkpoint too old, starting a fresh pass', { startedAt: saved.startedAt });
  const resumed = Boolean(fresh && saved!.regions.join() === cmd.regions.join());
  const cp = resumed ? saved! : freshCheckpoint(cmd.regions);
  const counts = emptyCounts();
  const byRegion: Record<string, Counts> = {};
  const kept: ResourceOutcome[] = [];
  const roleCache = new Map<string, Promise<RoleObservation>>();
  let handled = 0;
  let changedKept = 0;
  let resultsOmitted = 0;
  const outOfBudget = () =>
    remainingMs() < RESERVE_MS || (cmd.maxResources !== undefined && handled >= cmd.maxResources);

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
  /**
   * The budget is checked before every resource; what is left over is handled by the next run. At most
   * `concurrency` items of one call at once: a region's two listings call it side by side, each with its own page
   * (reconcile-region.ts says why they do not share one limit), so up to twice that while both run.
   */
  const handle = async (items: Work[]): Promise<number> => {
    const results = await mapLimit(items, ctx.cfg.concurrency, async ({ ref, known }) => {
      if (outOfBudget()) return undefined;
      handled++;
      return shareResource(ctx, ref, {
        dryRun: cmd.dryRun,
        known,
        roleCache,
        requestedBy: cmd.requestedBy ?? 'timer',
        pass: true,
      });
    });
    const done = results.findIndex((r) => r === undefined);
    const upTo = done < 0 ? results.length : done;
    // Resources after the first skipped one may have been handled by another worker: count them too (replays are free).
    for (const r of results) if (r) record(r);
    cp.processed += results.filter(Boolean).length;
    return upTo;
  };
  const checkpoint = async () => {
    if (!cmd.dryRun) await store.save(cp);
  };

  for (; cp.regionIndex < cp.regions.length; cp.regionIndex++, cp.phase = 'listings', cp.listings = firstPages()) {
    if (cp.phase === 'trim') break;
    const done = await reconcileRegion(ctx, cp.regions[cp.regionIndex], cp, {
      handle,
      checkpoint,
      exhausted: outOfBudget,
      room: () => (cmd.maxResources === undefined ? Infinity : cmd.maxResources - handled),
    });
    if (!done) return finish(false);
  }
  cp.phase = 'trim';
  await checkpoint();

  // The whole pass is done: trim the roles to what is still asked for (never what ecs-share did not add).
  const trim = await trimRoles(ctx, {
    regions: cmd.regions,
    needs: cp.needs,
    dryRun: cmd.dryRun,
    outcomes: outcomeLabels(kept),
  });
  const trimErrors = trim.errors.map((e) => ({
    resourceId: e.roleName,
    region: 'global',
    outcome: 'failed',
    code: e.code,
    message: `role trim: ${e.message}`,
  }));
  if (!cmd.dryRun && trim.errors.length === 0) await store.clear();
  return finish(true, trim.actions, trim.held, trimErrors);

  function finish(
    complete: boolean,
    roleActions: PlanAction[] = [],
    trimHeld: TrimHold[] = [],
    extraErrors: ReconcileSummary['errors'] = [],
  ): ReconcileSummary {
    if (!complete && !cmd.dryRun && /^\/tmp\//.test(ctx.cfg.checkpointFile)) {
      ctx.log.warn('pass incomplete and its checkpoint lives on an ephemeral path: another instance starts over', {
        checkpointFile: ctx.cfg.checkpointFile,
      });
    }
    const errors: ReconcileSummary['errors'] = [
      ...kept
        .filter((r) => r.outcome === 'refused' || r.outcome === 'failed')
        .map((r) => ({
          resourceId: r.resourceId,
          region: r.region,
          outcome: r.outcome,
          code: r.error?.code,
          message: r.error?.message ?? r.reason ?? '',
        })),
      ...extraErrors,
    ];
    return {
      ok: counts.failed === 0 && extraErrors.length === 0,
      dryRun: cmd.dryRun,
      complete,
      resumed,
      counts,
      byRegion,
      errors,
      results: kept,
      resultsOmitted,
      roleActions,
      trimHeld,
      apiCalls: ctx.api.countCalls() - callsBefore,
      durationMs: Date.now() - started,
    };
  }
}
