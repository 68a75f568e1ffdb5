// ECS image share permissions: DescribeImageSharePermission (read with lag) and ModifyImageSharePermission, whose
// encryption preconditions are the recipient oracle's (imageShareAccess).
import { imageShareAccess, resourceKeyIds } from '../../oracle';
import { laggedRead } from '../../lag';
import { pageByNumber } from '../../paging';
import { ApiError, listParam, type CallContext, type Image } from '../../types';
import { fail, imageNotAvailable, owner, ownImage } from './common';
import { imageReady } from './readiness';

const MAX_IMAGE_SHARE_ACCOUNTS_PER_CALL = 10;

export const imageShareKey = (ctx: CallContext, imageId: string) =>
  `image-shares:${owner(ctx)}:${ctx.region}:${imageId}`;

export function describeImageSharePermission(ctx: CallContext): Record<string, unknown> {
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
    throw new ApiError(
      404,
      'InvalidAccount.NotFound',
      `The specified account ${uid} in parameter AddAccount.n or RemoveAccount.n does not exist`,
    );
  }
  if (uid === owner(ctx))
    throw new ApiError(404, 'InvalidAccount.Forbbiden', 'You cannot share an image with your own account.');
  const site = (a: { site?: string } | undefined) => a?.site ?? 'china';
  if (site(account) !== site(ctx.state.accounts.find((a) => a.uid === owner(ctx)))) {
    throw new ApiError(
      403,
      'InvalidImageId.BidMismatch',
      `The account ${uid} is on another site; images cannot be shared between the China site and the international site.`,
    );
  }
}

export function modifyImageSharePermission(ctx: CallContext): Record<string, unknown> {
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
    throw new ApiError(
      403,
      'QuotaExceed.ShareImageUser',
      `The image can be shared with at most ${ctx.state.options.imageShareQuota} accounts.`,
    );
  }
  const newAccounts = added.filter((uid) => !current.some((s) => s.accountId === uid));
  if (
    newAccounts.length > 0 &&
    !ctx.state.options.fullImageSharing &&
    image.diskMappings.length > 1 &&
    resourceKeyIds(ctx.state, { type: 'Image', image }).length > 0
  ) {
    throw new ApiError(
      403,
      'OperationDeined.FullImage',
      'The encrypted image contains multiple snapshots, which do not support share.',
    );
  }
  const access = imageShareAccess(ctx.state, image, newAccounts);
  if (!access.ok) fail(access);
  image.sharedWith = [...kept, ...added.map((accountId) => ({ accountId, sharedTime: ctx.emu.nowIso() }))];
  return {};
}

export function ownImageOrUndefined(ctx: CallContext, id: string): Image | undefined {
  return ctx.state.images.find((x) => x.imageId === id && x.accountId === owner(ctx) && x.region === ctx.region);
}
