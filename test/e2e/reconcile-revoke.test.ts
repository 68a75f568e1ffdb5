// Revocation by the timer run: a removed tag, a changed tag, a deleted resource, and the role trim after on-tag's
// immediate revocation. Every other resource keeps its shares and the role keeps what they still need.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import {
  SNAPSHOT_ROLE,
  IMAGE_ROLE,
  outcomeFor,
  outcomes,
  policyDocument,
  tag,
  toolShare,
  trustPolicy,
  trustServices,
  untag,
  use,
  shareWrites,
} from '../helpers/e2e';
import { deleteImage, reconcile, reconcileOk, reconcileWorld, resultFor } from '../helpers/reconcile';

const member = DEMO.rdRecipient.uid;
const other = E2E.rootMember; // a second RD member, in the root folder
const ecsOf = (uid: string) => `${uid}@ecs.aliyuncs.com`;

describe('reconcile after a tag is removed from one of two resources shared with the same recipient', () => {
  let w: World;
  const [gone, kept] = E2E.spareSnapshots;
  let s: Awaited<ReturnType<typeof reconcile>>;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, gone, member);
    await tag(w, kept, member);
    await reconcileOk(w);
    await untag(w, gone);
    w.emu.clearCalls();
    s = await reconcile(w);
  });
  afterAll(() => w.stop());

  it('reports only the untagged snapshot revoked', () => {
    expect(s).toMatchObject({ ok: true, complete: true, counts: { revoked: 1, unchanged: 1 } });
    expect(resultFor(s, gone)).toMatchObject({
      outcome: 'revoked',
      actions: [expect.objectContaining({ kind: 'deleteResourceShare' })],
    });
    expect(resultFor(s, kept)).toBeUndefined();
  });

  it('takes the untagged snapshot away from the recipient', async () => {
    expect(await toolShare(w, gone)).toBeUndefined();
    expect(await use(w, member, gone)).toMatchObject({ ok: false });
  });

  it('leaves the other snapshot shared and its trust principal and key in place, because it still needs them', async () => {
    expect((await toolShare(w, kept))?.targets).toEqual([
      expect.objectContaining({ id: member, status: 'Associated' }),
    ]);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(member));
    expect(JSON.stringify(await policyDocument(w, 'ecs-share-snapshot-kms'))).toContain(DEMO.cmkId);
    expect(s.roleActions).toEqual([]);
    expect(shareWrites(w).map((c) => c.action)).toEqual(['DeleteResourceShare']);
    expect(await use(w, member, kept)).toMatchObject({ ok: true });
  });
});

describe('reconcile after a tag is changed from one recipient to another', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  let s: Awaited<ReturnType<typeof reconcile>>;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
    await reconcileOk(w);
    await tag(w, snap, other);
    s = await reconcile(w);
  });
  afterAll(() => w.stop());

  it('moves the share: the old recipient loses access and the new one gains it', async () => {
    expect(resultFor(s, snap)).toMatchObject({ outcome: 'shared', targets: [`account ${other}`] });
    const live = (await toolShare(w, snap))?.targets.filter((t) => t.status !== 'Disassociated');
    expect(live).toEqual([expect.objectContaining({ id: other, status: 'Associated' })]);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
    expect(await use(w, other, snap)).toMatchObject({ ok: true });
  });

  it('adds the new trust principal and trims the old one from the role', async () => {
    expect(s.roleActions).toEqual([
      expect.objectContaining({
        kind: 'mergeTrust',
        roleName: SNAPSHOT_ROLE,
        remove: [{ kind: 'account', uid: member }],
      }),
    ]);
    const services = trustServices(await trustPolicy(w, SNAPSHOT_ROLE));
    expect(services).toContain(ecsOf(other));
    expect(services).not.toContain(ecsOf(member));
  });
});

