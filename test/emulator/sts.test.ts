// STS 2015-04-01 through the real @alicloud/sts20150401 client: caller identity for every kind of caller, and
// AssumeRole with its two gates (the caller's sts:AssumeRole permission and the role's trust policy).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import * as $Sts from '@alicloud/sts20150401';
import { A, B, allow, doc, errorOf, start, trustAccount, twoAccounts, type Started } from './iam-fixture';
import type { SdkClients } from '../helpers/sdk';

const USER_KEY = { accessKeyId: 'LTAIiamTestUserA0003', accessKeySecret: 'userSecret' };
const BARE_USER_KEY = { accessKeyId: 'LTAIiamTestUserA0004', accessKeySecret: 'bareSecret' };

let s: Started;
let rootA: SdkClients;
let rootB: SdkClients;
let n = 0;
const unique = (prefix: string) => `${prefix}-${++n}`;

beforeAll(async () => {
  const state = twoAccounts();
  state.accounts[0].users = [
    {
      userName: 'alice',
      userId: '200000000000000001',
      accessKeys: [{ id: USER_KEY.accessKeyId, secret: USER_KEY.accessKeySecret }],
      attachedPolicies: [{ policyName: 'AliyunSTSAssumeRoleAccess', policyType: 'System' }],
    },
    {
      userName: 'bob',
      accessKeys: [{ id: BARE_USER_KEY.accessKeyId, secret: BARE_USER_KEY.accessKeySecret }],
      attachedPolicies: [],
    },
  ];
  s = await start(state);
  rootA = s.clients(A);
  rootB = s.clients(B);
});
afterAll(() => s.emu.stop());

async function roleIn(
  client: SdkClients,
  trust: string,
  policies: Array<[string, string]> = [],
): Promise<{ name: string; arn: string }> {
  const name = unique('Role');
  const r = await client.ram.createRole(
    new $Ram.CreateRoleRequest({ roleName: name, assumeRolePolicyDocument: trust }),
  );
  for (const [policyName, policyType] of policies) {
    await client.ram.attachPolicyToRole(new $Ram.AttachPolicyToRoleRequest({ roleName: name, policyName, policyType }));
  }
  return { name, arn: r.body!.role!.arn! };
}

const assume = (client: SdkClients, roleArn: string, extra: Partial<$Sts.AssumeRoleRequest> = {}) =>
  client.sts.assumeRole(new $Sts.AssumeRoleRequest({ roleArn, roleSessionName: 'sess', ...extra }));

async function sessionClients(
  client: SdkClients,
  roleArn: string,
  extra: Partial<$Sts.AssumeRoleRequest> = {},
): Promise<SdkClients> {
  const c = (await assume(client, roleArn, extra)).body!.credentials!;
  return s.clients({
    accessKeyId: c.accessKeyId!,
    accessKeySecret: c.accessKeySecret!,
    securityToken: c.securityToken!,
  });
}

describe('GetCallerIdentity', () => {
  it('describes the account root', async () => {
    const body = (await rootA.sts.getCallerIdentity()).body!;
    expect(body).toMatchObject({
      accountId: A.uid,
      userId: A.uid,
      principalId: A.uid,
      arn: `acs:ram::${A.uid}:root`,
      identityType: 'Account',
    });
  });

  it('describes a RAM user', async () => {
    const body = (await s.clients(USER_KEY).sts.getCallerIdentity()).body!;
    expect(body).toMatchObject({
      accountId: A.uid,
      userId: '200000000000000001',
      arn: `acs:ram::${A.uid}:user/alice`,
      identityType: 'RAMUser',
    });
  });

  it('describes a role session, and needs no policy to do so', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    const session = await sessionClients(rootA, role.arn, { roleSessionName: 'who-am-i' });
    const body = (await session.sts.getCallerIdentity()).body!;
    const roleId = (await rootA.ram.getRole(new $Ram.GetRoleRequest({ roleName: role.name }))).body!.role!.roleId;
    expect(body).toMatchObject({
      accountId: A.uid,
      identityType: 'AssumedRoleUser',
      arn: `acs:ram::${A.uid}:assumed-role/${role.name}/who-am-i`,
      roleId,
      principalId: `${roleId}:who-am-i`,
    });
  });
});

