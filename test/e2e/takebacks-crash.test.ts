// Regression tests for issue 7, "never leak" and "no stale writes": a function killed (SIGKILL of its child
// process) right after each of its writes, concurrent instances handling a tag and its correction, and a throttled
// write resent late by one instance while another writes. After the redeliveries and the timer, nothing ecs-share
// granted stays for a target that is no longer asked, and everything asked works for the recipient.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO, type CloudEvent } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import {
  IMAGE_ROLE,
  SNAPSHOT_ROLE,
  imageShareAccounts,
  policyDocument,
  tag,
  toolShare,
  trustPolicy,
  trustServices,
  untag,
  use,
} from '../helpers/e2e';
import { reconcile, reconcileWorld } from '../helpers/reconcile';
import { countWrites, runUntilCrash } from '../helpers/crash';

const ecsOf = (uid: string) => `${uid}@ecs.aliyuncs.com`;
const external = DEMO.externalRecipient.uid;
const rootMember = E2E.rootMember;

/** Tag, and return the CloudEvent the tag call emitted (not delivered). */
async function tagEvent(w: World, id: string, value: string): Promise<CloudEvent> {
  const before = w.emu.events().length;
  await tag(w, id, value);
  await w.emu.flushEvents();
  return w.emu
    .events()
    .slice(before)
    .find((e) => JSON.stringify(e).includes(id))!;
}

/** What EventBridge does after a failed or lost invocation: deliver again (on-tag may ask for it by throwing). */
async function redeliver(w: World, event: CloudEvent): Promise<void> {
  await w.invoke('on-tag', event).catch(() => undefined);
}

/** The untag, its event, and the timer: what must leave nothing behind. */
async function takeBack(w: World, id: string): Promise<void> {
  await untag(w, id);
  await w.deliverEvents().catch(() => undefined);
  await reconcile(w);
}

describe.each([
  ['a fresh share of a CMK image to an account', DEMO.images.cmk, external, IMAGE_ROLE],
  ['a fresh share of a CMK snapshot to an RD member', E2E.spareSnapshots[0], rootMember, SNAPSHOT_ROLE],
])('%s, killed right after each of its writes', (_name, resource, recipient, roleName) => {
  let w: World;
  let event: CloudEvent;
  let total: number;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    event = await tagEvent(w, resource, recipient);
    w.emu.clearCalls();
    total = await countWrites(w, 'on-tag', event);
  }, 120_000);
  afterAll(() => w.stop());

  it('writes several times when nothing is there yet', () => {
    expect(total).toBeGreaterThanOrEqual(4);
  });

  it('then shares after a redelivery, and after untag and the timer leaves nothing granted', async () => {
    for (let n = 1; n <= total; n++) {
      const saved = w.emu.getState();
      const run = await runUntilCrash(w, 'on-tag', event, { killAfterWrite: n });
      expect(run.killed, `kill after write ${n}`).toBe(true);

      await redeliver(w, event);
      expect(await use(w, recipient, resource), `usable after the redelivery (crash after write ${n})`).toMatchObject({
        ok: true,
      });

      await takeBack(w, resource);
      const where = `crash after write ${n} (${run.writes[n - 1]?.action})`;
      expect(await use(w, recipient, resource), where).toMatchObject({ ok: false });
      if (resource.startsWith('m-')) expect(await imageShareAccounts(w, resource), where).toEqual([]);
      else expect(await toolShare(w, resource), where).toBeUndefined();
      expect(trustServices(await trustPolicy(w, roleName)), where).not.toContain(ecsOf(recipient));
      w.emu.setState(saved);
    }
  }, 300_000);
});

