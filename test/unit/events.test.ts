import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseTrigger, principalOf, type Trigger, type TagEvent } from '../../shared/events';

const EVENTS_DIR = path.resolve(__dirname, '../../events');
const fixture = (name: string) => readFileSync(path.join(EVENTS_DIR, name));
const OWNER = '1000000000000001';

const tagEvent = (
  e: Partial<TagEvent> & Pick<TagEvent, 'eventId' | 'eventName' | 'resourceType' | 'resourceIds'>,
): TagEvent => ({
  region: 'cn-hangzhou',
  accountId: OWNER,
  tagKeys: ['share-with'],
  // Every sample event was made by the same RAM user (its access key id is never kept).
  requestedBy: { type: 'ram-user', accountId: OWNER, principalId: '201234567890123456', userName: 'ops-bot' },
  ...e,
});

/** Every file in events/ with what parseTrigger must make of it (as FC passes it: a Buffer). */
const FIXTURES: Record<string, Trigger> = {
  'on-tag-tagresources-snapshot.json': {
    kind: 'events',
    events: [
      tagEvent({
        eventId: '6B1F0C2D-3E4F-5A6B-7C8D-9E0F1A2B3C4D',
        eventName: 'TagResources',
        resourceType: 'snapshot',
        resourceIds: ['s-demo0cmk0000000001'],
      }),
    ],
    skipped: [],
  },
  'on-tag-tagresources-image.json': {
    kind: 'events',
    events: [
      tagEvent({
        eventId: '7C2A1D3E-4F5A-6B7C-8D9E-0F1A2B3C4D5E',
        eventName: 'TagResources',
        resourceType: 'image',
        resourceIds: ['m-demo0cmk0000000001', 'm-bp1demoimage0002'],
        tagKeys: ['share-with', 'share-with.2'],
      }),
    ],
    skipped: [],
  },
  'on-tag-untagresources-snapshot.json': {
    kind: 'events',
    events: [
      tagEvent({
        eventId: '8D3B2E4F-5A6B-7C8D-9E0F-1A2B3C4D5E6F',
        eventName: 'UntagResources',
        resourceType: 'snapshot',
        resourceIds: ['s-demo0cmk0000000001'],
      }),
    ],
    skipped: [],
  },
  'on-tag-addtags-image.json': {
    kind: 'events',
    events: [
      tagEvent({
        eventId: '9E4C3F5A-6B7C-8D9E-0F1A-2B3C4D5E6F7A',
        eventName: 'AddTags',
        resourceType: 'image',
        resourceIds: ['m-demo0cmk0000000001'],
      }),
    ],
    skipped: [],
  },
  'on-tag-createsnapshot-with-tags.json': {
    kind: 'events',
    events: [
      tagEvent({
        eventId: '0F5D4A6B-7C8D-9E0F-1A2B-3C4D5E6F7A8B',
        eventName: 'CreateSnapshot',
        resourceType: 'snapshot',
        resourceIds: ['s-bp1demosnap0009'],
      }),
    ],
    skipped: [],
  },
  'on-tag-failed-call.json': {
    kind: 'events',
    events: [],
    skipped: [
      { eventId: '1A6E5B7C-8D9E-0F1A-2B3C-4D5E6F7A8B9C', reason: expect.stringContaining('failed (Forbidden.RAM)') },
    ],
  },
  'on-tag-batch.json': {
    kind: 'events',
    events: [
      tagEvent({
        eventId: '2B7F6C8D-9E0F-1A2B-3C4D-5E6F7A8B9C0D',
        eventName: 'TagResources',
        resourceType: 'snapshot',
        resourceIds: ['s-demo0cmk0000000001', 's-bp1demosnap0002'],
      }),
      tagEvent({
        eventId: '3C8A7D9E-0F1A-2B3C-4D5E-6F7A8B9C0D1E',
        eventName: 'RemoveTags',
        region: 'cn-shanghai',
        resourceType: 'image',
        resourceIds: ['m-uf6demoimage0003'],
      }),
    ],
    skipped: [],
  },
  'on-tag-other-service.json': {
    kind: 'events',
    events: [],
    skipped: [
      { eventId: '4D9B8E0F-1A2B-3C4D-5E6F-7A8B9C0D1E2F', reason: expect.stringContaining('tag:ActionTrail:ApiCall') },
    ],
  },
  'manual-share-snapshot.json': {
    kind: 'manual',
    command: { resourceId: 's-demo0cmk0000000001', region: 'cn-hangzhou', dryRun: true },
  },
  'manual-share-image.json': {
    kind: 'manual',
    command: { resourceId: 'm-demo0cmk0000000001', region: 'cn-hangzhou', dryRun: true },
  },
  'timer-reconcile.json': { kind: 'timer', triggerName: 'reconcile-timer', payload: { action: 'reconcile' } },
  'reconcile-dry-run.json': {
    kind: 'manual',
    command: { action: 'reconcile', regions: ['cn-hangzhou'], dryRun: true },
  },
  'reconcile-worker-dry-run.json': {
    kind: 'manual',
    command: {
      action: 'reconcile-worker',
      accountId: '1000000000000001',
      region: 'cn-hangzhou',
      passId: 'manual-1',
      hop: 0,
      dryRun: true,
    },
  },
};

