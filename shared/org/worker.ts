// Use case, organisation mode: one worker of the fan-out, a reconcile of one owner account in one region. It acts in
// the account through its member role (the central account with the function's own role), keeps its checkpoint in
// memory, and when its time runs short it queues itself again, asynchronously, with the checkpoint in the payload
// (FC 3.0 accepts 128 KB), and stops. Workers are idempotent: a duplicated or retried invocation replays what is
// done and writes nothing; a continuation that arrives twice makes two chains that converge on the same state.
import { InvalidInputError } from '../errors';
import { REGION, isAccountUid } from '../domain/ids';
import { PayloadCheckpointStore, parseCheckpoint, type Checkpoint } from '../checkpoint';
import { membershipCached, type EngineContext } from '../share/context';
import { reconcile, type ReconcileSummary } from '../usecases/reconcile';
import { emptyCounts } from '../share/summary';
import { PayloadTooLargeError, type InvokerPort } from '../cloud/fc';
import { memberContext } from './member';
import { decideScope, type OrgConfig } from './scope';

export interface WorkerPayload {
  action: 'reconcile-worker';
  accountId: string;
  region: string;
  /** The coordinator's pass this worker belongs to (for the logs; every hop of a chain carries it). */
  passId: string;
  /** 0 for the coordinator's invocation, then 1, 2, … for each continuation. */
  hop: number;
  dryRun?: boolean;
  /** Stop after this many resources per invocation and continue (operators who want short runs; tests). */
  maxResources?: number;
  checkpoint?: Checkpoint;
}

export interface WorkerSummary extends Omit<ReconcileSummary, 'ok'> {
  ok: boolean;
  accountId: string;
  region: string;
  passId: string;
  hop: number;
  /** The continuation queued when this invocation stopped short (its FC request id, when FC gave one). */
  continued?: { hop: number; requestId?: string };
  /** A worker refused or failed before reconciling (out of scope, member role missing, continuation impossible). */
  error?: { code: string; message: string };
}

/** A chain longer than this stops (and says so): 48 invocations of 15 minutes are 12 hours, two timer periods. */
export const MAX_HOPS = 48;
const KNOWN = new Set(['action', 'accountId', 'region', 'passId', 'hop', 'dryRun', 'maxResources', 'checkpoint']);

export function parseWorkerPayload(command: Record<string, unknown>): WorkerPayload {
  const unknown = Object.keys(command).filter((k) => !KNOWN.has(k));
  if (unknown.length)
    throw new InvalidInputError(
      `Unknown field(s) ${unknown.join(', ')}; the worker takes action, accountId, region, passId, hop, dryRun, maxResources, checkpoint`,
    );
  if (command.action !== 'reconcile-worker')
    throw new InvalidInputError(`action must be "reconcile-worker", got ${JSON.stringify(command.action)}`);
  const { accountId, region, passId, hop, dryRun, maxResources } = command;
  if (typeof accountId !== 'string' || !isAccountUid(accountId))
    throw new InvalidInputError(`accountId must be a 16-digit account uid, got ${JSON.stringify(accountId)}`);
  if (typeof region !== 'string' || !REGION.test(region))
    throw new InvalidInputError(`region must be a region id like "cn-hangzhou", got ${JSON.stringify(region)}`);
  if (typeof passId !== 'string' || !/^[A-Za-z0-9_.:-]{1,64}$/.test(passId))
    throw new InvalidInputError('passId must be 1-64 letters, digits, "_", ".", ":" or "-"');
  if (typeof hop !== 'number' || !Number.isInteger(hop) || hop < 0 || hop > MAX_HOPS)
    throw new InvalidInputError(`hop must be an integer from 0 to ${MAX_HOPS}`);
  if (dryRun !== undefined && typeof dryRun !== 'boolean') throw new InvalidInputError('dryRun must be true or false');
  if (
    maxResources !== undefined &&
    (typeof maxResources !== 'number' || !Number.isInteger(maxResources) || maxResources < 1)
  )
    throw new InvalidInputError('maxResources must be a positive integer');
  let checkpoint: Checkpoint | undefined;
  if (command.checkpoint !== undefined) {
    try {
      checkpoint = parseCheckpoint(command.checkpoint);
    } catch (e) {
      throw new InvalidInputError(`checkpoint: ${(e as Error).message}`);
    }
    if (checkpoint.regions.length !== 1 || checkpoint.regions[0] !== region)
      throw new InvalidInputError(`checkpoint: its regions must be ["${region}"], the worker's region`);
  }
  return {
    action: 'reconcile-worker',
    accountId,
    region,
    passId,
    hop,
    ...(dryRun !== undefined ? { dryRun } : {}),
    ...(maxResources !== undefined ? { maxResources } : {}),
    ...(checkpoint ? { checkpoint } : {}),
  };
}

