// Use case, organisation mode: the timer's pass over a whole resource directory. The coordinator lists the accounts
// in scope (ResourceManager ListAccounts when SHARE_ACCOUNTS is `all` or names folders) and queues one asynchronous
// worker invocation per (account, region) through FC 3.0's InvokeFunction; each worker is a reconcile of one account
// and region (worker.ts). Dispatch is idempotent work: a worker queued twice runs twice and the second writes nothing.
import { randomBytes } from 'node:crypto';
import { InvalidInputError } from '../errors';
import { REGION, isAccountUid } from '../domain/ids';
import type { EngineContext } from '../share/context';
import { mapLimit } from '../share/summary';
import type { DirectoryAccount } from '../cloud/accounts';
import type { InvokerPort } from '../cloud/fc';
import { decideScope, type OrgConfig } from './scope';
import type { WorkerPayload } from './worker';

export interface FanOutCommand {
  regions: string[];
  dryRun: boolean;
  /** A hand invocation may name some accounts of the scope; absent: every account in scope. */
  accounts?: string[];
}

export interface FanOutSummary {
  ok: boolean;
  mode: 'organisation';
  dryRun: boolean;
  passId: string;
  /** The worker function invoked, and how many (account, region) pairs it was given. */
  worker: string;
  accounts: number;
  regions: string[];
  dispatched: Array<{ accountId: string; region: string; requestId?: string }>;
  /** In a dry run: what would be dispatched. */
  planned: Array<{ accountId: string; region: string }>;
  errors: Array<{ accountId: string; region: string; code: string; message: string }>;
  apiCalls: number;
  durationMs: number;
}

const KNOWN = new Set(['action', 'regions', 'dryRun', 'accounts']);

export function parseFanOutCommand(command: Record<string, unknown>, defaultRegions: string[]): FanOutCommand {
  const unknown = Object.keys(command).filter((k) => !KNOWN.has(k));
  if (unknown.length)
    throw new InvalidInputError(
      `Unknown field(s) ${unknown.join(', ')}; in organisation mode reconcile takes action, regions, dryRun, accounts`,
    );
  if (command.action !== undefined && command.action !== 'reconcile')
    throw new InvalidInputError(`action must be "reconcile", got ${JSON.stringify(command.action)}`);
  const regions = command.regions ?? defaultRegions;
  if (!Array.isArray(regions) || regions.length === 0 || !regions.every((r) => typeof r === 'string' && REGION.test(r)))
    throw new InvalidInputError(
      `regions must be a non-empty list like ["cn-hangzhou"], got ${JSON.stringify(regions)}`,
    );
  if (command.dryRun !== undefined && typeof command.dryRun !== 'boolean')
    throw new InvalidInputError('dryRun must be true or false');
  const accounts = command.accounts;
  if (
    accounts !== undefined &&
    (!Array.isArray(accounts) ||
      accounts.length === 0 ||
      !accounts.every((a) => typeof a === 'string' && isAccountUid(a)))
  )
    throw new InvalidInputError(
      `accounts must be a non-empty list of 16-digit account uids, got ${JSON.stringify(accounts)}`,
    );
  return {
    regions: [...new Set(regions as string[])],
    dryRun: command.dryRun === true,
    ...(accounts ? { accounts: [...new Set(accounts as string[])] } : {}),
  };
}

/** The directory port the coordinator needs: every account of the directory (management account or delegated admin). */
export type ListAccounts = () => Promise<DirectoryAccount[]>;

/** The owner accounts one pass covers: the central account, then every member SHARE_ACCOUNTS admits. */
export async function accountsInScope(central: EngineContext, org: OrgConfig, list: ListAccounts): Promise<string[]> {
  const out = new Set<string>([central.ownerUid]);
  const needsDirectory = org.accounts === 'all' || org.accounts.folders.length > 0;
  if (org.accounts !== 'all') for (const uid of org.accounts.uids) out.add(uid);
  if (!needsDirectory) return [...out];
  for (const a of await list()) {
    const d = decideScope(org, a.accountId, central.ownerUid, { kind: 'member', folderId: a.folderId, path: a.path });
    if (d.kind === 'in') out.add(a.accountId);
  }
  return [...out];
}

export async function fanOut(
  central: EngineContext,
  org: OrgConfig,
  cmd: FanOutCommand,
  deps: { list: ListAccounts; invoker: InvokerPort; worker: string; workerRegion: string; passId?: string },
): Promise<FanOutSummary> {
  const started = Date.now();
  const callsBefore = central.api.countCalls();
  const passId =
    deps.passId || `${new Date().toISOString().replace(/[-:.]/g, '').slice(0, 15)}-${randomBytes(4).toString('hex')}`;
  const summary: FanOutSummary = {
    ok: true,
    mode: 'organisation',
    dryRun: cmd.dryRun,
    passId,
    worker: deps.worker,
    accounts: 0,
    regions: cmd.regions,
    dispatched: [],
    planned: [],
    errors: [],
    apiCalls: 0,
    durationMs: 0,
  };
  let accounts: string[];
  try {
    accounts = await accountsInScope(central, org, deps.list);
  } catch (e) {
    const err = e as { code?: string; message?: string };
    const advice =
      typeof err?.code === 'string' && /ResourceDirectory|NoPermission|Forbidden/i.test(err.code)
        ? ': run the central deployment in the management account or a delegated administrator, with resourcemanager:ListAccounts (shared/policies/function-role-org.json)'
        : '';
    summary.ok = false;
    summary.errors.push({
      accountId: central.ownerUid,
      region: 'global',
      code: err?.code ?? 'Error',
      message: `the resource directory's accounts could not be listed (${err?.message ?? String(e)})${advice}; nothing was dispatched`,
    });
    return done();
  }
  if (cmd.accounts) {
    const inScope = new Set(accounts);
    const outside = cmd.accounts.filter((a) => !inScope.has(a));
    if (outside.length)
      throw new InvalidInputError(
        `account(s) ${outside.join(', ')} are not in SHARE_ACCOUNTS's scope; nothing was dispatched`,
      );
    accounts = cmd.accounts;
  }
  summary.accounts = accounts.length;
  const pairs = accounts.flatMap((accountId) => cmd.regions.map((region) => ({ accountId, region })));
  if (cmd.dryRun) {
    summary.planned = pairs;
    return done();
  }
  await mapLimit(pairs, Math.max(4, central.cfg.concurrency), async ({ accountId, region }) => {
    const payload: WorkerPayload = { action: 'reconcile-worker', accountId, region, passId, hop: 0 };
    try {
      const { requestId } = await deps.invoker.invokeAsync(deps.workerRegion, deps.worker, payload);
      summary.dispatched.push({ accountId, region, ...(requestId ? { requestId } : {}) });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      summary.ok = false;
      summary.errors.push({ accountId, region, code: err.code ?? 'Error', message: String(err.message ?? e) });
      central.log.error('worker could not be dispatched; the next timer run dispatches it again', {
        accountId,
        region,
        error: { code: err.code, message: err.message },
      });
    }
  });
  return done();

  function done(): FanOutSummary {
    summary.apiCalls = central.api.countCalls() - callsBefore;
    summary.durationMs = Date.now() - started;
    return summary;
  }
}
