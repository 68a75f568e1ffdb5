// The secure default (docs/security.md): an account outside the owner's resource directory is refused
// (ExternalNotAllowed, the fix in the reason) unless SHARE_ALLOW_EXTERNAL=true or SHARE_ALLOW_ACCOUNTS lists it;
// members, the directory and its folders need no configuration; an owner that may not read its directory treats
// every account as external; and shares made while an account was allowed are reported, never cut off, by the timer.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import {
  acceptInvitations,
  afterReadLag,
  imageShareAccounts,
  outcomeFor,
  phase,
  productWrites,
  tag,
  tagAndDeliver,
  use,
  shareWrites,
} from '../helpers/e2e';
import { reconcile, reconcileWorld, resultFor } from '../helpers/reconcile';

const external = DEMO.externalRecipient.uid;
const member = DEMO.rdRecipient.uid;
const SECURE = { SHARE_ALLOW_EXTERNAL: '' };

/** Sets configuration for the rest of the test (handlers read it on each invocation); undone after each test. */
function configure(env: Record<string, string>): void {
  Object.assign(process.env, env);
}

describe('by default, an account outside the resource directory is refused', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ state: e2eState(), env: SECURE });
  });
  afterAll(() => w.stop());

  it('refuses a snapshot tagged with an external account, says how to allow it, and writes nothing', async () => {
    const snap = E2E.spareSnapshots[0];
    phase(w);
    const o = outcomeFor(await tagAndDeliver(w, snap, external), snap);
    expect(o.outcome).toBe('refused');
    expect(o.error?.code).toBe('ExternalNotAllowed');
    expect(o.reason).toContain(external);
    expect(o.reason).toContain('SHARE_ALLOW_ACCOUNTS');
    expect(o.reason).toContain('SHARE_ALLOW_EXTERNAL=true');
    expect(shareWrites(w)).toEqual([]);
    expect(await use(w, external, snap)).toMatchObject({ ok: false });
  });

  it('refuses the whole tag when one of its accounts is external, so the member is not shared with either', async () => {
    const snap = E2E.spareSnapshots[1];
    phase(w);
    const o = outcomeFor(await tagAndDeliver(w, snap, `${member} ${external}`), snap);
    expect(o.outcome).toBe('refused');
    expect(o.error?.code).toBe('ExternalNotAllowed');
    expect(o.reason).not.toContain(member);
    expect(shareWrites(w)).toEqual([]);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
  });

  it('refuses an image tagged with an external account (ModifyImageSharePermission is never called)', async () => {
    const image = DEMO.images.cmk;
    phase(w);
    const o = outcomeFor(await tagAndDeliver(w, image, external), image);
    expect(o.error?.code).toBe('ExternalNotAllowed');
    expect(shareWrites(w)).toEqual([]);
    expect(await imageShareAccounts(w, image)).toEqual([]);
  });

  it('shares with a member account, the directory and a folder without any configuration', async () => {
    const snap = E2E.spareSnapshots[2];
    const o = outcomeFor(await tagAndDeliver(w, snap, `${member} ${DEMO.resourceDirectoryId}`), snap);
    expect(['shared', 'pending']).toContain(o.outcome);
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
    expect(await use(w, E2E.rootMember, snap)).toMatchObject({ ok: true });
    const image = DEMO.images.cmk; // refused above, so untouched
    const i = outcomeFor(await tagAndDeliver(w, image, `${member} ${E2E.folderPath}`), image);
    expect(i, JSON.stringify(i)).toMatchObject({ outcome: 'shared' });
    expect(await use(w, member, image)).toMatchObject({ ok: true });
  });

  it('asks the directory once per account per invocation', async () => {
    const before = w.emu.calls({ action: 'GetAccount' }).length;
    const snap = E2E.spareSnapshots[3];
    await tagAndDeliver(w, snap, member);
    expect(w.emu.calls({ action: 'GetAccount' }).length - before).toBe(1);
  });
});

