// Under a per-action rate limit every call still completes: a throttled call waits the x-acs-retry-after the
// service gave (never less) when there is one, backs off with jitter when there is none (what the docs leave open,
// so the emulator's default), and outlasts a per-minute window (shortened here), at a bounded number of attempts.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, demoState, DEMO, type Emulator } from '../../scripts/emulator';
import { CloudApi } from '../../shared/cloud/api';
import { KmsAdapter } from '../../shared/cloud/kms';

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ state: demoState() });
});
afterAll(() => emu.stop());

async function burst(): Promise<{ ok: number; throttled: number }> {
  emu.clearCalls();
  const api = new CloudApi({
    endpointOverride: emu.endpoint,
    credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
    maxAttempts: 20,
  });
  const kms = new KmsAdapter(api);
  // Five workers, each calling one after the other, as reconcile's bounded concurrency does.
  const worker = async () => {
    const out = [];
    for (let i = 0; i < 8; i++) out.push(await kms.describeKey(DEMO.region, DEMO.cmkId));
    return out;
  };
  const keys = (await Promise.all(Array.from({ length: 5 }, worker))).flat();
  const calls = emu.calls({ action: 'DescribeKey' });
  return {
    ok: keys.filter((k) => k?.keyId === DEMO.cmkId).length,
    throttled: calls.filter((c) => c.code === 'Throttling.User').length,
  };
}

describe('five workers making 40 calls against a limit of 10 per second', () => {
  it('completes every call, retrying the throttled ones as told by x-acs-retry-after', async () => {
    emu.setRateLimit('DescribeKey', { perSecond: 10, retryAfter: true });
    const { ok, throttled } = await burst();
    expect(ok).toBe(40);
    // 40 calls at 10/s span 4 windows; waiting as told keeps the extra attempts near one per call (measured 15-22).
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThanOrEqual(40);
    emu.setRateLimit('DescribeKey', null);
  });

  it('completes every call when throttling says nothing about when to come back', async () => {
    emu.setRateLimit('DescribeKey', 10);
    const { ok, throttled } = await burst();
    expect(ok).toBe(40);
    // 40 calls at 10/s span 4 windows; waiting as told keeps the extra attempts near one per call (measured 15-22).
    expect(throttled).toBeGreaterThan(0);
    expect(throttled).toBeLessThanOrEqual(40);
    emu.setRateLimit('DescribeKey', null);
  });
});

describe('a per-minute limit (the window shortened to 1.5 s)', () => {
  it('is outlasted: every call completes in a later window', async () => {
    emu.setThrottling({ windowMs: 1500 });
    emu.setRateLimit('DescribeKey', { perMinute: 12 });
    const { ok, throttled } = await burst();
    expect(ok).toBe(40);
    expect(throttled).toBeGreaterThan(0);
    emu.setRateLimit('DescribeKey', null);
    emu.setThrottling({ windowMs: 60_000 });
  }, 60_000);
});

describe('a per-minute window shared by more callers than it has room for (the window shortened to 2 s)', () => {
  // Found by the fan-out benchmark: each throttled caller backing off on its own at random (0.5-10 s), the first to
  // wake took a new window's slots and came straight back for more, and a caller that slept longest found the next
  // window spent too: 43 of 39,600 resources gave up after 70 s in 50-s windows. Now throttled calls wait in line,
  // oldest first, one probe asks whether the window opened, and the line goes at once.
  it('serves every throttled call in the next window, oldest first, probing at a bounded rate', async () => {
    const WINDOW_MS = 2_000;
    emu.setThrottling({ windowMs: WINDOW_MS });
    emu.setRateLimit('DescribeKey', { perMinute: 8 });
    emu.clearCalls();
    try {
      const api = new CloudApi({
        endpointOverride: emu.endpoint,
        credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
        throttleWindowMs: WINDOW_MS,
      });
      const kms = new KmsAdapter(api);
      const waits: number[] = [];
      // Eight lanes (reconcile's concurrency), six calls each: 48 calls, six windows' worth.
      const started = Date.now();
      const lane = async () => {
        for (let i = 0; i < 6; i++) {
          const t = Date.now();
          const key = await kms.describeKey(DEMO.region, DEMO.cmkId);
          expect(key?.keyId).toBe(DEMO.cmkId);
          waits.push(Date.now() - t);
        }
      };
      await Promise.all(Array.from({ length: 8 }, lane));
      const throttled = emu.calls({ action: 'DescribeKey' }).filter((c) => c.code === 'Throttling.User').length;
      console.log(
        `48 calls, 8 a ${WINDOW_MS} ms window: longest wait ${Math.max(...waits)} ms, ${throttled} throttled attempts`,
      );
      expect(waits).toHaveLength(48);
      // No call waits more than the rest of its window and the next one (and a probe's pause).
      expect(Math.max(...waits)).toBeLessThanOrEqual(2 * WINDOW_MS + 1_000);
      // One probe at a time, at least 50 ms apart here (a twentieth of the window), beside each call's own attempt.
      expect(throttled).toBeLessThanOrEqual((Date.now() - started) / 50 + 48);
    } finally {
      emu.setRateLimit('DescribeKey', null);
      emu.setThrottling({ windowMs: 60_000 });
    }
  }, 60_000);
});

describe('a call that hangs near the end of the function time', () => {
  it('is cut at the time left (less a reserve to report), not at the 10 s read timeout, and not retried', async () => {
    const fault = emu.addFault({ action: 'DescribeKey', kind: 'latency', latencyMs: 8_000, every: 1 });
    const started = Date.now();
    const api = new CloudApi({
      endpointOverride: emu.endpoint,
      credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
      remainingMs: () => 4_000 - (Date.now() - started),
    });

    await expect(new KmsAdapter(api).describeKey(DEMO.region, DEMO.cmkId)).rejects.toMatchObject({
      code: 'RequestTimeout',
    });

    expect(Date.now() - started).toBeLessThan(3_500);
    expect(api.countCalls()).toBe(1);
    emu.removeFault(fault.id);
  }, 20_000);
});

describe('a read throttled several times, then a dropped connection', () => {
  it('still gets its own retries for the network error (throttled attempts do not use them up)', async () => {
    // Throttled six times (told to come back in 20 ms), then the connection dropped twice: found by the fan-out
    // bench, where image checks that had waited out several rate-limit windows failed on one ConnectTimeout.
    emu.clearCalls();
    emu.addFault({ action: 'DescribeKey', kind: 'throttle', retryAfterMs: 20, nth: 1, times: 6 });
    emu.addFault({ action: 'DescribeKey', kind: 'drop', nth: 7, times: 2 });
    const api = new CloudApi({
      endpointOverride: emu.endpoint,
      credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
    });
    try {
      const key = await new KmsAdapter(api).describeKey(DEMO.region, DEMO.cmkId);
      expect(key?.keyId).toBe(DEMO.cmkId);
      expect(emu.calls({ action: 'DescribeKey' })).toHaveLength(9);
    } finally {
      emu.clearFaults();
    }
  });
});