describe('reconcile after a shared image is deleted', () => {
  let w: World;
  const image = DEMO.images.cmk;
  let shareId: string;
  let s: Awaited<ReturnType<typeof reconcile>>;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, image, DEMO.resourceDirectoryId);
    await reconcileOk(w);
    shareId = (await toolShare(w, image))!.id;
    await deleteImage(w, image);
    w.emu.clearCalls();
    s = await reconcile(w);
  });
  afterAll(() => w.stop());

  it('deletes the resource share ecs-share made for it', async () => {
    expect(resultFor(s, image)).toMatchObject({
      outcome: 'revoked',
      actions: [{ kind: 'deleteResourceShare', shareId }],
    });
    expect(w.emu.writes({ action: 'DeleteResourceShare' }).map((c) => c.params.ResourceShareId)).toEqual([shareId]);
    const list = await w.owner.rs('ListResourceShares', {
      RegionId: DEMO.region,
      ResourceOwner: 'Self',
      ResourceShareIds: [shareId],
      MaxResults: 100,
    });
    expect((list.ResourceShares ?? []).filter((x: any) => x.ResourceShareStatus === 'Active')).toEqual([]);
  });

  it('trims the RD grant from the image role, as nothing else needs it', async () => {
    expect(s.roleActions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'mergeTrust',
          roleName: IMAGE_ROLE,
          remove: [{ kind: 'rd', rdId: DEMO.resourceDirectoryId }],
        }),
      ]),
    );
    expect(JSON.stringify(await trustPolicy(w, IMAGE_ROLE))).not.toContain(DEMO.resourceDirectoryId);
  });
});

describe('untagging through on-tag, then reconcile', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
    const shared = outcomes(await w.deliverEvents());
    if (outcomeFor(shared, snap).outcome !== 'shared') throw new Error(`setup failed: ${JSON.stringify(shared)}`);
  });
  afterAll(() => w.stop());

  it('revokes the resource share at once on the UntagResources event', async () => {
    await untag(w, snap);
    const revoked = outcomes(await w.deliverEvents());

    expect(outcomeFor(revoked, snap).outcome).toBe('revoked');
    expect(await toolShare(w, snap)).toBeUndefined();
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
  });

  it('trims the role on the next reconcile: the principal and the key go, as nothing needs them', async () => {
    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(s.roleActions.map((a) => a.kind)).toEqual(['mergeTrust', 'writeKmsPolicies']);
    expect(s.roleActions[0]).toMatchObject({ roleName: SNAPSHOT_ROLE, remove: [{ kind: 'account', uid: member }] });
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toEqual([ecsOf(DEMO.owner.uid)]);
    expect(JSON.stringify(await trustPolicy(w, SNAPSHOT_ROLE))).not.toContain(member);
  });
});

describe('reconcile after the tag is removed from the only snapshot under a second key', () => {
  let w: World;
  const kept = E2E.spareSnapshots[0]; // key 1
  const gone = E2E.cmk2Snapshot; // key 2
  let s: Awaited<ReturnType<typeof reconcile>>;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, kept, member);
    await tag(w, gone, member);
    await reconcileOk(w);
    await untag(w, gone);
    s = await reconcile(w);
  });
  afterAll(() => w.stop());

  it('takes the unused key out of the KMS policy and keeps the key and the principal still in use', async () => {
    expect(s.roleActions).toEqual([
      expect.objectContaining({
        kind: 'writeKmsPolicies',
        roleName: SNAPSHOT_ROLE,
        add: [],
        remove: [expect.objectContaining({ keyId: E2E.cmk2Id })],
      }),
    ]);
    const doc = JSON.stringify(await policyDocument(w, 'ecs-share-snapshot-kms'));
    expect(doc).toContain(DEMO.cmkId);
    expect(doc).not.toContain(E2E.cmk2Id);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(ecsOf(member));
    expect(await use(w, member, kept)).toMatchObject({ ok: true });
    expect(await use(w, member, gone)).toMatchObject({ ok: false });
  });
});
