// Timer (and manual): reconcile every tagged resource in the configured regions; dryRun returns the full plan.
import { parseInvocation } from '../../shared/events';
import { startInvocation, type FcContext } from '../../shared/runtime';
import { parseReconcileCommand, reconcile } from '../../shared/usecases/reconcile';
import { FileCheckpointStore } from '../../shared/checkpoint';
import { failure, inputError } from '../../shared/handler-result';

export const handler = async (event: unknown, context: FcContext = {}) => {
  const run = startInvocation('reconcile', context);
  const invocation = parseInvocation(event);
  let command: Record<string, unknown>;
  if (invocation.kind === 'timer') command = typeof invocation.payload === 'object' && invocation.payload ? (invocation.payload as Record<string, unknown>) : {};
  else if (invocation.kind === 'manual') command = invocation.command;
  else return inputError(run.log, invocation.kind === 'invalid' ? invocation.error : 'reconcile takes a timer event or {"action":"reconcile","regions":[...],"dryRun":true}');
  try {
    const cmd = parseReconcileCommand(command, run.cfg.regions);
    const store = new FileCheckpointStore(process.env.SHARE_CHECKPOINT_FILE || '/tmp/ecs-share/reconcile-checkpoint.json');
    const summary = await reconcile(await run.engine(), cmd, store, run.remainingMs);
    run.log.info('summary', { counts: summary.counts, byRegion: summary.byRegion, errors: summary.errors, complete: summary.complete, apiCalls: summary.apiCalls, durationMs: summary.durationMs, dryRun: summary.dryRun });
    return summary;
  } catch (e) {
    return failure(run.log, e);
  }
};
