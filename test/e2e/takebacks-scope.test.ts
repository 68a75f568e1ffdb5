// Regression tests for issue 7: the take-backs must never cut off a resource still asked for, whatever the region
// list of a pass, whatever happens between the runs of a resumed pass, and whatever other resource is broken.
// Judged from the recipient's side (can it use the resource?) and the owner's (what the role and policy hold).
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DEMO, type EmulatorState } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { SH, SH_KEY, useInShanghai, withShanghaiSnapshot } from '../helpers/shanghai';
import { e2eState, E2E } from '../helpers/states';
import {
  IMAGE_ROLE,
  SNAPSHOT_ROLE,
  afterReadLag,
  imageShareAccounts,
  policyDocument,
  productWrites,
  tag,
  tagAndDeliver,
  trustPolicy,
  trustServices,
  untag,
  use,
  shareWrites,
} from '../helpers/e2e';
import { checkpointFile, productCalls, reconcile, reconcileOk, reconcileWorld } from '../helpers/reconcile';

const HZ = DEMO.region;
const member = DEMO.rdRecipient.uid; // asked for in Hangzhou
const rootMember = E2E.rootMember; // asked for in Shanghai (an RD member: no invitation to accept)
const ecsOf = (uid: string) => `${uid}@ecs.aliyuncs.com`;

function twoRegions(): EmulatorState {
  const state = withShanghaiSnapshot(e2eState(), { 'share-with': rootMember }, [HZ, SH, 'cn-beijing']);
  state.snapshots!.find((s) => s.snapshotId === DEMO.snapshots.cmk)!.tags = { 'share-with': member };
  return state;
}

/** The Shanghai recipient makes a disk from the Shanghai snapshot, in Shanghai. */
const useShanghai = (w: World) => useInShanghai(w, rootMember);

async function kmsResources(w: World): Promise<string[]> {
  const doc = await policyDocument(w, 'ecs-share-snapshot-kms');
  return doc.Statement.flatMap((s: { Resource: string | string[] }) => [s.Resource].flat());
}

describe('a pass over only some regions', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: twoRegions(), env: { SHARE_REGIONS: `${HZ},${SH}` } });
    await reconcileOk(w);
    expect(await useShanghai(w)).toBe(true);
  });
  afterAll(async () => {
    delete process.env.SHARE_REGIONS;
    await w.stop();
  });

  it.each([
    ['the README example, Hangzhou only', [HZ]],
    ['a real but empty region', ['cn-beijing']],
  ])('%s: takes nothing from the other region, both recipients keep their share', async (_name, regions) => {
    const s = await reconcile(w, { regions });

    expect(s).toMatchObject({ ok: true, complete: true, roleActions: [] });
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toEqual(
      expect.arrayContaining([ecsOf(member), ecsOf(rootMember)]),
    );
    expect(await kmsResources(w)).toEqual(
      expect.arrayContaining([expect.stringContaining(SH_KEY), expect.stringContaining(DEMO.cmkId)]),
    );
    expect(await useShanghai(w)).toBe(true);
    expect(await use(w, member, DEMO.snapshots.cmk)).toMatchObject({ ok: true });
  });

  it('refuses a region the account does not have before anything is called or written', async () => {
    w.emu.clearCalls();

    const s = await w.invoke('reconcile', { action: 'reconcile', regions: ['cn-hangzou'] });

    expect(s).toEqual({ ok: false, error: { code: 'InvalidInput', message: expect.stringContaining('cn-hangzou') } });
    expect(productWrites(w)).toEqual([]);
    expect(productCalls(w).map((c) => c.action)).toEqual(['DescribeRegions']);
    expect(await useShanghai(w)).toBe(true);
  });

  it('one timer per region (as one stack per region would run) never undoes the other region, pass after pass', async () => {
    for (let round = 0; round < 2; round++) {
      for (const region of [HZ, SH]) {
        process.env.SHARE_REGIONS = region;
        const s = await reconcile(w);
        expect(s).toMatchObject({ ok: true, complete: true, roleActions: [] });
      }
    }
    process.env.SHARE_REGIONS = `${HZ},${SH}`;
    expect(await useShanghai(w)).toBe(true);
    expect(await use(w, member, DEMO.snapshots.cmk)).toMatchObject({ ok: true });
  });

  it('still takes back a grant that no region asks for any more, from a pass over either region', async () => {
    await untag(w, DEMO.snapshots.cmk);
    await w.deliverEvents();

    const s = await reconcile(w, { regions: [SH] });

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(ecsOf(member));
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(rootMember));
    expect(await useShanghai(w)).toBe(true);
  });
});

