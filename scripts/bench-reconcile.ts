// Reconcile at scale, steady state: N tagged snapshots and images across 3 regions, already shared as their tags
// say, under per-action rate limits. Measures API calls per resource, wall time against the lower bound the rate
// limits set, and the function's peak memory, at two sizes so the growth shows. The emulator and the function run
// in separate processes so each one's memory is its own.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import type { EmulatorState, ResourceShare, Role, CustomPolicy, Snapshot, Image } from './emulator/types';
import { buildKmsPolicies, policyNameFor, type KeyRef } from '../shared/domain/kms-policy';
import { writeTrustLedger } from '../shared/domain/trust-policy';
import { buildFunction } from './build';

const root = path.resolve(__dirname, '..');
const OWNER = '2000000000000001';
const REGIONS = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'];
const RECIPIENTS = Array.from({ length: 8 }, (_, i) => `20000000000001${String(i).padStart(2, '0')}`);

/**
 * Per-action rate limits (calls per second, per account and region as the emulator counts them), from
 * shared/reference/events-and-limits.md and rd-and-resource-sharing.md where documented:
 * - RAM: GetRole 100/s (reads 100/s), CreatePolicyVersion 20/s, other writes 10/s (the low end of "10–20/s").
 * - Resource Sharing: Create/Associate/Disassociate/Update/DeleteResourceShare 10/s; the list calls 20/s.
 * - KMS DescribeKey 50/s.
 * - ECS: per-API values are NOT documented ("not retrievable"; visible rows 500–1,000 per 60 s). 50/s is assumed for
 *   every ECS API, reads and writes alike, as this bench always has; the quota table also prints the bound if every
 *   ECS API allowed only 1,000/60 s (ECS_ALT_PER_SECOND).
 * GetAccount (Resource Manager) and STS have no documented figure here and are left unlimited.
 */
export const RATE_LIMITS: Record<string, number> = {
  DescribeSnapshots: 50,
  DescribeImages: 50,
  DescribeImageSharePermission: 50,
  ListTagResources: 50,
  DescribeRegions: 50,
  ModifyImageSharePermission: 50,
  TagResources: 50,
  UntagResources: 50,
  DescribeKey: 50,
  GetRole: 100,
  GetPolicy: 100,
  ListPoliciesForRole: 100,
  ListPolicyVersions: 100,
  CreateRole: 10,
  UpdateRole: 10,
  CreatePolicy: 10,
  CreatePolicyVersion: 20,
  DeletePolicyVersion: 10,
  DeletePolicy: 10,
  AttachPolicyToRole: 10,
  DetachPolicyFromRole: 10,
  ListResourceShares: 20,
  ListResourceShareAssociations: 20,
  CreateResourceShare: 10,
  AssociateResourceShare: 10,
  DisassociateResourceShare: 10,
  UpdateResourceShare: 10,
  DeleteResourceShare: 10,
};

const ECS_ACTIONS = new Set([
  'DescribeSnapshots',
  'DescribeImages',
  'DescribeImageSharePermission',
  'ListTagResources',
  'DescribeRegions',
  'ModifyImageSharePermission',
  'TagResources',
  'UntagResources',
]);
/** The alternative ECS figure: the highest visible ECS row, 1,000 calls per 60 s. */
const ECS_ALT_PER_SECOND = 1000 / 60;

const pad = (n: number, w: number) => String(n).padStart(w, '0');

const STATUS_KEY = 'ecs-share:status';
/** What ecs-share writes on a resource shared with one target (only the part before ' | ' is compared). */
const STATUS = 'shared 1 | 2026-11-01T00:00Z';

