// The pure parts of service-key copies: the SHARE_SERVICE_KEY_COPY setting, the claim/record tag and the tag sync.
import { describe, expect, it } from 'vitest';
import { parseServiceKeyCopy, readConfig } from '../../shared/config';
import { claimValue, readCopyRecord, tagSync } from '../../shared/share/service-key-copy';

describe('SHARE_SERVICE_KEY_COPY', () => {
  it.each([
    ['key-abc123', { default: 'key-abc123', byRegion: {} }],
    ['alias/ecs-share-copies', { default: 'alias/ecs-share-copies', byRegion: {} }],
    ['cn-hangzhou=key-a1, cn-shanghai=alias/sh', { byRegion: { 'cn-hangzhou': 'key-a1', 'cn-shanghai': 'alias/sh' } }],
    ['alias/all cn-shanghai=key-sh', { default: 'alias/all', byRegion: { 'cn-shanghai': 'key-sh' } }],
  ])('reads %j', (v, want) => {
    expect(parseServiceKeyCopy(v)).toEqual(want);
  });

  it('is off when unset or empty', () => {
    expect(parseServiceKeyCopy(undefined)).toBeUndefined();
    expect(parseServiceKeyCopy('  ')).toBeUndefined();
    expect(readConfig({}).serviceKeyCopy).toBeUndefined();
    expect(readConfig({}).serviceKeyCopyDelete).toBe(false);
  });

  it.each([
    'alias/acs/ecs',
    'kms-key',
    'cn-hangzhou=',
    'cn-hangzhou=key-a,cn-hangzhou=key-b',
    'key-a key-b',
    'https://x',
  ])('refuses %j', (v) => {
    expect(() => parseServiceKeyCopy(v)).toThrow(/SHARE_SERVICE_KEY_COPY/);
  });

  it('reads the delete switch strictly', () => {
    expect(readConfig({ SHARE_SERVICE_KEY_COPY_DELETE: 'true' }).serviceKeyCopyDelete).toBe(true);
    expect(() => readConfig({ SHARE_SERVICE_KEY_COPY_DELETE: 'maybe' })).toThrow();
  });
});

describe('the ecs-share:copy record on an original', () => {
  it('tells a copy id from a claim from anything else', () => {
    const claim = claimValue(1_700_000_000, () => 0.5);
    expect(readCopyRecord(claim)).toEqual({ claim: { atS: 1_700_000_000, token: claim } });
    expect(readCopyRecord('s-bp1copy')).toEqual({ copyId: 's-bp1copy' });
    expect(readCopyRecord('m-bp1copy')).toEqual({ copyId: 'm-bp1copy' });
    expect(readCopyRecord('')).toEqual({});
    expect(readCopyRecord('hand written')).toEqual({});
  });

  it('gives two claims made in the same second different tokens', () => {
    let n = 0;
    const r = () => [0.1, 0.9][n++];
    expect(claimValue(5, r)).not.toBe(claimValue(5, r));
  });
});

describe("keeping a copy's share tags equal to its original's", () => {
  it('sets what differs and removes what the original no longer has, leaving other tags alone', () => {
    const original = { 'share-with': 'a', 'share-with.3': 'c', team: 'x', 'ecs-share:copy': 's-1' };
    const copy = { 'share-with': 'old', 'share-with.2': 'b', 'ecs-share:copy-of': 's-0', owner: 'y' };
    expect(tagSync(original, copy, 'share-with')).toEqual({
      set: { 'share-with': 'a', 'share-with.3': 'c' },
      remove: ['share-with.2'],
    });
  });

  it('changes nothing when they agree, and removes every share key after an untag', () => {
    expect(tagSync({ 'share-with': 'a' }, { 'share-with': 'a' }, 'share-with')).toEqual({ set: {}, remove: [] });
    expect(tagSync({}, { 'share-with': 'a', 'share-with.2': 'b' }, 'share-with')).toEqual({
      set: {},
      remove: ['share-with', 'share-with.2'],
    });
  });
});
