// KMS 2016-01-20 through the real KMS 1.2.0 client (old rpc-client: V1 signature, bare bodies, errors as plain
// Error with code = Code + "Error"), plus the generic openapi call where a RegionId is needed.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Kms from '@alicloud/kms20160120';
import { A, B, allow, doc, errorOf, start, twoAccounts, type Started } from './iam-fixture';
import { ensureServiceKey, findKey } from '../../scripts/emulator/services/kms';
import { normaliseState } from '../../scripts/emulator/state';
import { DEFAULT_OPTIONS, type EmulatorServices } from '../../scripts/emulator/types';
import type { SdkClients } from '../helpers/sdk';

const USER_KEY = { accessKeyId: 'LTAIiamTestKmsUser05', accessKeySecret: 'kmsUserSecret' };
const ALLOWED_KEY = 'key-allowed000000000001';
const OTHER_KEY = 'key-other0000000000002';

let s: Started;
let rootA: SdkClients;
let rootB: SdkClients;
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;

beforeAll(async () => {
  const state = twoAccounts({
    keys: [
      { keyId: ALLOWED_KEY, accountId: A.uid, region: 'cn-hangzhou', state: 'Enabled', aliases: ['alias/allowed'] },
      { keyId: OTHER_KEY, accountId: A.uid, region: 'cn-hangzhou', state: 'Enabled' },
    ],
    policies: [
      {
        accountId: A.uid,
        policyName: 'one-key',
        defaultVersion: 'v1',
        versions: [
          { versionId: 'v1', document: doc(allow('kms:DescribeKey', `acs:kms:*:${A.uid}:key/${ALLOWED_KEY}`)) },
        ],
      },
    ],
  });
  state.accounts[0].users = [
    {
      userName: 'keyreader',
      accessKeys: [{ id: USER_KEY.accessKeyId, secret: USER_KEY.accessKeySecret }],
      attachedPolicies: [{ policyName: 'one-key', policyType: 'Custom' }],
    },
  ];
  s = await start(state);
  rootA = s.clients(A);
  rootB = s.clients(B);
});
afterAll(() => s.emu.stop());

const createKey = (client: SdkClients, description = 'test key') =>
  client.kms.createKey(new $Kms.CreateKeyRequest({ description }));
const describeKey = (client: SdkClients, keyId: string) =>
  client.kms.describeKey(new $Kms.DescribeKeyRequest({ keyId }));
const createAlias = (client: SdkClients, keyId: string, aliasName: string) =>
  client.kms.createAlias(new $Kms.CreateAliasRequest({ keyId, aliasName }));

