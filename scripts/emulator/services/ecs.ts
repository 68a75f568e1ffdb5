// ECS 2014-05-26: disks, snapshots, images, tags and image share permissions, each resource scoped to its owner
// account and region. A recipient reaches another account's snapshot or image only through the oracle.
import {
  IMAGE_SHARE_ROLE,
  LEGACY_SERVICE_KEY_POLICY,
  imageReady,
  isServiceKey,
  isSharedWith,
  keysUsable,
  recipientAccess,
  resourceKeyIds,
  serviceKeyRefusal,
  settleResources,
  settleShares,
  shareRoleTrusts,
  snapshotReady,
  type Access,
  type SharedResource,
} from '../oracle';
import { laggedRead, recordingWrites, type Tracked } from '../lag';
import { pageByNumber, pageByToken } from '../paging';
import {
  ApiError,
  boolParam,
  listParam,
  structListParam,
  type ActionSpec,
  type ActionTable,
  type CallContext,
  type Disk,
  type Image,
  type ImageDiskMapping,
  type KmsKey,
  type Snapshot,
  type Tags,
} from '../types';
import { ensureServiceKey, findKey } from './kms';
import { requireKnownRegion } from '../state';
import { findRole } from '../policy';

const MAX_TAGS_PER_RESOURCE = 20;
const MAX_TAGGED_RESOURCES_PER_CALL = 50;
const MAX_IMAGE_SHARE_ACCOUNTS_PER_CALL = 10;
/** DescribeSnapshots/DescribeImages tag filters cover this many tagged resources; past it the docs send you to ListTagResources. */
export const TAG_FILTER_COVERAGE = 1000;
/** ListTagResources has no MaxResults: a fixed page of tag rows. */
const LIST_TAG_PAGE = 50;
/** Categories a disk made from a shared encrypted snapshot may have (SNAPSHARE). */
const SHARED_ENCRYPTED_DISK_CATEGORIES = ['cloud_essd', 'cloud_auto', 'cloud_essd_entry'];
/** The recipient-side system tag of a shared snapshot (key confirmed by the official OOS template; value format inferred). */
export const SHARED_FROM_TAG = 'acs:ecs:sharedFrom';

// ---------------------------------------------------------------- small helpers

const owner = (ctx: CallContext) => ctx.caller.accountId;
const nowMs = (ctx: CallContext) => ctx.emu.now().getTime();

function fail(access: Access): never {
  if (access.ok) throw new Error('fail() called with an allowed access');
  throw new ApiError(access.status, access.code, access.message);
}

function arn(region: string, accountId: string, kind: 'snapshot' | 'image' | 'disk', id: string): string {
  return `acs:ecs:${region}:${accountId}:${kind}/${id}`;
}

function tagSet(tags: Tags | undefined): { Tag: Array<{ TagKey: string; TagValue: string }> } {
  return { Tag: Object.entries(tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) };
}

function badTagKey(key: string): boolean {
  return key === '' || key.length > 128 || /^(acs:|aliyun)/i.test(key) || /https?:\/\//i.test(key);
}

function badTagValue(value: string): boolean {
  return value.length > 128 || /^acs:/i.test(value) || /https?:\/\//i.test(value);
}

/** Tag.N.Key/Value of a write call, validated as ECS does (reserved prefixes, lengths, 20 at most, unique keys). */
function parseTags(ctx: CallContext, name = 'Tag'): Tags {
  const entries = structListParam(ctx.params, name);
  if (entries.length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(400, 'NumberExceed.Tags', `The Tags parameter's number is exceed , Valid : ${MAX_TAGS_PER_RESOURCE}`);
  }
  const tags: Tags = {};
  for (const e of entries) {
    const key = e.Key ?? '';
    const value = e.Value ?? '';
    if (badTagKey(key)) throw new ApiError(400, 'InvalidTagKey.Malformed', 'The specified Tag.n.Key is not valid.');
    if (badTagValue(value)) throw new ApiError(400, 'InvalidTagValue.Malformed', 'The specified Tag.n.Value is not valid.');
    if (key in tags) throw new ApiError(400, 'Duplicate.TagKey', 'The Tag.N.Key contain duplicate key.');
    tags[key] = value;
  }
  return tags;
}

interface TagFilter {
  key: string;
  value?: string;
}

/** Tag.N filters of a Describe call: exact key, and exact value when given. */
function tagFilters(ctx: CallContext): TagFilter[] {
  return structListParam(ctx.params, 'Tag').map((e) => {
    if (e.Key === undefined || e.Key === '') {
      throw new ApiError(400, 'InvalidTagKey.Malformed', 'The specified Tag.n.Key is not valid.');
    }
    return { key: e.Key, value: e.Value };
  });
}

function matchesTags(tags: Tags | undefined, filters: TagFilter[]): boolean {
  return filters.every((f) => tags !== undefined && f.key in tags && (f.value === undefined || tags[f.key] === f.value));
}

function mergeTags(existing: Tags | undefined, added: Tags): Tags {
  const merged = { ...(existing ?? {}), ...added };
  if (Object.keys(merged).length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(400, 'OperationDenied.QuotaExceed', 'The quota of tags on resource is beyond permitted range.');
  }
  return merged;
}

function checkRegion(ctx: CallContext, region: string, param = 'DestinationRegionId'): void {
  if (!/^[a-z]{2}(-[a-z0-9]+)+$/.test(region) || !ctx.state.regions.includes(region)) {
    throw new ApiError(404, 'InvalidRegionId.NotFound', `The specified ${param} ${region} does not exist.`);
  }
}

const snapshotNotReady = (id: string, param = 'SnapshotId') =>
  new ApiError(403, 'InvalidSnapshotId.NotReady', `The specified snapshot ${id} (${param}) has not completed yet.`);
