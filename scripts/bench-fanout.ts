// Organisation fan-out at scale (issue 10, point 6): a resource directory of N member accounts and the central
// (management) account, 3 regions, every (account, region) with S snapshots and I images already shared as their
// tags say. The `reconcile` coordinator (SHARE_ACCOUNTS=all) queues one `reconcile-worker` per (account, region)
// through FC 3.0's asynchronous InvokeFunction, which the emulator runs as child processes; against it, the same
// pairs reconciled one after another in one process. Per-action rate limits, counted per account and region, with
// time scaled by K: every limit is divided by K (L calls per K-second window), so the bounds grow K-fold and one
// emulator on this machine keeps up; the wall / bound ratio is what is compared.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { CustomPolicy, EmulatorState, FcFunction, Image, ResourceShare, Role, Snapshot } from './emulator/types';
import { buildKmsPolicies, policyNameFor, type KeyRef } from '../shared/domain/kms-policy';
import { writeTrustLedger } from '../shared/domain/trust-policy';
import { buildFunction } from './build';
import { RATE_LIMITS } from './bench-reconcile';

const root = path.resolve(__dirname, '..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const REGIONS = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'];
const HOME = REGIONS[0];
const CENTRAL = '2100000000000000';
const uidOf = (i: number) => `21${String(i).padStart(14, '0')}`; // 0 is the central account
const FUNCTION_ROLE = 'ecs-share-fc-role';
const MEMBER_ROLE = 'ecs-share-member';
const WORKER = 'ecs-share-reconcile-worker';
/** Recipients per owner account: the next accounts of the directory (an organisation shares among its accounts). */
const RECIPIENTS_PER_ACCOUNT = 8;

// Per-action rate limits in calls per second, per account and region, as documented (sources: bench-reconcile.ts).
// RAM's calls carry no region, so the emulator counts them account-wide.

export interface FanOutOptions {
  /** Member accounts of the directory for the fan-out runs (each also reported for memory); the last is the main run. */
  members: number[];
  snapshots: number;
  images: number;
  /** Time scale: every limit L/s becomes L per K-second window. */
  k: number;
  /** (account, region) pairs of the sequential pass (a sample when fewer than all: extrapolated linearly). */
  sequentialPairs: number;
  /** The emulator's share of async events delivered twice (its default is 0.05; 0 here unless asked). */
  duplicateRate: number;
  /** Only the largest directory, no fan-out run before the sequential pass (a probe of the emulator's cost per call). */
  sequentialOnly?: boolean;
}

const FULL: FanOutOptions = {
  members: [10, 50],
  snapshots: 1000,
  images: 200,
  k: 50,
  sequentialPairs: 6,
  duplicateRate: 0,
};
const QUICK: FanOutOptions = {
  members: [2, 5],
  snapshots: 100,
  images: 20,
  k: 10,
  sequentialPairs: 18,
  duplicateRate: 0,
};

const pad = (n: number, w: number) => String(n).padStart(w, '0');
const T = '2026-11-01T00:00:00Z';
const STATUS_KEY = 'ecs-share:status';
const STATUS = 'shared 1 | 2026-11-01T00:00Z';

