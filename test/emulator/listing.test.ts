// Listing by tag: DescribeSnapshots/DescribeImages tag filters cover at most 1,000 tagged resources (documented) and
// answer with a part past that, silently; ListTagResources pages 50 tag rows with no MaxResults and refuses a value
// without its key. The product's listings go through ListTagResources, so they stay whole past 1,000.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import type { Image, Snapshot } from '../../scripts/emulator/types';
import { CloudApi } from '../../shared/cloud/api';
import { EcsAdapter } from '../../shared/cloud/ecs';
import { OWNER, REGION, baseState, errorOf, ideal, start, type Started } from './share-fixture';

const MANY = 1200;
let s: Started;
let adapter: EcsAdapter;
beforeAll(async () => {
  s = await start();
  adapter = new EcsAdapter(
    new CloudApi({
      endpointOverride: s.emu.endpoint,
      credentials: { accessKeyId: OWNER.accessKeyId, accessKeySecret: OWNER.accessKeySecret },
    }),
  );
});
afterAll(() => s.emu.stop());

const ecs = () => s.as(OWNER).ecs;
const pad = (i: number) => String(i).padStart(12, '0');

function taggedSnapshots(
  n: number,
  tags: (i: number) => Record<string, string> = () => ({ 'share-with': 'x' }),
): Snapshot[] {
  return Array.from({ length: n }, (_, i) => ({
    snapshotId: `s-many${pad(i)}`,
    accountId: OWNER.uid,
    region: REGION,
    encrypted: false,
    status: 'accomplished' as const,
    tags: tags(i),
  }));
}

function taggedImages(n: number): Image[] {
  return Array.from({ length: n }, (_, i) => ({
    imageId: `m-many${pad(i)}`,
    accountId: OWNER.uid,
    region: REGION,
    status: 'Available' as const,
    tags: { 'share-with': 'x' },
    diskMappings: [{ device: '/dev/xvda', snapshotId: `s-many${pad(i)}` }],
  }));
}

async function describeAllByTag(): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  do {
    const r = await ecs().describeSnapshots(
      new $Ecs.DescribeSnapshotsRequest({
        regionId: REGION,
        tag: [new $Ecs.DescribeSnapshotsRequestTag({ key: 'share-with' })],
        maxResults: 100,
        nextToken: token,
      }),
    );
    ids.push(...(r.body!.snapshots?.snapshot ?? []).map((x) => x.snapshotId!));
    token = r.body!.nextToken || undefined;
  } while (token);
  return ids;
}

describe('tag filters of DescribeSnapshots and DescribeImages', () => {
  it('return only the first 1,000 of 1,200 tagged snapshots, without saying so', async () => {
    s.emu.setState(ideal({ ...baseState(), snapshots: taggedSnapshots(MANY) }));
    expect((await describeAllByTag()).length).toBe(1000);
  });

  it('cap DescribeImages at 1,000 too, TotalCount included', async () => {
    s.emu.setState(ideal({ ...baseState(), snapshots: taggedSnapshots(MANY, () => ({})), images: taggedImages(1050) }));
    const r = await ecs().describeImages(
      new $Ecs.DescribeImagesRequest({
        regionId: REGION,
        imageOwnerAlias: 'self',
        tag: [new $Ecs.DescribeImagesRequestTag({ key: 'share-with' })],
        pageSize: 100,
        pageNumber: 11,
      }),
    );
    expect([r.body!.totalCount, r.body!.images?.image?.length ?? 0]).toEqual([1000, 0]);
  });
});

