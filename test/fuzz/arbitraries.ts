// Generators for the property-based input fuzzing: everything a function can be handed, from well-formed ActionTrail
// events in every shape the parser reads (events/*.json, shared/events.ts) to junk, deep nesting and tricky keys.
// A fixed seed keeps CI reproducible; FUZZ_SEED and FUZZ_SCALE run other seeds or more inputs locally.
import fc from 'fast-check';
import { HANDLED_EVENT_NAMES } from '../../shared/events';

const FUZZ_SEED = Number(process.env.FUZZ_SEED ?? 20261128);
const SCALE = Number(process.env.FUZZ_SCALE ?? 1);

/** fast-check parameters: the fixed seed and `n` runs (times FUZZ_SCALE). A failure prints its seed and path. */
export const runs = <T = any>(n: number): fc.Parameters<T> => ({
  seed: FUZZ_SEED,
  numRuns: Math.max(1, Math.round(n * SCALE)),
});

export const OWNER = '1000000000000001';
export const REGION = 'cn-hangzhou';

// ---------------------------------------------------------------- junk

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

/** Strings that have broken parsers before: prototype keys, JSON fragments, near-miss ids and regions, odd Unicode. */
const trickyString = fc.constantFrom(
  '',
  ' ',
  '\t\n',
  '\u0000',
  '\u202e',
  '\ud800',
  '💥',
  'null',
  'undefined',
  'NaN',
  'true',
  '0',
  '-0',
  '1e400',
  '__proto__',
  'constructor',
  'prototype',
  'toString',
  'hasOwnProperty',
  'valueOf',
  '[',
  '{',
  ']',
  '}',
  '[]',
  '{}',
  '[[]]',
  '[[[[[[[[',
  '{"a":',
  '["s-abcd1234"]',
  '"s-abcd1234"',
  '[null]',
  '[{}]',
  's-',
  'm-',
  's-abc',
  'i-bp1abcd1234',
  'S-ABCD1234',
  ' s-abcd1234 ',
  's-abcd1234,s-efgh5678',
  's-ab/cd12',
  's-abcd_123',
  `s-${'a'.repeat(65)}`,
  'cn-hangzhou',
  'CN-HANGZHOU',
  'cn-',
  '-cn-hangzhou',
  'cn--hangzhou',
  'cn-hangzhou ',
  'x'.repeat(300),
  'share-with',
  'share-with.11',
  'ecs-share:granted',
  'acs:ecs:tag',
  '*',
  '%',
  '?',
);

const anyString = fc.oneof(
  { weight: 3, arbitrary: fc.string({ maxLength: 40 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'grapheme', maxLength: 20 }) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 20 }) },
  { weight: 3, arbitrary: trickyString },
);

/** Any JSON value, strings weighted towards the tricky ones. */
export const junk: fc.Arbitrary<unknown> = fc.oneof(
  { weight: 3, arbitrary: anyString },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) },
  { weight: 1, arbitrary: fc.constantFrom(null, true, false, 0, -1, 1.5, 1e21, 2 ** 53 + 2, 1000000000000002) },
  { weight: 1, arbitrary: fc.array(anyString, { maxLength: 3 }) },
);

/** Extra keys, some of them prototype names. */
const junkKeys = fc.dictionary(fc.oneof(anyString, trickyString), junk, { maxKeys: 3 });

/** `v` wrapped in `n` arrays, built without recursion. */
export function nest(v: unknown, n: number): unknown {
  let out = v;
  for (let i = 0; i < n; i++) out = [out];
  return out;
}

/** Mostly `good`, sometimes junk, sometimes absent. */
const mostly = <T>(good: fc.Arbitrary<T>, goodWeight = 4): fc.Arbitrary<unknown> =>
  fc.oneof({ weight: goodWeight, arbitrary: good as fc.Arbitrary<unknown> }, { weight: 1, arbitrary: junk });

// ---------------------------------------------------------------- ids and regions

const alnum = (min: number, max: number) =>
  fc.string({ unit: fc.constantFrom(...ALNUM), minLength: min, maxLength: max });

export const snapshotId = alnum(4, 64).map((s) => `s-${s}`);
export const imageId = alnum(4, 64).map((s) => `m-${s}`);
const wellFormedId = fc.oneof(snapshotId, imageId);

const region = fc.oneof(
  { weight: 14, arbitrary: fc.constant(REGION) },
  { weight: 1, arbitrary: fc.constantFrom('cn-shanghai', 'ap-southeast-1', 'xx-nowhere9', 'us-west-1') },
  { weight: 1, arbitrary: anyString },
);

