import { describe, expect, it } from 'vitest';
import { formatImageGrants, readImageGrants } from '../../shared/domain/image-grants';
import {
  formatTarget,
  isShareTagKey,
  ledgerTagKeys,
  parseShareTags,
  shareTagKeys,
  targetKey,
  type ShareTarget,
  type TargetErrorCode,
} from '../../shared/domain/targets';

const OWNER = '1000000000000001';
const A2 = '1000000000000002';
const A3 = '1000000000000003';
const FOLDER = 'rd-demo01/r-demo01/fd-demofold01';
const opts = { tagKey: 'share-with', ownerUid: OWNER };

const account = (uid: string): ShareTarget => ({ kind: 'account', uid });
const rd = (rdId: string): ShareTarget => ({ kind: 'rd', rdId });
const folder = (path: string): ShareTarget => ({
  kind: 'folder',
  rdId: path.split('/')[0],
  path,
  folderId: path.split('/').pop()!,
});

describe('parseShareTags accepts', () => {
  it.each([
    ['one account', { 'share-with': A2 }, [account(A2)]],
    ['accounts separated by a comma', { 'share-with': `${A2},${A3}` }, [account(A2), account(A3)]],
    [
      'accounts separated by spaces, commas and newlines',
      { 'share-with': ` ${A3} ,\n ${A2}  ` },
      [account(A2), account(A3)],
    ],
    ['a resource directory', { 'share-with': 'rd-demo01' }, [rd('rd-demo01')]],
    ['a folder by its RD path', { 'share-with': FOLDER }, [folder(FOLDER)]],
    ['a nested folder', { 'share-with': `${FOLDER}/fd-demofold02` }, [folder(`${FOLDER}/fd-demofold02`)]],
    [
      'the id lengths the docs give',
      { 'share-with': 'rd-3Gab12/r-Wmab12/fd-Jyl5U7ab12' },
      [folder('rd-3Gab12/r-Wmab12/fd-Jyl5U7ab12')],
    ],
    [
      'a mix, in deterministic order',
      { 'share-with': `${FOLDER} rd-demo01 ${A3} ${A2}` },
      [account(A2), account(A3), rd('rd-demo01'), folder(FOLDER)],
    ],
    ['duplicates collapsed', { 'share-with': `${A2} ${A2}`, 'share-with.2': A2 }, [account(A2)]],
    [
      'continuation keys together with the base key',
      { 'share-with': A2, 'share-with.2': A3, 'share-with.10': 'rd-demo01' },
      [account(A2), account(A3), rd('rd-demo01')],
    ],
    ['a continuation key without the base key', { 'share-with.3': A2 }, [account(A2)]],
    ['an empty value as nothing', { 'share-with': '  ' }, []],
    ['no share tag as nothing', { env: 'prod' }, []],
    ['unrelated tags that share the prefix as unrelated', { 'share-without': 'x*', 'share-with-x': '?' }, []],
  ])('%s', (_name, tags, expected) => {
    const result = parseShareTags(tags, opts);
    expect(result.errors).toEqual([]);
    expect(result.targets).toEqual(expected);
  });

  it('uses a configured tag key instead of the default', () => {
    const result = parseShareTags({ 'share-with': A2, 'ecs-share-to': A3 }, { ...opts, tagKey: 'ecs-share-to' });
    expect(result.targets).toEqual([account(A3)]);
  });
});