describe('each switch allows an external account', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ state: e2eState(), env: SECURE });
  });
  afterAll(() => w.stop());
  afterEach(() => configure({ SHARE_ALLOW_EXTERNAL: '', SHARE_ALLOW_ACCOUNTS: '' }));

  it('SHARE_ALLOW_EXTERNAL=true shares with any account, without asking the directory', async () => {
    configure({ SHARE_ALLOW_EXTERNAL: 'true' });
    const snap = E2E.spareSnapshots[0];
    const before = w.emu.calls({ action: 'GetAccount' }).length;
    const o = outcomeFor(await tagAndDeliver(w, snap, external), snap);
    expect(o.outcome).toBe('pending'); // until the external account accepts the invitation
    expect(w.emu.calls({ action: 'GetAccount' }).length).toBe(before);
    await acceptInvitations(w.client(external));
    expect(await use(w, external, snap)).toMatchObject({ ok: true });
  });

  it('SHARE_ALLOW_ACCOUNTS listing the account shares with it', async () => {
    configure({ SHARE_ALLOW_ACCOUNTS: external });
    const image = DEMO.images.cmk;
    const o = outcomeFor(await tagAndDeliver(w, image, external), image);
    expect(o.outcome).toBe('shared');
    expect(await use(w, external, image)).toMatchObject({ ok: true });
  });

  it('a value other than true or false is a configuration error that changes nothing', async () => {
    configure({ SHARE_ALLOW_EXTERNAL: 'maybe' });
    const snap = E2E.spareSnapshots[1];
    phase(w);
    await tag(w, snap, external);
    const results = await w.deliverEvents();
    expect(results.length).toBeGreaterThan(0);
    for (const r of results) {
      expect(r.ok).toBe(false);
      expect(JSON.stringify(r)).toContain('SHARE_ALLOW_EXTERNAL must be true or false');
    }
    expect(shareWrites(w)).toEqual([]);
  });
});

describe('an owner that may not read its resource directory', () => {
  it('counts every account as external, and says why; a delegated administrator may read it', async () => {
    const state = e2eState();
    // The owner is a member now: the root member manages the directory.
    state.resourceDirectory!.managementAccount = E2E.rootMember;
    const w = await startWorld({ state, env: SECURE });
    try {
      const snap = E2E.spareSnapshots[0];
      phase(w);
      const o = outcomeFor(await tagAndDeliver(w, snap, member), snap);
      expect(o.error?.code).toBe('ExternalNotAllowed');
      expect(o.reason).toContain('NoPermission.ResourceDirectory.MemberAccount');
      expect(o.reason).toContain('management account or a delegated administrator');
      expect(shareWrites(w)).toEqual([]);

      w.emu.state.resourceDirectory!.delegatedAdministrators = [DEMO.owner.uid];
      const again = outcomeFor(await tagAndDeliver(w, E2E.spareSnapshots[1], member), E2E.spareSnapshots[1]);
      expect(again.outcome).toBe('shared');
      expect(await use(w, member, E2E.spareSnapshots[1])).toMatchObject({ ok: true });
    } finally {
      await w.stop();
    }
  });
});

describe('the timer, for a share made while the account was allowed', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];
  const image = DEMO.images.cmk;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState(), env: { SHARE_ALLOW_EXTERNAL: 'true' } });
    await tagAndDeliver(w, snap, external);
    await tagAndDeliver(w, image, external);
    await acceptInvitations(w.client(external));
    await afterReadLag(w);
  });
  afterAll(async () => {
    configure({ SHARE_ALLOW_EXTERNAL: '' });
    await w.stop();
  });

  it('reports it refused with the fix and takes nothing back once the secure default is on again', async () => {
    configure({ SHARE_ALLOW_EXTERNAL: '' });
    phase(w);
    const s = await reconcile(w);
    for (const id of [snap, image]) {
      const r = resultFor(s, id);
      expect(r?.outcome).toBe('refused');
      expect(r?.error?.code).toBe('ExternalNotAllowed');
      expect(r?.reason).toContain('SHARE_ALLOW_EXTERNAL=true');
    }
    expect(shareWrites(w)).toEqual([]);
    expect(await use(w, external, snap)).toMatchObject({ ok: true });
    expect(await use(w, external, image)).toMatchObject({ ok: true });
    // A second pass (the role trim included) still holds the grants the still-asked accounts use, and (its status
    // unchanged) writes nothing at all.
    phase(w);
    await reconcile(w);
    expect(productWrites(w)).toEqual([]);
    expect(await use(w, external, snap)).toMatchObject({ ok: true });
  });
});