/** A world already shared as its tags say (what reconcile should find nothing to do in). */
function steadyState(snapshotCount: number, imageCount: number): EmulatorState {
  const keys: KeyRef[] = REGIONS.map((region, r) => ({
    region,
    accountId: OWNER,
    keyId: `key-bench${r}000000000000001`,
  }));
  const snapshots: Snapshot[] = [];
  const images: Image[] = [];
  const shares: ResourceShare[] = [];
  const t = '2026-11-01T00:00:00Z';
  for (let i = 0; i < snapshotCount; i++) {
    const r = i % REGIONS.length;
    const id = `s-bench${pad(i, 12)}`;
    const to = RECIPIENTS[i % RECIPIENTS.length];
    snapshots.push({
      snapshotId: id,
      accountId: OWNER,
      region: REGIONS[r],
      encrypted: true,
      kmsKeyId: keys[r].keyId,
      status: 'accomplished',
      creationTime: t,
      tags: { 'share-with': to, [STATUS_KEY]: STATUS },
    });
    shares.push({
      resourceShareId: `rs-bench${pad(i, 12)}`,
      ownerAccountId: OWNER,
      region: REGIONS[r],
      name: `ecs-share-${id}`,
      allowExternalTargets: true,
      status: 'Active',
      createTime: t,
      updateTime: t,
      resources: [{ resourceId: id, resourceType: 'Snapshot', status: 'Associated', createTime: t, updateTime: t }],
      targets: [{ targetId: to, status: 'Associated', external: false, createTime: t, updateTime: t }],
    });
  }
  for (let i = 0; i < imageCount; i++) {
    const r = i % REGIONS.length;
    const id = `m-bench${pad(i, 12)}`;
    const sid = `s-benchimg${pad(i, 9)}`;
    const to = RECIPIENTS[(i + 3) % RECIPIENTS.length];
    snapshots.push({
      snapshotId: sid,
      accountId: OWNER,
      region: REGIONS[r],
      encrypted: true,
      kmsKeyId: keys[r].keyId,
      status: 'accomplished',
      creationTime: t,
      tags: {},
    });
    images.push({
      imageId: id,
      accountId: OWNER,
      region: REGIONS[r],
      name: id,
      status: 'Available',
      creationTime: t,
      diskMappings: [{ device: '/dev/xvda', snapshotId: sid, size: 40, type: 'system' }],
      tags: { 'share-with': to, 'ecs-share:granted': to, [STATUS_KEY]: STATUS },
      sharedWith: [{ accountId: to, sharedTime: t }],
    });
  }
  const trust = JSON.stringify({
    Version: '1',
    Statement: [
      {
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: RECIPIENTS.map((u) => `${u}@ecs.aliyuncs.com`) },
      },
    ],
  });
  const description = writeTrustLedger('Managed by ecs-share.', {
    accounts: RECIPIENTS,
    rds: [],
    folders: [],
    regions: [...REGIONS],
  });
  const roles: Role[] = [];
  const policies: CustomPolicy[] = [];
  for (const type of ['snapshot', 'image'] as const) {
    const docs = buildKmsPolicies(keys);
    const attached = docs.map((_, i) => ({ policyName: policyNameFor(type, i), policyType: 'Custom' as const }));
    docs.forEach((doc, i) =>
      policies.push({
        accountId: OWNER,
        policyName: policyNameFor(type, i),
        defaultVersion: 'v1',
        versions: [{ versionId: 'v1', document: JSON.stringify(doc), createDate: t }],
        nextVersion: 2,
      }),
    );
    roles.push({
      accountId: OWNER,
      roleName:
        type === 'snapshot' ? 'AliyunECSShareEncryptSnapshotDefaultRole' : 'AliyunECSShareEncryptImageDefaultRole',
      assumeRolePolicyDocument: trust,
      description,
      attachedPolicies: attached,
      createDate: t,
    });
  }
  policies.push({
    accountId: OWNER,
    policyName: 'ecs-share-fc-policy',
    defaultVersion: 'v1',
    versions: [
      { versionId: 'v1', document: fs.readFileSync(path.join(root, 'shared/policies/function-role.json'), 'utf8') },
    ],
    nextVersion: 2,
  });
  roles.push({
    accountId: OWNER,
    roleName: 'ecs-share-fc-role',
    assumeRolePolicyDocument: fs.readFileSync(path.join(root, 'shared/policies/function-role-trust.json'), 'utf8'),
    attachedPolicies: [{ policyName: 'ecs-share-fc-policy', policyType: 'Custom' }],
  });
  return {
    regions: REGIONS,
    accounts: [
      { uid: OWNER, accessKeys: [{ id: 'LTAIbenchOwner000001', secret: 'benchOwnerSecret' }] },
      ...RECIPIENTS.map((uid, i) => ({
        uid,
        accessKeys: [{ id: `LTAIbenchRecip0000${pad(i, 2)}`, secret: `benchSecret${i}` }],
      })),
    ],
    resourceDirectory: {
      id: 'rd-bench1',
      rootFolderId: 'r-bench1',
      managementAccount: OWNER,
      folders: [{ id: 'r-bench1', parentId: null, accounts: [OWNER, ...RECIPIENTS] }],
    },
    keys: keys.map((k) => ({
      keyId: k.keyId,
      accountId: OWNER,
      region: k.region,
      state: 'Enabled' as const,
      creator: OWNER,
    })),
    snapshots,
    images,
    roles,
    policies,
    resourceShares: shares,
  };
}

