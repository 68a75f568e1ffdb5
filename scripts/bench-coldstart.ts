// Cold start, measured side by side in one run (issue 12, point 2). Every sample is a fresh `node` process; the samples
// are interleaved so drift (CPU boost, cache, the other load on the machine) hits all subjects alike; medians.
//   load:       the process only loads the bundle (what FC's cold start is before the handler runs), against a bare
//               `node -e 0` and a NAIVE esbuild bundle that imports and constructs the four official SDK clients.
//   first call: the process loads the bundle and runs one invocation against a local emulator (FC bills that too, and
//               loading the SDK at the first call only moves its cost), against a ONE-FILE control: the same sources
//               in one esbuild bundle with nothing left out, which is how the bundles were built before.
// Budgets per function bundle (load): wall <= 1.5x bare node, peak RSS <= bare + 8 MiB, all its files <= 800 KB.
import { build } from 'esbuild';
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUILD_OPTIONS, BUNDLE_BUDGET_BYTES, buildFunction, functionNames } from './build';
import { DEMO, demoState, startEmulator, type Emulator } from './emulator';

const root = path.resolve(__dirname, '..');
const BUDGET = { wallRatio: 1.5, extraMiB: 8, bytes: BUNDLE_BUDGET_BYTES };
const TIME_BIN = '/usr/bin/time';

/** What a function written the obvious way looks like: the four full clients, constructed at load. */
const NAIVE_ENTRY = `
import Ecs from '@alicloud/ecs20140526';
import Ram from '@alicloud/ram20150501';
import Sts from '@alicloud/sts20150401';
import Kms from '@alicloud/kms20160120';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import { Config as RpcConfig } from '@alicloud/rpc-client';
const creds = { accessKeyId: 'naive', accessKeySecret: 'naive', regionId: 'cn-hangzhou' };
const cfg = (endpoint: string) => new $OpenApiUtil.Config({ ...creds, endpoint });
const clients = {
  ecs: new Ecs(cfg('ecs.cn-hangzhou.aliyuncs.com')),
  ram: new Ram(cfg('ram.aliyuncs.com')),
  sts: new Sts(cfg('sts.aliyuncs.com')),
  kms: new Kms(new RpcConfig({ ...creds, endpoint: 'kms.cn-hangzhou.aliyuncs.com' })),
};
export const handler = async () => Object.keys(clients);
`;

/** One invocation per function for the first-call samples; every one is a replay or a dry run, so it writes nothing. */
const FIRST_EVENTS: Record<string, string> = {
  'on-tag': 'events/on-tag-tagresources-snapshot.json',
  share: 'events/manual-share-snapshot.json',
  reconcile: 'events/reconcile-dry-run.json',
  // The demo owner's own account, as a hand invocation of the worker in single-account mode would name it.
  'reconcile-worker': 'events/reconcile-worker-dry-run.json',
};

interface Subject {
  name: string;
  /** The bundle to load; undefined for the bare node baseline. */
  file?: string;
  bytes: number;
}

interface Sample {
  ms: number;
  rssKb: number;
  /** The process's own CPU time (user + system, all threads): less swayed than wall time by other load on the machine. */
  cpuMs: number;
}

async function buildNaive(outDir: string): Promise<Subject> {
  const file = path.join(outDir, 'naive', 'index.js');
  await build({
    stdin: { contents: NAIVE_ENTRY, resolveDir: root, loader: 'ts', sourcefile: 'naive.ts' },
    outfile: file,
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    legalComments: 'none',
    logLevel: 'warning',
  });
  return { name: 'naive (4 SDK clients)', file, bytes: fs.statSync(file).size };
}

/** The same function in one file with every package whole: the shipping settings without the two plugins. */
async function buildOneFile(fn: string, outDir: string): Promise<Subject> {
  const file = path.join(outDir, 'one-file', fn, 'index.js');
  await build({
    ...BUILD_OPTIONS,
    sourcemap: false,
    entryPoints: [path.join(root, 'functions', fn, 'index.ts')],
    outfile: file,
  });
  return { name: `${fn}, one file`, file, bytes: fs.statSync(file).size };
}

/**
 * The command of one sample. The process reports its CPU time at exit; GNU time around node gives the peak RSS when
 * present, else the process reports that too.
 */
function command(script: string): [string, string[]] {
  const cpu = `process.on('exit',()=>{const u=process.cpuUsage();process.stderr.write('\\ncpu '+(u.user+u.system)/1000+'\\n')})`;
  if (fs.existsSync(TIME_BIN)) return [TIME_BIN, ['-f', '%M', process.execPath, '-e', `${cpu};${script}`]];
  return [
    process.execPath,
    ['-e', `${cpu};process.on('exit',()=>process.stderr.write(process.resourceUsage().maxRSS+'\\n'));${script}`],
  ];
}

