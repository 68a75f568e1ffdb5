// The KMS policy grows with the keys in use: a new version per change, never more than 5 versions (the oldest
// non-default one goes first), and a second policy once one document would pass 6,144 characters.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO, demoState, type EmulatorState } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { reconcileWorld, reconcileOk } from '../helpers/reconcile';
import { attachedPolicies, tagAndDeliver, use, SNAPSHOT_ROLE } from '../helpers/e2e';

/** `count` snapshots, each encrypted with its own CMK, optionally tagged. */
function keyedSnapshots(count: number, tags: Record<string, string> = {}): EmulatorState {
  const state = demoState();
  for (let i = 1; i <= count; i++) {
    const keyId = `key-growth${String(i).padStart(13, '0')}`;
    state.keys!.push({ keyId, accountId: DEMO.owner.uid, region: DEMO.region, state: 'Enabled' });
    state.snapshots!.push({
      snapshotId: `s-growth${String(i).padStart(12, '0')}`,
      accountId: DEMO.owner.uid,
      region: DEMO.region,
      encrypted: true,
      kmsKeyId: keyId,
      status: 'accomplished',
      tags: { ...tags },
    });
  }
  return state;
}
const snapshotId = (i: number) => `s-growth${String(i).padStart(12, '0')}`;

async function versions(w: World, policyName: string) {
  const r = await w.owner.ram.listPolicyVersions(
    new $Ram.ListPolicyVersionsRequest({ policyName, policyType: 'Custom' }),
  );
  return r.body!.policyVersions!.policyVersion!;
}

describe('seven snapshots with seven keys, shared one after the other', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ state: keyedSnapshots(7) });
    for (let i = 1; i <= 7; i++) await tagAndDeliver(w, snapshotId(i), DEMO.rdRecipient.uid);
  });
  afterAll(() => w.stop());

  it('keeps at most 5 versions of the KMS policy, the default one granting all seven keys', async () => {
    const list = await versions(w, 'ecs-share-snapshot-kms');
    expect(list.length).toBeLessThanOrEqual(5);
    const current = JSON.parse(list.find((v) => v.isDefaultVersion)!.policyDocument!);
    const arns = current.Statement.flatMap((s: { Resource: string | string[] }) => [s.Resource].flat()).filter(
      (r: string) => r.includes(':key/'),
    );
    expect(arns).toHaveLength(7);
  });

  it('lets the recipient use the first snapshot and the last', async () => {
    expect(await use(w, DEMO.rdRecipient.uid, snapshotId(1))).toMatchObject({ ok: true });
    expect(await use(w, DEMO.rdRecipient.uid, snapshotId(7))).toMatchObject({ ok: true });
  });
});

describe('120 snapshots with 120 keys, reconciled at once', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: keyedSnapshots(120, { 'share-with': DEMO.rdRecipient.uid }) });
    await reconcileOk(w);
  }, 120_000);
  afterAll(() => w.stop());

  it('splits the grant over two attached policies, each within 6,144 characters', async () => {
    expect((await attachedPolicies(w, SNAPSHOT_ROLE)).sort()).toEqual([
      'Custom/ecs-share-snapshot-kms',
      'Custom/ecs-share-snapshot-kms-2',
    ]);
    for (const name of ['ecs-share-snapshot-kms', 'ecs-share-snapshot-kms-2']) {
      const [v] = (await versions(w, name)).filter((x) => x.isDefaultVersion);
      expect(JSON.stringify(JSON.parse(v.policyDocument!)).length).toBeLessThanOrEqual(6144);
    }
  });

  it('lets the recipient use snapshots whose keys sit in either policy', async () => {
    expect(await use(w, DEMO.rdRecipient.uid, snapshotId(1))).toMatchObject({ ok: true });
    expect(await use(w, DEMO.rdRecipient.uid, snapshotId(120))).toMatchObject({ ok: true });
  });
});
