// ResourceSharing 2020-01-10: resource shares of snapshots and images, their targets (accounts, the RD, folders,
// members), asynchronous associations and the invitations of external accounts.
import { isFolderId, isMember, rdOfAccount } from '../rd';
import { notReady, targetAccounts, targetsReaching, usesServiceKey, type SharedResource } from '../oracle';
import { settleShares } from '../shares';
import { settleResources } from './ecs/readiness';
import { laggedNow, laggedRead, recordingWrites, type Tracked } from '../lag';
import { requireKnownRegion } from '../state';
import { pageByToken } from '../paging';
import {
  ApiError,
  boolParam,
  listParam,
  structListParam,
  type ActionTable,
  type CallContext,
  type FullState,
  type Invitation,
  type ResourceShare,
  type ShareResourceEntry,
  type ShareTargetEntry,
} from '../types';

const MAX_PER_CALL = 5;
const INVITATION_VALIDITY_MS = 7 * 24 * 3600 * 1000;
const RESOURCE_TYPES = ['Snapshot', 'Image'] as const;
type ResourceType = (typeof RESOURCE_TYPES)[number];

const owner = (ctx: CallContext) => ctx.caller.accountId;
const nowMs = (ctx: CallContext) => ctx.emu.now().getTime();

/** Every read first moves entries whose delay has passed (associations are resolved lazily). */
function settle(ctx: CallContext): void {
  settleResources(ctx.state, nowMs(ctx));
  settleShares(ctx.state, nowMs(ctx));
  expireInvitations(ctx.state, nowMs(ctx));
}

function expireInvitations(state: FullState, now: number): void {
  for (const inv of state.invitations) {
    if (inv.status === 'Pending' && inv.createTime && Date.parse(inv.createTime) + INVITATION_VALIDITY_MS <= now) {
      inv.status = 'Expired';
    }
  }
}

// ---------------------------------------------------------------- parameters

interface ResourceRef {
  resourceId: string;
  resourceType: string;
}

function resourcesParam(ctx: CallContext): ResourceRef[] {
  const entries = structListParam(ctx.params, 'Resources');
  if (entries.length > MAX_PER_CALL) {
    throw new ApiError(
      400,
      'InvalidParameter.Resources.Length',
      `At most ${MAX_PER_CALL} resources can be specified in one request.`,
    );
  }
  return entries.map((e) => {
    if (!e.ResourceId || !e.ResourceType) {
      throw new ApiError(
        400,
        'InvalidParameter.Resources',
        'Resources.N.ResourceId and Resources.N.ResourceType must be given in pairs.',
      );
    }
    if (!(RESOURCE_TYPES as readonly string[]).includes(e.ResourceType)) {
      throw new ApiError(
        400,
        'InvalidParameter.ResourceType',
        `The resource type ${e.ResourceType} is not supported; use Snapshot or Image.`,
      );
    }
    return { resourceId: e.ResourceId, resourceType: e.ResourceType };
  });
}

function targetsParam(ctx: CallContext): string[] {
  const targets = listParam(ctx.params, 'Targets');
  if (targets.length > MAX_PER_CALL) {
    throw new ApiError(
      400,
      'InvalidParameter.Targets.Length',
      `At most ${MAX_PER_CALL} targets can be specified in one request.`,
    );
  }
  if (new Set(targets).size !== targets.length) {
    throw new ApiError(400, 'InvalidParameter.Targets.Duplicate', 'The specified targets contain duplicates.');
  }
  return targets;
}

function shareIdsParam(ctx: CallContext): string[] {
  const ids = listParam(ctx.params, 'ResourceShareIds');
  if (ids.length > MAX_PER_CALL) {
    throw new ApiError(
      400,
      'InvalidParameter.ResourceShareIds.Length',
      `At most ${MAX_PER_CALL} resource share ids can be specified.`,
    );
  }
  return ids;
}

function resourceOwnerParam(ctx: CallContext): 'Self' | 'OtherAccounts' {
  const v = ctx.params.ResourceOwner;
  if (v !== 'Self' && v !== 'OtherAccounts') {
    throw new ApiError(400, 'InvalidParameter.ResourceOwner', 'ResourceOwner must be Self or OtherAccounts.');
  }
  return v;
}

