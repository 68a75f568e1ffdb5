// One JSON summary per run: counts per outcome (and region), the results, errors with resource ids, duration.
import type { OutcomeKind, ResourceOutcome } from './model';

export type Counts = Record<OutcomeKind, number>;

export interface RunSummary {
  ok: boolean;
  dryRun: boolean;
  counts: Counts;
  byRegion: Record<string, Counts>;
  errors: Array<{ resourceId: string; region: string; outcome: OutcomeKind; code?: string; message: string }>;
  results: ResourceOutcome[];
  skipped: Array<{ eventId?: string; reason: string }>;
  durationMs: number;
}

export const emptyCounts = (): Counts => ({ shared: 0, revoked: 0, unchanged: 0, pending: 0, refused: 0, failed: 0 });

export function summarise(
  results: ResourceOutcome[],
  opts: { started: number; dryRun?: boolean; skipped?: RunSummary['skipped'] },
): RunSummary {
  const counts = emptyCounts();
  const byRegion: Record<string, Counts> = {};
  for (const r of results) {
    counts[r.outcome]++;
    (byRegion[r.region] ??= emptyCounts())[r.outcome]++;
  }
  const errors = results
    .filter((r) => r.outcome === 'refused' || r.outcome === 'failed')
    .map((r) => ({
      resourceId: r.resourceId,
      region: r.region,
      outcome: r.outcome,
      code: r.error?.code,
      message: r.error?.message ?? r.reason ?? '',
    }));
  return {
    ok: counts.failed === 0,
    dryRun: Boolean(opts.dryRun),
    counts,
    byRegion,
    errors,
    results,
    skipped: opts.skipped ?? [],
    durationMs: Date.now() - opts.started,
  };
}

/** Run tasks with at most `limit` in flight, keeping input order in the result. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return out;
}
