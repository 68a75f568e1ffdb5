// `npm run invoke` runs a freshly bundled handler in a child process against an emulator this test starts: the same
// path a person uses locally (endpoint override, root keys from the environment), checked end to end.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startEmulator, demoState, DEMO, type Emulator, type EmulatorState } from '../../scripts/emulator';

const root = path.resolve(__dirname, '../..');
const SHIPPED_EVENT = 'events/manual-share-snapshot.json';
const shipped = JSON.parse(fs.readFileSync(path.join(root, SHIPPED_EVENT), 'utf8')) as {
  resourceId: string;
  region: string;
  dryRun: boolean;
};

/** The demo state with the CMK-encrypted snapshot the shipped sample event names tagged for the external recipient. */
function stateWithSampleSnapshot(): EmulatorState {
  const state = demoState();
  const snap = state.snapshots!.find((s) => s.snapshotId === shipped.resourceId);
  if (!snap) throw new Error(`${SHIPPED_EVENT} names ${shipped.resourceId}, which the demo state does not have`);
  snap.tags = { ...snap.tags, 'share-with': DEMO.externalRecipient.uid };
  return state;
}

let emu: Emulator;
let tmp: string;

function eventFile(name: string, event: unknown): string {
  const file = path.join(tmp, `${name}.json`);
  fs.writeFileSync(file, JSON.stringify(event));
  return file;
}

/** `npm run invoke -- <fn> <file>` as a person runs it; resolves with the JSON summary it prints last. */
function invoke(fn: string, file: string): Promise<{ code: number | null; summary: any; stderr: string }> {
  const env = {
    ...process.env,
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint,
    ALIBABA_CLOUD_ACCESS_KEY_ID: DEMO.owner.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: DEMO.owner.accessKeySecret,
    ALIBABA_CLOUD_SECURITY_TOKEN: '',
    // The sample shares with an account outside the directory: allowed by name, as an operator would.
    SHARE_ALLOW_ACCOUNTS: DEMO.externalRecipient.uid,
    SHARE_ALLOW_EXTERNAL: '',
  };
  return new Promise((resolve, reject) => {
    // Asynchronous on purpose: the emulator answering the child lives in this process.
    const child = spawn('npm', ['run', '--silent', 'invoke', '--', fn, file], { cwd: root, env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      // The JSON log lines come first, one per line; the summary is the pretty-printed object at the end.
      const start = stdout.search(/^\{\n(?![\s\S]*^\{\n)/m);
      let summary: unknown;
      try {
        summary = start >= 0 ? JSON.parse(stdout.slice(start)) : undefined;
      } catch {
        summary = undefined;
      }
      resolve({ code, summary, stderr: stderr + stdout });
    });
  });
}

beforeAll(async () => {
  emu = await startEmulator({ state: stateWithSampleSnapshot() });
  tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-invoke-'));
});

afterAll(async () => {
  await emu?.stop();
  fs.rmSync(tmp, { recursive: true, force: true });
});

beforeEach(() => emu.clearCalls());

describe('npm run invoke -- share <event-file>', () => {
  it('dry-runs the shipped sample event: prints the plan as a JSON summary and writes nothing', async () => {
    expect(shipped.dryRun).toBe(true);

    const r = await invoke('share', SHIPPED_EVENT);

    expect(r.code, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({
      ok: true,
      dryRun: true,
      results: [{ resourceId: shipped.resourceId, resourceType: 'snapshot', dryRun: true }],
    });
    const kinds = r.summary.results[0].actions.map((a: { kind: string }) => a.kind);
    expect(kinds).toEqual(expect.arrayContaining(['createRole', 'writeKmsPolicies', 'createResourceShare']));
    expect(emu.calls().length).toBeGreaterThan(0);
    expect(emu.writes()).toEqual([]);
  });

  it('shares the snapshot when dryRun is false, under the keys from the environment', async () => {
    const file = eventFile('real-run', { ...shipped, dryRun: false });

    const r = await invoke('share', file);

    expect(r.code, r.stderr).toBe(0);
    expect(r.summary.ok).toBe(true);
    expect(r.summary.results[0].outcome).toMatch(/^(shared|pending)$/);
    expect(emu.writes().map((c) => c.action)).toEqual(expect.arrayContaining(['CreateRole', 'CreateResourceShare']));
    expect(emu.writes().every((c) => c.caller?.accountId === DEMO.owner.uid)).toBe(true);
  });

  it('refuses a snapshot id that does not exist, saying so', async () => {
    const file = eventFile('missing', { resourceId: 's-doesnotexist00001', region: DEMO.region });

    const r = await invoke('share', file);

    expect(r.code, r.stderr).toBe(0);
    expect(r.summary.results[0]).toMatchObject({ resourceId: 's-doesnotexist00001', outcome: 'refused' });
    expect(r.summary.results[0].reason).toMatch(/does not exist/);
    expect(emu.writes()).toEqual([]);
  });

  it('answers a malformed resource id with an InvalidInput result and makes no call', async () => {
    const file = eventFile('malformed', { resourceId: 'snap-123', region: DEMO.region });

    const r = await invoke('share', file);

    expect(r.code, r.stderr).toBe(0);
    expect(r.summary).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(r.summary.error.message).toMatch(/resourceId/);
    expect(emu.calls()).toEqual([]);
  });
});