// ---------------------------------------------------------------- targets

type TargetKind = 'Account' | 'ResourceDirectory' | 'Folder';

function targetKind(targetId: string): TargetKind {
  if (targetId.startsWith('rd-')) return 'ResourceDirectory';
  if (/^(r|fd)-/.test(targetId)) return 'Folder';
  return 'Account';
}

/** Validates a target for the owner; returns whether it is external (an account outside the owner's RD). */
function classifyTarget(ctx: CallContext, targetId: string, allowExternal: boolean): { external: boolean } {
  const state = ctx.state;
  const ownerRd = rdOfAccount(state, owner(ctx));
  const kind = targetKind(targetId);
  if (kind !== 'Account') {
    if (!ownerRd || ownerRd.sharingEnabled === false) {
      throw new ApiError(
        409,
        'NotEnableSharingWithResourceDirectory',
        'Resource sharing with the resource directory is not enabled for your account.',
      );
    }
    const known = kind === 'ResourceDirectory' ? targetId === ownerRd.id : isFolderId(state, targetId);
    if (!known)
      throw new ApiError(
        400,
        'InvalidTarget',
        `The shared target ${targetId} does not exist in the resource directory.`,
      );
    return { external: false };
  }
  if (!/^\d{16}$/.test(targetId))
    throw new ApiError(400, 'InvalidParameter.Targets', `The target ${targetId} is not valid.`);
  if (targetId === owner(ctx))
    throw new ApiError(409, 'ShareWithYourself', 'You cannot share resources with yourself.');
  const account = state.accounts.find((a) => a.uid === targetId);
  if (!account) throw new ApiError(400, 'InvalidTarget', `The shared target ${targetId} does not exist.`);
  const ownerSite = state.accounts.find((a) => a.uid === owner(ctx))?.site ?? 'china';
  if ((account.site ?? 'china') !== ownerSite) {
    throw new ApiError(
      409,
      'InvalidTarget.SiteMismatch',
      'Resources cannot be shared between the China site and the international site.',
    );
  }
  const internal = !!ownerRd && ownerRd.sharingEnabled !== false && isMember(state, targetId);
  if (!internal && !allowExternal) {
    throw new ApiError(
      409,
      'AccountNotInResourceDirectory',
      `The account ${targetId} is not in your resource directory; set AllowExternalTargets to share with it.`,
    );
  }
  return { external: !internal };
}

// ---------------------------------------------------------------- shares

function shareNotFound(id: string): ApiError {
  return new ApiError(404, 'EntityNotExists.ResourceShare', `The resource share ${id} does not exist.`);
}

function ownShare(ctx: CallContext, id: string): ResourceShare {
  const share = ctx.state.resourceShares.find(
    (s) =>
      s.resourceShareId === id && s.ownerAccountId === owner(ctx) && s.region === ctx.region && s.status !== 'Deleted',
  );
  if (!share) throw shareNotFound(id);
  return share;
}

function checkName(name: string): void {
  if (!/^[A-Za-z0-9._-]{1,50}$/.test(name)) {
    throw new ApiError(
      400,
      'InvalidParameter.ResourceShareName',
      'ResourceShareName must be 1 to 50 letters, digits, periods (.), underscores (_) or hyphens (-).',
    );
  }
}

function shareView(share: ResourceShare): Record<string, unknown> {
  return {
    ResourceShareId: share.resourceShareId,
    ResourceShareName: share.name,
    ResourceShareOwner: share.ownerAccountId,
    ResourceShareStatus: share.status,
    AllowExternalTargets: share.allowExternalTargets,
    CreateTime: share.createTime ?? '',
    UpdateTime: share.updateTime ?? '',
  };
}

// ---------------------------------------------------------------- associations

function pending(ctx: CallContext): { status: 'Associating'; readyAt: number; createTime: string; updateTime: string } {
  const t = ctx.emu.nowIso();
  return {
    status: 'Associating',
    readyAt: nowMs(ctx) + ctx.state.options.associationDelayMs,
    createTime: t,
    updateTime: t,
  };
}

const LIVE = (status: string) => status === 'Associating' || status === 'Associated';