describe('an on-tag share made between two runs of one pass', () => {
  let w: World;
  const fresh = E2E.spareSnapshots[1];
  const gone = E2E.spareSnapshots[2];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    // Something to take back, so the first run stops before the trim with the pass unfinished.
    await tag(w, gone, DEMO.externalRecipient.uid);
    await reconcileOk(w);
    await untag(w, gone);
    await tag(w, E2E.spareSnapshots[0], member);
  });
  afterAll(() => w.stop());

  it('is never cut off when the pass trims', async () => {
    const first = await reconcile(w, { maxResources: 1 });
    expect(first.complete).toBe(false);

    // While the pass is under way, a person tags another snapshot for another account; on-tag shares it.
    const out = await tagAndDeliver(w, fresh, rootMember);
    expect(out.find((o) => o.resourceId === fresh)?.outcome).toBe('shared');

    let s = await reconcile(w);
    for (let i = 0; i < 5 && !s.complete; i++) s = await reconcile(w);
    expect(s).toMatchObject({ ok: true, complete: true, resumed: true });
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(rootMember));
    expect(await use(w, rootMember, fresh)).toMatchObject({ ok: true });
    // and what nobody asks for any more did go
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(ecsOf(DEMO.externalRecipient.uid));
  });
});

describe('a broken resource holds back only what it could need', () => {
  let w: World;
  const broken = E2E.cmk2Snapshot; // its key is disabled below
  const other = E2E.spareSnapshots[0];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, broken, member);
    await tag(w, other, rootMember);
    await reconcileOk(w);
    await untag(w, other);
  });
  afterAll(() => w.stop());

  it.each([['Disabled'], ['PendingDeletion']] as const)(
    'a key %s: the grant it needs stays, the unused one goes, and the summary says why',
    async (state) => {
      w.emu.state.keys!.find((k) => k.keyId === E2E.cmk2Id)!.state = state;

      const s = await reconcile(w);

      expect(s.errors).toEqual([
        expect.objectContaining({ resourceId: broken, outcome: 'refused', code: 'KeyNotEnabled' }),
      ]);
      expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(member));
      expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(ecsOf(rootMember));
      expect(JSON.stringify(await policyDocument(w, 'ecs-share-snapshot-kms'))).toContain(E2E.cmk2Id);
      expect(s.trimHeld).toEqual(
        expect.arrayContaining([
          expect.objectContaining({ grant: `account:${member}`, heldBy: [broken], reason: 'refused KeyNotEnabled' }),
        ]),
      );
      w.emu.state.keys!.find((k) => k.keyId === E2E.cmk2Id)!.state = 'Enabled';
      expect(await use(w, member, broken)).toMatchObject({ ok: true });
    },
  );

  it('a key deleted: the resource is refused, and its grant is held, not the whole role', async () => {
    await tag(w, other, rootMember);
    await reconcileOk(w);
    await untag(w, other);
    w.emu.state.keys = w.emu.state.keys!.filter((k) => k.keyId !== E2E.cmk2Id);

    const s = await reconcile(w);

    expect(s.errors).toEqual([
      expect.objectContaining({ resourceId: broken, outcome: 'refused', code: 'KeyNotEnabled' }),
    ]);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(member));
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(ecsOf(rootMember));
  });
});

