// Property-based fuzzing of the three functions in-process, under the real function role, against one emulator:
// whatever they are handed, they answer (a result object; on-tag may only reject with TransientFailure); malformed
// input is answered InvalidInput with a reason before any API call; and in a world already in steady state nothing
// they are handed ever makes them write.
import os from 'node:os';
import path from 'node:path';
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { DEMO } from '../../scripts/emulator';
import { handler as onTag } from '../../functions/on-tag/index';
import { handler as share } from '../../functions/share/index';
import { handler as reconcile } from '../../functions/reconcile/index';
import { handler as reconcileWorker } from '../../functions/reconcile-worker/index';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import { tag, shareWrites } from '../helpers/e2e';
import {
  deepEvent,
  eventPayload,
  junk,
  reconcileCommand,
  REGION,
  runs,
  shareCommand,
  timerEvent,
  tagValue,
  workerPayload,
} from './arbitraries';
import { expectSaneAnswer } from './checks';

const HANDLERS = { 'on-tag': onTag, share, reconcile, 'reconcile-worker': reconcileWorker } as const;
type Fn = keyof typeof HANDLERS;

// The world: a snapshot shared with an RD member, an image shared with an external account, untagged resources.
const SHARED = [DEMO.snapshots.cmk, DEMO.images.cmk];
const UNTAGGED = [DEMO.snapshots.plain, DEMO.images.plain, E2E.spareSnapshots[0]];
const KNOWN = [...SHARED, ...UNTAGGED];

/** FC hands the function bytes; a value JSON.stringify cannot write (nested thousands deep) is handed over as is. */
function wire(payload: unknown): unknown {
  if (typeof payload === 'string') return Buffer.from(payload);
  try {
    return Buffer.from(JSON.stringify(payload) ?? 'null');
  } catch {
    return payload;
  }
}

const tally: Record<Fn, Record<string, number>> = { 'on-tag': {}, share: {}, reconcile: {}, 'reconcile-worker': {} };

