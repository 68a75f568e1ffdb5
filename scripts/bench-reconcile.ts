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

/** Per-action rate limits (calls per second) in the spirit of the documented quotas (see README, limits). */
export const RATE_LIMITS: Record<string, number> = {
  DescribeSnapshots: 50,
  DescribeImages: 50,
  DescribeImageSharePermission: 50,
  ListTagResources: 50,
  DescribeKey: 50,
  GetRole: 100,
  GetPolicy: 100,
  ListPoliciesForRole: 100,
  ListResourceShares: 20,
  ListResourceShareAssociations: 20,
};

const pad = (n: number, w: number) => String(n).padStart(w, '0');

/** A world already shared as its tags say (what reconcile should find nothing to do in). */
export function steadyState(snapshotCount: number, imageCount: number): EmulatorState {
  const keys: KeyRef[] = REGIONS.map((region, r) => ({ region, accountId: OWNER, keyId: `key-bench${r}000000000000001` }));
  const snapshots: Snapshot[] = [];
  const images: Image[] = [];
  const shares: ResourceShare[] = [];
  const t = '2026-11-01T00:00:00Z';
  for (let i = 0; i < snapshotCount; i++) {
    const r = i % REGIONS.length;
    const id = `s-bench${pad(i, 12)}`;
    const to = RECIPIENTS[i % RECIPIENTS.length];
    snapshots.push({ snapshotId: id, accountId: OWNER, region: REGIONS[r], encrypted: true, kmsKeyId: keys[r].keyId, status: 'accomplished', creationTime: t, tags: { 'share-with': to } });
    shares.push({
      resourceShareId: `rs-bench${pad(i, 12)}`, ownerAccountId: OWNER, region: REGIONS[r], name: `ecs-share-${id}`, allowExternalTargets: true, status: 'Active', createTime: t, updateTime: t,
      resources: [{ resourceId: id, resourceType: 'Snapshot', status: 'Associated', createTime: t, updateTime: t }],
      targets: [{ targetId: to, status: 'Associated', external: false, createTime: t, updateTime: t }],
    });
  }
  for (let i = 0; i < imageCount; i++) {
    const r = i % REGIONS.length;
    const id = `m-bench${pad(i, 12)}`;
    const sid = `s-benchimg${pad(i, 9)}`;
    const to = RECIPIENTS[(i + 3) % RECIPIENTS.length];
    snapshots.push({ snapshotId: sid, accountId: OWNER, region: REGIONS[r], encrypted: true, kmsKeyId: keys[r].keyId, status: 'accomplished', creationTime: t, tags: {} });
    images.push({
      imageId: id, accountId: OWNER, region: REGIONS[r], name: id, status: 'Available', creationTime: t,
      diskMappings: [{ device: '/dev/xvda', snapshotId: sid, size: 40, type: 'system' }],
      tags: { 'share-with': to, 'ecs-share:granted': to }, sharedWith: [{ accountId: to, sharedTime: t }],
    });
  }
  const trust = JSON.stringify({ Version: '1', Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: RECIPIENTS.map((u) => `${u}@ecs.aliyuncs.com`) } }] });
  const description = writeTrustLedger('Managed by ecs-share.', { accounts: RECIPIENTS, rds: [], folders: [], regions: [...REGIONS] });
  const roles: Role[] = [];
  const policies: CustomPolicy[] = [];
  for (const type of ['snapshot', 'image'] as const) {
    const docs = buildKmsPolicies(keys);
    const attached = docs.map((_, i) => ({ policyName: policyNameFor(type, i), policyType: 'Custom' as const }));
    docs.forEach((doc, i) => policies.push({ accountId: OWNER, policyName: policyNameFor(type, i), defaultVersion: 'v1', versions: [{ versionId: 'v1', document: JSON.stringify(doc), createDate: t }], nextVersion: 2 }));
    roles.push({ accountId: OWNER, roleName: type === 'snapshot' ? 'AliyunECSShareEncryptSnapshotDefaultRole' : 'AliyunECSShareEncryptImageDefaultRole', assumeRolePolicyDocument: trust, description, attachedPolicies: attached, createDate: t });
  }
  policies.push({ accountId: OWNER, policyName: 'ecs-share-fc-policy', defaultVersion: 'v1', versions: [{ versionId: 'v1', document: fs.readFileSync(path.join(root, 'shared/policies/function-role.json'), 'utf8') }], nextVersion: 2 });
  roles.push({ accountId: OWNER, roleName: 'ecs-share-fc-role', assumeRolePolicyDocument: fs.readFileSync(path.join(root, 'shared/policies/function-role-trust.json'), 'utf8'), attachedPolicies: [{ policyName: 'ecs-share-fc-policy', policyType: 'Custom' }] });
  return {
    regions: REGIONS,
    accounts: [{ uid: OWNER, accessKeys: [{ id: 'LTAIbenchOwner000001', secret: 'benchOwnerSecret' }] }, ...RECIPIENTS.map((uid, i) => ({ uid, accessKeys: [{ id: `LTAIbenchRecip0000${pad(i, 2)}`, secret: `benchSecret${i}` }] }))],
    resourceDirectory: { id: 'rd-bench1', rootFolderId: 'r-bench1', managementAccount: OWNER, folders: [{ id: 'r-bench1', parentId: null, accounts: [OWNER, ...RECIPIENTS] }] },
    keys: keys.map((k) => ({ keyId: k.keyId, accountId: OWNER, region: k.region, state: 'Enabled' as const, creator: OWNER })),
    snapshots, images, roles, policies, resourceShares: shares,
  };
}

