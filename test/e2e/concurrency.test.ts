// Two Function Compute instances (two separate Node processes) handle events for two recipients of the same share
// role at the same time. The role's trust policy has no conditional write, so their read-modify-write windows
// overlap (emulator latency widens them); the product must detect the lost update and re-merge: nobody is lost.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import type { CallRecord } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import {
  SNAPSHOT_ROLE,
  acceptInvitations,
  eventsFor,
  outcomes,
  phase,
  semantic,
  statements,
  tag,
  trustPolicy,
  trustServices,
  use,
  type Outcome,
} from '../helpers/e2e';

const root = path.resolve(__dirname, '../..');
const script = path.join(root, 'test/helpers/run-on-tag.ts');
const ROUNDS = 3;
const LATENCY_MS = 40;
const FOREIGN = { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { RAM: ['acs:ram::1000000000000001:root'] } };

interface Instance {
  done: Promise<void>;
  out: string;
}

/** Start one instance; it loads, signals `<out>.ready`, then waits for `go`. */
function startInstance(dir: string, name: string, event: unknown, context: unknown, go: string): Instance {
  const out = path.join(dir, `${name}.json`);
  const child = spawn('npx', ['tsx', script], {
    cwd: root,
    env: {
      ...process.env,
      E2E_EVENT: JSON.stringify(event),
      E2E_CONTEXT: JSON.stringify(context),
      E2E_GO_FILE: go,
      E2E_OUT_FILE: out,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let stderr = '';
  child.stderr.on('data', (d) => (stderr += d));
  const done = new Promise<void>((resolve, reject) =>
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${name} exited ${code}: ${stderr}`)))),
  );
  return { done, out };
}

async function until(cond: () => boolean, timeoutMs: number): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting for the instances to load');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** True when each instance read the role before the other's first write to it landed: a genuine race. */
function windowsOverlapped(calls: CallRecord[], keys: string[]): boolean {
  const roleCalls = calls.filter((c) => c.params.RoleName === SNAPSHOT_ROLE);
  const firstWrite = Math.min(
    ...roleCalls.filter((c) => c.action === 'CreateRole' || c.action === 'UpdateRole').map((c) => c.seq),
  );
  return keys.every((k) =>
    roleCalls.some((c) => c.action === 'GetRole' && c.caller?.accessKeyId === k && c.seq < firstWrite),
  );
}

interface Round {
  recipients: [string, string];
  snapshots: [string, string];
  results: Outcome[];
  trust: Awaited<ReturnType<typeof trustPolicy>>;
  overlapped: boolean;
  roleWrites: number;
  usable: boolean[];
  preexistingRole: boolean;
}

async function raceRound(n: number): Promise<Round> {
  const w: World = await startWorld({ state: e2eState() });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-race-'));
  try {
    const recipients: [string, string] = [recipientUid(2 * n + 1), recipientUid(2 * n + 2)];
    const snapshots: [string, string] = [E2E.spareSnapshots[0], E2E.spareSnapshots[1]];
    // Round 0 races CreateRole; later rounds race UpdateRole on a role someone else made.
    const preexistingRole = n > 0;
    if (preexistingRole) {
      await w.owner.ram.createRole(
        new $Ram.CreateRoleRequest({
          roleName: SNAPSHOT_ROLE,
          assumeRolePolicyDocument: JSON.stringify({ Version: '1', Statement: [FOREIGN] }),
        }),
      );
    }
    await tag(w, snapshots[0], recipients[0]);
    await tag(w, snapshots[1], recipients[1]);
    const events = snapshots.map((s) => eventsFor(w, s)[0]);
    const contexts = snapshots.map(() => w.context('on-tag'));
    const go = path.join(dir, 'go');
    const instances = [0, 1].map((i) => startInstance(dir, `instance-${i}`, events[i], contexts[i], go));
    await until(() => instances.every((i) => fs.existsSync(`${i.out}.ready`)), 30_000);
    w.emu.setLatency(LATENCY_MS);
    phase(w);
    fs.writeFileSync(go, ''); // release both at once
    await Promise.all(instances.map((i) => i.done));
    w.emu.setLatency(0);
    const calls = w.emu.calls();
    const results = outcomes(instances.map((i) => JSON.parse(fs.readFileSync(i.out, 'utf8'))));
    return {
      recipients,
      snapshots,
      results,
      trust: await trustPolicy(w, SNAPSHOT_ROLE),
      overlapped: windowsOverlapped(
        calls,
        contexts.map((c) => c.credentials!.accessKeyId!),
      ),
      roleWrites: calls.filter(
        (c) => (c.action === 'CreateRole' || c.action === 'UpdateRole') && c.params.RoleName === SNAPSHOT_ROLE,
      ).length,
      usable: await Promise.all(
        [0, 1].map(async (i) => {
          await acceptInvitations(w.client(recipients[i]));
          return (await use(w, recipients[i], snapshots[i])).ok;
        }),
      ),
      preexistingRole,
    };
  } finally {
    await w.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

describe('two instances sharing two snapshots with two recipients of the same role at the same time', () => {
  const rounds: Round[] = [];

  beforeAll(async () => {
    for (let n = 0; n < ROUNDS; n++) rounds.push(await raceRound(n));
    console.log(
      'race rounds [overlapped, role writes]:',
      JSON.stringify(rounds.map((r) => [r.overlapped, r.roleWrites])),
    );
  }, 120_000);

  it('really races: both instances read the role before either write landed, with more writes than recipients', () => {
    const raced = rounds.filter((r) => r.overlapped);
    expect(raced.length, JSON.stringify(rounds.map((r) => [r.overlapped, r.roleWrites]))).toBeGreaterThanOrEqual(1);
    expect(raced.some((r) => r.roleWrites > 2)).toBe(true);
  });

  it('ends every round with both recipients in the trust policy', () => {
    for (const r of rounds) {
      const services = trustServices(r.trust);
      for (const uid of r.recipients) expect(services, JSON.stringify(r.trust)).toContain(`${uid}@ecs.aliyuncs.com`);
    }
  });

  it('keeps the statement someone else wrote in the role', () => {
    for (const r of rounds.filter((x) => x.preexistingRole))
      expect(statements(r.trust)).toContainEqual(semantic(FOREIGN));
  });

  // The recipients are accounts outside the RD: shared, but pending until each accepts its invitation.
  it('reports both snapshots pending for their recipient in every round, with no error', () => {
    for (const r of rounds) {
      expect(r.results.map((o) => [o.resourceId, o.outcome, o.pending, o.error?.code]).sort()).toEqual(
        r.snapshots.map((s, i) => [s, 'pending', [r.recipients[i]], undefined]).sort(),
      );
    }
  });

  it('lets each recipient create a disk from its snapshot in every round once it accepts', () => {
    for (const r of rounds) expect(r.usable).toEqual([true, true]);
  });
});