/** One owner account's resources, share roles, KMS policies and resource shares, in steady state. */
function ownerWorld(
  a: number,
  uids: string[],
  snapshotCount: number,
  imageCount: number,
): Required<Pick<EmulatorState, 'keys' | 'snapshots' | 'images' | 'resourceShares' | 'roles' | 'policies'>> {
  const owner = uids[a];
  const others = uids.filter((u) => u !== owner);
  const recipients = Array.from(
    { length: Math.min(RECIPIENTS_PER_ACCOUNT, others.length) },
    (_, i) => others[(a + i) % others.length],
  );
  const keys: KeyRef[] = REGIONS.map((region, r) => ({
    region,
    accountId: owner,
    keyId: `key-fan${pad(a, 5)}r${r}0000000000000`,
  }));
  const snapshots: Snapshot[] = [];
  const images: Image[] = [];
  const shares: ResourceShare[] = [];
  for (const [r, region] of REGIONS.entries()) {
    const tag = `${pad(a, 5)}${r}`;
    for (let i = 0; i < snapshotCount; i++) {
      const id = `s-fan${tag}${pad(i, 8)}`;
      const to = recipients[i % recipients.length];
      snapshots.push({
        snapshotId: id,
        accountId: owner,
        region,
        encrypted: true,
        kmsKeyId: keys[r].keyId,
        status: 'accomplished',
        creationTime: T,
        tags: { 'share-with': to, [STATUS_KEY]: STATUS },
      });
      shares.push({
        resourceShareId: `rs-fan${tag}${pad(i, 8)}`,
        ownerAccountId: owner,
        region,
        name: `ecs-share-${id}`,
        allowExternalTargets: true,
        status: 'Active',
        createTime: T,
        updateTime: T,
        resources: [{ resourceId: id, resourceType: 'Snapshot', status: 'Associated', createTime: T, updateTime: T }],
        targets: [{ targetId: to, status: 'Associated', external: false, createTime: T, updateTime: T }],
      });
    }
    for (let i = 0; i < imageCount; i++) {
      const id = `m-fan${tag}${pad(i, 8)}`;
      const sid = `s-fanimg${tag}${pad(i, 8)}`;
      const to = recipients[(i + 3) % recipients.length];
      snapshots.push({
        snapshotId: sid,
        accountId: owner,
        region,
        encrypted: true,
        kmsKeyId: keys[r].keyId,
        status: 'accomplished',
        creationTime: T,
        tags: {},
      });
      images.push({
        imageId: id,
        accountId: owner,
        region,
        name: id,
        status: 'Available',
        creationTime: T,
        diskMappings: [{ device: '/dev/xvda', snapshotId: sid, size: 40, type: 'system' }],
        tags: { 'share-with': to, 'ecs-share:granted': to, [STATUS_KEY]: STATUS },
        sharedWith: [{ accountId: to, sharedTime: T }],
      });
    }
  }
  const trust = JSON.stringify({
    Version: '1',
    Statement: [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: recipients.map((u) => `${u}@ecs.aliyuncs.com`) },
      },
    ],
  });
  const description = writeTrustLedger('Managed by ecs-share.', {
    accounts: recipients,
    rds: [],
    folders: [],
    regions: [...REGIONS],
  });
  const roles: Role[] = [];
  const policies: CustomPolicy[] = [];
  for (const type of ['snapshot', 'image'] as const) {
    const docs = buildKmsPolicies(keys);
    docs.forEach((doc, i) =>
      policies.push({
        accountId: owner,
        policyName: policyNameFor(type, i),
        defaultVersion: 'v1',
        versions: [{ versionId: 'v1', document: JSON.stringify(doc), createDate: T }],
        nextVersion: 2,
      }),
    );
    roles.push({
      accountId: owner,
      roleName:
        type === 'snapshot' ? 'AliyunECSShareEncryptSnapshotDefaultRole' : 'AliyunECSShareEncryptImageDefaultRole',
      assumeRolePolicyDocument: trust,
      description,
      attachedPolicies: docs.map((_, i) => ({ policyName: policyNameFor(type, i), policyType: 'Custom' as const })),
      createDate: T,
    });
  }
  return {
    keys: keys.map((k) => ({ keyId: k.keyId, accountId: owner, region: k.region, state: 'Enabled', creator: owner })),
    snapshots,
    images,
    resourceShares: shares,
    roles,
    policies,
  };
}

/** The whole directory in steady state: every owner's world, the central function role, each member's member role. */
function directoryWorld(members: number, snapshotCount: number, imageCount: number): EmulatorState {
  const uids = Array.from({ length: members + 1 }, (_, i) => uidOf(i));
  const state: EmulatorState = {
    regions: REGIONS,
    accounts: uids.map((uid, i) => ({
      uid,
      accessKeys: [{ id: `LTAIfanout${pad(i, 10)}`, secret: `fanoutSecret${i}` }],
    })),
    resourceDirectory: {
      id: 'rd-fanout1',
      rootFolderId: 'r-fanout1',
      managementAccount: CENTRAL,
      folders: [{ id: 'r-fanout1', parentId: null, accounts: uids }],
    },
    keys: [],
    snapshots: [],
    images: [],
    resourceShares: [],
    roles: [],
    policies: [],
  };
  for (const a of uids.keys()) {
    const w = ownerWorld(a, uids, snapshotCount, imageCount);
    for (const k of Object.keys(w) as Array<keyof typeof w>) (state[k] as unknown[]).push(...w[k]);
  }
  const policy = (accountId: string, policyName: string, document: string): CustomPolicy => ({
    accountId,
    policyName,
    defaultVersion: 'v1',
    versions: [{ versionId: 'v1', document, createDate: T }],
    nextVersion: 2,
  });
  // The central function role: the shipped function policy plus the organisation add-on (docs/organisation.md).
  state.policies!.push(
    policy(CENTRAL, 'ecs-share-fc-policy', read('shared/policies/function-role.json')),
    policy(CENTRAL, 'ecs-share-fc-org', read('shared/policies/function-role-org.json')),
  );
  state.roles!.push({
    accountId: CENTRAL,
    roleName: FUNCTION_ROLE,
    assumeRolePolicyDocument: read('shared/policies/function-role-trust.json'),
    attachedPolicies: [
      { policyName: 'ecs-share-fc-policy', policyType: 'Custom' },
      { policyName: 'ecs-share-fc-org', policyType: 'Custom' },
    ],
    createDate: T,
  });
  // Each member's role: exactly the function policy, trusting only the central function role.
  const memberTrust = read('shared/policies/member-role-trust.json').replace('<CENTRAL_UID>', CENTRAL);
  for (const uid of uids.slice(1)) {
    state.policies!.push(policy(uid, `${MEMBER_ROLE}-policy`, read('shared/policies/function-role.json')));
    state.roles!.push({
      accountId: uid,
      roleName: MEMBER_ROLE,
      assumeRolePolicyDocument: memberTrust,
      attachedPolicies: [{ policyName: `${MEMBER_ROLE}-policy`, policyType: 'Custom' }],
      createDate: T,
    });
  }
  return state;
}

