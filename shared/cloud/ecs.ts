// ECS adapter: reads snapshots and images, their tags and account shares; tags and shares them.
// Responses are cast with the official SDK's own response models (deep imports of single model files), so the
// product reads exactly the fields @alicloud/ecs20140526 exposes, without loading its 1,150 models at cold start.
import type { DescribeImagesResponseBody } from '@alicloud/ecs20140526/dist/models/DescribeImagesResponseBody';
import { castAs, type CloudApi } from './api';
import type { EcsPort } from '../share/ports';
import type { ResourceType } from '../domain/ids';

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
const IMAGE_SHARE_BATCH = 10;

// DescribeSnapshots/DescribeImages tag filters cover at most 1,000 resources carrying the tag (of any type, the docs
// do not say), and past it they answer with a part, silently. So listings by tag always go through ListTagResources,
// which has no such limit.

function tagMap(tags: Array<{ tagKey?: string; tagValue?: string }> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const t of tags ?? []) if (t.tagKey) out[t.tagKey] = t.tagValue ?? '';
  return out;
}

/** Ids handed out per listing page: what one DescribeSnapshots/DescribeImages call by id takes. */
const TAG_INDEX_BATCH = 100;

/** Where a listing resumes: "l:<last id>:<NextToken>"; anything else (absent, older formats) starts from the beginning. */
function listToken(token: string | undefined): { nextToken?: string; lastId?: string } {
  const m = token ? /^l:([^:]*):(.+)$/.exec(token) : null;
  return m ? { lastId: decodeURIComponent(m[1]) || undefined, nextToken: m[2] } : {};
}

