// The live scenarios in CI: the same code path as a live run (test/live/scenarios.ts), against the emulator started
// as a plain server (`npm run emulator`, its demo state and realistic defaults: creation takes time, reads lag). The
// scenarios get its endpoint and the demo accounts' keys as configuration, exactly as a user's run gets real ones;
// nothing here uses the emulator's admin API, so what passes here is what a live run does.
import os from 'node:os';
import path from 'node:path';
import { readLiveConfig } from '../../scripts/live/config';
import { liveScenarios } from './scenarios';
import { emulatorEnv, functionUserKeys, startEmulatorServer, stopEmulatorServer } from './emulator-server';

liveScenarios(
  'live scenarios against the emulator as a plain server',
  async () => {
    const { endpoint, child } = await startEmulatorServer();
    // The functions run as a RAM user holding only the shipped policy; its keys join the secret scan (test/setup/log-capture.ts).
    const fn = functionUserKeys(endpoint);
    Object.assign(process.env, await fn);
    const cfg = readLiveConfig({
      ...emulatorEnv(endpoint),
      ...(await fn),
      // Both optional checks on (they cost nothing here), and the role trim at cleanup: this world holds nothing else.
      ECS_SHARE_LIVE_COPY_IMAGE: '1',
      ECS_SHARE_LIVE_RECONCILE: '1',
      ECS_SHARE_LIVE_REPORT: path.join(os.tmpdir(), `ecs-share-live-ci-${process.pid}`, 'live-report'),
    })!;
    return { cfg, stop: () => stopEmulatorServer(child) };
  },
  { folder: true, rd: true, long: 60_000 },
);