// ---------- the emulator process and its admin API ----------

interface Emu {
  endpoint: string;
  stop: () => void;
}

async function startEmulatorProcess(stateFile: string): Promise<Emu> {
  const child = spawn(
    process.execPath,
    [
      '--max-old-space-size=8192',
      '--import',
      'tsx',
      path.join(root, 'scripts/emulator/cli.ts'),
      '--port',
      '0',
      '--state',
      stateFile,
    ],
    { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  const endpoint = await new Promise<string>((resolve, reject) => {
    let out = '';
    child.stdout!.on('data', (d) => {
      out += d;
      const m = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(out);
      if (m) resolve(m[1]);
    });
    child.once('exit', (code) => reject(new Error(`emulator exited ${code}: ${out}`)));
  });
  child.stdout!.resume();
  const kill = () => child.kill('SIGTERM');
  process.once('exit', kill); // the bench stopped early: its emulator (and the workers it runs) too
  return { endpoint, stop: kill };
}

/** The emulator's admin API, one connection per request; rejects on a non-2xx answer. */
function admin(endpoint: string, method: string, route: string, body?: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${endpoint}/_emulator/${route}`,
      { method, agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => {
          const parsed = text ? JSON.parse(text) : {};
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${route}: ${res.statusCode} ${text}`));
          else resolve(parsed);
        });
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/**
 * Limits L/s divided by K: L calls per clock-aligned window of K seconds (the emulator's `perMinute` window, its
 * length set to K s, as ECS documents its own windows: "throttled at minute T, callable again as of minute T+1").
 * The emulator takes whole calls per second only, so L / K per rolling second cannot be set. (Shorter windows, L / 10
 * per K / 10 s, were tried: the product's throttling back-off of 0.5–10 s, made for per-minute windows, then made a
 * pair 12x its bound at K = 1.)
 */
async function setScaledLimits(emu: Emu, k: number): Promise<void> {
  await admin(emu.endpoint, 'PUT', 'throttling', { windowMs: k * 1000 });
  const limits = Object.fromEntries(Object.entries(RATE_LIMITS).map(([a, n]) => [a, { perMinute: n }]));
  await admin(emu.endpoint, 'PUT', 'rate-limits', limits);
}

interface Call {
  seq: number;
  action: string;
  params?: Record<string, string>;
  caller?: { accountId?: string } | null;
  status: number;
  code?: string;
  write: boolean;
  durationMs?: number;
  /** When the emulator logged it (ms since the epoch). */
  atMs?: number;
}

/**
 * Collects the call log while a run goes on (the emulator keeps the last 50,000 calls only): every `everyMs` it
 * fetches what is new and keeps the fields the bounds need.
 */