describe('parseTrigger over the sample events', () => {
  it('has an expectation for every file in events/', () => {
    expect(
      readdirSync(EVENTS_DIR)
        .filter((f) => f.endsWith('.json'))
        .sort(),
    ).toEqual(Object.keys(FIXTURES).sort());
  });

  it.each(Object.entries(FIXTURES))('normalises %s', (file, expected) => {
    expect(parseTrigger(fixture(file))).toEqual(expected);
  });

  it.each(Object.keys(FIXTURES))('reads %s the same from a Buffer, a string and an object', (file) => {
    const text = fixture(file).toString('utf8');
    const fromBuffer = parseTrigger(Buffer.from(text));
    expect(parseTrigger(text)).toEqual(fromBuffer);
    expect(parseTrigger(JSON.parse(text))).toEqual(fromBuffer);
  });
});

/** A CloudEvent around an ActionTrail record, with the fields the tests vary. */
function cloudEvent(data: Record<string, unknown>, envelope: Record<string, unknown> = {}) {
  return {
    id: 'ce-1',
    source: 'acs.ecs',
    specversion: '1.0',
    type: 'ecs:ActionTrail:ApiCall',
    aliyunaccountid: OWNER,
    aliyunregionid: 'cn-hangzhou',
    ...envelope,
    data: { eventId: 'E1', eventName: 'TagResources', serviceName: 'Ecs', acsRegion: 'cn-hangzhou', ...data },
  };
}

function eventsOf(raw: unknown) {
  const inv = parseTrigger(raw);
  if (inv.kind !== 'events') throw new Error(`expected events, got ${inv.kind}`);
  return inv;
}

