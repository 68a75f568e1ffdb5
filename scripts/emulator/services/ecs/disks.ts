// ECS disks: CreateDisk (empty, or from an own or shared snapshot), DeleteDisk and DescribeDisks.
import { ApiError, boolParam, type CallContext, type Disk } from '../../types';
import {
  idArrayParam,
  listResponse,
  owner,
  ownDisk,
  requireRecipientAccess,
  snapshotNotReady,
  visibleSnapshot,
} from './common';
import { chooseEncryption, type Encryption } from './encryption';
import { snapshotReady } from './readiness';
import { matchesTags, parseTags, tagFilters, tagSet } from './tags';

/** Categories a disk made from a shared encrypted snapshot may have (SNAPSHARE). */
const SHARED_ENCRYPTED_DISK_CATEGORIES = ['cloud_essd', 'cloud_auto', 'cloud_essd_entry'];

function diskView(d: Disk): Record<string, unknown> {
  return {
    DiskId: d.diskId,
    RegionId: d.region,
    ZoneId: d.zoneId ?? '',
    Size: d.size,
    Category: d.category ?? 'cloud_essd',
    Encrypted: d.encrypted,
    KMSKeyId: d.kmsKeyId ?? '',
    SourceSnapshotId: d.snapshotId ?? '',
    Status: 'Available',
    Type: 'data',
    CreationTime: d.creationTime ?? '',
    Tags: tagSet(d.tags),
  };
}

export function createDisk(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  const category = p.DiskCategory || 'cloud';
  let encryption: Encryption;
  let size: number;
  let snapshotId: string | undefined;
  if (p.SnapshotId) {
    const { snapshot, shared } = visibleSnapshot(ctx, p.SnapshotId);
    if (!snapshotReady(snapshot)) throw snapshotNotReady(snapshot.snapshotId);
    if (shared) {
      if (snapshot.encrypted && !SHARED_ENCRYPTED_DISK_CATEGORIES.includes(category)) {
        throw new ApiError(
          400,
          'InvalidDiskCategory.NotSupported',
          `A disk created from a shared encrypted snapshot must be one of ${SHARED_ENCRYPTED_DISK_CATEGORIES.join(', ')}; got ${category}.`,
        );
      }
      requireRecipientAccess(ctx, { type: 'Snapshot', snapshot });
    }
    // From a shared encrypted snapshot the disk uses the recipient's key, its service key by default (CreateDisk doc).
    encryption = chooseEncryption(ctx, ctx.region, {
      requested: boolParam(p, 'Encrypted'),
      keyId: p.KMSKeyId,
      source: snapshot,
      sourceKeyReusable: !shared,
    });
    size = p.Size ? Number(p.Size) : (snapshot.size ?? 20);
    snapshotId = snapshot.snapshotId;
  } else {
    if (!p.Size)
      throw new ApiError(
        400,
        'MissingParameter',
        'The input parameter "Size" that is mandatory for processing this request is not supplied.',
      );
    encryption = chooseEncryption(ctx, ctx.region, { requested: boolParam(p, 'Encrypted'), keyId: p.KMSKeyId });
    size = Number(p.Size);
  }
  if (!Number.isInteger(size) || size < 1 || size > 65536) {
    throw new ApiError(400, 'InvalidDiskSize.ValueNotSupported', 'The specified parameter "Size" is not valid.');
  }
  const disk: Disk = {
    diskId: ctx.emu.newId('d-'),
    accountId: owner(ctx),
    region: ctx.region,
    zoneId: p.ZoneId,
    size,
    category,
    ...encryption,
    snapshotId,
    creationTime: ctx.emu.nowIso(),
    tags: parseTags(ctx),
  };
  ctx.state.disks.push(disk);
  return { DiskId: disk.diskId, OrderId: '' };
}

/** DeleteDisk (no RegionId: the disk id says where). Emulated disks are never attached, so always deletable. */
export function deleteDisk(ctx: CallContext): Record<string, unknown> {
  const disk = ownDisk(ctx, ctx.params.DiskId, undefined);
  ctx.state.disks.splice(ctx.state.disks.indexOf(disk), 1);
  return {};
}

export function describeDisks(ctx: CallContext): Record<string, unknown> {
  const ids = idArrayParam(ctx, 'DiskIds', 'InvalidDiskIds.Malformed');
  const filters = tagFilters(ctx);
  const all = ctx.state.disks.filter(
    (d) =>
      d.accountId === owner(ctx) &&
      d.region === ctx.region &&
      (!ids || ids.includes(d.diskId)) &&
      (!ctx.params.SnapshotId || d.snapshotId === ctx.params.SnapshotId) &&
      matchesTags(d.tags, filters),
  );
  return listResponse(ctx, all.map(diskView), 'Disks', 'Disk');
}
