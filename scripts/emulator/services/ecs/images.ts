// ECS images: CreateImage from own snapshots, CopyImage (own, or shared with the caller), DeleteImage and
// DescribeImages (own and shared: ImageOwnerAlias self/others).
import { isSharedWith, sharedWithIndex } from '../../oracle';
import { pageByNumber } from '../../paging';
import { isImageSelfShared } from '../../shares';
import { ApiError, boolParam, structListParam, type CallContext, type Image, type ImageDiskMapping } from '../../types';
import {
  imageNotAvailable,
  nowMs,
  owner,
  ownImage,
  ownSnapshot,
  requireRecipientAccess,
  snapshotNotFound,
  snapshotNotReady,
  visibleImage,
} from './common';
import { callerKey, chooseEncryption, requireDiskEncryptRole } from './encryption';
import { checkRegion } from './regions';
import { imageReady, readiness, snapshotReady } from './readiness';
import { newSnapshot } from './snapshots';
import { matchesTags, parseTags, TAG_FILTER_COVERAGE, tagFilters, tagSet } from './tags';

function imageView(ctx: CallContext, image: Image, own: boolean): Record<string, unknown> {
  const mappings = image.diskMappings.map((m) => {
    const snap = ctx.state.snapshots.find((s) => s.snapshotId === m.snapshotId && s.accountId === image.accountId);
    return {
      SnapshotId: m.snapshotId,
      Device: m.device,
      Size: String(m.size ?? snap?.size ?? 0),
      Type: m.type ?? 'data',
      Encrypted: snap?.encrypted ?? false,
      Format: '',
    };
  });
  return {
    ImageId: image.imageId,
    ImageName: image.name ?? '',
    Description: image.description ?? '',
    ImageOwnerAlias: own ? 'self' : 'others',
    // The SDK model types ImageOwnerId as a number, as the real service sends it.
    ImageOwnerId: Number(image.accountId),
    IsSelfShared: own && isImageSelfShared(ctx.state, image, nowMs(ctx)) ? 'True' : 'False',
    IsCopied: !!image.sourceImageId,
    IsPublic: false,
    Status: image.status ?? 'Available',
    CreationTime: image.creationTime ?? '',
    Size: Math.max(0, ...image.diskMappings.map((m) => m.size ?? 0)),
    Usage: 'none',
    Tags: tagSet(own ? image.tags : undefined),
    DiskDeviceMappings: { DiskDeviceMapping: mappings },
  };
}

function imageMappingsFromParams(ctx: CallContext): ImageDiskMapping[] {
  const mapped = structListParam(ctx.params, 'DiskDeviceMapping');
  const entries = mapped.length > 0 ? mapped : ctx.params.SnapshotId ? [{ SnapshotId: ctx.params.SnapshotId }] : [];
  if (entries.length === 0) {
    throw new ApiError(
      400,
      'MissingParameter',
      'One of SnapshotId, DiskDeviceMapping.N.SnapshotId or InstanceId must be given.',
    );
  }
  return entries.map((e, i) => {
    if (!e.SnapshotId)
      throw new ApiError(400, 'MissingParameter', `DiskDeviceMapping.${i + 1}.SnapshotId is required.`);
    const snapshot = ctx.state.snapshots.find((s) => s.snapshotId === e.SnapshotId && s.region === ctx.region);
    if (
      snapshot &&
      snapshot.accountId !== owner(ctx) &&
      isSharedWith(ctx.state, owner(ctx), { type: 'Snapshot', snapshot }, nowMs(ctx))
    ) {
      throw new ApiError(
        403,
        'OperationDenied.SharedSnapshot',
        'A snapshot shared with you cannot be used to create an image; copy it first.',
      );
    }
    const own = ownSnapshot(ctx, e.SnapshotId);
    if (!snapshotReady(own))
      throw snapshotNotReady(
        own.snapshotId,
        mapped.length > 0 ? `DiskDeviceMapping.${i + 1}.SnapshotId` : 'SnapshotId',
      );
    const size = e.Size ? Number(e.Size) : own.size;
    return {
      device: e.Device || `/dev/xvd${String.fromCharCode(97 + i)}`,
      snapshotId: own.snapshotId,
      size,
      type: (e.DiskType as 'system' | 'data' | undefined) ?? (i === 0 ? 'system' : 'data'),
    };
  });
}

export function createImage(ctx: CallContext): Record<string, unknown> {
  const diskMappings = imageMappingsFromParams(ctx);
  const tags = parseTags(ctx);
  const image: Image = {
    imageId: ctx.emu.newId('m-'),
    accountId: owner(ctx),
    region: ctx.region,
    name: ctx.params.ImageName,
    description: ctx.params.Description,
    status: readiness(ctx).readyAt === undefined ? 'Available' : 'Creating',
    ...readiness(ctx),
    creationTime: ctx.emu.nowIso(),
    diskMappings,
    tags,
    sharedWith: [],
  };
  ctx.state.images.push(image);
  return { ImageId: image.imageId };
}

