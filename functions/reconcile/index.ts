// Timer (and manual): reconcile every tagged resource in the configured regions; dryRun returns the full plan.
// Organisation mode (SHARE_ACCOUNTS): the coordinator of the fan-out, one asynchronous worker per account and region.
import { makeHandler, inputError } from '../../shared/handler';
import { parseReconcileCommand, reconcile } from '../../shared/usecases/reconcile';
import { FileCheckpointStore } from '../../shared/checkpoint';
import { reportProblems } from '../../shared/notify';
import { fanOut, parseFanOutCommand } from '../../shared/org/fan-out';
import { fanOutPorts, functionRegion } from '../../shared/org/deps';

export const handler = makeHandler('reconcile', async (run, invocation) => {
  let command: Record<string, unknown>;
  if (invocation.kind === 'timer')
    command =
      typeof invocation.payload === 'object' && invocation.payload
        ? (invocation.payload as Record<string, unknown>)
        : {};
  else if (invocation.kind === 'manual') command = invocation.command;
  else
    return inputError(
      run.log,
      invocation.kind === 'invalid'
        ? invocation.error
        : 'reconcile takes a timer event or {"action":"reconcile","regions":[...],"dryRun":true}',
    );
  const org = run.cfg.org;
  if (org) {
    const cmd = parseFanOutCommand(command, run.cfg.regions);
    const ctx = await run.engine();
    const summary = await fanOut(ctx, org, cmd, {
      ...fanOutPorts(ctx),
      worker: org.worker,
      workerRegion: functionRegion(run.region, ctx),
      passId: run.requestId,
    });
    const { dispatched, planned, ...rest } = summary;
    run.log.info('fan-out summary', { ...rest, dispatched: dispatched.length, planned: planned.length });
    return summary;
  }
  const cmd = {
    ...parseReconcileCommand(command, run.cfg.regions),
    requestedBy: invocation.kind === 'timer' ? ('timer' as const) : ('manual' as const),
  };
  const summary = await reconcile(
    await run.engine(),
    cmd,
    new FileCheckpointStore(run.cfg.checkpointFile),
    run.remainingMs,
  );
  const { results, ...rest } = summary;
  run.log.info('summary', { ...rest, results: results.length });
  await reportProblems(run, 'reconcile', summary);
  return summary;
});
