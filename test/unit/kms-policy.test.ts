import { describe, expect, it } from 'vitest';
import {
  buildKmsPolicies,
  keyArn,
  keysInPolicy,
  policyIndexFromName,
  policyNameFor,
  versionToDelete,
  type KeyRef,
  type PolicyVersionInfo,
} from '../../shared/domain/kms-policy';
import { parsePolicy } from '../../shared/domain/policy-json';

const OWNER = '1000000000000001';
const key = (keyId: string, region = 'cn-hangzhou', accountId = OWNER): KeyRef => ({ region, accountId, keyId });
const manyKeys = (n: number) =>
  Array.from({ length: n }, (_, i) =>
    key(`key-hzz${String(i).padStart(4, '0')}f1cb66fa42qoabcd`, i % 3 === 0 ? 'cn-shanghai' : 'cn-hangzhou'),
  );

describe('buildKmsPolicies', () => {
  it('writes the seed policy for one key', () => {
    expect(buildKmsPolicies([key('key-1')])).toEqual([
      {
        Version: '1',
        Statement: [
          { Action: 'kms:List*', Resource: `acs:kms:cn-hangzhou:${OWNER}:key`, Effect: 'Allow' },
          {
            Action: [
              'kms:DescribeKey',
              'kms:TagResource',
              'kms:UntagResource',
              'kms:Encrypt',
              'kms:Decrypt',
              'kms:GenerateDataKey',
            ],
            Resource: [`acs:kms:cn-hangzhou:${OWNER}:key/key-1`],
            Effect: 'Allow',
          },
        ],
      },
    ]);
  });

  it('needs no policy for no keys', () => {
    expect(buildKmsPolicies([])).toEqual([]);
  });

  it('lists each region and account in use once, sorted', () => {
    const [policy] = buildKmsPolicies([
      key('k2', 'cn-shanghai'),
      key('k1'),
      key('k3', 'cn-hangzhou', '1000000000000009'),
      key('k4'),
    ]);
    expect(policy.Statement.filter((s) => s.Action === 'kms:List*').map((s) => s.Resource)).toEqual([
      `acs:kms:cn-hangzhou:${OWNER}:key`,
      'acs:kms:cn-hangzhou:1000000000000009:key',
      `acs:kms:cn-shanghai:${OWNER}:key`,
    ]);
  });

  it('is deterministic whatever the input order and duplicates', () => {
    const keys = manyKeys(20);
    const shuffled = [...keys].reverse().concat(keys.slice(0, 5));
    expect(JSON.stringify(buildKmsPolicies(shuffled))).toBe(JSON.stringify(buildKmsPolicies(keys)));
  });

  it.each([
    [1, 1],
    [50, 1],
    [200, 3],
  ])('splits %i keys into %i self-contained policies within 6,144 characters', (n, expected) => {
    const keys = manyKeys(n);
    const policies = buildKmsPolicies(keys);
    expect(policies).toHaveLength(expected);
    for (const p of policies) {
      expect(JSON.stringify(p).length).toBeLessThanOrEqual(6144);
      const listScopes = p.Statement.filter((s) => s.Action === 'kms:List*').map((s) => s.Resource);
      for (const k of keysInPolicy(p)) expect(listScopes).toContain(`acs:kms:${k.region}:${k.accountId}:key`);
    }
    expect(policies.flatMap(keysInPolicy).map(keyArn).sort()).toEqual(keys.map(keyArn).sort());
  });

  it('splits exactly at the limit', () => {
    const keys = manyKeys(10);
    const whole = JSON.stringify(buildKmsPolicies(keys)[0]).length;
    expect(buildKmsPolicies(keys, whole)).toHaveLength(1);
    expect(buildKmsPolicies(keys, whole - 1)).toHaveLength(2);
  });

  it('refuses a limit that one key alone exceeds', () => {
    expect(() => buildKmsPolicies([key('k1')], 100)).toThrow(/alone exceeds 100/);
  });
});

describe('keysInPolicy', () => {
  it('reads the keys back from a policy RAM returned reformatted', () => {
    const text = JSON.stringify(buildKmsPolicies([key('k2'), key('k1', 'cn-shanghai')])[0], null, 2);
    expect(keysInPolicy(parsePolicy(text))).toEqual([key('k2'), key('k1', 'cn-shanghai')]);
  });

  it('ignores list scopes, wildcards, Deny statements and other ARNs', () => {
    const doc = parsePolicy(
      JSON.stringify({
        Version: '1',
        Statement: [
          {
            Effect: 'Allow',
            Action: 'kms:Decrypt',
            Resource: [
              `acs:kms:cn-hangzhou:${OWNER}:key`,
              `acs:kms:cn-hangzhou:${OWNER}:key/*`,
              'acs:oss:*:*:b/o',
              `acs:kms:cn-hangzhou:${OWNER}:key/k1`,
            ],
          },
          { Effect: 'Deny', Action: 'kms:Decrypt', Resource: `acs:kms:cn-hangzhou:${OWNER}:key/k9` },
        ],
      }),
    );
    expect(keysInPolicy(doc)).toEqual([key('k1')]);
  });
});

describe('policy names', () => {
  it.each<['snapshot' | 'image', number, string]>([
    ['snapshot', 0, 'ecs-share-snapshot-kms'],
    ['snapshot', 1, 'ecs-share-snapshot-kms-2'],
    ['image', 0, 'ecs-share-image-kms'],
    ['image', 11, 'ecs-share-image-kms-12'],
  ])('names the %s policy at index %i %s and recognises it', (kind, index, name) => {
    expect(policyNameFor(kind, index)).toBe(name);
    expect(name).toMatch(/^[A-Za-z0-9-]{1,128}$/);
    expect(policyIndexFromName(kind, name)).toBe(index);
  });

  it.each(['ecs-share-snapshot-kms-1', 'ecs-share-snapshot-kms-02', 'ecs-share-image-kms', 'my-policy'])(
    'does not claim %s as a snapshot policy',
    (name) => {
      expect(policyIndexFromName('snapshot', name)).toBeUndefined();
    },
  );
});

describe('versionToDelete', () => {
  type Version = Omit<PolicyVersionInfo, 'document'>; // what the choice reads
  const v = (n: number, isDefault = false, day = n): Version => ({
    versionId: `v${n}`,
    isDefault,
    createDate: `2026-11-${String(day).padStart(2, '0')}T00:00:00Z`,
  });

  it.each<[string, Version[], string | undefined]>([
    ['below the limit', [v(1, true), v(2), v(3)], undefined],
    ['at the limit, the oldest non-default', [v(1), v(2), v(3, true), v(4), v(5)], 'v1'],
    ['at the limit with the oldest as default', [v(1, true), v(2), v(3), v(4), v(5)], 'v2'],
    ['by creation date, not by number', [v(1, false, 9), v(2, false, 3), v(3, true), v(4), v(5)], 'v2'],
    [
      'by version number without dates',
      [{ versionId: 'v12', isDefault: false }, { versionId: 'v9', isDefault: false }, v(13, true), v(14), v(15)],
      'v9',
    ],
    ['in unsorted input', [v(5), v(3), v(4, true), v(2), v(6)], 'v2'],
  ])('picks %s', (_name, versions, expected) => {
    expect(versionToDelete(versions)).toBe(expected);
  });

  it('honours a custom limit', () => {
    expect(versionToDelete([v(1, true), v(2)], 2)).toBe('v2');
  });
});
