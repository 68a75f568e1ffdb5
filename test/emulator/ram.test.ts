// RAM 2015-05-01 through the real @alicloud/ram20150501 client against a started emulator.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import { A, allow, doc, errorOf, start, trustAccount, twoAccounts, type Started } from './iam-fixture';
import type { SdkClients } from '../helpers/sdk';

let s: Started;
let root: SdkClients;
let n = 0;
/** A fresh name per test, so tests do not depend on each other's roles and policies. */
const unique = (prefix: string) => `${prefix}-${++n}`;

beforeAll(async () => {
  s = await start(twoAccounts({ options: { trustPolicyMaxLength: 1024 } }));
  root = s.clients(A);
});
afterAll(() => s.emu.stop());

const createRole = (roleName: string, trust = trustAccount(A.uid), extra: Partial<$Ram.CreateRoleRequest> = {}) =>
  root.ram.createRole(new $Ram.CreateRoleRequest({ roleName, assumeRolePolicyDocument: trust, ...extra }));
const createPolicy = (policyName: string, policyDocument = doc(allow('ecs:Describe*'))) =>
  root.ram.createPolicy(new $Ram.CreatePolicyRequest({ policyName, policyDocument }));
const createVersion = (policyName: string, action: string, extra: Partial<$Ram.CreatePolicyVersionRequest> = {}) =>
  root.ram.createPolicyVersion(
    new $Ram.CreatePolicyVersionRequest({ policyName, policyDocument: doc(allow(action)), ...extra }),
  );
const attach = (client: SdkClients, roleName: string, policyName: string, policyType = 'Custom') =>
  client.ram.attachPolicyToRole(new $Ram.AttachPolicyToRoleRequest({ roleName, policyName, policyType }));
const versionIds = async (policyName: string) =>
  (
    await root.ram.listPolicyVersions(new $Ram.ListPolicyVersionsRequest({ policyName, policyType: 'Custom' }))
  ).body!.policyVersions!.policyVersion!.map((v) => v.versionId);