async function startEmulatorProcess(stateFile: string): Promise<{ endpoint: string; stop: () => void }> {
  const child = spawn(
    process.execPath,
    ['--import', 'tsx', path.join(root, 'scripts/emulator/cli.ts'), '--port', '0', '--state', stateFile],
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
  return { endpoint, stop: () => child.kill('SIGTERM') };
}

/** The emulator's admin API, one connection per request (the bench blocks long enough for keep-alive sockets to go stale). */
function admin(endpoint: string, method: string, route: string, body?: unknown): Promise<any> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      `${endpoint}/_emulator/${route}`,
      { method, agent: false, headers: { 'content-type': 'application/json' } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (d) => (text += d));
        res.on('end', () => resolve(JSON.parse(text)));
      },
    );
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Run the bundled reconcile handler in a fresh node process; returns its summary and peak RSS. */
function runReconcile(
  bundle: string,
  endpoint: string,
  creds: any,
  checkpoint: string,
): { summary: any; maxRssMiB: number; wallMs: number } {
  const script = `
    const { handler } = require(${JSON.stringify(bundle)});
    const t0 = Date.now();
    handler(Buffer.from(JSON.stringify({ action: 'reconcile' })), ${JSON.stringify({ accountId: OWNER, credentials: creds, function: { timeout: 3600 } })})
      .then((s) => { process.stderr.write(JSON.stringify({ summary: { ...s, results: s.results.length }, wallMs: Date.now() - t0, maxRssKiB: process.resourceUsage().maxRSS }) + '\\n'); });`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: {
      ...process.env,
      ALIBABA_CLOUD_ENDPOINT_OVERRIDE: endpoint,
      SHARE_REGIONS: REGIONS.join(','),
      SHARE_CHECKPOINT_FILE: checkpoint,
      SHARE_CONCURRENCY: '8',
    },
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stderr.trim().split('\n').pop()!;
  const parsed = JSON.parse(line);
  return { summary: parsed.summary, wallMs: parsed.wallMs, maxRssMiB: parsed.maxRssKiB / 1024 };
}

