// `ECS_SHARE_LIVE=1 npm run test:live`: the live scenarios against real Alibaba Cloud, with the accounts, region
// and key the ECS_SHARE_LIVE_* variables name (docs/live.md). Without them: skipped, with one line saying how to run.
import { it } from 'vitest';
import { LIVE_HINT, readLiveConfig } from '../../scripts/live/config';
import { liveScenarios } from './scenarios';

// Read at collection time: a malformed or incomplete configuration fails here, naming what is missing.
const cfg = readLiveConfig(process.env);

if (!cfg) {
  process.stdout.write(`${LIVE_HINT}\n`);
  it.skip(LIVE_HINT, () => undefined);
} else
  liveScenarios(`live against Alibaba Cloud ${cfg.region} (run ${cfg.runId})`, async () => ({ cfg }), {
    folder: Boolean(cfg.folderPath),
    rd: Boolean(cfg.rdId),
    long: cfg.timeoutMs * 3,
  });
