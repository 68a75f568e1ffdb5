// Re-read everything the decision depends on from the API: the event is only a trigger, never the truth.
import { readImageGrants } from '../domain/image-grants';
import { policyIndexFromName, policyNameFor, type KeyRef } from '../domain/kms-policy';
import type { SnapshotInfo } from '../cloud/ecs';
import type { ResourceType } from '../domain/ids';
import type { ResourceShareInfo } from '../cloud/sharing';
import { describeKeyCached, type EngineContext } from './context';
import { ROLE_NAMES, shareNameFor, type Encryption, type ResourceObservation, type ResourceRef, type RoleObservation, type ToolShareState } from './model';

/** Encryption of a set of snapshots: none, customer master keys, or (any of them) the ECS service key. */
async function encryptionOf(ctx: EngineContext, region: string, snapshots: SnapshotInfo[]): Promise<{ encryption: Encryption; disabledKeys: ResourceObservation['disabledKeys'] }> {
  const keyIds = [...new Set(snapshots.filter((s) => s.encrypted).map((s) => s.kmsKeyId ?? ''))];
  if (keyIds.length === 0) return { encryption: { kind: 'none' }, disabledKeys: [] };
  const serviceKeyId = await ctx.ports.kms.serviceKeyId(region);
  const keys: KeyRef[] = [];
  const disabledKeys: ResourceObservation['disabledKeys'] = [];
  let serviceKey = false;
  for (const keyId of keyIds) {
    // An encrypted snapshot without a key id can only be the service key's (the default when no key is given).
    if (!keyId || keyId === serviceKeyId) {
      serviceKey = true;
      if (serviceKeyId) keys.push({ region, accountId: ctx.ownerUid, keyId: serviceKeyId });
      continue;
    }
    const info = await describeKeyCached(ctx, region, keyId);
    if (!info) {
      disabledKeys.push({ keyId, state: 'NotFound' });
      keys.push({ region, accountId: ctx.ownerUid, keyId });
      continue;
    }
    if (info.state !== 'Enabled') disabledKeys.push({ keyId, state: info.state });
    keys.push({ region: info.region || region, accountId: info.accountId || ctx.ownerUid, keyId: info.keyId || keyId });
  }
  return { encryption: serviceKey ? { kind: 'service-key', keys } : { kind: 'cmk', keys }, disabledKeys };
}