function collectCalls(emu: Emu, since: number, everyMs = 3000): { stop: () => Promise<Call[]> } {
  const calls: Call[] = [];
  let last = since;
  let stopped = false;
  const fetchNew = async () => {
    const { calls: got } = await admin(emu.endpoint, 'GET', `calls?since=${last}`);
    for (const c of got as Call[]) {
      calls.push({
        seq: c.seq,
        action: c.action,
        params: c.params?.RegionId ? { RegionId: c.params.RegionId } : {},
        caller: { accountId: c.caller?.accountId },
        status: c.status,
        code: c.code,
        write: c.write,
        durationMs: c.durationMs,
        atMs: Date.parse((c as { time?: string }).time ?? ''),
      });
      last = Math.max(last, c.seq);
    }
  };
  const loop = (async () => {
    while (!stopped) {
      await new Promise((r) => setTimeout(r, everyMs));
      await fetchNew();
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await loop;
      await fetchNew();
      return calls;
    },
  };
}

async function lastSeq(emu: Emu): Promise<number> {
  const { calls: all } = await admin(emu.endpoint, 'GET', 'calls');
  return all.length ? all[all.length - 1].seq : 0;
}

// ---------- bounds ----------

interface Bound {
  seconds: number;
  what: string;
}

interface PairBound {
  /** The task's bound: the slowest action's accepted calls / its limit (L / K per second). */
  rate: Bound;
  /**
   * The floor the clock-aligned windows allow from `start`: the nth accepted call of an action with L calls per
   * window lies in window floor(start / W) + ceil(n / L) - 1 at the earliest, so the pass cannot end before that
   * window opens. Lower than `rate` by up to two windows: a pass may use the rest of its first window and the start
   * of its last.
   */
  window: Bound;
}

const accepted = (c: Call) => c.status === 200;

/**
 * Each (action, account, region) is limited on its own (RAM's, with no region, account-wide). From the accepted calls
 * of each (account, region), the bound of that pair: see PairBound. `startOf` is when the pair could start at the
 * earliest (ms); `k` the time scale (windows of K s, L calls each).
 */
function pairBounds(calls: Call[], k: number, startOf: (pair: string) => number): Map<string, PairBound> {
  const n = new Map<string, number>();
  for (const c of calls) {
    if (!accepted(c) || !RATE_LIMITS[c.action]) continue;
    const key = `${c.caller?.accountId ?? '?'}|${c.params?.RegionId ?? ''}|${c.action}`;
    n.set(key, (n.get(key) ?? 0) + 1);
  }
  const windowMs = k * 1000;
  const out = new Map<string, PairBound>();
  for (const [key, count] of n) {
    const [account, region, action] = key.split('|');
    const limit = RATE_LIMITS[action];
    const pair = `${account}|${region}`;
    const what = `${action} ${count} at ${limit} per ${k} s`;
    const start = startOf(pair);
    const opens = (Math.floor(start / windowMs) + Math.ceil(count / limit) - 1) * windowMs;
    const b = out.get(pair) ?? { rate: { seconds: -1, what: '' }, window: { seconds: -1, what: '' } };
    if ((count / limit) * k > b.rate.seconds) b.rate = { seconds: (count / limit) * k, what };
    if (Math.max(0, opens - start) / 1000 > b.window.seconds)
      b.window = { seconds: Math.max(0, opens - start) / 1000, what };
    out.set(pair, b);
  }
  return out;
}

/**
 * What the wall is made of: the last worker to end, and its accepted calls of each limited action per clock-aligned
 * K-s window, window 0 being the one the coordinator started in (how far in it started, too).
 */
function lastPairTimeline(calls: Call[], invocations: any[], k: number, startedAt: number): string {
  const last = invocations.reduce((a, b) => ((Date.parse(b.endedAt) || 0) > (Date.parse(a.endedAt) || 0) ? b : a));
  const windowMs = k * 1000;
  const first = Math.floor(startedAt / windowMs);
  const byAction = new Map<string, { at: number; perWindow: Map<number, number> }>();
  for (const c of calls) {
    if (!accepted(c) || !RATE_LIMITS[c.action] || c.atMs === undefined) continue;
    if (c.caller?.accountId !== last.payload?.accountId || c.params?.RegionId !== last.payload?.region) continue;
    const a = byAction.get(c.action) ?? byAction.set(c.action, { at: c.atMs, perWindow: new Map() }).get(c.action)!;
    const w = Math.floor(c.atMs / windowMs) - first;
    a.perWindow.set(w, (a.perWindow.get(w) ?? 0) + 1);
  }
  const actions = [...byAction]
    .sort((x, y) => x[1].at - y[1].at)
    .map(
      ([action, a]) =>
        `${action} from ${f1((a.at - startedAt) / 1000)} s: ${[...a.perWindow].map(([w, n]) => `${w}:${n}`).join(' ')}`,
    );
  return (
    `last to end ${describePair(`${last.payload?.accountId}|${last.payload?.region}`)} at ` +
    `${f1((Date.parse(last.endedAt) - startedAt) / 1000)} s; its accepted calls per ${k}-s window (window 0 began ` +
    `${f1((startedAt - first * windowMs) / 1000)} s before the coordinator): ${actions.join('; ')}`
  );
}

function slowest(bounds: Map<string, PairBound>, which: keyof PairBound): Bound & { pair: string } {
  let best = { seconds: -1, what: 'nothing limited', pair: '' };
  for (const [pair, b] of bounds) if (b[which].seconds > best.seconds) best = { ...b[which], pair };
  return best;
}

const describePair = (pair: string) => {
  const [account, region] = pair.split('|');
  return `${account === CENTRAL ? 'the central account' : `member ${account}`}, ${region || 'account-wide (RAM)'}`;
};

// ---------- runs ----------

interface ChildRun {
  startedAt: number;
  endedAt: number;
  result: any;
  maxRssKiB: number;
}

/** Runs a script in a fresh node process; it prints one JSON line on stderr at the end. */
function runNode(script: string, env: Record<string, string>): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['-e', script], {
      env: { ...process.env, ...env },
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr!.on('data', (d) => (err += d));
    child.once('exit', (code) => {
      const line = err.trim().split('\n').pop() ?? '';
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`child exited ${code}: ${err.slice(-2000)}`));
      }
    });
  });
}

const contextFor = (creds: any, fn: string, requestId: string) => ({
  requestId,
  accountId: CENTRAL,
  region: HOME,
  credentials: creds,
  function: { name: fn, timeout: 900 },
});