const imageNotAvailable = (id: string) => new ApiError(400, 'IncorrectImageStatus', `The image ${id} is not available.`);

/** The delay before a new snapshot or image is ready: progressing/Creating until then (none: ready at once). */
function readiness(ctx: CallContext): { readyAt?: number } {
  const delay = ctx.state.options.readyDelayMs;
  return delay > 0 ? { readyAt: nowMs(ctx) + delay } : {};
}

/** JSON array string of ids (SnapshotIds, DiskIds); undefined when absent. */
function idArrayParam(ctx: CallContext, name: string, code: string): string[] | undefined {
  const raw = ctx.params[name];
  if (raw === undefined || raw === '') return undefined;
  let ids: unknown;
  try {
    ids = JSON.parse(raw);
  } catch {
    ids = undefined;
  }
  if (!Array.isArray(ids) || ids.length > 100 || !ids.every((x) => typeof x === 'string')) {
    throw new ApiError(400, code, `The specified parameter "${name}" is not valid.`);
  }
  return ids as string[];
}

// ---------------------------------------------------------------- lookups

const snapshotNotFound = (id: string) =>
  new ApiError(404, 'InvalidSnapshotId.NotFound', `The specified snapshot ${id} does not exist.`);
const imageNotFound = (id: string) => new ApiError(404, 'InvalidImageId.NotFound', `The specified image ${id} does not exist.`);
const diskNotFound = (id: string) => new ApiError(404, 'InvalidDiskId.NotFound', `The specified disk ${id} does not exist.`);

/** The caller's own snapshot; in the request's region when the request names one (CreateSnapshot/DeleteSnapshot do not). */
function ownSnapshot(ctx: CallContext, id: string, region: string | undefined = ctx.region): Snapshot {
  const s = ctx.state.snapshots.find(
    (x) => x.snapshotId === id && x.accountId === owner(ctx) && (region === undefined || x.region === region),
  );
  if (!s) throw snapshotNotFound(id);
  return s;
}

function ownImage(ctx: CallContext, id: string): Image {
  const i = ctx.state.images.find((x) => x.imageId === id && x.accountId === owner(ctx) && x.region === ctx.region);
  if (!i) throw imageNotFound(id);
  return i;
}

function ownDisk(ctx: CallContext, id: string, region: string | undefined = ctx.region): Disk {
  const d = ctx.state.disks.find(
    (x) => x.diskId === id && x.accountId === owner(ctx) && (region === undefined || x.region === region),
  );
  if (!d) throw diskNotFound(id);
  return d;
}

/** The caller's snapshot, or another account's snapshot in this region that is shared with the caller. */
function visibleSnapshot(ctx: CallContext, id: string): { snapshot: Snapshot; shared: boolean } {
  const own = ctx.state.snapshots.find((x) => x.snapshotId === id && x.accountId === owner(ctx) && x.region === ctx.region);
  if (own) return { snapshot: own, shared: false };
  const other = ctx.state.snapshots.find((x) => x.snapshotId === id && x.region === ctx.region);
  if (other && isSharedWith(ctx.state, owner(ctx), { type: 'Snapshot', snapshot: other }, nowMs(ctx))) {
    return { snapshot: other, shared: true };
  }
  throw snapshotNotFound(id);
}

function visibleImage(ctx: CallContext, id: string): { image: Image; shared: boolean } {
  const own = ctx.state.images.find((x) => x.imageId === id && x.accountId === owner(ctx) && x.region === ctx.region);
  if (own) return { image: own, shared: false };
  const other = ctx.state.images.find((x) => x.imageId === id && x.region === ctx.region);
  if (other && isSharedWith(ctx.state, owner(ctx), { type: 'Image', image: other }, nowMs(ctx))) {
    return { image: other, shared: true };
  }
  throw imageNotFound(id);
}

/** The recipient path: shared, and usable through the owner's share role (the oracle); else the oracle's error. */
function requireRecipientAccess(ctx: CallContext, resource: SharedResource): void {
  const access = recipientAccess(ctx.state, owner(ctx), resource, nowMs(ctx));
  if (!access.ok) fail(access);
}

// ---------------------------------------------------------------- encryption of new resources

function cmkNotEnabled(key: KmsKey): ApiError {
  return new ApiError(403, 'InvalidParameter.KMSKeyId.CMKNotEnabled', `The CMK ${key.keyId} must be in the Enabled state.`);
}

/** A key of the caller given by KMSKeyId (id, ARN-less alias): it must exist in the region and be enabled. */
function callerKey(ctx: CallContext, region: string, keyId: string): KmsKey {
  const key = findKey(ctx.state, owner(ctx), region, keyId);
  if (!key) throw new ApiError(404, 'InvalidKMSKeyId.NotFound', `The specified KMSKeyId ${keyId} is not found.`);
  if (key.state !== 'Enabled') throw cmkNotEnabled(key);
  return key;
}

interface Encryption {
  encrypted: boolean;
  kmsKeyId?: string;
}

/** The service role ECS assumes to use a customer master key of the account, and its system policies (either name). */
export const DISK_ENCRYPT_ROLE = 'AliyunECSDiskEncryptDefaultRole';
export const DISK_ENCRYPT_POLICIES = ['AliyunECSDiskEncryptRolePolicy', 'AliyunECSDiskEncryptDefaultRolePolicy'];

/**
 * ECS may encrypt with a CMK only once AliyunECSDiskEncryptDefaultRole exists in the account with its system policy
 * (the ECS encryption guide; the console creates it the first time a CMK is picked). Checked on CopySnapshot and
 * CopyImage with KMSKeyId; 403 InvalidParameter.KMSKeyId.KMSUnauthorized ("ECS is not authorized to access KMS").
 */