/** Why a resource cannot be shared, as an association failure (the API reports these asynchronously). */
function resourceFailure(
  ctx: CallContext,
  ref: ResourceRef,
): Pick<ShareResourceEntry, 'failureReason' | 'statusMessage'> | undefined {
  const resource = findOwnResource(ctx, ref);
  if (!resource)
    return { failureReason: 'Unavailable', statusMessage: `The resource ${ref.resourceId} does not exist.` };
  if (!ctx.state.options.legacyServiceKeySharing && usesServiceKey(ctx.state, resource)) {
    return {
      failureReason: 'UnsupportedOperation',
      statusMessage: `The ${ref.resourceType.toLowerCase()} ${ref.resourceId} is encrypted with the ECS service key and cannot be shared; copy it with a customer master key (CMK) first.`,
    };
  }
  // A snapshot still progressing or an image still Creating: not shareable yet (reported like a missing resource).
  const pendingReason = notReady(ctx.state, resource);
  if (pendingReason) return { failureReason: 'Unavailable', statusMessage: pendingReason };
  return undefined;
}

function findOwnResource(ctx: CallContext, ref: ResourceRef): SharedResource | undefined {
  const mine = <T extends { accountId: string; region: string }>(x: T) =>
    x.accountId === owner(ctx) && x.region === ctx.region;
  if (ref.resourceType === 'Snapshot') {
    const snapshot = ctx.state.snapshots.find((s) => s.snapshotId === ref.resourceId && mine(s));
    return snapshot && { type: 'Snapshot', snapshot };
  }
  const image = ctx.state.images.find((i) => i.imageId === ref.resourceId && mine(i));
  return image && { type: 'Image', image };
}

/** Accounts a snapshot reaches across all of the owner's live shares (RD and folder targets count their accounts). */
function snapshotAccounts(
  state: FullState,
  share: ResourceShare,
  snapshotId: string,
  extraTargets: string[],
): Set<string> {
  const out = new Set<string>();
  for (const s of state.resourceShares) {
    if (s.ownerAccountId !== share.ownerAccountId || s.status !== 'Active') continue;
    if (!s.resources.some((r) => r.resourceId === snapshotId && r.resourceType === 'Snapshot' && LIVE(r.status)))
      continue;
    s.targets
      .filter((t) => LIVE(t.status))
      .forEach((t) => targetAccounts(state, t.targetId).forEach((a) => out.add(a)));
  }
  extraTargets.forEach((t) => targetAccounts(state, t).forEach((a) => out.add(a)));
  return out;
}

/** Resource entries of the owner's live shares that count toward the account's quotas (each share-resource pair). */
function liveResourceEntries(
  state: FullState,
  ownerUid: string,
): Array<{ share: ResourceShare; entry: ShareResourceEntry }> {
  return state.resourceShares
    .filter((s) => s.ownerAccountId === ownerUid && s.status !== 'Deleted')
    .flatMap((share) => share.resources.filter((r) => LIVE(r.status)).map((entry) => ({ share, entry })));
}

/** QuotaExceeded.SharedResource.Count (documented, synchronous): the account shares at most sharedResourceQuota resources. */
function checkSharedResourceQuota(ctx: CallContext, share: ResourceShare | undefined, resources: ResourceRef[]): void {
  const live = liveResourceEntries(ctx.state, owner(ctx));
  const added = resources.filter(
    (ref) =>
      !share?.resources.some(
        (r) => r.resourceId === ref.resourceId && r.resourceType === ref.resourceType && LIVE(r.status),
      ),
  );
  if (added.length > 0 && live.length + added.length > ctx.state.options.sharedResourceQuota) {
    throw new ApiError(
      409,
      'QuotaExceeded.SharedResource.Count',
      'The maximum number of shared resources per account exceeds the limit.',
    );
  }
}

/** ECS: at most sharedSnapshotQuota distinct snapshots shared per account (the snapshot guide; reported on the association). */
function overSnapshotQuota(ctx: CallContext, snapshotId: string): boolean {
  const ids = new Set(
    liveResourceEntries(ctx.state, owner(ctx))
      .filter(({ entry }) => entry.resourceType === 'Snapshot')
      .map(({ entry }) => entry.resourceId),
  );
  if (ids.has(snapshotId)) return false;
  return ids.size + 1 > ctx.state.options.sharedSnapshotQuota;
}