/** A resource id: one the world knows, any well-formed one, or junk. */
const resourceId = (known: readonly string[]) =>
  fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...known) },
    { weight: 2, arbitrary: wellFormedId },
    { weight: 2, arbitrary: junk },
  );

/** The shapes a list parameter arrives in: scalar, array, JSON-array string, nested arrays, number. */
const listShape = (item: fc.Arbitrary<unknown>) =>
  fc.oneof(
    { weight: 3, arbitrary: item },
    { weight: 3, arbitrary: fc.array(item, { maxLength: 4 }) },
    { weight: 2, arbitrary: fc.array(item, { maxLength: 4 }).map((a) => JSON.stringify(a)) },
    { weight: 1, arbitrary: fc.tuple(item, fc.integer({ min: 1, max: 20 })).map(([v, n]) => nest(v, n)) },
  );

// ---------------------------------------------------------------- ActionTrail events

const eventName = fc.oneof(
  { weight: 16, arbitrary: fc.constantFrom(...HANDLED_EVENT_NAMES) },
  {
    weight: 1,
    arbitrary: fc.constantFrom('DeleteSnapshot', 'tagresources', 'ModifyImageAttribute', 'PutBucketTagging'),
  },
  { weight: 1, arbitrary: junk },
);

const tagKey = fc.oneof(
  fc.constantFrom(
    'share-with',
    'share-with.2',
    'share-with.10',
    'share-with.11',
    'ecs-share:granted',
    'ecs-share:granted.2',
    'owner',
    'Name',
  ),
  anyString,
);

/** requestParameters / requestParameterJson: RPC-flat keys, arrays, camelCase, creation sources, tags. */
const requestParameters = (known: readonly string[]) =>
  fc
    .tuple(
      fc.record(
        {
          RegionId: region,
          ResourceType: fc.oneof(fc.constantFrom('snapshot', 'image', 'Snapshot', 'IMAGE', 'instance', 'disk'), junk),
          ResourceId: listShape(resourceId(known)),
          'ResourceId.1': resourceId(known),
          'ResourceId.2': resourceId(known),
          'ResourceId.10': resourceId(known),
          resourceId: listShape(resourceId(known)),
          DestinationRegionId: region,
          SourceSnapshotId: resourceId(known),
          SourceImageId: resourceId(known),
          SnapshotId: resourceId(known),
          DiskId: mostly(fc.constant('d-bp1abcd1234')),
          'Tag.1.Key': tagKey,
          'Tag.1.Value': anyString,
          'Tag.2.Key': tagKey,
          'TagKey.1': tagKey,
          TagKey: listShape(tagKey),
          Tag: fc
            .array(fc.record({ Key: mostly(tagKey), Value: mostly(anyString) }, { requiredKeys: [] }), { maxLength: 3 })
            .map((t) => JSON.stringify(t)),
          All: fc.boolean(),
        },
        { requiredKeys: [] },
      ),
      junkKeys,
    )
    .map(([p, extra]) => ({ ...extra, ...p }));

const referencedResources = (known: readonly string[]) =>
  fc.dictionary(
    fc.oneof(
      fc.constantFrom(
        'ACS::ECS::Snapshot',
        'ACS::ECS::Image',
        'acs::ecs::snapshot',
        'snapshot',
        'image',
        'ACS::ECS::Disk',
        'ACS::ECS::Instance',
      ),
      trickyString,
    ),
    listShape(resourceId(known)),
    { maxKeys: 3 },
  );

