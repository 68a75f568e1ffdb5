// ECS tags: Tag.N of create calls and Describe filters, validated as ECS does, and the tag API (TagResources,
// UntagResources, ListTagResources, the deprecated AddTags/RemoveTags) over the caller's snapshots, images and disks.
import { pageByToken } from '../../paging';
import { ApiError, boolParam, listParam, structListParam, type CallContext, type Tags } from '../../types';
import { owner } from './common';

const MAX_TAGS_PER_RESOURCE = 20;
const MAX_TAGGED_RESOURCES_PER_CALL = 50;
/** DescribeSnapshots/DescribeImages tag filters cover this many tagged resources; past it the docs send you to ListTagResources. */
export const TAG_FILTER_COVERAGE = 1000;
/** ListTagResources has no MaxResults: a fixed page of tag rows. */
const LIST_TAG_PAGE = 50;

export function tagSet(tags: Tags | undefined): { Tag: Array<{ TagKey: string; TagValue: string }> } {
  return { Tag: Object.entries(tags ?? {}).map(([TagKey, TagValue]) => ({ TagKey, TagValue })) };
}

function badTagKey(key: string): boolean {
  return key === '' || key.length > 128 || /^(acs:|aliyun)/i.test(key) || /https?:\/\//i.test(key);
}

function badTagValue(value: string): boolean {
  return value.length > 128 || /^acs:/i.test(value) || /https?:\/\//i.test(value);
}

