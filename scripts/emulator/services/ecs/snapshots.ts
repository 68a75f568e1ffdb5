// ECS snapshots: CreateSnapshot, CopySnapshot (own, or shared with the caller), DeleteSnapshot, DescribeSnapshots
// (own and shared, as the recipient sees them).
import { sharedWithIndex } from '../../oracle';
import { isSnapshotShared } from '../../shares';
import { ApiError, boolParam, type CallContext, type Snapshot, type Tags } from '../../types';
import {
  idArrayParam,
  listResponse,
  nowMs,
  owner,
  ownSnapshot,
  ownDisk,
  requireRecipientAccess,
  snapshotNotReady,
  visibleSnapshot,
} from './common';
import { checkRegion } from './regions';
import { chooseEncryption, requireDiskEncryptRole } from './encryption';
import { readiness, snapshotReady } from './readiness';
import { matchesTags, parseTags, TAG_FILTER_COVERAGE, tagFilters, tagSet } from './tags';

/** The recipient-side system tag of a shared snapshot (key confirmed by the official OOS template; value format inferred). */
const SHARED_FROM_TAG = 'acs:ecs:sharedFrom';

export function newSnapshot(
  ctx: CallContext,
  fields: Omit<Snapshot, 'snapshotId' | 'accountId' | 'status' | 'creationTime'>,
): Snapshot {
  const ready = fields.readyAt === undefined ? readiness(ctx) : { readyAt: fields.readyAt };
  const snapshot: Snapshot = {
    snapshotId: ctx.emu.newId('s-'),
    accountId: owner(ctx),
    status: ready.readyAt === undefined ? 'accomplished' : 'progressing',
    creationTime: ctx.emu.nowIso(),
    ...fields,
    ...ready,
  };
  if (snapshot.readyAt === undefined) delete snapshot.readyAt;
  ctx.state.snapshots.push(snapshot);
  return snapshot;
}

/** The snapshots some image of their account maps (`account|snapshotId`), for one listing's Usage fields. */
function snapshotsInImages(ctx: CallContext): Set<string> {
  const out = new Set<string>();
  for (const i of ctx.state.images) for (const m of i.diskMappings) out.add(`${i.accountId}|${m.snapshotId}`);
  return out;
}

function snapshotView(s: Snapshot, tags: Tags | undefined, inImages: Set<string>): Record<string, unknown> {
  return {
    SnapshotId: s.snapshotId,
    SnapshotName: s.name ?? '',
    RegionId: s.region,
    Status: s.status ?? 'accomplished',
    Progress: snapshotReady(s) ? '100%' : '0%',
    Available: snapshotReady(s),
    Encrypted: s.encrypted,
    KMSKeyId: s.kmsKeyId ?? '',
    SourceDiskId: s.sourceDiskId ?? '',
    SourceDiskSize: String(s.size ?? 0),
    SourceSnapshotId: s.sourceSnapshotId ?? '',
    SourceRegionId: s.sourceRegionId ?? '',
    SnapshotType: 'user',
    Category: 'standard',
    Usage: inImages.has(`${s.accountId}|${s.snapshotId}`) ? 'image' : 'none',
    CreationTime: s.creationTime ?? '',
    Tags: tagSet(tags),
  };
}

/** What a recipient sees of a snapshot shared with it: the source id and only the sharedFrom system tag. */
function sharedSnapshotTags(s: Snapshot): Tags {
  return { [SHARED_FROM_TAG]: `${s.accountId}:${s.region}:${s.snapshotId}` };
}

export function createSnapshot(ctx: CallContext): Record<string, unknown> {
  const disk = ownDisk(ctx, ctx.params.DiskId, undefined);
  const tags = parseTags(ctx);
  const snapshot = newSnapshot(ctx, {
    region: disk.region,
    sourceDiskId: disk.diskId,
    encrypted: disk.encrypted,
    kmsKeyId: disk.kmsKeyId,
    size: disk.size,
    name: ctx.params.SnapshotName,
    tags,
  });
  return { SnapshotId: snapshot.snapshotId };
}