/** An ActionTrail record as `data` carries it (or as EventBridge's RawData delivers it). */
const actionTrailRecord = (known: readonly string[]) =>
  fc
    .tuple(
      fc.record(
        {
          eventId: mostly(fc.uuid()),
          eventName,
          serviceName: fc.oneof(
            { weight: 14, arbitrary: fc.constantFrom('Ecs', 'ecs', 'ECS') },
            { weight: 1, arbitrary: fc.constantFrom('Oss', 'Kms') },
            { weight: 1, arbitrary: junk },
          ),
          acsRegion: region,
          errorCode: fc.oneof(fc.constantFrom('', 'InvalidTagKey.Malformed', 'Forbidden.RAM'), junk),
          eventType: fc.constantFrom('ApiCall', 'ConsoleOperation'),
          userIdentity: mostly(
            fc.record({ accountId: mostly(fc.constant(OWNER)), type: fc.constant('ram-user') }, { requiredKeys: [] }),
          ),
          recipientAccountId: mostly(fc.constant(OWNER)),
          referencedResources: fc.oneof(
            referencedResources(known),
            referencedResources(known).map((r) => JSON.stringify(r)),
            junk,
          ),
          requestParameters: fc.oneof(
            { weight: 4, arbitrary: requestParameters(known) },
            { weight: 1, arbitrary: requestParameters(known).map((p) => JSON.stringify(p)) },
            { weight: 1, arbitrary: junk },
          ),
          requestParameterJson: fc.oneof(
            requestParameters(known).map((p) => JSON.stringify(p)),
            junk,
          ),
          responseElements: fc.oneof(
            fc.record(
              { SnapshotId: resourceId(known), ImageId: resourceId(known), RequestId: fc.uuid() },
              { requiredKeys: [] },
            ),
            junk,
          ),
        },
        { requiredKeys: ['eventName', 'serviceName', 'acsRegion', 'requestParameters'] },
      ),
      junkKeys,
    )
    .map(([r, extra]) => ({ ...extra, ...r }))
    // errorCode is rare in practice and short-circuits everything after it: keep it to about one event in ten
    .chain((r) => fc.integer({ min: 0, max: 9 }).map((n) => (n === 0 ? r : (({ errorCode: _e, ...rest }) => rest)(r))));

/** A CloudEvent envelope around a record; `data` sometimes as a JSON string, sometimes junk. */
export const cloudEvent = (known: readonly string[]) =>
  fc
    .tuple(
      fc.record(
        {
          specversion: mostly(fc.constant('1.0')),
          id: mostly(fc.uuid()),
          source: mostly(fc.constant('acs.ecs')),
          type: fc.oneof(
            {
              weight: 14,
              arbitrary: fc.constantFrom(
                'ecs:ActionTrail:ApiCall',
                'ecs:ActionTrail:ConsoleOperation',
                'ECS:actiontrail:apicall',
              ),
            },
            {
              weight: 1,
              arbitrary: fc.constantFrom('oss:ActionTrail:ApiCall', 'ecs:Snapshot:CreateSnapshotCompleted'),
            },
            { weight: 1, arbitrary: junk },
          ),
          aliyunregionid: region,
          aliyunaccountid: mostly(fc.constant(OWNER)),
          data: fc.oneof(
            { weight: 12, arbitrary: actionTrailRecord(known) },
            { weight: 1, arbitrary: actionTrailRecord(known).map((r) => JSON.stringify(r)) },
            { weight: 1, arbitrary: junk },
          ),
        },
        { requiredKeys: ['type', 'data'] },
      ),
      junkKeys,
    )
    .map(([e, extra]) => ({ ...extra, ...e }));

/** One event (envelope or RawData), or a batch of them mixed with junk. */
export const eventPayload = (known: readonly string[]) =>
  fc.oneof(
    { weight: 5, arbitrary: cloudEvent(known) },
    { weight: 1, arbitrary: actionTrailRecord(known) },
    {
      weight: 2,
      arbitrary: fc.array(
        fc.oneof(
          { weight: 4, arbitrary: cloudEvent(known) },
          { weight: 1, arbitrary: actionTrailRecord(known) },
          { weight: 1, arbitrary: junk },
        ),
        { maxLength: 5 },
      ),
    },
  );

// ---------------------------------------------------------------- manual and timer payloads

export const shareCommand = (known: readonly string[]) =>
  fc
    .tuple(
      fc.record(
        {
          resourceId: resourceId(known),
          region,
          regionId: region,
          dryRun: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk }),
          resourceType: fc.oneof(fc.constantFrom('snapshot', 'image'), junk),
          action: fc.oneof(
            { weight: 3, arbitrary: fc.constant('share') },
            { weight: 1, arbitrary: fc.constantFrom('reconcile', 'Share') },
            { weight: 1, arbitrary: junk },
          ),
        },
        { requiredKeys: [] },
      ),
      fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: junkKeys }),
    )
    .map(([c, extra]) => ({ ...extra, ...c }));