interface FanOutFigures {
  members: number;
  pairs: number;
  dispatched: number;
  workers: number;
  complete: number;
  unchanged: number;
  resources: number;
  continued: number;
  failed: string[];
  /** The workers' counts added up, and the accepted writes by action (both to say what was not steady). */
  counts: Record<string, number>;
  writesByAction: string;
  /** What the results that were not `unchanged` said: outcome, error code and planned actions, counted. */
  outcomes: string;
  writes: number;
  calls: number;
  throttled: number;
  wallS: number;
  bound: Bound & { pair: string };
  windowFloor: Bound & { pair: string };
  rssMiB: number[];
  coordinatorMs: number;
  /** The last worker to end and its calls by window (lastPairTimeline). */
  lastPair: string;
}

interface Directory {
  members: number;
  pairs: number;
  resources: number;
  emu: Emu;
  creds: any;
  dir: string;
}

const WORKER_ENV = { SHARE_REGIONS: REGIONS.join(','), SHARE_ACCOUNTS: 'all', SHARE_CONCURRENCY: '8' };

/** The directory's world in a fresh emulator process, the worker registered, the limits set. */
async function setUp(
  bundles: { worker: string },
  members: number,
  o: FanOutOptions,
  log: (s: string) => void,
): Promise<Directory> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-fanout-'));
  const stateFile = path.join(dir, 'state.json');
  const world = directoryWorld(members, o.snapshots, o.images);
  const pairs = (members + 1) * REGIONS.length;
  world.options = { fcConcurrency: pairs + 4, fcAsyncDuplicateRate: o.duplicateRate };
  fs.writeFileSync(stateFile, JSON.stringify(world));
  const resources = pairs * (o.snapshots + o.images); // the tagged ones (each image's own snapshot is untagged)
  log(
    `  ${members} members: ${world.snapshots!.length + world.images!.length} snapshots and images in the emulator's state; starting it`,
  );
  const emu = await startEmulatorProcess(stateFile);
  const fn: FcFunction = {
    accountId: CENTRAL,
    region: HOME,
    functionName: WORKER,
    codeDir: path.dirname(bundles.worker),
    handler: 'index.handler',
    role: FUNCTION_ROLE,
    environment: WORKER_ENV,
    timeoutSeconds: 900,
    asyncConfig: { maxAsyncRetryAttempts: 2, maxAsyncEventAgeInSeconds: 21600 },
  };
  await admin(emu.endpoint, 'POST', 'fc/functions', fn);
  await setScaledLimits(emu, o.k);
  const creds = await admin(emu.endpoint, 'POST', 'service-credentials', {
    accountId: CENTRAL,
    roleName: FUNCTION_ROLE,
  });
  return { members, pairs, resources, emu, creds, dir };
}

async function fanOutRun(
  bundles: { reconcile: string; worker: string },
  members: number,
  o: FanOutOptions,
  log: (s: string) => void,
): Promise<{ figures: FanOutFigures } & Directory> {
  const d = await setUp(bundles, members, o, log);
  const { pairs, resources, emu, creds } = d;
  const collector = collectCalls(emu, await lastSeq(emu));
  const script = `
    const { handler } = require(${JSON.stringify(bundles.reconcile)});
    const startedAt = Date.now();
    handler(Buffer.from(JSON.stringify({ action: 'reconcile' })), ${JSON.stringify(contextFor(creds, 'ecs-share-reconcile', 'fanout-pass-1'))})
      .then((s) => process.stderr.write(JSON.stringify({ startedAt, endedAt: Date.now(), result: s, maxRssKiB: process.resourceUsage().maxRSS }) + '\\n'));`;
  const coordinator = await runNode(script, {
    ...WORKER_ENV,
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint,
    FC_REGION: HOME,
  });
  const summary = coordinator.result;
  log(
    `  coordinator: ${summary.dispatched?.length ?? 0} workers dispatched in ${coordinator.endedAt - coordinator.startedAt} ms` +
      (summary.errors?.length ? `, errors ${JSON.stringify(summary.errors.slice(0, 3))}` : ''),
  );
  // Wait for FC to be idle (every worker and continuation ended), in short steps so the call log is drained meanwhile.
  for (;;) {
    try {
      await admin(emu.endpoint, 'POST', 'fc/idle', { timeoutMs: 10_000 });
      break;
    } catch (e) {
      if (!/still busy/.test((e as Error).message)) throw e;
    }
  }
  const calls = await collector.stop();
  const { invocations } = await admin(emu.endpoint, 'GET', `fc/invocations?functionName=${WORKER}`);
  const results = (invocations as any[]).filter((r) => r.status === 'succeeded' && r.result);
  const failed = (invocations as any[])
    .filter((r) => r.status !== 'succeeded' || !r.result?.complete)
    .map(
      (r) =>
        `${r.payload?.accountId}/${r.payload?.region} hop ${r.payload?.hop}: ${r.status} ${r.error ? JSON.stringify(r.error) : ''}${r.result?.error ? JSON.stringify(r.result.error) : ''}${r.result && !r.result.complete ? ' incomplete' : ''}`,
    );
  const ended = Math.max(...(invocations as any[]).map((r) => Date.parse(r.endedAt ?? '') || 0));
  const bounds = pairBounds(
    calls.filter((c) => c.caller?.accountId),
    o.k,
    () => coordinator.startedAt,
  );
  const sum = (f: (r: any) => number) => results.reduce((t, r) => t + f(r), 0);
  const figures: FanOutFigures = {
    members,
    pairs,
    dispatched: summary.dispatched?.length ?? 0,
    workers: invocations.length,
    complete: results.filter((r) => r.result.complete).length,
    unchanged: sum((r) => r.result.counts?.unchanged ?? 0),
    resources,
    continued: results.filter((r) => r.result.continued).length,
    failed,
    writes: calls.filter((c) => c.write && accepted(c)).length,
    counts: results.reduce((t, r) => {
      for (const [k, v] of Object.entries(r.result.counts ?? {})) t[k] = (t[k] ?? 0) + (v as number);
      return t;
    }, {}),
    writesByAction: byAction(calls.filter((c) => c.write && accepted(c))),
    outcomes: tally(
      results.flatMap((r) =>
        ((r.result.results ?? []) as any[]).map(
          (x) =>
            `${x.outcome}${x.error?.code ? ` ${x.error.code}` : ''}${x.actions?.length ? ` [${x.actions.map((a: any) => a.kind ?? a.type ?? a).join(',')}]` : ''}`,
        ),
      ),
    ),
    calls: calls.length,
    throttled: calls.filter((c) => /Throttling/.test(c.code ?? '')).length,
    wallS: (ended - coordinator.startedAt) / 1000,
    bound: slowest(bounds, 'rate'),
    windowFloor: slowest(bounds, 'window'),
    rssMiB: (invocations as any[]).filter((r) => r.maxRssKiB).map((r) => r.maxRssKiB / 1024),
    coordinatorMs: coordinator.endedAt - coordinator.startedAt,
    lastPair: lastPairTimeline(calls, invocations as any[], o.k, coordinator.startedAt),
  };
  return { figures, ...d };
}