function parseStderr(stderr: string, ms: number): Sample {
  const lines = stderr.trim().split('\n');
  const cpu = lines.filter((l) => l.startsWith('cpu ')).pop();
  return { ms, rssKb: Number(lines.pop()), cpuMs: Number(cpu?.slice(4)) };
}

/** One fresh process that loads the bundle (or nothing). */
function loadSample(subject: Subject): Sample {
  const [cmd, args] = command(subject.file ? `require(${JSON.stringify(subject.file)})` : '0');
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`loading ${subject.name} failed: ${r.stderr}`);
  return parseStderr(r.stderr, ms);
}

/** One fresh process that loads the bundle and runs one invocation against the emulator (asynchronous: it answers). */
function firstCallSample(subject: Subject, event: string, env: NodeJS.ProcessEnv): Promise<Sample> {
  const context = {
    requestId: 'bench',
    accountId: DEMO.owner.uid,
    region: DEMO.region,
    credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
    function: { name: 'bench', timeout: 60 },
  };
  const script = `require(${JSON.stringify(subject.file)}).handler(Buffer.from(${JSON.stringify(event)}),${JSON.stringify(context)}).then(()=>0,(e)=>{console.error(e);process.exitCode=1})`;
  const [cmd, args] = command(script);
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const child = spawn(cmd, args, { env, stdio: ['ignore', 'ignore', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (code !== 0) reject(new Error(`first call of ${subject.name} failed: ${stderr}`));
      else resolve(parseStderr(stderr, ms));
    });
  });
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number, digits = 1, width = 9) => x.toFixed(digits).padStart(width);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');
const medOf = (xs: Sample[]) => ({
  ms: median(xs.map((x) => x.ms)),
  mib: median(xs.map((x) => x.rssKb)) / 1024,
  cpu: median(xs.map((x) => x.cpuMs)),
});
/** Round i in a rotated order, so no subject always follows the same one (the naive bundle's long run disturbs the next). */
const rotated = <T>(xs: T[], i: number) => xs.map((_, j) => xs[(i + j) % xs.length]);

/** The emulator the first calls go to: the demo state with the sample snapshot tagged for the external account. */
async function firstCallWorld(): Promise<{ emu: Emulator; env: NodeJS.ProcessEnv }> {
  const state = demoState();
  const snap = state.snapshots!.find((s) => s.snapshotId === DEMO.snapshots.cmk)!;
  snap.tags = { ...snap.tags, 'share-with': DEMO.externalRecipient.uid };
  const emu = await startEmulator({ state });
  const env = {
    PATH: process.env.PATH ?? '',
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint,
    SHARE_REGIONS: DEMO.region,
    SHARE_ALLOW_ACCOUNTS: DEMO.externalRecipient.uid,
    SHARE_CHECKPOINT_FILE: path.join(os.tmpdir(), `ecs-share-bench-checkpoint-${process.pid}.json`),
  };
  return { emu, env };
}

