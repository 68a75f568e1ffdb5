// Organisation mode's fan-out on the in-memory fake: the coordinator dispatches one worker per (account, region) in
// scope and nothing for a dry run; a worker cut short continues itself with its checkpoint until the pass is complete,
// and a replayed hop writes nothing; malformed worker payloads and checkpoints are refused before any call.
import { describe, expect, it } from 'vitest';
import { fanOut, parseFanOutCommand, accountsInScope } from '../../shared/org/fan-out';
import { MAX_HOPS, parseWorkerPayload, runWorker, type WorkerPayload } from '../../shared/org/worker';
import { parseCheckpoint } from '../../shared/checkpoint';
import type { OrgConfig } from '../../shared/org/scope';
import { PayloadTooLargeError, type InvokerPort } from '../../shared/cloud/fc';
import { FakeCloud, OWNER_UID, REGION, fakeContext } from '../helpers/fake-cloud';
import { InvalidInputError } from '../../shared/errors';

const M1 = '1000000000000002';
const M2 = '1000000000000003';
const M3 = '1000000000000004';
const RECIPIENT = '1000000000000009';
const W = 'ecs-share-reconcile-worker';
const org = (accounts: OrgConfig['accounts']): OrgConfig => ({ accounts, memberRole: 'ecs-share-member', worker: W });

class RecordingInvoker implements InvokerPort {
  readonly sent: Array<{ region: string; functionName: string; payload: WorkerPayload }> = [];
  failFor = new Set<string>();
  async invokeAsync(region: string, functionName: string, payload: object) {
    const p = structuredClone(payload) as WorkerPayload;
    if (this.failFor.has(p.accountId)) throw Object.assign(new Error('throttled'), { code: 'Throttling' });
    this.sent.push({ region, functionName, payload: p });
    return { requestId: `req-${this.sent.length}` };
  }
}

const directory = [
  { accountId: OWNER_UID, folderId: 'fd-root000001', path: `rd-x/r-x/${OWNER_UID}` },
  { accountId: M1, folderId: 'fd-prod000001', path: `rd-x/r-x/fd-prod000001/${M1}` },
  { accountId: M2, folderId: 'fd-dev0000001', path: `rd-x/r-x/fd-dev0000001/${M2}` },
  { accountId: M3, folderId: 'fd-sub0000001', path: `rd-x/r-x/fd-prod000001/fd-sub0000001/${M3}` },
];