describe('parseTrigger reads resource ids defensively', () => {
  it.each<[string, Record<string, unknown>, string[]]>([
    [
      'flat ResourceId.N in index order',
      {
        requestParameters: {
          ResourceType: 'snapshot',
          'ResourceId.2': 's-bbbb2',
          'ResourceId.10': 's-cccc10',
          'ResourceId.1': 's-aaaa1',
        },
      },
      ['s-aaaa1', 's-bbbb2', 's-cccc10'],
    ],
    ['a scalar ResourceId', { requestParameters: { ResourceType: 'snapshot', ResourceId: 's-aaaa1' } }, ['s-aaaa1']],
    [
      'a ResourceId array',
      { requestParameters: { ResourceType: 'snapshot', ResourceId: ['s-aaaa1', 's-bbbb2'] } },
      ['s-aaaa1', 's-bbbb2'],
    ],
    [
      'a ResourceId JSON-array string',
      { requestParameters: { ResourceType: 'snapshot', ResourceId: '["s-aaaa1","s-bbbb2"]' } },
      ['s-aaaa1', 's-bbbb2'],
    ],
    [
      'requestParameterJson',
      { requestParameterJson: '{"ResourceType":"snapshot","ResourceId":["s-aaaa1"]}' },
      ['s-aaaa1'],
    ],
    [
      'camelCase parameter names',
      { requestParameters: { resourceType: 'snapshot', resourceId: ['s-aaaa1'] } },
      ['s-aaaa1'],
    ],
    ['referencedResources only', { referencedResources: { 'ACS::ECS::Snapshot': ['s-aaaa1'] } }, ['s-aaaa1']],
    ['old short referencedResources keys', { referencedResources: { Snapshot: ['s-aaaa1'] } }, ['s-aaaa1']],
    [
      'parameters and references without duplicates',
      {
        requestParameters: { ResourceType: 'Snapshot', 'ResourceId.1': 's-aaaa1' },
        referencedResources: { 'ACS::ECS::Snapshot': ['s-aaaa1'] },
      },
      ['s-aaaa1'],
    ],
  ])('from %s', (_name, data, ids) => {
    const { events } = eventsOf(cloudEvent(data));
    expect(events).toHaveLength(1);
    expect(events[0].resourceType).toBe('snapshot');
    expect(events[0].resourceIds).toEqual(ids);
  });

  it('infers the resource type from the id prefix and splits mixed kinds', () => {
    const { events } = eventsOf(cloudEvent({ requestParameters: { ResourceId: ['s-aaaa1', 'm-bbbb2'] } }));
    expect(events.map((e) => [e.resourceType, e.resourceIds])).toEqual([
      ['snapshot', ['s-aaaa1']],
      ['image', ['m-bbbb2']],
    ]);
  });

  it('drops invalid ids with a reason and keeps the valid ones', () => {
    const { events, skipped } = eventsOf(
      cloudEvent({
        requestParameters: { ResourceType: 'snapshot', ResourceId: ['s-aaaa1', 's-bp1****', 'm-imageaaa', 's-'] },
      }),
    );
    expect(events[0].resourceIds).toEqual(['s-aaaa1']);
    expect(skipped.map((s) => s.reason)).toEqual([
      'invalid resource id "s-bp1****"',
      'resource id m-imageaaa is not a snapshot',
      'invalid resource id "s-"',
    ]);
  });

  it('coerces numeric values to strings', () => {
    const { events, skipped } = eventsOf(
      cloudEvent({ requestParameters: { ResourceType: 'image', 'ResourceId.1': 12345, 'TagKey.1': 7 } }),
    );
    expect(events).toEqual([]);
    expect(skipped.map((s) => s.reason)).toContain('invalid resource id "12345"');
  });

  it('never reads the account id from a numeric field', () => {
    const { events } = eventsOf(
      cloudEvent(
        {
          recipientAccountId: 1000000000000009,
          userIdentity: { accountId: 1000000000000009 },
          requestParameters: { ResourceId: 's-aaaa1' },
        },
        { aliyunaccountid: 1000000000000009 },
      ),
    );
    expect(events[0].accountId).toBeUndefined();
  });

  it('collects tag keys from every shape', () => {
    const { events } = eventsOf(
      cloudEvent({
        requestParameters: {
          ResourceId: 's-aaaa1',
          'Tag.2.Key': 'b',
          'Tag.1.Key': 'a',
          'TagKey.1': 'c',
          Tag: '[{"Key":"d","Value":"x"}]',
          Tags: [{ key: 'a' }],
        },
      }),
    );
    expect(events[0].tagKeys).toEqual(['c', 'a', 'b', 'd']);
  });
});

describe('parseTrigger for Create and Copy calls', () => {
  it('takes the new image, not the source snapshot it references', () => {
    const { events } = eventsOf(
      cloudEvent({
        eventName: 'CreateImage',
        requestParameters: { SnapshotId: 's-source01', 'Tag.1.Key': 'share-with' },
        referencedResources: { 'ACS::ECS::Snapshot': ['s-source01'], 'ACS::ECS::Image': ['m-newimage1'] },
      }),
    );
    expect(events.map((e) => [e.resourceType, e.resourceIds])).toEqual([['image', ['m-newimage1']]]);
  });

  it('puts a copied snapshot in the destination region and ignores its source', () => {
    const { events } = eventsOf(
      cloudEvent({
        eventName: 'CopySnapshot',
        requestParameters: {
          RegionId: 'cn-hangzhou',
          DestinationRegionId: 'cn-beijing',
          SourceSnapshotId: 's-source01',
        },
        referencedResources: { 'ACS::ECS::Snapshot': ['s-source01', 's-copy0001'] },
      }),
    );
    expect(events.map((e) => [e.region, e.resourceIds])).toEqual([['cn-beijing', ['s-copy0001']]]);
  });

  it('prefers the id in responseElements', () => {
    const { events } = eventsOf(
      cloudEvent({
        eventName: 'CopyImage',
        responseElements: { ImageId: 'm-copy0001' },
        requestParameters: { SourceImageId: 'm-source01' },
      }),
    );
    expect(events[0].resourceIds).toEqual(['m-copy0001']);
  });
});

