// EventBridge -> FC: ECS ActionTrail tag events (one CloudEvent or a batch) share or take back the resources named.
import { parseInvocation } from '../../shared/events';
import { startInvocation, type FcContext } from '../../shared/runtime';
import { handleTagEvents } from '../../shared/usecases/on-tag';
import { failure, inputError } from '../../shared/handler-result';
import { summarise } from '../../shared/share/summary';

export const handler = async (event: unknown, context: FcContext = {}) => {
  const run = startInvocation('on-tag', context);
  const invocation = parseInvocation(event);
  if (invocation.kind === 'invalid') return inputError(run.log, invocation.error);
  if (invocation.kind !== 'events') return inputError(run.log, `on-tag takes EventBridge ActionTrail events, got a ${invocation.kind} invocation`);
  if (invocation.events.length === 0) {
    const summary = summarise([], { started: Date.now(), skipped: invocation.skipped });
    run.log.info('nothing to do', { skipped: invocation.skipped });
    return summary;
  }
  try {
    const summary = await handleTagEvents(await run.engine(), invocation.events, invocation.skipped);
    run.log.info('summary', { counts: summary.counts, errors: summary.errors, durationMs: summary.durationMs });
    return summary;
  } catch (e) {
    return failure(run.log, e);
  }
};
