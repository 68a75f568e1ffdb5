// Pure table tests of the emulator's RAM policy language: validation, formatting, evaluation, trust.
import { describe, expect, it } from 'vitest';
import { attachedPolicyDocuments, isCallerAllowed } from '../../scripts/emulator/permissions';
import {
  evaluate,
  formatPolicyDocument,
  parsePolicyDocument,
  policiesAllow,
  trustAllows,
  type PolicyDocument,
} from '../../scripts/emulator/policy';
import { ApiError, DEFAULT_OPTIONS, type Caller, type FullState } from '../../scripts/emulator/types';

const allow = (Action: unknown, Resource: unknown = '*', extra: object = {}) => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...extra,
});
const doc = (...Statement: unknown[]) => JSON.stringify({ Version: '1', Statement });
const parse = (text: string) => parsePolicyDocument(text, 'permission', 6144);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (e) {
    return e instanceof ApiError ? e.code : `not an ApiError: ${String(e)}`;
  }
  return undefined;
}

describe('parsePolicyDocument', () => {
  it.each([
    ['not JSON', '{"Version":'],
    ['a JSON array', '[]'],
    ['no Version', JSON.stringify({ Statement: [allow('ecs:*')] })],
    ['Version 2', JSON.stringify({ Version: '2', Statement: [allow('ecs:*')] })],
    ['numeric Version 1', JSON.stringify({ Version: 1, Statement: [allow('ecs:*')] })],
    ['an unknown top-level element', JSON.stringify({ Version: '1', Statement: [allow('ecs:*')], Id: 'x' })],
    ['no Statement', JSON.stringify({ Version: '1' })],
    ['an empty Statement', doc()],
    ['Effect Permit', doc({ Effect: 'Permit', Action: 'ecs:*', Resource: '*' })],
    ['lower-case effect', doc({ Effect: 'allow', Action: 'ecs:*', Resource: '*' })],
    ['a Sid element', doc({ Sid: 's1', ...allow('ecs:*') })],
    ['a numeric Action', doc(allow(42))],
    ['an object Resource', doc(allow('ecs:*', { a: 1 }))],
    ['an empty Action array', doc(allow([]))],
    ['no Resource', doc({ Effect: 'Allow', Action: 'ecs:*' })],
    ['a Principal in a permission policy', doc(allow('ecs:*', '*', { Principal: { RAM: ['acs:ram::1:root'] } }))],
    [
      'an unknown condition operator',
      doc(allow('ecs:*', '*', { Condition: { StringMatches: { 'acs:SourceIp': 'x' } } })),
    ],
    ['a condition operator without keys', doc(allow('ecs:*', '*', { Condition: { StringEquals: {} } }))],
  ])('rejects %s as MalformedPolicyDocument', (_name, text) => {
    expect(codeOf(() => parse(text))).toBe('MalformedPolicyDocument');
  });

  it.each([
    ['a trust statement without Principal', doc({ Effect: 'Allow', Action: 'sts:AssumeRole' })],
    ['an unknown principal type', doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Account: ['1'] } })],
  ])('rejects %s in a trust policy', (_name, text) => {
    expect(codeOf(() => parsePolicyDocument(text, 'trust', 4096))).toBe('MalformedPolicyDocument');
  });

  it('answers MalformedPolicyDocument with status 400', () => {
    const err = (() => {
      try {
        parse('x');
      } catch (e) {
        return e as ApiError;
      }
    })();
    expect(err?.status).toBe(400);
  });

  it('accepts strings, arrays, NotAction, NotResource and typed condition values', () => {
    const text = doc(allow(['ecs:Describe*', 'ecs:CopyImage'], ['acs:ecs:*:*:image/*']), {
      Effect: 'Deny',
      NotAction: 'ecs:*',
      NotResource: '*',
      Condition: { Bool: { 'acs:SecureTransport': false }, NumericLessThan: { 'x:n': [1, 2] } },
    });
    const parsed = parse(text);
    expect(parsed.Statement).toHaveLength(2);
    expect(parsed.Statement[1].Condition).toEqual({
      Bool: { 'acs:SecureTransport': 'false' },
      NumericLessThan: { 'x:n': ['1', '2'] },
    });
  });

  it.each([
    ['permission', 'InvalidParameter.PolicyDocument.Length'],
    ['trust', 'InvalidParameter.AssumeRolePolicyDocument.Length'],
  ] as const)('rejects a %s document over the limit with %s', (kind, code) => {
    const text = doc(allow('ecs:' + 'A'.repeat(200)));
    expect(codeOf(() => parsePolicyDocument(text, kind, text.length - 1))).toBe(code);
    expect(codeOf(() => parsePolicyDocument(text, kind, text.length))).not.toBe(code);
  });

  it('uses the length code the caller passes', () => {
    expect(
      codeOf(() => parsePolicyDocument('{}', 'trust', 1, 'InvalidParameter.NewAssumeRolePolicyDocument.Length')),
    ).toBe('InvalidParameter.NewAssumeRolePolicyDocument.Length');
  });
});