export function chunk<T>(items: T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

export class EcsAdapter implements EcsPort {
  constructor(private readonly api: CloudApi) {}

  /** Snapshots by id (at most 100 a call); absent ids are simply missing from the result. */
  async getSnapshots(region: string, ids: string[]): Promise<SnapshotInfo[]> {
    const out: SnapshotInfo[] = [];
    for (const part of chunk([...new Set(ids)], 100)) {
      let nextToken: string | undefined;
      do {
        const raw = await this.api.call(
          'ecs',
          'DescribeSnapshots',
          { RegionId: region, SnapshotIds: JSON.stringify(part), MaxResults: 100, NextToken: nextToken },
          region,
        );
        const body = await castAs(raw, 'DescribeSnapshotsResponseBody');
        for (const s of body.snapshots?.snapshot ?? []) out.push(this.snapshotInfo(s, region));
        nextToken = body.nextToken || undefined;
      } while (nextToken);
    }
    return out;
  }

  private snapshotInfo(
    s: {
      snapshotId?: string;
      encrypted?: boolean;
      KMSKeyId?: string;
      status?: string;
      tags?: { tag?: Array<{ tagKey?: string; tagValue?: string }> };
    },
    region: string,
  ): SnapshotInfo {
    return {
      id: s.snapshotId!,
      region,
      encrypted: Boolean(s.encrypted),
      kmsKeyId: s.KMSKeyId || undefined,
      status: s.status,
      tags: tagMap(s.tags?.tag),
    };
  }

  /**
   * One page of the ids of own resources carrying a tag key, resumable from `token`: from ListTagResources (never the
   * DescribeSnapshots tag filter, see TAG_FILTER_LIMIT), as many as one describe call by id covers. Tokens are
   * "l:<last id>:<NextToken>" (a token of an older version restarts the listing).
   */
  async taggedIdPage(
    region: string,
    type: ResourceType,
    tagKey: string,
    token?: string,
  ): Promise<{ ids: string[]; next?: string }> {
    return this.viaTagIndex(region, type, tagKey, listToken(token));
  }

  /**
   * Up to TAG_INDEX_BATCH resource ids carrying the tag key (a few ListTagResources pages, so that one describe call
   * covers them). A resource whose tag rows straddle two pages is not repeated: the token carries the last id handed
   * out.
   */
  private async viaTagIndex(
    region: string,
    type: ResourceType,
    tagKey: string,
    start: { nextToken?: string; lastId?: string },
  ): Promise<{ ids: string[]; next?: string }> {
    const ids: string[] = [];
    const seen = new Set<string>(start.lastId ? [start.lastId] : []);
    let nextToken = start.nextToken;
    do {
      const raw = await this.api.call(
        'ecs',
        'ListTagResources',
        { RegionId: region, ResourceType: type, Tag: [{ Key: tagKey }], NextToken: nextToken || undefined },
        region,
      );
      const body = await castAs(raw, 'ListTagResourcesResponseBody');
      for (const t of body.tagResources?.tagResource ?? []) {
        if (t.resourceId && !seen.has(t.resourceId)) {
          seen.add(t.resourceId);
          ids.push(t.resourceId);
        }
      }
      nextToken = body.nextToken || undefined;
      // A ListTagResources page holds at most 50 rows: read another only while one describe call would cover the ids.
    } while (nextToken && ids.length <= TAG_INDEX_BATCH / 2);
    return {
      ids,
      next: nextToken ? `l:${encodeURIComponent(ids[ids.length - 1] ?? start.lastId ?? '')}:${nextToken}` : undefined,
    };
  }

  /** All pages from a start token (see taggedIdPage). */
  async *pages<T>(
    fetch: (token?: string) => Promise<{ items: T[]; next?: string }>,
    token?: string,
  ): AsyncGenerator<{ items: T[]; next?: string }> {
    do {
      const page = await fetch(token);
      yield page;
      token = page.next;
    } while (token);
  }

  async getImage(region: string, imageId: string): Promise<ImageInfo | undefined> {
    const raw = await this.api.call(
      'ecs',
      'DescribeImages',
      {
        RegionId: region,
        ImageId: imageId,
        ImageOwnerAlias: 'self',
        Status: 'Creating,Available,UnAvailable,CreateFailed,Deprecated',
      },
      region,
    );
    const body = await castAs(raw, 'DescribeImagesResponseBody');
    const image = (body.images?.image ?? []).find((i) => i.imageId === imageId);
    return image ? this.imageInfo(image, region) : undefined;
  }

  private imageInfo(
    i: NonNullable<NonNullable<DescribeImagesResponseBody['images']>['image']>[number],
    region: string,
  ): ImageInfo {
    return {
      id: i.imageId!,
      region,
      status: i.status,
      snapshotIds: (i.diskDeviceMappings?.diskDeviceMapping ?? [])
        .map((d) => d.snapshotId)
        .filter((s): s is string => Boolean(s)),
      tags: tagMap(i.tags?.tag),
    };
  }

  /** Own Available images by id (comma-separated, at most 100 a call). */
  async getImages(region: string, ids: string[]): Promise<ImageInfo[]> {
    const out: ImageInfo[] = [];
    for (const part of chunk(ids, 100)) {
      const raw = await this.api.call(
        'ecs',
        'DescribeImages',
        { RegionId: region, ImageId: part.join(','), ImageOwnerAlias: 'self', PageSize: 100 },
        region,
      );
      out.push(
        ...((await castAs(raw, 'DescribeImagesResponseBody')).images?.image ?? []).map((i) =>
          this.imageInfo(i, region),
        ),
      );
    }
    return out;
  }

  /** Every account the image is shared with through ModifyImageSharePermission, read page by page. */
  async imageShareAccounts(region: string, imageId: string): Promise<string[]> {
    const out: string[] = [];
    for (let page = 1; ; page++) {
      const raw = await this.api.call(
        'ecs',
        'DescribeImageSharePermission',
        { RegionId: region, ImageId: imageId, PageNumber: page, PageSize: 100 },
        region,
      );
      const body = await castAs(raw, 'DescribeImageSharePermissionResponseBody');
      const accounts = (body.accounts?.account ?? []).map((a) => String(a.aliyunId ?? '')).filter(Boolean);
      out.push(...accounts);
      if (accounts.length < 100 || out.length >= (body.totalCount ?? 0)) return out;
    }
  }

  /** The region ids DescribeRegions lists (the regions ECS serves for this account). */
  async regions(region: string): Promise<string[]> {
    const raw = await this.api.call('ecs', 'DescribeRegions', { RegionId: region }, region);
    const body = await castAs(raw, 'DescribeRegionsResponseBody');
    return (body.regions?.region ?? []).map((r) => r.regionId).filter((r): r is string => Boolean(r));
  }

  /**
   * Every own resource of the type carrying ANY of the tag keys, with the values of those keys: one ListTagResources
   * listing per key (Tag.N filters combine with AND), merged by resource id.
   */
  async taggedResources(
    region: string,
    type: ResourceType,
    tagKeys: string[],
  ): Promise<Array<{ id: string; tags: Record<string, string> }>> {
    const byId = new Map<string, Record<string, string>>();
    for (const key of new Set(tagKeys)) {
      let nextToken: string | undefined;
      do {
        const raw = await this.api.call(
          'ecs',
          'ListTagResources',
          { RegionId: region, ResourceType: type, Tag: [{ Key: key }], NextToken: nextToken },
          region,
        );
        const body = await castAs(raw, 'ListTagResourcesResponseBody');
        for (const t of body.tagResources?.tagResource ?? []) {
          if (!t.resourceId || t.tagKey !== key) continue;
          const tags = byId.get(t.resourceId) ?? {};
          tags[key] = t.tagValue ?? '';
          byId.set(t.resourceId, tags);
        }
        nextToken = body.nextToken || undefined;
      } while (nextToken);
    }
    return [...byId].map(([id, tags]) => ({ id, tags }));
  }

  async modifyImageShare(
    region: string,
    imageId: string,
    change: { add?: string[]; remove?: string[] },
  ): Promise<void> {
    for (const part of chunk(change.add ?? [], IMAGE_SHARE_BATCH)) {
      await this.api.call(
        'ecs',
        'ModifyImageSharePermission',
        { RegionId: region, ImageId: imageId, AddAccount: part },
        region,
      );
    }
    for (const part of chunk(change.remove ?? [], IMAGE_SHARE_BATCH)) {
      await this.api.call(
        'ecs',
        'ModifyImageSharePermission',
        { RegionId: region, ImageId: imageId, RemoveAccount: part },
        region,
      );
    }
  }

  async tagResource(region: string, type: ResourceType, id: string, tags: Record<string, string>): Promise<void> {
    const entries = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    if (entries.length)
      await this.api.call(
        'ecs',
        'TagResources',
        { RegionId: region, ResourceType: type, ResourceId: [id], Tag: entries },
        region,
      );
  }

  async untagResource(region: string, type: ResourceType, id: string, keys: string[]): Promise<void> {
    if (keys.length)
      await this.api.call(
        'ecs',
        'UntagResources',
        { RegionId: region, ResourceType: type, ResourceId: [id], TagKey: keys },
        region,
      );
  }
}