function limitFailure(): Pick<ShareResourceEntry, 'failureReason' | 'statusMessage'> {
  return {
    failureReason: 'LimitExceeded',
    statusMessage: 'The number of principals for the resource exceeds the upper limit.',
  };
}

function liveSnapshotIds(share: ResourceShare): string[] {
  return share.resources.filter((r) => r.resourceType === 'Snapshot' && LIVE(r.status)).map((r) => r.resourceId);
}

/**
 * Adds (or revives) resource and target entries. Existing live entries are left alone (idempotent). A resource
 * that cannot be shared, and a target that would push a snapshot past the per-snapshot account quota, fail.
 */
function associate(
  ctx: CallContext,
  share: ResourceShare,
  resources: ResourceRef[],
  targets: string[],
): Array<ShareResourceEntry | ShareTargetEntry> {
  const classified = targets.map((t) => ({ targetId: t, ...classifyTarget(ctx, t, share.allowExternalTargets) }));
  const quota = ctx.state.options.snapshotShareQuota;
  const touched: Array<ShareResourceEntry | ShareTargetEntry> = [];
  for (const ref of resources) {
    const existing = share.resources.find(
      (r) => r.resourceId === ref.resourceId && r.resourceType === ref.resourceType,
    );
    if (existing && LIVE(existing.status)) {
      touched.push(existing);
      continue;
    }
    const failure =
      resourceFailure(ctx, ref) ??
      (ref.resourceType === 'Snapshot' && overSnapshotQuota(ctx, ref.resourceId)
        ? {
            failureReason: 'LimitExceeded' as const,
            statusMessage: `The account already shares ${ctx.state.options.sharedSnapshotQuota} snapshots, the upper limit.`,
          }
        : undefined) ??
      (ref.resourceType === 'Snapshot' &&
      snapshotAccounts(ctx.state, share, ref.resourceId, [
        ...share.targets.filter((t) => LIVE(t.status)).map((t) => t.targetId),
        ...targets,
      ]).size > quota
        ? limitFailure()
        : undefined);
    const entry: ShareResourceEntry = {
      resourceId: ref.resourceId,
      resourceType: ref.resourceType as ResourceType,
      ...pending(ctx),
      ...(failure ? { status: 'Failed', readyAt: undefined, ...failure } : {}),
    };
    replaceOrPush(share.resources, existing, entry);
    touched.push(entry);
  }
  for (const t of classified) {
    const existing = share.targets.find((x) => x.targetId === t.targetId);
    if (existing && LIVE(existing.status)) {
      touched.push(existing);
      continue;
    }
    const overQuota = liveSnapshotIds(share).some(
      (id) => snapshotAccounts(ctx.state, share, id, [t.targetId]).size > quota,
    );
    const entry: ShareTargetEntry = {
      targetId: t.targetId,
      external: t.external,
      ...pending(ctx),
      ...(overQuota ? { status: 'Failed', readyAt: undefined, ...limitFailure() } : {}),
    };
    replaceOrPush(share.targets, existing, entry);
    touched.push(entry);
    if (t.external && !overQuota) invite(ctx, share, t.targetId);
  }
  share.updateTime = ctx.emu.nowIso();
  return touched;
}

function replaceOrPush<T>(list: T[], existing: T | undefined, entry: T): void {
  if (existing) list[list.indexOf(existing)] = entry;
  else list.push(entry);
}

/** External accounts get an invitation (7 days); one already pending or accepted covers later resources too. */
function invite(ctx: CallContext, share: ResourceShare, receiver: string): void {
  const open = ctx.state.invitations.some(
    (i) =>
      i.resourceShareId === share.resourceShareId &&
      i.receiverAccountId === receiver &&
      (i.status === 'Pending' || i.status === 'Accepted'),
  );
  if (open) return;
  ctx.state.invitations.push({
    invitationId: ctx.emu.newId('i-', 16),
    resourceShareId: share.resourceShareId,
    senderAccountId: share.ownerAccountId,
    receiverAccountId: receiver,
    region: share.region,
    status: 'Pending',
    createTime: ctx.emu.nowIso(),
  });
}

