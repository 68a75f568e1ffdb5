// Re-read everything the decision depends on from the API: the event is only a trigger, never the truth.
import { readImageGrants } from '../domain/image-grants';
import { policyIndexFromName, policyNameFor, type KeyRef } from '../domain/kms-policy';
import type { SnapshotInfo } from '../cloud/ecs';
import type { ResourceType } from '../domain/ids';
import type { ResourceShareInfo } from '../cloud/sharing';
import { describeKeyCached, markObserved, readPoint, type EngineContext } from './context';
import {
  ROLE_NAMES,
  shareNameFor,
  type Encryption,
  type ResourceObservation,
  type ResourceRef,
  type RoleObservation,
  type ToolShareState,
} from './model';

/**
 * Encryption of a set of snapshots: none, customer master keys, or (any of them) the ECS service key. `serviceKeyId`
 * is the region's service key id, asked for already (it needs nothing the snapshots say); the keys are asked at once.
 */
async function encryptionOf(
  ctx: EngineContext,
  region: string,
  snapshots: SnapshotInfo[],
  serviceKeyId: Promise<string | undefined>,
): Promise<{ encryption: Encryption; disabledKeys: ResourceObservation['disabledKeys'] }> {
  const keyIds = [...new Set(snapshots.filter((s) => s.encrypted).map((s) => s.kmsKeyId ?? ''))];
  if (keyIds.length === 0) return { encryption: { kind: 'none' }, disabledKeys: [] };
  const serviceKey = await serviceKeyId;
  // An encrypted snapshot without a key id can only be the service key's (the default when no key is given).
  const isServiceKey = (keyId: string) => !keyId || keyId === serviceKey;
  const infos = await Promise.all(
    keyIds.map((keyId) => (isServiceKey(keyId) ? undefined : describeKeyCached(ctx, region, keyId))),
  );
  const keys: KeyRef[] = [];
  const disabledKeys: ResourceObservation['disabledKeys'] = [];
  let usesServiceKey = false;
  for (const [i, keyId] of keyIds.entries()) {
    if (isServiceKey(keyId)) {
      usesServiceKey = true;
      if (serviceKey) keys.push({ region, accountId: ctx.ownerUid, keyId: serviceKey });
      continue;
    }
    const info = infos[i];
    if (!info) {
      disabledKeys.push({ keyId, state: 'NotFound' });
      keys.push({ region, accountId: ctx.ownerUid, keyId });
      continue;
    }
    if (info.state !== 'Enabled') disabledKeys.push({ keyId, state: info.state });
    keys.push({ region: info.region || region, accountId: info.accountId || ctx.ownerUid, keyId: info.keyId || keyId });
  }
  return { encryption: usesServiceKey ? { kind: 'service-key', keys } : { kind: 'cmk', keys }, disabledKeys };
}

/** A read started before it is known to be needed: its failure surfaces only where it is awaited. */
function started<T>(p: Promise<T>): Promise<T> {
  p.catch(() => undefined);
  return p;
}

/** The live resource shares with exactly this name, lowest id first (names are not unique: twins may exist). */
export async function sharesByName(ctx: EngineContext, region: string, name: string): Promise<ResourceShareInfo[]> {
  const out: ResourceShareInfo[] = [];
  for await (const page of ctx.ports.sharing.sharesNamed(region, name, name))
    out.push(...page.filter((s) => s.name === name));
  return out.sort((a, b) => a.id.localeCompare(b.id));
}

/** ecs-share's resource shares of a resource: the first is kept, the others are twins (names are not unique). */
async function observeToolShares(
  ctx: EngineContext,
  ref: ResourceRef,
): Promise<{ toolShare?: ToolShareState; twinShares?: ToolShareState[] }> {
  const [first, ...twins] = await sharesByName(ctx, ref.region, shareNameFor(ref.id));
  if (!first) return {};
  // A twin is rare (two creates at once); its targets are read with the kept share's, so a twin is never deleted
  // with a target on it that the kept share does not carry yet.
  const [kept, ...others] = await Promise.all(
    [first, ...twins].map(async (s): Promise<ToolShareState> => {
      const targets: ToolShareState['targets'] = {};
      for (const a of await ctx.ports.sharing.associations(ref.region, s.id, 'Target'))
        targets[a.entityId] = { status: a.status, message: a.message, external: a.external };
      return { id: s.id, allowExternalTargets: s.allowExternalTargets, targets };
    }),
  );
  return { toolShare: kept, ...(others.length ? { twinShares: others } : {}) };
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
  twinShares?: ToolShareState[];
}

/** The resource's tags as they are now (one read); undefined when it no longer exists. */
export async function readTags(ctx: EngineContext, ref: ResourceRef): Promise<Record<string, string> | undefined> {
  const fresh =
    ref.type === 'snapshot'
      ? (await ctx.ports.ecs.getSnapshots(ref.region, [ref.id]))[0]
      : await ctx.ports.ecs.getImage(ref.region, ref.id);
  return fresh?.tags;
}

/** A snapshot `progressing`, an image `Creating` (or whose snapshots are not visible yet) cannot be shared yet. */
function readiness(
  ref: ResourceRef,
  status: string | undefined,
  snapshotIds: string[],
  snapshots: SnapshotInfo[],
): string | undefined {
  if (ref.type === 'snapshot')
    return status && status !== 'accomplished' && status !== 'failed' ? `snapshot status ${status}` : undefined;
  if (status === 'Creating' || status === 'Waiting') return `image status ${status}`;
  const seen = new Set(snapshots.map((s) => s.id));
  const missing = snapshotIds.filter((id) => !seen.has(id));
  if (missing.length) return `its snapshot(s) ${missing.join(', ')} are not visible yet`;
  const busy = snapshots.find((s) => s.status && s.status !== 'accomplished');
  return busy ? `its snapshot ${busy.id} is ${busy.status}` : undefined;
}