export async function runWorker(
  central: EngineContext,
  org: OrgConfig | undefined,
  payload: WorkerPayload,
  deps: { invoker: InvokerPort; self: string; selfRegion: string; remainingMs: () => number },
): Promise<WorkerSummary> {
  const { accountId, region, passId, hop } = payload;
  const log = central.log.child({ accountId, region, passId, hop });
  const refuse = (code: string, message: string): WorkerSummary => {
    log.warn('worker refused, nothing changed', { outcome: 'refused', error: { code, message } });
    return { ...emptySummary(payload), ok: false, error: { code, message } };
  };

  // Scope first: no call is made in an account the configuration does not name.
  if (!org && accountId !== central.ownerUid)
    return refuse('AccountNotInScope', `account ${accountId} is not this account and SHARE_ACCOUNTS is not set`);
  if (org) {
    let decision = decideScope(org, accountId, central.ownerUid);
    if (decision.kind === 'ask-directory')
      decision = decideScope(org, accountId, central.ownerUid, await membershipCached(central, accountId));
    if (decision.kind !== 'in')
      return refuse('AccountNotInScope', decision.kind === 'out' ? decision.reason : `account ${accountId} unplaced`);
  }
  let ctx: EngineContext;
  try {
    ctx = accountId === central.ownerUid ? central : await memberContext(central, org!, accountId, deps.remainingMs);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    // Retried by FC's async retries (the member role may be deployed meanwhile), then recorded by its destination.
    log.error('member role could not be assumed', { error: { code: 'MemberRoleUnavailable', message: err.message } });
    throw e;
  }
  const store = new PayloadCheckpointStore(payload.checkpoint);
  const summary = await reconcile(
    ctx,
    { regions: [region], dryRun: payload.dryRun === true, maxResources: payload.maxResources, requestedBy: 'timer' },
    store,
    deps.remainingMs,
  );
  const out: WorkerSummary = { ...summary, accountId, region, passId, hop };
  if (summary.complete || payload.dryRun || !store.saved) return out;

  // Cut short: continue with the checkpoint, asynchronously, and stop.
  if (hop + 1 > MAX_HOPS) {
    out.ok = false;
    out.error = {
      code: 'ContinuationLimit',
      message: `the pass of ${accountId} in ${region} did not finish in ${MAX_HOPS + 1} invocations; the next timer run starts it afresh`,
    };
    log.error('worker chain too long, stopped', { error: out.error });
    return out;
  }
  const next: WorkerPayload = { ...payload, hop: hop + 1, checkpoint: store.saved };
  try {
    const { requestId } = await deps.invoker.invokeAsync(deps.selfRegion, deps.self, next);
    out.continued = { hop: hop + 1, ...(requestId ? { requestId } : {}) };
    log.info('worker continues itself', { continued: out.continued, processed: store.saved.processed });
  } catch (e) {
    if (e instanceof PayloadTooLargeError) {
      out.ok = false;
      out.error = { code: e.code, message: `${e.message}; the next timer run starts the pass afresh` };
      log.error('checkpoint too large to continue', { error: out.error });
      return out;
    }
    // FC retries this invocation (its replays write nothing) and then records it at the on-failure destination.
    throw e;
  }
  return out;
}

function emptySummary(p: WorkerPayload): WorkerSummary {
  return {
    ok: false,
    dryRun: p.dryRun === true,
    complete: false,
    resumed: false,
    counts: emptyCounts(),
    byRegion: {},
    errors: [],
    results: [],
    resultsOmitted: 0,
    roleActions: [],
    trimHeld: [],
    apiCalls: 0,
    durationMs: 0,
    accountId: p.accountId,
    region: p.region,
    passId: p.passId,
    hop: p.hop,
  };
}