/** Build, measure, and return the report lines (the caller prints them). */
export async function coldStartBench(reps = Number(process.env.BENCH_REPS) || 9): Promise<string[]> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-'));
  const { emu, env } = await firstCallWorld();
  try {
    const bare: Subject = { name: 'bare node -e 0', bytes: 0 };
    const naive = await buildNaive(outDir);
    const fns: Subject[] = [];
    const oneFile = new Map<Subject, Subject>();
    for (const fn of functionNames()) {
      const b = await buildFunction(fn, outDir);
      const s = { name: fn, file: b.file, bytes: b.bytes };
      fns.push(s);
      oneFile.set(s, await buildOneFile(fn, outDir));
    }
    const events = new Map(fns.map((s) => [s, fs.readFileSync(path.join(root, FIRST_EVENTS[s.name]), 'utf8')]));
    const firstSubjects = fns.flatMap((s) => [s, oneFile.get(s)!]);
    const eventOf = (s: Subject) => events.get(fns.find((f) => f === s || oneFile.get(f) === s)!)!;

    // Warm the file cache once, and bring the emulator to the state the first calls replay (the on-tag share); not counted.
    loadSample(naive);
    for (const s of fns) await firstCallSample(s, eventOf(s), env);
    const callsPer = new Map<Subject, number>();
    for (const s of fns) {
      emu.clearCalls();
      await firstCallSample(s, eventOf(s), env);
      callsPer.set(s, emu.calls().length);
      if (emu.writes().length)
        throw new Error(`the first-call sample of ${s.name} writes; it must be a replay or a dry run`);
    }

    const loadSubjects = [bare, naive, ...fns];
    const load = new Map<Subject, Sample[]>(loadSubjects.map((s) => [s, []]));
    const first = new Map<Subject, Sample[]>(firstSubjects.map((s) => [s, []]));
    for (let i = 0; i < reps; i++) {
      for (const s of rotated(loadSubjects, i)) load.get(s)!.push(loadSample(s));
      for (const s of rotated(firstSubjects, i)) first.get(s)!.push(await firstCallSample(s, eventOf(s), env));
    }

    const bareMed = medOf(load.get(bare)!);
    const lines = [
      `Cold start: medians of ${reps} fresh node ${process.version} processes per subject, interleaved; peak RSS via ${fs.existsSync(TIME_BIN) ? '/usr/bin/time -f %M' : 'process.resourceUsage().maxRSS'}`,
      '',
      'Load (require the bundle, nothing else):',
      `${pad('bundle', 24)}${'size KB'.padStart(9)}${'wall ms'.padStart(9)}${'x bare'.padStart(9)}${'cpu ms'.padStart(9)}${'x bare'.padStart(9)}${'peak MiB'.padStart(9)}${'+ bare'.padStart(9)}`,
    ];
    for (const s of loadSubjects) {
      const m = medOf(load.get(s)!);
      lines.push(
        `${pad(s.name, 24)}${num(s.bytes / 1024, 0)}${num(m.ms)}${num(m.ms / bareMed.ms, 2)}${num(m.cpu)}${num(m.cpu / bareMed.cpu, 2)}${num(m.mib)}${num(m.mib - bareMed.mib)}`,
      );
    }
    lines.push(
      '',
      `Budgets per function bundle: wall <= ${BUDGET.wallRatio}x bare (${(BUDGET.wallRatio * bareMed.ms).toFixed(1)} ms), peak <= bare + ${BUDGET.extraMiB} MiB (${(bareMed.mib + BUDGET.extraMiB).toFixed(1)} MiB), size <= ${BUDGET.bytes / 1024} KB:`,
    );
    let allPass = true;
    for (const s of fns) {
      const m = medOf(load.get(s)!);
      const ratio = m.ms / bareMed.ms;
      const extra = m.mib - bareMed.mib;
      const ok = [ratio <= BUDGET.wallRatio, extra <= BUDGET.extraMiB, s.bytes <= BUDGET.bytes];
      allPass &&= ok.every(Boolean);
      lines.push(
        `  ${pad(s.name, 10)} wall ${ratio.toFixed(2)}x bare ${verdict(ok[0])} (cpu ${(m.cpu / bareMed.cpu).toFixed(2)}x); peak bare + ${extra.toFixed(1)} MiB ${verdict(ok[1])}; size ${(s.bytes / 1024).toFixed(0)} KB ${verdict(ok[2])}`,
      );
    }
    lines.push(allPass ? 'All cold-start budgets PASS.' : 'Some cold-start budget FAILS (see above).');

    lines.push(
      '',
      'First call (load the bundle, then one invocation against a local emulator; a replay or a dry run):',
    );
    lines.push(
      `${pad('bundle', 24)}${'calls'.padStart(9)}${'wall ms'.padStart(9)}${'x bare'.padStart(9)}${'cpu ms'.padStart(9)}${'peak MiB'.padStart(9)}${'+ bare'.padStart(9)}${'x 1 file'.padStart(9)}`,
    );
    for (const s of fns) {
      const control = oneFile.get(s)!;
      const c = medOf(first.get(control)!);
      for (const x of [s, control]) {
        const m = medOf(first.get(x)!);
        const vs = x === s ? num(m.ms / c.ms, 2) : '';
        lines.push(
          `${pad(x.name, 24)}${String(callsPer.get(s)).padStart(9)}${num(m.ms)}${num(m.ms / bareMed.ms, 2)}${num(m.cpu)}${num(m.mib)}${num(m.mib - bareMed.mib)}${vs}`,
        );
      }
    }
    lines.push(
      `(x 1 file = the shipped bundle's first call (wall) against the same function in one file with nothing left out; no budget.)`,
    );
    return lines;
  } finally {
    await emu.stop();
    fs.rmSync(outDir, { recursive: true, force: true });
    fs.rmSync(String(env.SHARE_CHECKPOINT_FILE), { force: true });
  }
}

if (require.main === module) {
  coldStartBench().then(
    (lines) => console.log(lines.join('\n')),
    (e) => {
      console.error(e);
      process.exit(1);
    },
  );
}
