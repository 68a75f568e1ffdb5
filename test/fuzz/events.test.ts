// Property-based fuzzing of the event parser (issue 8 item 5, issue 7 item 7): whatever arrives, parseTrigger
// answers with a known kind and never throws; what it extracts is well-formed; deep or huge input is refused.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { INPUT_LIMITS, parseTrigger } from '../../shared/events';
import {
  cloudEvent,
  deepEvent,
  eventPayload,
  junk,
  nest,
  OWNER,
  REGION,
  runs,
  shareCommand,
  snapshotId,
  imageId,
  timerEvent,
} from './arbitraries';
import { expectSaneTrigger } from './checks';

const KNOWN = ['s-demo0cmk0000000001', 'm-demo0cmk0000000001', 's-e2espare0000000001'];

const anyPayload = fc.oneof(
  { weight: 6, arbitrary: eventPayload(KNOWN) },
  { weight: 1, arbitrary: shareCommand(KNOWN) },
  { weight: 1, arbitrary: timerEvent },
  { weight: 1, arbitrary: junk },
);

const itemsOf = (p: unknown) => (Array.isArray(p) ? p.length : typeof p === 'string' ? 0 : 1); // a string is text: unknown

describe('parseTrigger under fuzzing', () => {
  it('never throws and extracts only well-formed events, from objects and from the bytes FC passes', () => {
    fc.assert(
      fc.property(anyPayload, (payload) => {
        const fromObject = parseTrigger(payload);
        expectSaneTrigger(fromObject, itemsOf(payload));
        if (typeof payload === 'string') return; // a string is the payload's text, not a value
        const text = JSON.stringify(payload);
        expect(parseTrigger(Buffer.from(text))).toEqual(parseTrigger(JSON.parse(text))); // JSON has no -0 nor undefined
      }),
      runs(3000),
    );
  });

  it('never throws on arbitrary bytes or text', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.uint8Array({ maxLength: 200 }), fc.string({ unit: 'binary', maxLength: 200 }), fc.json()),
        (raw) => {
          const inv = parseTrigger(typeof raw === 'string' ? raw : Buffer.from(raw));
          expectSaneTrigger(inv, 0);
        },
      ),
      runs(1500),
    );
  });

  it('finds exactly the ids of a well-formed tag event, in whichever shape ActionTrail sends them', () => {
    const wellFormed = fc.record({
      kind: fc.constantFrom('snapshot', 'image'),
      eventName: fc.constantFrom('TagResources', 'UntagResources', 'AddTags', 'RemoveTags'),
      ids: fc.uniqueArray(fc.oneof(snapshotId, imageId), { minLength: 1, maxLength: 6 }),
      where: fc.constantFrom('ResourceId', 'indexed', 'referenced', 'both'),
      rawData: fc.boolean(),
      asText: fc.boolean(),
      shape: fc.constantFrom('scalar', 'array', 'json', 'nested'),
    });
    fc.assert(
      fc.property(wellFormed, ({ kind, eventName, ids, where, rawData, asText, shape }) => {
        const mine = ids.filter((id) => id.startsWith(kind === 'snapshot' ? 's-' : 'm-'));
        const params: Record<string, unknown> = { RegionId: REGION, ResourceType: kind };
        // The same list, in the shape drawn: scalar (first id only), array, JSON string or nested arrays.
        const shaped = { scalar: mine[0], array: mine, json: JSON.stringify(mine), nested: nest(mine, 3) }[shape];
        if (where === 'ResourceId' || where === 'both') params.ResourceId = shaped;
        if (where === 'indexed') mine.forEach((id, i) => (params[`ResourceId.${i + 1}`] = id));
        const data: Record<string, unknown> = {
          eventId: 'E-1',
          eventName,
          serviceName: 'Ecs',
          acsRegion: REGION,
          requestParameters: asText ? JSON.stringify(params) : params,
        };
        if (where === 'referenced' || where === 'both')
          data.referencedResources = { [kind === 'snapshot' ? 'ACS::ECS::Snapshot' : 'ACS::ECS::Image']: mine };
        const payload = rawData
          ? data
          : { specversion: '1.0', id: 'ce-1', type: 'ecs:ActionTrail:ApiCall', aliyunaccountid: OWNER, data };
        const inv = parseTrigger(payload);
        expectSaneTrigger(inv, 1);
        if (inv.kind !== 'events') throw new Error(`expected events, got ${inv.kind}`);
        const expected = shape === 'scalar' && where === 'ResourceId' ? mine.slice(0, 1) : mine;
        if (expected.length === 0) {
          expect(inv.events).toEqual([]);
          return;
        }
        expect(inv.events).toHaveLength(1);
        expect(inv.events[0]).toMatchObject({ resourceType: kind, region: REGION, eventName });
        expect([...inv.events[0].resourceIds].sort()).toEqual(
          [...new Set(where === 'both' ? [...expected, ...mine] : expected)].sort(),
        );
      }),
      runs(1500),
    );
  });

  it('refuses a field nested past the limit, wherever it is, naming where', () => {
    fc.assert(
      fc.property(deepEvent(KNOWN), (payload) => {
        const inv = parseTrigger(payload);
        expect(inv).toMatchObject({
          kind: 'invalid',
          error: expect.stringMatching(new RegExp(`nested more than ${INPUT_LIMITS.maxDepth} levels`)),
        });
        expectSaneTrigger(inv, 1);
      }),
      runs(300),
    );
  });

  it('refuses a payload past the size limit, as bytes, as text and as an object', () => {
    const big = 's-' + 'a'.repeat(INPUT_LIMITS.maxBytes + 10);
    fc.assert(
      fc.property(cloudEvent(KNOWN), fc.constantFrom('bytes', 'text', 'object'), (event, form) => {
        const e = {
          ...event,
          data: {
            eventName: 'TagResources',
            serviceName: 'Ecs',
            acsRegion: REGION,
            requestParameters: { ResourceId: big, big2: big },
          },
        };
        const raw = form === 'object' ? e : form === 'text' ? JSON.stringify(e) : Buffer.from(JSON.stringify(e));
        const inv = parseTrigger(raw);
        expect(inv.kind).toBe('invalid');
        expectSaneTrigger(inv, 1);
      }),
      runs(6),
    );
  });
});
