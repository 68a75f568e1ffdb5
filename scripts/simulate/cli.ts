// npm run simulate -- [--seeds N] [--seed S] [--steps K] [--first F] [--no-shrink] [--minimize] [--drop i,j] [--trace] [--product DIR] [--json FILE]
// Seeded fault simulation of ecs-share against the local emulator; see README "Simulation".
import fs from 'node:fs';
import { INVARIANTS, type Invariant } from './runner';
import { simulateSeed, type SeedReport } from './simulate';

function parseArgs(argv: string[]) {
  const opts = { seeds: 10, first: 1, seed: undefined as number | undefined, steps: 30, shrink: true, trace: false, minimize: false, drop: [] as number[], product: undefined as string | undefined, json: undefined as string | undefined };
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
    else if (a === '--no-shrink') opts.shrink = false;
    else if (a === '--trace') opts.trace = true;
    else if (a === '--minimize') opts.minimize = true;
    else if (a === '--drop') opts.drop = String(argv[++i]).split(',').map(Number).filter((n) => Number.isInteger(n) && n > 0);
    else if (a === '--product') opts.product = argv[++i];
    else if (a === '--json') opts.json = argv[++i];
    else throw new Error(`unknown argument ${a}; usage: npm run simulate -- [--seeds N] [--seed S] [--steps K] [--first F] [--no-shrink] [--minimize] [--drop i,j] [--trace] [--product DIR] [--json FILE]`);
  }
  return opts;
}

async function main(): Promise<void> {
  const opts = parseArgs(process.argv.slice(2));
  const seeds = opts.seed !== undefined ? [opts.seed] : Array.from({ length: opts.seeds }, (_, i) => opts.first + i);
  const started = Date.now();
  const reports: SeedReport[] = [];
  const out = (s: string) => process.stdout.write(`${s}\n`);
  for (const seed of seeds) {
    const report = await simulateSeed(seed, opts.steps, {
      shrink: opts.shrink,
      minimize: opts.minimize,
      drop: opts.drop,
      productDir: opts.product,
      trace: opts.trace ? out : undefined,
    });
    reports.push(report);
    const v = report.result.violations;
    const s = report.result.stats;
    out(`seed ${seed}: ${v.length ? `${v.length} VIOLATION(S)` : 'ok'}  steps ${s.steps}, invocations ${s.invocations}, faults ${s.faults}, crashes ${s.crashes}, writes ${s.writes}, asked pairs ${s.askedPairs} (usable ${s.usablePairs}, excused ${s.excusedPairs}), ${(report.wallMs / 1000).toFixed(1)} s`);
    if (opts.trace || v.length) for (const n of report.result.notes) out(`  note: ${n}`);
    for (const x of v) out(`  [${x.invariant}] ${x.step >= 0 ? `after step ${x.step + 1}` : 'after quiescing'}: ${x.message}`);
    for (const sh of report.shrunk) {
      out(`  shortest failing prefix for ${sh.invariant}: ${sh.steps} step(s)${sh.reproduced ? '' : ' (did not fail again on a re-run: timing-dependent)'}; reproduce: npm run simulate -- --seed ${seed} --steps ${sh.steps} --trace`);
      sh.history.forEach((h, i) => out(`    ${String(i + 1).padStart(3)}. ${h}`));
      out(`    => ${sh.violation.message}`);
      if (sh.minimal) {
        out(`  minimal (single steps left out while it still fails): npm run simulate -- --seed ${seed} --steps ${sh.steps} --drop ${sh.minimal.dropped.join(',') || '0'} --trace`);
        for (const h of sh.minimal.history) out(`    ${h}`);
        out(`    => ${sh.minimal.violation.message}`);
      }
    }
  }
  const sum = (f: (r: SeedReport) => number) => reports.reduce((n, r) => n + f(r), 0);
  const byInvariant = Object.fromEntries(INVARIANTS.map((inv) => [inv, reports.filter((r) => r.result.violations.some((v) => v.invariant === inv)).map((r) => r.seed)])) as Record<Invariant, number[]>;
  out('');
  out(`seeds ${reports.length}, steps ${sum((r) => r.result.stats.steps)}, invocations ${sum((r) => r.result.stats.invocations)}, faults injected ${sum((r) => r.result.stats.faults)}, crashes ${sum((r) => r.result.stats.crashes)}, product writes ${sum((r) => r.result.stats.writes)}, events delivered ${sum((r) => r.result.stats.eventsDelivered)} (lost ${sum((r) => r.result.stats.eventsLost)})`);
  out(`violations by invariant (seeds): ${INVARIANTS.map((inv) => `${inv} ${byInvariant[inv].length}${byInvariant[inv].length ? ` [${byInvariant[inv].join(',')}]` : ''}`).join(', ')}`);
  out(`seeds with violations: ${reports.filter((r) => r.result.violations.length).length}; wall time ${((Date.now() - started) / 1000).toFixed(1)} s`);
  if (opts.json) fs.writeFileSync(opts.json, JSON.stringify(reports, null, 2));
  process.exitCode = reports.some((r) => r.result.violations.length) ? 1 : 0;
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack ?? e}\n`);
  process.exit(2);
});
