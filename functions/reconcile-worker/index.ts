// Organisation mode: one worker of the fan-out, invoked asynchronously by the reconcile coordinator (or by itself,
// to continue): reconcile one owner account in one region; continue with the checkpoint when time runs short.
import { makeHandler, inputError } from '../../shared/handler';
import { reportProblems } from '../../shared/notify';
import { parseWorkerPayload, runWorker } from '../../shared/org/worker';
import { fanOutPorts, functionRegion } from '../../shared/org/deps';

export const handler = makeHandler('reconcile-worker', async (run, invocation) => {
  if (invocation.kind !== 'manual')
    return inputError(
      run.log,
      invocation.kind === 'invalid'
        ? invocation.error
        : 'reconcile-worker takes {"action":"reconcile-worker","accountId":"…","region":"…","passId":"…","hop":0}',
    );
  const payload = parseWorkerPayload(invocation.command);
  const ctx = await run.engine();
  const region = functionRegion(run.region, ctx);
  const summary = await runWorker(ctx, run.cfg.org, payload, {
    invoker: fanOutPorts(ctx).invoker,
    // Its own name, as FC's context says it; else the configured worker.
    self: run.functionName || run.cfg.org?.worker || 'ecs-share-reconcile-worker',
    selfRegion: region,
    remainingMs: run.remainingMs,
  });
  const { results, ...rest } = summary;
  run.log.info('worker summary', { ...rest, results: results.length });
  await reportProblems(run, 'reconcile', summary);
  return summary;
});
