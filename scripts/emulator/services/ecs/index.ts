// ECS 2014-05-26: disks, snapshots, images, tags and image share permissions, each resource scoped to its owner
// account and region. A recipient reaches another account's snapshot or image only through the oracle (../../oracle).
// One file per resource (disks, snapshots, images, image-sharing, tags, regions); what RAM is asked per action is in
// authorization.ts. This file is the action table.
import { recordingWrites, type Tracked } from '../../lag';
import { requireKnownRegion } from '../../state';
import type { ActionSpec, ActionTable, CallContext } from '../../types';
import { authorization } from './authorization';
import { nowMs } from './common';
import { createDisk, deleteDisk, describeDisks } from './disks';
import { copyImage, createImage, deleteImage, describeImages } from './images';
import {
  describeImageSharePermission,
  imageShareKey,
  modifyImageSharePermission,
  ownImageOrUndefined,
} from './image-sharing';
import { settleResources } from './readiness';
import { describeRegions } from './regions';
import { copySnapshot, createSnapshot, deleteSnapshot, describeSnapshots } from './snapshots';
import { addTags, listTagResources, removeTags, tagResources, untagResources } from './tags';

type TrackedSpec = ActionSpec & { track?: (ctx: CallContext) => Tracked[] };

const table: Record<string, TrackedSpec> = {
  DescribeRegions: { handler: describeRegions },
  CreateDisk: { handler: createDisk, required: ['RegionId', 'ZoneId'], write: true },
  DeleteDisk: { handler: deleteDisk, required: ['DiskId'], write: true },
  DescribeDisks: { handler: describeDisks, required: ['RegionId'] },
  CreateSnapshot: { handler: createSnapshot, required: ['DiskId'], write: true },
  CopySnapshot: { handler: copySnapshot, required: ['RegionId', 'SnapshotId', 'DestinationRegionId'], write: true },
  DeleteSnapshot: { handler: deleteSnapshot, required: ['SnapshotId'], write: true },
  DescribeSnapshots: { handler: describeSnapshots, required: ['RegionId'] },
  CreateImage: { handler: createImage, required: ['RegionId'], write: true },
  CopyImage: { handler: copyImage, required: ['RegionId', 'ImageId', 'DestinationRegionId'], write: true },
  DeleteImage: { handler: deleteImage, required: ['RegionId', 'ImageId'], write: true },
  DescribeImages: { handler: describeImages, required: ['RegionId'] },
  DescribeImageSharePermission: { handler: describeImageSharePermission, required: ['RegionId', 'ImageId'] },
  ModifyImageSharePermission: {
    handler: modifyImageSharePermission,
    track: (c) => [
      {
        key: imageShareKey(c, c.params.ImageId),
        read: () => ownImageOrUndefined(c, c.params.ImageId)?.sharedWith ?? [],
      },
    ],
    required: ['RegionId', 'ImageId'],
    write: true,
  },
  TagResources: { handler: tagResources, required: ['RegionId'], write: true },
  UntagResources: { handler: untagResources, required: ['RegionId'], write: true },
  ListTagResources: { handler: listTagResources, required: ['RegionId'] },
  AddTags: { handler: addTags, required: ['RegionId', 'ResourceId'], write: true },
  RemoveTags: { handler: removeTags, required: ['RegionId', 'ResourceId'], write: true },
};

/**
 * Every action first refuses an unknown region (DescribeRegions excepted) and lets snapshots and images whose
 * creation delay has passed become ready; writes of entities read with lag record their versions.
 */
export const actions: ActionTable = Object.fromEntries(
  Object.entries(table).map(([name, { track, ...api }]) => {
    const spec: ActionSpec = { ...api, ...authorization[name] };
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