/** The same pairs one after another in ONE process (the worker's handler, in turn), at documented limits (K = 1). */
async function sequentialRun(
  bundles: { worker: string },
  d: Directory,
  o: FanOutOptions,
): Promise<{
  pairs: number;
  wallS: number;
  bound: number;
  windowFloor: number;
  results: any[];
  writes: number;
  maxRssMiB: number;
  calls: string;
}> {
  const { emu, creds } = d;
  const uids = Array.from({ length: d.members + 1 }, (_, i) => uidOf(i));
  const all = uids.flatMap((accountId) => REGIONS.map((region) => ({ accountId, region })));
  // A sample spread over the directory: every (all.length / n)th pair.
  const n = Math.min(o.sequentialPairs, all.length);
  const sample = Array.from({ length: n }, (_, i) => all[Math.floor((i * all.length) / n)]);
  await setScaledLimits(emu, 1);
  const collector = collectCalls(emu, await lastSeq(emu));
  const script = `
    const { handler } = require(${JSON.stringify(bundles.worker)});
    const pairs = ${JSON.stringify(sample)};
    (async () => {
      const startedAt = Date.now();
      const result = [];
      for (const [i, p] of pairs.entries()) {
        const payload = { action: 'reconcile-worker', accountId: p.accountId, region: p.region, passId: 'sequential-1', hop: 0 };
        const ctx = { ...${JSON.stringify(contextFor(creds, WORKER, 'sequential'))}, requestId: 'sequential-' + i };
        const t0 = Date.now();
        const s = await handler(Buffer.from(JSON.stringify(payload)), ctx);
        result.push({ accountId: s.accountId, region: s.region, complete: s.complete, counts: s.counts, startedAt: t0, ms: Date.now() - t0, error: s.error });
      }
      process.stderr.write(JSON.stringify({ startedAt, endedAt: Date.now(), result, maxRssKiB: process.resourceUsage().maxRSS }) + '\\n');
    })();`;
  const run = await runNode(script, {
    ...WORKER_ENV,
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint,
    FC_REGION: HOME,
    FC_FUNCTION_NAME: WORKER,
  });
  const calls = await collector.stop();
  // One pair after another: the pairs' bounds add up (RAM's account-wide calls, spread over the pairs, never bind here).
  const startOf = new Map<string, number>(run.result.map((r: any) => [`${r.accountId}|${r.region}`, r.startedAt]));
  const bounds = [...pairBounds(calls, 1, (pair) => startOf.get(pair) ?? 0)].filter(([p]) => !p.endsWith('|'));
  const bound = bounds.reduce((t, [, b]) => t + b.rate.seconds, 0);
  const windowFloor = bounds.reduce((t, [, b]) => t + b.window.seconds, 0);
  return {
    pairs: n,
    wallS: (run.endedAt - run.startedAt) / 1000,
    bound,
    windowFloor,
    results: run.result,
    writes: calls.filter((c) => c.write && accepted(c)).length,
    maxRssMiB: run.maxRssKiB / 1024,
    calls: byAction(calls),
  };
}

