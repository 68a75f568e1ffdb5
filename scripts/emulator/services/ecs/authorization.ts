// What RAM is asked for each ECS action: the resource ARNs it acts on and the condition keys (the tags) it carries.
// The RAM action is ecs:<Action> throughout; actions absent here are authorized on "*" with no extra keys.
import { boolParam, listParam, structListParam, type ActionAuthorization, type CallContext } from '../../types';
import { arn, owner } from './common';
import { TAGGABLE, taggables, type Taggable } from './tags';

function imageArn(ctx: CallContext, id: string | undefined): string[] {
  return [arn(ctx.region, owner(ctx), 'image', id || '*')];
}

function tagTargetArns(ctx: CallContext): string[] {
  const type = (ctx.params.ResourceType ?? '').toLowerCase();
  if (!(TAGGABLE as readonly string[]).includes(type)) return ['*'];
  const ids =
    ctx.params.ResourceId && !ctx.params['ResourceId.1']
      ? [ctx.params.ResourceId]
      : listParam(ctx.params, 'ResourceId');
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
  for (const e of structListParam(ctx.params, 'Tag'))
    if (e.Key) addContextValue(out, REQUEST_TAG + e.Key, e.Value ?? '');
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
  const removed: Array<[string, string | undefined]> =
    ctx.action === 'RemoveTags'
      ? structListParam(ctx.params, 'Tag')
          .filter((e) => e.Key)
          .map((e) => [e.Key, e.Value])
      : [
          ...listParam(ctx.params, 'TagKey').map((k): [string, undefined] => [k, undefined]),
          ...(boolParam(ctx.params, 'All') ? Object.keys(current).map((k): [string, undefined] => [k, undefined]) : []),
        ];
  for (const [key, sent] of removed) {
    if (key) addContextValue(out, REQUEST_TAG + key, sent ?? (Object.hasOwn(current, key) ? current[key] : ''));
  }
  return out;
}

function snapshotRegionArn(ctx: CallContext): string[] {
  const s = ctx.state.snapshots.find((x) => x.snapshotId === ctx.params.SnapshotId && x.accountId === owner(ctx));
  return [arn(s?.region ?? (ctx.params.RegionId || '*'), owner(ctx), 'snapshot', ctx.params.SnapshotId)];
}

export const authorization: Record<string, ActionAuthorization> = {
  CreateDisk: { resources: (c) => [arn(c.region, owner(c), 'disk', '*')], conditionContext: requestTagContext },
  DeleteDisk: {
    resources: (c) => [
      arn(
        c.state.disks.find((x) => x.diskId === c.params.DiskId && x.accountId === owner(c))?.region ?? '*',
        owner(c),
        'disk',
        c.params.DiskId,
      ),
    ],
  },
  CreateSnapshot: {
    resources: (c) => {
      const d = c.state.disks.find((x) => x.diskId === c.params.DiskId && x.accountId === owner(c));
      return [
        arn(d?.region ?? '*', owner(c), 'disk', c.params.DiskId),
        arn(d?.region ?? '*', owner(c), 'snapshot', '*'),
      ];
    },
    conditionContext: requestTagContext,
  },
  CopySnapshot: {
    resources: (c) => [arn(c.region, owner(c), 'snapshot', c.params.SnapshotId)],
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  DeleteSnapshot: { resources: snapshotRegionArn },
  CreateImage: { resources: (c) => imageArn(c, '*'), conditionContext: requestTagContext },
  CopyImage: {
    resources: (c) => imageArn(c, c.params.ImageId),
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  DeleteImage: { resources: (c) => imageArn(c, c.params.ImageId) },
  DescribeImageSharePermission: { resources: (c) => imageArn(c, c.params.ImageId) },
  ModifyImageSharePermission: { resources: (c) => imageArn(c, c.params.ImageId) },
  TagResources: {
    resources: tagTargetArns,
    conditionContext: requestTagContext,
    resourceConditionContext: resourceTags,
  },
  UntagResources: { resources: tagTargetArns, resourceConditionContext: untagContext },
  AddTags: { resources: tagTargetArns, conditionContext: requestTagContext, resourceConditionContext: resourceTags },
  RemoveTags: { resources: tagTargetArns, resourceConditionContext: untagContext },
};