export const reconcileCommand = fc
  .tuple(
    fc.record(
      {
        action: fc.oneof(
          { weight: 4, arbitrary: fc.constant('reconcile') },
          { weight: 1, arbitrary: fc.constantFrom('share', 'Reconcile') },
          { weight: 1, arbitrary: junk },
        ),
        regions: fc.oneof(
          { weight: 4, arbitrary: fc.array(region, { minLength: 0, maxLength: 3 }) },
          { weight: 1, arbitrary: region },
          { weight: 1, arbitrary: junk },
        ),
        dryRun: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk }),
        maxResources: fc.oneof(fc.integer({ min: -2, max: 1000 }), fc.constantFrom(0.5, 1e300, -0), junk),
      },
      { requiredKeys: [] },
    ),
    fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: junkKeys }),
  )
  .map(([c, extra]) => ({ ...extra, ...c }));

/** What an FC timer trigger hands the function: the payload is the trigger's configured text. */
export const timerEvent = fc.record(
  {
    triggerTime: mostly(fc.constant('2026-11-28T06:00:00Z')),
    triggerName: fc.oneof({ weight: 6, arbitrary: fc.constant('reconcile-timer') }, { weight: 1, arbitrary: junk }),
    payload: fc.oneof(
      { weight: 4, arbitrary: reconcileCommand.map((c) => JSON.stringify(c)) },
      { weight: 1, arbitrary: fc.constantFrom('awesome-fc', '', '{"action"', '[]', '{}', 'null') },
      { weight: 1, arbitrary: reconcileCommand },
      { weight: 1, arbitrary: junk },
    ),
  },
  { requiredKeys: ['triggerTime', 'triggerName'] },
);

// ---------------------------------------------------------------- deep and huge

/** Replaces one field of a well-formed event with `n` nested arrays (or objects) around a resource id. */
export const deepEvent = (known: readonly string[]) =>
  fc
    .record({
      event: cloudEvent(known),
      n: fc.oneof(fc.integer({ min: 65, max: 300 }), fc.integer({ min: 1000, max: 6000 })),
      where: fc.constantFrom('ResourceId', 'referenced', 'data', 'envelope', 'jsonString', 'objects'),
      id: fc.constantFrom(...known),
    })
    .map(({ event, n, where, id }) => {
      const e: Record<string, any> = { ...event, type: 'ecs:ActionTrail:ApiCall' };
      const data: Record<string, any> = { eventName: 'TagResources', serviceName: 'Ecs', acsRegion: REGION };
      e.data = data;
      if (where === 'ResourceId') data.requestParameters = { ResourceType: 'snapshot', ResourceId: nest(id, n) };
      if (where === 'referenced') data.referencedResources = { 'ACS::ECS::Snapshot': nest(id, n) };
      if (where === 'data') e.data = nest(data, n);
      if (where === 'envelope') return nest(e, n);
      if (where === 'jsonString') data.requestParameterJson = `{"ResourceId":${'['.repeat(n)}"${id}"${']'.repeat(n)}}`;
      if (where === 'objects') {
        let o: unknown = id;
        for (let i = 0; i < n; i++) o = { ResourceId: o };
        data.requestParameters = o;
      }
      return e;
    });

// ---------------------------------------------------------------- tag values

export const ACCOUNTS = ['1000000000000002', '1000000000000003', '1000000000000004'];
export const FOLDER = 'rd-demo01/r-demo01/fd-demofold01';

const goodToken = fc.oneof(
  fc.constantFrom(...ACCOUNTS, 'rd-demo01', FOLDER, `${FOLDER}/fd-sub0000001`),
  fc.stringMatching(/^\d{16}$/),
  fc.stringMatching(/^rd-[A-Za-z0-9]{4,32}$/),
  fc.stringMatching(/^rd-[a-z0-9]{4,8}\/r-[a-z0-9]{4,8}(\/fd-[A-Za-z0-9]{10}){1,3}$/),
);

const badToken = fc.oneof(
  fc.constantFrom(
    '*',
    '1000*',
    'rd-*',
    `${FOLDER}*`,
    '100000000000000?',
    '%',
    OWNER,
    '12345',
    '10000000000000021',
    'rd-',
    'rd-ab',
    'rd-demo01/r-demo01',
    'rd-demo01/r-demo01/',
    'rd-demo01//fd-demofold01',
    'rd-demo01/r-demo01/fd-demofold0',
    'rd-demo01/r-demo01/fd-demofold012',
    'rd-demo01/./fd-demofold01',
    'rd-demo01/r-demo01/..',
    '/rd-demo01',
    'fd-demofold01',
    'r-demo01',
    'account',
    '１０００',
    '__proto__',
  ),
  fc.string({ minLength: 1, maxLength: 20 }).filter((s) => !/[\s,]/.test(s)),
);

const separator = fc.constantFrom(',', ' ', ', ', '\t', '\n', ',,', '  ');