function disassociate(
  ctx: CallContext,
  share: ResourceShare,
  resources: ResourceRef[],
  targets: string[],
): Array<ShareResourceEntry | ShareTargetEntry> {
  const touched: Array<ShareResourceEntry | ShareTargetEntry> = [];
  const start = (e: ShareResourceEntry | ShareTargetEntry) => {
    if (e.status === 'Disassociated' || e.status === 'Disassociating') return;
    e.status = 'Disassociating';
    e.readyAt = nowMs(ctx) + ctx.state.options.associationDelayMs;
    e.updateTime = ctx.emu.nowIso();
    touched.push(e);
  };
  resources.forEach((ref) => {
    const e = share.resources.find((r) => r.resourceId === ref.resourceId && r.resourceType === ref.resourceType);
    if (e) start(e);
  });
  targets.forEach((t) => {
    const e = share.targets.find((x) => x.targetId === t);
    if (e) start(e);
  });
  share.updateTime = ctx.emu.nowIso();
  return touched;
}

function entryType(e: ShareResourceEntry | ShareTargetEntry): 'Resource' | 'Target' {
  return 'resourceId' in e ? 'Resource' : 'Target';
}

function associationView(share: ResourceShare, e: ShareResourceEntry | ShareTargetEntry): Record<string, unknown> {
  const isResource = 'resourceId' in e;
  const entityId = isResource ? e.resourceId : e.targetId;
  const entityType = isResource ? e.resourceType : targetKind(e.targetId);
  return {
    ResourceShareId: share.resourceShareId,
    ResourceShareName: share.name,
    EntityId: entityId,
    EntityType: entityType,
    AssociationType: entryType(e),
    AssociationStatus: e.status,
    AssociationStatusMessage: e.statusMessage ?? '',
    CreateTime: e.createTime ?? '',
    UpdateTime: e.updateTime ?? '',
    External: isResource ? false : e.external,
    TargetProperty: '',
    AssociationFailedDetails:
      e.status === 'Failed'
        ? [
            {
              EntityId: entityId,
              EntityType: entityType,
              FailureReason: e.failureReason ?? 'Unavailable',
              FailureDescription: e.statusMessage ?? '',
              OperationType: 'Associate',
            },
          ]
        : [],
  };
}

// ---------------------------------------------------------------- handlers

function createResourceShare(ctx: CallContext): Record<string, unknown> {
  const name = ctx.params.ResourceShareName;
  checkName(name);
  const resources = resourcesParam(ctx);
  const targets = targetsParam(ctx);
  // Names are not unique (the docs speak of a duplicate share id only); the old uniqueness is an option.
  if (
    ctx.state.options.uniqueShareNames &&
    ctx.state.resourceShares.some(
      (s) => s.ownerAccountId === owner(ctx) && s.region === ctx.region && s.name === name && s.status !== 'Deleted',
    )
  ) {
    throw new ApiError(409, 'EntityAlreadyExists.ResourceShare', `A resource share named ${name} already exists.`);
  }
  // Per account, over all regions (the limits page does not say per region: the harder reading).
  const shares = ctx.state.resourceShares.filter(
    (s) => s.ownerAccountId === owner(ctx) && s.status !== 'Deleted',
  ).length;
  if (shares >= ctx.state.options.resourceShareQuota) {
    throw new ApiError(
      409,
      'QuotaExceeded.ResourceShare.Count',
      'The maximum number of ResourceShare exceeds the limit.',
    );
  }
  checkSharedResourceQuota(ctx, undefined, resources);
  const t = ctx.emu.nowIso();
  const share: ResourceShare = {
    resourceShareId: ctx.emu.newId('rs-', 10),
    ownerAccountId: owner(ctx),
    region: ctx.region,
    name,
    allowExternalTargets: boolParam(ctx.params, 'AllowExternalTargets'),
    status: 'Active',
    createTime: t,
    updateTime: t,
    resources: [],
    targets: [],
  };
  // Validate every target before the share exists, so that a refused call leaves nothing behind.
  targets.forEach((target) => classifyTarget(ctx, target, share.allowExternalTargets));
  ctx.state.resourceShares.push(share);
  associate(ctx, share, resources, targets);
  return { ResourceShare: shareView(share) };
}

