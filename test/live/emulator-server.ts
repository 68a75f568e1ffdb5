// The emulator as a user starts it (`npm run emulator`: demo state, realistic defaults), in a child process, and
// the ECS_SHARE_LIVE_* configuration that points a live run at it with the demo accounts' keys.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DEMO } from '../../scripts/emulator/demo-state';

const root = path.resolve(__dirname, '../..');

/** `npm run emulator` on a free port; resolves with its endpoint once it says where it listens. */
export function startEmulatorServer(): Promise<{ endpoint: string; child: ChildProcess }> {
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


/** Stop the child (SIGTERM: the CLI closes its server and exits). */
export function stopEmulatorServer(child: ChildProcess): Promise<void> {
  return new Promise<void>((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** The live configuration of the demo state: owner and RD recipient keys, the demo CMK, the recipient's folder. */
export function emulatorEnv(endpoint: string): Record<string, string> {
  return {
    ECS_SHARE_LIVE: '1',
    ECS_SHARE_LIVE_ENDPOINT: endpoint,
    ECS_SHARE_LIVE_OWNER_AK: DEMO.owner.accessKeyId,
    ECS_SHARE_LIVE_OWNER_SK: DEMO.owner.accessKeySecret,
    ECS_SHARE_LIVE_RECIPIENT_AK: DEMO.rdRecipient.accessKeyId,
    ECS_SHARE_LIVE_RECIPIENT_SK: DEMO.rdRecipient.accessKeySecret,
    ECS_SHARE_LIVE_REGION: DEMO.region,
    ECS_SHARE_LIVE_KMS_KEY_ID: DEMO.cmkId,
    ECS_SHARE_LIVE_FOLDER_PATH: `${DEMO.resourceDirectoryId}/${DEMO.rootFolderId}/${DEMO.folderId}`,
    ECS_SHARE_LIVE_RD_ID: DEMO.resourceDirectoryId,
    ECS_SHARE_LIVE_TIMEOUT_S: '20',
  };
}