async function startEmulatorProcess(stateFile: string): Promise<{ endpoint: string; stop: () => void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(root, 'scripts/emulator/cli.ts'), '--port', '0', '--state', stateFile], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
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
    const req = http.request(`${endpoint}/_emulator/${route}`, { method, agent: false, headers: { 'content-type': 'application/json' } }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (d) => (text += d));
      res.on('end', () => resolve(JSON.parse(text)));
    });
    req.on('error', reject);
    req.end(body === undefined ? undefined : JSON.stringify(body));
  });
}

/** Run the bundled reconcile handler in a fresh node process; returns its summary and peak RSS. */
function runReconcile(bundle: string, endpoint: string, creds: any, checkpoint: string): { summary: any; maxRssMiB: number; wallMs: number } {
  const script = `
    const { handler } = require(${JSON.stringify(bundle)});
    const t0 = Date.now();
    handler(Buffer.from(JSON.stringify({ action: 'reconcile' })), ${JSON.stringify({ accountId: OWNER, credentials: creds, function: { timeout: 3600 } })})
      .then((s) => { process.stderr.write(JSON.stringify({ summary: { ...s, results: s.results.length }, wallMs: Date.now() - t0, maxRssKiB: process.resourceUsage().maxRSS }) + '\\n'); });`;
  const r = spawnSync(process.execPath, ['-e', script], {
    env: { ...process.env, ALIBABA_CLOUD_ENDPOINT_OVERRIDE: endpoint, SHARE_REGIONS: REGIONS.join(','), SHARE_CHECKPOINT_FILE: checkpoint, SHARE_CONCURRENCY: '8' },
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    maxBuffer: 64 * 1024 * 1024,
  });
  const line = r.stderr.trim().split('\n').pop()!;
  const parsed = JSON.parse(line);
  return { summary: parsed.summary, wallMs: parsed.wallMs, maxRssMiB: parsed.maxRssKiB / 1024 };
}

export async function reconcileBench(sizes: Array<[number, number]> = [[2500, 500], [10000, 2000]]): Promise<string[]> {
  const { file: bundle } = await buildFunction('reconcile');
  const lines = ['Reconcile, steady state (nothing to change), 3 regions, rate limits on (calls/s): ' + Object.entries(RATE_LIMITS).map(([a, n]) => `${a} ${n}`).join(', ')];
  lines.push('| snapshots | images | API calls | calls/resource | writes | wall (s) | rate-limit lower bound (s) | wall / bound | peak RSS (MiB) |');
  lines.push('|---|---|---|---|---|---|---|---|---|');
  for (const [ns, ni] of sizes) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-'));
    const stateFile = path.join(dir, 'state.json');
    fs.writeFileSync(stateFile, JSON.stringify(steadyState(ns, ni)));
    const emu = await startEmulatorProcess(stateFile);
    try {
      await admin(emu.endpoint, 'PUT', 'rate-limits', RATE_LIMITS);
      const creds = await admin(emu.endpoint, 'POST', 'service-credentials', { accountId: OWNER, roleName: 'ecs-share-fc-role' });
      const { calls: before } = await admin(emu.endpoint, 'GET', 'calls');
      const since = before.length ? before[before.length - 1].seq : 0;
      const run = runReconcile(bundle, emu.endpoint, creds, path.join(dir, 'checkpoint.json'));
      const { calls } = await admin(emu.endpoint, 'GET', `calls?since=${since}`);
      const byAction = new Map<string, number>();
      for (const c of calls) if (c.status === 200) byAction.set(c.action, (byAction.get(c.action) ?? 0) + 1);
      const writes = calls.filter((c: any) => c.write && c.status === 200).length;
      const throttled = calls.filter((c: any) => /Throttling/.test(c.code ?? '')).length;
      // Each action is limited on its own, so the best any client can do is the slowest action's calls / limit.
      const bound = Math.max(...[...byAction].map(([a, n]) => n / (RATE_LIMITS[a] ?? Infinity)));
      const resources = ns + ni;
      const ok = run.summary.counts.unchanged === resources;
      lines.push(
        `| ${ns} | ${ni} | ${run.summary.apiCalls} | ${(run.summary.apiCalls / resources).toFixed(2)} | ${writes} | ${(run.wallMs / 1000).toFixed(1)} | ${bound.toFixed(1)} | ${(run.wallMs / 1000 / bound).toFixed(2)} | ${run.maxRssMiB.toFixed(0)} |` +
          (ok ? '' : `  (NOT steady: ${JSON.stringify(run.summary.counts)})`),
      );
      lines.push(`  calls by action: ${[...byAction].sort((a, b) => b[1] - a[1]).map(([a, n]) => `${a} ${n}`).join(', ')}; throttled and retried: ${throttled}`);
    } finally {
      emu.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  return lines;
}

if (require.main === module) {
  const sizes = process.argv[2] === '--small' ? ([[300, 60], [1200, 240]] as Array<[number, number]>) : undefined;
  reconcileBench(sizes).then((l) => console.log(l.join('\n')), (e) => (console.error(e), process.exit(1)));
}
