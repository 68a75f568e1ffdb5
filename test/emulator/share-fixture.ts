// Shared arrange step of the ECS, Resource Sharing and oracle suites: an owner in a resource directory, members in
// nested and sibling folders, an external and an international account, two CMKs and the service key, snapshots
// and images encrypted with each, and builders for the owner's share roles.
import type { Emulator } from '../../scripts/emulator/api';
import { startEmulator } from '../../scripts/emulator/server';
import type { CustomPolicy, EmulatorState, Role } from '../../scripts/emulator/types';
import { sdkClients, type Creds, type SdkClients } from '../helpers/sdk';

export const REGION = 'cn-hangzhou';

function account(uid: string, n: string): { uid: string; accessKeyId: string; accessKeySecret: string } {
  return { uid, accessKeyId: `LTAIshareTest${n.padStart(7, '0')}`, accessKeySecret: `secret-${n}` };
}

export const OWNER = account('1000000000000001', 'owner');
export const MEMBER = account('1000000000000002', 'member'); // in folder TEAM
export const EXTERNAL = account('1000000000000003', 'external'); // outside the RD
export const NESTED = account('1000000000000004', 'nested'); // in folder SUB, below TEAM
export const SIBLING = account('1000000000000005', 'sibling'); // in folder OTHER, beside TEAM
export const INTL = account('1000000000000006', 'intl'); // international site, outside the RD

export const RD = {
  id: 'rd-test01',
  root: 'r-test01',
  team: 'fd-teamaaaaa1',
  sub: 'fd-teambbbbb2',
  other: 'fd-otherccc03',
};

export const CMK1 = 'key-hzcmk1aaaaaaaaaaaaaa';
export const CMK2 = 'key-hzcmk2bbbbbbbbbbbbbb';
export const SVC = 'key-hzsvcccccccccccccccc';

export const SNAP = {
  cmk1: 's-cmk1000000000000001',
  cmk2: 's-cmk2000000000000002',
  svc: 's-svc0000000000000003',
  plain: 's-plain00000000000004',
};
export const IMG = {
  cmk1: 'm-cmk1000000000000001',
  two: 'm-two0000000000000002',
  svc: 'm-svc0000000000000003',
  plain: 'm-plain00000000000004',
};

export const IMAGE_ROLE = 'AliyunECSShareEncryptImageDefaultRole';
export const SNAPSHOT_ROLE = 'AliyunECSShareEncryptSnapshotDefaultRole';

const T0 = '2026-11-01T00:00:00Z';

/**
 * The options that take away the creation delay and the read lag, for suites about something else: the behaviours
 * themselves are tested on their own (ready.test.ts, lag.test.ts), with the defaults.
 */
const IDEAL = { readyDelayMs: 0, readLagMs: 0 } as const;

/** The state with IDEAL under its own options. */
export function ideal(state: EmulatorState): EmulatorState {
  return { ...state, options: { ...IDEAL, ...state.options } };
}

export function baseState(): EmulatorState {
  const o = OWNER.uid;
  const snap = (snapshotId: string, kmsKeyId?: string) => ({
    snapshotId,
    accountId: o,
    region: REGION,
    encrypted: !!kmsKeyId,
    kmsKeyId,
    status: 'accomplished' as const,
    size: 40,
    creationTime: T0,
    tags: {},
  });
  const image = (imageId: string, snapshotIds: string[]) => ({
    imageId,
    accountId: o,
    region: REGION,
    name: imageId,
    status: 'Available' as const,
    creationTime: T0,
    tags: {},
    sharedWith: [],
    diskMappings: snapshotIds.map((snapshotId, i) => ({
      device: `/dev/xvd${'ab'[i]}`,
      snapshotId,
      size: 40,
      type: i === 0 ? ('system' as const) : ('data' as const),
    })),
  });
  return {
    regions: [REGION, 'cn-shanghai'],
    accounts: [OWNER, MEMBER, EXTERNAL, NESTED, SIBLING, INTL].map((a) => ({
      uid: a.uid,
      accessKeys: [{ id: a.accessKeyId, secret: a.accessKeySecret }],
      ...(a === INTL ? { site: 'international' as const } : {}),
    })),
    resourceDirectory: {
      id: RD.id,
      rootFolderId: RD.root,
      managementAccount: o,
      sharingEnabled: true,
      folders: [
        { id: RD.root, parentId: null, accounts: [o] },
        { id: RD.team, parentId: RD.root, accounts: [MEMBER.uid] },
        { id: RD.sub, parentId: RD.team, accounts: [NESTED.uid] },
        { id: RD.other, parentId: RD.root, accounts: [SIBLING.uid] },
      ],
    },
    keys: [
      { keyId: CMK1, accountId: o, region: REGION, state: 'Enabled', creator: o },
      { keyId: CMK2, accountId: o, region: REGION, state: 'Enabled', creator: o },
      { keyId: SVC, accountId: o, region: REGION, state: 'Enabled', creator: 'Ecs', aliases: ['alias/acs/ecs'] },
    ],
    disks: [
      {
        diskId: 'd-plain0000000000001',
        accountId: o,
        region: REGION,
        zoneId: 'cn-hangzhou-h',
        size: 40,
        category: 'cloud_essd',
        encrypted: false,
      },
    ],
    snapshots: [snap(SNAP.cmk1, CMK1), snap(SNAP.cmk2, CMK2), snap(SNAP.svc, SVC), snap(SNAP.plain)],
    images: [
      image(IMG.cmk1, [SNAP.cmk1]),
      image(IMG.two, [SNAP.cmk1, SNAP.cmk2]),
      image(IMG.svc, [SNAP.svc]),
      image(IMG.plain, [SNAP.plain]),
    ],
  };
}

