// ECS adapter: reads snapshots and images, their tags and account shares; tags and shares them.
// Responses are cast with the official SDK's own response models (deep imports of single model files), so the
// product reads exactly the fields @alicloud/ecs20140526 exposes, without loading its 1,150 models at cold start.
import * as $dara from '@darabonba/typescript';
import { DescribeSnapshotsResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeSnapshotsResponseBody';
import { DescribeImagesResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeImagesResponseBody';
import { DescribeImageSharePermissionResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeImageSharePermissionResponseBody';
import { ListTagResourcesResponseBody } from '@alicloud/ecs20140526/dist/models/ListTagResourcesResponseBody';
import type { CloudApi } from './api';

export type ResourceType = 'snapshot' | 'image';

export interface SnapshotInfo {
  id: string;
  region: string;
  encrypted: boolean;
  kmsKeyId?: string;
  status?: string;
  tags: Record<string, string>;
}

export interface ImageInfo {
  id: string;
  region: string;
  status?: string;
  /** Snapshots named by the image's disk mappings; the image itself carries no key id. */
  snapshotIds: string[];
  tags: Record<string, string>;
}

/** At most 10 accounts a call: ModifyImageSharePermission silently drops the rest. */
export const IMAGE_SHARE_BATCH = 10;

/** DescribeSnapshots/DescribeImages tag filters cover at most this many resources; past it, use ListTagResources. */
export const TAG_FILTER_LIMIT = 1000;

function tagMap(tags: Array<{ tagKey?: string; tagValue?: string }> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.tagKey) out[t.tagKey] = t.tagValue ?? '';
  return out;
}

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class EcsAdapter {
  constructor(private readonly api: CloudApi) {}

  /** Snapshots by id (at most 100 a call); absent ids are simply missing from the result. */
  async getSnapshots(region: string, ids: string[]): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const part of chunk([...new Set(ids)], 100)) {
      let nextToken: string | undefined;
      do {
        const raw = await this.api.call('ecs', 'DescribeSnapshots', { RegionId: region, SnapshotIds: JSON.stringify(part), MaxResults: 100, NextToken: nextToken }, region);
        const body = $dara.cast(raw, new DescribeSnapshotsResponseBody({}));
        for (const s of body.snapshots?.snapshot ?? []) out.push(this.snapshotInfo(s, region));
        nextToken = body.nextToken || undefined;
      } while (nextToken);
    }
    return out;
  }

  private snapshotInfo(s: { snapshotId?: string; encrypted?: boolean; KMSKeyId?: string; status?: string; tags?: { tag?: Array<{ tagKey?: string; tagValue?: string }> } }, region: string): SnapshotInfo {
    return { id: s.snapshotId!, region, encrypted: Boolean(s.encrypted), kmsKeyId: s.KMSKeyId || undefined, status: s.status, tags: tagMap(s.tags?.tag) };
  }

  /**
   * One page of own snapshots carrying a tag key, resumable from `token`. DescribeSnapshots filters by tag up to
   * 1,000 matches; past that its docs send you to ListTagResources, so the listing switches to it (ids, then
   * DescribeSnapshots by id). Tokens are "d:<NextToken>" or "l:<NextToken>".
   */
  async snapshotPage(region: string, tagKey: string, token?: string): Promise<{ items: SnapshotInfo[]; next?: string }> {
    if (token?.startsWith('l:')) return this.viaTagIndex(region, 'snapshot', tagKey, token.slice(2), (ids) => this.getSnapshots(region, ids));
    const raw = await this.api.call('ecs', 'DescribeSnapshots', { RegionId: region, Tag: [{ Key: tagKey }], MaxResults: 100, NextToken: token?.slice(2) || undefined }, region);
    const body = $dara.cast(raw, new DescribeSnapshotsResponseBody({}));
    if (!token && (body.totalCount ?? 0) > TAG_FILTER_LIMIT) return this.snapshotPage(region, tagKey, 'l:');
    return { items: (body.snapshots?.snapshot ?? []).map((s) => this.snapshotInfo(s, region)), next: body.nextToken ? `d:${body.nextToken}` : undefined };
  }

  private async viaTagIndex<T>(region: string, type: ResourceType, tagKey: string, nextToken: string, read: (ids: string[]) => Promise<T[]>): Promise<{ items: T[]; next?: string }> {
    const raw = await this.api.call('ecs', 'ListTagResources', { RegionId: region, ResourceType: type, Tag: [{ Key: tagKey }], NextToken: nextToken || undefined }, region);
    const body = $dara.cast(raw, new ListTagResourcesResponseBody({}));
    const ids = [...new Set((body.tagResources?.tagResource ?? []).map((t) => t.resourceId!).filter(Boolean))];
    return { items: ids.length ? await read(ids) : [], next: body.nextToken ? `l:${body.nextToken}` : undefined };
  }

  /** All pages from a start token (see snapshotPage / imagePage). */
  async *pages<T>(fetch: (token?: string) => Promise<{ items: T[]; next?: string }>, token?: string): AsyncGenerator<{ items: T[]; next?: string }> {
    do {
      const page = await fetch(token);
      yield page;
      token = page.next;
    } while (token);
  }

  async getImage(region: string, imageId: string): Promise<ImageInfo | undefined> {
    const raw = await this.api.call('ecs', 'DescribeImages', { RegionId: region, ImageId: imageId, ImageOwnerAlias: 'self', Status: 'Creating,Available,UnAvailable,CreateFailed,Deprecated' }, region);
    const body = $dara.cast(raw, new DescribeImagesResponseBody({}));
    const image = (body.images?.image ?? []).find((i) => i.imageId === imageId);
    return image ? this.imageInfo(image, region) : undefined;
  }

  private imageInfo(i: NonNullable<NonNullable<DescribeImagesResponseBody['images']>['image']>[number], region: string): ImageInfo {
    return {
      id: i.imageId!,
      region,
      status: i.status,
      snapshotIds: (i.diskDeviceMappings?.diskDeviceMapping ?? []).map((d) => d.snapshotId).filter((s): s is string => Boolean(s)),
      tags: tagMap(i.tags?.tag),
    };
  }

  /** One page of own images carrying a tag key (PageNumber/PageSize: DescribeImages has no NextToken). Tokens "p:<n>" or "l:<NextToken>". */
  async imagePage(region: string, tagKey: string, token?: string): Promise<{ items: ImageInfo[]; next?: string }> {
    if (token?.startsWith('l:')) return this.viaTagIndex(region, 'image', tagKey, token.slice(2), (ids) => this.getImages(region, ids));
    const page = token ? Number(token.slice(2)) : 1;
    const raw = await this.api.call('ecs', 'DescribeImages', { RegionId: region, ImageOwnerAlias: 'self', Tag: [{ Key: tagKey }], PageNumber: page, PageSize: 100 }, region);
    const body = $dara.cast(raw, new DescribeImagesResponseBody({}));
    if (!token && (body.totalCount ?? 0) > TAG_FILTER_LIMIT) return this.imagePage(region, tagKey, 'l:');
    const images = body.images?.image ?? [];
    const more = images.length === 100 && page * 100 < (body.totalCount ?? 0);
    return { items: images.map((i) => this.imageInfo(i, region)), next: more ? `p:${page + 1}` : undefined };
  }

  /** Own images by id (comma-separated, at most 100 a call). */
  async getImages(region: string, ids: string[]): Promise<ImageInfo[]> {
    const out: ImageInfo[] = [];
    for (const part of chunk(ids, 100)) {
      const raw = await this.api.call('ecs', 'DescribeImages', { RegionId: region, ImageId: part.join(','), ImageOwnerAlias: 'self', PageSize: 100 }, region);
      out.push(...($dara.cast(raw, new DescribeImagesResponseBody({})).images?.image ?? []).map((i) => this.imageInfo(i, region)));
    }
    return out;
  }

  /** Every account the image is shared with through ModifyImageSharePermission, read page by page. */
  async imageShareAccounts(region: string, imageId: string): Promise<string[]> {
    const out: string[] = [];
    for (let page = 1; ; page++) {
      const raw = await this.api.call('ecs', 'DescribeImageSharePermission', { RegionId: region, ImageId: imageId, PageNumber: page, PageSize: 100 }, region);
      const body = $dara.cast(raw, new DescribeImageSharePermissionResponseBody({}));
      const accounts = (body.accounts?.account ?? []).map((a) => String(a.aliyunId ?? '')).filter(Boolean);
      out.push(...accounts);
      if (accounts.length < 100 || out.length >= (body.totalCount ?? 0)) return out;
    }
  }

  async modifyImageShare(region: string, imageId: string, change: { add?: string[]; remove?: string[] }): Promise<void> {
    for (const part of chunk(change.add ?? [], IMAGE_SHARE_BATCH)) {
      await this.api.call('ecs', 'ModifyImageSharePermission', { RegionId: region, ImageId: imageId, AddAccount: part }, region);
    }
    for (const part of chunk(change.remove ?? [], IMAGE_SHARE_BATCH)) {
      await this.api.call('ecs', 'ModifyImageSharePermission', { RegionId: region, ImageId: imageId, RemoveAccount: part }, region);
    }
  }

  async tagResource(region: string, type: ResourceType, id: string, tags: Record<string, string>): Promise<void> {
    const entries = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    if (entries.length) await this.api.call('ecs', 'TagResources', { RegionId: region, ResourceType: type, ResourceId: [id], Tag: entries }, region);
  }

  async untagResource(region: string, type: ResourceType, id: string, keys: string[]): Promise<void> {
    if (keys.length) await this.api.call('ecs', 'UntagResources', { RegionId: region, ResourceType: type, ResourceId: [id], TagKey: keys }, region);
  }
}
