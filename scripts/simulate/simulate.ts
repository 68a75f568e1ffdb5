// One seed end to end: draw its history, run it, and when an invariant breaks, shrink to the shortest failing
// prefix (re-running prefixes; a prefix of a seed's history is that seed's history with fewer steps, so
// `--seed S --steps L` reproduces it).
import { describeStep, generateHistory } from './history';
import { runHistory, type Invariant, type RunOptions, type RunResult, type Violation } from './runner';

export interface SeedReport {
  seed: number;
  steps: number;
  result: RunResult;
  /** Per violated invariant: the shortest failing prefix found and what it printed. */
  shrunk: Array<{
    invariant: Invariant;
    steps: number;
    history: string[];
    violation: Violation;
    reproduced: boolean;
    minimal?: { dropped: number[]; history: string[]; violation: Violation };
  }>;
  wallMs: number;
  /** The simulator itself failed on this seed (not the product): the seed proves nothing and is reported as such. */
  harnessError?: string;
}

export interface SimulateOptions extends RunOptions {
  shrink?: boolean;
  /** After the shortest prefix, also try leaving out single steps (1-based indices printed as --drop). */
  minimize?: boolean;
  /** Steps (1-based) left out of the seed's history, as --drop prints them. */
  drop?: number[];
}

/** The seed's history of `steps` steps, without the dropped ones (1-based). */
function historyOf(seed: number, steps: number, drop: number[] = []) {
  return generateHistory(seed, steps).filter((_, i) => !drop.includes(i + 1));
}

async function failsWith(
  seed: number,
  steps: number,
  invariant: Invariant,
  opts: RunOptions,
  drop: number[] = [],
): Promise<Violation | undefined> {
  const r = await runHistory(seed, historyOf(seed, steps, drop), opts);
  return r.violations.find((v) => v.invariant === invariant);
}

export async function simulateSeed(seed: number, steps: number, opts: SimulateOptions = {}): Promise<SeedReport> {
  const started = Date.now();
  const history = historyOf(seed, steps, opts.drop);
  const result = await runHistory(seed, history, opts);
  const shrunk: SeedReport['shrunk'] = [];
  if (opts.shrink !== false && !opts.drop?.length) {
    const runOpts = { ...opts, trace: undefined };
    for (const invariant of [...new Set(result.violations.map((v) => v.invariant))]) {
      const first = result.violations.find((v) => v.invariant === invariant)!;
      // Binary search for the shortest failing prefix (histories are not strictly monotonic; this finds a short one).
      let hi = first.step >= 0 ? first.step + 1 : history.length;
      let best: Violation = first;
      if (hi < history.length) {
        const v = await failsWith(seed, hi, invariant, runOpts);
        if (v) best = v;
        else hi = history.length;
      }
      let lo = 0; // a prefix of length lo is known (assumed) to pass
      while (hi - lo > 1) {
        const mid = Math.floor((lo + hi) / 2);
        const v = await failsWith(seed, mid, invariant, runOpts);
        if (v) {
          hi = mid;
          best = v;
        } else lo = mid;
      }
      const again =
        hi === history.length && best === first ? true : Boolean(await failsWith(seed, hi, invariant, runOpts));
      let minimal: SeedReport['shrunk'][number]['minimal'];
      if (opts.minimize && again) {
        const dropped: number[] = [];
        let last = best;
        for (let i = 1; i < hi; i++) {
          const v = await failsWith(seed, hi, invariant, runOpts, [...dropped, i]);
          if (v) {
            dropped.push(i);
            last = v;
          }
        }
        const kept = history
          .slice(0, hi)
          .map((h, i) => ({ h, i: i + 1 }))
          .filter((x) => !dropped.includes(x.i));
        minimal = { dropped, history: kept.map((x) => `(${x.i}) ${describeStep(x.h)}`), violation: last };
      }
      shrunk.push({
        invariant,
        steps: hi,
        history: history.slice(0, hi).map(describeStep),
        violation: best,
        reproduced: again,
        minimal,
      });
    }
  }
  return { seed, steps: history.length, result, shrunk, wallMs: Date.now() - started };
}
