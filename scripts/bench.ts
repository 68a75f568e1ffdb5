// npm run bench: prints figures, one section after another. It always exits 0: a timed run is a measurement, not a test.
// `npm run bench -- --quick` (or BENCH_QUICK=1) runs the reconcile and fan-out sections at smaller sizes.
import { coldStartBench } from './bench-coldstart';
import { fanOutBench, fanOutOptions } from './bench-fanout';
import { quotaBench, reconcileBench } from './bench-reconcile';
import { roundTripsBench } from './bench-roundtrips';

const quick = process.argv.includes('--quick') || /^(1|true|yes)$/i.test(process.env.BENCH_QUICK ?? '');

const sections: Array<{ title: string; run: () => Promise<string[]> }> = [
  { title: 'Critical path', run: () => roundTripsBench(quick ? 1 : undefined) },
  { title: 'Cold start', run: () => coldStartBench() },
  {
    title: 'Reconcile at the quota',
    run: () =>
      quotaBench(
        quick
          ? [
              [100, 100],
              [300, 300],
            ]
          : undefined,
      ),
  },
  {
    title: 'Reconcile at scale, steady state',
    run: () =>
      reconcileBench(
        quick
          ? [
              [300, 60],
              [1200, 240],
            ]
          : undefined,
      ),
  },
  { title: 'Fan-out', run: () => fanOutBench(fanOutOptions(quick)) },
];

async function main(): Promise<void> {
  for (const s of sections) {
    console.log(`== ${s.title} ==`);
    try {
      for (const line of await s.run()) console.log(line);
    } catch (e) {
      console.log(`(${s.title} could not be measured: ${(e as Error).message})`);
    }
    console.log('');
  }
}

if (require.main === module) void main();