describe('keys', () => {
  it('creates a key with the metadata of a customer master key', async () => {
    const meta = (await createKey(rootA, 'my cmk')).keyMetadata;
    expect(meta).toMatchObject({
      keyState: 'Enabled',
      keySpec: 'Aliyun_AES_256',
      keyUsage: 'ENCRYPT/DECRYPT',
      origin: 'Aliyun_KMS',
      protectionLevel: 'SOFTWARE',
      creator: A.uid,
      description: 'my cmk',
    });
    expect(meta.keyId).toMatch(/^key-[0-9a-z]+$/);
    expect(meta.arn).toBe(`acs:kms:cn-hangzhou:${A.uid}:key/${meta.keyId}`);
  });

  it('describes a key by id', async () => {
    const { keyId } = (await createKey(rootA)).keyMetadata;
    const meta = (await describeKey(rootA, keyId)).keyMetadata;
    expect(meta).toMatchObject({ keyId, keyState: 'Enabled', creationDate: expect.any(String) });
  });

  it('answers Forbidden.KeyNotFound for an unknown key id, and for another account key', async () => {
    const unknown = await errorOf(describeKey(rootA, 'key-doesnotexist'));
    expect(unknown.code).toBe('Forbidden.KeyNotFoundError');
    expect(unknown.data?.Code).toBe('Forbidden.KeyNotFound');
    expect((await errorOf(describeKey(rootB, ALLOWED_KEY))).code).toBe('Forbidden.KeyNotFoundError');
  });

  it('rejects an unknown KeyUsage', async () => {
    const err = await errorOf(rootA.kms.createKey(new $Kms.CreateKeyRequest({ keyUsage: 'WRAP' })));
    expect(err.code).toBe('InvalidParameterError');
  });

  it('disables and enables a key', async () => {
    const { keyId } = (await createKey(rootA)).keyMetadata;
    await rootA.kms.disableKey(new $Kms.DisableKeyRequest({ keyId }));
    expect((await describeKey(rootA, keyId)).keyMetadata.keyState).toBe('Disabled');
    await rootA.kms.enableKey(new $Kms.EnableKeyRequest({ keyId }));
    expect((await describeKey(rootA, keyId)).keyMetadata.keyState).toBe('Enabled');
  });

  it('pages ListKeys and keeps keys per account and region', async () => {
    const fresh = await start();
    const c = fresh.clients(A);
    for (let i = 0; i < 3; i++) await createKey(c);
    await createKey(fresh.clients(B));
    const first = await c.kms.listKeys(new $Kms.ListKeysRequest({ pageNumber: 1, pageSize: 2 }));
    const second = await c.kms.listKeys(new $Kms.ListKeysRequest({ pageNumber: 2, pageSize: 2 }));
    const shanghai = await c.call('ListKeys', '2016-01-20', { RegionId: 'cn-shanghai' });
    await fresh.emu.stop();
    expect([first.totalCount, first.keys.key.length, second.keys.key.length]).toEqual([3, 2, 1]);
    expect(first.keys.key[0].keyArn).toBe(`acs:kms:cn-hangzhou:${A.uid}:key/${first.keys.key[0].keyId}`);
    expect(shanghai.TotalCount).toBe(0);
  });
});

describe('aliases', () => {
  it('creates an alias that DescribeKey and ListAliases resolve', async () => {
    const { keyId } = (await createKey(rootA)).keyMetadata;
    const aliasName = `alias/${unique('share')}`;
    await createAlias(rootA, keyId, aliasName);
    expect((await describeKey(rootA, aliasName)).keyMetadata.keyId).toBe(keyId);
    const listed = (await rootA.kms.listAliases(new $Kms.ListAliasesRequest({ pageSize: 100 }))).aliases.alias;
    expect(listed).toContainEqual({ aliasName, keyId, aliasArn: `acs:kms:cn-hangzhou:${A.uid}:${aliasName}` });
  });

  it('refuses an alias that exists already', async () => {
    const { keyId } = (await createKey(rootA)).keyMetadata;
    const aliasName = `alias/${unique('dup')}`;
    await createAlias(rootA, keyId, aliasName);
    const err = await errorOf(createAlias(rootA, keyId, aliasName));
    expect(err.code).toBe('AlreadyExists.AliasError');
  });

  it.each([
    ['without the alias/ prefix', 'share'],
    ['in the reserved alias/acs/ space', 'alias/acs/mine'],
  ])('refuses an alias name %s', async (_name, aliasName) => {
    const { keyId } = (await createKey(rootA)).keyMetadata;
    expect((await errorOf(createAlias(rootA, keyId, aliasName))).code).toBe('InvalidParameterError');
  });

  it('refuses an alias for an unknown key', async () => {
    expect((await errorOf(createAlias(rootA, 'key-doesnotexist', `alias/${unique('orphan')}`))).code).toBe(
      'Forbidden.KeyNotFoundError',
    );
  });

  it('answers Forbidden.AliasNotFound for an unknown alias', async () => {
    expect((await errorOf(describeKey(rootA, 'alias/nothing-here'))).code).toBe('Forbidden.AliasNotFoundError');
  });
});