/** A tag value: tokens joined by commas and whitespace; `bad` > 0 forces that many refused tokens in. */
export const tagValue = (opts: { bad?: boolean } = {}) =>
  fc
    .tuple(
      fc.array(goodToken, { maxLength: 5 }),
      opts.bad ? fc.array(badToken, { minLength: 1, maxLength: 3 }) : fc.array(badToken, { maxLength: 2 }),
      fc.array(separator, { minLength: 10, maxLength: 10 }),
      fc.boolean(),
    )
    .chain(([good, bad, seps, pad]) =>
      fc.shuffledSubarray([...good, ...bad], { minLength: good.length + bad.length }).map((tokens) => {
        const joined = tokens.map((t, i) => (i === 0 ? t : `${seps[i % seps.length]}${t}`)).join('');
        return pad ? ` ${joined} ` : joined;
      }),
    );

const shareTagKey = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('share-with', 'share-with.2', 'share-with.3', 'share-with.10') },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      'share-with.11',
      'share-with.0',
      'share-with.1',
      'share-with.02',
      'share-with.x',
      'share-with.',
      'share-with.2.1',
    ),
  },
  {
    weight: 1,
    arbitrary: fc.constantFrom('Share-With', 'share-with2', 'owner', 'ecs-share:granted', '__proto__', 'constructor'),
  },
  { weight: 1, arbitrary: anyString },
);

/** A resource's tags: share keys (good, bad or out of contract) and unrelated ones. */
export const tagSet = fc.dictionary(
  shareTagKey,
  fc.oneof({ weight: 4, arbitrary: tagValue() }, { weight: 1, arbitrary: anyString }),
  { maxKeys: 5 },
);

/** A worker's payload (organisation mode's fan-out): mostly well-formed for the owner account, with bad fields. */
export const workerPayload = (ownerUid: string) =>
  fc
    .tuple(
      fc.record(
        {
          action: fc.oneof(
            { weight: 6, arbitrary: fc.constant('reconcile-worker') },
            { weight: 1, arbitrary: fc.constantFrom('reconcile', 'Reconcile-Worker') },
            { weight: 1, arbitrary: junk },
          ),
          accountId: fc.oneof(
            { weight: 6, arbitrary: fc.constant(ownerUid) },
            { weight: 1, arbitrary: fc.constantFrom('1000000000000002', '100000000000001', `${ownerUid} `) },
            { weight: 1, arbitrary: junk },
          ),
          region: fc.oneof(
            { weight: 4, arbitrary: fc.constant(REGION) },
            { weight: 2, arbitrary: region },
            { weight: 1, arbitrary: junk },
          ),
          passId: fc.oneof(
            { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_.:-]{1,64}$/) },
            { weight: 1, arbitrary: fc.oneof(anyString, trickyString, junk) },
          ),
          hop: fc.oneof(
            { weight: 6, arbitrary: fc.integer({ min: -1, max: 60 }) },
            { weight: 1, arbitrary: fc.oneof(fc.constantFrom(0.5, 1e300, -0), junk) },
          ),
          dryRun: fc.oneof({ weight: 4, arbitrary: fc.boolean() }, { weight: 1, arbitrary: junk }),
          maxResources: fc.oneof(fc.integer({ min: -2, max: 1000 }), junk),
          checkpoint: fc.oneof(
            junk,
            fc.constant({
              version: 2,
              startedAt: '2026-01-01T00:00:00Z',
              regions: [REGION],
              regionIndex: 0,
              phase: 'snapshots',
              needs: { snapshot: { grants: [], keys: [] }, image: { grants: [], keys: [] } },
              processed: 0,
            }),
            fc.constant({
              version: 3,
              startedAt: '2026-01-01T00:00:00Z',
              regions: [REGION],
              regionIndex: 0,
              phase: 'listings',
              listings: { snapshots: {}, images: { done: true } },
              needs: { snapshot: { grants: [], keys: [] }, image: { grants: [], keys: [] } },
              processed: 0,
            }),
            fc.record({
              version: fc.constantFrom(1, 2, 3, '2'),
              listings: junk,
              regions: junk,
              needs: junk,
              phase: fc.oneof(anyString, junk),
            }),
          ),
        },
        { requiredKeys: ['action', 'accountId', 'region', 'passId', 'hop'] },
      ),
      fc.oneof({ weight: 6, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: junkKeys }),
    )
    .map(([c, extra]) => ({ ...extra, ...c }));