describe('formatPolicyDocument', () => {
  const trust = JSON.stringify({
    Version: '1',
    Statement: [{ Principal: { Service: '*@ecs.aliyuncs.com' }, Effect: 'Allow', Action: 'sts:AssumeRole' }],
  });

  it('returns text that differs from the text sent but means the same', () => {
    const formatted = formatPolicyDocument(parsePolicyDocument(trust, 'trust', 4096));
    expect(formatted).not.toBe(trust);
    const back = JSON.parse(formatted);
    expect(back.Version).toBe('1');
    expect(back.Statement[0].Action).toBe('sts:AssumeRole');
    expect(back.Statement[0].Principal.Service).toEqual(['*@ecs.aliyuncs.com']);
  });

  it('orders Statement before Version and Action before Effect', () => {
    const formatted = formatPolicyDocument(parsePolicyDocument(trust, 'trust', 4096));
    expect(formatted.indexOf('"Statement"')).toBeLessThan(formatted.indexOf('"Version"'));
    expect(formatted.indexOf('"Action"')).toBeLessThan(formatted.indexOf('"Effect"'));
  });

  it('is deterministic and a fixed point', () => {
    const once = formatPolicyDocument(parsePolicyDocument(trust, 'trust', 4096));
    expect(formatPolicyDocument(parsePolicyDocument(once, 'trust', 4096))).toBe(once);
  });
});

