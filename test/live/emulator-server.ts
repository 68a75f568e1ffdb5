// The emulator as a user starts it (`npm run emulator`: demo state, realistic defaults), in a child process, and
// the ECS_SHARE_LIVE_* configuration that points a live run at it with the demo accounts' keys.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { DEMO } from '../../scripts/emulator/demo-state';
import { shippedPolicy } from '../../scripts/function-role';
import { CloudApi } from '../../shared/cloud/api';

const root = path.resolve(__dirname, '../..');

/** `npm run emulator` on a free port; resolves with its endpoint once it says where it listens. */
export function startEmulatorServer(): Promise<{ endpoint: string; child: ChildProcess }> {
  const child = spawn(path.join(root, 'node_modules/.bin/tsx'), ['scripts/emulator/cli.ts', '--port', '0'], {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
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

/** The live configuration of the demo state: owner and RD recipient keys, the demo CMK, the recipient's folder and directory. */
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
    ECS_SHARE_LIVE_POLL_MS: '100',
    // The functions' pauses, shortened as test/e2e does: above the emulator's 100 ms read lag, short enough for CI.
    SHARE_ASSOCIATION_WAIT_MS: '2000',
    SHARE_TRIM_SETTLE_MS: '300',
  };
}

/**
 * What docs/live.md recommends for the functions' keys: a RAM user of the owner holding exactly the shipped policy,
 * made through the RAM API like any user would (CreateUser, CreatePolicy, AttachPolicyToUser, CreateAccessKey).
 */
export async function functionUserKeys(
  endpoint: string,
): Promise<{ ECS_SHARE_LIVE_FUNCTION_AK: string; ECS_SHARE_LIVE_FUNCTION_SK: string }> {
  const ram = new CloudApi({
    endpointOverride: endpoint,
    credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
  });
  const call = <T = Partial<Record<string, unknown>>>(action: string, params: Record<string, unknown>) =>
    ram.call<T>('ram', action, params, DEMO.region);
  await call('CreateUser', { UserName: 'ecs-share-live' });
  await call('CreatePolicy', { PolicyName: 'ecs-share-live-fn', PolicyDocument: shippedPolicy() });
  await call('AttachPolicyToUser', {
    PolicyType: 'Custom',
    PolicyName: 'ecs-share-live-fn',
    UserName: 'ecs-share-live',
  });
  type Created = { AccessKey?: { AccessKeyId?: string; AccessKeySecret?: string } };
  const key = (await call<Created>('CreateAccessKey', { UserName: 'ecs-share-live' })).AccessKey;
  return {
    ECS_SHARE_LIVE_FUNCTION_AK: String(key?.AccessKeyId),
    ECS_SHARE_LIVE_FUNCTION_SK: String(key?.AccessKeySecret),
  };
}