describe('parseTrigger skips with a reason', () => {
  it.each<[string, unknown, RegExp]>([
    [
      'a failed call',
      cloudEvent({ errorCode: 'Throttling', requestParameters: { ResourceId: 's-aaaa1' } }),
      /failed \(Throttling\)/,
    ],
    [
      'another service under an ECS type',
      cloudEvent({ serviceName: 'Oss', requestParameters: { ResourceId: 's-aaaa1' } }),
      /service Oss is not ECS/,
    ],
    ['another system event type', cloudEvent({}, { type: 'ecs:Instance:StateChange' }), /not an ECS ActionTrail/],
    [
      'another event name',
      cloudEvent({ eventName: 'DeleteSnapshot', requestParameters: { SnapshotId: 's-aaaa1' } }),
      /DeleteSnapshot does not affect sharing/,
    ],
    [
      'another resource type',
      cloudEvent({ requestParameters: { ResourceType: 'instance', 'ResourceId.1': 'i-bp1aaaa' } }),
      /resource type instance/,
    ],
    [
      'an event without ids',
      cloudEvent({ requestParameters: { ResourceType: 'snapshot' } }),
      /no snapshot or image id/,
    ],
    [
      'an event without a region',
      cloudEvent({ acsRegion: undefined, requestParameters: { ResourceId: 's-aaaa1' } }, { aliyunregionid: undefined }),
      /no valid region/,
    ],
    [
      'an event without data',
      { id: 'x', specversion: '1.0', source: 'acs.ecs', type: 'ecs:ActionTrail:ApiCall' },
      /no ActionTrail record/,
    ],
  ])('%s', (_name, raw, reason) => {
    const { events, skipped } = eventsOf(raw);
    expect(events).toEqual([]);
    expect(skipped).toEqual([expect.objectContaining({ reason: expect.stringMatching(reason) })]);
  });

  it('reads prototype names as plain keys: a "constructor" or "__proto__" key names no resource kind', () => {
    const raw = JSON.parse(
      JSON.stringify(
        cloudEvent({
          referencedResources: { constructor: ['s-aaaa1'], ['__proto__']: ['m-bbbb2'] },
          requestParameters: { ['__proto__']: { ResourceId: 's-cccc3' } },
        }),
      ),
    );
    const { events, skipped } = eventsOf(raw);
    expect(events).toEqual([]);
    expect(skipped).toEqual([expect.objectContaining({ reason: expect.stringMatching(/no snapshot or image id/) })]);
  });

  it('does not treat an empty errorCode as a failure', () => {
    expect(eventsOf(cloudEvent({ errorCode: '', requestParameters: { ResourceId: 's-aaaa1' } })).events).toHaveLength(
      1,
    );
  });

  it('accepts a console operation', () => {
    const raw = cloudEvent(
      { requestParameters: { ResourceId: 's-aaaa1' } },
      { type: 'ecs:ActionTrail:ConsoleOperation' },
    );
    expect(eventsOf(raw).events).toHaveLength(1);
  });

  it('collapses a duplicate delivery in a batch', () => {
    const one = cloudEvent({ requestParameters: { ResourceId: 's-aaaa1' } });
    const { events, skipped } = eventsOf([one, structuredClone(one)]);
    expect(events).toHaveLength(1);
    expect(skipped).toEqual([{ eventId: 'E1', reason: expect.stringContaining('duplicate') }]);
  });

  it('skips batch items that are not events', () => {
    const { events, skipped } = eventsOf([42, cloudEvent({ requestParameters: { ResourceId: 's-aaaa1' } })]);
    expect(events).toHaveLength(1);
    expect(skipped).toEqual([{ reason: 'not a CloudEvent or ActionTrail record' }]);
  });
});

describe('parseTrigger routes other invocations', () => {
  it('accepts a bare ActionTrail record (EventBridge RawData schema)', () => {
    const { events } = eventsOf(cloudEvent({ requestParameters: { ResourceId: 's-aaaa1' } }).data);
    expect(events.map((e) => e.eventId)).toEqual(['E1']);
  });

  it.each<[string, unknown, Trigger]>([
    [
      'a timer with a plain payload',
      { triggerTime: 't', triggerName: 'tt', payload: 'awesome-fc' },
      { kind: 'timer', triggerName: 'tt', payload: 'awesome-fc' },
    ],
    [
      'a timer with a broken JSON payload',
      { triggerTime: 't', triggerName: 'tt', payload: '{"action"' },
      { kind: 'invalid', error: 'The timer payload is not JSON: {"action"' },
    ],
    [
      'a timer without a payload',
      { triggerTime: 't', triggerName: 'tt' },
      { kind: 'timer', triggerName: 'tt', payload: undefined },
    ],
    ['an empty array', [], { kind: 'events', events: [], skipped: [] }],
    ['any other object', { action: 'share' }, { kind: 'manual', command: { action: 'share' } }],
  ])('%s', (_name, raw, expected) => {
    expect(parseTrigger(raw)).toEqual(expected);
  });

  it.each<[string, unknown, RegExp]>([
    ['an empty buffer', Buffer.from(''), /empty/],
    ['text that is not JSON', 'reconcile please', /not JSON/],
    ['a JSON number', '42', /JSON object/],
    ['null', null, /JSON object/],
  ])('reports %s as invalid', (_name, raw, error) => {
    const inv = parseTrigger(raw);
    expect(inv.kind).toBe('invalid');
    expect(inv.kind === 'invalid' && inv.error).toMatch(error);
  });
});