describe('ListTagResources', () => {
  it("pages 50 tag rows, whatever MaxResults says, and one resource's rows may straddle two pages", async () => {
    s.emu.setState(
      ideal({ ...baseState(), snapshots: taggedSnapshots(30, (i) => ({ 'share-with': 'x', [`k${i}`]: 'v' })) }),
    );
    const first = await s.as(OWNER).call('ListTagResources', '2014-05-26', {
      RegionId: REGION,
      ResourceType: 'snapshot',
      Tag: [{ Key: 'share-with' }],
      MaxResults: 500,
    });
    expect(first.TagResources.TagResource).toHaveLength(50);
    expect(first.NextToken).toBeTruthy();
  });

  it('refuses a Tag.N.Value without its key with InvalidParameter.TagValue (documented)', async () => {
    const e = await errorOf(
      s
        .as(OWNER)
        .call('ListTagResources', '2014-05-26', { RegionId: REGION, ResourceType: 'snapshot', Tag: [{ Value: 'x' }] }),
    );
    expect([e.statusCode, e.code]).toEqual([400, 'InvalidParameter.TagValue']);
  });

  it('combines several Tag.N filters with AND', async () => {
    s.emu.setState(
      ideal({
        ...baseState(),
        snapshots: taggedSnapshots(4, (i): Record<string, string> => (i % 2 ? { a: '1', b: '2' } : { a: '1' })),
      }),
    );
    const r = await s.as(OWNER).call('ListTagResources', '2014-05-26', {
      RegionId: REGION,
      ResourceType: 'snapshot',
      Tag: [{ Key: 'a' }, { Key: 'b' }],
    });
    expect([...new Set(r.TagResources.TagResource.map((t: any) => t.ResourceId))]).toEqual([
      `s-many${pad(1)}`,
      `s-many${pad(3)}`,
    ]);
  });
});

describe("the product's listings", () => {
  // A page as reconcile reads it: the ids from the tag index, then the resources by id.
  const snapshotPage = async (t?: string) => {
    const page = await adapter.taggedIdPage(REGION, 'snapshot', 'share-with', t);
    return { items: page.ids.length ? await adapter.getSnapshots(REGION, page.ids) : [], next: page.next };
  };
  const imagePage = async (t?: string) => {
    const page = await adapter.taggedIdPage(REGION, 'image', 'share-with', t);
    return { items: page.ids.length ? await adapter.getImages(REGION, page.ids) : [], next: page.next };
  };
  it('list all 1,200 tagged snapshots, each once, through ListTagResources', async () => {
    s.emu.setState(
      ideal({
        ...baseState(),
        snapshots: [
          ...baseState().snapshots!,
          ...taggedSnapshots(MANY, (i) => ({ 'share-with': 'x', ...(i % 3 ? {} : { other: 'y' }) })),
        ],
      }),
    );
    s.emu.clearCalls();
    const ids: string[] = [];
    for await (const page of adapter.pages((t) => snapshotPage(t))) ids.push(...page.items.map((x) => x.id));
    expect(ids.length).toBe(MANY);
    expect(new Set(ids).size).toBe(MANY);
    const calls = s.emu.calls();
    expect(calls.filter((c) => c.action === 'DescribeSnapshots' && c.params['Tag.1.Key'])).toEqual([]);
    // Calls per resource stay low: a describe call per 100 ids and a tag page per 50 rows.
    expect(calls.length / MANY).toBeLessThan(0.06);
  });

  it('list all 1,050 tagged images', async () => {
    s.emu.setState(ideal({ ...baseState(), snapshots: taggedSnapshots(1050, () => ({})), images: taggedImages(1050) }));
    const ids: string[] = [];
    for await (const page of adapter.pages((t) => imagePage(t))) ids.push(...page.items.map((x) => x.id));
    expect(new Set(ids).size).toBe(1050);
  });

  it('resume from a page token where the last page stopped', async () => {
    s.emu.setState(ideal({ ...baseState(), snapshots: taggedSnapshots(250) }));
    const first = await snapshotPage();
    const rest: string[] = [];
    for await (const page of adapter.pages((t) => snapshotPage(t), first.next))
      rest.push(...page.items.map((x) => x.id));
    expect(new Set([...first.items.map((x) => x.id), ...rest]).size).toBe(250);
    expect(first.items.length + rest.length).toBe(250);
  });

  it("taggedResources: every snapshot carrying any of the keys, with those keys' values, merged by id", async () => {
    s.emu.setState(
      ideal({
        ...baseState(),
        snapshots: taggedSnapshots(120, (i) => ({
          ...(i % 2 ? { a: `a${i}` } : {}),
          ...(i % 3 ? {} : { b: `b${i}` }),
          c: 'other',
        })),
      }),
    );
    const got = await adapter.taggedResources(REGION, 'snapshot', ['a', 'b']);
    const byId = new Map(got.map((r) => [r.id, r.tags]));
    const expected = taggedSnapshots(120, (i) => ({
      ...(i % 2 ? { a: `a${i}` } : {}),
      ...(i % 3 ? {} : { b: `b${i}` }),
    })).filter((x) => Object.keys(x.tags!).length);
    expect(byId.size).toBe(expected.length);
    for (const x of expected) expect(byId.get(x.snapshotId)).toEqual(x.tags);
  });
});