function updateResourceShare(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const share = ownShare(ctx, ctx.params.ResourceShareId);
  // ResourceShareName is required (API doc, SDK model): renaming to the same name is how a caller keeps it.
  checkName(ctx.params.ResourceShareName);
  share.name = ctx.params.ResourceShareName;
  if (ctx.params.AllowExternalTargets) share.allowExternalTargets = boolParam(ctx.params, 'AllowExternalTargets');
  share.updateTime = ctx.emu.nowIso();
  return { ResourceShare: shareView(share) };
}

function deleteResourceShare(ctx: CallContext): Record<string, unknown> {
  const share = ownShare(ctx, ctx.params.ResourceShareId);
  const t = ctx.emu.nowIso();
  for (const e of [...share.resources, ...share.targets]) {
    if (e.status !== 'Failed') e.status = 'Disassociated';
    e.updateTime = t;
    delete e.readyAt;
  }
  share.status = 'Deleted';
  share.updateTime = t;
  return {};
}

function listResourceShares(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const who = resourceOwnerParam(ctx);
  const ids = shareIdsParam(ctx);
  const p = ctx.params;
  const shares = ctx.state.resourceShares.filter(
    (s) =>
      s.region === ctx.region &&
      (who === 'Self' ? s.ownerAccountId === owner(ctx) : targetsReaching(ctx.state, s, owner(ctx)).length > 0) &&
      (ids.length === 0 || ids.includes(s.resourceShareId)) &&
      (!p.ResourceShareName || s.name === p.ResourceShareName) &&
      (!p.ResourceShareStatus || s.status === p.ResourceShareStatus),
  );
  const page = pageByToken(shares, p, 20, 100);
  return { NextToken: page.nextToken, ResourceShares: page.items.map(shareView) };
}

function associateResourceShare(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const share = ownShare(ctx, ctx.params.ResourceShareId);
  const resources = resourcesParam(ctx);
  const targets = targetsParam(ctx);
  checkSharedResourceQuota(ctx, share, resources);
  const touched = associate(ctx, share, resources, targets);
  return { ResourceShareAssociations: touched.map((e) => associationView(share, e)) };
}

function disassociateResourceShare(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const share = ownShare(ctx, ctx.params.ResourceShareId);
  const touched = disassociate(ctx, share, resourcesParam(ctx), targetsParam(ctx));
  return { ResourceShareAssociations: touched.map((e) => associationView(share, e)) };
}

function listResourceShareAssociations(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const p = ctx.params;
  const type = p.AssociationType;
  if (type !== 'Resource' && type !== 'Target') {
    throw new ApiError(400, 'InvalidParameter.AssociationType', 'AssociationType must be Resource or Target.');
  }
  const ids = shareIdsParam(ctx);
  // Read-after-write lag: the owner's shares in the region as they were readLagMs ago, settled as of then.
  const asOf = laggedNow(ctx);
  const seen = laggedRead(ctx, associationsKey(ctx), () => ownSharesInRegion(ctx));
  settleShares(ctx.state, asOf, seen);
  const rows = seen
    .filter((s) => ids.length === 0 || ids.includes(s.resourceShareId))
    .flatMap((s) => {
      const entries: Array<ShareResourceEntry | ShareTargetEntry> =
        type === 'Resource'
          ? s.resources.filter((r) => !p.ResourceId || r.resourceId === p.ResourceId)
          : s.targets.filter((t) => !p.Target || t.targetId === p.Target);
      return entries
        .filter((e) => !p.AssociationStatus || e.status === p.AssociationStatus)
        .map((e) => associationView(s, e));
    });
  const page = pageByToken(rows, p, 20, 100);
  return { NextToken: page.nextToken, ResourceShareAssociations: page.items };
}

/** The shares a caller sees in a ResourceOwner direction, with the resource entries that count. */
function sharedResourceRows(
  ctx: CallContext,
  who: 'Self' | 'OtherAccounts',
): Array<{ share: ResourceShare; entry: ShareResourceEntry }> {
  return ctx.state.resourceShares
    .filter(
      (s) =>
        s.region === ctx.region &&
        (who === 'Self' ? s.ownerAccountId === owner(ctx) : targetsReaching(ctx.state, s, owner(ctx)).length > 0),
    )
    .flatMap((share) =>
      share.resources
        .filter((r) => (who === 'Self' ? r.status !== 'Disassociated' : r.status === 'Associated'))
        .map((entry) => ({ share, entry })),
    );
}