export async function reconcileBench(
  sizes: Array<[number, number]> = [
    [2500, 500],
    [10000, 2000],
  ],
): Promise<string[]> {
  const { file: bundle } = await buildFunction('reconcile');
  const lines = [
    'Reconcile, steady state (nothing to change), 3 regions, rate limits on (calls/s): ' +
      Object.entries(RATE_LIMITS)
        .map(([a, n]) => `${a} ${n}`)
        .join(', '),
  ];
  lines.push(
    '| snapshots | images | API calls | calls/resource | writes | wall (s) | rate-limit lower bound (s) | wall / bound | peak RSS (MiB) |',
  );
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const [ns, ni] of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-'));
    const stateFile = path.join(dir, 'state.json');
    fs.writeFileSync(stateFile, JSON.stringify(steadyState(ns, ni)));
    const emu = await startEmulatorProcess(stateFile);
    try {
      await admin(emu.endpoint, 'PUT', 'rate-limits', RATE_LIMITS);
      const creds = await admin(emu.endpoint, 'POST', 'service-credentials', {
        accountId: OWNER,
        roleName: 'ecs-share-fc-role',
      });
      const { calls: before } = await admin(emu.endpoint, 'GET', 'calls');
      const since = before.length ? before[before.length - 1].seq : 0;
      const run = runReconcile(bundle, emu.endpoint, creds, path.join(dir, 'checkpoint.json'));
      const { calls } = await admin(emu.endpoint, 'GET', `calls?since=${since}`);
      const byAction = new Map<string, number>();
      for (const c of calls) if (c.status === 200) byAction.set(c.action, (byAction.get(c.action) ?? 0) + 1);
      const writes = calls.filter((c: any) => c.write && c.status === 200).length;
      const throttled = calls.filter((c: any) => /Throttling/.test(c.code ?? '')).length;
      // Each action is limited on its own per region; reconcile takes the regions in turn (see rateBounds).
      const bound = rateBounds(calls, (a) => RATE_LIMITS[a]).inTurn.seconds;
      const resources = ns + ni;
      const ok = run.summary.counts.unchanged === resources;
      lines.push(
        `| ${ns} | ${ni} | ${run.summary.apiCalls} | ${(run.summary.apiCalls / resources).toFixed(2)} | ${writes} | ${(run.wallMs / 1000).toFixed(1)} | ${bound.toFixed(1)} | ${(run.wallMs / 1000 / bound).toFixed(2)} | ${run.maxRssMiB.toFixed(0)} |` +
          (ok ? '' : `  (NOT steady: ${JSON.stringify(run.summary.counts)})`),
      );
      lines.push(
        `  calls by action: ${[...byAction]
          .sort((a, b) => b[1] - a[1])
          .map(([a, n]) => `${a} ${n}`)
          .join(', ')}; throttled and retried: ${throttled}`,
      );
    } finally {
      emu.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return lines;
}

// ---- Reconcile of one account at the quota: a first pass, a pass after drift, a steady pass ----

/**
 * The quota world before ecs-share ever ran: every snapshot and image tagged for one recipient, nothing shared, no
 * share role or KMS policy yet (only the function's own role). One resource share per snapshot, so `snapshots` may be
 * at most 1,000 (Resource Sharing: 1,000 resource shares and 1,000 shared resources per account, over all regions;
 * ECS: 1,024 shared snapshots); images are shared with accounts through ModifyImageSharePermission, which counts
 * against neither.
 */
function firstPassWorld(snapshotCount: number, imageCount: number): EmulatorState {
  const w = steadyState(snapshotCount, imageCount);
  const tagged = (tags: Record<string, string>): Record<string, string> =>
    'share-with' in tags ? { 'share-with': tags['share-with'] } : {};
  return {
    ...w,
    snapshots: w.snapshots!.map((s) => ({ ...s, tags: tagged(s.tags ?? {}) })),
    images: w.images!.map((i) => ({ ...i, tags: tagged(i.tags ?? {}), sharedWith: [] })),
    resourceShares: [],
    roles: w.roles!.filter((r) => r.roleName === 'ecs-share-fc-role'),
    policies: w.policies!.filter((p) => p.policyName === 'ecs-share-fc-policy'),
  };
}

/**
 * 10% drift, made in the state as a person's console edits would leave it, on a state a pass left: of every 20
 * snapshots one has its resource share deleted by hand and one is retagged to another recipient; of every 20 images
 * one has its share permission removed by hand and one is retagged. Returns what was changed.
 */
function applyDrift(state: EmulatorState): {
  shareDeleted: number;
  snapshotRetagged: number;
  imageUnshared: number;
  imageRetagged: number;
} {
  const out = { shareDeleted: 0, snapshotRetagged: 0, imageUnshared: 0, imageRetagged: 0 };
  const other = (uid: string) => RECIPIENTS[(RECIPIENTS.indexOf(uid) + 1) % RECIPIENTS.length];
  const deleted = new Set<string>();
  state
    .snapshots!.filter((s) => s.tags?.['share-with'])
    .forEach((s, i) => {
      if (i % 20 === 0) {
        deleted.add(`ecs-share-${s.snapshotId}`);
        out.shareDeleted++;
      }
      if (i % 20 === 10) {
        s.tags!['share-with'] = other(s.tags!['share-with']);
        out.snapshotRetagged++;
      }
    });
  state.resourceShares = state.resourceShares!.filter((rs) => !deleted.has(rs.name));
  state
    .images!.filter((m) => m.tags?.['share-with'])
    .forEach((m, i) => {
      if (i % 20 === 0) {
        m.sharedWith = [];
        out.imageUnshared++;
      }
      if (i % 20 === 10) {
        m.tags!['share-with'] = other(m.tags!['share-with']);
        out.imageRetagged++;
      }
    });
  return out;
}

interface Bound {
  seconds: number;
  what: string;
}

/**
 * The least time any client needs for these calls under per-action, per-region limits: each (action, region) is
 * limited on its own, so with regions in parallel it is the slowest pair's calls / limit; reconcile takes the regions
 * one after another, so for it the regions' slowest pairs add up (account-wide calls, RAM's, bound on their own).
 * A throttled call is refused before it counts, so only accepted calls are counted.
 */
function rateBounds(
  calls: Array<{ action: string; params?: Record<string, string>; code?: string }>,
  limitOf: (action: string) => number | undefined,
): { parallel: Bound; inTurn: Bound } {
  const n = new Map<string, { action: string; region: string; n: number }>();
  for (const c of calls) {
    if (/Throttling/.test(c.code ?? '')) continue;
    const region = c.params?.RegionId ?? '';
    const key = `${c.action}|${region}`;
    const g = n.get(key) ?? n.set(key, { action: c.action, region, n: 0 }).get(key)!;
    g.n++;
  }
  const slowest = new Map<string, Bound>(); // region ('' = account-wide) -> its slowest action
  for (const g of n.values()) {
    const limit = limitOf(g.action);
    if (!limit) continue;
    const b = {
      seconds: g.n / limit,
      what: `${g.action} ${g.n} in ${g.region || 'the account'} at ${+limit.toFixed(1)}/s`,
    };
    if (b.seconds > (slowest.get(g.region)?.seconds ?? -1)) slowest.set(g.region, b);
  }
  const all = [...slowest.values()];
  const parallel = all.reduce((a, b) => (b.seconds > a.seconds ? b : a), { seconds: 0, what: 'nothing limited' });
  const regional = [...slowest].filter(([r]) => r !== '').map(([, b]) => b);
  const sum = regional.reduce((a, b) => a + b.seconds, 0);
  const global = slowest.get('');
  const inTurn =
    global && global.seconds > sum
      ? global
      : {
          seconds: sum,
          what:
            [...new Set(regional.map((b) => b.what.replace(/ \d+ in \S+/, '')))].join(', ') +
            ` (${regional.map((b) => /(\d+) in/.exec(b.what)![1]).join(' + ')} calls, one region after another)`,
        };
  return { parallel, inTurn };
}

interface PassFigures {
  summary: any;
  wallMs: number;
  maxRssMiB: number;
  calls: any[];
}

async function runPass(bundle: string, endpoint: string, creds: any, checkpoint: string): Promise<PassFigures> {
  await admin(endpoint, 'DELETE', 'calls');
  const run = runReconcile(bundle, endpoint, creds, checkpoint);
  const { calls } = await admin(endpoint, 'GET', 'calls');
  return { ...run, calls };
}

function passRow(size: string, pass: string, resources: number, f: PassFigures): string[] {
  const c = f.summary.counts;
  const handled = Object.values(c as Record<string, number>).reduce((a, b) => a + b, 0);
  const writes = f.calls.filter((x) => x.write && x.status === 200).length;
  const throttled = f.calls.filter((x) => /Throttling/.test(x.code ?? '')).length;
  const { parallel, inTurn } = rateBounds(f.calls, (a) => RATE_LIMITS[a]);
  const alt = rateBounds(f.calls, (a) => (ECS_ACTIONS.has(a) ? ECS_ALT_PER_SECOND : RATE_LIMITS[a])).inTurn;
  // What the writes alone need: the floor no read-side improvement can go below.
  const writesOnly = rateBounds(
    f.calls.filter((x) => x.write),
    (a) => RATE_LIMITS[a],
  ).inTurn;
  const wall = f.wallMs / 1000;
  const changed = `${c.shared} shared, ${c.revoked} revoked${c.pending ? `, ${c.pending} pending` : ''}${c.failed ? `, ${c.failed} failed` : ''}${c.refused ? `, ${c.refused} refused` : ''}`;
  const byAction = new Map<string, number>();
  for (const x of f.calls)
    if (!/Throttling/.test(x.code ?? '')) byAction.set(x.action, (byAction.get(x.action) ?? 0) + 1);
  return [
    `| ${size} | ${pass} | ${changed} | ${handled} | ${f.summary.apiCalls} | ${(f.summary.apiCalls / resources).toFixed(2)} | ${writes} | ${throttled} | ${wall.toFixed(1)} | ${parallel.seconds.toFixed(1)} | ${inTurn.seconds.toFixed(1)} | ${inTurn.seconds ? (wall / inTurn.seconds).toFixed(2) : '–'} | ${writesOnly.seconds.toFixed(1)} | ${alt.seconds.toFixed(1)} | ${f.maxRssMiB.toFixed(0)} |` +
      (f.summary.complete ? '' : ' (INCOMPLETE)'),
    `  ${pass}: binds in turn: ${inTurn.what}; in parallel: ${parallel.what}; writes alone: ${writesOnly.seconds ? writesOnly.what : 'none'}; if ECS allowed 1,000/60 s: ${alt.what}`,
    `  ${pass}: calls by action: ${[...byAction]
      .sort((a, b) => b[1] - a[1])
      .map(([a, n]) => `${a} ${n}`)
      .join(', ')}` + (f.summary.errors?.length ? `; first error: ${JSON.stringify(f.summary.errors[0])}` : ''),
  ];
}

/** Reconcile of one account at the quota: (a) first pass, (b) after 10% drift, (c) steady state, at each size. */
export async function quotaBench(
  sizes: Array<[number, number]> = [
    [100, 100],
    [1000, 1000],
  ],
): Promise<string[]> {
  const { file: bundle } = await buildFunction('reconcile');
  const lines = [
    `One account, ${REGIONS.length} regions (resources round-robin over ${REGIONS.join(', ')}), ${RECIPIENTS.length} recipient accounts in the owner's resource directory, one CMK per region;`,
    'snapshots shared through one resource share each, images through ModifyImageSharePermission. SHARE_CONCURRENCY 8; emulator defaults otherwise (read lag 100 ms, association on next read).',
    'Drift (b): of every 20 snapshots one resource share deleted by hand and one retagged to another recipient; of every 20 images one share permission removed by hand and one retagged.',
    'Bounds: per (action, region) accepted calls / limit; "in turn" adds the regions up, as reconcile takes them one after another. Rate limits (calls/s): ' +
      Object.entries(RATE_LIMITS)
        .map(([a, n]) => `${a} ${n}`)
        .join(', '),
    '| snapshots + images | pass | outcome | handled | API calls | calls/resource | writes | throttled | wall (s) | bound, regions in parallel (s) | bound, regions in turn (s) | wall / bound in turn | writes alone, in turn (s) | bound in turn if ECS 1,000/60 s (s) | peak RSS (MiB) |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  ];
  const notes: string[] = [];
  for (const [ns, ni] of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-'));
    const stateFile = path.join(dir, 'state.json');
    fs.writeFileSync(stateFile, JSON.stringify(firstPassWorld(ns, ni)));
    const emu = await startEmulatorProcess(stateFile);
    const size = `${ns} + ${ni}`;
    try {
      await admin(emu.endpoint, 'PUT', 'rate-limits', RATE_LIMITS);
      const creds = await admin(emu.endpoint, 'POST', 'service-credentials', {
        accountId: OWNER,
        roleName: 'ecs-share-fc-role',
      });
      const checkpoint = path.join(dir, 'checkpoint.json');
      const first = await runPass(bundle, emu.endpoint, creds, checkpoint);
      lines.push(...passRow(size, '(a) first pass', ns + ni, first));
      const state = await admin(emu.endpoint, 'GET', 'state');
      const live = (state.resourceShares as ResourceShare[]).filter(
        (rs) => rs.status !== 'Deleted' && rs.status !== 'Deleting',
      );
      const sharedImages = (state.images as Image[]).filter((m) => (m.sharedWith ?? []).length > 0).length;
      notes.push(
        `${size}: after (a) ${live.length} live resource shares (quota 1,000), ${sharedImages} images shared; ${first.summary.counts.shared + first.summary.counts.unchanged - ns - ni} resources handled twice ` +
          '(status tags written during the pass shift the ListTagResources pages), ' +
          `${first.calls.filter((c: any) => c.action === 'DeleteResourceShare' && c.status === 200).length} twin resource shares created and deleted again`,
      );
      const drift = applyDrift(state);
      await admin(emu.endpoint, 'PUT', 'state', state);
      notes.push(`${size}: drift ${JSON.stringify(drift)}`);
      lines.push(
        ...passRow(size, '(b) after 10% drift', ns + ni, await runPass(bundle, emu.endpoint, creds, checkpoint)),
      );
      lines.push(...passRow(size, '(c) steady state', ns + ni, await runPass(bundle, emu.endpoint, creds, checkpoint)));
    } finally {
      emu.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return [...lines, ...notes];
}

if (require.main === module) {
  const quick = process.argv.includes('--quick') || process.argv.includes('--small');
  const which = process.argv.includes('--steady') ? 'steady' : process.argv.includes('--quota') ? 'quota' : 'both';
  void (async () => {
    if (which !== 'steady')
      console.log(
        (
          await quotaBench(
            quick
              ? [
                  [100, 100],
                  [300, 300],
                ]
              : undefined,
          )
        ).join('\n'),
      );
    if (which !== 'quota')
      console.log(
        (
          await reconcileBench(
            quick
              ? [
                  [300, 60],
                  [1200, 240],
                ]
              : undefined,
          )
        ).join('\n'),
      );
  })().catch((e) => (console.error(e), process.exit(1)));
}