/**
 * Observe a resource, given its already-read description when a listing produced it (reconcile). Every read that
 * needs only the resource's id starts at once (its description, its image share list, ecs-share's resource share,
 * the region's service key); only the image's snapshots and then the keys wait for what names them.
 */
export async function observeResource(
  ctx: EngineContext,
  ref: ResourceRef,
  known?: KnownResource,
): Promise<ResourceObservation> {
  let tags: Record<string, string>;
  let snapshots: SnapshotInfo[];
  let snapshotIds: string[];
  let status: string | undefined;
  const point = readPoint(ctx);
  const gone = (shares: { toolShare?: ToolShareState; twinShares?: ToolShareState[] } = {}): ResourceObservation => ({
    ref,
    exists: false,
    tags: {},
    encryption: { kind: 'none' },
    disabledKeys: [],
    ...shares,
  });
  if (known && !known.exists) return gone({ toolShare: known.toolShare, twinShares: known.twinShares });
  const shares = known ? undefined : started(observeToolShares(ctx, ref));
  // A deleted image answers its share list with an error: that read is only awaited once the image is known to exist.
  const imageAccounts =
    ref.type === 'image' ? started(ctx.ports.ecs.imageShareAccounts(ref.region, ref.id)) : undefined;
  const serviceKeyId = started(ctx.ports.kms.serviceKeyId(ref.region));
  if (known) {
    ({ tags, snapshots, status } = known);
    snapshotIds = known.snapshotIds ?? snapshots.map((s) => s.id);
  } else if (ref.type === 'snapshot') {
    const [s] = await ctx.ports.ecs.getSnapshots(ref.region, [ref.id]);
    if (!s) return gone(await shares);
    ({ tags, status } = s);
    snapshots = [s];
    snapshotIds = [s.id];
  } else {
    const image = await ctx.ports.ecs.getImage(ref.region, ref.id);
    if (!image) return gone(await shares);
    ({ tags, status, snapshotIds } = image);
    snapshots = snapshotIds.length ? await ctx.ports.ecs.getSnapshots(ref.region, snapshotIds) : [];
  }
  const { encryption, disabledKeys } = await encryptionOf(ctx, ref.region, snapshots, serviceKeyId);
  const notReady = readiness(ref, status, ref.type === 'image' ? snapshotIds : [], snapshots);
  const obs: ResourceObservation = {
    ref,
    exists: true,
    tags,
    encryption,
    disabledKeys,
    ...(notReady ? { notReady } : {}),
  };
  if (imageAccounts) {
    obs.imageAccounts = await imageAccounts;
    obs.imageGrants = readImageGrants(tags, ctx.cfg.ledgerKey);
    obs.observedAtS = Math.floor(ctx.now() / 1000);
  }
  if (known)
    Object.assign(obs, { toolShare: known.toolShare }, known.twinShares ? { twinShares: known.twinShares } : {});
  else Object.assign(obs, await shares);
  return markObserved(obs, point);
}

/**
 * The share role of a resource type, its trust policy, attached policies and ecs-share's KMS policies, all asked at
 * once (a part may exist while the role does not: left by a role deleted by hand, it is found and merged into).
 */
export async function observeRole(ctx: EngineContext, type: ResourceType): Promise<RoleObservation> {
  const roleName = ROLE_NAMES[type];
  const point = readPoint(ctx);
  const attachedP = started(ctx.ports.ram.listPoliciesForRole(roleName));
  const kmsP = started(readKmsPolicies(ctx, type, attachedP));
  const role = await ctx.ports.ram.getRole(roleName);
  const [attached, kmsPolicies] = await Promise.all([attachedP, kmsP]);
  if (!role) return markObserved({ roleName, exists: false, attached: [], kmsPolicies }, point);
  return markObserved(
    { roleName, exists: true, trustPolicy: role.trustPolicy, description: role.description, attached, kmsPolicies },
    point,
  );
}

/** KMS policy parts asked at once: parts are few, so two at a time covers nearly every role in one round trip. */
const PARTS_PER_ROUND = 2;

/**
 * ecs-share's KMS policy parts of a role type by name. They are numbered (the index is in the name) and written low
 * to high, deleted high to low, so they have no gaps; still, any part attached to the role is read too, so a part
 * left beyond a gap by some failure is found and can be deleted, never left granting a key nobody asked for.
 */
export async function readKmsPolicies(
  ctx: EngineContext,
  type: ResourceType,
  attached?: Promise<RoleObservation['attached']> | RoleObservation['attached'],
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const names = new Set<string>();
  const listed = started(Promise.resolve(attached ?? ctx.ports.ram.listPoliciesForRole(ROLE_NAMES[type])));
  for (let from = 0; ; from += PARTS_PER_ROUND) {
    const batch = Array.from({ length: PARTS_PER_ROUND }, (_, i) => policyNameFor(type, from + i));
    const docs = await Promise.all(batch.map((name) => ctx.ports.ram.getPolicyDocument(name)));
    for (const [i, doc] of docs.entries()) {
      if (doc === undefined) continue;
      out[batch[i]] = doc;
      names.add(batch[i]);
    }
    if (docs.includes(undefined)) break;
  }
  const beyond = (await listed).filter(
    (p) =>
      p.policyType === 'Custom' && !names.has(p.policyName) && policyIndexFromName(type, p.policyName) !== undefined,
  );
  const docs = await Promise.all(beyond.map((p) => ctx.ports.ram.getPolicyDocument(p.policyName)));
  for (const [i, p] of beyond.entries()) if (docs[i] !== undefined) out[p.policyName] = docs[i]!;
  return out;
}
