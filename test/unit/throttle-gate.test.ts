// The throttling line (shared/cloud/throttle-gate.ts) on a fake clock: oldest first, one probe at a time, the whole
// line let go when a call passes, a waiter let go at its deadline, and a probe that ends otherwise replaced.
import { describe, expect, it } from 'vitest';
import { ThrottleGates, type GateClock } from '../../shared/cloud/throttle-gate';

function fakeClock(): GateClock & { advance(ms: number): Promise<void> } {
  let now = 0;
  let timers: Array<{ at: number; fn: () => void }> = [];
  return {
    now: () => now,
    random: () => 0.5,
    after(ms, fn) {
      const t = { at: now + ms, fn };
      timers.push(t);
      return () => (timers = timers.filter((x) => x !== t));
    },
    async advance(ms) {
      const end = now + ms;
      for (;;) {
        const next = timers.filter((t) => t.at <= end).sort((a, b) => a.at - b.at)[0];
        if (!next) break;
        timers = timers.filter((t) => t !== next);
        now = next.at;
        next.fn();
        await Promise.resolve();
      }
      now = end;
      await Promise.resolve();
    },
  };
}

const K = 'ecs|DescribeSnapshots|cn-hangzhou';

describe('the throttling line', () => {
  it('lets the oldest waiter go first as the probe, then the rest when it passes', async () => {
    const clock = fakeClock();
    const gates = new ThrottleGates(60_000, clock);
    const gone: string[] = [];
    void gates.throttled(K, 300, 100_000).then(() => gone.push('c'));
    void gates.throttled(K, 100, 100_000).then(() => gone.push('a'));
    void gates.throttled(K, 200, 100_000).then(() => gone.push('b'));
    expect(gates.waiting(K)).toBe(3);
    await clock.advance(3_000);
    expect(gone).toEqual(['a']); // the probe, alone
    gates.passed(K);
    await clock.advance(0);
    expect(gone).toEqual(['a', 'b', 'c']);
    expect(gates.waiting(K)).toBe(0);
  });

  it('keeps a call that came later behind the line while the gate is closed', async () => {
    const clock = fakeClock();
    const gates = new ThrottleGates(60_000, clock);
    const gone: string[] = [];
    void gates.throttled(K, 100, 100_000).then(() => gone.push('old'));
    void gates.turn(K, 5_000, 100_000).then(() => gone.push('new'));
    await clock.advance(3_000);
    expect(gone).toEqual(['old']);
    void gates.throttled(K, 100, 100_000).then(() => gone.push('old again')); // the probe was throttled again
    await clock.advance(3_000);
    expect(gone).toEqual(['old', 'old again']); // still oldest first
    gates.passed(K);
    await clock.advance(0);
    expect(gone).toEqual(['old', 'old again', 'new']);
    void gates.turn(K, 9_000, 100_000).then(() => gone.push('open'));
    await clock.advance(0);
    expect(gone.at(-1)).toBe('open'); // an open gate lets a call go at once
  });

  it('lets a waiter go at its deadline, and replaces a probe that ended otherwise', async () => {
    const clock = fakeClock();
    const gates = new ThrottleGates(60_000, clock);
    const gone: string[] = [];
    void gates.throttled(K, 100, 100_000).then(() => gone.push('probe'));
    void gates.throttled(K, 200, 100).then(() => gone.push('short'));
    void gates.throttled(K, 300, 100_000).then(() => gone.push('next'));
    await clock.advance(100);
    expect(gone).toEqual(['short']); // its deadline, before any probe
    await clock.advance(2_000);
    expect(gone).toEqual(['short', 'probe']);
    await clock.advance(10_000);
    expect(gone).toEqual(['short', 'probe']); // one probe out at a time
    gates.left(K); // the probe failed otherwise
    await clock.advance(3_000);
    expect(gone).toEqual(['short', 'probe', 'next']);
  });
});

describe('the throttling line in a process with nothing else to do', () => {
  it('keeps the process alive while calls wait in it (a worker waiting on a window must not exit)', async () => {
    // Found by the fan-out benchmark: with the line's timers unref'd, a worker whose every call waited in line had no
    // handle left, and node exited mid-invocation ("Process exited unexpectedly").
    const { execFileSync } = await import('node:child_process');
    const path = await import('node:path');
    const gate = path.resolve(__dirname, '../../shared/cloud/throttle-gate.ts');
    const script = `const { ThrottleGates } = require(${JSON.stringify(gate)});
      const g = new ThrottleGates(2000);
      g.throttled('k', 0, Date.now() + 5000).then(() => { console.log('let go'); });`;
    const out = execFileSync(process.execPath, ['--import', 'tsx', '-e', script], {
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(out).toContain('let go');
  }, 30_000);
});

describe('CloudApi and the line', () => {
  it('keeps a read in line while its gate is closed, never a write (it may be merged into a read just made)', async () => {
    const { CloudApi } = await import('../../shared/cloud/api');
    const api = new CloudApi({
      endpointOverride: 'http://127.0.0.1:9', // nothing answers: what matters happens before the request
      credentials: { accessKeyId: 'ak', accessKeySecret: 'sk' },
      maxAttempts: 1,
    });
    const gates = (api as unknown as { gates: ThrottleGates }).gates;
    await api.call('ram', 'GetPolicy', {}, 'cn-hangzhou', { resend: false }).catch(() => 0); // loads the SDK
    const tick = async () => {
      for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    };
    for (const action of ['UpdateRole', 'TagResources', 'ModifyImageSharePermission']) {
      gates.close(`ram|${action}|cn-hangzhou`);
      const write = api.call('ram', action, {}, 'cn-hangzhou').catch(() => 0);
      await tick();
      expect(gates.waiting(`ram|${action}|cn-hangzhou`)).toBe(0); // sent at once: its read is only fresh now
      await write;
    }
    const key = 'ram|GetRole|cn-hangzhou';
    gates.close(key);
    const read = api.call('ram', 'GetRole', { RoleName: 'r' }, 'cn-hangzhou').catch(() => 0);
    await tick();
    expect(gates.waiting(key)).toBe(1);
    gates.passed(key);
    await read;
  }, 30_000);
});