function listSharedResources(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const p = ctx.params;
  const who = resourceOwnerParam(ctx);
  const ids = listParam(p, 'ResourceIds');
  const shareIds = shareIdsParam(ctx);
  const rows = sharedResourceRows(ctx, who)
    .filter(
      ({ share, entry }) =>
        (!p.ResourceType || entry.resourceType === p.ResourceType) &&
        (ids.length === 0 || ids.includes(entry.resourceId)) &&
        (shareIds.length === 0 || shareIds.includes(share.resourceShareId)) &&
        (!p.Target || share.targets.some((t) => t.targetId === p.Target && LIVE(t.status))),
    )
    .map(({ share, entry }) => ({
      ResourceShareId: share.resourceShareId,
      ResourceId: entry.resourceId,
      ResourceType: entry.resourceType,
      CreateTime: entry.createTime ?? '',
      UpdateTime: entry.updateTime ?? '',
      ...(who === 'OtherAccounts' ? { ResourceStatus: 'Available' } : {}),
      ...(entry.status === 'Failed' ? { ResourceStatusMessage: entry.statusMessage ?? '' } : {}),
    }));
  const page = pageByToken(rows, p, 20, 100);
  return { NextToken: page.nextToken, SharedResources: page.items };
}

function listSharedTargets(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const p = ctx.params;
  const who = resourceOwnerParam(ctx);
  const shareIds = shareIdsParam(ctx);
  const wanted = targetsParam(ctx);
  const rows = ctx.state.resourceShares
    .filter(
      (s) =>
        s.region === ctx.region &&
        (who === 'Self' ? s.ownerAccountId === owner(ctx) && s.status === 'Active' : true) &&
        (shareIds.length === 0 || shareIds.includes(s.resourceShareId)) &&
        ((!p.ResourceType && !p.ResourceId) ||
          s.resources.some(
            (r) =>
              LIVE(r.status) &&
              (!p.ResourceType || r.resourceType === p.ResourceType) &&
              (!p.ResourceId || r.resourceId === p.ResourceId),
          )),
    )
    .flatMap((s) =>
      (who === 'Self' ? s.targets.filter((t) => LIVE(t.status)) : targetsReaching(ctx.state, s, owner(ctx))).map(
        (t) => ({ share: s, t }),
      ),
    )
    .filter(({ t }) => wanted.length === 0 || wanted.includes(t.targetId))
    .map(({ share, t }) => ({
      TargetId: t.targetId,
      ResourceShareId: share.resourceShareId,
      External: t.external,
      CreateTime: t.createTime ?? '',
      UpdateTime: t.updateTime ?? '',
    }));
  const page = pageByToken(rows, p, 20, 100);
  return { NextToken: page.nextToken, SharedTargets: page.items };
}

function invitationView(ctx: CallContext, inv: Invitation): Record<string, unknown> {
  const share = ctx.state.resourceShares.find((s) => s.resourceShareId === inv.resourceShareId);
  return {
    ResourceShareInvitationId: inv.invitationId,
    ResourceShareId: inv.resourceShareId,
    ResourceShareName: share?.name ?? '',
    SenderAccountId: inv.senderAccountId,
    ReceiverAccountId: inv.receiverAccountId,
    CreateTime: inv.createTime ?? '',
    Status: inv.status,
  };
}

function listResourceShareInvitations(ctx: CallContext): Record<string, unknown> {
  settle(ctx);
  const ids = listParam(ctx.params, 'ResourceShareInvitationIds');
  const shareIds = shareIdsParam(ctx);
  const rows = ctx.state.invitations.filter(
    (i) =>
      i.receiverAccountId === owner(ctx) &&
      i.region === ctx.region &&
      (ids.length === 0 || ids.includes(i.invitationId)) &&
      (shareIds.length === 0 || shareIds.includes(i.resourceShareId)),
  );
  const page = pageByToken(rows, ctx.params, 20, 100);
  return { NextToken: page.nextToken, ResourceShareInvitations: page.items.map((i) => invitationView(ctx, i)) };
}

