// npm run simulate -- [--seeds N] [--seed S] [--steps K] [--first F] [--jobs J] [--no-shrink] [--minimize] [--drop i,j] [--trace] [--product DIR] [--json FILE]
// Seeded fault simulation of ecs-share against the local emulator; see docs/simulation.md.
import { fork } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { INVARIANTS, emptyStats, type Invariant } from './runner';
import { simulateSeed, type SeedReport } from './simulate';

function parseArgs(argv: string[]) {
  const opts = {
    seeds: 10,
    first: 1,
    seed: undefined as number | undefined,
    steps: 30,
    shrink: true,
    trace: false,
    minimize: false,
    drop: [] as number[],
    product: undefined as string | undefined,
    json: undefined as string | undefined,
    jobs: 1,
    list: undefined as number[] | undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const num = () => {
      const n = Number(argv[++i]);
      if (!Number.isInteger(n) || n < 0) throw new Error(`${a} needs a non-negative integer`);
      return n;
    };
    if (a === '--seeds') opts.seeds = num();
    else if (a === '--seed') opts.seed = num();
    else if (a === '--first') opts.first = num();
    else if (a === '--steps') opts.steps = num();
    else if (a === '--jobs') opts.jobs = Math.max(1, num());
    else if (a === '--seed-list')
      opts.list = String(argv[++i])
        .split(',')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n >= 0);
    else if (a === '--no-shrink') opts.shrink = false;
    else if (a === '--trace') opts.trace = true;
    else if (a === '--minimize') opts.minimize = true;
    else if (a === '--drop')
      opts.drop = String(argv[++i])
        .split(',')
        .map(Number)
        .filter((n) => Number.isInteger(n) && n > 0);
    else if (a === '--product') opts.product = argv[++i];
    else if (a === '--json') opts.json = argv[++i];
    else
      throw new Error(
        `unknown argument ${a}; usage: npm run simulate -- [--seeds N] [--seed S] [--steps K] [--first F] [--jobs J] [--no-shrink] [--minimize] [--drop i,j] [--trace] [--product DIR] [--json FILE]`,
      );
  }
  return opts;
}