/** `a x3, b x1`, most frequent first. */
function tally(items: string[]): string {
  const n = new Map<string, number>();
  for (const i of items) n.set(i, (n.get(i) ?? 0) + 1);
  return [...n]
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} x${v}`)
    .join(', ');
}

/** "Action accepted+throttled", most called first. */
function byAction(calls: Call[]): string {
  const n = new Map<string, { ok: number; throttled: number; ms: number }>();
  for (const c of calls) {
    const e = n.get(c.action) ?? n.set(c.action, { ok: 0, throttled: 0, ms: 0 }).get(c.action)!;
    e.ms += c.durationMs ?? 0;
    if (/Throttling/.test(c.code ?? '')) e.throttled++;
    else e.ok++;
  }
  return [...n]
    .sort((a, b) => b[1].ok + b[1].throttled - a[1].ok - a[1].throttled)
    .map(
      ([a, e]) =>
        `${a} ${e.ok}${e.throttled ? `+${e.throttled} throttled` : ''} (${(e.ms / (e.ok + e.throttled)).toFixed(1)} ms)`,
    )
    .join(', ');
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length ? (s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2) : NaN;
};
const f1 = (x: number) => x.toFixed(1);

export async function fanOutBench(o: FanOutOptions = FULL): Promise<string[]> {
  const lines: string[] = [];
  const notes: string[] = [];
  const log = (s: string) => process.stderr.write(`[bench-fanout] ${s}\n`);
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-fanout-dist-'));
  try {
    const bundles = {
      reconcile: (await buildFunction('reconcile', out)).file,
      worker: (await buildFunction('reconcile-worker', out)).file,
    };
    lines.push(
      `Directory: N member accounts + the central (management) account, ${REGIONS.length} regions, each (account, region) with ` +
        `${o.snapshots} CMK snapshots and ${o.images} CMK images in steady state (shared as tagged, ${RECIPIENTS_PER_ACCOUNT} recipients per account). ` +
        `Time scaled by K = ${o.k}: every documented limit L/s is L per clock-aligned ${o.k}-s window (counted per action, account and region; RAM account-wide); ` +
        `bounds are in scaled seconds, the ratio is what compares. FC: one child process per worker, all at once; async duplicates ${o.duplicateRate}.`,
      "Bound = the slowest (account, region) pair: its accepted calls of one action / that action's limit (x K); window floor = the earliest the " +
        "clock-aligned windows let that pair end, from the coordinator's start (a pass may use the rest of its first window).",
      '',
      '| run | members | pairs | workers run | complete | resources unchanged | writes | API calls | throttled | wall (s) | bound (s) | wall / bound | goal ≤ 1.2 | window floor (s) | worker peak RSS median / max (MiB) |',
      '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
    );
    let main: Directory | undefined;
    const rows: FanOutFigures[] = [];
    for (const [i, members] of o.members.entries()) {
      const last = i === o.members.length - 1;
      if (o.sequentialOnly) {
        if (last) main = await setUp(bundles, members, o, log);
        continue;
      }
      const run = await fanOutRun(bundles, members, o, log);
      const f = run.figures;
      rows.push(f);
      const ratio = f.wallS / f.bound.seconds;
      const steady = f.failed.length === 0 && f.writes === 0 && f.complete === f.pairs && f.unchanged === f.resources;
      lines.push(
        `| fan-out | ${members} | ${f.pairs} | ${f.workers} | ${f.complete} | ${f.unchanged} of ${f.resources} | ${f.writes} | ${f.calls} | ${f.throttled} | ${f1(f.wallS)} | ${f1(f.bound.seconds)} | ${ratio.toFixed(2)} | ${steady ? (ratio <= 1.2 ? 'PASS' : 'FAIL') : 'FAIL (not steady)'} | ${f1(f.windowFloor.seconds)} | ${f1(median(f.rssMiB))} / ${f1(Math.max(...f.rssMiB))} |`,
      );
      notes.push(
        `fan-out, ${members} members: bound ${f.bound.what} (${describePair(f.bound.pair)}); window floor ${f.windowFloor.what} (${describePair(f.windowFloor.pair)}); ` +
          `coordinator ${f.coordinatorMs} ms (${f.dispatched} dispatched); ${f.continued} continuations`,
        `fan-out, ${members} members, ${f.lastPair}`,
      );
      if (!steady) {
        const msg = `NOT STEADY (${members} members): ${f.failed.length} workers failed or incomplete, ${f.writes} writes, ${f.complete}/${f.pairs} complete, ${f.unchanged}/${f.resources} unchanged; counts ${JSON.stringify(f.counts)}; writes: ${f.writesByAction || 'none'}; outcomes: ${f.outcomes || 'none'}; first failed: ${f.failed.slice(0, 5).join('; ') || 'none'}`;
        notes.push(`**${msg}**`);
        log(msg);
      }
      if (last) main = run;
      else stopDirectory(run);
    }
    if (main && o.sequentialPairs === 0)
      stopDirectory(main); // --sequential-pairs 0: the fan-out alone
    else if (main) {
      try {
        const m = rows[rows.length - 1];
        log(`  sequential pass over ${Math.min(o.sequentialPairs, main.pairs)} of ${main.pairs} pairs, K = 1`);
        const s = await sequentialRun(bundles, main, o);
        const ok = s.results.every((r) => r.complete && !r.error) && s.writes === 0;
        notes.push(
          `sequential: ${s.pairs} pairs in ${f1(s.wallS)} s (${s.results.map((r) => `${r.ms} ms`).join(', ')}); writes ${s.writes}; bound ${f1(s.bound)} s, window floor ${f1(s.windowFloor)} s` +
            (ok ? '' : ` NOT STEADY: ${JSON.stringify(s.results.filter((r) => !r.complete || r.error).slice(0, 3))}`) +
            (s.pairs < main.pairs ? `; the whole (${main.pairs} pairs) is extrapolated linearly, not measured` : ''),
          `  sequential calls by action: ${s.calls}`,
        );
        if (m) {
          const scale = m.pairs / s.pairs;
          const sampled = s.pairs < m.pairs ? `, extrapolated x${scale.toFixed(1)} from ${s.pairs} pairs` : '';
          lines.push(
            '',
            "Side by side, in documented-limit seconds (the fan-out's scaled figures / K):",
            '',
            '| pass | pairs | wall (s) | bound (s) | wall / bound | peak RSS (MiB) |',
            '|---|---|---|---|---|---|',
            `| fan-out (${m.members} members; measured at K = ${o.k}, / K) | ${m.pairs} | ${f1(m.wallS / o.k)} | ${f1(m.bound.seconds / o.k)} (slowest pair) | ${(m.wallS / m.bound.seconds).toFixed(2)} | ${f1(Math.max(...m.rssMiB))} per worker |`,
            `| sequential, one process (K = 1${sampled}) | ${m.pairs} | ${f1(s.wallS * scale)} | ${f1(s.bound * scale)} (pairs in turn) | ${(s.wallS / s.bound).toFixed(2)} | ${f1(s.maxRssMiB)} |` +
              (ok ? '' : ' NOT STEADY'),
          );
          const mSteady = m.failed.length === 0 && m.writes === 0 && m.complete === m.pairs;
          notes.push(
            (mSteady ? '' : '(the fan-out was NOT steady: not comparable) ') +
              `sequential / fan-out wall: ${((s.wallS * scale) / (m.wallS / o.k)).toFixed(1)}x (the fan-out's wall / K: what it would take at the documented limits if the machine kept up)`,
          );
        }
      } finally {
        stopDirectory(main);
      }
    }
    if (rows.length > 1) {
      const [a, b] = [rows[0], rows[rows.length - 1]];
      notes.push(
        `worker memory: median ${f1(median(a.rssMiB))} MiB at ${a.members} members, ${f1(median(b.rssMiB))} MiB at ${b.members} (${(median(b.rssMiB) / median(a.rssMiB)).toFixed(2)}x for ${(b.pairs / a.pairs).toFixed(1)}x the pairs)`,
      );
    }
  } finally {
    fs.rmSync(out, { recursive: true, force: true });
  }
  return [...lines, '', ...notes];
}

