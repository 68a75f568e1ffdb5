// Manual: share one resource now, or (dryRun) return the plan as data and write nothing.
import { parseInvocation } from '../../shared/events';
import { startInvocation, type FcContext } from '../../shared/runtime';
import { parseShareCommand, runShareCommand } from '../../shared/usecases/share-command';
import { failure, inputError } from '../../shared/handler-result';

export const handler = async (event: unknown, context: FcContext = {}) => {
  const run = startInvocation('share', context);
  const invocation = parseInvocation(event);
  if (invocation.kind !== 'manual') {
    return inputError(run.log, invocation.kind === 'invalid' ? invocation.error : `share takes {"resourceId","region","dryRun"}, got a ${invocation.kind} invocation`);
  }
  try {
    const { ref, dryRun } = parseShareCommand(invocation.command, run.cfg.regions[0]);
    const summary = await runShareCommand(await run.engine(), ref, dryRun);
    run.log.info('summary', { counts: summary.counts, errors: summary.errors, dryRun, durationMs: summary.durationMs });
    return summary;
  } catch (e) {
    return failure(run.log, e);
  }
};
