// Failures reach a person (README "Failures reach a person"): every refused and failed outcome of a run becomes one
// structured record, logged once as a JSON line ("msg":"share problem", warn for refused, error for failed) that
// Function Compute ships to Log Service, where the README's query and alert select it by these field names. Opt-in
// (SHARE_NOTIFY_EVENT_BUS), the same records are published as CloudEvents to an EventBridge bus, in batches, so a
// user's own rule can route them (DingTalk, SMS, MNS, a webhook). Publishing never fails the invocation nor changes
// an outcome: a failed publish is logged (warn, with its code) and otherwise ignored.
import { CloudApi } from './cloud/api';
import type { RequestedBy, ResourceOutcome } from './share/model';
import type { Invocation } from './runtime';

const PROBLEM_MSG = 'share problem';

/** One refused or failed outcome, as logged and as published (the event's `data`). Every field is always present. */
export interface ProblemRecord {
  outcome: 'refused' | 'failed';
  /** The refusal's or the error's code (README "Outcomes, errors and fixes"). */
  code: string;
  /** What happened and, for a refusal, what to fix. */
  reason: string;
  /** The fix for a failed call's code, where there is one; else null. */
  advice: string | null;
  /** A transient failure a later run can get past (the event is retried, the timer repairs it). */
  retryable: boolean;
  resourceId: string;
  /** snapshot, image, or role (a reconcile's role trim). */
  resourceType: string;
  region: string;
  /** Who asked: the tag call's principal (on-tag), "timer" or "manual"; null where unknown. */
  requestedBy: RequestedBy | null;
  /** The function that ran: on-tag, share or reconcile. */
  function: string;
  /** The EventBridge event that named the resource (on-tag); else null. */
  eventId: string | null;
  /** The account that owns the resource (and runs ecs-share). */
  ownerAccountId: string;
  /** The Function Compute request id of the invocation; null when run outside FC without one. */
  invocationId: string | null;
  /** The failed API call's request id, for a support ticket; else null. */
  apiRequestId: string | null;
  targets: string[];
}

export interface ProblemSource {
  dryRun: boolean;
  results: ResourceOutcome[];
  errors: Array<{ resourceId: string; region: string; outcome: string; code?: string; message: string }>;
}

const isProblem = (o: string): o is 'refused' | 'failed' => o === 'refused' || o === 'failed';

/** The records of a run's refused and failed outcomes (a dry run changes nothing and reports none). */
export function problemRecords(
  summary: ProblemSource,
  ctx: { fn: string; ownerUid: string; requestId?: string; eventIds?: Map<string, string> },
): ProblemRecord[] {
  if (summary.dryRun) return [];
  const base = { function: ctx.fn, ownerAccountId: ctx.ownerUid, invocationId: ctx.requestId ?? null };
  const out: ProblemRecord[] = [];
  for (const r of summary.results) {
    if (!isProblem(r.outcome)) continue;
    out.push({
      outcome: r.outcome,
      code: r.error?.code ?? (r.outcome === 'refused' ? 'Refused' : 'Error'),
      reason: r.reason ?? r.error?.message ?? '',
      advice: r.advice ?? null,
      retryable: r.error?.retryable === true,
      resourceId: r.resourceId,
      resourceType: r.resourceType,
      region: r.region,
      requestedBy: r.requestedBy ?? null,
      ...base,
      ownerAccountId: r.accountId ?? ctx.ownerUid,
      eventId: ctx.eventIds?.get(`${r.region}/${r.resourceId}`) ?? null,
      apiRequestId: r.error?.requestId ?? null,
      targets: r.targets ?? [],
    });
  }
  // Errors that are no resource's outcome: a reconcile's role trim that failed (the next pass resumes it).
  const seen = new Set(summary.results.map((r) => `${r.region}/${r.resourceId}`));
  for (const e of summary.errors) {
    if (!isProblem(e.outcome) || seen.has(`${e.region}/${e.resourceId}`)) continue;
    out.push({
      outcome: e.outcome,
      code: e.code ?? 'Error',
      reason: e.message,
      advice: 'The next reconcile pass tries the role trim again.',
      retryable: true,
      resourceId: e.resourceId,
      resourceType: 'role',
      region: e.region,
      requestedBy: null,
      ...base,
      eventId: null,
      apiRequestId: null,
      targets: [],
    });
  }
  return out;
}

/** CloudEvents `type` of a record: ecs-share:Share:Refused or ecs-share:Share:Failed. */
export const eventTypeOf = (r: ProblemRecord) => `ecs-share:Share:${r.outcome === 'refused' ? 'Refused' : 'Failed'}`;

/** The resource's ARN-like subject (a role's for a trim). */
export function subjectOf(r: ProblemRecord): string {
  return r.resourceType === 'role'
    ? `acs:ram::${r.ownerAccountId}:role/${r.resourceId}`
    : `acs:ecs:${r.region}:${r.ownerAccountId}:${r.resourceType}/${r.resourceId}`;
}

/** Stable per invocation and resource: a retried PutEvents (or a replayed invocation) repeats the same id. */
function eventIdOf(r: ProblemRecord, { createHash, randomUUID }: typeof import('node:crypto')): string {
  if (!r.invocationId) return randomUUID();
  const h = createHash('sha256').update(`${r.invocationId}|${r.region}|${r.resourceId}|${r.code}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * Log one record per refused or failed outcome and, when SHARE_NOTIFY_EVENT_BUS is set, publish them. Never throws.
 * `eventIds`: region/resourceId -> the id of the event that named it (on-tag).
 */
export async function reportProblems(
  run: Invocation,
  fn: string,
  summary: ProblemSource,
  opts: { eventIds?: Map<string, string> } = {},
): Promise<void> {
  try {
    if (summary.dryRun || ![...summary.results, ...summary.errors].some((r) => isProblem(r.outcome))) return;
    const engine = await run.engine();
    const records = problemRecords(summary, {
      fn,
      ownerUid: engine.ownerUid,
      requestId: run.requestId,
      eventIds: opts.eventIds,
    });
    for (const r of records) run.log[r.outcome === 'failed' ? 'error' : 'warn'](PROBLEM_MSG, { ...r });
    const bus = run.cfg.notifyEventBus;
    if (!bus || records.length === 0) return;
    const region = run.region || run.cfg.regions[0];
    // node:crypto loads only when there is something to publish, not with the bundle (docs/benchmarks.md, Cold start).
    const crypto = await import('node:crypto');
    const events = records.map((r) => ({
      id: eventIdOf(r, crypto),
      source: run.cfg.notifySource,
      type: eventTypeOf(r),
      subject: subjectOf(r),
      time: new Date().toISOString(),
      data: { ...r },
    }));
    if (!(engine.api instanceof CloudApi)) {
      run.log.warn('notify publish skipped: no cloud client', { bus, events: events.length });
      return;
    }
    try {
      // Loaded here, not at module load: a cold start that publishes nothing never evaluates it.
      const { putEvents } = await import('./cloud/eventbridge');
      const res = await putEvents(engine.api, region, bus, events);
      if (res.failed.length)
        run.log.warn('notify publish failed', {
          bus,
          region,
          published: res.published,
          failed: res.failed,
          code: res.failed[0].code,
        });
      else run.log.info('notify published', { bus, region, events: res.published });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      run.log.warn('notify publish failed', {
        bus,
        region,
        events: events.length,
        code: err?.code ?? 'Error',
        error: { code: err?.code ?? 'Error', message: err?.message ?? String(e) },
      });
    }
  } catch (e) {
    run.log.warn('problem report failed', { error: { message: (e as Error)?.message ?? String(e) } });
  }
}