function requireDiskEncryptRole(ctx: CallContext): void {
  const role = findRole(ctx.state, owner(ctx), DISK_ENCRYPT_ROLE);
  const ok = role?.attachedPolicies?.some((p) => p.policyType === 'System' && DISK_ENCRYPT_POLICIES.includes(p.policyName));
  if (!ok) {
    throw new ApiError(403, 'InvalidParameter.KMSKeyId.KMSUnauthorized', `ECS is not authorized to access KMS: the role ${DISK_ENCRYPT_ROLE} is missing or lacks its system policy.`);
  }
}

/**
 * The encryption of a new disk or snapshot copy: KMSKeyId wins; an own source in the same region keeps its key;
 * otherwise an encrypted result (asked for, or from an encrypted source) gets the caller's ECS service key.
 */
function chooseEncryption(
  ctx: CallContext,
  region: string,
  opts: { requested: boolean; keyId?: string; source?: Snapshot; sourceKeyReusable?: boolean },
): Encryption {
  if (opts.keyId) return { encrypted: true, kmsKeyId: callerKey(ctx, region, opts.keyId).keyId };
  const source = opts.source;
  if (source?.encrypted && source.kmsKeyId && opts.sourceKeyReusable) {
    const key = findKey(ctx.state, source.accountId, source.region, source.kmsKeyId);
    if (key && key.state !== 'Enabled') throw cmkNotEnabled(key);
    return { encrypted: true, kmsKeyId: source.kmsKeyId };
  }
  if (opts.requested || source?.encrypted) {
    return { encrypted: true, kmsKeyId: ensureServiceKey(ctx.state, ctx.emu, owner(ctx), region).keyId };
  }
  return { encrypted: false };
}

function newSnapshot(ctx: CallContext, fields: Omit<Snapshot, 'snapshotId' | 'accountId' | 'status' | 'creationTime'>): Snapshot {
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

// ---------------------------------------------------------------- views

function snapshotUsage(ctx: CallContext, s: Snapshot): string {
  return ctx.state.images.some((i) => i.accountId === s.accountId && i.diskMappings.some((m) => m.snapshotId === s.snapshotId))
    ? 'image'
    : 'none';
}

function snapshotView(ctx: CallContext, s: Snapshot, tags: Tags | undefined): Record<string, unknown> {
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
    Usage: snapshotUsage(ctx, s),
    CreationTime: s.creationTime ?? '',
    Tags: tagSet(tags),
  };
}

/** What a recipient sees of a snapshot shared with it: the source id and only the sharedFrom system tag. */
function sharedSnapshotTags(s: Snapshot): Tags {
  return { [SHARED_FROM_TAG]: `${s.accountId}:${s.region}:${s.snapshotId}` };
}

function isImageSelfShared(ctx: CallContext, image: Image): boolean {
  if ((image.sharedWith ?? []).length > 0) return true;
  settleShares(ctx.state, nowMs(ctx));
  return ctx.state.resourceShares.some(
    (s) =>
      s.ownerAccountId === image.accountId &&
      s.status === 'Active' &&
      s.resources.some((r) => r.resourceId === image.imageId && (r.status === 'Associated' || r.status === 'Associating')),
  );
}

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
    IsSelfShared: own && isImageSelfShared(ctx, image) ? 'True' : 'False',
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

// ---------------------------------------------------------------- disks