describe('roles', () => {
  it('creates a role and returns its ARN, id and settings', async () => {
    const name = unique('Creator');
    const r = await createRole(name, trustAccount(A.uid), { description: 'd', maxSessionDuration: 7200 });
    expect(r.body?.role).toMatchObject({
      roleName: name,
      arn: `acs:ram::${A.uid}:role/${name}`,
      description: 'd',
      maxSessionDuration: 7200,
    });
    expect(r.body?.role?.roleId).toMatch(/^\d{19}$/);
  });

  it('returns the trust policy reformatted but semantically equal', async () => {
    const name = unique('Trusting');
    const sent = JSON.stringify({
      Version: '1',
      Statement: [{ Effect: 'Allow', Principal: { Service: ['ecs.aliyuncs.com'] }, Action: 'sts:AssumeRole' }],
    });
    await createRole(name, sent);
    const got = (await root.ram.getRole(new $Ram.GetRoleRequest({ roleName: name }))).body!.role!
      .assumeRolePolicyDocument!;
    expect(got).not.toBe(sent);
    expect(JSON.parse(got)).toEqual(JSON.parse(sent));
  });

  it('refuses a second role with the same name', async () => {
    const name = unique('Twice');
    await createRole(name);
    const err = await errorOf(createRole(name));
    expect([err.code, err.statusCode]).toEqual(['EntityAlreadyExists.Role', 409]);
  });

  it('answers 404 EntityNotExist.Role for an unknown role', async () => {
    const err = await errorOf(root.ram.getRole(new $Ram.GetRoleRequest({ roleName: 'NoSuchRole' })));
    expect([err.code, err.statusCode]).toEqual(['EntityNotExist.Role', 404]);
  });

  it('answers MissingParameter without a trust policy', async () => {
    const err = await errorOf(root.ram.createRole(new $Ram.CreateRoleRequest({ roleName: unique('NoTrust') })));
    expect([err.code, err.statusCode]).toEqual(['MissingParameter', 400]);
  });

  it.each([
    [
      'no Version',
      JSON.stringify({
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: ['acs:ram::1:root'] } }],
      }),
    ],
    ['no Principal', doc({ Effect: 'Allow', Action: 'sts:AssumeRole' })],
    ['broken JSON', '{"Version":"1",'],
  ])('rejects a trust policy with %s as MalformedPolicyDocument', async (_name, trust) => {
    const err = await errorOf(createRole(unique('Malformed'), trust));
    expect(err.code).toBe('MalformedPolicyDocument');
  });

  it('rejects a trust policy over the configured length', async () => {
    const long = doc({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { RAM: Array.from({ length: 40 }, (_, i) => `acs:ram::${1000000000000100 + i}:root`) },
    });
    const err = await errorOf(createRole(unique('Long'), long));
    expect([err.code, err.statusCode]).toEqual(['InvalidParameter.AssumeRolePolicyDocument.Length', 400]);
  });

  it('rejects invalid role names', async () => {
    expect((await errorOf(createRole('bad_name'))).code).toBe('InvalidParameter.RoleName.InvalidChars');
    expect((await errorOf(createRole('x'.repeat(65)))).code).toBe('InvalidParameter.RoleName.Length');
  });

  it('updates the trust policy, description and session duration', async () => {
    const name = unique('Updated');
    await createRole(name);
    const newTrust = trustAccount('1000000000000002');
    const r = await root.ram.updateRole(
      new $Ram.UpdateRoleRequest({
        roleName: name,
        newAssumeRolePolicyDocument: newTrust,
        newDescription: 'new',
        newMaxSessionDuration: 43200,
      }),
    );
    expect(r.body?.role).toMatchObject({ description: 'new', maxSessionDuration: 43200 });
    const got = (await root.ram.getRole(new $Ram.GetRoleRequest({ roleName: name }))).body!.role!;
    expect(JSON.parse(got.assumeRolePolicyDocument!)).toEqual(JSON.parse(newTrust));
    expect(got.updateDate).toBeTruthy();
  });

  it('names the NewAssumeRolePolicyDocument length error on update', async () => {
    const name = unique('UpdateLong');
    await createRole(name);
    const long = doc({
      Effect: 'Allow',
      Action: 'sts:AssumeRole',
      Principal: { RAM: Array.from({ length: 40 }, (_, i) => `acs:ram::${1000000000000100 + i}:root`) },
    });
    const err = await errorOf(
      root.ram.updateRole(new $Ram.UpdateRoleRequest({ roleName: name, newAssumeRolePolicyDocument: long })),
    );
    expect(err.code).toBe('InvalidParameter.NewAssumeRolePolicyDocument.Length');
  });

  it('pages ListRoles with Marker and MaxItems until IsTruncated is false', async () => {
    const fresh = await start();
    const c = fresh.clients(A);
    for (const name of ['p1', 'p2', 'p3', 'p4', 'p5']) {
      await c.ram.createRole(
        new $Ram.CreateRoleRequest({ roleName: name, assumeRolePolicyDocument: trustAccount(A.uid) }),
      );
    }
    const seen: string[] = [];
    let marker: string | undefined;
    let pages = 0;
    do {
      const body = (await c.ram.listRoles(new $Ram.ListRolesRequest({ maxItems: 2, marker }))).body!;
      seen.push(...body.roles!.role!.map((r) => r.roleName!));
      marker = body.isTruncated ? body.marker : undefined;
      pages++;
    } while (marker);
    await fresh.emu.stop();
    expect(seen).toEqual(['p1', 'p2', 'p3', 'p4', 'p5']);
    expect(pages).toBe(3);
  });

  it('refuses to delete a role with attached policies, then deletes it once detached', async () => {
    const name = unique('Doomed');
    await createRole(name);
    await attach(root, name, 'AliyunKMSFullAccess', 'System');
    const err = await errorOf(root.ram.deleteRole(new $Ram.DeleteRoleRequest({ roleName: name })));
    expect([err.code, err.statusCode]).toEqual(['DeleteConflict.Role.Policy', 409]);
    await root.ram.detachPolicyFromRole(
      new $Ram.DetachPolicyFromRoleRequest({ roleName: name, policyName: 'AliyunKMSFullAccess', policyType: 'System' }),
    );
    await root.ram.deleteRole(new $Ram.DeleteRoleRequest({ roleName: name }));
    expect((await errorOf(root.ram.getRole(new $Ram.GetRoleRequest({ roleName: name })))).code).toBe(
      'EntityNotExist.Role',
    );
  });
});

