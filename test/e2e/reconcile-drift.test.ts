// Drift repair: what the owner undid by hand (a trust principal, the KMS policy, a share) the timer run puts back,
// and the recipient can use the resource again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import {
  IMAGE_ROLE,
  SNAPSHOT_ROLE,
  attachedPolicies,
  imageShareAccounts,
  tag,
  toolShare,
  trustPolicy,
  trustServices,
  use,
} from '../helpers/e2e';
import {
  detachPolicy,
  disassociateTarget,
  modifyImageShare,
  reconcile,
  reconcileOk,
  reconcileWorld,
  resultFor,
  setTrustPolicy,
} from '../helpers/reconcile';

const member = DEMO.rdRecipient.uid;
const ownerOnly = {
  Version: '1',
  Statement: [
    { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: [`${DEMO.owner.uid}@ecs.aliyuncs.com`] } },
  ],
};
const kinds = (actions: Array<{ kind: string }> = []) => actions.map((a) => a.kind);

describe('reconcile repairs a trust principal deleted by hand', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
    await reconcileOk(w);
  });
  afterAll(() => w.stop());

  it('puts the principal back so the recipient can create a disk again', async () => {
    await setTrustPolicy(w, SNAPSHOT_ROLE, ownerOnly);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });

    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(kinds(resultFor(s, snap)?.actions)).toEqual(['mergeTrust']);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toContain(`${member}@ecs.aliyuncs.com`);
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });
});

describe('reconcile repairs a KMS policy detached by hand', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
    await reconcileOk(w);
  });
  afterAll(() => w.stop());

  it('re-attaches the policy so the recipient can create a disk again', async () => {
    await detachPolicy(w, SNAPSHOT_ROLE, 'ecs-share-snapshot-kms');
    expect(await attachedPolicies(w, SNAPSHOT_ROLE)).not.toContain('Custom/ecs-share-snapshot-kms');
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
    w.emu.clearCalls();

    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: true, complete: true });
    expect(w.emu.writes({ action: 'AttachPolicyToRole' }).map((c) => c.params.PolicyName)).toEqual([
      'ecs-share-snapshot-kms',
    ]);
    expect(await attachedPolicies(w, SNAPSHOT_ROLE)).toContain('Custom/ecs-share-snapshot-kms');
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });
});

describe('reconcile restores shares removed by hand', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  const image = DEMO.images.cmk;
  const account = recipientUid(1);
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, snap, member);
    await tag(w, image, account);
    await reconcileOk(w);
  });
  afterAll(() => w.stop());

  it('re-associates a recipient disassociated from the resource share', async () => {
    const share = (await toolShare(w, snap))!;
    await disassociateTarget(w, share.id, member);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });

    const s = await reconcile(w);

    expect(kinds(resultFor(s, snap)?.actions)).toEqual(['associateTargets']);
    expect((await toolShare(w, snap))?.targets).toEqual([
      expect.objectContaining({ id: member, status: 'Associated' }),
    ]);
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
  });

  it('shares the image again with an account removed through ModifyImageSharePermission', async () => {
    await modifyImageShare(w, image, { remove: [account] });
    expect(await use(w, account, image)).toMatchObject({ ok: false });

    const s = await reconcile(w);

    expect(kinds(resultFor(s, image)?.actions)).toEqual(['shareImageAccounts']);
    expect(await imageShareAccounts(w, image)).toEqual([account]);
    expect(trustServices(await trustPolicy(w, IMAGE_ROLE))).toContain(`${account}@ecs.aliyuncs.com`);
    expect(await use(w, account, image)).toMatchObject({ ok: true });
  });
});
