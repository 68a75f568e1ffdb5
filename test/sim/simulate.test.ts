// The seeded fault simulation (scripts/simulate) on a fixed set of seeds: each history of tags, untags, deletions,
// key changes, hand edits, lost/duplicated/reordered events, faults, crashes and resumed reconcile passes must keep
// every invariant (never wider, converged, nothing leaked, foreign grants untouched, policy versions <= 5, replay
// writes nothing). A failure prints the seed's shortest failing prefix; `npm run simulate -- --seed S --steps L
// --trace` reproduces it.
import { describe, expect, it } from 'vitest';
import { describeStep, generateHistory } from '../../scripts/simulate/history';
import { simulateSeed } from '../../scripts/simulate/simulate';

/**
 * Fixed seeds for CI (run `npm run simulate -- --seeds 100` for the wider picture). Seeds 102 and 106 catch a product
 * that writes the image grant record only after the share, with no intent before it (a crash between the two leaks
 * the account): `npm run simulate -- --seed 106 --product <dist of that product>` reports the leak.
 */
const SEEDS = [101, 102, 104, 105, 106, 107];
const STEPS = 30;

describe('seeded simulation', () => {
  it('draws the same history from the same seed, and a prefix is the history with fewer steps', () => {
    const a = generateHistory(42, STEPS).map(describeStep);
    expect(generateHistory(42, STEPS).map(describeStep)).toEqual(a);
    expect(generateHistory(42, 10).map(describeStep)).toEqual(a.slice(0, 10));
  });

  for (const seed of SEEDS) {
    it(`seed ${seed} keeps every invariant`, { timeout: 120_000 }, async () => {
      const report = await simulateSeed(seed, STEPS);
      const lines = report.shrunk.flatMap((s) => [
        `[${s.invariant}] shortest failing prefix ${s.steps} step(s): npm run simulate -- --seed ${seed} --steps ${s.steps} --trace`,
        ...s.history.map((h, i) => `  ${i + 1}. ${h}`),
        `  => ${s.violation.message}`,
      ]);
      expect(lines).toEqual([]);
      expect(report.result.stats.steps).toBe(STEPS);
    });
  }
});