describe('role descriptions and attachment limits', () => {
  it('refuses an empty role description: RAM takes 1 to 1,024 characters', async () => {
    const e = await errorOf(createRole(unique('Empty'), trustAccount(A.uid), { description: '' }));
    expect([e.statusCode, e.code]).toEqual([400, 'InvalidParameter.Description.Length']);
  });

  it('refuses an empty NewDescription on UpdateRole, and one of 1,025 characters', async () => {
    const name = unique('Described');
    await createRole(name, trustAccount(A.uid), { description: 'ok' });
    const empty = await errorOf(
      root.ram.updateRole(new $Ram.UpdateRoleRequest({ roleName: name, newDescription: '' })),
    );
    const long = await errorOf(
      root.ram.updateRole(new $Ram.UpdateRoleRequest({ roleName: name, newDescription: 'x'.repeat(1025) })),
    );
    expect([empty.code, long.code]).toEqual([
      'InvalidParameter.NewDescription.Length',
      'InvalidParameter.NewDescription.Length',
    ]);
  });

  it('attaches 10 custom policies to a role and refuses the 11th with LimitExceeded.Role.Policy', async () => {
    const roleName = unique('Crowded');
    await createRole(roleName);
    for (let i = 0; i < 10; i++) {
      const policyName = unique('Part');
      await createPolicy(policyName);
      await attach(root, roleName, policyName);
    }
    const extra = unique('Part');
    await createPolicy(extra);
    const e = await errorOf(attach(root, roleName, extra));
    expect([e.statusCode, e.code]).toEqual([409, 'LimitExceeded.Role.Policy']);
  });
});