/** The live resource shares with exactly this name, lowest id first (names are not unique: twins may exist). */
export async function sharesByName(ctx: EngineContext, region: string, name: string): Promise<ResourceShareInfo[]> {
  const out: ResourceShareInfo[] = [];
  for await (const page of ctx.ports.sharing.sharesNamed(region, name, name)) out.push(...page.filter((s) => s.name === name));
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** ecs-share's resource shares of a resource: the first is kept, the others are twins (names are not unique). */
async function observeToolShares(ctx: EngineContext, ref: ResourceRef): Promise<{ toolShare?: ToolShareState; twinShares?: string[] }> {
  const [first, ...twins] = await sharesByName(ctx, ref.region, shareNameFor(ref.id));
  if (!first) return {};
  const targets: ToolShareState['targets'] = {};
  for (const a of await ctx.ports.sharing.associations(ref.region, first.id, 'Target')) targets[a.entityId] = { status: a.status, message: a.message, external: a.external };
  return { toolShare: { id: first.id, allowExternalTargets: first.allowExternalTargets, targets }, ...(twins.length ? { twinShares: twins.map((s) => s.id) } : {}) };
}

export async function observeToolShare(ctx: EngineContext, ref: ResourceRef): Promise<ToolShareState | undefined> {
  return (await observeToolShares(ctx, ref)).toolShare;
}

/** What a listing already read: the resource (absent when it no longer exists) and ecs-share's resource share. */
export interface KnownResource {
  exists: boolean;
  tags: Record<string, string>;
  snapshots: SnapshotInfo[];
  /** Snapshot ids the image's disk mappings name (images only). */
  snapshotIds?: string[];
  status?: string;
  toolShare: ToolShareState | undefined;
  twinShares?: string[];
}

/** A snapshot `progressing`, an image `Creating` (or whose snapshots are not visible yet) cannot be shared yet. */
function readiness(ref: ResourceRef, status: string | undefined, snapshotIds: string[], snapshots: SnapshotInfo[]): string | undefined {
  if (ref.type === 'snapshot') return status && status !== 'accomplished' && status !== 'failed' ? `snapshot status ${status}` : undefined;
  if (status === 'Creating' || status === 'Waiting') return `image status ${status}`;
  const seen = new Set(snapshots.map((s) => s.id));
  const missing = snapshotIds.filter((id) => !seen.has(id));
  if (missing.length) return `its snapshot(s) ${missing.join(', ')} are not visible yet`;
  const busy = snapshots.find((s) => s.status && s.status !== 'accomplished');
  return busy ? `its snapshot ${busy.id} is ${busy.status}` : undefined;
}

/** Observe a resource, given its already-read description when a listing produced it (reconcile). */
export async function observeResource(ctx: EngineContext, ref: ResourceRef, known?: KnownResource): Promise<ResourceObservation> {
  let tags: Record<string, string>;
  let snapshots: SnapshotInfo[];
  let snapshotIds: string[];
  let status: string | undefined;
  const gone = (shares: { toolShare?: ToolShareState; twinShares?: string[] } = {}): ResourceObservation => ({ ref, exists: false, tags: {}, encryption: { kind: 'none' }, disabledKeys: [], ...shares });
  if (known) {
    if (!known.exists) return gone({ toolShare: known.toolShare, twinShares: known.twinShares });
    ({ tags, snapshots, status } = known);
    snapshotIds = known.snapshotIds ?? snapshots.map((s) => s.id);
  } else if (ref.type === 'snapshot') {
    const [s] = await ctx.ports.ecs.getSnapshots(ref.region, [ref.id]);
    if (!s) return gone(await observeToolShares(ctx, ref));
    ({ tags, status } = s);
    snapshots = [s];
    snapshotIds = [s.id];
  } else {
    const image = await ctx.ports.ecs.getImage(ref.region, ref.id);
    if (!image) return gone(await observeToolShares(ctx, ref));
    ({ tags, status, snapshotIds } = image);
    snapshots = snapshotIds.length ? await ctx.ports.ecs.getSnapshots(ref.region, snapshotIds) : [];
  }
  const { encryption, disabledKeys } = await encryptionOf(ctx, ref.region, snapshots);
  const notReady = readiness(ref, status, ref.type === 'image' ? snapshotIds : [], snapshots);
  const obs: ResourceObservation = { ref, exists: true, tags, encryption, disabledKeys, ...(notReady ? { notReady } : {}) };
  if (ref.type === 'image') {
    obs.imageAccounts = await ctx.ports.ecs.imageShareAccounts(ref.region, ref.id);
    obs.imageGrants = readImageGrants(tags, ctx.cfg.ledgerKey);
    obs.observedAtS = Math.floor(ctx.now() / 1000);
  }
  if (known) Object.assign(obs, { toolShare: known.toolShare }, known.twinShares ? { twinShares: known.twinShares } : {});
  else Object.assign(obs, await observeToolShares(ctx, ref));
  return obs;
}

/** The share role of a resource type, its trust policy, attached policies and ecs-share's KMS policies. */
export async function observeRole(ctx: EngineContext, type: ResourceType): Promise<RoleObservation> {
  const roleName = ROLE_NAMES[type];
  const role = await ctx.ports.ram.getRole(roleName);
  if (!role) return { roleName, exists: false, attached: [], kmsPolicies: {} };
  const attached = await ctx.ports.ram.listPoliciesForRole(roleName);
  const kmsPolicies = await readKmsPolicies(ctx, type, attached);
  return { roleName, exists: true, trustPolicy: role.trustPolicy, description: role.description, attached, kmsPolicies };
}

/**
 * ecs-share's KMS policy parts of a role type by name. They are numbered (the index is in the name) and written low
 * to high, deleted high to low, so they have no gaps; still, any part attached to the role is read too, so a part
 * left beyond a gap by some failure is found and can be deleted, never left granting a key nobody asked for.
 */
export async function readKmsPolicies(ctx: EngineContext, type: ResourceType, attached?: RoleObservation['attached']): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const names = new Set<string>();
  for (let i = 0; ; i++) {
    const name = policyNameFor(type, i);
    const doc = await ctx.ports.ram.getPolicyDocument(name);
    if (doc === undefined) break;
    out[name] = doc;
    names.add(name);
  }
  const listed = attached ?? (await ctx.ports.ram.listPoliciesForRole(ROLE_NAMES[type]));
  for (const p of listed) {
    if (p.policyType !== 'Custom' || names.has(p.policyName) || policyIndexFromName(type, p.policyName) === undefined) continue;
    const doc = await ctx.ports.ram.getPolicyDocument(p.policyName);
    if (doc !== undefined) out[p.policyName] = doc;
  }
  return out;
}
