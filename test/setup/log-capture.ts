// Setup file of the e2e project: everything this test file's run logs, and every credential its emulators hold, goes
// to the run's capture directory (made by the secret-scan reporter, test/secret-scan.ts), which scans them together
// once every file is done.
// - The product's log: SHARE_LOG_CAPTURE_FILE makes every logger append every line, at every level, whatever
//   SHARE_LOG_LEVEL says (tests run with 'off'). Child processes (crash bundles, concurrency instances, `npm run
//   invoke`) inherit the variable and append to the same file.
// - process.stdout / process.stderr / console of this process: whatever the product (or anything else) prints.
// - The credentials: the static access keys of the emulators' states and every STS session they issued
//   (takeEmulatorSecrets), plus the DEMO keys the helpers use and a live run's ECS_SHARE_LIVE_*_AK/_SK.
import fs from 'node:fs';
import { format } from 'node:util';
import { afterAll, inject } from 'vitest';
import { DEMO, takeEmulatorSecrets, trackEmulatorSecrets, type EmulatorSecret } from '../../scripts/emulator';
import { CAPTURE_DIR_KEY, captureNames } from '../secret-scan';

// Without the reporter (e.g. --reporter on the command line replaced the configured ones) nobody would scan: capture nothing.
const dir = inject(CAPTURE_DIR_KEY);
if (dir) capture(dir);

function capture(dir: string): void {
  const names = captureNames(
    dir,
    `${process.pid}-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`,
  );
  process.env.SHARE_LOG_CAPTURE_FILE = names.log;
  fs.writeFileSync(names.log, '');
  fs.writeFileSync(names.out, '');
  trackEmulatorSecrets();

  const append = (text: string) => {
    try {
      fs.appendFileSync(names.out, text.endsWith('\n') ? text : text + '\n');
    } catch {
      // The capture never fails a test.
    }
  };
  for (const stream of [process.stdout, process.stderr]) {
    const write = stream.write.bind(stream) as (...args: unknown[]) => boolean;
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      append(typeof chunk === 'string' ? chunk : Buffer.from(chunk as Uint8Array).toString());
      return write(chunk, ...rest);
    }) as typeof stream.write;
  }
  for (const method of ['log', 'info', 'warn', 'error', 'debug', 'trace'] as const) {
    const original = console[method].bind(console);
    console[method] = (...args: unknown[]) => {
      append(format(...args));
      original(...args);
    };
  }

  // ({}, suite): vitest insists on a destructured context first; only the suite is needed.
  afterAll(({}, suite) => {
    const demo: EmulatorSecret[] = Object.entries(DEMO).flatMap(([name, v]) =>
      typeof v === 'object' && 'accessKeyId' in v
        ? [
            { kind: 'access key id' as const, value: v.accessKeyId, owner: `DEMO.${name}` },
            { kind: 'access key secret' as const, value: v.accessKeySecret, owner: `DEMO.${name}` },
          ]
        : [],
    );
    // A live run's real credentials (test/live, docs/live.md) are scanned for too.
    const live: EmulatorSecret[] = Object.entries(process.env).flatMap(([name, v]) =>
      /^ECS_SHARE_LIVE_\w+_(AK|SK)$/.test(name) && v
        ? [
            {
              kind: name.endsWith('_AK') ? ('access key id' as const) : ('access key secret' as const),
              value: v,
              owner: name,
            },
          ]
        : [],
    );
    fs.writeFileSync(
      names.secrets,
      JSON.stringify({ file: suite.file.filepath, secrets: [...demo, ...live, ...takeEmulatorSecrets()] }),
    );
  });
}