describe('policies and versions', () => {
  it('creates a custom policy and reads it back with its default version', async () => {
    const name = unique('Reader');
    const created = await createPolicy(name);
    expect(created.body?.policy).toMatchObject({ policyName: name, policyType: 'Custom', defaultVersion: 'v1' });
    const got = (await root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName: name, policyType: 'Custom' }))).body!;
    expect(JSON.parse(got.policy!.policyDocument!)).toEqual(JSON.parse(doc(allow('ecs:Describe*'))));
    expect(got.defaultPolicyVersion).toMatchObject({ versionId: 'v1', isDefaultVersion: true });
  });

  it('describes the system policies the share role needs', async () => {
    for (const policyName of ['AliyunKMSFullAccess', 'AliyunECSDiskEncryptDefaultRolePolicy']) {
      const got = (await root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName, policyType: 'System' }))).body!;
      expect(got.policy).toMatchObject({ policyName, policyType: 'System', defaultVersion: 'v1' });
      expect(JSON.parse(got.policy!.policyDocument!).Statement[0].Effect).toBe('Allow');
    }
  });

  it('answers EntityNotExist.Policy for an unknown policy and InvalidParameter.PolicyType for a bad type', async () => {
    expect(
      (await errorOf(root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName: 'Nope', policyType: 'Custom' })))).code,
    ).toBe('EntityNotExist.Policy');
    expect(
      (await errorOf(root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName: 'Nope', policyType: 'Other' })))).code,
    ).toBe('InvalidParameter.PolicyType');
  });

  it('rejects a policy document over 6,144 characters', async () => {
    const big = doc(allow(Array.from({ length: 400 }, (_, i) => `ecs:DescribeSomething${i}`)));
    expect(big.length).toBeGreaterThan(6144);
    const err = await errorOf(createPolicy(unique('Big'), big));
    expect([err.code, err.statusCode]).toEqual(['InvalidParameter.PolicyDocument.Length', 400]);
  });

  it.each([
    ['a Principal', doc(allow('ecs:*', '*', { Principal: { RAM: ['acs:ram::1:root'] } }))],
    ['Version 2', JSON.stringify({ Version: '2', Statement: [allow('ecs:*')] })],
    ['Effect Maybe', doc({ Effect: 'Maybe', Action: 'ecs:*', Resource: '*' })],
    ['an unknown operator', doc(allow('ecs:*', '*', { Condition: { StringSortOf: { k: 'v' } } }))],
  ])('rejects a permission policy with %s as MalformedPolicyDocument', async (_name, text) => {
    expect((await errorOf(createPolicy(unique('Bad'), text))).code).toBe('MalformedPolicyDocument');
  });

  it('refuses a sixth version with LimitExceeded.Policy.Version', async () => {
    const name = unique('Versioned');
    await createPolicy(name);
    for (let i = 2; i <= 5; i++) await createVersion(name, `ecs:Action${i}`);
    const err = await errorOf(createVersion(name, 'ecs:Action6'));
    expect([err.code, err.statusCode]).toEqual(['LimitExceeded.Policy.Version', 409]);
    expect(await versionIds(name)).toEqual(['v1', 'v2', 'v3', 'v4', 'v5']);
  });

  it('rotates out the oldest non-default version and never reuses a version id', async () => {
    const name = unique('Rotated');
    await createPolicy(name);
    for (let i = 2; i <= 5; i++) await createVersion(name, `ecs:Action${i}`);
    const r = await createVersion(name, 'ecs:Action6', {
      rotateStrategy: 'DeleteOldestNonDefaultVersionWhenLimitExceeded',
      setAsDefault: true,
    });
    expect(r.body?.policyVersion).toMatchObject({ versionId: 'v6', isDefaultVersion: true });
    expect(await versionIds(name)).toEqual(['v1', 'v3', 'v4', 'v5', 'v6']);
    await root.ram.deletePolicyVersion(new $Ram.DeletePolicyVersionRequest({ policyName: name, versionId: 'v5' }));
    const next = await createVersion(name, 'ecs:Action7');
    expect(next.body?.policyVersion?.versionId).toBe('v7');
  });

  it('keeps the default version when rotating and the default is the oldest', async () => {
    const name = unique('OldDefault');
    await createPolicy(name);
    for (let i = 2; i <= 5; i++) await createVersion(name, `ecs:Action${i}`);
    await createVersion(name, 'ecs:Action6', { rotateStrategy: 'DeleteOldestNonDefaultVersionWhenLimitExceeded' });
    expect(await versionIds(name)).toEqual(['v1', 'v3', 'v4', 'v5', 'v6']);
  });

  it('switches the default version and reads any version', async () => {
    const name = unique('Switch');
    await createPolicy(name);
    await createVersion(name, 'ecs:CopyImage');
    await root.ram.setDefaultPolicyVersion(
      new $Ram.SetDefaultPolicyVersionRequest({ policyName: name, versionId: 'v2' }),
    );
    const got = (await root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName: name, policyType: 'Custom' }))).body!;
    expect(got.policy?.defaultVersion).toBe('v2');
    const v1 = (
      await root.ram.getPolicyVersion(
        new $Ram.GetPolicyVersionRequest({ policyName: name, policyType: 'Custom', versionId: 'v1' }),
      )
    ).body!;
    expect(v1.policyVersion).toMatchObject({ versionId: 'v1', isDefaultVersion: false });
    const missing = await errorOf(
      root.ram.getPolicyVersion(
        new $Ram.GetPolicyVersionRequest({ policyName: name, policyType: 'Custom', versionId: 'v9' }),
      ),
    );
    expect([missing.code, missing.statusCode]).toEqual(['EntityNotExist.Policy.Version', 404]);
    const badFormat = await errorOf(
      root.ram.getPolicyVersion(
        new $Ram.GetPolicyVersionRequest({ policyName: name, policyType: 'Custom', versionId: '2' }),
      ),
    );
    expect(badFormat.code).toBe('InvalidParameter.VersionId.Format');
  });

  it('refuses to delete the default version', async () => {
    const name = unique('KeepDefault');
    await createPolicy(name);
    const err = await errorOf(
      root.ram.deletePolicyVersion(new $Ram.DeletePolicyVersionRequest({ policyName: name, versionId: 'v1' })),
    );
    expect([err.code, err.statusCode]).toEqual(['DeleteConflict.Policy.Version.Default', 409]);
  });

  it('refuses to delete a policy with other versions or attachments, then deletes it', async () => {
    const name = unique('Deletable');
    const roleName = unique('Holder');
    await createPolicy(name);
    await createVersion(name, 'ecs:CopyImage');
    await createRole(roleName);
    await attach(root, roleName, name);
    const del = () => root.ram.deletePolicy(new $Ram.DeletePolicyRequest({ policyName: name }));
    expect((await errorOf(del())).code).toBe('DeleteConflict.Policy.Role');
    await root.ram.detachPolicyFromRole(
      new $Ram.DetachPolicyFromRoleRequest({ roleName, policyName: name, policyType: 'Custom' }),
    );
    expect((await errorOf(del())).code).toBe('DeleteConflict.Policy.Version');
    await root.ram.deletePolicyVersion(new $Ram.DeletePolicyVersionRequest({ policyName: name, versionId: 'v2' }));
    await del();
    expect(
      (await errorOf(root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName: name, policyType: 'Custom' })))).code,
    ).toBe('EntityNotExist.Policy');
  });
});