describe('evaluate', () => {
  const ctx = {};
  const req = (action: string, resource = '*', context: Record<string, string | string[]> = ctx) => ({
    action,
    resource,
    context,
  });
  const d = (...st: unknown[]): PolicyDocument => parse(doc(...st));

  it.each([
    ['ecs:DescribeSnapshots', 'ecs:Describe*', 'Allow'],
    ['ecs:DescribeSnapshots', 'ECS:Describe*', 'Allow'],
    ['ecs:DescribeSnapshots', 'ecs:describe*', 'NoMatch'],
    ['ecs:DescribeSnapshots', 'ecs:DescribeSnapshot?', 'Allow'],
    ['ecs:DescribeSnapshots', 'ecs:DescribeSnapshot', 'NoMatch'],
    ['ecs:CopyImage', '*', 'Allow'],
    ['ram:GetRole', '*:Get*', 'Allow'],
    ['kms:DescribeKey', 'ecs:*', 'NoMatch'],
  ])('action %s against pattern %s gives %s', (action, pattern, expected) => {
    expect(evaluate([d(allow(pattern))], req(action))).toBe(expected);
  });

  it.each([
    ['acs:kms:cn-hangzhou:1:key/key-1', 'acs:kms:*:*:key/*', 'Allow'],
    ['acs:kms:cn-hangzhou:1:key/key-1', 'acs:kms:cn-hangzhou:1:key/key-?', 'Allow'],
    ['acs:kms:cn-hangzhou:1:key/KEY-1', 'acs:kms:cn-hangzhou:1:key/key-1', 'NoMatch'],
    ['acs:ram::1:role/r1', 'acs:ram:*:*:role/*', 'Allow'],
  ])('resource %s against pattern %s gives %s', (resource, pattern, expected) => {
    expect(evaluate([d(allow('kms:DescribeKey', pattern))], req('kms:DescribeKey', resource))).toBe(expected);
  });

  it('lets an explicit Deny beat an Allow in another document', () => {
    const docs = [d(allow('ecs:*')), d({ Effect: 'Deny', Action: 'ecs:DeleteSnapshot', Resource: '*' })];
    expect(evaluate(docs, req('ecs:DeleteSnapshot'))).toBe('Deny');
    expect(evaluate(docs, req('ecs:DescribeSnapshots'))).toBe('Allow');
  });

  it('matches NotAction and NotResource by exclusion', () => {
    const docs = [d({ Effect: 'Allow', NotAction: 'ram:*', NotResource: 'acs:ecs:*:*:image/secret' })];
    expect(evaluate(docs, req('ecs:CopyImage', 'acs:ecs:cn-hangzhou:1:image/m-1'))).toBe('Allow');
    expect(evaluate(docs, req('ram:CreateRole'))).toBe('NoMatch');
    expect(evaluate(docs, req('ecs:CopyImage', 'acs:ecs:cn-hangzhou:1:image/secret'))).toBe('NoMatch');
  });

  const cond = (Condition: object) => [d(allow('ecs:*', '*', { Condition }))];
  it.each([
    ['StringEquals matches', { StringEquals: { 'ecs:tag/env': 'prod' } }, { 'ecs:tag/env': 'prod' }, 'Allow'],
    [
      'StringEquals is case-sensitive',
      { StringEquals: { 'ecs:tag/env': 'prod' } },
      { 'ecs:tag/env': 'Prod' },
      'NoMatch',
    ],
    [
      'StringEquals ORs its values',
      { StringEquals: { 'ecs:tag/env': ['dev', 'prod'] } },
      { 'ecs:tag/env': 'prod' },
      'Allow',
    ],
    ['a missing key fails a positive operator', { StringEquals: { 'ecs:tag/env': 'prod' } }, {}, 'NoMatch'],
    [
      'condition keys match case-insensitively',
      { StringEquals: { 'ECS:Tag/env': 'prod' } },
      { 'ecs:tag/env': 'prod' },
      'Allow',
    ],
    ['StringNotEquals with another value', { StringNotEquals: { k: 'a' } }, { k: 'b' }, 'Allow'],
    ['StringNotEquals with the value', { StringNotEquals: { k: 'a' } }, { k: 'a' }, 'NoMatch'],
    ['StringNotEquals with the key missing', { StringNotEquals: { k: 'a' } }, {}, 'Allow'],
    ['StringEqualsIgnoreCase', { StringEqualsIgnoreCase: { k: 'ABC' } }, { k: 'abc' }, 'Allow'],
    ['StringNotEqualsIgnoreCase', { StringNotEqualsIgnoreCase: { k: 'ABC' } }, { k: 'abc' }, 'NoMatch'],
    [
      'StringLike with *',
      { StringLike: { 'sts:ServiceOwnerRDPath': 'rd-1/r-1/fd-a/*' } },
      { 'sts:ServiceOwnerRDPath': 'rd-1/r-1/fd-a/fd-b/' },
      'Allow',
    ],
    ['StringLike with ?', { StringLike: { k: 'a?c' } }, { k: 'abc' }, 'Allow'],
    ['StringLike not matching', { StringLike: { k: 'a*' } }, { k: 'ba' }, 'NoMatch'],
    ['StringNotLike', { StringNotLike: { k: 'a*' } }, { k: 'ba' }, 'Allow'],
    ['a multi-valued context key', { StringEquals: { k: 'b' } }, { k: ['a', 'b'] }, 'Allow'],
    ['NumericLessThan true', { NumericLessThan: { n: '10' } }, { n: '9' }, 'Allow'],
    ['NumericLessThan false', { NumericLessThan: { n: '10' } }, { n: '10' }, 'NoMatch'],
    ['NumericLessThanEquals', { NumericLessThanEquals: { n: '10' } }, { n: '10' }, 'Allow'],
    ['NumericGreaterThan', { NumericGreaterThan: { n: '10' } }, { n: '11' }, 'Allow'],
    ['NumericGreaterThanEquals', { NumericGreaterThanEquals: { n: '10' } }, { n: '9' }, 'NoMatch'],
    ['NumericEquals', { NumericEquals: { n: '10' } }, { n: '10.0' }, 'Allow'],
    ['NumericNotEquals', { NumericNotEquals: { n: '10' } }, { n: '10' }, 'NoMatch'],
    ['NumericEquals with text', { NumericEquals: { n: '10' } }, { n: 'ten' }, 'NoMatch'],
    [
      'DateLessThan',
      { DateLessThan: { 'acs:CurrentTime': '2030-01-01T00:00:00Z' } },
      { 'acs:CurrentTime': '2026-11-28T12:00:00Z' },
      'Allow',
    ],
    [
      'DateGreaterThan',
      { DateGreaterThan: { 'acs:CurrentTime': '2030-01-01T00:00:00Z' } },
      { 'acs:CurrentTime': '2026-11-28T12:00:00Z' },
      'NoMatch',
    ],
    ['DateEquals', { DateEquals: { d: '2026-11-28T12:00:00Z' } }, { d: '2026-11-28T12:00:00.000Z' }, 'Allow'],
    ['Bool', { Bool: { 'acs:SecureTransport': 'true' } }, { 'acs:SecureTransport': 'false' }, 'NoMatch'],
    ['IpAddress inside', { IpAddress: { 'acs:SourceIp': '127.0.0.0/8' } }, { 'acs:SourceIp': '127.0.0.1' }, 'Allow'],
    ['IpAddress outside', { IpAddress: { 'acs:SourceIp': '10.0.0.0/8' } }, { 'acs:SourceIp': '127.0.0.1' }, 'NoMatch'],
    ['NotIpAddress', { NotIpAddress: { 'acs:SourceIp': '10.0.0.0/8' } }, { 'acs:SourceIp': '127.0.0.1' }, 'Allow'],
    ['operators are ANDed', { StringEquals: { a: '1' }, StringLike: { b: 'x*' } }, { a: '1', b: 'y' }, 'NoMatch'],
    ['keys are ANDed', { StringEquals: { a: '1', b: '2' } }, { a: '1', b: '2' }, 'Allow'],
  ])('%s', (_name, condition, context, expected) => {
    expect(evaluate(cond(condition), req('ecs:CopyImage', '*', context as Record<string, string>))).toBe(expected);
  });

  it('policiesAllow is true only for Allow', () => {
    expect(policiesAllow([d(allow('kms:*'))], 'kms:Decrypt', 'acs:kms:cn-hangzhou:1:key/k', {})).toBe(true);
    expect(policiesAllow([d(allow('kms:*'))], 'ecs:CopyImage', '*', {})).toBe(false);
  });
});

