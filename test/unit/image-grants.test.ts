import { describe, expect, it } from 'vitest';
import { formatImageGrants, mergeImageGrants, readImageGrants, PENDING_TTL_S } from '../../shared/domain/image-grants';

const KEY = 'ecs-share:granted';
const A = '1000000000000002';
const B = '1000000000000003';

describe('the image grant record', () => {
  it('reads confirmed accounts, intents and the date of the newest intent back from what it writes', () => {
    const rec = { granted: [A], pending: [B], since: 1_800_000_000 };
    expect(readImageGrants(formatImageGrants(rec, KEY), KEY)).toEqual(rec);
  });

  it('writes nothing for an empty record and keeps every value within 128 characters', () => {
    expect(formatImageGrants({ granted: [], pending: [] }, KEY)).toEqual({});
    const many = Array.from({ length: 50 }, (_, i) => `10000000000001${String(i).padStart(2, '0')}`);
    const tags = formatImageGrants({ granted: many.slice(0, 30), pending: many.slice(30), since: 5 }, KEY);
    expect(Object.values(tags).every((v) => v.length <= 128)).toBe(true);
    expect(readImageGrants(tags, KEY)).toEqual({ granted: many.slice(0, 30), pending: many.slice(30), since: 5 });
  });

  it.each([
    [
      'an intent is recorded and dated',
      { granted: [], pending: [] },
      { intend: [A] },
      { granted: [], pending: [A], since: 100 },
    ],
    [
      'a confirmed account needs no intent',
      { granted: [A], pending: [] },
      { intend: [A] },
      { granted: [A], pending: [] },
    ],
    [
      'an intent again keeps its fresh date, so a re-read shows no change',
      { granted: [], pending: [A], since: 90 },
      { intend: [A] },
      { granted: [], pending: [A], since: 90 },
    ],
    [
      'a stale intent is renewed',
      { granted: [], pending: [A], since: 100 - PENDING_TTL_S },
      { intend: [A] },
      { granted: [], pending: [A], since: 100 },
    ],
    [
      'confirming moves an intent to the confirmed accounts',
      { granted: [], pending: [A, B], since: 90 },
      { confirm: [A] },
      { granted: [A], pending: [B], since: 90 },
    ],
    [
      'forgetting drops either kind',
      { granted: [A], pending: [B], since: 90 },
      { forget: [A, B] },
      { granted: [], pending: [] },
    ],
    [
      "another writer's entries survive a merge",
      { granted: [B], pending: [], since: undefined },
      { intend: [A] },
      { granted: [B], pending: [A], since: 100 },
    ],
  ])('%s', (_name, rec, change, expected) => {
    expect(mergeImageGrants(rec, change, 100)).toEqual(expected);
  });

  it('ignores what is not an account, and an old record without intents reads as before', () => {
    expect(readImageGrants({ [KEY]: `${A},not-a-uid,+123`, [`${KEY}.2`]: B }, KEY)).toEqual({
      granted: [A, B],
      pending: [],
    });
  });
});
