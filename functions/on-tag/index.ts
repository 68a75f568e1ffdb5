// EventBridge -> FC: ECS ActionTrail tag events (one CloudEvent or a batch) share or take back the resources named.
import { makeHandler, inputError } from '../../shared/handler';
import { handleTagEvents } from '../../shared/usecases/on-tag';
import { handleOrgTagEvents } from '../../shared/org/on-tag';
import { summarise } from '../../shared/share/summary';
import { TransientFailure } from '../../shared/errors';
import { reportProblems } from '../../shared/notify';

export const handler = makeHandler('on-tag', async (run, invocation) => {
  if (invocation.kind === 'invalid') return inputError(run.log, invocation.error);
  if (invocation.kind !== 'events')
    return inputError(run.log, `on-tag takes EventBridge ActionTrail events, got a ${invocation.kind} invocation`);
  const summary = invocation.events.length
    ? run.cfg.org
      ? await handleOrgTagEvents(
          await run.engine(),
          run.cfg.org,
          invocation.events,
          invocation.skipped,
          run.remainingMs,
        )
      : await handleTagEvents(await run.engine(), invocation.events, invocation.skipped)
    : summarise([], { started: Date.now(), skipped: invocation.skipped });
  run.log.info('summary', {
    counts: summary.counts,
    errors: summary.errors,
    skipped: summary.skipped,
    durationMs: summary.durationMs,
  });
  // One record per refused or failed resource, naming the event that asked (the last one, as requestedBy does).
  const eventIds = new Map(
    invocation.events.flatMap((e) => e.resourceIds.map((id) => [`${e.region}/${id}`, e.eventId] as const)),
  );
  await reportProblems(run, 'on-tag', summary, { eventIds });
  // A transient failure fails the invocation, so EventBridge's push retry delivers the event again (replays of the
  // parts already done write nothing). Refusals and terminal errors are answers, not retried.
  const transient = summary.results.filter((r) => r.error?.retryable).map((r) => `${r.resourceId} (${r.error!.code})`);
  if (transient.length)
    throw new TransientFailure(`${transient.join(', ')} failed transiently; the event will be retried`);
  return summary;
});