export function copyImage(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  checkRegion(ctx, p.DestinationRegionId);
  const { image: source, shared } = visibleImage(ctx, p.ImageId);
  if (!imageReady(source)) throw imageNotAvailable(source.imageId);
  const ready = readiness(ctx);
  if (shared) {
    if (p.DestinationRegionId !== source.region) {
      throw new ApiError(
        403,
        'OperationDenied.SharedResourceCrossRegion',
        'An image shared with you can be copied only within its region.',
      );
    }
    requireRecipientAccess(ctx, { type: 'Image', image: source });
  }
  const tags = parseTags(ctx);
  if (p.KMSKeyId) {
    callerKey(ctx, p.DestinationRegionId, p.KMSKeyId);
    requireDiskEncryptRole(ctx);
  }
  const diskMappings = source.diskMappings.map((m) => {
    const snap = ctx.state.snapshots.find((s) => s.snapshotId === m.snapshotId && s.accountId === source.accountId);
    if (!snap) throw snapshotNotFound(m.snapshotId);
    const encryption = chooseEncryption(ctx, p.DestinationRegionId, {
      requested: boolParam(p, 'Encrypted'),
      keyId: p.KMSKeyId,
      source: snap,
      sourceKeyReusable: !shared && p.DestinationRegionId === source.region,
    });
    const copy = newSnapshot(ctx, {
      region: p.DestinationRegionId,
      ...encryption,
      size: snap.size,
      sourceSnapshotId: snap.snapshotId,
      sourceRegionId: snap.region,
      ...ready,
    });
    return { ...m, snapshotId: copy.snapshotId };
  });
  const image: Image = {
    imageId: ctx.emu.newId('m-'),
    accountId: owner(ctx),
    region: p.DestinationRegionId,
    name: p.DestinationImageName || source.name,
    description: p.DestinationDescription || source.description,
    status: ready.readyAt === undefined ? 'Available' : 'Creating',
    ...ready,
    creationTime: ctx.emu.nowIso(),
    diskMappings,
    tags,
    sharedWith: [],
    sourceImageId: source.imageId,
  };
  ctx.state.images.push(image);
  return { ImageId: image.imageId };
}

export function deleteImage(ctx: CallContext): Record<string, unknown> {
  const image = ownImage(ctx, ctx.params.ImageId);
  ctx.state.images.splice(ctx.state.images.indexOf(image), 1);
  return {};
}

const OWNER_ALIASES = ['self', 'others', 'system', 'marketplace'];

export function describeImages(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  const alias = p.ImageOwnerAlias ?? '';
  if (alias && !OWNER_ALIASES.includes(alias)) {
    throw new ApiError(
      400,
      'InvalidImageOwnerAlias.ValueNotSupported',
      'The specified parameter "ImageOwnerAlias" is not valid.',
    );
  }
  const ids = p.ImageId
    ? p.ImageId.split(',')
        .map((s) => s.trim())
        .filter(Boolean)
    : undefined;
  const statuses = !p.Status ? ['Available'] : p.Status.toUpperCase() === 'ALL' ? undefined : p.Status.split(',');
  const filters = tagFilters(ctx);
  const inRegion = ctx.state.images.filter((i) => i.region === ctx.region);
  const own = alias === '' || alias === 'self' ? inRegion.filter((i) => i.accountId === owner(ctx)) : [];
  const sharedWithCaller = sharedWithIndex(ctx.state, owner(ctx), ctx.region, nowMs(ctx));
  const others =
    alias === '' || alias === 'others'
      ? inRegion.filter((i) => i.accountId !== owner(ctx) && sharedWithCaller({ type: 'Image', image: i }))
      : [];
  const matches = [...own.map((i) => ({ i, own: true })), ...others.map((i) => ({ i, own: false }))].filter(
    ({ i, own: isOwn }) =>
      (!ids || ids.includes(i.imageId)) &&
      (!p.ImageOwnerId || i.accountId === p.ImageOwnerId) &&
      (!p.ImageName || i.name === p.ImageName) &&
      (!p.SnapshotId || i.diskMappings.some((m) => m.snapshotId === p.SnapshotId)) &&
      (!statuses || statuses.includes(i.status ?? 'Available')) &&
      matchesTags(isOwn ? i.tags : undefined, filters),
  );
  // Tag filters cover at most 1,000 tagged resources (documented); past that: the first 1,000, silently.
  const covered = filters.length > 0 ? matches.slice(0, TAG_FILTER_COVERAGE) : matches;
  const page = pageByNumber(covered, p, 10, 100);
  return {
    RegionId: ctx.region,
    TotalCount: covered.length,
    PageNumber: page.pageNumber,
    PageSize: page.pageSize,
    Images: { Image: page.items.map(({ i, own: isOwn }) => imageView(ctx, i, isOwn)) },
  };
}