function createDisk(ctx: CallContext): Record<string, unknown> {
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
        throw new ApiError(400, 'InvalidDiskCategory.NotSupported', `A disk created from a shared encrypted snapshot must be one of ${SHARED_ENCRYPTED_DISK_CATEGORIES.join(', ')}; got ${category}.`);
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
    size = p.Size ? Number(p.Size) : snapshot.size ?? 20;
    snapshotId = snapshot.snapshotId;
  } else {
    if (!p.Size) throw new ApiError(400, 'MissingParameter', 'The input parameter "Size" that is mandatory for processing this request is not supplied.');
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

function describeDisks(ctx: CallContext): Record<string, unknown> {
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

/** DescribeDisks/DescribeSnapshots page either with MaxResults/NextToken or with PageNumber/PageSize. */
function listResponse(ctx: CallContext, views: unknown[], outer: string, inner: string): Record<string, unknown> {
  if (ctx.params.MaxResults || ctx.params.NextToken) {
    const page = pageByToken(views, ctx.params, 10, 100);
    // Documented: with MaxResults/NextToken "the returned TotalCount is invalid". It says nothing true here.
    return { TotalCount: 0, NextToken: page.nextToken, [outer]: { [inner]: page.items } };
  }
  const page = pageByNumber(views, ctx.params, 10, 100);
  return {
    TotalCount: views.length,
    PageNumber: page.pageNumber,
    PageSize: page.pageSize,
    NextToken: '',
    [outer]: { [inner]: page.items },
  };
}

// ---------------------------------------------------------------- snapshots

function createSnapshot(ctx: CallContext): Record<string, unknown> {
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

function copySnapshot(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  checkRegion(ctx, p.DestinationRegionId);
  const { snapshot: source, shared } = visibleSnapshot(ctx, p.SnapshotId);
  if (!snapshotReady(source)) throw snapshotNotReady(source.snapshotId);
  if (shared) {
    // Emulator choice: a shared snapshot is copied within its region, as shared images are (CopyImage doc).
    if (p.DestinationRegionId !== source.region) {
      throw new ApiError(403, 'OperationDenied.SharedResourceCrossRegion', 'A snapshot shared with you can be copied only within its region.');
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

function isSnapshotShared(ctx: CallContext, s: Snapshot): boolean {
  settleShares(ctx.state, nowMs(ctx));
  return ctx.state.resourceShares.some(
    (share) =>
      share.ownerAccountId === s.accountId &&
      share.status === 'Active' &&
      share.resources.some(
        (r) => r.resourceId === s.snapshotId && r.resourceType === 'Snapshot' && r.status !== 'Disassociated' && r.status !== 'Failed',
      ),
  );
}

function deleteSnapshot(ctx: CallContext): Record<string, unknown> {
  const snapshot = ownSnapshot(ctx, ctx.params.SnapshotId, ctx.params.RegionId || undefined);
  if (ctx.state.images.some((i) => i.accountId === snapshot.accountId && i.diskMappings.some((m) => m.snapshotId === snapshot.snapshotId))) {
    throw new ApiError(403, 'SnapshotCreatedImage', 'The snapshot has been used to create a custom image and cannot be deleted.');
  }
  if (isSnapshotShared(ctx, snapshot)) {
    throw new ApiError(403, 'OperationDenied.SnapshotShared', 'The snapshot is shared through Resource Sharing; disassociate it from its resource shares before deleting it.');
  }
  ctx.state.snapshots.splice(ctx.state.snapshots.indexOf(snapshot), 1);
  return {};
}

function describeSnapshots(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  const ids = idArrayParam(ctx, 'SnapshotIds', 'InvalidSnapshotIds.Malformed');
  const filters = tagFilters(ctx);
  const onlyEncrypted = boolParam(p, 'Encrypted');
  const statuses = p.Status && p.Status !== 'all' ? [p.Status] : undefined;
  const inRegion = ctx.state.snapshots.filter((s) => s.region === ctx.region);
  const own = inRegion.filter((s) => s.accountId === owner(ctx)).map((s) => ({ s, tags: s.tags }));
  const shared = inRegion
    .filter((s) => s.accountId !== owner(ctx) && isSharedWith(ctx.state, owner(ctx), { type: 'Snapshot', snapshot: s }, nowMs(ctx)))
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
  return listResponse(ctx, covered.map(({ s, tags }) => snapshotView(ctx, s, tags)), 'Snapshots', 'Snapshot');
}

// ---------------------------------------------------------------- images

function imageMappingsFromParams(ctx: CallContext): ImageDiskMapping[] {
  const mapped = structListParam(ctx.params, 'DiskDeviceMapping');
  const entries = mapped.length > 0 ? mapped : ctx.params.SnapshotId ? [{ SnapshotId: ctx.params.SnapshotId }] : [];
  if (entries.length === 0) {
    throw new ApiError(400, 'MissingParameter', 'One of SnapshotId, DiskDeviceMapping.N.SnapshotId or InstanceId must be given.');
  }
  return entries.map((e, i) => {
    if (!e.SnapshotId) throw new ApiError(400, 'MissingParameter', `DiskDeviceMapping.${i + 1}.SnapshotId is required.`);
    const snapshot = ctx.state.snapshots.find((s) => s.snapshotId === e.SnapshotId && s.region === ctx.region);
    if (snapshot && snapshot.accountId !== owner(ctx) && isSharedWith(ctx.state, owner(ctx), { type: 'Snapshot', snapshot }, nowMs(ctx))) {
      throw new ApiError(403, 'OperationDenied.SharedSnapshot', 'A snapshot shared with you cannot be used to create an image; copy it first.');
    }
    const own = ownSnapshot(ctx, e.SnapshotId);
    if (!snapshotReady(own)) throw snapshotNotReady(own.snapshotId, mapped.length > 0 ? `DiskDeviceMapping.${i + 1}.SnapshotId` : 'SnapshotId');
    const size = e.Size ? Number(e.Size) : own.size;
    return {
      device: e.Device || `/dev/xvd${String.fromCharCode(97 + i)}`,
      snapshotId: own.snapshotId,
      size,
      type: (e.DiskType as 'system' | 'data' | undefined) ?? (i === 0 ? 'system' : 'data'),
    };
  });
}

function createImage(ctx: CallContext): Record<string, unknown> {
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

function copyImage(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  checkRegion(ctx, p.DestinationRegionId);
  const { image: source, shared } = visibleImage(ctx, p.ImageId);
  if (!imageReady(source)) throw imageNotAvailable(source.imageId);
  const ready = readiness(ctx);
  if (shared) {
    if (p.DestinationRegionId !== source.region) {
      throw new ApiError(403, 'OperationDenied.SharedResourceCrossRegion', 'An image shared with you can be copied only within its region.');
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

function deleteImage(ctx: CallContext): Record<string, unknown> {
  const image = ownImage(ctx, ctx.params.ImageId);
  ctx.state.images.splice(ctx.state.images.indexOf(image), 1);
  return {};
}

const OWNER_ALIASES = ['self', 'others', 'system', 'marketplace'];

function describeImages(ctx: CallContext): Record<string, unknown> {
  const p = ctx.params;
  const alias = p.ImageOwnerAlias ?? '';
  if (alias && !OWNER_ALIASES.includes(alias)) {
    throw new ApiError(400, 'InvalidImageOwnerAlias.ValueNotSupported', 'The specified parameter "ImageOwnerAlias" is not valid.');
  }
  const ids = p.ImageId ? p.ImageId.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
  const statuses = !p.Status ? ['Available'] : p.Status.toUpperCase() === 'ALL' ? undefined : p.Status.split(',');
  const filters = tagFilters(ctx);
  const inRegion = ctx.state.images.filter((i) => i.region === ctx.region);
  const own = alias === '' || alias === 'self' ? inRegion.filter((i) => i.accountId === owner(ctx)) : [];
  const others = alias === '' || alias === 'others'
    ? inRegion.filter((i) => i.accountId !== owner(ctx) && isSharedWith(ctx.state, owner(ctx), { type: 'Image', image: i }, nowMs(ctx)))
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

// ---------------------------------------------------------------- image share permissions

const imageShareKey = (ctx: CallContext, imageId: string) => `image-shares:${owner(ctx)}:${ctx.region}:${imageId}`;

function describeImageSharePermission(ctx: CallContext): Record<string, unknown> {
  const image = ownImage(ctx, ctx.params.ImageId);
  // Read-after-write lag: the accounts as they were readLagMs ago.
  const sharedWith = laggedRead(ctx, imageShareKey(ctx, image.imageId), () => image.sharedWith ?? []);
  const accounts = sharedWith.map((s) => ({ AliyunId: s.accountId, SharedTime: s.sharedTime ?? '' }));
  const page = pageByNumber(accounts, ctx.params, 10, 100);
  return {
    ImageId: image.imageId,
    RegionId: image.region,
    TotalCount: accounts.length,
    PageNumber: page.pageNumber,
    PageSize: page.pageSize,
    Accounts: { Account: page.items },
    ShareGroups: { ShareGroup: [] },
  };
}

function checkShareAccount(ctx: CallContext, uid: string): void {
  const account = ctx.state.accounts.find((a) => a.uid === uid);
  if (!account) {
    throw new ApiError(404, 'InvalidAccount.NotFound', `The specified account ${uid} in parameter AddAccount.n or RemoveAccount.n does not exist`);
  }
  if (uid === owner(ctx)) throw new ApiError(404, 'InvalidAccount.Forbbiden', 'You cannot share an image with your own account.');
  const site = (a: { site?: string } | undefined) => a?.site ?? 'china';
  if (site(account) !== site(ctx.state.accounts.find((a) => a.uid === owner(ctx)))) {
    throw new ApiError(403, 'InvalidImageId.BidMismatch', `The account ${uid} is on another site; images cannot be shared between the China site and the international site.`);
  }
}

/**
 * The encryption preconditions of ModifyImageSharePermission for the accounts being added: enabled keys, no service
 * key (unless legacy, then a role with AliyunKMSFullAccess), the share role, trusting each new account.
 */
function checkEncryptedImageShare(ctx: CallContext, image: Image, added: string[]): void {
  const resource: SharedResource = { type: 'Image', image };
  const keyIds = resourceKeyIds(ctx.state, resource);
  if (keyIds.length === 0 || added.length === 0) return;
  const keys = keyIds.map((id) => findKey(ctx.state, image.accountId, image.region, id));
  for (const key of keys) {
    if (key && key.state !== 'Enabled') throw cmkNotEnabled(key);
  }
  const legacy = ctx.state.options.legacyServiceKeySharing;
  const usesService = keys.some((k) => k && isServiceKey(k));
  if (usesService && !legacy) fail(serviceKeyRefusal(resource));
  const role = ctx.state.roles.find((r) => r.accountId === image.accountId && r.roleName === IMAGE_SHARE_ROLE);
  if (!role) {
    throw new ApiError(403, 'AssumeRoleError', `Requires a RAM role of ${IMAGE_SHARE_ROLE} before sharing encrypted image.`);
  }
  if (usesService && !(role.attachedPolicies ?? []).some((p) => p.policyName === LEGACY_SERVICE_KEY_POLICY)) {
    throw new ApiError(403, 'AssumeRoleError', `Role ${IMAGE_SHARE_ROLE} needs ${LEGACY_SERVICE_KEY_POLICY} to share an image encrypted with the ECS service key.`);
  }
  for (const uid of added) {
    const trusted = shareRoleTrusts(ctx.state, image.accountId, IMAGE_SHARE_ROLE, uid);
    if (!trusted.ok) fail(trusted);
  }
  // Documented at share time: the CMK lacks the authorization ECS needs (the role's policies do not grant the keys).
  const usable = keysUsable(ctx.state, resource, IMAGE_SHARE_ROLE, legacy);
  if (!usable.ok) fail(usable);
}

function modifyImageSharePermission(ctx: CallContext): Record<string, unknown> {
  const image = ownImage(ctx, ctx.params.ImageId);
  if (image.status === 'Deprecated') {
    throw new ApiError(403, 'OperationDenied.InvalidImageStatus', 'The image is deprecated and cannot be shared.');
  }
  // Not documented for this call; the harder side: an image still Creating cannot be shared yet.
  if (!imageReady(image)) throw imageNotAvailable(image.imageId);
  // Documented: more than 10 entries -> only the first 10 are processed, the rest ignored without an error.
  const add = [...new Set(listParam(ctx.params, 'AddAccount').slice(0, MAX_IMAGE_SHARE_ACCOUNTS_PER_CALL))];
  const remove = [...new Set(listParam(ctx.params, 'RemoveAccount').slice(0, MAX_IMAGE_SHARE_ACCOUNTS_PER_CALL))];
  [...add, ...remove].forEach((uid) => checkShareAccount(ctx, uid));
  const current = image.sharedWith ?? [];
  const kept = current.filter((s) => !remove.includes(s.accountId));
  const added = add.filter((uid) => !kept.some((s) => s.accountId === uid));
  if (kept.length + added.length > ctx.state.options.imageShareQuota) {
    throw new ApiError(403, 'QuotaExceed.ShareImageUser', `The image can be shared with at most ${ctx.state.options.imageShareQuota} accounts.`);
  }
  const newAccounts = added.filter((uid) => !current.some((s) => s.accountId === uid));
  if (
    newAccounts.length > 0 &&
    !ctx.state.options.fullImageSharing &&
    image.diskMappings.length > 1 &&
    resourceKeyIds(ctx.state, { type: 'Image', image }).length > 0
  ) {
    throw new ApiError(403, 'OperationDeined.FullImage', 'The encrypted image contains multiple snapshots, which do not support share.');
  }
  checkEncryptedImageShare(ctx, image, newAccounts);
  image.sharedWith = [...kept, ...added.map((accountId) => ({ accountId, sharedTime: ctx.emu.nowIso() }))];
  return {};
}

// ---------------------------------------------------------------- tags

const TAGGABLE = ['snapshot', 'image', 'disk'] as const;
type Taggable = { tags?: Tags };

function resourceType(ctx: CallContext): (typeof TAGGABLE)[number] {
  const raw = ctx.params.ResourceType;
  if (!raw) throw new ApiError(404, 'MissingParameter.ResourceType', 'The parameter - ResourceType should not be null');
  const t = raw.toLowerCase() as (typeof TAGGABLE)[number];
  if (!TAGGABLE.includes(t)) {
    throw new ApiError(404, 'InvalidResourceType.NotFound', 'The ResourceType provided does not exist in our records.');
  }
  return t;
}

function taggables(ctx: CallContext, type: (typeof TAGGABLE)[number]): Array<{ id: string; item: Taggable }> {
  const mine = <T extends { accountId: string; region: string }>(xs: T[]) =>
    xs.filter((x) => x.accountId === owner(ctx) && x.region === ctx.region);
  if (type === 'snapshot') return mine(ctx.state.snapshots).map((s) => ({ id: s.snapshotId, item: s }));
  if (type === 'image') return mine(ctx.state.images).map((i) => ({ id: i.imageId, item: i }));
  return mine(ctx.state.disks).map((d) => ({ id: d.diskId, item: d }));
}

function resolveTaggables(ctx: CallContext, type: (typeof TAGGABLE)[number], ids: string[]): Taggable[] {
  if (ids.length === 0) throw new ApiError(404, 'MissingParameter.ResourceIds', 'The parameter - ResourceIds.N should not be null');
  if (ids.length > MAX_TAGGED_RESOURCES_PER_CALL) {
    throw new ApiError(400, 'NumberExceed.ResourceIds', `The ResourceIds parameter's number is exceed , Valid : ${MAX_TAGGED_RESOURCES_PER_CALL}`);
  }
  const all = taggables(ctx, type);
  return ids.map((id) => {
    const found = all.find((t) => t.id === id);
    if (!found) throw new ApiError(404, 'InvalidResourceId.NotFound', 'The specified ResourceIds are not found in our records.');
    return found.item;
  });
}

/** Adds tags to every resource, or to none: each resource's new tag count is checked before any change. */
function applyTags(items: Taggable[], tags: Tags): void {
  const merged = items.map((item) => mergeTags(item.tags, tags));
  items.forEach((item, i) => (item.tags = merged[i]));
}

function removeTagKeys(items: Taggable[], keys: string[] | 'all'): void {
  for (const item of items) {
    if (keys === 'all') item.tags = {};
    else item.tags = Object.fromEntries(Object.entries(item.tags ?? {}).filter(([k]) => !keys.includes(k)));
  }
}

function tagResources(ctx: CallContext): Record<string, unknown> {
  const type = resourceType(ctx);
  const items = resolveTaggables(ctx, type, listParam(ctx.params, 'ResourceId'));
  const tags = parseTags(ctx);
  if (Object.keys(tags).length === 0) throw new ApiError(404, 'MissingParameter.Tags', 'The parameter - Tags should not be null');
  applyTags(items, tags);
  return {};
}

function untagResources(ctx: CallContext): Record<string, unknown> {
  const type = resourceType(ctx);
  const items = resolveTaggables(ctx, type, listParam(ctx.params, 'ResourceId'));
  const keys = listParam(ctx.params, 'TagKey');
  const all = boolParam(ctx.params, 'All');
  if (keys.length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(400, 'NumberExceed.Tags', `The Tags parameter's number is exceed , Valid : ${MAX_TAGS_PER_RESOURCE}`);
  }
  if (all && keys.length > 0) throw new ApiError(403, 'Param.Conflict', 'The specified all is true, but the specified TagKey.N is not empty.');
  removeTagKeys(items, all ? 'all' : keys);
  return {};
}

function listTagResources(ctx: CallContext): Record<string, unknown> {
  const type = resourceType(ctx);
  const ids = listParam(ctx.params, 'ResourceId');
  if (ids.length > MAX_TAGGED_RESOURCES_PER_CALL) {
    throw new ApiError(400, 'NumberExceed.ResourceIds', `The ResourceIds parameter's number is exceed , Valid : ${MAX_TAGGED_RESOURCES_PER_CALL}`);
  }
  const raw = structListParam(ctx.params, 'Tag');
  if (raw.length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(400, 'NumberExceed.Tags', `The Tags parameter's number is exceed , Valid : ${MAX_TAGS_PER_RESOURCE}`);
  }
  // Documented: a Tag.N.Value without its Tag.N.Key is InvalidParameter.TagValue.
  if (raw.some((e) => (e.Key === undefined || e.Key === '') && e.Value !== undefined && e.Value !== '')) {
    throw new ApiError(400, 'InvalidParameter.TagValue', 'The specified Tag.N.Value requires its Tag.N.Key.');
  }
  const filters = tagFilters(ctx);
  const rows = taggables(ctx, type)
    .filter((t) => (ids.length === 0 || ids.includes(t.id)) && matchesTags(t.item.tags, filters))
    .flatMap((t) =>
      Object.entries(t.item.tags ?? {}).map(([TagKey, TagValue]) => ({ ResourceId: t.id, ResourceType: type, TagKey, TagValue })),
    );
  // No MaxResults in this API: a fixed page of tag rows; one resource's rows may straddle two pages.
  const { MaxResults: _ignored, ...params } = ctx.params;
  const page = pageByToken(rows, params, LIST_TAG_PAGE, LIST_TAG_PAGE);
  return { NextToken: page.nextToken, TagResources: { TagResource: page.items } };
}

/** AddTags/RemoveTags: the deprecated single-resource forms. */
function addTags(ctx: CallContext): Record<string, unknown> {
  const items = resolveTaggables(ctx, resourceType(ctx), [ctx.params.ResourceId]);
  applyTags(items, parseTags(ctx));
  return {};
}

function removeTags(ctx: CallContext): Record<string, unknown> {
  const [item] = resolveTaggables(ctx, resourceType(ctx), [ctx.params.ResourceId]);
  const wanted = structListParam(ctx.params, 'Tag');
  // A Tag.N.Value narrows the removal to that exact pair.
  const keys = wanted.filter((w) => w.Key && (w.Value === undefined || item.tags?.[w.Key] === w.Value)).map((w) => w.Key);
  removeTagKeys([item], keys);
  return {};
}

// ---------------------------------------------------------------- authorization resources

function imageArn(ctx: CallContext, id: string | undefined): string[] {
  return [arn(ctx.region, owner(ctx), 'image', id || '*')];
}

function tagTargetArns(ctx: CallContext): string[] {
  const type = (ctx.params.ResourceType ?? '').toLowerCase();
  if (!(TAGGABLE as readonly string[]).includes(type)) return ['*'];
  const ids = ctx.params.ResourceId && !ctx.params['ResourceId.1'] ? [ctx.params.ResourceId] : listParam(ctx.params, 'ResourceId');
  return ids.length ? ids.map((id) => arn(ctx.region, owner(ctx), type as 'snapshot' | 'image' | 'disk', id)) : ['*'];
}

// ---------------------------------------------------------------- authorization condition context (tags)
//
// RAM's tag keys (https://www.alibabacloud.com/help/en/ram/use-cases/use-tags-to-control-access-to-ecs-resources-1):
// `acs:RequestTag/<key>` is each tag the request carries, `acs:ResourceTag/<key>` each tag already on the resource.
// The emulator's readings where RAM does not say:
// - TagResources/AddTags, and CreateSnapshot/CopySnapshot/CreateImage/CopyImage/CreateDisk: RequestTag from Tag.N,
//   as sent (authorization runs before the handler validates them; a key sent twice carries both values).
// - UntagResources/RemoveTags carry RequestTag too, one per removed key (TagKey.N; with All=true every key on the
//   resource; RemoveTags' Tag.N.Key), valued the resource's current value (RemoveTags: the Tag.N.Value sent, if
//   any), else empty. Whether the real cloud does is unverified: this is the harder side, so a guard on
//   RequestTag also catches removals.
// - ResourceTag: per resource (each ResourceId.N judged with its own tags) for the tag calls; for CopySnapshot and
//   CopyImage the source's tags when the caller owns the source (a source shared from another account: none, its
//   tags are the other account's). Create calls have no ResourceTag: the new resource has no tags yet.
// Tag keys in these condition keys are case-sensitive (ECS tag keys are); see conditionKeyMatches in policy.ts.

const REQUEST_TAG = 'acs:RequestTag/';
const RESOURCE_TAG = 'acs:ResourceTag/';
type TagContext = Record<string, string | string[]>;

function addContextValue(out: TagContext, key: string, value: string): void {
  const had = out[key];
  out[key] = had === undefined ? value : [...new Set([...(Array.isArray(had) ? had : [had]), value])];
}

/** RequestTag of Tag.N.Key/Value as sent. */
function requestTagContext(ctx: CallContext): TagContext {
  const out: TagContext = {};
  for (const e of structListParam(ctx.params, 'Tag')) if (e.Key) addContextValue(out, REQUEST_TAG + e.Key, e.Value ?? '');
  return out;
}

/** The caller's own snapshot, image or disk an ARN of `resources` names, in the call's region (undefined for `*`). */
function taggedResourceOf(ctx: CallContext, resourceArn: string): Taggable | undefined {
  const m = /^acs:ecs:([^:]*):(\d+):(snapshot|image|disk)\/(.+)$/.exec(resourceArn);
  if (!m || m[4] === '*' || m[2] !== owner(ctx) || m[1] !== ctx.region) return undefined;
  return taggables(ctx, m[3] as (typeof TAGGABLE)[number]).find((t) => t.id === m[4])?.item;
}

function resourceTagContext(item: Taggable | undefined): TagContext {
  return Object.fromEntries(Object.entries(item?.tags ?? {}).map(([k, v]) => [RESOURCE_TAG + k, v]));
}

/** TagResources/AddTags and the Copy calls: the resource's own tags. */
function resourceTags(ctx: CallContext, resourceArn: string): TagContext {
  return resourceTagContext(taggedResourceOf(ctx, resourceArn));
}

/** UntagResources/RemoveTags: the resource's tags, and a RequestTag for each key the call removes (see above). */
function untagContext(ctx: CallContext, resourceArn: string): TagContext {
  const item = taggedResourceOf(ctx, resourceArn);
  const current = item?.tags ?? {};
  const out = resourceTagContext(item);
  const removed: Array<[string, string | undefined]> = ctx.action === 'RemoveTags'
    ? structListParam(ctx.params, 'Tag').filter((e) => e.Key).map((e) => [e.Key, e.Value])
    : [...listParam(ctx.params, 'TagKey').map((k): [string, undefined] => [k, undefined]),
      ...(boolParam(ctx.params, 'All') ? Object.keys(current).map((k): [string, undefined] => [k, undefined]) : [])];
  for (const [key, sent] of removed) {
    if (key) addContextValue(out, REQUEST_TAG + key, sent ?? (Object.hasOwn(current, key) ? current[key] : ''));
  }
  return out;
}

function snapshotRegionArn(ctx: CallContext): string[] {
  const s = ctx.state.snapshots.find((x) => x.snapshotId === ctx.params.SnapshotId && x.accountId === owner(ctx));
  return [arn(s?.region ?? (ctx.params.RegionId || '*'), owner(ctx), 'snapshot', ctx.params.SnapshotId)];
}

// ---------------------------------------------------------------- regions

/** LocalName of the regions tests use; any other listed region is named after its id. */
const REGION_NAMES: Record<string, string> = {
  'cn-hangzhou': 'China (Hangzhou)',
  'cn-shanghai': 'China (Shanghai)',
  'cn-beijing': 'China (Beijing)',
  'cn-shenzhen': 'China (Shenzhen)',
  'cn-hongkong': 'China (Hong Kong)',
  'ap-southeast-1': 'Singapore',
};

function describeRegions(ctx: CallContext): Record<string, unknown> {
  return {
    Regions: {
      Region: ctx.state.regions.map((r) => ({
        RegionId: r,
        LocalName: REGION_NAMES[r] ?? r,
        RegionEndpoint: r === 'cn-hangzhou' ? 'ecs-cn-hangzhou.aliyuncs.com' : `ecs.${r}.aliyuncs.com`,
        Status: 'available',
      })),
    },
  };
}

type TrackedSpec = ActionSpec & { track?: (ctx: CallContext) => Tracked[] };

const table: Record<string, TrackedSpec> = {
  DescribeRegions: { handler: describeRegions },
  CreateDisk: {
    handler: createDisk,
    required: ['RegionId', 'ZoneId'],
    write: true,
    resources: (c) => [arn(c.region, owner(c), 'disk', '*')],
    conditionContext: requestTagContext,
  },
  DescribeDisks: { handler: describeDisks, required: ['RegionId'] },
  CreateSnapshot: {
    handler: createSnapshot,
    required: ['DiskId'],
    write: true,
    resources: (c) => {
      const d = c.state.disks.find((x) => x.diskId === c.params.DiskId && x.accountId === owner(c));
      return [arn(d?.region ?? '*', owner(c), 'disk', c.params.DiskId), arn(d?.region ?? '*', owner(c), 'snapshot', '*')];
    },
    conditionContext: requestTagContext,
  },
  CopySnapshot: {
    handler: copySnapshot,
    required: ['RegionId', 'SnapshotId', 'DestinationRegionId'],
    write: true,
    resources: (c) => [arn(c.region, owner(c), 'snapshot', c.params.SnapshotId)],
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  DeleteSnapshot: { handler: deleteSnapshot, required: ['SnapshotId'], write: true, resources: snapshotRegionArn },
  DescribeSnapshots: { handler: describeSnapshots, required: ['RegionId'] },
  CreateImage: {
    handler: createImage,
    required: ['RegionId'],
    write: true,
    resources: (c) => imageArn(c, '*'),
    conditionContext: requestTagContext,
  },
  CopyImage: {
    handler: copyImage,
    required: ['RegionId', 'ImageId', 'DestinationRegionId'],
    write: true,
    resources: (c) => imageArn(c, c.params.ImageId),
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  DeleteImage: { handler: deleteImage, required: ['RegionId', 'ImageId'], write: true, resources: (c) => imageArn(c, c.params.ImageId) },
  DescribeImages: { handler: describeImages, required: ['RegionId'] },
  DescribeImageSharePermission: {
    handler: describeImageSharePermission,
    required: ['RegionId', 'ImageId'],
    resources: (c) => imageArn(c, c.params.ImageId),
  },
  ModifyImageSharePermission: {
    handler: modifyImageSharePermission,
    track: (c) => [{ key: imageShareKey(c, c.params.ImageId), read: () => ownImageOrUndefined(c, c.params.ImageId)?.sharedWith ?? [] }],
    required: ['RegionId', 'ImageId'],
    write: true,
    resources: (c) => imageArn(c, c.params.ImageId),
  },
  TagResources: {
    handler: tagResources,
    required: ['RegionId'],
    write: true,
    resources: tagTargetArns,
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  UntagResources: { handler: untagResources, required: ['RegionId'], write: true, resources: tagTargetArns, resourceConditionContext: untagContext },
  ListTagResources: { handler: listTagResources, required: ['RegionId'] },
  AddTags: {
    handler: addTags,
    required: ['RegionId', 'ResourceId'],
    write: true,
    resources: tagTargetArns,
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  RemoveTags: { handler: removeTags, required: ['RegionId', 'ResourceId'], write: true, resources: tagTargetArns, resourceConditionContext: untagContext },
};

function ownImageOrUndefined(ctx: CallContext, id: string): Image | undefined {
  return ctx.state.images.find((x) => x.imageId === id && x.accountId === owner(ctx) && x.region === ctx.region);
}

/**
 * Every action first refuses an unknown region (DescribeRegions excepted) and lets snapshots and images whose
 * creation delay has passed become ready; writes of entities read with lag record their versions.
 */
export const actions: ActionTable = Object.fromEntries(
  Object.entries(table).map(([name, { track, ...spec }]) => {
    const base = track ? recordingWrites(spec, track) : spec;
    return [
      name,
      {
        ...base,
        handler(ctx: CallContext) {
          if (name !== 'DescribeRegions') requireKnownRegion(ctx);
          settleResources(ctx.state, nowMs(ctx));
          return base.handler(ctx);
        },
      },
    ];
  }),
);
