// Organisation mode's fan-out end to end: the reconcile coordinator (in-process, the central function role with the
// organisation add-on) lists the directory and queues one reconcile-worker per (account, region) through FC 3.0's
// InvokeFunction; the emulator runs the built worker bundle in child processes, at least once, with the function
// role's credentials. Each worker acts in its account through the member role made from the shipped files. The
// recipient's use is judged by the emulator's oracle.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import * as $Ram from '@alicloud/ram20150501';
import * as $Ecs from '@alicloud/ecs20140526';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import Fc, { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
import { DEMO, demoState, type EmulatorState } from '../../scripts/emulator';
import type { FcInvocation } from '../../scripts/emulator/services/fc';
import { buildFunction } from '../../scripts/build';
import { FUNCTION_ROLE } from '../../scripts/function-role';
import { shippedPolicy, startWorld, type World } from '../helpers/world';
import { use } from '../helpers/e2e';

const root = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const CENTRAL = DEMO.owner.uid;
const RECIPIENT = DEMO.rdRecipient.uid;
const OUTSIDER = DEMO.externalRecipient.uid;
const REGIONS = ['cn-hangzhou', 'cn-shanghai'];
/** Four members in a folder of their own; with the management account, five accounts of the directory. */
const MEMBERS = ['1000000000000011', '1000000000000012', '1000000000000013', '1000000000000014'];
const ACCOUNTS = [CENTRAL, ...MEMBERS];
const WORKER = 'ecs-share-reconcile-worker';
const MEMBER_ROLE = 'ecs-share-member';
const CREATED = '2026-11-01T00:00:00Z';

const keyOf = (uid: string, region: string) =>
  `key-${uid.slice(-4)}${region === 'cn-hangzhou' ? 'hz' : 'sh'}00000000000`;
/** The n-th snapshot of an account in a region (n from 1). */
const snapOf = (uid: string, region: string, n = 1) =>
  `s-${uid.slice(-4)}${region === 'cn-hangzhou' ? 'hz' : 'sh'}${String(n).padStart(12, '0')}`;

/** Every (account, region) with a CMK and `perPair` snapshots tagged for RECIPIENT, nothing shared yet. */
function fanOutState(perPair = 1): EmulatorState {
  const s = demoState();
  s.regions = REGIONS;
  for (const uid of MEMBERS)
    s.accounts.push({
      uid,
      name: `member-${uid.slice(-2)}`,
      accessKeys: [{ id: `LTAIfan${uid.slice(-9)}`, secret: `fanSecret${uid}` }],
    });
  s.resourceDirectory!.folders.push({
    id: 'fd-members001',
    parentId: DEMO.rootFolderId,
    name: 'members',
    accounts: MEMBERS,
  });
  for (const uid of ACCOUNTS)
    for (const region of REGIONS) {
      s.keys!.push({
        keyId: keyOf(uid, region),
        accountId: uid,
        region,
        state: 'Enabled',
        description: 'fan-out CMK',
        creationDate: CREATED,
        creator: uid,
      });
      for (let n = 1; n <= perPair; n++)
        s.snapshots!.push({
          snapshotId: snapOf(uid, region, n),
          accountId: uid,
          region,
          encrypted: true,
          kmsKeyId: keyOf(uid, region),
          status: 'accomplished',
          size: 40,
          name: snapOf(uid, region, n),
          creationTime: CREATED,
          tags: { 'share-with': RECIPIENT },
        });
    }
  return s;
}

/** The member role as shared/policies/member-account.ros.yaml makes it: the shipped trust and policy files. */
async function createMemberRole(w: World, uid: string): Promise<void> {
  const ram = w.client(uid).ram;
  const trust = read('shared/policies/member-role-trust.json').replace('<CENTRAL_UID>', CENTRAL);
  await ram.createRole(new $Ram.CreateRoleRequest({ roleName: MEMBER_ROLE, assumeRolePolicyDocument: trust }));
  await ram.createPolicy(
    new $Ram.CreatePolicyRequest({ policyName: `${MEMBER_ROLE}-policy`, policyDocument: shippedPolicy() }),
  );
  await ram.attachPolicyToRole(
    new $Ram.AttachPolicyToRoleRequest({
      roleName: MEMBER_ROLE,
      policyName: `${MEMBER_ROLE}-policy`,
      policyType: 'Custom',
    }),
  );
}

const ENV = {
  SHARE_ACCOUNTS: 'fd-members001', // the members' folder (the directory also holds the recipient)
  SHARE_REGIONS: REGIONS.join(','),
  SHARE_ALLOW_EXTERNAL: '',
  SHARE_STATUS_KEY: 'off',
};

let bundleDir: Promise<string> | undefined;
/** The worker's deployable bundle, built once from the current sources with the shipping settings. */
function workerBundle(): Promise<string> {
  const out = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-fanout-'));
  return (bundleDir ??= buildFunction('reconcile-worker', out).then((r) => path.dirname(r.file)));
}

async function fanOutWorld(perPair = 1, extraEnv: Record<string, string> = {}): Promise<World> {
  const w = await startWorld({
    state: fanOutState(perPair),
    env: { ...ENV, ...extraEnv },
    extraPolicies: [read('shared/policies/function-role-org.json')],
  });
  for (const uid of MEMBERS) await createMemberRole(w, uid);
  w.emu.setOptions({ fcConcurrency: 6, fcAsyncDelayMs: 50 });
  w.emu.registerFunction({
    accountId: CENTRAL,
    region: 'cn-hangzhou',
    functionName: WORKER,
    codeDir: await workerBundle(),
    role: FUNCTION_ROLE,
    environment: { ...ENV, ...extraEnv },
    timeoutSeconds: 120,
    asyncConfig: { maxAsyncRetryAttempts: 2 },
  });
  return w;
}

const pairOf = (i: FcInvocation) => {
  const p = i.payload as { accountId: string; region: string };
  return `${p.accountId}/${p.region}`;
};
const hop = (i: FcInvocation) => (i.payload as { hop: number }).hop;

/** The product's successful writes made with a member role or the function role, by account. */
function writesByAccount(w: World, since = 0): Record<string, number> {
  const out: Record<string, number> = {};
  for (const c of w.emu.writes({ since }).filter((c) => c.caller?.type === 'role'))
    out[c.caller!.accountId!] = (out[c.caller!.accountId!] ?? 0) + 1;
  return out;
}
const lastSeq = (w: World) => w.emu.calls().at(-1)?.seq ?? 0;

/** An operator (the central account's owner) queues one worker invocation with the real FC 3.0 client. */
async function invokeWorkerAsync(w: World, payload: object): Promise<void> {
  const account = w.emu.state.accounts.find((a) => a.uid === CENTRAL)!;
  const url = new URL(w.emu.endpoint);
  const client = new Fc(
    new $OpenApiUtil.Config({
      accessKeyId: account.accessKeys[0].id,
      accessKeySecret: account.accessKeys[0].secret,
      endpoint: url.host,
      protocol: 'http',
      regionId: 'cn-hangzhou',
    }),
  );
  const res = await client.invokeFunctionWithOptions(
    WORKER,
    new InvokeFunctionRequest({ body: Readable.from([Buffer.from(JSON.stringify(payload))]) }),
    new InvokeFunctionHeaders({ xFcInvocationType: 'Async' }),
    new $dara.RuntimeOptions({}),
  );
  expect(res.statusCode).toBe(202);
}

describe('the fan-out: a coordinator run over 5 accounts x 2 regions', () => {
  let w: World;
  let summary: any;
  let coordinatorWrites: unknown[] = [];

  beforeAll(async () => {
    w = await fanOutWorld();
    // The workers start a second after they are queued: what is written before is the coordinator's.
    w.emu.setOptions({ fcAsyncDuplicateRate: 0, fcAsyncDelayMs: 1000 });
    const since = lastSeq(w);
    summary = await w.invoke('reconcile', { action: 'reconcile' });
    coordinatorWrites = w.emu.writes({ since });
    await w.emu.waitForFcIdle(90_000);
    w.emu.setOptions({ fcAsyncDelayMs: 50 });
  }, 120_000);
  afterAll(async () => {
    process.env.SHARE_ACCOUNTS = '';
    process.env.SHARE_REGIONS = '';
    await w.stop();
  });

  it('dispatches 10 workers, one per (account, region), and says so', () => {
    expect(summary).toMatchObject({ ok: true, mode: 'organisation', accounts: 5, errors: [] });
    expect(summary.dispatched).toHaveLength(10);
    const pairs = summary.dispatched.map((d: { accountId: string; region: string }) => `${d.accountId}/${d.region}`);
    expect(new Set(pairs)).toEqual(new Set(ACCOUNTS.flatMap((a) => REGIONS.map((r) => `${a}/${r}`))));
    // The coordinator listed the directory and asked FC: no write of its own.
    expect(coordinatorWrites).toEqual([]);
    expect(w.emu.calls({ action: 'ListAccounts' }).length).toBeGreaterThan(0);
  });

  it('runs every worker to a complete pass in its own account and region, each summary saying which', () => {
    const runs = w.emu.fcInvocations({ functionName: WORKER });
    expect(runs.map((i) => i.status)).toEqual(runs.map(() => 'succeeded'));
    expect(new Set(runs.map(pairOf)).size).toBe(10);
    for (const i of runs) {
      const r = i.result as { ok: boolean; complete: boolean; accountId: string; region: string; passId: string };
      expect(r).toMatchObject({ ok: true, complete: true, passId: summary.passId });
      expect(`${r.accountId}/${r.region}`).toBe(pairOf(i));
    }
    expect(w.emu.fcFailures()).toEqual([]);
  });

  it('shares every tagged snapshot of every account and region: the recipient can use them all', async () => {
    for (const uid of ACCOUNTS)
      for (const region of REGIONS)
        expect(await use(w, RECIPIENT, snapOf(uid, region), region)).toMatchObject({ ok: true });
    // Each member's shares were made in the member, by its member role.
    const byAccount = writesByAccount(w);
    expect(Object.keys(byAccount).sort()).toEqual([...ACCOUNTS].sort());
  });

  it('a second run, every worker delivered twice (at-least-once), writes nothing', async () => {
    w.emu.setOptions({ fcAsyncDuplicateRate: 1 });
    const since = lastSeq(w);
    const before = w.emu.fcInvocations({ functionName: WORKER }).length;
    const again = await w.invoke('reconcile', { action: 'reconcile' });
    await w.emu.waitForFcIdle(90_000);
    const runs = w.emu.fcInvocations({ functionName: WORKER }).slice(before);
    expect(again.dispatched).toHaveLength(10);
    expect(runs.filter((i) => i.duplicate)).toHaveLength(10);
    expect(runs.every((i) => i.status === 'succeeded' && (i.result as { complete: boolean }).complete)).toBe(true);
    expect(writesByAccount(w, since)).toEqual({});
    w.emu.setOptions({ fcAsyncDuplicateRate: 0 });
  }, 120_000);

  it("takes back, by the next fan-out, a member's untag whose event never came", async () => {
    const [uid, region] = [MEMBERS[1], 'cn-shanghai'];
    await w.client(uid).ecs.untagResources(
      new $Ecs.UntagResourcesRequest({
        regionId: region,
        resourceType: 'snapshot',
        resourceId: [snapOf(uid, region)],
        tagKey: ['share-with'],
      }),
    );
    const since = lastSeq(w);
    await w.invoke('reconcile', { action: 'reconcile' });
    await w.emu.waitForFcIdle(90_000);
    expect(await use(w, RECIPIENT, snapOf(uid, region), region)).toMatchObject({ ok: false });
    // Taken back in that member only; the other snapshots of that member, and everyone else's, still shared.
    expect(Object.keys(writesByAccount(w, since))).toEqual([uid]);
    expect(await use(w, RECIPIENT, snapOf(uid, 'cn-hangzhou'), 'cn-hangzhou')).toMatchObject({ ok: true });
  }, 120_000);

  it('plans without dispatching in a dry run', async () => {
    const before = w.emu.fcInvocations().length;
    const plan = await w.invoke('reconcile', { action: 'reconcile', dryRun: true });
    expect(plan.planned).toHaveLength(10);
    expect(plan.dispatched).toEqual([]);
    expect(w.emu.fcInvocations().length).toBe(before);
  });
});

describe('a worker cut short', () => {
  let w: World;
  const A = MEMBERS[0];
  const R = 'cn-shanghai';

  beforeAll(async () => {
    w = await fanOutWorld(3);
    w.emu.setOptions({ fcAsyncDuplicateRate: 0 });
  }, 60_000);
  afterAll(async () => {
    process.env.SHARE_ACCOUNTS = '';
    process.env.SHARE_REGIONS = '';
    await w.stop();
  });

  it('continues itself with its checkpoint until the pass is complete, then every snapshot is shared', async () => {
    const first = { action: 'reconcile-worker', accountId: A, region: R, passId: 'short-1', hop: 0, maxResources: 1 };
    await invokeWorkerAsync(w, first);
    await w.emu.waitForFcIdle(90_000);
    const chain = w.emu.fcInvocations({ functionName: WORKER }).sort((a, b) => hop(a) - hop(b));
    expect(chain.map(hop)).toEqual(chain.map((_, i) => i));
    expect(chain.length).toBeGreaterThanOrEqual(3);
    expect(chain.every((i) => i.status === 'succeeded')).toBe(true);
    const results = chain.map((i) => i.result as { complete: boolean; continued?: { hop: number } });
    expect(results.at(-1)!.complete).toBe(true);
    expect(results.slice(0, -1).every((r) => !r.complete && r.continued?.hop !== undefined)).toBe(true);
    // Each continuation carried the checkpoint of the one before.
    for (const i of chain.slice(1))
      expect((i.payload as { checkpoint?: { regions: string[] } }).checkpoint?.regions).toEqual([R]);
    for (const n of [1, 2, 3]) expect(await use(w, RECIPIENT, snapOf(A, R, n), R)).toMatchObject({ ok: true });
  }, 120_000);

  it('delivered twice, one after the other, the second delivery of a worker that shared writes nothing', async () => {
    const [uid, region] = [MEMBERS[2], 'cn-hangzhou'];
    w.emu.setOptions({ fcAsyncDuplicateRate: 1, fcConcurrency: 1 });
    const before = w.emu.fcInvocations({ functionName: WORKER }).length;
    await invokeWorkerAsync(w, { action: 'reconcile-worker', accountId: uid, region, passId: 'dup-1', hop: 0 });
    await w.emu.waitForFcIdle(90_000);
    w.emu.setOptions({ fcAsyncDuplicateRate: 0, fcConcurrency: 6 });
    const [first, second] = w.emu.fcInvocations({ functionName: WORKER }).slice(before);
    expect([first.duplicate, second.duplicate]).toEqual([false, true]);
    expect([first.status, second.status]).toEqual(['succeeded', 'succeeded']);
    const writesIn = (i: FcInvocation) =>
      w.emu.writes().filter((c) => c.caller?.accountId === uid && c.time >= i.startedAt! && c.time <= i.endedAt!);
    expect(writesIn(first).length).toBeGreaterThan(0); // it shared three snapshots
    expect(writesIn(second)).toEqual([]);
    for (const n of [1, 2, 3])
      expect(await use(w, RECIPIENT, snapOf(uid, region, n), region)).toMatchObject({ ok: true });
  }, 120_000);

  it('refuses, with no call in it, an account outside the directory named in a payload', async () => {
    const since = lastSeq(w);
    await invokeWorkerAsync(w, { action: 'reconcile-worker', accountId: OUTSIDER, region: R, passId: 'x', hop: 0 });
    await w.emu.waitForFcIdle(60_000);
    const run = w.emu
      .fcInvocations({ functionName: WORKER })
      .find((i) => (i.payload as { accountId: string }).accountId === OUTSIDER)!;
    expect(run.result).toMatchObject({ ok: false, error: { code: 'AccountNotInScope' } });
    const assumed = w.emu
      .calls({ action: 'AssumeRole', since })
      .filter((c) => String(c.params.RoleArn).includes(OUTSIDER));
    expect(assumed).toEqual([]);
    expect(writesByAccount(w, since)).toEqual({});
  });
});
