import { describe, expect, it } from 'vitest';
import { planRole, planShares, splitTargets } from '../../shared/share/plan';
import { planTrim, type AskedNow } from '../../shared/usecases/trim-roles';
import { onlyOwnKeys } from '../../shared/usecases/on-tag';
import { buildKmsPolicies, policyNameFor, type KeyRef } from '../../shared/domain/kms-policy';
import { writeTrustLedger } from '../../shared/domain/trust-policy';
import type { ResourceObservation, RoleObservation, ShareTarget } from '../../shared/share/model';

const OWNER = '1000000000000001';
const A = '1000000000000002';
const B = '1000000000000003';
const C = '1000000000000004';
const KEY: KeyRef = { region: 'cn-hangzhou', accountId: OWNER, keyId: 'key-1' };
const account = (uid: string): ShareTarget => ({ kind: 'account', uid });
const folder: ShareTarget = {
  kind: 'folder',
  rdId: 'rd-demo01',
  path: 'rd-demo01/r-demo01/fd-demofold01',
  folderId: 'fd-demofold01',
};

function image(fields: Partial<ResourceObservation> = {}): ResourceObservation {
  return {
    ref: { type: 'image', id: 'm-img1', region: 'cn-hangzhou' },
    exists: true,
    tags: {},
    encryption: { kind: 'cmk', keys: [KEY] },
    disabledKeys: [],
    imageAccounts: [],
    imageGrants: { granted: [], pending: [] },
    observedAtS: 1_000_000,
    ...fields,
  };
}
function snapshot(fields: Partial<ResourceObservation> = {}): ResourceObservation {
  return {
    ref: { type: 'snapshot', id: 's-snap1', region: 'cn-hangzhou' },
    exists: true,
    tags: {},
    encryption: { kind: 'cmk', keys: [KEY] },
    disabledKeys: [],
    ...fields,
  };
}
function trustFor(uids: string[]): string {
  return JSON.stringify({
    Version: '1',
    Statement: [
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: uids.map((u) => `${u}@ecs.aliyuncs.com`) } },
    ],
  });
}
function role(fields: Partial<RoleObservation> = {}): RoleObservation {
  const name = policyNameFor('image', 0);
  return {
    roleName: 'AliyunECSShareEncryptImageDefaultRole',
    exists: true,
    trustPolicy: trustFor([A]),
    description: writeTrustLedger('', { accounts: [A], rds: [], folders: [], regions: ['cn-hangzhou'] }),
    attached: [{ policyName: name, policyType: 'Custom' }],
    kmsPolicies: { [name]: JSON.stringify(buildKmsPolicies([KEY])[0]) },
    ...fields,
  };
}
const kinds = (actions: Array<{ kind: string }>) => actions.map((a) => a.kind);

describe('splitTargets', () => {
  it('sends image accounts to ModifyImageSharePermission and everything else to Resource Sharing', () => {
    expect(splitTargets('image', [account(A), folder])).toEqual({
      imageAccounts: [A],
      sharingTargets: ['fd-demofold01'],
    });
    expect(splitTargets('snapshot', [account(A), folder])).toEqual({
      imageAccounts: [],
      sharingTargets: [A, 'fd-demofold01'],
    });
  });
});