describe('trustAllows', () => {
  const trust = (Principal: object, Condition?: object, Effect = 'Allow') =>
    doc({ Effect, Action: 'sts:AssumeRole', Principal, ...(Condition ? { Condition } : {}) });

  it.each([
    [
      'an exact service principal',
      { Service: ['1000000000000002@ecs.aliyuncs.com'] },
      { service: '1000000000000002@ecs.aliyuncs.com' },
      true,
    ],
    [
      'another account at the service',
      { Service: ['1000000000000002@ecs.aliyuncs.com'] },
      { service: '1000000000000003@ecs.aliyuncs.com' },
      false,
    ],
    [
      'a wildcard service principal',
      { Service: '*@ecs.aliyuncs.com' },
      { service: '1000000000000002@ecs.aliyuncs.com' },
      true,
    ],
    [
      'a plain ecs.aliyuncs.com for an account principal',
      { Service: ['ecs.aliyuncs.com'] },
      { service: '1000000000000002@ecs.aliyuncs.com' },
      false,
    ],
    [
      'an account root for one of its users',
      { RAM: 'acs:ram::1000000000000001:root' },
      { ram: 'acs:ram::1000000000000001:user/alice' },
      true,
    ],
    [
      'an account root for a role of its account',
      { RAM: ['acs:ram::1000000000000001:root'] },
      { ram: 'acs:ram::1000000000000001:role/r' },
      true,
    ],
    [
      'an account root for another account',
      { RAM: ['acs:ram::1000000000000001:root'] },
      { ram: 'acs:ram::1000000000000009:root' },
      false,
    ],
    [
      'a named role',
      { RAM: ['acs:ram::1000000000000001:role/Deployer'] },
      { ram: 'acs:ram::1000000000000001:role/deployer' },
      true,
    ],
    [
      'a named user for another user',
      { RAM: ['acs:ram::1000000000000001:user/alice'] },
      { ram: 'acs:ram::1000000000000001:user/bob' },
      false,
    ],
    [
      'a RAM principal for a service',
      { RAM: ['acs:ram::1000000000000001:root'] },
      { service: '1000000000000001@ecs.aliyuncs.com' },
      false,
    ],
  ])('%s', (_name, principal, who, expected) => {
    expect(trustAllows(trust(principal), who, {})).toBe(expected);
  });

  it('applies StringEquals sts:ServiceOwnerRDId', () => {
    const text = trust({ Service: ['*@ecs.aliyuncs.com'] }, { StringEquals: { 'sts:ServiceOwnerRDId': 'rd-abc' } });
    const who = { service: '1000000000000002@ecs.aliyuncs.com' };
    expect(trustAllows(text, who, { 'sts:ServiceOwnerRDId': 'rd-abc' })).toBe(true);
    expect(trustAllows(text, who, { 'sts:ServiceOwnerRDId': 'rd-xyz' })).toBe(false);
    expect(trustAllows(text, who, {})).toBe(false);
  });

  it('lets a Deny statement win', () => {
    const text = JSON.stringify({
      Version: '1',
      Statement: [
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['*@ecs.aliyuncs.com'] } },
        { Effect: 'Deny', Action: 'sts:*', Principal: { Service: ['1000000000000002@ecs.aliyuncs.com'] } },
      ],
    });
    expect(trustAllows(text, { service: '1000000000000002@ecs.aliyuncs.com' }, {})).toBe(false);
    expect(trustAllows(text, { service: '1000000000000003@ecs.aliyuncs.com' }, {})).toBe(true);
  });

  it('ignores statements for other actions and rejects junk documents', () => {
    expect(
      trustAllows(
        doc({ Effect: 'Allow', Action: 'sts:GetCallerIdentity', Principal: { Service: '*' } }),
        { service: 'x' },
        {},
      ),
    ).toBe(false);
    expect(trustAllows('not json', { service: 'x' }, {})).toBe(false);
  });
});

