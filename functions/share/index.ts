// Manual: share one resource now, or (dryRun) return the plan as data and write nothing.
import { makeHandler, inputError } from '../../shared/handler';
import { parseShareCommand, runShareCommand } from '../../shared/usecases/share-command';
import { reportProblems } from '../../shared/notify';
import { shareInAccount } from '../../shared/org/share';

export const handler = makeHandler('share', async (run, invocation) => {
  if (invocation.kind !== 'manual') {
    return inputError(
      run.log,
      invocation.kind === 'invalid'
        ? invocation.error
        : `share takes {"resourceId","region","dryRun"}, got a ${invocation.kind} invocation`,
    );
  }
  const { ref, dryRun, accountId } = parseShareCommand(invocation.command, run.cfg.regions[0]);
  if (accountId !== undefined && !run.cfg.org)
    return inputError(
      run.log,
      'accountId is for organisation mode (SHARE_ACCOUNTS); this deployment acts in its own account only',
    );
  const summary =
    accountId !== undefined && run.cfg.org
      ? await shareInAccount(await run.engine(), run.cfg.org, accountId, ref, dryRun, run.remainingMs)
      : await runShareCommand(await run.engine(), ref, dryRun);
  run.log.info('summary', { counts: summary.counts, errors: summary.errors, dryRun, durationMs: summary.durationMs });
  await reportProblems(run, 'share', summary);
  return summary;
});