describe('planShares', () => {
  it('adds only the accounts an image is not yet shared with, and records them as granted', () => {
    const actions = planShares(image({ imageAccounts: [A] }), [account(A), account(B)]);
    expect(actions).toEqual([
      { kind: 'writeGrantLedger', ref: image().ref, intend: [B] },
      { kind: 'shareImageAccounts', ref: image().ref, add: [B] },
      { kind: 'writeGrantLedger', ref: image().ref, confirm: [B], forget: [] },
    ]);
  });

  it('takes back an account it granted that the tag no longer names, and leaves a manual share alone', () => {
    const obs = image({
      imageAccounts: [A, B, C],
      imageGrants: { granted: [A, B], pending: [] },
      tags: { 'ecs-share:granted': `${A},${B}` },
    });
    const actions = planShares(obs, [account(A)]);
    expect(actions[0]).toEqual({ kind: 'unshareImageAccounts', ref: obs.ref, remove: [B] });
    expect(kinds(actions)).toEqual(['unshareImageAccounts', 'writeGrantLedger']);
  });

  it('plans nothing when the image is shared exactly as asked', () => {
    expect(planShares(image({ imageAccounts: [A], imageGrants: { granted: [A], pending: [] } }), [account(A)])).toEqual(
      [],
    );
  });

  it.each([
    [
      'an intent whose share made it is claimed',
      [A],
      { granted: [], pending: [A], since: 999_990 },
      [account(A)],
      [{ kind: 'writeGrantLedger', confirm: [A], forget: [] }],
    ],
    [
      'an intent whose share made it but is no longer asked is taken back',
      [A],
      { granted: [], pending: [A], since: 999_990 },
      [],
      [
        { kind: 'unshareImageAccounts', remove: [A] },
        { kind: 'writeGrantLedger', confirm: [], forget: [A] },
      ],
    ],
    [
      'a stale intent that never became a share is forgotten',
      [],
      { granted: [], pending: [A], since: 1 },
      [],
      [{ kind: 'writeGrantLedger', confirm: [], forget: [A] }],
    ],
    ['a fresh intent of another instance is left to it', [], { granted: [], pending: [A], since: 999_990 }, [], []],
    ['a manual share is never claimed nor taken back', [C], { granted: [], pending: [] }, [], []],
    [
      'an account recorded as its own and removed by hand is shared again without a new intent',
      [],
      { granted: [A], pending: [] },
      [account(A)],
      [{ kind: 'shareImageAccounts', add: [A] }],
    ],
  ])('%s', (_name, current, imageGrants, targets, expected) => {
    const actions = planShares(image({ imageAccounts: current, imageGrants }), targets);
    expect(actions).toEqual(expected.map((a) => expect.objectContaining(a)));
  });

  it('creates a resource share for a snapshot, allowing external targets when an account is named', () => {
    const [a] = planShares(snapshot(), [account(A)]);
    expect(a).toMatchObject({
      kind: 'createResourceShare',
      name: 'ecs-share-s-snap1',
      targets: [A],
      allowExternalTargets: true,
    });
  });

  it('associates missing targets and disassociates the ones no longer asked for', () => {
    const obs = snapshot({
      toolShare: {
        id: 'rs-1',
        allowExternalTargets: true,
        targets: { [A]: { status: 'Associated' }, [B]: { status: 'Associating' } },
      },
    });
    const actions = planShares(obs, [account(A), account(C)]);
    expect(actions).toEqual([
      { kind: 'associateTargets', ref: obs.ref, shareId: 'rs-1', targets: [C] },
      { kind: 'disassociateTargets', ref: obs.ref, shareId: 'rs-1', targets: [B] },
    ]);
  });

  it('re-associates a target whose association failed', () => {
    const obs = snapshot({
      toolShare: { id: 'rs-1', allowExternalTargets: true, targets: { [A]: { status: 'Failed' } } },
    });
    expect(planShares(obs, [account(A)])).toEqual([
      { kind: 'associateTargets', ref: obs.ref, shareId: 'rs-1', targets: [A] },
    ]);
  });

  it('deletes its resource share when no target is left', () => {
    const obs = snapshot({
      toolShare: { id: 'rs-1', allowExternalTargets: true, targets: { [A]: { status: 'Associated' } } },
    });
    expect(planShares(obs, [])).toEqual([{ kind: 'deleteResourceShare', ref: obs.ref, shareId: 'rs-1' }]);
  });
});

describe('planRole', () => {
  it('needs no role for an unencrypted resource', () => {
    expect(planRole(role({ exists: false }), image({ encryption: { kind: 'none' } }), [account(A)], false)).toEqual([]);
  });

  it('creates the role and writes the KMS policy when the role is missing', () => {
    const actions = planRole(
      { roleName: 'R', exists: false, attached: [], kmsPolicies: {} },
      image(),
      [account(A)],
      false,
    );
    expect(kinds(actions)).toEqual(['createRole', 'writeKmsPolicies']);
  });

  it('plans nothing when trust, policy and attachment are already right', () => {
    expect(planRole(role(), image(), [account(A)], false)).toEqual([]);
  });

  it('merges only the grants the trust policy does not yet satisfy', () => {
    const actions = planRole(role(), image(), [account(A), account(B)], false);
    expect(actions).toEqual([
      {
        kind: 'mergeTrust',
        roleName: 'AliyunECSShareEncryptImageDefaultRole',
        add: [{ kind: 'account', uid: B }],
        remove: [],
        regions: ['cn-hangzhou'],
      },
    ]);
  });

  it('re-attaches a KMS policy that was detached by hand', () => {
    expect(kinds(planRole(role({ attached: [] }), image(), [account(A)], false))).toEqual(['attachPolicy']);
  });

  it('adds a new key to the KMS policy without dropping the ones granted before', () => {
    const other: KeyRef = { ...KEY, keyId: 'key-2' };
    const [a] = planRole(role(), image({ encryption: { kind: 'cmk', keys: [other] } }), [account(A)], false);
    expect(a).toMatchObject({ kind: 'writeKmsPolicies', add: [other], remove: [] });
  });

  it('attaches AliyunKMSFullAccess for a service-key resource only in legacy mode', () => {
    const obs = image({ encryption: { kind: 'service-key', keys: [KEY] } });
    expect(kinds(planRole(role(), obs, [account(A)], true))).toEqual(['attachPolicy']);
    expect(planRole(role(), obs, [account(A)], false)).toEqual([]);
  });
});