export function copySnapshot(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  checkRegion(ctx, p.DestinationRegionId);
  const { snapshot: source, shared } = visibleSnapshot(ctx, p.SnapshotId);
  if (!snapshotReady(source)) throw snapshotNotReady(source.snapshotId);
  if (shared) {
    // Emulator choice: a shared snapshot is copied within its region, as shared images are (CopyImage doc).
    if (p.DestinationRegionId !== source.region) {
      throw new ApiError(
        403,
        'OperationDenied.SharedResourceCrossRegion',
        'A snapshot shared with you can be copied only within its region.',
      );
    }
    requireRecipientAccess(ctx, { type: 'Snapshot', snapshot: source });
  }
  const tags = parseTags(ctx);
  const encryption = chooseEncryption(ctx, p.DestinationRegionId, {
    requested: boolParam(p, 'Encrypted'),
    keyId: p.KMSKeyId,
    source,
    sourceKeyReusable: !shared && p.DestinationRegionId === source.region,
  });
  if (p.KMSKeyId) requireDiskEncryptRole(ctx);
  const copy = newSnapshot(ctx, {
    region: p.DestinationRegionId,
    ...encryption,
    size: source.size,
    name: p.DestinationSnapshotName,
    sourceSnapshotId: source.snapshotId,
    sourceRegionId: source.region,
    tags,
  });
  return { SnapshotId: copy.snapshotId };
}

export function deleteSnapshot(ctx: CallContext): Record<string, unknown> {
  const snapshot = ownSnapshot(ctx, ctx.params.SnapshotId, ctx.params.RegionId || undefined);
  if (
    ctx.state.images.some(
      (i) => i.accountId === snapshot.accountId && i.diskMappings.some((m) => m.snapshotId === snapshot.snapshotId),
    )
  ) {
    throw new ApiError(
      403,
      'SnapshotCreatedImage',
      'The snapshot has been used to create a custom image and cannot be deleted.',
    );
  }
  if (isSnapshotShared(ctx.state, snapshot, nowMs(ctx))) {
    throw new ApiError(
      403,
      'OperationDenied.SnapshotShared',
      'The snapshot is shared through Resource Sharing; disassociate it from its resource shares before deleting it.',
    );
  }
  ctx.state.snapshots.splice(ctx.state.snapshots.indexOf(snapshot), 1);
  return {};
}

export function describeSnapshots(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  const ids = idArrayParam(ctx, 'SnapshotIds', 'InvalidSnapshotIds.Malformed');
  const filters = tagFilters(ctx);
  const onlyEncrypted = boolParam(p, 'Encrypted');
  const statuses = p.Status && p.Status !== 'all' ? [p.Status] : undefined;
  const inRegion = ctx.state.snapshots.filter((s) => s.region === ctx.region);
  const own = inRegion.filter((s) => s.accountId === owner(ctx)).map((s) => ({ s, tags: s.tags }));
  const sharedWithCaller = sharedWithIndex(ctx.state, owner(ctx), ctx.region, nowMs(ctx));
  const shared = inRegion
    .filter((s) => s.accountId !== owner(ctx) && sharedWithCaller({ type: 'Snapshot', snapshot: s }))
    .map((s) => ({ s, tags: sharedSnapshotTags(s) }));
  const matches = [...own, ...shared].filter(
    ({ s, tags }) =>
      (!ids || ids.includes(s.snapshotId)) &&
      (!onlyEncrypted || s.encrypted) &&
      (!p.KMSKeyId || s.kmsKeyId === p.KMSKeyId) &&
      (!p.DiskId || s.sourceDiskId === p.DiskId) &&
      (!p.SnapshotName || s.name === p.SnapshotName) &&
      (!statuses || statuses.includes(s.status ?? 'accomplished')) &&
      matchesTags(tags, filters),
  );
  // Tag filters cover at most 1,000 tagged resources (documented); past that: the first 1,000, silently.
  const covered = filters.length > 0 ? matches.slice(0, TAG_FILTER_COVERAGE) : matches;
  const inImages = snapshotsInImages(ctx);
  return listResponse(
    ctx,
    covered.map(({ s, tags }) => snapshotView(s, tags, inImages)),
    'Snapshots',
    'Snapshot',
  );
}
