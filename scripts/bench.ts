// npm run bench: prints figures, one section after another. It always exits 0: a timed run is a measurement, not a test.
import { coldStartBench } from './bench-coldstart';
import { reconcileBench } from './bench-reconcile';
import { roundTripsBench } from './bench-roundtrips';

const sections: Array<{ title: string; run: () => Promise<string[]> }> = [
  { title: 'Critical path', run: () => roundTripsBench() },
  { title: 'Cold start', run: () => coldStartBench() },
  { title: 'Reconcile at scale', run: () => reconcileBench() },
];

export async function main(): Promise<void> {
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
