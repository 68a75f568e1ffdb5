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