describe('two instances handling "tag A" and the corrected "tag B" of one image at the same moment', () => {
  let w: World;
  const image = DEMO.images.cmk;
  const [a, b] = [external, rootMember];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());

  it.each([[0], [20], [60]])(
    'with %i ms between them: B alone stays shared, and untagging B takes everything back',
    async (gap) => {
      const evA = await tagEvent(w, image, a);
      const first = w.invoke('on-tag', evA).catch(() => undefined);
      await new Promise((r) => setTimeout(r, gap));
      const evB = await tagEvent(w, image, b);
      const second = w.invoke('on-tag', evB).catch(() => undefined);
      await Promise.all([first, second]);
      await w.deliverEvents().catch(() => undefined);
      await reconcile(w);

      expect(await imageShareAccounts(w, image)).toEqual([b]);
      expect(await use(w, a, image)).toMatchObject({ ok: false });
      expect(await use(w, b, image)).toMatchObject({ ok: true });

      await takeBack(w, image);
      expect(await imageShareAccounts(w, image)).toEqual([]);
      expect(trustServices(await trustPolicy(w, IMAGE_ROLE))).not.toEqual(expect.arrayContaining([ecsOf(a)]));
      expect(trustServices(await trustPolicy(w, IMAGE_ROLE))).not.toEqual(expect.arrayContaining([ecsOf(b)]));
    },
    60_000,
  );
});

describe('a throttled write resent late while another instance writes the same document', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    // The role and its KMS policy exist already: both instances below read-merge-write them.
    await tag(w, E2E.spareSnapshots[3], DEMO.rdRecipient.uid);
    await w.invoke('share', { resourceId: E2E.spareSnapshots[3], region: DEMO.region });
  });
  afterAll(() => w.stop());

  it('UpdateRole: both recipients end in the trust policy and can use their snapshot', async () => {
    await tag(w, E2E.spareSnapshots[0], external);
    await tag(w, E2E.spareSnapshots[1], rootMember);
    w.emu.addFault({ action: 'UpdateRole', kind: 'throttle', nth: 1, retryAfterMs: 1500 });

    const results = await Promise.all([
      w.invoke('share', { resourceId: E2E.spareSnapshots[0], region: DEMO.region }),
      w.invoke('share', { resourceId: E2E.spareSnapshots[1], region: DEMO.region }),
    ]);

    expect(results.map((r) => r.ok)).toEqual([true, true]);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toEqual(
      expect.arrayContaining([ecsOf(external), ecsOf(rootMember)]),
    );
    expect(await use(w, rootMember, E2E.spareSnapshots[1])).toMatchObject({ ok: true });
  }, 60_000);

  it('CreatePolicyVersion: both keys end in the KMS policy', async () => {
    await tag(w, E2E.cmk2Snapshot, rootMember);
    await tag(w, E2E.spareSnapshots[2], rootMember);
    w.emu.state.keys!.push({
      keyId: 'key-demo0cmk00000000003',
      accountId: DEMO.owner.uid,
      region: DEMO.region,
      state: 'Enabled',
    });
    w.emu.state.snapshots!.find((s) => s.snapshotId === E2E.spareSnapshots[2])!.kmsKeyId = 'key-demo0cmk00000000003';
    w.emu.addFault({ action: 'CreatePolicyVersion', kind: 'throttle', nth: 1, retryAfterMs: 1500 });

    const results = await Promise.all([
      w.invoke('share', { resourceId: E2E.cmk2Snapshot, region: DEMO.region }),
      w.invoke('share', { resourceId: E2E.spareSnapshots[2], region: DEMO.region }),
    ]);

    expect(results.map((r) => r.ok)).toEqual([true, true]);
    const doc = JSON.stringify(await policyDocument(w, 'ecs-share-snapshot-kms'));
    expect(doc).toContain(E2E.cmk2Id);
    expect(doc).toContain('key-demo0cmk00000000003');
    expect(await use(w, rootMember, E2E.cmk2Snapshot)).toMatchObject({ ok: true });
    expect(await use(w, rootMember, E2E.spareSnapshots[2])).toMatchObject({ ok: true });
  }, 60_000);
});