describe('attachments', () => {
  it('attaches system and custom policies and lists them for the role', async () => {
    const roleName = unique('Attached');
    const policyName = unique('Mine');
    await createRole(roleName);
    await createPolicy(policyName);
    await attach(root, roleName, 'AliyunECSDiskEncryptDefaultRolePolicy', 'System');
    await attach(root, roleName, policyName);
    const listed = (await root.ram.listPoliciesForRole(new $Ram.ListPoliciesForRoleRequest({ roleName }))).body!
      .policies!.policy!;
    expect(listed.map((p) => [p.policyName, p.policyType, p.defaultVersion])).toEqual([
      ['AliyunECSDiskEncryptDefaultRolePolicy', 'System', 'v1'],
      [policyName, 'Custom', 'v1'],
    ]);
    expect(listed[0].attachDate).toBeTruthy();
    const count = (await root.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName, policyType: 'Custom' }))).body!
      .policy!.attachmentCount;
    expect(count).toBe(1);
  });

  it('answers 409 EntityAlreadyExists.Role.Policy when attaching twice', async () => {
    const roleName = unique('Twice');
    await createRole(roleName);
    await attach(root, roleName, 'AliyunKMSFullAccess', 'System');
    const err = await errorOf(attach(root, roleName, 'AliyunKMSFullAccess', 'System'));
    expect([err.code, err.statusCode]).toEqual(['EntityAlreadyExists.Role.Policy', 409]);
  });

  it('answers 404 EntityNotExist.Role.Policy when detaching a policy that is not attached', async () => {
    const roleName = unique('Bare');
    await createRole(roleName);
    const err = await errorOf(
      root.ram.detachPolicyFromRole(
        new $Ram.DetachPolicyFromRoleRequest({ roleName, policyName: 'AliyunKMSFullAccess', policyType: 'System' }),
      ),
    );
    expect([err.code, err.statusCode]).toEqual(['EntityNotExist.Role.Policy', 404]);
  });

  it('answers EntityNotExist.Policy when attaching a policy that does not exist', async () => {
    const roleName = unique('Hopeful');
    await createRole(roleName);
    expect((await errorOf(attach(root, roleName, 'AliyunNoSuchPolicy', 'System'))).code).toBe('EntityNotExist.Policy');
    expect((await errorOf(attach(root, 'NoSuchRole', 'AliyunKMSFullAccess', 'System'))).code).toBe(
      'EntityNotExist.Role',
    );
  });
});

