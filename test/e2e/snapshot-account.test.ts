// Snapshot -> account: the on-tag function, driven by the events the owner's TagResources emits, makes a CMK
// snapshot usable by the accounts its tag names, and by nobody else; a replay changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import {
  SNAPSHOT_ROLE,
  acceptInvitations,
  attachedPolicies,
  eventsFor,
  outcomeFor,
  outcomes,
  phase,
  policyDocument,
  productWrites,
  tagAndDeliver,
  toolShare,
  trustServices,
  trustPolicy,
  use,
} from '../helpers/e2e';

const external = DEMO.externalRecipient.uid;
const member = DEMO.rdRecipient.uid;

describe('sharing a CMK snapshot with an account outside the resource directory', () => {
  let w: World;
  const snap = DEMO.snapshots.cmk;
  let first: ReturnType<typeof outcomeFor>;
  let beforeAcceptance: Awaited<ReturnType<typeof use>>;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    first = outcomeFor(await tagAndDeliver(w, snap, external), snap);
    beforeAcceptance = await use(w, external, snap);
  });
  afterAll(() => w.stop());

  // The emulator keeps an external account's association Associating until the account accepts the invitation
  // (the real cloud's behaviour is unconfirmed), and the product reports that target as pending.
  it('reports the snapshot pending for the account until it accepts the invitation', () => {
    expect(first.outcome).toBe('pending');
    expect(first.targets).toEqual([`account ${external}`]);
    expect(first.pending).toEqual([external]);
  });

  it('creates the snapshot share role trusting only the recipient through ECS', async () => {
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toEqual([`${external}@ecs.aliyuncs.com`]);
  });

  it('grants the role the snapshot key in an attached custom policy of ecs-share', async () => {
    const attached = (await attachedPolicies(w, SNAPSHOT_ROLE)).filter((p) =>
      /^Custom\/ecs-share-snapshot-kms(-\d+)?$/.test(p),
    );
    expect(attached).toHaveLength(1);
    const doc = await policyDocument(w, attached[0].replace('Custom/', ''));
    const resources = doc.Statement.flatMap((s: any) => [s.Resource].flat());
    expect(resources).toContain(`acs:kms:${DEMO.region}:${DEMO.owner.uid}:key/${DEMO.cmkId}`);
    expect(resources).toContain(`acs:kms:${DEMO.region}:${DEMO.owner.uid}:key`);
    expect(JSON.stringify(doc).length).toBeLessThanOrEqual(6144);
  });

  it('names the first KMS policy of the role ecs-share-snapshot-kms', async () => {
    expect(await attachedPolicies(w, SNAPSHOT_ROLE)).toContain('Custom/ecs-share-snapshot-kms');
  });

  it('creates a resource share named after the snapshot that allows the external target', async () => {
    const share = await toolShare(w, snap);
    expect(share).toBeDefined();
    expect(share!.allowExternalTargets).toBe(true);
    expect(share!.targets).toEqual([{ id: external, status: 'Associating', external: true }]);
  });

  it('does not let the recipient create a disk before it accepts the invitation', () => {
    expect(beforeAcceptance).toMatchObject({ ok: false });
  });

  it('lets the recipient create an ESSD disk from the snapshot once it accepts the invitation with its own keys', async () => {
    expect(await acceptInvitations(w.client(external))).toBe(1);
    expect(await use(w, external, snap)).toMatchObject({ ok: true });
    expect((await toolShare(w, snap))!.targets).toEqual([{ id: external, status: 'Associated', external: true }]);
  });

  it('does not let an account that is not tagged create a disk from the snapshot', async () => {
    expect(await use(w, E2E.rootMember, snap)).toMatchObject({ ok: false, code: 'InvalidSnapshotId.NotFound' });
  });

  it('makes zero write calls when the same tag event is delivered again', async () => {
    const [event] = eventsFor(w, snap);
    phase(w);
    const result = await w.invoke('on-tag', event);
    expect(outcomeFor(outcomes([result]), snap).outcome).toBe('unchanged');
    // The invitation was accepted since the first delivery: the status tag moves from pending to shared, once.
    expect(w.emu.writes().map((c) => [c.action, c.params['Tag.1.Key']])).toEqual([
      ['TagResources', 'ecs-share:status'],
    ]);
    expect(w.emu.calls().length).toBeGreaterThan(0); // it did re-read the resource
    phase(w);
    await w.invoke('on-tag', event);
    expect(w.emu.writes()).toEqual([]);
  });

  it('handles the same event twice in one batch as once, with zero writes', async () => {
    const [event] = eventsFor(w, snap);
    phase(w);
    const result = await w.invoke('on-tag', [event, event]);
    expect(result.results).toHaveLength(1);
    expect(result.results[0].outcome).toBe('unchanged');
    expect(w.emu.writes()).toEqual([]);
  });
});

describe('sharing a CMK snapshot with a member of the resource directory', () => {
  let w: World;
  const snap = E2E.spareSnapshots[0];

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());

  it('lets the member create a disk without accepting anything, and only the member', async () => {
    const result = outcomeFor(await tagAndDeliver(w, snap, member), snap);
    expect(result.outcome).toBe('shared');
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
    expect(await use(w, E2E.rootMember, snap)).toMatchObject({ ok: false });
  });

  it('shares a second snapshot with the same member without writing the role again', async () => {
    const other = E2E.spareSnapshots[1];
    phase(w);
    const result = outcomeFor(await tagAndDeliver(w, other, member), other);
    expect(result.outcome).toBe('shared');
    const writes = productWrites(w).map((c) => c.action);
    expect(writes).not.toContain('UpdateRole');
    expect(writes).not.toContain('CreatePolicyVersion');
    expect(await use(w, member, other)).toMatchObject({ ok: true });
  });
});