function pendingInvitation(ctx: CallContext): Invitation {
  settle(ctx);
  const id = ctx.params.ResourceShareInvitationId;
  const inv = ctx.state.invitations.find(
    (i) => i.invitationId === id && i.receiverAccountId === owner(ctx) && i.region === ctx.region,
  );
  if (!inv)
    throw new ApiError(
      409,
      'EntityNotExists.ResourceShareInvitation',
      `The resource share invitation ${id} does not exist.`,
    );
  const already: Partial<Record<Invitation['status'], string>> = {
    Accepted: 'InvitationStatus.AlreadyAccepted',
    Rejected: 'InvitationStatus.AlreadyRejected',
    Expired: 'InvitationStatus.Expired',
    Cancelled: 'InvitationStatus.Cancelled',
  };
  const code = already[inv.status];
  if (code) throw new ApiError(409, code, `The resource share invitation ${id} is ${inv.status}.`);
  return inv;
}

function acceptResourceShareInvitation(ctx: CallContext): Record<string, unknown> {
  const inv = pendingInvitation(ctx);
  inv.status = 'Accepted';
  return { ResourceShareInvitation: { ...invitationView(ctx, inv), AcceptInvitationFailedDetails: [] } };
}

function rejectResourceShareInvitation(ctx: CallContext): Record<string, unknown> {
  const inv = pendingInvitation(ctx);
  inv.status = 'Rejected';
  return { ResourceShareInvitation: invitationView(ctx, inv) };
}

const associationsKey = (ctx: CallContext) => `associations:${owner(ctx)}:${ctx.region}`;
const ownSharesInRegion = (ctx: CallContext) =>
  ctx.state.resourceShares.filter((s) => s.ownerAccountId === owner(ctx) && s.region === ctx.region);
const tracksAssociations = (ctx: CallContext): Tracked[] => [
  { key: associationsKey(ctx), read: () => ownSharesInRegion(ctx) },
];

const shareArn = (ctx: CallContext) => [
  `acs:resourcesharing:${ctx.region}:${owner(ctx)}:resourceshare/${ctx.params.ResourceShareId}`,
];

const tracked = (spec: ActionTable[string]) => recordingWrites(spec, tracksAssociations);

const table: ActionTable = {
  CreateResourceShare: tracked({ handler: createResourceShare, required: ['ResourceShareName'], write: true }),
  UpdateResourceShare: tracked({
    handler: updateResourceShare,
    required: ['ResourceShareId', 'ResourceShareName'],
    write: true,
    resources: shareArn,
  }),
  DeleteResourceShare: tracked({
    handler: deleteResourceShare,
    required: ['ResourceShareId'],
    write: true,
    resources: shareArn,
  }),
  ListResourceShares: { handler: listResourceShares, required: ['ResourceOwner'] },
  AssociateResourceShare: tracked({
    handler: associateResourceShare,
    required: ['ResourceShareId'],
    write: true,
    resources: shareArn,
  }),
  DisassociateResourceShare: tracked({
    handler: disassociateResourceShare,
    required: ['ResourceShareId'],
    write: true,
    resources: shareArn,
  }),
  ListResourceShareAssociations: { handler: listResourceShareAssociations, required: ['AssociationType'] },
  ListSharedResources: { handler: listSharedResources, required: ['ResourceOwner'] },
  ListSharedTargets: { handler: listSharedTargets, required: ['ResourceOwner'] },
  ListResourceShareInvitations: { handler: listResourceShareInvitations },
  AcceptResourceShareInvitation: {
    handler: acceptResourceShareInvitation,
    required: ['ResourceShareInvitationId'],
    write: true,
  },
  RejectResourceShareInvitation: {
    handler: rejectResourceShareInvitation,
    required: ['ResourceShareInvitationId'],
    write: true,
  },
};

/** Every action first refuses a region the state does not list. */
export const actions: ActionTable = Object.fromEntries(
  Object.entries(table).map(([name, spec]) => [
    name,
    { ...spec, handler: (ctx: CallContext) => (requireKnownRegion(ctx), spec.handler(ctx)) },
  ]),
);
