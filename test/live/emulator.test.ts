// The live scenarios in CI: the same code path as a live run (test/live/scenarios.ts), against the emulator started
// as a plain server (`npm run emulator`, its demo state and realistic defaults: creation takes time, reads lag). The
// scenarios get its endpoint and the demo accounts' keys as configuration, exactly as a user's run gets real ones;
// nothing here uses the emulator's admin API, so what passes here is what a live run does.
import { spawn, type ChildProcess } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { DEMO } from '../../scripts/emulator/demo-state';
import { readLiveConfig } from '../../scripts/live/config';
import { liveScenarios } from './scenarios';

const root = path.resolve(__dirname, '../..');

/** `npm run emulator` on a free port; resolves with its endpoint once it says where it listens. */
function startEmulatorServer(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['scripts/emulator/cli.ts', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
  return new Promise((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`emulator did not start: ${out}`)), 30_000);
    child.stdout!.on('data', (d) => {
      out += String(d);
      const m = /listening on (http:\/\/\S+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ endpoint: m[1], child });
      }
    });
    child.stderr!.on('data', (d) => (out += String(d)));
    child.on('exit', (code) => reject(new Error(`emulator exited ${code}: ${out}`)));
  });
}

liveScenarios(
  'live scenarios against the emulator as a plain server',
  async () => {
    const { endpoint, child } = await startEmulatorServer();
    const cfg = readLiveConfig({
      ECS_SHARE_LIVE: '1',
      ECS_SHARE_LIVE_ENDPOINT: endpoint,
      ECS_SHARE_LIVE_OWNER_AK: DEMO.owner.accessKeyId,
      ECS_SHARE_LIVE_OWNER_SK: DEMO.owner.accessKeySecret,
      ECS_SHARE_LIVE_RECIPIENT_AK: DEMO.rdRecipient.accessKeyId,
      ECS_SHARE_LIVE_RECIPIENT_SK: DEMO.rdRecipient.accessKeySecret,
      ECS_SHARE_LIVE_REGION: DEMO.region,
      ECS_SHARE_LIVE_KMS_KEY_ID: DEMO.cmkId,
      ECS_SHARE_LIVE_FOLDER_PATH: `${DEMO.resourceDirectoryId}/${DEMO.rootFolderId}/${DEMO.folderId}`,
      ECS_SHARE_LIVE_COPY_IMAGE: '1',
      ECS_SHARE_LIVE_RECONCILE: '1',
      ECS_SHARE_LIVE_TIMEOUT_S: '20',
      ECS_SHARE_LIVE_REPORT: path.join(os.tmpdir(), `ecs-share-live-ci-${process.pid}`, 'live-report'),
    })!;
    const stop = () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      });
    return { cfg, stop };
  },
  { folder: true, long: 60_000 },
);