/** Tag.N.Key/Value of a write call, validated as ECS does (reserved prefixes, lengths, 20 at most, unique keys). */
export function parseTags(ctx: CallContext, name = 'Tag'): Tags {
  const entries = structListParam(ctx.params, name);
  if (entries.length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(
      400,
      'NumberExceed.Tags',
      `The Tags parameter's number is exceed , Valid : ${MAX_TAGS_PER_RESOURCE}`,
    );
  }
  const tags: Tags = {};
  for (const e of entries) {
    const key = e.Key ?? '';
    const value = e.Value ?? '';
    if (badTagKey(key)) throw new ApiError(400, 'InvalidTagKey.Malformed', 'The specified Tag.n.Key is not valid.');
    if (badTagValue(value))
      throw new ApiError(400, 'InvalidTagValue.Malformed', 'The specified Tag.n.Value is not valid.');
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
export function tagFilters(ctx: CallContext): TagFilter[] {
  return structListParam(ctx.params, 'Tag').map((e) => {
    if (e.Key === undefined || e.Key === '') {
      throw new ApiError(400, 'InvalidTagKey.Malformed', 'The specified Tag.n.Key is not valid.');
    }
    return { key: e.Key, value: e.Value };
  });
}

export function matchesTags(tags: Tags | undefined, filters: TagFilter[]): boolean {
  return filters.every(
    (f) => tags !== undefined && f.key in tags && (f.value === undefined || tags[f.key] === f.value),
  );
}

function mergeTags(existing: Tags | undefined, added: Tags): Tags {
  const merged = { ...(existing ?? {}), ...added };
  if (Object.keys(merged).length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(400, 'OperationDenied.QuotaExceed', 'The quota of tags on resource is beyond permitted range.');
  }
  return merged;
}

// ---------------------------------------------------------------- the tag API

export const TAGGABLE = ['snapshot', 'image', 'disk'] as const;
export type Taggable = { tags?: Tags };

function resourceType(ctx: CallContext): (typeof TAGGABLE)[number] {
  const raw = ctx.params.ResourceType;
  if (!raw) throw new ApiError(404, 'MissingParameter.ResourceType', 'The parameter - ResourceType should not be null');
  const t = raw.toLowerCase() as (typeof TAGGABLE)[number];
  if (!TAGGABLE.includes(t)) {
    throw new ApiError(404, 'InvalidResourceType.NotFound', 'The ResourceType provided does not exist in our records.');
  }
  return t;
}

export function taggables(ctx: CallContext, type: (typeof TAGGABLE)[number]): Array<{ id: string; item: Taggable }> {
  const mine = <T extends { accountId: string; region: string }>(xs: T[]) =>
    xs.filter((x) => x.accountId === owner(ctx) && x.region === ctx.region);
  if (type === 'snapshot') return mine(ctx.state.snapshots).map((s) => ({ id: s.snapshotId, item: s }));
  if (type === 'image') return mine(ctx.state.images).map((i) => ({ id: i.imageId, item: i }));
  return mine(ctx.state.disks).map((d) => ({ id: d.diskId, item: d }));
}

function resolveTaggables(ctx: CallContext, type: (typeof TAGGABLE)[number], ids: string[]): Taggable[] {
  if (ids.length === 0)
    throw new ApiError(404, 'MissingParameter.ResourceIds', 'The parameter - ResourceIds.N should not be null');
  if (ids.length > MAX_TAGGED_RESOURCES_PER_CALL) {
    throw new ApiError(
      400,
      'NumberExceed.ResourceIds',
      `The ResourceIds parameter's number is exceed , Valid : ${MAX_TAGGED_RESOURCES_PER_CALL}`,
    );
  }
  const all = taggables(ctx, type);
  return ids.map((id) => {
    const found = all.find((t) => t.id === id);
    if (!found)
      throw new ApiError(404, 'InvalidResourceId.NotFound', 'The specified ResourceIds are not found in our records.');
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

export function tagResources(ctx: CallContext): Record<string, unknown> {
  const type = resourceType(ctx);
  const items = resolveTaggables(ctx, type, listParam(ctx.params, 'ResourceId'));
  const tags = parseTags(ctx);
  if (Object.keys(tags).length === 0)
    throw new ApiError(404, 'MissingParameter.Tags', 'The parameter - Tags should not be null');
  applyTags(items, tags);
  return {};
}

export function untagResources(ctx: CallContext): Record<string, unknown> {
  const type = resourceType(ctx);
  const items = resolveTaggables(ctx, type, listParam(ctx.params, 'ResourceId'));
  const keys = listParam(ctx.params, 'TagKey');
  const all = boolParam(ctx.params, 'All');
  if (keys.length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(
      400,
      'NumberExceed.Tags',
      `The Tags parameter's number is exceed , Valid : ${MAX_TAGS_PER_RESOURCE}`,
    );
  }
  if (all && keys.length > 0)
    throw new ApiError(403, 'Param.Conflict', 'The specified all is true, but the specified TagKey.N is not empty.');
  removeTagKeys(items, all ? 'all' : keys);
  return {};
}

export function listTagResources(ctx: CallContext): Record<string, unknown> {
  const type = resourceType(ctx);
  const ids = listParam(ctx.params, 'ResourceId');
  if (ids.length > MAX_TAGGED_RESOURCES_PER_CALL) {
    throw new ApiError(
      400,
      'NumberExceed.ResourceIds',
      `The ResourceIds parameter's number is exceed , Valid : ${MAX_TAGGED_RESOURCES_PER_CALL}`,
    );
  }
  const raw = structListParam(ctx.params, 'Tag');
  if (raw.length > MAX_TAGS_PER_RESOURCE) {
    throw new ApiError(
      400,
      'NumberExceed.Tags',
      `The Tags parameter's number is exceed , Valid : ${MAX_TAGS_PER_RESOURCE}`,
    );
  }
  // Documented: a Tag.N.Value without its Tag.N.Key is InvalidParameter.TagValue.
  if (raw.some((e) => (e.Key === undefined || e.Key === '') && e.Value !== undefined && e.Value !== '')) {
    throw new ApiError(400, 'InvalidParameter.TagValue', 'The specified Tag.N.Value requires its Tag.N.Key.');
  }
  const filters = tagFilters(ctx);
  const rows = taggables(ctx, type)
    .filter((t) => (ids.length === 0 || ids.includes(t.id)) && matchesTags(t.item.tags, filters))
    .flatMap((t) =>
      Object.entries(t.item.tags ?? {}).map(([TagKey, TagValue]) => ({
        ResourceId: t.id,
        ResourceType: type,
        TagKey,
        TagValue,
      })),
    );
  // No MaxResults in this API: a fixed page of tag rows; one resource's rows may straddle two pages.
  const { MaxResults: _ignored, ...params } = ctx.params;
  const page = pageByToken(rows, params, LIST_TAG_PAGE, LIST_TAG_PAGE);
  return { NextToken: page.nextToken, TagResources: { TagResource: page.items } };
}

/** AddTags/RemoveTags: the deprecated single-resource forms. */
export function addTags(ctx: CallContext): Record<string, unknown> {
  const items = resolveTaggables(ctx, resourceType(ctx), [ctx.params.ResourceId]);
  applyTags(items, parseTags(ctx));
  return {};
}

export function removeTags(ctx: CallContext): Record<string, unknown> {
  const [item] = resolveTaggables(ctx, resourceType(ctx), [ctx.params.ResourceId]);
  const wanted = structListParam(ctx.params, 'Tag');
  // A Tag.N.Value narrows the removal to that exact pair.
  const keys = wanted
    .filter((w) => w.Key && (w.Value === undefined || item.tags?.[w.Key] === w.Value))
    .map((w) => w.Key);
  removeTagKeys([item], keys);
  return {};
}