describe('authorization of RAM calls', () => {
  /** Creates a RAM user with one custom policy and returns SDK clients signed with the user's new access key. */
  async function userWith(policyDocument: string): Promise<SdkClients> {
    const userName = unique('user');
    const policyName = unique('userpolicy');
    await root.ram.createUser(new $Ram.CreateUserRequest({ userName }));
    await createPolicy(policyName, policyDocument);
    await root.ram.attachPolicyToUser(
      new $Ram.AttachPolicyToUserRequest({ userName, policyName, policyType: 'Custom' }),
    );
    const key = (await root.ram.createAccessKey(new $Ram.CreateAccessKeyRequest({ userName }))).body!.accessKey!;
    return s.clients({ accessKeyId: key.accessKeyId!, accessKeySecret: key.accessKeySecret! });
  }

  it('denies CreateRole with 403 NoPermission and AccessDeniedDetail when only ram:GetRole is allowed', async () => {
    const user = await userWith(doc(allow('ram:GetRole')));
    const existing = unique('Visible');
    await createRole(existing);
    await user.ram.getRole(new $Ram.GetRoleRequest({ roleName: existing }));
    const err = await errorOf(
      user.ram.createRole(
        new $Ram.CreateRoleRequest({ roleName: unique('Forbidden'), assumeRolePolicyDocument: trustAccount(A.uid) }),
      ),
    );
    expect([err.code, err.statusCode]).toEqual(['NoPermission', 403]);
    expect(err.accessDeniedDetail).toMatchObject({ AuthAction: 'ram:CreateRole', NoPermissionType: 'ImplicitDeny' });
  });

  it('lets an explicit Deny beat an Allow', async () => {
    const user = await userWith(
      doc(allow('ram:*'), { Effect: 'Deny', Action: 'ram:DeleteRole', Resource: `acs:ram:*:${A.uid}:role/*` }),
    );
    const roleName = unique('Protected');
    await createRole(roleName);
    await user.ram.getRole(new $Ram.GetRoleRequest({ roleName }));
    const err = await errorOf(user.ram.deleteRole(new $Ram.DeleteRoleRequest({ roleName })));
    expect([err.code, err.statusCode]).toEqual(['NoPermission', 403]);
    expect(err.accessDeniedDetail?.NoPermissionType).toBe('ExplicitDeny');
  });

  it('authorizes against the role ARN with Resource wildcards', async () => {
    const user = await userWith(doc(allow('ram:GetRole', `acs:ram:*:${A.uid}:role/app-*`)));
    await createRole('app-web');
    await createRole('db-main');
    await user.ram.getRole(new $Ram.GetRoleRequest({ roleName: 'app-web' }));
    expect((await errorOf(user.ram.getRole(new $Ram.GetRoleRequest({ roleName: 'db-main' })))).code).toBe(
      'NoPermission',
    );
  });

  it('evaluates StringLike and StringEquals conditions against the request context', async () => {
    const roleName = unique('Conditional');
    await createRole(roleName);
    const like = await userWith(
      doc(allow('ram:GetRole', '*', { Condition: { StringLike: { 'acs:SourceIp': '127.0.0.*' } } })),
    );
    const equalsOther = await userWith(
      doc(allow('ram:GetRole', '*', { Condition: { StringEquals: { 'acs:SourceIp': '10.0.0.1' } } })),
    );
    await like.ram.getRole(new $Ram.GetRoleRequest({ roleName }));
    expect((await errorOf(equalsOther.ram.getRole(new $Ram.GetRoleRequest({ roleName })))).code).toBe('NoPermission');
  });
});
