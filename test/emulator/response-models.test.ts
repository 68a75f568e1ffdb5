// Every ECS response field the product reads must exist in the SDK's response model (the SDK drops unknown keys
// without a word) and must come back filled from a real SDK call against the emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import type { EmulatorState } from '../../scripts/emulator/types';
import { CMK1, IMG, MEMBER, OWNER, REGION, SNAP, baseState, start, type Started } from './share-fixture';

type ModelClass = { names(): Record<string, string>; types(): Record<string, unknown> };

/** Walks a dotted path ("a.b[].c") through the model classes; returns the wire names met, or throws on a missing field. */
function modelPath(root: ModelClass, path: string): string[] {
  const wire: string[] = [];
  let current: ModelClass | undefined = root;
  for (const raw of path.split('.')) {
    const field = raw.replace(/\[\]$/, '');
    if (!current) throw new Error(`${path}: ${field} is below a scalar`);
    const name = current.names()[field];
    if (!name) throw new Error(`${path}: the model has no field ${field}`);
    wire.push(name);
    const type = current.types()[field] as unknown;
    const next =
      typeof type === 'object' && type !== null && 'itemType' in type ? (type as { itemType: unknown }).itemType : type;
    current = typeof next === 'function' ? (next as unknown as ModelClass) : undefined;
  }
  return wire;
}

/** The value at a dotted path of an SDK response body, taking the first element of each array. */
function valueAt(body: unknown, path: string): unknown {
  let v: any = body;
  for (const raw of path.split('.')) {
    v = v?.[raw.replace(/\[\]$/, '')];
    if (raw.endsWith('[]')) v = Array.isArray(v) ? v[0] : undefined;
  }
  return v;
}

let s: Started;
const bodies: Record<string, unknown> = {};

function arrangeState(): EmulatorState {
  const st = baseState();
  const o = OWNER.uid;
  // 51 tagged snapshots: one more than a ListTagResources page, so that NextToken is filled too.
  const extra = Array.from({ length: 51 }, (_, i) => ({
    snapshotId: `s-model${String(i).padStart(14, '0')}`,
    accountId: o,
    region: REGION,
    encrypted: true,
    kmsKeyId: CMK1,
    status: 'accomplished' as const,
    size: 20,
    tags: { 'share-with': MEMBER.uid },
  }));
  st.snapshots = [...extra, ...st.snapshots!];
  st.images!.find((i) => i.imageId === IMG.cmk1)!.tags = { 'share-with': MEMBER.uid };
  st.images!.find((i) => i.imageId === IMG.cmk1)!.sharedWith = [
    { accountId: MEMBER.uid, sharedTime: '2026-11-02T00:00:00Z' },
  ];
  return st;
}

beforeAll(async () => {
  s = await start(arrangeState());
  const ecs = s.as(OWNER).ecs;
  bodies.DescribeSnapshots = (
    await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, maxResults: 1 }))
  ).body;
  bodies.DescribeImages = (
    await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: REGION, imageId: IMG.cmk1 }))
  ).body;
  bodies.DescribeImageSharePermission = (
    await ecs.describeImageSharePermission(
      new $Ecs.DescribeImageSharePermissionRequest({ regionId: REGION, imageId: IMG.cmk1 }),
    )
  ).body;
  bodies.ListTagResources = (
    await ecs.listTagResources(
      new $Ecs.ListTagResourcesRequest({
        regionId: REGION,
        resourceType: 'snapshot',
        tag: [new $Ecs.ListTagResourcesRequestTag({ key: 'share-with' })],
      }),
    )
  ).body;
});
afterAll(async () => {
  await s.emu.stop();
});

const MODELS: Record<string, ModelClass> = {
  DescribeSnapshots: $Ecs.DescribeSnapshotsResponseBody,
  DescribeImages: $Ecs.DescribeImagesResponseBody,
  DescribeImageSharePermission: $Ecs.DescribeImageSharePermissionResponseBody,
  ListTagResources: $Ecs.ListTagResourcesResponseBody,
};

const FIELDS: Array<[string, string]> = [
  ['DescribeSnapshots', 'snapshots.snapshot[].snapshotId'],
  ['DescribeSnapshots', 'snapshots.snapshot[].encrypted'],
  ['DescribeSnapshots', 'snapshots.snapshot[].KMSKeyId'],
  ['DescribeSnapshots', 'snapshots.snapshot[].tags.tag[].tagKey'],
  ['DescribeSnapshots', 'snapshots.snapshot[].tags.tag[].tagValue'],
  ['DescribeSnapshots', 'nextToken'],
  ['DescribeSnapshots', 'totalCount'],
  ['DescribeImages', 'images.image[].imageId'],
  ['DescribeImages', 'images.image[].imageOwnerId'],
  ['DescribeImages', 'images.image[].isSelfShared'],
  ['DescribeImages', 'images.image[].diskDeviceMappings.diskDeviceMapping[].snapshotId'],
  ['DescribeImages', 'images.image[].tags.tag[].tagKey'],
  ['DescribeImages', 'images.image[].tags.tag[].tagValue'],
  ['DescribeImages', 'totalCount'],
  ['DescribeImageSharePermission', 'accounts.account[].aliyunId'],
  ['DescribeImageSharePermission', 'totalCount'],
  ['ListTagResources', 'tagResources.tagResource[].resourceId'],
  ['ListTagResources', 'tagResources.tagResource[].tagKey'],
  ['ListTagResources', 'tagResources.tagResource[].tagValue'],
  ['ListTagResources', 'nextToken'],
];

describe('response fields the product reads', () => {
  it.each(FIELDS)('%s %s is in the SDK model', (action, path) => {
    expect(() => modelPath(MODELS[action], path)).not.toThrow();
  });

  it.each(FIELDS)('%s %s comes back filled through the SDK', (action, path) => {
    const v = valueAt(bodies[action], path);
    expect(v).toBeDefined();
    expect(v).not.toBe('');
  });

  it('casts the values the product compares to the expected types and values', () => {
    expect(valueAt(bodies.DescribeSnapshots, 'snapshots.snapshot[].KMSKeyId')).toBe(CMK1);
    expect(valueAt(bodies.DescribeSnapshots, 'snapshots.snapshot[].encrypted')).toBe(true);
    expect(valueAt(bodies.DescribeImages, 'images.image[].isSelfShared')).toBe('True');
    // imageOwnerId is a number in the SDK model: compare it as String(imageOwnerId).
    expect(String(valueAt(bodies.DescribeImages, 'images.image[].imageOwnerId'))).toBe(OWNER.uid);
    expect(valueAt(bodies.DescribeImages, 'images.image[].diskDeviceMappings.diskDeviceMapping[].snapshotId')).toBe(
      SNAP.cmk1,
    );
    expect(valueAt(bodies.DescribeImageSharePermission, 'accounts.account[].aliyunId')).toBe(MEMBER.uid);
  });

  it('detects a field that the model lacks (the walk itself can fail)', () => {
    expect(() => modelPath(MODELS.DescribeImages, 'images.image[].KMSKeyId')).toThrow(/no field KMSKeyId/);
  });
});