describe('parseShareTags refuses', () => {
  it.each<[string, string, TargetErrorCode]>([
    ['a wildcard account', '10000000000000*', 'Wildcard'],
    ['a bare star', '*', 'Wildcard'],
    ['a question mark', 'rd-demo0?', 'Wildcard'],
    ['a percent sign', 'rd-demo%', 'Wildcard'],
    ['a wildcard folder', 'rd-demo01/r-demo01/*', 'Wildcard'],
    ['a 15-digit account', '100000000000000', 'Malformed'],
    ['a 17-digit account', '10000000000000021', 'Malformed'],
    ['an account with letters', '10000000000000a2', 'Malformed'],
    [
      'a truncated folder id, whose trust wildcard would also match siblings',
      'rd-demo01/r-demo01/fd-demofold0',
      'Malformed',
    ],
    ['a folder id longer than 10 characters', 'rd-demo01/r-demo01/fd-demofold011', 'Malformed'],
    ['a too short RD id', 'rd-ab', 'Malformed'],
    ['an RD id with a dash inside', 'rd-demo-01', 'Malformed'],
    ['an upper-case prefix', 'RD-demo01', 'Malformed'],
    ['a trailing slash', `${FOLDER}/`, 'Malformed'],
    ['an empty segment', 'rd-demo01//fd-demofold01', 'Malformed'],
    ['a dot-dot segment', 'rd-demo01/r-demo01/../fd-demofold01', 'Malformed'],
    ['a path without the RD id', 'r-demo01/fd-demofold01', 'Malformed'],
    ['a path without the root folder', 'rd-demo01/fd-demofold01', 'Malformed'],
    ['a folder id that is too short', 'rd-demo01/r-demo01/fd-abc', 'Malformed'],
    ['a bare folder id', 'fd-demofold01', 'Malformed'],
    ['a name', 'alice', 'Malformed'],
    ['the root folder path', 'rd-demo01/r-demo01', 'RootFolder'],
    ["the owner's own account", OWNER, 'Self'],
  ])('%s', (_name, value, code) => {
    const result = parseShareTags({ 'share-with': `${A2} ${value}` }, opts);
    expect(result.errors).toEqual([expect.objectContaining({ value, code, key: 'share-with' })]);
    expect(result.errors[0].reason.length).toBeGreaterThan(10);
    expect(result.targets).toEqual([account(A2)]);
  });

  it('points a root-folder path to the rd- form', () => {
    const [error] = parseShareTags({ 'share-with': 'rd-demo01/r-demo01' }, opts).errors;
    expect(error.reason).toContain('write rd-demo01 instead');
  });

  it.each(['share-with.1', 'share-with.11', 'share-with.02', 'share-with.x'])('the undefined key %s', (key) => {
    const result = parseShareTags({ [key]: A2 }, opts);
    expect(result.errors).toEqual([expect.objectContaining({ code: 'UnknownKey', key })]);
    expect(result.targets).toEqual([]);
  });

  it('reports one error per bad value even when repeated', () => {
    const result = parseShareTags({ 'share-with': '* *', 'share-with.2': '*' }, opts);
    expect(result.errors).toHaveLength(1);
  });
});

describe('parseShareTags with an allowlist', () => {
  const allowlist = { accounts: [A2], rds: ['rd-allowed1'], folders: [FOLDER, 'fd-listedonl1'] };

  it.each<[string, string, boolean]>([
    ['a listed account', A2, true],
    ['an unlisted account', A3, false],
    ['a listed RD', 'rd-allowed1', true],
    ['an unlisted RD', 'rd-demo01', false],
    ['a listed folder', FOLDER, true],
    ['a folder under a listed folder', `${FOLDER}/fd-demofold02`, true],
    ['a folder under a listed RD', 'rd-allowed1/r-root01/fd-anyfolder1', true],
    ['a folder under a folder listed by id', 'rd-other01/r-root01/fd-listedonl1/fd-child00001', true],
    ['a sibling whose id starts like a listed folder', 'rd-demo01/r-demo01/fd-demofold12', false],
    ['an unlisted folder', 'rd-demo01/r-demo01/fd-otherfoldr', false],
  ])('%s is allowed: %s', (_name, value, allowed) => {
    const result = parseShareTags({ 'share-with': value }, { ...opts, allowlist });
    expect(result.targets).toHaveLength(allowed ? 1 : 0);
    expect(result.errors.map((e) => e.code)).toEqual(allowed ? [] : ['NotAllowed']);
  });

  it('forbids kinds that have no list once any list is configured', () => {
    const result = parseShareTags({ 'share-with': `${A2} rd-demo01` }, { ...opts, allowlist: { accounts: [A2] } });
    expect(result.targets).toEqual([account(A2)]);
    expect(result.errors).toEqual([expect.objectContaining({ value: 'rd-demo01', code: 'NotAllowed' })]);
  });

  it('allows everything when the allowlist has no list', () => {
    expect(parseShareTags({ 'share-with': A3 }, { ...opts, allowlist: {} }).targets).toEqual([account(A3)]);
  });
});

