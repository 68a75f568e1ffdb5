// npm run invoke -- <function> [<event-file> | --dry-run]
// Runs a freshly bundled handler in-process with a Function Compute-shaped context. Against the local emulator when
// ALIBABA_CLOUD_ENDPOINT_OVERRIDE is set (with that emulator's keys in ALIBABA_CLOUD_ACCESS_KEY_ID/SECRET), else against
// the real cloud with the standard Alibaba Cloud credential chain (environment, profile, RAM role...).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import { buildFunction, functionNames } from './build';
import { formatPlan } from './plan-report';

function usage(msg?: string): never {
  if (msg) console.error(msg);
  console.error(
    'usage: npm run invoke -- <function> [<event-file> | --dry-run]\n  functions: ' + functionNames().join(', '),
  );
  process.exit(2);
}

async function main() {
  const [fn, arg] = process.argv.slice(2);
  if (!fn || !functionNames().includes(fn)) usage(fn ? `unknown function "${fn}"` : undefined);
  let event: string;
  if (arg === '--dry-run')
    event = JSON.stringify(
      fn === 'reconcile'
        ? { action: 'reconcile', dryRun: true }
        : usage('--dry-run is for reconcile; pass an event file'),
    );
  else if (arg) event = fs.readFileSync(path.resolve(arg), 'utf8');
  else usage('pass an event file (see events/) or --dry-run');

  // Built apart from dist/, so a local run never races a deploy build or the tests that read dist/.
  const { file } = await buildFunction(fn, path.join(os.tmpdir(), 'ecs-share-invoke'));
  const { handler } = require(file) as { handler: (e: Buffer, c: unknown) => Promise<unknown> };
  const env = process.env;
  const context = {
    requestId: randomUUID(),
    accountId: env.FC_ACCOUNT_ID,
    region: env.FC_REGION ?? 'cn-hangzhou',
    credentials: env.ALIBABA_CLOUD_ACCESS_KEY_ID
      ? {
          accessKeyId: env.ALIBABA_CLOUD_ACCESS_KEY_ID,
          accessKeySecret: env.ALIBABA_CLOUD_ACCESS_KEY_SECRET,
          securityToken: env.ALIBABA_CLOUD_SECURITY_TOKEN,
        }
      : undefined,
    function: { name: `ecs-share-${fn}`, handler: 'index.handler', timeout: 900, memory: 512 },
  };
  // FC hands the event over as a Buffer.
  const result = await handler(Buffer.from(event, 'utf8'), context);
  if (arg === '--dry-run') console.log(formatPlan(result));
  console.log(JSON.stringify(result, null, 2));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
