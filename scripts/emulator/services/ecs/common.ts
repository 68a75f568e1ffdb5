// Helpers every ECS file uses: the caller and the clock, ARNs, ids in JSON array parameters, list paging, and the
// lookups of the caller's own resources and of those shared with it (through the recipient oracle).
import { isSharedWith, recipientAccess, type Access, type SharedResource } from '../../oracle';
import { pageByNumber, pageByToken } from '../../paging';
import { ApiError, type CallContext, type Disk, type Image, type Snapshot } from '../../types';

export const owner = (ctx: CallContext) => ctx.caller.accountId;
export const nowMs = (ctx: CallContext) => ctx.emu.now().getTime();

export function fail(access: Access): never {
  if (access.ok) throw new Error('fail() called with an allowed access');
  throw new ApiError(access.status, access.code, access.message);
}

export function arn(region: string, accountId: string, kind: 'snapshot' | 'image' | 'disk', id: string): string {
  return `acs:ecs:${region}:${accountId}:${kind}/${id}`;
}

export const snapshotNotReady = (id: string, param = 'SnapshotId') =>
  new ApiError(403, 'InvalidSnapshotId.NotReady', `The specified snapshot ${id} (${param}) has not completed yet.`);
export const imageNotAvailable = (id: string) =>
  new ApiError(400, 'IncorrectImageStatus', `The image ${id} is not available.`);

/** JSON array string of ids (SnapshotIds, DiskIds); undefined when absent. */
export function idArrayParam(ctx: CallContext, name: string, code: string): string[] | undefined {
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

/** DescribeDisks/DescribeSnapshots page either with MaxResults/NextToken or with PageNumber/PageSize. */
export function listResponse(
  ctx: CallContext,
  views: unknown[],
  outer: string,
  inner: string,
): Record<string, unknown> {
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

// ---------------------------------------------------------------- lookups

export const snapshotNotFound = (id: string) =>
  new ApiError(404, 'InvalidSnapshotId.NotFound', `The specified snapshot ${id} does not exist.`);
const imageNotFound = (id: string) =>
  new ApiError(404, 'InvalidImageId.NotFound', `The specified image ${id} does not exist.`);
const diskNotFound = (id: string) =>
  new ApiError(404, 'InvalidDiskId.NotFound', `The specified disk ${id} does not exist.`);

/** The caller's own snapshot; in the request's region when the request names one (CreateSnapshot/DeleteSnapshot do not). */
export function ownSnapshot(ctx: CallContext, id: string, region: string | undefined = ctx.region): Snapshot {
  const s = ctx.state.snapshots.find(
    (x) => x.snapshotId === id && x.accountId === owner(ctx) && (region === undefined || x.region === region),
  );
  if (!s) throw snapshotNotFound(id);
  return s;
}

export function ownImage(ctx: CallContext, id: string): Image {
  const i = ctx.state.images.find((x) => x.imageId === id && x.accountId === owner(ctx) && x.region === ctx.region);
  if (!i) throw imageNotFound(id);
  return i;
}

export function ownDisk(ctx: CallContext, id: string, region: string | undefined = ctx.region): Disk {
  const d = ctx.state.disks.find(
    (x) => x.diskId === id && x.accountId === owner(ctx) && (region === undefined || x.region === region),
  );
  if (!d) throw diskNotFound(id);
  return d;
}

/** The caller's snapshot, or another account's snapshot in this region that is shared with the caller. */
export function visibleSnapshot(ctx: CallContext, id: string): { snapshot: Snapshot; shared: boolean } {
  const own = ctx.state.snapshots.find(
    (x) => x.snapshotId === id && x.accountId === owner(ctx) && x.region === ctx.region,
  );
  if (own) return { snapshot: own, shared: false };
  const other = ctx.state.snapshots.find((x) => x.snapshotId === id && x.region === ctx.region);
  if (other && isSharedWith(ctx.state, owner(ctx), { type: 'Snapshot', snapshot: other }, nowMs(ctx))) {
    return { snapshot: other, shared: true };
  }
  throw snapshotNotFound(id);
}

export function visibleImage(ctx: CallContext, id: string): { image: Image; shared: boolean } {
  const own = ctx.state.images.find((x) => x.imageId === id && x.accountId === owner(ctx) && x.region === ctx.region);
  if (own) return { image: own, shared: false };
  const other = ctx.state.images.find((x) => x.imageId === id && x.region === ctx.region);
  if (other && isSharedWith(ctx.state, owner(ctx), { type: 'Image', image: other }, nowMs(ctx))) {
    return { image: other, shared: true };
  }
  throw imageNotFound(id);
}

/** The recipient path: shared, and usable through the owner's share role (the oracle); else the oracle's error. */
export function requireRecipientAccess(ctx: CallContext, resource: SharedResource): void {
  const access = recipientAccess(ctx.state, owner(ctx), resource, nowMs(ctx));
  if (!access.ok) fail(access);
}
