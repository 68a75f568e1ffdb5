// The live scenarios in CI with a recipient outside the owner's resource directory (the demo's external account):
// what most users' two accounts are. The snapshot share is pending until the recipient accepts its Resource Sharing
// invitation, which the live code path does with the recipient's keys. No directory targets: it is in none.
import os from 'node:os';
import path from 'node:path';
import { DEMO } from '../../scripts/emulator/demo-state';
import { readLiveConfig } from '../../scripts/live/config';
import { liveScenarios } from './scenarios';
import { emulatorEnv, startEmulatorServer, stopEmulatorServer } from './emulator-server';

liveScenarios(
  'live scenarios against the emulator, the recipient outside the resource directory',
  async () => {
    const { endpoint, child } = await startEmulatorServer();
    const env = emulatorEnv(endpoint);
    delete env.ECS_SHARE_LIVE_FOLDER_PATH;
    delete env.ECS_SHARE_LIVE_RD_ID;
    const cfg = readLiveConfig({
      ...env,
      ECS_SHARE_LIVE_RECIPIENT_AK: DEMO.externalRecipient.accessKeyId,
      ECS_SHARE_LIVE_RECIPIENT_SK: DEMO.externalRecipient.accessKeySecret,
      ECS_SHARE_LIVE_RECONCILE: '1',
      ECS_SHARE_LIVE_REPORT: path.join(os.tmpdir(), `ecs-share-live-ci-external-${process.pid}`, 'live-report'),
    })!;
    return { cfg, stop: () => stopEmulatorServer(child) };
  },
  { folder: false, rd: false, long: 60_000 },
);
