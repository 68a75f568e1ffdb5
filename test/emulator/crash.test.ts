// The crash harness (test/helpers/crash.ts): the on-tag bundle runs as a child process against the emulator and is
// SIGKILLed right after its Nth write is applied. The emulator shows write N applied (its answer never delivered)
// and nothing after it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, type CallRecord, type CloudEvent, type EmulatorState } from '../../scripts/emulator';
import { countWrites, runUntilCrash, type CrashRun } from '../helpers/crash';
import { imageShareAccounts, tag } from '../helpers/e2e';
import { e2eState, recipientUid } from '../helpers/states';
import { startWorld, type World } from '../helpers/world';

const image = DEMO.images.cmk;

/** Whether every item of `some` occurs in `all` at least as often. */
function withinMultiset(some: string[], all: string[]): boolean {
  const left = new Map<string, number>();
  for (const a of all) left.set(a, (left.get(a) ?? 0) + 1);
  for (const a of some) {
    const k = left.get(a) ?? 0;
    if (k === 0) return false;
    left.set(a, k - 1);
  }
  return true;
}

describe('the crash harness', () => {
  let w: World;
  let event: CloudEvent;
  let start: EmulatorState;
  let clean: CrashRun;
  let total: number;

  const callsOf = (run: CrashRun): CallRecord[] =>
    w.emu.calls().filter((c) => c.caller?.accessKeyId === run.accessKeyId);

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    await tag(w, image, recipientUid(1));
    event = w.emu.events().at(-1)!;
    start = w.emu.getState();
    total = await countWrites(w, 'on-tag', event);
    w.emu.clearCalls();
    clean = await runUntilCrash(w, 'on-tag', event);
    w.emu.setState(start);
  });
  afterAll(() => w.stop());

  it('runs a clean invocation to its end in a child process and counts its writes', async () => {
    expect(clean.killed).toBe(false);
    expect(clean.result?.results?.[0]).toMatchObject({ resourceId: image, outcome: 'shared' });
    expect(clean.writesApplied).toBe(total);
    expect(total).toBeGreaterThanOrEqual(3);
  });

  it('puts the state back after counting', async () => {
    w.emu.setState(start);
    expect(await imageShareAccounts(w, image)).toEqual([]);
  });

  for (const at of ['first', 'middle', 'last'] as const) {
    it(`kills the child right after its ${at} write: that write applied and unanswered, nothing after it`, async () => {
      const n = at === 'first' ? 1 : at === 'last' ? total : Math.ceil(total / 2);
      w.emu.setState(start);
      w.emu.clearCalls();

      const run = await runUntilCrash(w, 'on-tag', event, { killAfterWrite: n });
      await new Promise((r) => setTimeout(r, 100)); // anything still in flight would land now
      const calls = callsOf(run);
      const writes = calls.filter((c) => c.write && (c.status === 200 || c.applied));
      const last = writes.at(-1)!;

      expect(run).toMatchObject({ killed: true, writesApplied: n });
      expect(run.result).toBeUndefined();
      // The emulator saw exactly the writes the harness counted, in the same order. Which writes come first is not
      // fixed: the product issues independent writes (the role and its policy) at once, so the first n of this run
      // are n of the clean run's writes, not necessarily its first n.
      expect(writes.map((c) => c.requestId)).toEqual(run.writes.map((x) => x.requestId));
      expect(
        withinMultiset(
          run.writes.map((x) => x.action),
          clean.writes.map((x) => x.action),
        ),
      ).toBe(true);
      expect(last).toMatchObject({
        status: 0,
        code: 'ClientGone',
        applied: true,
        requestId: run.writes[n - 1].requestId,
      });
      expect(calls.filter((c) => c.seq > last.seq && (c.status !== 0 || c.applied))).toEqual([]);
    });
  }

  it('leaves the image shared when killed right after ModifyImageSharePermission, though the child never heard so', async () => {
    w.emu.setState(start);

    const run = await runUntilCrash(w, 'on-tag', event, { killWhen: (x) => x.action === 'ModifyImageSharePermission' });

    expect(run.killed).toBe(true);
    expect(run.writes.at(-1)?.action).toBe('ModifyImageSharePermission');
    await new Promise((r) => setTimeout(r, w.emu.state.options.readLagMs + 20)); // the share list lags behind
    expect(await imageShareAccounts(w, image)).toEqual([recipientUid(1)]);
  });

  it('does not kill when N is past the last write', async () => {
    w.emu.setState(start);

    const run = await runUntilCrash(w, 'on-tag', event, { killAfterWrite: total + 1 });

    expect(run.killed).toBe(false);
    expect(run.writesApplied).toBe(total);
  });
});
