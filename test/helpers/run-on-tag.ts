// A separate Function Compute instance for the concurrency test: loads the on-tag handler, says it is ready, waits
// for the shared start signal (a file), invokes the handler once and writes the result as JSON.
// Env: E2E_EVENT (the event JSON), E2E_CONTEXT (the FC context JSON), E2E_GO_FILE (start when it exists),
// E2E_OUT_FILE (result; "<out>.ready" is written once loaded). The emulator endpoint comes from the usual env.
import fs from 'node:fs';
import { handler } from '../../functions/on-tag/index';

const need = (name: string): string => {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is required`);
  return v;
};

async function main(): Promise<void> {
  const event = need('E2E_EVENT');
  const context = JSON.parse(need('E2E_CONTEXT'));
  const go = need('E2E_GO_FILE');
  const out = need('E2E_OUT_FILE');
  fs.writeFileSync(`${out}.ready`, String(process.pid));
  // Poll tightly: both instances must leave this loop within a few milliseconds of each other.
  while (!fs.existsSync(go)) await new Promise((r) => setTimeout(r, 1));
  const result = await handler(Buffer.from(event), context);
  fs.writeFileSync(out, JSON.stringify(result));
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(1);
});