describe("ECS's snapshot-ready event", () => {
  const ready = (data: Record<string, unknown>, envelope: Record<string, unknown> = {}) => ({
    id: 'ready-1',
    source: 'acs.ecs',
    specversion: '1.0',
    type: 'ecs:Snapshot:CreateSnapshotCompleted',
    subject: `acs:ecs:cn-shanghai:${OWNER}:snapshot/s-ready0001`,
    aliyunaccountid: OWNER,
    aliyunregionid: 'cn-shanghai',
    ...envelope,
    data,
  });

  it.each([
    [
      'the documented fields in data',
      ready({ result: 'accomplished', snapshotId: 's-ready0001', snapshotType: 'user' }),
    ],
    [
      'the fields under content, as CloudMonitor shows them',
      ready({
        name: 'Snapshot:CreateSnapshotCompleted',
        content: { result: 'accomplished', snapshotId: 's-ready0001' },
      }),
    ],
    ['the id only in the subject', ready({})],
  ])('names the snapshot to share from %s', (_name, event) => {
    expect(parseTrigger(event)).toEqual({
      kind: 'events',
      skipped: [],
      events: [
        {
          eventId: 'ready-1',
          eventName: 'CreateSnapshotCompleted',
          region: 'cn-shanghai',
          accountId: OWNER,
          resourceType: 'snapshot',
          resourceIds: ['s-ready0001'],
          tagKeys: [],
        },
      ],
    });
  });

  it('skips a failed creation with the reason', () => {
    const out = parseTrigger(ready({ result: 'failed', snapshotId: 's-ready0001' }));
    expect(out).toMatchObject({
      kind: 'events',
      events: [],
      skipped: [{ reason: expect.stringContaining('not created (failed)') }],
    });
  });

  it('skips an event naming no valid snapshot', () => {
    const out = parseTrigger(ready({ snapshotId: 'm-notasnap' }, { subject: 'nothing' }));
    expect(out).toMatchObject({
      kind: 'events',
      events: [],
      skipped: [{ reason: expect.stringContaining('no valid snapshot id') }],
    });
  });
});

describe('principalOf (who asked)', () => {
  it('keeps a RAM user: type, account, principal id, user name; never the access key id', () => {
    const p = principalOf({
      type: 'ram-user',
      principalId: '2012',
      accountId: OWNER,
      accessKeyId: 'LTAIsecretish',
      userName: 'alice',
    });
    expect(p).toEqual({ type: 'ram-user', principalId: '2012', accountId: OWNER, userName: 'alice' });
    expect(JSON.stringify(p)).not.toContain('LTAI');
  });

  it('names the role and the session of an assumed role', () => {
    const p = principalOf({
      type: 'assumed-role',
      principalId: '3001:release-42',
      accountId: OWNER,
      userName: 'release-42',
      sessionContext: {
        sessionIssuer: {
          type: 'role',
          principalId: '3001',
          userName: 'publisher',
          arn: `acs:ram::${OWNER}:role/publisher`,
        },
      },
    });
    expect(p).toEqual({
      type: 'assumed-role',
      principalId: '3001:release-42',
      accountId: OWNER,
      roleName: 'publisher',
      roleSession: 'release-42',
    });
  });

  it('takes the role from the issuer ARN when its name is missing', () => {
    expect(
      principalOf({
        type: 'assumed-role',
        principalId: '3001:s1',
        sessionContext: { sessionIssuer: { arn: `acs:ram::${OWNER}:role/ops` } },
      }),
    ).toMatchObject({ roleName: 'ops', roleSession: 's1' });
  });

  it('ignores what is not a string, clips what is long, and gives nothing without a type', () => {
    expect(principalOf({ principalId: 'x' })).toBeUndefined();
    expect(principalOf({ type: 5, accountId: 1000000000000001 })).toBeUndefined();
    const p = principalOf({ type: 'ram-user', accountId: 1000000000000001, userName: 'u'.repeat(500) });
    expect(p?.accountId).toBeUndefined();
    expect(p!.userName!.length).toBeLessThanOrEqual(128);
  });
});