describe('the ECS service key', () => {
  it('is created on first use of alias/acs/ecs, once per account and region', async () => {
    const fresh = await start();
    const first = (await describeKey(fresh.clients(A), 'alias/acs/ecs')).keyMetadata;
    const again = (await describeKey(fresh.clients(A), 'alias/acs/ecs')).keyMetadata;
    const otherAccount = (await describeKey(fresh.clients(B), 'alias/acs/ecs')).keyMetadata;
    const otherRegion = await fresh
      .clients(A)
      .call('DescribeKey', '2016-01-20', { RegionId: 'cn-shanghai', KeyId: 'alias/acs/ecs' });
    const aliases = (
      await fresh.clients(A).kms.listAliasesByKeyId(new $Kms.ListAliasesByKeyIdRequest({ keyId: first.keyId }))
    ).aliases.alias;
    await fresh.emu.stop();
    expect(again.keyId).toBe(first.keyId);
    expect(first.creator).toBe('Ecs');
    expect(otherAccount.keyId).not.toBe(first.keyId);
    expect(otherRegion.KeyMetadata.Arn).toMatch(/^acs:kms:cn-shanghai:/);
    expect(aliases.map((a) => a.aliasName)).toEqual(['alias/acs/ecs']);
  });

  it('cannot be disabled', async () => {
    const { keyId } = (await describeKey(rootA, 'alias/acs/ecs')).keyMetadata;
    expect((await errorOf(rootA.kms.disableKey(new $Kms.DisableKeyRequest({ keyId })))).code).toBe(
      'UnsupportedOperationError',
    );
  });
});

describe('authorization of KMS calls', () => {
  it('authorizes DescribeKey against the key ARN, also when addressed by alias', async () => {
    const user = s.clients(USER_KEY);
    expect((await describeKey(user, ALLOWED_KEY)).keyMetadata.keyId).toBe(ALLOWED_KEY);
    expect((await describeKey(user, 'alias/allowed')).keyMetadata.keyId).toBe(ALLOWED_KEY);
    const err = await errorOf(describeKey(user, OTHER_KEY));
    expect(err.code).toBe('Forbidden.NoPermissionError');
    expect(err.data?.AccessDeniedDetail?.AuthAction).toBe('kms:DescribeKey');
  });

  it('denies CreateKey to a user without kms:CreateKey', async () => {
    expect((await errorOf(createKey(s.clients(USER_KEY)))).code).toBe('Forbidden.NoPermissionError');
  });
});

describe('findKey and ensureServiceKey', () => {
  const emu: EmulatorServices = {
    now: () => new Date(),
    nowIso: () => '2026-11-28T00:00:00Z',
    newId: (p) => p,
    requestId: () => 'r',
    options: DEFAULT_OPTIONS,
  };
  const state = () =>
    normaliseState(
      twoAccounts({
        keys: [{ keyId: 'key-1', accountId: A.uid, region: 'cn-hangzhou', state: 'Enabled', aliases: ['alias/a'] }],
      }),
    );

  it.each([
    ['an id', 'key-1', true],
    ['an alias', 'alias/a', true],
    ['a key ARN', `acs:kms:cn-hangzhou:${A.uid}:key/key-1`, true],
    ['an alias ARN', `acs:kms:cn-hangzhou:${A.uid}:alias/a`, true],
    ['a key ARN of another region', `acs:kms:cn-beijing:${A.uid}:key/key-1`, false],
    ['a key ARN of another account', `acs:kms:cn-hangzhou:${B.uid}:key/key-1`, false],
  ])('finds a key by %s: %s', (_name, ref, found) => {
    expect(findKey(state(), A.uid, 'cn-hangzhou', ref)?.keyId === 'key-1').toBe(found);
  });

  it('creates the service key once and returns it after', () => {
    const st = state();
    const first = ensureServiceKey(st, emu, A.uid, 'cn-hangzhou');
    const second = ensureServiceKey(st, emu, A.uid, 'cn-hangzhou');
    expect(second).toBe(first);
    expect(st.keys.filter((k) => k.aliases?.includes('alias/acs/ecs'))).toHaveLength(1);
    expect(first).toMatchObject({ accountId: A.uid, region: 'cn-hangzhou', state: 'Enabled', creator: 'Ecs' });
  });
});