describe('isCallerAllowed and attachedPolicyDocuments', () => {
  const uid = '1000000000000001';
  const state = (): FullState => ({
    regions: ['cn-hangzhou'],
    accounts: [
      {
        uid,
        accessKeys: [{ id: 'root', secret: 's' }],
        users: [{ userName: 'alice', attachedPolicies: [{ policyName: 'AliyunKMSFullAccess', policyType: 'System' }] }],
      },
    ],
    resourceDirectory: null,
    keys: [],
    disks: [],
    snapshots: [],
    images: [],
    resourceShares: [],
    invitations: [],
    stsSessions: [],
    roles: [
      {
        accountId: uid,
        roleName: 'Sharer',
        assumeRolePolicyDocument: '{}',
        attachedPolicies: [
          { policyName: 'share', policyType: 'Custom' },
          { policyName: 'AliyunECSReadOnlyAccess', policyType: 'System' },
        ],
      },
    ],
    policies: [
      {
        accountId: uid,
        policyName: 'share',
        defaultVersion: 'v2',
        versions: [
          { versionId: 'v1', document: doc(allow('ram:*')) },
          {
            versionId: 'v2',
            document: doc(allow('ecs:ModifyImageSharePermission'), {
              Effect: 'Deny',
              Action: 'ecs:DescribeImages',
              Resource: 'acs:ecs:*:*:image/m-secret',
            }),
          },
        ],
      },
    ],
    options: DEFAULT_OPTIONS,
  });
  const caller = (c: Partial<Caller>): Caller => ({
    accountId: uid,
    type: 'root',
    accessKeyId: 'k',
    arn: '',
    principalId: '',
    ...c,
  });

  it('lets root do anything', () => {
    expect(isCallerAllowed(state(), caller({}), 'ram:DeleteRole', ['acs:ram::1:role/x'], {}).allowed).toBe(true);
  });

  it('limits a user to its attached policies', () => {
    const alice = caller({ type: 'user', userName: 'alice' });
    expect(isCallerAllowed(state(), alice, 'kms:DescribeKey', ['acs:kms:cn-hangzhou:1:key/k'], {}).allowed).toBe(true);
    expect(isCallerAllowed(state(), alice, 'ecs:CopyImage', ['*'], {})).toEqual({
      allowed: false,
      explicitDeny: false,
      deniedResource: '*',
    });
  });

  it('uses the default version of a custom policy for a role', () => {
    const role = caller({ type: 'role', roleName: 'sharer' });
    expect(isCallerAllowed(state(), role, 'ecs:ModifyImageSharePermission', ['*'], {}).allowed).toBe(true);
    expect(isCallerAllowed(state(), role, 'ram:CreateRole', ['*'], {}).allowed).toBe(false);
  });

  it('reports an explicit deny with its policy type and resource', () => {
    const role = caller({ type: 'role', roleName: 'Sharer' });
    const r = isCallerAllowed(
      state(),
      role,
      'ecs:DescribeImages',
      ['acs:ecs:cn-hangzhou:1:image/m-ok', 'acs:ecs:cn-hangzhou:1:image/m-secret'],
      {},
    );
    expect(r).toEqual({
      allowed: false,
      explicitDeny: true,
      policyType: 'Custom',
      deniedResource: 'acs:ecs:cn-hangzhou:1:image/m-secret',
    });
  });

  it('narrows a role session by its session policy', () => {
    const role = caller({ type: 'role', roleName: 'Sharer', sessionPolicy: doc(allow('ecs:DescribeImages')) });
    expect(isCallerAllowed(state(), role, 'ecs:DescribeImages', ['*'], {}).allowed).toBe(true);
    expect(isCallerAllowed(state(), role, 'ecs:ModifyImageSharePermission', ['*'], {}).allowed).toBe(false);
  });

  it('offers acs:SourceIp and acs:SecureTransport as default context', () => {
    const s = state();
    s.policies[0].versions[1].document = doc(
      allow('ecs:*', '*', {
        Condition: { Bool: { 'acs:SecureTransport': 'false' }, IpAddress: { 'acs:SourceIp': '127.0.0.1/32' } },
      }),
    );
    expect(isCallerAllowed(s, caller({ type: 'role', roleName: 'Sharer' }), 'ecs:CopyImage', ['*'], {}).allowed).toBe(
      true,
    );
  });

  it('resolves system and custom attachments to documents', () => {
    const docs = attachedPolicyDocuments(state(), uid, { roleName: 'Sharer' });
    expect(docs).toHaveLength(2);
    expect(policiesAllow(docs, 'ecs:DescribeSnapshots', '*', {})).toBe(true);
    expect(attachedPolicyDocuments(state(), uid, { userName: 'nobody' })).toEqual([]);
  });
});
