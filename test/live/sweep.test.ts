// `npm run live:sweep` against the emulator as a plain server: it lists, and with --dry-run only lists, what live
// runs left behind, found by the run tag alone; then it takes back the shares through the functions and deletes
// exactly those resources, never another run's (with --run) nor anything untagged.
import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator/demo-state';
import { LiveClient, waitFor } from '../../scripts/live/cloud';
import { applyProductEnv, readLiveConfig, type LiveConfig } from '../../scripts/live/config';
import { invoke } from '../../scripts/live/run';
import { emulatorEnv, startEmulatorServer, stopEmulatorServer } from './emulator-server';

const root = path.resolve(__dirname, '../..');
const run = promisify(execFile);

let env: Record<string, string>;
let stop: () => Promise<void>;
let restore: () => void;
let a: LiveConfig;
let owner: LiveClient;
let recipient: LiveClient;
let left: { disk: string; snapshot: string; otherRunDisk: string };

async function sweep(...args: string[]): Promise<{ code: number; out: string }> {
  try {
    const r = await run(path.join(root, 'node_modules/.bin/tsx'), ['scripts/live-sweep.ts', ...args], {
      cwd: root,
      env: { ...process.env, ...env },
    });
    return { code: 0, out: r.stdout };
  } catch (e) {
    const err = e as { code?: number; stdout?: string; stderr?: string };
    return { code: Number(err.code ?? 1), out: `${err.stdout ?? ''}${err.stderr ?? ''}` };
  }
}

beforeAll(async () => {
  const server = await startEmulatorServer();
  stop = () => stopEmulatorServer(server.child);
  env = emulatorEnv(server.endpoint);
  // A run "killed" before its cleanup: a disk and a shared CMK snapshot tagged run sweep-a; another run's disk.
  a = readLiveConfig({ ...env, ECS_SHARE_LIVE_RUN_ID: 'sweep-a' })!;
  const b = readLiveConfig({ ...env, ECS_SHARE_LIVE_RUN_ID: 'sweep-b' })!;
  restore = applyProductEnv(a);
  owner = new LiveClient('owner', a, a.owner);
  recipient = new LiveClient('recipient', a, a.recipient);
  const disk = await owner.createDisk({ kmsKeyId: a.kmsKeyId });
  const snapshot = await owner.createSnapshot(disk);
  await waitFor('the snapshot', async () => (await owner.snapshot(snapshot))?.Status === 'accomplished', a);
  await owner.tag(snapshot, { 'share-with': DEMO.rdRecipient.uid });
  await invoke(a, 'share', { resourceId: snapshot, region: a.region });
  await waitFor('the recipient to see it', () => recipient.seesSnapshot(snapshot), a);
  const otherRunDisk = await new LiveClient('owner', b, b.owner).createDisk({ kmsKeyId: b.kmsKeyId });
  left = { disk, snapshot, otherRunDisk };
}, 60_000);

afterAll(async () => {
  restore?.();
  await stop?.();
});

describe('live:sweep', () => {
  it('with --dry-run lists the run-tagged resources of every run and deletes nothing', async () => {
    const r = await sweep('--dry-run');

    expect(r.code).toBe(0);
    expect(r.out).toContain(`would delete owner snapshot ${left.snapshot} (ecs-share:live-run=sweep-a`);
    expect(r.out).toContain(`would delete owner disk ${left.disk}`);
    expect(r.out).toContain(`would delete owner disk ${left.otherRunDisk} (ecs-share:live-run=sweep-b`);
    expect(r.out).not.toContain(DEMO.snapshots.cmk);
    expect(r.out).not.toContain('d-demo0cmk0000000001');
    expect(await owner.snapshot(left.snapshot)).toBeDefined();
    expect(await recipient.seesSnapshot(left.snapshot)).toBe(true);
  }, 30_000);

  it("with --run takes back and deletes that run's resources only", async () => {
    const r = await sweep('--run', 'sweep-a');

    expect(r.out).toContain('swept 2');
    expect(r.code).toBe(0);
    expect(await recipient.seesSnapshot(left.snapshot)).toBe(false);
    expect(await owner.snapshot(left.snapshot)).toBeUndefined();
    expect(await owner.disk(left.disk)).toBeUndefined();
    expect(await owner.toolShare(left.snapshot)).toBeUndefined();
    expect(await owner.disk(left.otherRunDisk)).toBeDefined();
    expect(await owner.snapshot(DEMO.snapshots.cmk)).toBeDefined();
    expect(await owner.disk('d-demo0cmk0000000001')).toBeDefined();
  }, 60_000);

  it('refuses an unknown argument with the usage line, touching nothing', async () => {
    const r = await sweep('--all');

    expect(r.code).toBe(2);
    expect(r.out).toContain('usage: npm run live:sweep -- [--dry-run] [--run <id>]');
    expect(await owner.disk(left.otherRunDisk)).toBeDefined();
  }, 30_000);
});