/** Runs the seeds in `jobs` child processes (round-robin, so long seeds spread out); returns their reports. */
async function runInChildren(
  seeds: number[],
  jobs: number,
  passOn: string[],
  out: (s: string) => void,
): Promise<SeedReport[]> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-simulate-'));
  try {
    const parts = Array.from({ length: Math.min(jobs, seeds.length) }, (_, k) =>
      seeds.filter((_, i) => i % jobs === k),
    );
    const children: Array<ReturnType<typeof fork>> = [];
    // Stopping the run (Ctrl-C, a timeout's SIGTERM) stops its jobs too.
    const stop = (signal: NodeJS.Signals) => {
      for (const c of children) c.kill(signal);
      process.exit(130);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const runs = parts.map(
      (part, k) =>
        new Promise<SeedReport[]>((resolve, reject) => {
          const json = path.join(dir, `part-${k}.json`);
          const child = fork(__filename, [...passOn, '--seed-list', part.join(','), '--json', json], {
            execArgv: process.execArgv,
            env: { ...process.env, ECS_SHARE_SIMULATE_CHILD: '1' },
            stdio: ['ignore', 'pipe', 'inherit', 'ipc'],
          });
          children.push(child);
          let buffered = '';
          child.stdout!.on('data', (d: Buffer) => {
            buffered += d.toString();
            const lines = buffered.split('\n');
            buffered = lines.pop()!;
            for (const l of lines) out(l);
          });
          child.on('error', reject);
          child.on('exit', (code) => {
            if (buffered) out(buffered);
            if (code === 2 || !fs.existsSync(json))
              reject(new Error(`simulation job ${k + 1} ended with code ${code} and no report`));
            else resolve(JSON.parse(fs.readFileSync(json, 'utf8')) as SeedReport[]);
          });
        }),
    );
    const reports = (await Promise.all(runs)).flat();
    const order = new Map(seeds.map((s, i) => [s, i]));
    return reports.sort((a, b) => order.get(a.seed)! - order.get(b.seed)!);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

async function runHere(
  seeds: number[],
  opts: ReturnType<typeof parseArgs>,
  out: (s: string) => void,
): Promise<SeedReport[]> {
  const reports: SeedReport[] = [];
  for (const seed of seeds) {
    const run = () =>
      simulateSeed(seed, opts.steps, {
        shrink: opts.shrink,
        minimize: opts.minimize,
        drop: opts.drop,
        productDir: opts.product,
        trace: opts.trace ? out : undefined,
      });
    // A throw is the simulator's own failure, never a verdict on the product: the seed runs once more, and if it
    // throws again it is reported (and fails the run) without ending the other seeds.
    let report: SeedReport;
    const started = Date.now();
    try {
      report = await run().catch(() => run());
    } catch (e) {
      const harnessError = String((e as Error).stack ?? e)
        .split('\n')
        .slice(0, 4)
        .join(' | ');
      out(
        `seed ${seed}: HARNESS ERROR (the simulator failed, not the product; reproduce: npm run simulate -- --seed ${seed}): ${harnessError}`,
      );
      reports.push({
        seed,
        steps: opts.steps,
        result: { violations: [], stats: emptyStats(), notes: [] },
        shrunk: [],
        wallMs: Date.now() - started,
        harnessError,
      });
      continue;
    }
    reports.push(report);
    const v = report.result.violations;
    const s = report.result.stats;
    // One write per seed, so lines of parallel jobs never interleave mid-seed.
    const lines = [
      `seed ${seed}: ${v.length ? `${v.length} VIOLATION(S)` : 'ok'}  steps ${s.steps}, invocations ${s.invocations}, faults ${s.faults}, crashes ${s.crashes}, writes ${s.writes}, asked pairs ${s.askedPairs} (usable ${s.usablePairs}, excused ${s.excusedPairs}), ${(report.wallMs / 1000).toFixed(1)} s`,
    ];
    if (opts.trace || v.length) for (const n of report.result.notes) lines.push(`  note: ${n}`);
    for (const x of v)
      lines.push(`  [${x.invariant}] ${x.step >= 0 ? `after step ${x.step + 1}` : 'after quiescing'}: ${x.message}`);
    for (const sh of report.shrunk) {
      lines.push(
        `  shortest failing prefix for ${sh.invariant}: ${sh.steps} step(s)${sh.reproduced ? '' : ' (did not fail again on a re-run: timing-dependent)'}; reproduce: npm run simulate -- --seed ${seed} --steps ${sh.steps} --trace`,
      );
      sh.history.forEach((h, i) => lines.push(`    ${String(i + 1).padStart(3)}. ${h}`));
      lines.push(`    => ${sh.violation.message}`);
      if (sh.minimal) {
        lines.push(
          `  minimal (single steps left out while it still fails): npm run simulate -- --seed ${seed} --steps ${sh.steps} --drop ${sh.minimal.dropped.join(',') || '0'} --trace`,
        );
        for (const h of sh.minimal.history) lines.push(`    ${h}`);
        lines.push(`    => ${sh.minimal.violation.message}`);
      }
    }
    out(lines.join('\n'));
  }
  return reports;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const opts = parseArgs(argv);
  const seeds =
    opts.list ?? (opts.seed !== undefined ? [opts.seed] : Array.from({ length: opts.seeds }, (_, i) => opts.first + i));
  const started = Date.now();
  const out = (s: string) => process.stdout.write(`${s}\n`);
  const child = process.env.ECS_SHARE_SIMULATE_CHILD === '1';
  // What a child needs of our arguments: everything but the seed selection, the job count and the report file.
  const passOn = [
    '--steps',
    String(opts.steps),
    ...(opts.shrink ? [] : ['--no-shrink']),
    ...(opts.minimize ? ['--minimize'] : []),
    ...(opts.trace ? ['--trace'] : []),
    ...(opts.product ? ['--product', opts.product] : []),
    ...(opts.drop.length ? ['--drop', opts.drop.join(',')] : []),
  ];
  const reports =
    !child && opts.jobs > 1 && seeds.length > 1
      ? await runInChildren(seeds, opts.jobs, passOn, out)
      : await runHere(seeds, opts, out);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(reports, null, 2));
  const harness = reports.filter((r) => r.harnessError).map((r) => r.seed);
  process.exitCode = reports.some((r) => r.result.violations.length) ? 1 : harness.length ? 2 : 0;
  if (child) return;
  const sum = (f: (r: SeedReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const byInvariant = Object.fromEntries(
    INVARIANTS.map((inv) => [
      inv,
      reports.filter((r) => r.result.violations.some((v) => v.invariant === inv)).map((r) => r.seed),
    ]),
  ) as Record<Invariant, number[]>;
  out('');
  out(
    `seeds ${reports.length}, steps ${sum((r) => r.result.stats.steps)}, invocations ${sum((r) => r.result.stats.invocations)}, faults injected ${sum((r) => r.result.stats.faults)}, crashes ${sum((r) => r.result.stats.crashes)}, product writes ${sum((r) => r.result.stats.writes)}, events delivered ${sum((r) => r.result.stats.eventsDelivered)} (lost ${sum((r) => r.result.stats.eventsLost)})`,
  );
  out(
    `violations by invariant (seeds): ${INVARIANTS.map((inv) => `${inv} ${byInvariant[inv].length}${byInvariant[inv].length ? ` [${byInvariant[inv].join(',')}]` : ''}`).join(', ')}`,
  );
  if (harness.length)
    out(`seeds the simulator itself failed on (they prove nothing): ${harness.length} [${harness.join(',')}]`);
  out(
    `seeds with violations: ${reports.filter((r) => r.result.violations.length).length}; wall time ${((Date.now() - started) / 1000).toFixed(1)} s${opts.jobs > 1 && !child ? ` (${opts.jobs} jobs)` : ''}`,
  );
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
