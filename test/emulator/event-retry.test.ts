// EventBridge's push retry as the emulator delivers events to its listeners and sink: BACKOFF_RETRY and
// EXPONENTIAL_DECAY_RETRY on a scaled clock, the dead-letter queue, and the loss and delay switches. The events
// come from real SDK tag calls.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO, demoState, retryDelaysMs, startEmulator, type CloudEvent, type Emulator } from '../../scripts/emulator';
import { sdkClients } from '../helpers/sdk';

const REGION = 'cn-hangzhou';
const SNAP = DEMO.snapshots.plain;

describe('event push retry, dead letters, loss and delay', () => {
  let emu: Emulator;
  let ecs: ReturnType<typeof sdkClients>['ecs'];
  let offs: Array<() => void> = [];
  const tag = (key = 'k', value = 'v') =>
    ecs.tagResources(
      new $Ecs.TagResourcesRequest({
        regionId: REGION,
        resourceType: 'snapshot',
        resourceId: [SNAP],
        tag: [{ key, value }],
      }),
    );
  const listen = (fn: (e: CloudEvent) => unknown) => offs.push(emu.onEvent(fn));
  const attemptsOf = (id: string) => emu.eventAttempts().filter((a) => a.eventId === id);
  const gaps = (times: string[]) => times.slice(1).map((t, i) => Date.parse(t) - Date.parse(times[i]));

  beforeAll(async () => {
    emu = await startEmulator({ state: demoState() });
    ecs = sdkClients(emu.endpoint, DEMO.owner).ecs;
  });
  afterAll(() => emu.stop());
  beforeEach(async () => {
    for (const off of offs) off();
    offs = [];
    emu.setEventDelivery({
      duplicates: false,
      reorder: false,
      sink: null,
      seed: 1,
      lose: 0,
      delayMs: 0,
      deadLetter: false,
      retryStrategy: 'BACKOFF_RETRY',
      retryTimeScale: 0.001,
    });
    await emu.drainEvents();
  });

  describe('the documented schedules', () => {
    it('BACKOFF_RETRY: 3 retries, each 10 to 20 s after the last try', () => {
      const delays = retryDelaysMs('BACKOFF_RETRY');

      expect(delays).toHaveLength(3);
      for (const d of delays) expect(d).toBeGreaterThanOrEqual(10_000);
      for (const d of delays) expect(d).toBeLessThanOrEqual(20_000);
    });

    it('EXPONENTIAL_DECAY_RETRY: 176 retries from 1 s doubling to 512 s, about one day in all', () => {
      const delays = retryDelaysMs('EXPONENTIAL_DECAY_RETRY');
      const total = delays.reduce((a, b) => a + b, 0);

      expect(delays).toHaveLength(176);
      expect(delays.slice(0, 10)).toEqual([1, 2, 4, 8, 16, 32, 64, 128, 256, 512].map((s) => s * 1000));
      expect(new Set(delays.slice(9))).toEqual(new Set([512_000]));
      expect(total / 3_600_000).toBeGreaterThan(23.5);
      expect(total / 3_600_000).toBeLessThanOrEqual(24);
    });
  });

  describe('BACKOFF_RETRY (the default)', () => {
    it('retries a listener that rejects, 10-20 (scaled) ms apart, until it takes the event once', async () => {
      let calls = 0;
      listen(async () => {
        if (++calls <= 2) throw new Error('invocation failed');
      });

      await tag();
      const [event] = await emu.waitForEvents(1);
      const tries = attemptsOf(event.id);

      expect(tries.map((a) => [a.attempt, a.ok])).toEqual([
        [1, false],
        [2, false],
        [3, true],
      ]);
      for (const g of gaps(tries.map((a) => a.at))) {
        expect(g).toBeGreaterThanOrEqual(9);
        expect(g).toBeLessThan(200);
      }
      expect(tries[0].error).toBe('invocation failed');
    });

    it('gives up after 3 retries and discards the event when no dead-letter queue is configured', async () => {
      const before = emu.eventStats();
      listen(() => {
        throw new Error('always fails');
      });

      await tag();
      const [event] = await emu.waitForEvents(1);
      const tries = attemptsOf(event.id);
      const after = emu.eventStats();

      expect(tries).toHaveLength(4);
      expect(tries.at(-1)).toMatchObject({ attempt: 4, ok: false, exhausted: 'discarded' });
      expect(emu.deadLetters().filter((d) => d.event.id === event.id)).toEqual([]);
      expect(after.discarded - before.discarded).toBe(1);
      expect(after.retries - before.retries).toBe(3);
    });

    it('does not hold back the next event while one is being retried', async () => {
      emu.setEventDelivery({ retryTimeScale: 0.02 }); // 200-400 ms between tries
      const order: string[] = [];
      listen((e) => {
        const key = e.data.requestParameters['Tag.1.Key'];
        order.push(key);
        if (key === 'first') throw new Error('not yet');
      });

      await tag('first');
      await tag('second');
      await emu.waitForEvents(1);

      expect(order.slice(0, 2)).toEqual(['first', 'second']);
      await emu.flushEvents();
      expect(order.filter((k) => k === 'first')).toHaveLength(4);
    });

    it('retries a sink that answers 500, and each target on its own', async () => {
      let posts = 0;
      const sink = http.createServer((req, res) => {
        req.resume();
        req.on('end', () => res.writeHead(++posts === 1 ? 500 : 200).end());
      });
      await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
      emu.setEventDelivery({ sink: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/` });
      let listened = 0;
      listen(() => void listened++);

      await tag();
      const [event] = await emu.waitForEvents(1);
      sink.closeAllConnections();
      await new Promise((r) => sink.close(r));

      expect(posts).toBe(2);
      expect(listened).toBe(1);
      expect(attemptsOf(event.id).map((a) => `${a.target} ${a.attempt} ${a.ok}`)).toEqual([
        expect.stringMatching(/^listener#\d+ 1 true$/),
        'sink 1 false',
        'sink 2 true',
      ]);
    });
  });

  describe('EXPONENTIAL_DECAY_RETRY', () => {
    it('waits 1, 2, 4 ... (scaled) seconds between tries', async () => {
      emu.setEventDelivery({ retryStrategy: 'EXPONENTIAL_DECAY_RETRY', retryTimeScale: 0.01 });
      let calls = 0;
      listen(() => {
        if (++calls <= 4) throw new Error('failing');
      });

      await tag();
      const [event] = await emu.waitForEvents(1, 10_000);
      const g = gaps(attemptsOf(event.id).map((a) => a.at));

      expect(g).toHaveLength(4);
      [10, 20, 40, 80].forEach((ms, i) => expect(g[i]).toBeGreaterThanOrEqual(ms - 2));
      expect(g[3]).toBeLessThan(400);
    });

    it('dead-letters the event after all 176 retries when a dead-letter queue is configured', async () => {
      emu.setEventDelivery({ retryStrategy: 'EXPONENTIAL_DECAY_RETRY', retryTimeScale: 0.00001, deadLetter: true });
      listen(() => {
        throw new Error('permanently broken');
      });

      await tag();
      const [event] = await emu.waitForEvents(1, 20_000);

      expect(attemptsOf(event.id)).toHaveLength(177);
      expect(emu.deadLetters().filter((d) => d.event.id === event.id)).toEqual([
        expect.objectContaining({
          attempts: 177,
          error: 'permanently broken',
          target: expect.stringMatching(/^listener#/),
        }),
      ]);
      expect(attemptsOf(event.id).at(-1)?.exhausted).toBe('dead-lettered');
    });
  });

  describe('dead-letter URL', () => {
    it('posts an exhausted event to the dead-letter URL', async () => {
      const got: any[] = [];
      const dlq = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          got.push(JSON.parse(Buffer.concat(chunks).toString()));
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((r) => dlq.listen(0, '127.0.0.1', () => r()));
      emu.setEventDelivery({ deadLetter: `http://127.0.0.1:${(dlq.address() as AddressInfo).port}/dlq` });
      listen(() => Promise.reject(new Error('nope')));

      await tag();
      const [event] = await emu.waitForEvents(1);
      dlq.closeAllConnections();
      await new Promise((r) => dlq.close(r));

      expect(got.map((e) => e.id)).toEqual([event.id]);
    });
  });

  describe('loss and delay', () => {
    it('loses a seeded share of events, the same ones for the same seed, and says which', async () => {
      const run = async () => {
        emu.setEventDelivery({ lose: 0.5, seed: 7 });
        const lostBefore = emu.lostEvents().length;
        const got: string[] = [];
        const off = emu.onEvent((e) => void got.push(e.data.requestParameters['Tag.1.Value']));
        for (let i = 0; i < 12; i++) await tag('n', String(i));
        await emu.flushEvents();
        off();
        const lost = emu
          .lostEvents()
          .slice(lostBefore)
          .map((e) => e.data.requestParameters['Tag.1.Value']);
        return { got, lost };
      };

      const first = await run();
      const second = await run();

      expect(first).toEqual(second);
      expect(first.lost.length).toBeGreaterThan(0);
      expect(first.got.length).toBeGreaterThan(0);
      expect([...first.got, ...first.lost].sort((a, b) => Number(a) - Number(b))).toEqual(
        [...Array(12).keys()].map(String),
      );
    });

    it('delays each delivery, and flushEvents waits for the delayed ones', async () => {
      emu.setEventDelivery({ delayMs: 150 });
      const at: number[] = [];
      listen(() => void at.push(Date.now()));

      const t0 = Date.now();
      await tag();
      await new Promise((r) => setTimeout(r, 50));
      const early = at.length;
      await emu.flushEvents();

      expect(early).toBe(0);
      expect(at).toHaveLength(1);
      expect(at[0] - t0).toBeGreaterThanOrEqual(145);
    });

    it('lets a random delay reorder events', async () => {
      emu.setEventDelivery({ delayMs: [0, 200], seed: 3 });
      const got: string[] = [];
      listen((e) => void got.push(e.data.requestParameters['Tag.1.Value']));

      for (let i = 0; i < 6; i++) await tag('n', String(i));
      await emu.flushEvents();

      expect([...got].sort()).toEqual(['0', '1', '2', '3', '4', '5']);
      expect(got).not.toEqual(['0', '1', '2', '3', '4', '5']);
    });
  });

  describe('admin API', () => {
    it('sets the strategy and scale, and serves stats, dead letters and attempts', async () => {
      const put = await fetch(`${emu.endpoint}/_emulator/events`, {
        method: 'PUT',
        body: JSON.stringify({ retryStrategy: 'EXPONENTIAL_DECAY_RETRY', retryTimeScale: 0.001, deadLetter: true }),
      });
      listen(() => {
        throw new Error('x');
      });
      emu.setEventDelivery({ retryTimeScale: 0.000001 });
      await tag();
      const [event] = await emu.waitForEvents(1, 20_000);

      const state = (await (await fetch(`${emu.endpoint}/_emulator/events`)).json()) as any;
      const attempts = (await (await fetch(`${emu.endpoint}/_emulator/events/attempts`)).json()) as any;

      expect(((await put.json()) as any).delivery).toMatchObject({
        retryStrategy: 'EXPONENTIAL_DECAY_RETRY',
        deadLetter: true,
      });
      expect(state.stats).toMatchObject({ published: expect.any(Number), deadLettered: expect.any(Number) });
      expect(state.deadLetters.map((d: any) => d.event.id)).toContain(event.id);
      expect(attempts.attempts.filter((a: any) => a.eventId === event.id)).toHaveLength(177);
    });

    it('refuses an unknown strategy or a bad rate with 400', async () => {
      const bad = await fetch(`${emu.endpoint}/_emulator/events`, {
        method: 'PUT',
        body: JSON.stringify({ retryStrategy: 'FOREVER' }),
      });
      const rate = await fetch(`${emu.endpoint}/_emulator/events`, {
        method: 'PUT',
        body: JSON.stringify({ lose: 2 }),
      });

      expect([bad.status, rate.status]).toEqual([400, 400]);
      expect(emu.setEventDelivery({}).retryStrategy).toBe('BACKOFF_RETRY');
    });
  });
});