describe('a tag naming a well-formed account that does not exist', () => {
  let w: World;
  const image = DEMO.images.cmk;
  const other = 'm-e2esecondcmk000001';
  beforeAll(async () => {
    const state = e2eState();
    const base = state.images!.find((i) => i.imageId === DEMO.images.cmk)!;
    state.images!.push({
      ...base,
      imageId: other,
      name: 'second-cmk-image',
      tags: {},
      sharedWith: [],
      diskMappings: [{ ...base.diskMappings![0], snapshotId: E2E.cmk2Snapshot }],
    });
    w = await reconcileWorld({ state });
    await tag(w, other, rootMember);
    await reconcileOk(w);
    await untag(w, other);
    await tag(w, image, `${member} ${E2E.ghost}`);
  });
  afterAll(() => w.stop());

  it('fails that image, and still takes back from the image role what nobody asks for', async () => {
    const s = await reconcile(w);

    expect(s.errors).toEqual([
      expect.objectContaining({ resourceId: image, outcome: 'failed', code: 'InvalidAccount.NotFound' }),
    ]);
    expect(trustServices(await trustPolicy(w, IMAGE_ROLE))).not.toContain(ecsOf(rootMember));
    expect(await use(w, rootMember, other)).toMatchObject({ ok: false });
  });
});

describe('resources tagged only with continuation keys', () => {
  let w: World;
  const snap = E2E.spareSnapshots[3];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, { 'share-with.2': member }); // its event is never delivered
  });
  afterAll(() => w.stop());

  it('are found by the timer and shared', async () => {
    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(s.results.find((r) => r.resourceId === snap)).toMatchObject({ outcome: 'shared' });
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });

  it('are reported when refused', async () => {
    await tag(w, snap, { 'share-with.3': 'rd-*' });

    const s = await reconcile(w);

    expect(s.errors).toEqual([expect.objectContaining({ resourceId: snap, outcome: 'refused', code: 'Wildcard' })]);
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });
});

describe('a dry run agrees with the real run on a refusal decided at write time before', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState(), env: { SHARE_TRUST_POLICY_MAX_LENGTH: '200' } });
    await tag(w, DEMO.snapshots.cmk, Array.from({ length: 6 }, (_, i) => `100000000000010${i + 1}`).join(' '));
  });
  afterAll(async () => {
    delete process.env.SHARE_TRUST_POLICY_MAX_LENGTH; // the worlds of this file share the process environment
    await w.stop();
  });

  it('says refused TrustPolicyTooLong in the dry run, exactly as the real run then does', async () => {
    const dry = await w.invoke('share', { resourceId: DEMO.snapshots.cmk, region: HZ, dryRun: true });
    const real = await w.invoke('share', { resourceId: DEMO.snapshots.cmk, region: HZ });

    expect(dry.results[0]).toMatchObject({ outcome: 'refused', error: { code: 'TrustPolicyTooLong' } });
    expect(real.results[0]).toMatchObject({ outcome: 'refused', error: { code: 'TrustPolicyTooLong' } });
    expect(shareWrites(w)).toEqual([]);
  });
});

describe('a role trim that keeps failing', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, E2E.spareSnapshots[0], rootMember);
    await reconcileOk(w);
    await untag(w, E2E.spareSnapshots[0]);
  });
  afterAll(() => w.stop());

  it('is an error in the summary, and the next pass finishes it', async () => {
    const fault = w.emu.addFault({ action: 'UpdateRole', kind: 'internal', every: 1 });

    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: false, complete: true });
    expect(s.errors).toEqual([
      expect.objectContaining({
        resourceId: SNAPSHOT_ROLE,
        outcome: 'failed',
        message: expect.stringContaining('role trim'),
      }),
    ]);
    w.emu.removeFault(fault.id);
    const again = await reconcile(w);
    expect(again).toMatchObject({ ok: true, complete: true });
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(ecsOf(rootMember));
  });
});

describe('a lost DeleteResourceShare answer', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tagAndDeliver(w, snap, member);
  });
  afterAll(() => w.stop());

  it('is the share taken back, not a failure', async () => {
    w.emu.addFault({ action: 'DeleteResourceShare', kind: 'dropAfter', nth: 1 });
    await untag(w, snap);

    const out = (await w.deliverEvents()).flatMap((r) => r.results ?? []);

    expect(out.find((o: { resourceId: string }) => o.resourceId === snap)).toMatchObject({ outcome: 'revoked' });
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
  });
});

