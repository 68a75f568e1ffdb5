// The critical path of one share: how many sequential round trips a tag event costs when every call takes 100 ms
// (the emulator's global latency; its other defaults as they are, read lag included). The functions run in-process
// as the end-to-end tests run them. Depth = (wall time − a run that makes no call) / latency, the median of a few
// runs; each path is a fresh share (share role absent) and its replay (the same event again: nothing to change).
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO, type CloudEvent } from './emulator';
import { E2E, e2eState } from '../test/helpers/states';
import { startWorld, type World } from '../test/helpers/world';

const LATENCY_MS = 100;
const RUNS = 3;
/** The targets of issue 12: a fresh share in at most 8 sequential round trips, a replay in at most 3. */
const BUDGET = { fresh: 8, replay: 3 } as const;

interface Path {
  name: string;
  resource: string;
  type: 'snapshot' | 'image';
  target: string;
}

const PATHS: Path[] = [
  { name: 'CMK image → account', resource: DEMO.images.cmk, type: 'image', target: DEMO.rdRecipient.uid },
  { name: 'CMK image → folder', resource: DEMO.images.cmk, type: 'image', target: E2E.folderPath },
  { name: 'CMK snapshot → account', resource: DEMO.snapshots.cmk, type: 'snapshot', target: DEMO.rdRecipient.uid },
  { name: 'CMK snapshot → folder', resource: DEMO.snapshots.cmk, type: 'snapshot', target: E2E.folderPath },
];

interface Sample {
  ms: number;
  calls: number;
  /** The longest chain of the product's calls in which each starts after the one before it answered. */
  chain: number;
  outcome: string;
}

/** Longest chain of calls one after another, from the emulator's call log (each call's start and duration). */
function longestChain(calls: Array<{ time: string; durationMs: number }>): number {
  const spans = calls
    .map((c) => ({ start: Date.parse(c.time), end: Date.parse(c.time) + c.durationMs }))
    .sort((a, b) => a.end - b.end);
  const depth: number[] = [];
  for (const [i, c] of spans.entries())
    depth[i] = 1 + Math.max(0, ...spans.slice(0, i).flatMap((a, j) => (a.end <= c.start ? [depth[j]] : [])));
  return Math.max(0, ...depth);
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function timed(w: World, event: unknown): Promise<Sample> {
  w.emu.clearCalls();
  const t0 = performance.now();
  const res = await w.invoke('on-tag', event);
  const ms = performance.now() - t0;
  const made = w.emu.calls().filter((c) => c.caller?.type === 'role');
  const outcome = res?.results?.[0]?.outcome ?? res?.error?.code ?? 'none';
  return { ms, calls: made.length, chain: longestChain(made), outcome };
}

/**
 * One fresh share and its replay in a new world at `latencyMs` per call; the baseline is an invocation that makes no
 * call. At 0 ms the emulator's read lag is off too, so the run makes the same calls and measures only the CPU they cost.
 */
async function sample(p: Path, latencyMs: number): Promise<{ base: Sample; fresh: Sample; replay: Sample }> {
  // Production settings, not the e2e suites' shortened ones.
  const w = await startWorld({
    state: e2eState(),
    env: { SHARE_ASSOCIATION_WAIT_MS: '3000', SHARE_TRIM_SETTLE_MS: '2000', SHARE_LOG_LEVEL: 'off' },
  });
  try {
    await w.owner.ecs.tagResources(
      new $Ecs.TagResourcesRequest({
        regionId: DEMO.region,
        resourceType: p.type,
        resourceId: [p.resource],
        tag: [{ key: 'share-with', value: p.target }],
      }),
    );
    await w.emu.flushEvents();
    const event = w.emu.events().at(-1) as CloudEvent;
    if (latencyMs === 0) w.emu.setOptions({ readLagMs: 0 });
    w.emu.setLatency(latencyMs);
    const base = await timed(w, 'not an event');
    const fresh = await timed(w, event);
    const replay = await timed(w, event);
    w.emu.setLatency(0);
    return { base, fresh, replay };
  } finally {
    await w.stop();
  }
}

export async function roundTripsBench(runs = RUNS): Promise<string[]> {
  const lines = [
    `${LATENCY_MS} ms per call (emulator latency, its other defaults as they are), median of ${runs} runs, the functions in-process.`,
    `Round trips: (wall − a run that makes no call) / ${LATENCY_MS} ms, so the CPU of the calls (SDK and emulator, one process) counts too;`,
    `calls in sequence: the longest chain in the call log of calls each made after the one before it answered (load does not change it);`,
    `0 ms run: the same run at 0 ms per call and no read lag, minus the run that makes no call (the CPU of the calls, and any pause the product takes).`,
    '',
    '| path | API calls | sequential round trips | calls in sequence | 0 ms run (ms) | budget |',
    '|---|---|---|---|---|---|',
  ];
  for (const p of PATHS) {
    const slow: Array<Awaited<ReturnType<typeof sample>>> = [];
    const fast: Array<Awaited<ReturnType<typeof sample>>> = [];
    // Side by side: each run at 100 ms next to one at 0 ms, so both see about the same load.
    for (let i = 0; i < runs; i++) {
      slow.push(await sample(p, LATENCY_MS));
      fast.push(await sample(p, 0));
    }
    for (const kind of ['fresh', 'replay'] as const) {
      const depth = median(slow.map((s) => (s[kind].ms - s.base.ms) / LATENCY_MS));
      const chain = median(slow.map((s) => s[kind].chain));
      const cpu = median(fast.map((s) => s[kind].ms - s.base.ms));
      const calls = median(slow.map((s) => s[kind].calls));
      const outcomes = [...new Set(slow.map((s) => s[kind].outcome))];
      const budget = BUDGET[kind];
      const what = `${kind} share of a ${p.name}${kind === 'fresh' ? ' (role absent)' : ''}${outcomes.join('/') === (kind === 'fresh' ? 'shared' : 'unchanged') ? '' : ` (${outcomes.join('/')})`}`;
      lines.push(
        `| ${what} | ${calls} | ${depth.toFixed(1)} | ${chain} | ${Math.round(cpu)} | ≤ ${budget}${depth > budget ? ' (over)' : ''} |`,
      );
    }
  }
  return lines;
}

if (require.main === module) void roundTripsBench().then((lines) => console.log(lines.join('\n')));