function stopDirectory(d: Directory): void {
  d.emu.stop();
  fs.rmSync(d.dir, { recursive: true, force: true });
}

function parseArgs(argv: string[]): FanOutOptions {
  const o = { ...(argv.includes('--quick') ? QUICK : FULL) };
  const num = (flag: string) => {
    const i = argv.indexOf(flag);
    if (i < 0) return undefined;
    const v = Number(argv[i + 1]);
    if (!Number.isFinite(v) || v < 0) throw new Error(`${flag} needs a number`);
    return v;
  };
  const members = argv.indexOf('--members');
  if (members >= 0) o.members = argv[members + 1].split(',').map(Number);
  o.snapshots = num('--snapshots') ?? o.snapshots;
  o.images = num('--images') ?? o.images;
  o.k = num('--k') ?? o.k;
  o.sequentialPairs = num('--sequential-pairs') ?? o.sequentialPairs;
  o.duplicateRate = num('--duplicates') ?? o.duplicateRate;
  o.sequentialOnly = argv.includes('--sequential-only');
  return o;
}

export const fanOutOptions = (quick: boolean): FanOutOptions => (quick ? QUICK : FULL);

if (require.main === module) {
  void fanOutBench(parseArgs(process.argv.slice(2)))
    .then((lines) => console.log(lines.join('\n')))
    .catch((e) => (console.error(e), process.exit(1)));
}