describe('planTrim', () => {
  const needs = (uids: string[], keys: KeyRef[] = [KEY]) => ({
    grants: uids.map((uid) => ({ kind: 'account' as const, uid })),
    keys,
  });
  const asked = (grants: Record<string, string[]> = {}, keys: Record<string, string[]> = {}): AskedNow => ({
    grants: new Map(Object.entries(grants)),
    keys: new Map(Object.entries(keys)),
    wanted: new Map(),
  });
  const twoAccounts = () =>
    role({
      trustPolicy: trustFor([A, B]),
      description: writeTrustLedger('', { accounts: [A, B], rds: [], folders: [] }),
    });
  const none = new Map<string, string>();

  it('removes a granted principal that no resource asks for any more, keeping the needed one', () => {
    const { actions } = planTrim(twoAccounts(), 'image', needs([A]), ['cn-hangzhou'], asked(), none);
    expect(actions).toEqual([
      {
        kind: 'mergeTrust',
        roleName: 'AliyunECSShareEncryptImageDefaultRole',
        add: [{ kind: 'account', uid: A }],
        remove: [{ kind: 'account', uid: B }],
      },
    ]);
  });

  it('holds a principal that a resource still tagged asks for, saying which resource and why', () => {
    const outcomes = new Map([['m-broken', 'refused KeyNotEnabled']]);
    const { actions, held } = planTrim(
      twoAccounts(),
      'image',
      needs([A]),
      ['cn-hangzhou'],
      asked({ [`account:${B}`]: ['m-broken'] }),
      outcomes,
    );
    expect(actions).toEqual([]);
    expect(held).toEqual([
      {
        roleName: 'AliyunECSShareEncryptImageDefaultRole',
        grant: `account:${B}`,
        heldBy: ['m-broken'],
        reason: 'refused KeyNotEnabled',
      },
    ]);
  });

  it('never removes a principal that ecs-share did not add', () => {
    const r = role({
      trustPolicy: trustFor([A, C]),
      description: writeTrustLedger('', { accounts: [A], rds: [], folders: [] }),
    });
    expect(planTrim(r, 'image', needs([A]), ['cn-hangzhou'], asked(), none).actions).toEqual([]);
  });

  it('has no candidates (and needs no listing) when everything granted is still needed', () => {
    expect(planTrim(role(), 'image', needs([A]), ['cn-hangzhou'], undefined, none)).toEqual({
      actions: [],
      held: [],
      candidates: 0,
    });
  });

  it('takes a key out of the KMS policy only when its region was covered and no tagged resource uses it', () => {
    const r = role({ description: '' });
    expect(planTrim(r, 'image', needs([], []), ['cn-hangzhou'], asked(), none).actions).toEqual([
      {
        kind: 'writeKmsPolicies',
        roleName: 'AliyunECSShareEncryptImageDefaultRole',
        type: 'image',
        add: [],
        remove: [KEY],
      },
    ]);
    expect(planTrim(r, 'image', needs([], []), ['cn-beijing'], asked(), none).candidates).toBe(0);
    expect(
      planTrim(r, 'image', needs([], []), ['cn-hangzhou'], asked({}, { 'cn-hangzhou/key-1': ['m-x'] }), none).actions,
    ).toEqual([]);
  });
});

describe('onlyOwnKeys', () => {
  const event = (tagKeys: string[]) => ({
    eventId: 'e',
    eventName: 'TagResources',
    region: 'cn-hangzhou',
    resourceType: 'image' as const,
    resourceIds: ['m-img1'],
    tagKeys,
  });
  it.each([
    [['ecs-share:granted'], true],
    [['ecs-share:granted', 'ecs-share:granted.2'], true],
    [['ecs-share:granted', 'share-with'], false],
    [['share-with'], false],
    [[], false],
    [['ecs-share:status'], true],
    [['ecs-share:status', 'ecs-share:granted'], true],
    [['ecs-share:status', 'share-until'], false],
  ])('tag keys %j touch only ecs-share own tags: %s', (keys, expected) => {
    expect(onlyOwnKeys(event(keys), 'ecs-share:granted', 'ecs-share:status')).toBe(expected);
  });
});
