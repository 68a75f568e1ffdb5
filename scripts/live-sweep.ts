// `npm run live:sweep -- [--dry-run] [--run <id>]`: remove what live runs left behind (a run killed before its
// cleanup), found by the run tag `ecs-share:live-run` and nothing else: the owner's images, snapshots and disks
// carrying it (and, with the recipient's keys, the recipient's disks and image copies carrying it). It lists all of
// them first; --dry-run stops there. Otherwise each snapshot and image has its share tags removed and its shares
// taken back by the share function, then everything listed is deleted. Same ECS_SHARE_LIVE_* variables as a run
// (ECS_SHARE_LIVE itself not needed; no KMS key, no recipient needed). Exit code 1 when anything is left.
import { LiveClient, type Kind } from './live/cloud';
import { RUN_TAG, applyProductEnv, readLiveConfig } from './live/config';
import { cleanUp, noResources } from './live/run';

const USAGE = 'usage: npm run live:sweep -- [--dry-run] [--run <id>]';

export function parseSweepArgs(argv: string[]): { dryRun: boolean; runId?: string } {
  const out: { dryRun: boolean; runId?: string } = { dryRun: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--dry-run') out.dryRun = true;
    else if (a === '--run' || a.startsWith('--run=')) {
      out.runId = a.includes('=') ? a.slice(6) : argv[++i];
      if (!out.runId || !/^[A-Za-z0-9._-]{1,64}$/.test(out.runId)) throw new Error(`--run needs a run id; ${USAGE}`);
    } else throw new Error(`unknown argument ${a}; ${USAGE}`);
  }
  return out;
}

async function main(): Promise<number> {
  const args = parseSweepArgs(process.argv.slice(2));
  const cfg = readLiveConfig({ ...process.env, ECS_SHARE_LIVE: '1' }, { sweep: true })!;
  const say = (line: string) => process.stdout.write(line + '\n');
  const owner = new LiveClient('owner', cfg, cfg.owner);
  const recipient = cfg.hasRecipient ? new LiveClient('recipient', cfg, cfg.recipient) : undefined;
  const res = noResources();
  const list = async (c: LiveClient, kind: Kind, into: string[]) => {
    for (const r of await c.listRunResources(kind, args.runId)) {
      into.push(r.id);
      say(
        `${args.dryRun ? 'would delete' : 'will delete '} ${c.who} ${kind} ${r.id} (${RUN_TAG}=${r.runId}${r.status ? `, ${r.status}` : ''})`,
      );
    }
  };
  say(
    `sweeping ${cfg.endpoint ?? `Alibaba Cloud ${cfg.region}`} for ${RUN_TAG}${args.runId ? `=${args.runId}` : ' (any run)'}`,
  );
  if (recipient) {
    await list(recipient, 'image', res.recipientImages);
    await list(recipient, 'disk', res.recipientDisks);
  }
  await list(owner, 'image', res.images);
  await list(owner, 'snapshot', res.snapshots);
  await list(owner, 'disk', res.disks);
  const total = Object.values(res).reduce((n, ids) => n + ids.length, 0);
  if (total === 0 || args.dryRun) {
    say(total === 0 ? 'nothing to sweep' : `${total} to delete; run without --dry-run to delete them`);
    return 0;
  }
  const restore = applyProductEnv(cfg);
  try {
    const failures = await cleanUp(cfg, owner, recipient, res, say);
    say(failures.length ? `${failures.length} step(s) failed; run the sweep again` : `swept ${total}`);
    return failures.length ? 1 : 0;
  } finally {
    restore();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (e) => {
      process.stderr.write(`live:sweep: ${(e as Error).message}\n`);
      process.exit(2);
    },
  );
}
