// Cold start, measured side by side in one run (issue 3, point 6): a NAIVE esbuild bundle that imports and constructs
// the four official SDK clients, against each real function bundle built by scripts/build.ts. Every sample is a fresh
// `node` process that only loads the bundle; the samples are interleaved so drift (CPU boost, cache) hits all alike.
// Load time is reported net of a bare `node -e 0` start, since that is the part a bundle can change.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { BUNDLE_BUDGET_BYTES, buildFunction, functionNames } from './build';

const root = path.resolve(__dirname, '..');
export const BUDGET = { loadSpeedup: 3, peakMemoryRatio: 0.5, bytes: BUNDLE_BUDGET_BYTES };
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

interface Subject {
  name: string;
  /** The bundle to load; undefined for the bare node baseline. */
  file?: string;
  bytes: number;
}

interface Sample {
  ms: number;
  rssKb: number;
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

/** One fresh process that loads the bundle (or nothing). Peak RSS from GNU time when present, else from the process itself. */
function sample(subject: Subject): Sample {
  const load = subject.file ? `require(${JSON.stringify(subject.file)})` : '0';
  const useTime = fs.existsSync(TIME_BIN);
  const script = useTime ? load : `${load};process.stderr.write('\\n'+process.resourceUsage().maxRSS+'\\n')`;
  const [cmd, args] = useTime ? [TIME_BIN, ['-f', '%M', process.execPath, '-e', script]] : [process.execPath, ['-e', script]];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(cmd, args, { encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } });
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  if (r.status !== 0) throw new Error(`loading ${subject.name} failed: ${r.stderr}`);
  const rssKb = Number(r.stderr.trim().split('\n').pop());
  return { ms, rssKb };
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};

const pad = (s: string, n: number) => s.padEnd(n);
const num = (x: number, digits = 1) => x.toFixed(digits).padStart(8);
const verdict = (ok: boolean) => (ok ? 'PASS' : 'FAIL');

/** Build, measure, and return the report lines (the caller prints them). */
export async function coldStartBench(reps = Number(process.env.BENCH_REPS) || 9): Promise<string[]> {
  const outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bench-'));
  try {
    const bare: Subject = { name: 'bare node -e 0', bytes: 0 };
    const naive = await buildNaive(outDir);
    const fns: Subject[] = [];
    for (const fn of functionNames()) {
      const b = await buildFunction(fn, outDir);
      fns.push({ name: fn, file: b.file, bytes: b.bytes });
    }
    const subjects = [bare, naive, ...fns];
    const samples = new Map<Subject, Sample[]>(subjects.map((s) => [s, []]));
    sample(naive); // warm the file cache once; not counted
    for (let i = 0; i < reps; i++) for (const s of subjects) samples.get(s)!.push(sample(s));

    const med = (s: Subject) => ({
      ms: median(samples.get(s)!.map((x) => x.ms)),
      mib: median(samples.get(s)!.map((x) => x.rssKb)) / 1024,
    });
    const bareMed = med(bare);
    const naiveMed = med(naive);
    const netLoad = (ms: number) => Math.max(ms - bareMed.ms, 0.1);
    const lines = [
      `Cold start: medians of ${reps} fresh node ${process.version} processes per bundle, interleaved; peak RSS via ${fs.existsSync(TIME_BIN) ? '/usr/bin/time -f %M' : 'process.resourceUsage().maxRSS'}`,
      '',
      `${pad('bundle', 24)}${'size KB'.padStart(8)}${'wall ms'.padStart(9)}${'load ms'.padStart(9)}${'x bare'.padStart(8)}${'peak MiB'.padStart(9)}`,
    ];
    for (const s of subjects) {
      const m = med(s);
      const load = s === bare ? 0 : m.ms - bareMed.ms;
      lines.push(`${pad(s.name, 24)}${num(s.bytes / 1024, 0)}${num(m.ms, 1).padStart(9)}${num(load, 1).padStart(9)}${num(m.ms / bareMed.ms, 2)}${num(m.mib, 1).padStart(9)}`);
    }
    lines.push('', `load ms = wall time minus bare node's; budgets per function bundle, against the naive bundle in the same run:`);
    let allPass = true;
    for (const s of fns) {
      const m = med(s);
      const speedup = netLoad(naiveMed.ms) / netLoad(m.ms);
      const memRatio = m.mib / naiveMed.mib;
      const checks = [
        `load ${speedup.toFixed(1)}x faster (>= ${BUDGET.loadSpeedup}x) ${verdict(speedup >= BUDGET.loadSpeedup)}`,
        `peak memory ${memRatio.toFixed(2)}x (<= ${BUDGET.peakMemoryRatio}x) ${verdict(memRatio <= BUDGET.peakMemoryRatio)}`,
        `size ${(s.bytes / 1024).toFixed(0)} KB (<= ${BUDGET.bytes / 1024} KB) ${verdict(s.bytes <= BUDGET.bytes)}`,
      ];
      allPass &&= speedup >= BUDGET.loadSpeedup && memRatio <= BUDGET.peakMemoryRatio && s.bytes <= BUDGET.bytes;
      lines.push(`  ${pad(s.name, 10)} ${checks.join('; ')}`);
    }
    lines.push(allPass ? 'All cold-start budgets PASS.' : 'Some cold-start budget FAILS (see above).');
    return lines;
  } finally {
    fs.rmSync(outDir, { recursive: true, force: true });
  }
}
