// Throttling as ECS documents it, through the real SDKs: per API, per account and per region, per minute window
// ("throttled at minute T, the operation can continue as of minute T+1"), and without x-acs-retry-after by default
// on ECS. The window is shortened to keep the tests fast.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { DEFAULT_THROTTLING, DEMO, demoState, startEmulator, type Emulator } from '../../scripts/emulator';
import { sdkClients, type Creds } from '../helpers/sdk';

const OWNER: Creds = { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret };
const RECIPIENT: Creds = {
  accessKeyId: DEMO.rdRecipient.accessKeyId,
  accessKeySecret: DEMO.rdRecipient.accessKeySecret,
};
const WINDOW_MS = 600;

async function outcome(p: Promise<unknown>): Promise<any> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Waits for the start of the next window, so a test's calls fall into one window. */
const nextWindow = () => sleep(WINDOW_MS - (Date.now() % WINDOW_MS) + 5);

describe('throttling', () => {
  let emu: Emulator;
  let owner: ReturnType<typeof sdkClients>;
  let recipient: ReturnType<typeof sdkClients>;
  const describeSnapshots = (c = owner, regionId = 'cn-hangzhou') =>
    c.ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId }));
  const listRoles = () => owner.ram.listRoles(new $Ram.ListRolesRequest({}));
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${emu.endpoint}/_emulator/${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    const state = demoState();
    state.regions = ['cn-hangzhou', 'cn-shanghai'];
    emu = await startEmulator({ state, throttling: { windowMs: WINDOW_MS } });
    owner = sdkClients(emu.endpoint, OWNER);
    recipient = sdkClients(emu.endpoint, RECIPIENT);
  });
  afterAll(() => emu.stop());
  beforeEach(() => {
    emu.clearFaults();
    emu.clearCalls();
    for (const a of Object.keys(emu.rateLimits())) emu.setRateLimit(a, null);
    emu.setThrottling({ windowMs: WINDOW_MS, retryAfter: DEFAULT_THROTTLING.retryAfter });
  });

  describe('per-minute windows', () => {
    it('refuses calls past the limit until the next window, then lets them through', async () => {
      emu.setRateLimit('DescribeSnapshots', { perMinute: 3 });
      await nextWindow();

      const inWindow = [];
      for (let i = 0; i < 5; i++) inWindow.push(await outcome(describeSnapshots()));
      await nextWindow();
      const next = await outcome(describeSnapshots());

      expect(inWindow.map((r) => (r === 'ok' ? 'ok' : `${r.name} ${r.code}`))).toEqual([
        'ok',
        'ok',
        'ok',
        'ThrottlingError Throttling.User',
        'ThrottlingError Throttling.User',
      ]);
      expect(next).toBe('ok');
    });

    it('keeps refusing for the rest of the window however long the caller waits inside it', async () => {
      emu.setRateLimit('DescribeSnapshots', { perMinute: 1 });
      await nextWindow();

      await describeSnapshots();
      await sleep(WINDOW_MS / 2);
      const later = await outcome(describeSnapshots());

      expect(later.code).toBe('Throttling.User');
    });

    it('counts per API, per account and per region', async () => {
      emu.setRateLimit('*', { perMinute: 1 });
      await nextWindow();

      const results = {
        first: await outcome(describeSnapshots()),
        again: await outcome(describeSnapshots()),
        otherApi: await outcome(owner.ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou' }))),
        otherRegion: await outcome(describeSnapshots(owner, 'cn-shanghai')),
        otherAccount: await outcome(describeSnapshots(recipient)),
      };

      expect(Object.fromEntries(Object.entries(results).map(([k, r]) => [k, r === 'ok' ? 'ok' : r.code]))).toEqual({
        first: 'ok',
        again: 'Throttling.User',
        otherApi: 'ok',
        otherRegion: 'ok',
        otherAccount: 'ok',
      });
    });

    it('applies a per-second and a per-minute bound together', async () => {
      emu.setThrottling({ windowMs: 1500 });
      emu.setRateLimit('ListRoles', { perSecond: 2, perMinute: 3 });
      await sleep(1500 - (Date.now() % 1500) + 5);

      const codes = [];
      for (let i = 0; i < 3; i++) codes.push(await outcome(listRoles()));
      await sleep(1005);
      for (let i = 0; i < 2; i++) codes.push(await outcome(listRoles()));

      expect(codes.map((r) => (r === 'ok' ? 'ok' : r.code))).toEqual([
        'ok',
        'ok',
        'Throttling.User',
        'ok',
        'Throttling.User',
      ]);
      expect(emu.calls({ action: 'ListRoles', status: 400 }).map((c) => c.cause)).toEqual([
        'rate limit 2/s',
        'rate limit 3/1500 ms window',
      ]);
    });

    it('says, when asked to send x-acs-retry-after, when the next window starts', async () => {
      emu.setRateLimit('DescribeSnapshots', { perMinute: 1, retryAfter: true });
      await nextWindow();

      await describeSnapshots();
      const err = await outcome(describeSnapshots());
      const answered = Date.now();
      await sleep(err.retryAfter);
      const after = await outcome(describeSnapshots());

      expect(err.retryAfter).toBeGreaterThan(0);
      expect(Math.abs(answered + err.retryAfter - Math.ceil(answered / WINDOW_MS) * WINDOW_MS)).toBeLessThan(50);
      expect(after).toBe('ok');
    });

    it('has a one-minute window unless a test shortens it', () => {
      expect(DEFAULT_THROTTLING.windowMs).toBe(60_000);
    });
  });

  describe('x-acs-retry-after', () => {
    it('is omitted by default, on rate limits and throttle faults alike, as no product documents it', async () => {
      emu.setRateLimit('DescribeSnapshots', 1);
      await describeSnapshots();
      const limited = await outcome(describeSnapshots());
      emu.setRateLimit('DescribeSnapshots', null);
      emu.addFault({ action: 'DescribeImages', kind: 'throttle', nth: 1 });
      emu.addFault({ action: 'ListRoles', kind: 'throttle', nth: 1 });
      const faulted = await outcome(
        owner.ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou' })),
      );
      const ram = await outcome(listRoles());

      for (const err of [limited, faulted, ram])
        expect([err.name, err.code, err.retryAfter]).toEqual(['ThrottlingError', 'Throttling.User', undefined]);
      expect(Object.values(DEFAULT_THROTTLING.retryAfter).every((v) => v === false)).toBe(true);
    });

    it('is sent when a fault names retryAfterMs or retryAfter, or a limit says retryAfter', async () => {
      emu.addFault({ action: 'DescribeSnapshots', kind: 'throttle', nth: 1, retryAfterMs: 70 });
      emu.addFault({ action: 'ListRoles', kind: 'throttle', nth: 1, retryAfter: true });
      emu.setRateLimit('DescribeImages', { perSecond: 1, retryAfter: true });

      const ecs = await outcome(describeSnapshots());
      const ram = await outcome(listRoles());
      await owner.ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou' }));
      const limited = await outcome(
        owner.ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou' })),
      );

      expect([ecs.retryAfter, ram.retryAfter]).toEqual([70, 1000]);
      expect(limited.retryAfter).toBeGreaterThan(0);
      expect(limited.retryAfter).toBeLessThanOrEqual(1000);
    });

    it('follows the per-product switch of setThrottling unless a fault says otherwise', async () => {
      emu.setThrottling({ retryAfter: { ram: true } });
      emu.addFault({ action: 'ListRoles', kind: 'throttle', nth: 1 });
      emu.addFault({ action: 'DescribeSnapshots', kind: 'throttle', nth: 1 });
      emu.addFault({ action: 'GetRole', kind: 'throttle', nth: 1, retryAfter: false });

      const ram = await outcome(listRoles());
      const ecs = await outcome(describeSnapshots());
      const ramOff = await outcome(owner.ram.getRole(new $Ram.GetRoleRequest({ roleName: 'any' })));

      expect([ram.retryAfter, ecs.retryAfter, ramOff.retryAfter]).toEqual([1000, undefined, undefined]);
    });
  });

  describe('admin API', () => {
    it('sets per-minute limits and the window through PUT rate-limits and PUT throttling', async () => {
      const limits = await admin('PUT', 'rate-limits', {
        ListRoles: 5,
        DescribeSnapshots: { perMinute: 1, retryAfter: true },
      });
      const throttling = await admin('PUT', 'throttling', { windowMs: 250, retryAfter: { kms: false } });
      await sleep(250 - (Date.now() % 250) + 5);
      await describeSnapshots();
      const err = await outcome(describeSnapshots());

      expect(limits.body).toEqual({ ListRoles: 5, DescribeSnapshots: { perMinute: 1, retryAfter: true } });
      expect(throttling.body).toEqual({ windowMs: 250, retryAfter: { ...DEFAULT_THROTTLING.retryAfter, kms: false } });
      expect((await admin('GET', 'throttling')).body.windowMs).toBe(250);
      expect(err.retryAfter).toBeLessThanOrEqual(250);
    });

    it('refuses a malformed limit or window with 400 and keeps the old ones', async () => {
      emu.setRateLimit('ListRoles', 5);

      const badLimit = await admin('PUT', 'rate-limits', { ListRoles: 1, DescribeSnapshots: { perHour: 3 } });
      const badWindow = await admin('PUT', 'throttling', { windowMs: 0 });

      expect([badLimit.status, badWindow.status]).toEqual([400, 400]);
      expect(emu.rateLimits()).toEqual({ ListRoles: 5 });
    });
  });
});