describe('the coordinator', () => {
  it('puts the central account first and admits members by list, folder (at any depth) or all', async () => {
    const ctx = fakeContext(new FakeCloud());
    let listed = 0;
    const list = async () => (listed++, directory);
    expect(await accountsInScope(ctx, org('all'), list)).toEqual([OWNER_UID, M1, M2, M3]);
    expect(await accountsInScope(ctx, org({ uids: [], folders: ['fd-prod000001'] }), list)).toEqual([
      OWNER_UID,
      M1,
      M3,
    ]);
    const before = listed;
    expect(await accountsInScope(ctx, org({ uids: [M2], folders: [] }), list)).toEqual([OWNER_UID, M2]);
    expect(listed, 'a list of uids needs no directory listing').toBe(before);
  });

  it('dispatches one worker per (account, region), each naming its pass, and says what it dispatched', async () => {
    const ctx = fakeContext(new FakeCloud());
    const invoker = new RecordingInvoker();
    const cmd = parseFanOutCommand({ action: 'reconcile', regions: ['cn-hangzhou', 'cn-shanghai'] }, [REGION]);
    const s = await fanOut(ctx, org('all'), cmd, {
      list: async () => directory,
      invoker,
      worker: W,
      workerRegion: REGION,
      passId: 'pass-1',
    });
    expect(s).toMatchObject({ ok: true, mode: 'organisation', accounts: 4, passId: 'pass-1', errors: [] });
    expect(s.dispatched).toHaveLength(8);
    expect(new Set(invoker.sent.map((x) => `${x.payload.accountId}/${x.payload.region}`)).size).toBe(8);
    for (const x of invoker.sent) {
      expect(x).toMatchObject({ region: REGION, functionName: W });
      expect(x.payload).toMatchObject({ action: 'reconcile-worker', passId: 'pass-1', hop: 0 });
      expect(parseWorkerPayload(x.payload as never)).toEqual(x.payload); // what it sends, the worker takes
    }
  });

  it('plans and dispatches nothing in a dry run', async () => {
    const invoker = new RecordingInvoker();
    const s = await fanOut(
      fakeContext(new FakeCloud()),
      org({ uids: [M1], folders: [] }),
      {
        regions: [REGION],
        dryRun: true,
      },
      { list: async () => directory, invoker, worker: W, workerRegion: REGION },
    );
    expect(s.planned).toEqual([
      { accountId: OWNER_UID, region: REGION },
      { accountId: M1, region: REGION },
    ]);
    expect(invoker.sent).toEqual([]);
  });

  it('reports a worker it could not dispatch and still dispatches the others', async () => {
    const invoker = new RecordingInvoker();
    invoker.failFor.add(M1);
    const s = await fanOut(
      fakeContext(new FakeCloud()),
      org('all'),
      { regions: [REGION], dryRun: false },
      {
        list: async () => directory,
        invoker,
        worker: W,
        workerRegion: REGION,
      },
    );
    expect(s.ok).toBe(false);
    expect(s.errors).toEqual([{ accountId: M1, region: REGION, code: 'Throttling', message: 'throttled' }]);
    expect(s.dispatched.map((d) => d.accountId).sort()).toEqual([OWNER_UID, M2, M3].sort());
  });

  it('refuses an account outside the scope by hand, and a directory that cannot be listed, dispatching nothing', async () => {
    const invoker = new RecordingInvoker();
    const deps = { list: async () => directory, invoker, worker: W, workerRegion: REGION };
    await expect(
      fanOut(
        fakeContext(new FakeCloud()),
        org({ uids: [M1], folders: [] }),
        {
          regions: [REGION],
          dryRun: false,
          accounts: [M2],
        },
        deps,
      ),
    ).rejects.toThrow(/1000000000000003 are not in SHARE_ACCOUNTS's scope; nothing was dispatched/);
    const s = await fanOut(
      fakeContext(new FakeCloud()),
      org('all'),
      { regions: [REGION], dryRun: false },
      {
        ...deps,
        list: async () => {
          throw Object.assign(new Error('not the manager'), { code: 'NoPermission.ResourceDirectory.MemberAccount' });
        },
      },
    );
    expect(s.ok).toBe(false);
    expect(s.errors[0].message).toMatch(/could not be listed .*management account or a delegated administrator/);
    expect(invoker.sent).toEqual([]);
  });

  it.each([
    [{ action: 'reconcile', regions: 'cn-hangzhou' }, /regions must be a non-empty list/],
    [{ action: 'reconcile', accounts: ['123'] }, /accounts must be a non-empty list of 16-digit/],
    [{ action: 'reconcile', maxResources: 3 }, /Unknown field\(s\) maxResources/],
  ])('refuses a malformed command %j', (cmd, message) => {
    expect(() => parseFanOutCommand(cmd as never, [REGION])).toThrow(message);
  });
});

/** Three snapshots tagged for RECIPIENT, none shared yet. */
function world(): FakeCloud {
  const fake = new FakeCloud();
  fake.addKey({ keyId: 'key-hz000001' });
  for (const n of [1, 2, 3])
    fake.addSnapshot({ id: `s-snap0000000${n}`, kmsKeyId: 'key-hz000001', tags: { 'share-with': RECIPIENT } });
  return fake;
}

const payload = (extra: Partial<WorkerPayload> = {}): WorkerPayload => ({
  action: 'reconcile-worker',
  accountId: OWNER_UID,
  region: REGION,
  passId: 'pass-1',
  hop: 0,
  ...extra,
});

describe('a worker', () => {
  it('cut short continues itself with its checkpoint until the pass is complete; a replayed hop writes nothing', async () => {
    const fake = world();
    const invoker = new RecordingInvoker();
    const deps = { invoker, self: W, selfRegion: REGION, remainingMs: () => 600_000 };
    let p = payload({ maxResources: 1 });
    const hops: Array<{ hop: number; complete: boolean }> = [];
    for (let i = 0; i < 10; i++) {
      const s = await runWorker(fakeContext(fake), undefined, p, deps);
      hops.push({ hop: s.hop, complete: s.complete });
      if (s.complete) break;
      expect(s.continued).toEqual({ hop: p.hop + 1, requestId: `req-${invoker.sent.length}` });
      const next = invoker.sent.at(-1)!.payload;
      expect(JSON.stringify(next).length).toBeLessThan(128 * 1024);
      p = parseWorkerPayload(next as never); // through the same strict parser the function uses
    }
    expect(hops.at(-1)!.complete).toBe(true);
    expect(hops.length).toBeGreaterThanOrEqual(3);
    expect([...fake.snapshots.values()].every((s) => s.tags['share-with'] === RECIPIENT)).toBe(true);
    // Every snapshot is shared with RECIPIENT now.
    const shared = [...fake.shares.values()].flatMap((sh) => Object.keys(sh.resources));
    expect(new Set(shared).size).toBe(3);
    // The last hop delivered again (FC's at-least-once delivery): nothing to write.
    const writes = fake.writes().length;
    const again = await runWorker(fakeContext(fake), undefined, p, deps);
    expect(again.complete).toBe(true);
    expect(fake.writes().length).toBe(writes);
  });

  it('resumes a continuation queued with a version-2 checkpoint where it says, and finishes the pass', async () => {
    const fake = world();
    const deps = { invoker: new RecordingInvoker(), self: W, selfRegion: REGION, remainingMs: () => 600_000 };
    // Queued by the previous version mid-way through the snapshot listing's first page: the first snapshot is done.
    const p = parseWorkerPayload({ ...payload(), checkpoint: cpV2({ pageDone: ['s-snap00000001'], processed: 1 }) });

    const s = await runWorker(fakeContext(fake), undefined, p, deps);

    expect(s).toMatchObject({ complete: true, resumed: true });
    expect(s.results.map((r) => r.resourceId).sort()).toEqual(['s-snap00000002', 's-snap00000003']);
  });

  it('refuses another account in single-account mode and an account outside SHARE_ACCOUNTS, with no call', async () => {
    const fake = world();
    const deps = { invoker: new RecordingInvoker(), self: W, selfRegion: REGION, remainingMs: () => 600_000 };
    const a = await runWorker(fakeContext(fake), undefined, payload({ accountId: M1 }), deps);
    expect(a).toMatchObject({ ok: false, error: { code: 'AccountNotInScope' }, accountId: M1 });
    const b = await runWorker(fakeContext(fake), org({ uids: [M2], folders: [] }), payload({ accountId: M1 }), deps);
    expect(b).toMatchObject({ ok: false, error: { code: 'AccountNotInScope' } });
    expect(b.error!.message).toMatch(/not listed in SHARE_ACCOUNTS/);
    expect(fake.calls).toEqual([]);
  });

  it('stops a chain at the hop limit and a checkpoint too large to carry, saying so', async () => {
    const fake = world();
    const invoker = new RecordingInvoker();
    const deps = { invoker, self: W, selfRegion: REGION, remainingMs: () => 600_000 };
    const last = await runWorker(fakeContext(fake), undefined, payload({ maxResources: 1, hop: MAX_HOPS }), deps);
    expect(last).toMatchObject({ ok: false, complete: false, error: { code: 'ContinuationLimit' } });
    expect(invoker.sent).toEqual([]);
    const tooBig: InvokerPort = {
      invokeAsync: async () => {
        throw new PayloadTooLargeError('the payload is 200000 bytes');
      },
    };
    const big = await runWorker(fakeContext(fake), undefined, payload({ maxResources: 1 }), {
      ...deps,
      invoker: tooBig,
    });
    expect(big).toMatchObject({ ok: false, error: { code: 'PayloadTooLarge' } });
    expect(big.error!.message).toMatch(/next timer run starts the pass afresh/);
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['another action', { ...payload(), action: 'reconcile' }, /action must be "reconcile-worker"/],
    ['a short uid', { ...payload(), accountId: '123' }, /accountId must be a 16-digit/],
    ['a bad region', { ...payload(), region: 'hangzhou' }, /region must be a region id/],
    ['a hop past the limit', { ...payload(), hop: MAX_HOPS + 1 }, /hop must be an integer/],
    ['an unknown field', { ...payload(), regions: [REGION] }, /Unknown field\(s\) regions/],
    [
      'a checkpoint of another region',
      { ...payload(), checkpoint: cp({ regions: ['cn-beijing'] }) },
      /its regions must be \["cn-hangzhou"\]/,
    ],
    [
      'a checkpoint with a forged grant',
      {
        ...payload(),
        checkpoint: cp({
          needs: { snapshot: { grants: [{ kind: 'account', uid: '*' }], keys: [] }, image: { grants: [], keys: [] } },
        }),
      },
      /a grant is malformed/,
    ],
    ['a checkpoint of another version', { ...payload(), checkpoint: cp({ version: 1 }) }, /version must be 2 or 3/],
    [
      'a checkpoint whose image listing has a forged id done',
      { ...payload(), checkpoint: cp({ listings: { snapshots: {}, images: { pageDone: ['m-1', '../x'] } } }) },
      /listings\.images\.pageDone must be a list of resource ids/,
    ],
  ])('refuses a payload with %s', (_, raw, message) => {
    expect(() => parseWorkerPayload(raw)).toThrow(InvalidInputError);
    expect(() => parseWorkerPayload(raw)).toThrow(message);
  });
});

/** One start for every checkpoint of the file: two built a millisecond apart still compare equal. */
const STARTED_AT = new Date().toISOString();

function cp(over: Record<string, unknown> = {}) {
  return {
    version: 3,
    startedAt: STARTED_AT,
    regions: [REGION],
    regionIndex: 0,
    phase: 'listings',
    listings: { snapshots: {}, images: {} },
    needs: { snapshot: { grants: [], keys: [] }, image: { grants: [], keys: [] } },
    processed: 0,
    ...over,
  };
}

/** A version-2 checkpoint (one cursor, the listings in turn), as a deployed timer or a continuation in flight has it. */
function cpV2(over: Record<string, unknown> = {}) {
  const { listings: _, ...rest } = cp({ version: 2, phase: 'snapshots' });
  return { ...rest, ...over };
}

describe('parseCheckpoint', () => {
  it('keeps a well-formed checkpoint as it is', () => {
    const c = cp({
      listings: { snapshots: { pageToken: 'tok', pageDone: ['s-1'] }, images: { done: true } },
      needs: {
        snapshot: {
          grants: [{ kind: 'account', uid: RECIPIENT }],
          keys: [{ region: REGION, accountId: OWNER_UID, keyId: 'key-1' }],
        },
        image: { grants: [{ kind: 'folder', pattern: 'rd-x/r-x/fd-prod000001/*' }], keys: [] },
      },
    });
    expect(parseCheckpoint(structuredClone(c))).toEqual(c);
  });

  it.each<[string, Record<string, unknown>, Record<string, unknown>]>([
    [
      'in the snapshot listing: its cursor, the images from their first page',
      { phase: 'snapshots', pageToken: 'tok', pageDone: ['s-1'] },
      { phase: 'listings', listings: { snapshots: { pageToken: 'tok', pageDone: ['s-1'] }, images: {} } },
    ],
    [
      'in the image listing: the snapshots done, its cursor',
      { phase: 'images', pageToken: 'tok' },
      { phase: 'listings', listings: { snapshots: { done: true }, images: { pageToken: 'tok' } } },
    ],
    [
      'past the listings: both done',
      { phase: 'revoke' },
      { phase: 'revoke', listings: { snapshots: { done: true }, images: { done: true } } },
    ],
  ])('reads a version-2 checkpoint %s', (_, v2, v3) => {
    expect(parseCheckpoint(cpV2(v2))).toEqual(cp(v3));
  });

  it.each<[string, Record<string, unknown>, RegExp]>([
    ['a version-3 phase in version 2', cpV2({ phase: 'listings' }), /phase must be one of snapshots, images/],
    ['a version-2 cursor past the listings', cpV2({ phase: 'continued', pageToken: 'tok' }), /belong to a listing/],
    ['a version-2 phase in version 3', cp({ phase: 'images' }), /phase must be one of listings, continued/],
    ['a version-2 cursor in version 3', cp({ pageToken: 'tok' }), /belong to a listing \(version 2\)/],
    ['no listings', cp({ listings: undefined }), /listings must be an object/],
    ['a third listing', cp({ listings: { snapshots: {}, images: {}, disks: {} } }), /unknown field\(s\) disks/],
    ['a cursor that is not an object', cp({ listings: { snapshots: 'tok', images: {} } }), /snapshots must be an/],
    ['an unknown cursor field', cp({ listings: { snapshots: { at: 1 }, images: {} } }), /unknown field\(s\) at/],
    ['done that is not true', cp({ listings: { snapshots: { done: 'yes' }, images: {} } }), /done must be true/],
    [
      'a done listing with a page',
      cp({ listings: { snapshots: { done: true, pageToken: 'tok' }, images: {} } }),
      /snapshots is done: it has no page/,
    ],
    [
      'a page token that is not a string',
      cp({ listings: { snapshots: {}, images: { pageToken: 7 } } }),
      /listings\.images\.pageToken must be a string/,
    ],
  ])('refuses %s', (_, raw, message) => {
    expect(() => parseCheckpoint(raw)).toThrow(message);
  });
});