describe('AssumeRole', () => {
  it('returns temporary credentials and the assumed role user', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    const body = (await assume(rootA, role.arn, { durationSeconds: 900 })).body!;
    expect(body.credentials?.accessKeyId).toMatch(/^STS\./);
    expect(body.credentials?.securityToken).toBeTruthy();
    const lifetime = Date.parse(body.credentials!.expiration!) - Date.now();
    expect(lifetime).toBeGreaterThan(850_000);
    expect(lifetime).toBeLessThanOrEqual(900_000);
    expect(body.assumedRoleUser?.arn).toBe(`${role.arn}/sess`);
    expect(body.assumedRoleUser?.assumedRoleId).toMatch(/^\d+:sess$/);
  });

  it('gives credentials that act with the role permissions', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid), [['AliyunRAMFullAccess', 'System']]);
    const session = await sessionClients(rootA, role.arn);
    const created = await session.ram.createPolicy(
      new $Ram.CreatePolicyRequest({ policyName: unique('bysession'), policyDocument: doc(allow('ecs:*')) }),
    );
    expect(created.body?.policy?.policyType).toBe('Custom');
    const err = await errorOf(
      session.sts.assumeRole(new $Sts.AssumeRoleRequest({ roleArn: role.arn, roleSessionName: 'again' })),
    );
    expect([err.code, err.statusCode]).toEqual(['NoPermission', 403]);
  });

  it('narrows the session by the Policy parameter', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid), [['AliyunRAMFullAccess', 'System']]);
    const session = await sessionClients(rootA, role.arn, { policy: doc(allow('ram:GetRole')) });
    await session.ram.getRole(new $Ram.GetRoleRequest({ roleName: role.name }));
    const err = await errorOf(
      session.ram.createRole(
        new $Ram.CreateRoleRequest({ roleName: unique('Nope'), assumeRolePolicyDocument: trustAccount(A.uid) }),
      ),
    );
    expect(err.code).toBe('NoPermission');
  });

  it('works across accounts when the role trusts the caller account', async () => {
    const role = await roleIn(rootA, trustAccount(B.uid), [['AliyunRAMFullAccess', 'System']]);
    const session = await sessionClients(rootB, role.arn);
    const who = (await session.sts.getCallerIdentity()).body!;
    expect(who.accountId).toBe(A.uid);
    await session.ram.getRole(new $Ram.GetRoleRequest({ roleName: role.name }));
  });

  it('refuses a caller the trust policy does not name', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    const err = await errorOf(assume(rootB, role.arn));
    expect([err.code, err.statusCode]).toEqual(['NoPermission', 403]);
    expect(err.message).toContain('You are not authorized to do this action');
  });

  it('lets a user with sts:AssumeRole assume a role that trusts its account', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    const session = await sessionClients(s.clients(USER_KEY), role.arn);
    expect((await session.sts.getCallerIdentity()).body?.identityType).toBe('AssumedRoleUser');
  });

  it('refuses a user without sts:AssumeRole even when the trust policy allows its account', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    const err = await errorOf(assume(s.clients(BARE_USER_KEY), role.arn));
    expect([err.code, err.statusCode]).toEqual(['NoPermission', 403]);
    expect(err.accessDeniedDetail?.AuthAction).toBe('sts:AssumeRole');
  });

  it('honours a trust policy that names one user', async () => {
    const trust = doc({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { RAM: [`acs:ram::${A.uid}:user/alice`] },
    });
    const role = await roleIn(rootA, trust);
    await assume(s.clients(USER_KEY), role.arn);
    expect((await errorOf(assume(rootA, role.arn))).code).toBe('NoPermission');
  });

  it('lets a role session assume a role that trusts that role', async () => {
    const first = await roleIn(rootA, trustAccount(A.uid), [['AliyunSTSAssumeRoleAccess', 'System']]);
    const second = await roleIn(
      rootA,
      doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${A.uid}:role/${first.name}`] } }),
    );
    const firstSession = await sessionClients(rootA, first.arn);
    const secondSession = await sessionClients(firstSession, second.arn, { roleSessionName: 'chained' });
    expect((await secondSession.sts.getCallerIdentity()).body?.arn).toBe(
      `acs:ram::${A.uid}:assumed-role/${second.name}/chained`,
    );
  });

  it('answers 404 EntityNotExist.Role for an unknown role', async () => {
    const err = await errorOf(assume(rootA, `acs:ram::${A.uid}:role/NoSuchRole`));
    expect([err.code, err.statusCode]).toEqual(['EntityNotExist.Role', 404]);
  });

  it('checks DurationSeconds against 900 and the role maximum', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    expect((await errorOf(assume(rootA, role.arn, { durationSeconds: 899 }))).code).toBe(
      'InvalidParameter.DurationSeconds',
    );
    expect((await errorOf(assume(rootA, role.arn, { durationSeconds: 3601 }))).code).toBe(
      'InvalidParameter.DurationSeconds',
    );
  });

  it('rejects a malformed session policy and a malformed role ARN', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    expect((await errorOf(assume(rootA, role.arn, { policy: '{"Version":"1"}' }))).code).toBe(
      'InvalidParameter.PolicyGrammar',
    );
    expect((await errorOf(assume(rootA, 'arn:not-a-role'))).code).toBe('InvalidParameter.RoleArn');
  });

  it('answers MissingParameter without RoleSessionName', async () => {
    const role = await roleIn(rootA, trustAccount(A.uid));
    const err = await errorOf(rootA.sts.assumeRole(new $Sts.AssumeRoleRequest({ roleArn: role.arn })));
    expect(err.code).toBe('MissingParameter');
  });
});