describe('the functions under fuzzing, against the emulator with the real function role', () => {
  let w: World;
  const checkpointDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-fuzz-'));

  /** Invoke, classify the answer, and check the properties every answer must have. */
  async function invoke(fn: Fn, payload: unknown): Promise<void> {
    w.emu.clearCalls();
    let answer: 'invalid' | 'summary' | 'transient';
    try {
      const res = await HANDLERS[fn](wire(payload), w.context(fn));
      answer = expectSaneAnswer(res);
      if (answer === 'summary' && w.emu.calls().length > 0)
        tally[fn].reachedTheApi = (tally[fn].reachedTheApi ?? 0) + 1;
    } catch (e) {
      // The one documented rejection: on-tag fails the invocation so EventBridge redelivers a transient failure.
      if (!(fn === 'on-tag' && (e as Error)?.name === 'TransientFailure')) throw e;
      answer = 'transient';
    }
    tally[fn][answer] = (tally[fn][answer] ?? 0) + 1;
    // Refused before any API call; reconcile may first read the account's regions to refuse one it does not have.
    if (answer === 'invalid')
      expect(
        w.emu.calls().filter((c) => !['reconcile', 'reconcile-worker'].includes(fn) || c.action !== 'DescribeRegions'),
      ).toEqual([]);
    expect(w.emu.writes()).toEqual([]); // the world is in steady state: nothing any input asks may write
  }

  beforeAll(async () => {
    w = await startWorld({
      state: e2eState(),
      env: { SHARE_CHECKPOINT_FILE: path.join(checkpointDir, 'checkpoint.json'), SHARE_ASSOCIATION_WAIT_MS: '0' },
    });
    await tag(w, DEMO.snapshots.cmk, DEMO.rdRecipient.uid);
    await tag(w, DEMO.images.cmk, DEMO.externalRecipient.uid);
    for (const id of SHARED)
      expect((await w.invoke('share', { resourceId: id, region: REGION })).results[0].outcome).toMatch(
        /shared|pending/,
      );
    expect((await w.invoke('reconcile', { action: 'reconcile' })).ok).toBe(true);
    // Steady state: one more full pass writes nothing.
    w.emu.clearCalls();
    await w.invoke('reconcile', { action: 'reconcile' });
    expect(w.emu.writes()).toEqual([]);
  });
  afterAll(async () => {
    await w?.stop();
    fs.rmSync(checkpointDir, { recursive: true, force: true });
    console.log(`fuzz answers per function: ${JSON.stringify(tally)}`);
  });

  it('on-tag answers every event, batch and stray payload, and writes nothing', async () => {
    const payload = fc.oneof(
      { weight: 12, arbitrary: eventPayload(KNOWN) },
      { weight: 1, arbitrary: deepEvent(KNOWN) },
      { weight: 1, arbitrary: shareCommand(KNOWN) },
      { weight: 1, arbitrary: timerEvent },
      { weight: 1, arbitrary: junk },
    );
    await fc.assert(
      fc.asyncProperty(payload, (p) => invoke('on-tag', p)),
      runs(1000),
    );
  }, 120_000);

  it('share answers every command and stray payload, and writes nothing', async () => {
    // A well-formed command on a shared resource is a replay (zero writes); so is any dry run. Untagged and unknown
    // resources are refused or unchanged.
    const payload = fc.oneof(
      { weight: 12, arbitrary: shareCommand(KNOWN) },
      { weight: 1, arbitrary: eventPayload(KNOWN) },
      { weight: 1, arbitrary: deepEvent(KNOWN) },
      { weight: 1, arbitrary: timerEvent },
      { weight: 1, arbitrary: junk },
    );
    await fc.assert(
      fc.asyncProperty(payload, (p) => invoke('share', p)),
      runs(1000),
    );
  }, 120_000);

  it('reconcile answers every command, timer payload and stray payload, and writes nothing', async () => {
    // A real (not dry) pass is drawn only over the world's whole region list: a pass over a subset may trim grants
    // the other regions need (issue 7, the lead's), which is not what this fuzzing is about.
    const command = reconcileCommand.map((c) => {
      const regions = (c as { regions?: unknown }).regions;
      const whole =
        regions === undefined || (Array.isArray(regions) && regions.length > 0 && regions.every((r) => r === REGION));
      return whole ? c : { ...c, dryRun: true };
    });
    const payload = fc.oneof(
      { weight: 3, arbitrary: command },
      {
        weight: 1,
        arbitrary: timerEvent.map((t) => ({
          ...t,
          payload: typeof t.payload === 'object' && t.payload ? { ...(t.payload as object), dryRun: true } : t.payload,
        })),
      },
      { weight: 1, arbitrary: eventPayload(KNOWN) },
      { weight: 1, arbitrary: deepEvent(KNOWN) },
      { weight: 2, arbitrary: junk },
      { weight: 1, arbitrary: shareCommand(KNOWN) },
    );
    await fc.assert(
      fc.asyncProperty(payload, (p) => invoke('reconcile', p)),
      runs(1000),
    );
  }, 180_000);

  it('reconcile-worker answers every payload, checkpoint and stray input, and writes nothing', async () => {
    // A worker that would continue itself (a budget it cannot finish in) is drawn as a dry run: continuing is an FC
    // invocation, which the e2e fan-out tests cover.
    const payload = workerPayload(DEMO.owner.uid).map((p) => {
      const max = (p as { maxResources?: unknown }).maxResources;
      return typeof max === 'number' && Number.isInteger(max) && max > 0 ? { ...p, dryRun: true } : p;
    });
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(
          { weight: 8, arbitrary: payload },
          { weight: 1, arbitrary: eventPayload(KNOWN) },
          { weight: 1, arbitrary: timerEvent },
          { weight: 1, arbitrary: junk },
        ),
        (p) => invoke('reconcile-worker', p),
      ),
      runs(1000),
    );
  }, 180_000);

  it('refuses a share-with tag with a bad target, whatever else it says, and writes nothing', async () => {
    // Tag values the emulator accepts (TagResources: at most 128 characters), each with at least one refused token.
    const value = tagValue({ bad: true }).filter(
      (v) => v.trim().length > 0 && v.length <= 128 && !/^(acs:|aliyun)/i.test(v),
    );
    await fc.assert(
      fc.asyncProperty(value, async (v) => {
        await tag(w, E2E.spareSnapshots[1], v);
        w.emu.clearCalls();
        const res = await w.invoke('share', { resourceId: E2E.spareSnapshots[1], region: REGION });
        expect(res.results[0]).toMatchObject({
          outcome: 'refused',
          reason: expect.stringContaining('nothing was changed'),
        });
        expect(shareWrites(w)).toEqual([]);
      }),
      runs(100),
    );
  }, 120_000);
});
