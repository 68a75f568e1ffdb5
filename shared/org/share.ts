// Use case, organisation mode: an operator shares one resource of a member account now (`"accountId"` in the share
// command). The same scope rule as every event: no call is made in an account SHARE_ACCOUNTS does not name.
import type { EngineContext } from '../share/context';
import { membershipCached } from '../share/context';
import type { ResourceRef } from '../share/model';
import { summarise, type RunSummary } from '../share/summary';
import { runShareCommand } from '../usecases/share-command';
import { memberContext } from './member';
import { decideScope, type OrgConfig } from './scope';

export async function shareInAccount(
  central: EngineContext,
  org: OrgConfig,
  accountId: string,
  ref: ResourceRef,
  dryRun: boolean,
  remainingMs?: () => number,
): Promise<RunSummary> {
  const started = Date.now();
  let decision = decideScope(org, accountId, central.ownerUid);
  if (decision.kind === 'ask-directory')
    decision = decideScope(org, accountId, central.ownerUid, await membershipCached(central, accountId));
  if (decision.kind !== 'in') {
    const reason = decision.kind === 'out' ? decision.reason : `account ${accountId} could not be placed`;
    central.log.warn('share in an account outside SHARE_ACCOUNTS refused, nothing changed', {
      accountId,
      outcome: 'refused',
      code: 'AccountNotInScope',
    });
    return summarise(
      [
        {
          resourceId: ref.id,
          resourceType: ref.type,
          region: ref.region,
          outcome: 'refused',
          targets: [],
          reason,
          error: { code: 'AccountNotInScope', message: reason },
          actions: [],
          accountId,
          requestedBy: 'manual',
        },
      ],
      { started, dryRun },
    );
  }
  // A member role that cannot be assumed fails the invocation with STS's code (nothing was read or written there).
  const ctx = accountId === central.ownerUid ? central : await memberContext(central, org, accountId, remainingMs);
  const summary = await runShareCommand(ctx, ref, dryRun);
  return { ...summary, results: summary.results.map((r) => ({ ...r, accountId })) };
}
