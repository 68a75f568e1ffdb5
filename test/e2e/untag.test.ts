// Removing the share-with tag takes back, at once, exactly what ecs-share granted for that resource.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import {
  imageShareAccounts,
  outcomeFor,
  outcomes,
  resourceTags,
  tag,
  toolShare,
  untag,
  use,
  type Outcome,
} from '../helpers/e2e';

const member = DEMO.rdRecipient.uid;
const account = recipientUid(1);

describe('untagging a shared resource', () => {
  let w: World;
  const snap = DEMO.snapshots.cmk;
  const kept = E2E.spareSnapshots[0];
  const image = DEMO.images.cmk;
  let revoked: Outcome[];

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    await tag(w, snap, member);
    await tag(w, kept, member);
    await tag(w, image, `${account} ${DEMO.resourceDirectoryId}`);
    const shared = outcomes(await w.deliverEvents());
    if (![snap, kept, image].every((id) => outcomeFor(shared, id).outcome === 'shared'))
      throw new Error(`setup failed: ${JSON.stringify(shared)}`);
    await w.deliverEvents(); // the image's ledger-tag event
    await untag(w, snap);
    await untag(w, image);
    revoked = outcomes(await w.deliverEvents());
  });
  afterAll(() => w.stop());

  it('reports both untagged resources revoked', () => {
    expect(outcomeFor(revoked, snap).outcome).toBe('revoked');
    expect(outcomeFor(revoked, image).outcome).toBe('revoked');
    expect(
      outcomeFor(revoked, image)
        .actions.map((a) => a.kind)
        .sort(),
    ).toEqual(['deleteResourceShare', 'unshareImageAccounts', 'writeGrantLedger']);
  });

  it('deletes the resource share of the snapshot, so the member can no longer create a disk from it', async () => {
    expect(await toolShare(w, snap)).toBeUndefined();
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
  });

  it('removes the account it added to the image and the image resource share, so nobody can copy it', async () => {
    expect(await imageShareAccounts(w, image)).toEqual([]);
    expect(await toolShare(w, image)).toBeUndefined();
    expect(await use(w, account, image)).toMatchObject({ ok: false });
    expect(await use(w, member, image)).toMatchObject({ ok: false });
  });

  it('clears its ledger tag on the image', async () => {
    expect(Object.keys(await resourceTags(w, image)).filter((k) => k.startsWith('ecs-share:'))).toEqual([]);
  });

  it('leaves another snapshot shared', async () => {
    expect((await toolShare(w, kept))?.targets).toEqual([
      expect.objectContaining({ id: member, status: 'Associated' }),
    ]);
    expect(await use(w, member, kept)).toMatchObject({ ok: true });
  });
});