describe('a resource refused because its key is disabled, retagged meanwhile', () => {
  let w: World;
  const image = DEMO.images.cmk;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tagAndDeliver(w, image, DEMO.externalRecipient.uid);
    w.emu.state.keys!.find((k) => k.keyId === DEMO.cmkId)!.state = 'Disabled';
  });
  afterAll(() => w.stop());

  it('still stops sharing with the account its tag no longer names, so re-enabling the key gives it nothing back', async () => {
    const out = await tagAndDeliver(w, image, rootMember);

    expect(out.find((o) => o.resourceId === image)).toMatchObject({
      outcome: 'refused',
      error: { code: 'KeyNotEnabled' },
      actions: [
        expect.objectContaining({ kind: 'unshareImageAccounts', remove: [DEMO.externalRecipient.uid] }),
        expect.objectContaining({ kind: 'writeGrantLedger' }),
      ],
    });
    w.emu.state.keys!.find((k) => k.keyId === DEMO.cmkId)!.state = 'Enabled';
    await afterReadLag(w);
    expect(await imageShareAccounts(w, image)).toEqual([]);
    expect(await use(w, DEMO.externalRecipient.uid, image)).toMatchObject({ ok: false });
    // and the account now asked for gets it once the key works again
    await reconcile(w);
    expect(await use(w, rootMember, image)).toMatchObject({ ok: true });
  });
});

describe('a checkpoint older than SHARE_CHECKPOINT_MAX_AGE_S', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState(), env: { SHARE_CHECKPOINT_MAX_AGE_S: '3600' } });
    await tag(w, E2E.spareSnapshots[0], member);
  });
  afterAll(async () => {
    delete process.env.SHARE_CHECKPOINT_MAX_AGE_S;
    await w.stop();
  });

  it('is not resumed: the pass starts afresh and shares what the stale cursor would have skipped', async () => {
    const stale = {
      version: 2,
      startedAt: new Date(Date.now() - 2 * 3600_000).toISOString(),
      regions: [HZ],
      regionIndex: 0,
      phase: 'revoke',
      needs: { snapshot: { grants: [], keys: [] }, image: { grants: [], keys: [] } },
      processed: 0,
    };
    fs.writeFileSync(checkpointFile(w), JSON.stringify(stale));

    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: true, complete: true, resumed: false });
    expect(s.results.find((r) => r.resourceId === E2E.spareSnapshots[0])).toMatchObject({ outcome: 'shared' });
  });
});

describe('an incomplete pass whose checkpoint lives on an ephemeral path (/tmp)', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, E2E.spareSnapshots[0], member);
    await tag(w, E2E.spareSnapshots[1], member);
  });
  afterAll(() => w.stop());

  it('says so in a warning log line, since another instance would start over', async () => {
    expect(checkpointFile(w)).toMatch(/^\/tmp\//);
    process.env.SHARE_LOG_LEVEL = 'warn';
    const lines: string[] = [];
    const spy = vi
      .spyOn(process.stdout, 'write')
      .mockImplementation((chunk: string | Uint8Array) => (lines.push(String(chunk)), true));
    try {
      const s = await reconcile(w, { maxResources: 1 });
      expect(s.complete).toBe(false);
    } finally {
      spy.mockRestore();
      process.env.SHARE_LOG_LEVEL = 'off';
    }
    const warnings = lines.map((l) => JSON.parse(l)).filter((l) => l.level === 'warn');
    expect(warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: expect.stringContaining('ephemeral'), checkpointFile: checkpointFile(w) }),
      ]),
    );
  });
});

describe('a move from an account to its folder whose folder association fails (found by the simulation, seed 8)', () => {
  let w: World;
  const snap = E2E.spareSnapshots[2];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
    await reconcileOk(w);
  });
  afterAll(() => w.stop());

  it('keeps the account trust while the resource share still targets the account', async () => {
    await tag(w, snap, E2E.folderPath);
    const fault = w.emu.addFault({ action: 'AssociateResourceShare', kind: 'internal', every: 1 });

    const s = await reconcile(w);

    w.emu.removeFault(fault.id);
    expect(s.results.find((r) => r.resourceId === snap)).toMatchObject({ outcome: 'failed' });
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(member));
    expect(s.trimHeld).toEqual(
      expect.arrayContaining([expect.objectContaining({ grant: `account:${member}`, heldBy: [snap] })]),
    );
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
    // once the folder share works, the account grant goes and the member keeps access through its folder
    await reconcile(w);
    await reconcile(w);
    await afterReadLag(w);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(ecsOf(member));
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });
});