// ---- share roles, as the ECS "Encryption-related permissions" page builds them ----

const trust = (statement: object) =>
  JSON.stringify({ Version: '1', Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', ...statement }] });
export const trustAccounts = (...uids: string[]) =>
  trust({ Principal: { Service: uids.map((u) => `${u}@ecs.aliyuncs.com`) } });
export const trustRd = (rdId: string) =>
  trust({
    Principal: { Service: '*@ecs.aliyuncs.com' },
    Condition: { StringEquals: { 'sts:ServiceOwnerRDId': rdId } },
  });
export const trustRdPath = (pattern: string) =>
  trust({
    Principal: { Service: '*@ecs.aliyuncs.com' },
    Condition: { StringLike: { 'sts:ServiceOwnerRDPath': pattern } },
  });

/** ENCPERM step 3: kms:List* on the key collection, the six key actions on each key. */
export function kmsPolicyDocument(keyIds: string[], owner = OWNER.uid, region = REGION): string {
  return JSON.stringify({
    Version: '1',
    Statement: [
      { Effect: 'Allow', Action: 'kms:List*', Resource: `acs:kms:${region}:${owner}:key` },
      {
        Effect: 'Allow',
        Action: [
          'kms:DescribeKey',
          'kms:TagResource',
          'kms:UntagResource',
          'kms:Encrypt',
          'kms:Decrypt',
          'kms:GenerateDataKey',
        ],
        Resource: keyIds.map((k) => `acs:kms:${region}:${owner}:key/${k}`),
      },
    ],
  });
}

/** Adds the owner's share role with a trust policy and a custom KMS policy over the given keys (plus system policies). */
export function withShareRole(
  state: EmulatorState,
  roleName: string,
  trustDocument: string,
  keyIds: string[],
  systemPolicies: string[] = [],
): EmulatorState {
  const policyName = `${roleName}Kms`;
  const policy: CustomPolicy = {
    accountId: OWNER.uid,
    policyName,
    defaultVersion: 'v1',
    versions: [{ versionId: 'v1', document: kmsPolicyDocument(keyIds) }],
  };
  const role: Role = {
    accountId: OWNER.uid,
    roleName,
    assumeRolePolicyDocument: trustDocument,
    attachedPolicies: [
      ...(keyIds.length ? [{ policyName, policyType: 'Custom' as const }] : []),
      ...systemPolicies.map((p) => ({ policyName: p, policyType: 'System' as const })),
    ],
  };
  return {
    ...state,
    roles: [...(state.roles ?? []), role],
    policies: [...(state.policies ?? []), ...(keyIds.length ? [policy] : [])],
  };
}

// ---- running ----

export interface Started {
  emu: Emulator;
  as(who: Creds, region?: string): SdkClients;
}

export async function start(state: EmulatorState = baseState()): Promise<Started> {
  const emu = await startEmulator({ state: ideal(state) });
  return { emu, as: (who, region = REGION) => sdkClients(emu.endpoint, who, region) };
}

export { errorOf } from '../helpers/error-of';

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