describe('target helpers', () => {
  it.each([
    [account(A2), A2, `account ${A2}`],
    [rd('rd-demo01'), 'rd-demo01', 'resource directory rd-demo01'],
    [folder(FOLDER), FOLDER, `folder ${FOLDER}`],
  ])('keys and formats %j', (target, key, text) => {
    expect(targetKey(target)).toBe(key);
    expect(formatTarget(target)).toBe(text);
  });

  it('lists the ten contract keys', () => {
    expect(shareTagKeys()).toEqual(['share-with', ...[2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => `share-with.${n}`)]);
  });

  it.each([
    ['share-with', true],
    ['share-with.2', true],
    ['share-with.15', true],
    ['share-with.x', true],
    ['share-without', false],
    ['env', false],
  ])('recognises %s as a share tag key: %s', (key, expected) => {
    expect(isShareTagKey(key)).toBe(expected);
  });

  it('fits 64 accounts over the base key and continuation keys of at most 128 characters', () => {
    const uids = Array.from({ length: 64 }, (_, i) => String(2000000000000000 + i));
    const tags = formatImageGrants({ granted: uids, pending: [] }, 'share-with'); // the same packing a person can use for share tags
    expect(Object.keys(tags).length).toBeLessThanOrEqual(10);
    expect(parseShareTags(tags, opts).targets).toHaveLength(64);
  });
});

describe('grant ledger tags', () => {
  const fmt = (uids: string[]) =>
    formatImageGrants({ granted: [...new Set(uids)].sort(), pending: [] }, 'ecs-share:granted');
  const granted = (tags: Record<string, string>) => readImageGrants(tags, 'ecs-share:granted').granted;
  const many = Array.from({ length: 50 }, (_, i) => String(3000000000000000 + i * 7919));

  it.each([
    ['no accounts', [], {}],
    ['one account', [A2], { 'ecs-share:granted': A2 }],
    ['unsorted duplicates', [A3, A2, A3], { 'ecs-share:granted': `${A2},${A3}` }],
  ])('formats %s', (_name, uids, expected) => {
    expect(fmt(uids)).toEqual(expected);
  });

  it('splits 50 accounts over continuation keys of at most 128 characters', () => {
    const tags = fmt(many);
    expect(Object.keys(tags)).toEqual([
      'ecs-share:granted',
      ...[2, 3, 4, 5, 6, 7, 8].map((n) => `ecs-share:granted.${n}`),
    ]);
    for (const value of Object.values(tags)) expect(value.length).toBeLessThanOrEqual(128);
  });

  it.each([[[]], [[A2]], [[A3, A2]], [many]])('round-trips %j', (uids) => {
    expect(granted(fmt(uids))).toEqual([...new Set(uids)].sort());
  });

  it('reads only the ledger keys and ignores non-UID tokens', () => {
    const tags = {
      'ecs-share:granted': `${A2}, junk`,
      'ecs-share:granted.3': A3,
      'share-with': '1000000000000009',
      env: 'x',
    };
    expect(granted(tags)).toEqual([A2, A3]);
    expect(ledgerTagKeys(tags)).toEqual(['ecs-share:granted', 'ecs-share:granted.3']);
  });

  it('uses a custom ledger key', () => {
    expect(readImageGrants(formatImageGrants({ granted: [A2], pending: [] }, 'x:g'), 'x:g').granted).toEqual([A2]);
  });

  it('refuses to record something that is not an account UID', () => {
    expect(() => fmt(['rd-demo01'])).toThrow(/account UIDs only/);
  });
});
