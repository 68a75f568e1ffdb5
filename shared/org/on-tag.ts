// Use case, organisation mode: tag events from many owner accounts. Each resource is acted on in the account that
// owns it (the event's owner account, never the account whose bus delivered it), through that account's member role;
// an owner account outside SHARE_ACCOUNTS is refused with no call made in it. Single-account mode never comes here.
import { CloudError, adviceFor, classify } from '../errors';
import type { Skipped, TagEvent } from '../events';
import { membershipCached, type EngineContext } from '../share/context';
import type { ResourceOutcome } from '../share/model';
import { summarise, type RunSummary } from '../share/summary';
import { handleTagEvents, onlyOwnKeys } from '../usecases/on-tag';
import { memberContext } from './member';
import { decideScope, type OrgConfig } from './scope';

/** The refusal code of an event whose owner account is not one SHARE_ACCOUNTS names. */
const NOT_IN_SCOPE = 'AccountNotInScope';
/** The member role could not be assumed (missing, or not trusting the central function role). */
const MEMBER_ROLE_FAILED = 'MemberRoleUnavailable';

export async function handleOrgTagEvents(
  central: EngineContext,
  org: OrgConfig,
  events: TagEvent[],
  skipped: Skipped[] = [],
  remainingMs?: () => number,
): Promise<RunSummary> {
  const started = Date.now();
  const byOwner = new Map<string, TagEvent[]>();
  const results: ResourceOutcome[] = [];
  const skips = [...skipped];
  for (const e of events) {
    // ecs-share's own tag writes echo back from every member: skipped before any role is assumed for them.
    if (onlyOwnKeys(e, central.cfg.ledgerKey, central.cfg.statusKey)) {
      skips.push({ eventId: e.eventId, reason: `${e.eventName} changed only ecs-share's own tags` });
      continue;
    }
    if (e.accountConflict) {
      results.push(...refusals([e], '', 'AccountConflict', `${e.accountConflict}: nothing was changed in either`));
      continue;
    }
    const owner = e.accountId ?? central.ownerUid;
    byOwner.set(owner, [...(byOwner.get(owner) ?? []), e]);
  }
  for (const [owner, group] of byOwner) {
    const outcome = await actIn(central, org, owner, group, remainingMs);
    results.push(...outcome.results);
    skips.push(...outcome.skipped);
  }
  return summarise(results, { started, skipped: skips });
}

async function actIn(
  central: EngineContext,
  org: OrgConfig,
  owner: string,
  events: TagEvent[],
  remainingMs?: () => number,
): Promise<{ results: ResourceOutcome[]; skipped: Skipped[] }> {
  let decision = decideScope(org, owner, central.ownerUid);
  try {
    if (decision.kind === 'ask-directory')
      decision = decideScope(org, owner, central.ownerUid, await membershipCached(central, owner));
  } catch (e) {
    const advice =
      'The resource directory did not answer; the event is delivered again, or run the share once it answers.';
    return {
      results: failures(
        events,
        owner,
        e,
        'the resource directory could not say whether the account is in scope',
        'DirectoryUnavailable',
        advice,
      ),
      skipped: [],
    };
  }
  if (decision.kind !== 'in') {
    const reason = decision.kind === 'out' ? decision.reason : `account ${owner} could not be placed`;
    central.log.warn('event from an account outside SHARE_ACCOUNTS refused, nothing changed', {
      accountId: owner,
      outcome: 'refused',
      code: NOT_IN_SCOPE,
    });
    return { results: refusals(events, owner, NOT_IN_SCOPE, reason), skipped: [] };
  }
  let ctx: EngineContext;
  try {
    ctx = owner === central.ownerUid ? central : await memberContext(central, org, owner, remainingMs);
  } catch (e) {
    const advice =
      'Deploy the member role in that account (docs/organisation.md): its trust must admit the central function role and the central role must be allowed sts:AssumeRole on it.';
    return {
      results: failures(
        events,
        owner,
        e,
        `the member role ${org.memberRole} could not be assumed in ${owner}`,
        MEMBER_ROLE_FAILED,
        advice,
      ),
      skipped: [],
    };
  }
  const summary = await handleTagEvents(ctx, events);
  return { results: summary.results.map((r) => ({ ...r, accountId: owner })), skipped: summary.skipped };
}

function each(events: TagEvent[], fn: (e: TagEvent, id: string) => ResourceOutcome): ResourceOutcome[] {
  const seen = new Set<string>();
  return events.flatMap((e) =>
    e.resourceIds
      .filter((id) => !seen.has(`${e.region}/${id}`) && seen.add(`${e.region}/${id}`))
      .map((id) => fn(e, id)),
  );
}

function refusals(events: TagEvent[], owner: string, code: string, reason: string): ResourceOutcome[] {
  return each(events, (e, id) => ({
    resourceId: id,
    resourceType: e.resourceType,
    region: e.region,
    outcome: 'refused',
    targets: [],
    reason,
    error: { code, message: reason },
    actions: [],
    ...(owner ? { accountId: owner } : {}),
    ...(e.requestedBy ? { requestedBy: e.requestedBy } : {}),
  }));
}

/** A failure before anything was read in the account: a retryable one keeps its code (the event is delivered again). */
function failures(
  events: TagEvent[],
  owner: string,
  err: unknown,
  what: string,
  terminalCode: string,
  terminalAdvice: string,
): ResourceOutcome[] {
  const ce = err instanceof CloudError ? err : undefined;
  const retryable = ce ? classify(ce) === 'retryable' : false;
  const code = retryable ? ce!.code : terminalCode;
  const message = `${what}: ${ce ? `${ce.code}: ${ce.message}` : String((err as Error)?.message ?? err)}`;
  return each(events, (e, id) => ({
    resourceId: id,
    resourceType: e.resourceType,
    region: e.region,
    outcome: 'failed',
    targets: [],
    error: { code, message, ...(ce?.requestId ? { requestId: ce.requestId } : {}), retryable },
    advice: retryable ? adviceFor(code) : terminalAdvice,
    actions: [],
    accountId: owner,
    ...(e.requestedBy ? { requestedBy: e.requestedBy } : {}),
  }));
}
