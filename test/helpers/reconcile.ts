// What the reconcile end-to-end suites share: a world whose reconcile runs keep their checkpoint in a file of
// their own, running the timer function, snapshots made in bulk, and hand edits the owner makes with its root keys.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO, type EmulatorState, type Snapshot } from '../../scripts/emulator';
import type { ReconcileSummary } from '../../shared/usecases/reconcile';
import { startWorld, type World, type WorldOptions } from './world';
import { afterReadLag } from './e2e';

const checkpoints = new WeakMap<World, string>();

/** A world for reconcile tests: its checkpoint file lives in a fresh temporary folder (never shared between worlds). */
export async function reconcileWorld(opts: WorldOptions = {}): Promise<World> {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-reconcile-')), 'checkpoint.json');
  const w = await startWorld({ ...opts, env: { SHARE_CHECKPOINT_FILE: file, ...opts.env } });
  checkpoints.set(w, file);
  return w;
}

export const checkpointFile = (w: World): string => checkpoints.get(w)!;

/** Invoke the reconcile function by hand, the way `s invoke -e '{"action":"reconcile",...}'` does. */
export async function reconcile(w: World, cmd: Record<string, unknown> = {}): Promise<ReconcileSummary> {
  // process.env is per test file; pin this world's checkpoint in case another world of the file started later.
  process.env.SHARE_CHECKPOINT_FILE = checkpointFile(w);
  return w.invoke('reconcile', { action: 'reconcile', ...cmd });
}

/** Reconcile and insist it finished cleanly (a setup step, not an assertion under test). */
export async function reconcileOk(w: World, cmd: Record<string, unknown> = {}): Promise<ReconcileSummary> {
  const s = await reconcile(w, cmd);
  if (!s.ok || !s.complete || s.errors.length)
    throw new Error(`setup reconcile failed: ${JSON.stringify(s).slice(0, 2000)}`);
  await afterReadLag(w); // a setup step: what follows reads what it wrote
  return s;
}

/** The per-resource outcome of a summary, or undefined when the resource was only counted (unchanged). */
export const resultFor = (s: ReconcileSummary, id: string) => s.results.find((r) => r.resourceId === id);

/** Calls of the product (the function role), not the test's own root-key calls. */
export const productCalls = (w: World) => w.emu.calls().filter((c) => c.caller?.type === 'role');

/** Snapshot ids s-rec<n> zero-padded to the real length. */
export const bulkSnapshotId = (n: number) => `s-rec${String(n).padStart(15, '0')}`;

/** Add `count` CMK snapshots already carrying `tags` to a state (bulk listings without a tag call each). */
export function withTaggedSnapshots(state: EmulatorState, count: number, tags: Record<string, string>): EmulatorState {
  const snapshots: Snapshot[] = Array.from({ length: count }, (_, i) => ({
    snapshotId: bulkSnapshotId(i + 1),
    accountId: DEMO.owner.uid,
    region: DEMO.region,
    encrypted: true,
    kmsKeyId: DEMO.cmkId,
    status: 'accomplished',
    size: 40,
    name: `bulk-${i + 1}`,
    creationTime: '2026-11-01T00:00:00Z',
    tags: { ...tags },
  }));
  state.snapshots!.push(...snapshots);
  return state;
}

// ---------- hand edits by the owner (root keys), the drift reconcile must repair or leave alone ----------
// Each returns once the edit is visible to every read: reads lag behind writes (the emulator's readLagMs), and a
// person's hand edit is not followed by a reconcile within milliseconds.

export async function setTrustPolicy(w: World, roleName: string, doc: unknown): Promise<void> {
  await w.owner.ram.updateRole(
    new $Ram.UpdateRoleRequest({ roleName, newAssumeRolePolicyDocument: JSON.stringify(doc) }),
  );
  await afterReadLag(w);
}

export async function detachPolicy(w: World, roleName: string, policyName: string): Promise<void> {
  await w.owner.ram.detachPolicyFromRole(
    new $Ram.DetachPolicyFromRoleRequest({ roleName, policyName, policyType: 'Custom' }),
  );
  await afterReadLag(w);
}

export async function attachNewPolicy(w: World, roleName: string, policyName: string, doc: unknown): Promise<void> {
  await w.owner.ram.createPolicy(new $Ram.CreatePolicyRequest({ policyName, policyDocument: JSON.stringify(doc) }));
  await w.owner.ram.attachPolicyToRole(
    new $Ram.AttachPolicyToRoleRequest({ roleName, policyName, policyType: 'Custom' }),
  );
  await afterReadLag(w);
}

export async function modifyImageShare(
  w: World,
  imageId: string,
  change: { add?: string[]; remove?: string[] },
): Promise<void> {
  await w.owner.ecs.modifyImageSharePermission(
    new $Ecs.ModifyImageSharePermissionRequest({
      regionId: DEMO.region,
      imageId,
      addAccount: change.add,
      removeAccount: change.remove,
    }),
  );
  await afterReadLag(w);
}

export async function disassociateTarget(w: World, shareId: string, target: string): Promise<void> {
  await w.owner.rs('DisassociateResourceShare', { RegionId: DEMO.region, ResourceShareId: shareId, Targets: [target] });
  await afterReadLag(w);
}

export async function deleteImage(w: World, imageId: string): Promise<void> {
  await w.owner.ecs.deleteImage(new $Ecs.DeleteImageRequest({ regionId: DEMO.region, imageId }));
  await afterReadLag(w);
}
