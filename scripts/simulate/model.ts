// The simulated world: one owner (RD management account), recipients inside the RD (in folders, a sub-folder, a
// sibling folder, the root folder) and outside it, a hand-share-only account, three CMKs, snapshots and images.
// Every id is fixed; the seed decides what happens to them, never what exists at the start.
import type { EmulatorState, Image, KmsKey, Snapshot } from '../emulator';

export const REGION = 'cn-hangzhou';
export const OWNER = '1000000000000001';
export const RD = 'rd-demo01';
const ROOT = 'r-demo01';
const CREATED = '2026-11-01T00:00:00Z';

/** Recipients by short name (the name appears in printed histories). */
export const ACCOUNTS = {
  A: '1000000000000002', // folder fd-demofold01
  B: '1000000000000005', // folder fd-demofold01
  C: '1000000000000006', // sub-folder fd-simsub0001 of fd-demofold01
  D: '1000000000000007', // sibling folder fd-demofold02 (an id that starts like fd-demofold01's)
  E: '1000000000000004', // RD root folder, in no folder
  X: '1000000000000003', // outside the RD
  Y: '1000000000000008', // outside the RD
  M: '1000000000000009', // outside the RD; only ever shared by hand (never named in a tag)
} as const;
export type AccountName = keyof typeof ACCOUNTS;
export const RECIPIENTS = Object.values(ACCOUNTS);
export const nameOf = (uid: string): string => Object.entries(ACCOUNTS).find(([, u]) => u === uid)?.[0] ?? uid;

export const FOLDERS = {
  F1: { id: 'fd-demofold01', parent: ROOT, accounts: [ACCOUNTS.A, ACCOUNTS.B] },
  F1S: { id: 'fd-simsub0001', parent: 'fd-demofold01', accounts: [ACCOUNTS.C] },
  F2: { id: 'fd-demofold02', parent: ROOT, accounts: [ACCOUNTS.D] },
} as const;
export type FolderName = keyof typeof FOLDERS;

export function folderPath(name: FolderName): string {
  const chain: string[] = [];
  let id: string | undefined = FOLDERS[name].id;
  while (id && id !== ROOT) {
    chain.unshift(id);
    id = Object.values(FOLDERS).find((f) => f.id === id)?.parent;
  }
  return [RD, ROOT, ...chain].join('/');
}

/** A target as a tag names it (what the simulator may write into `share-with`). */
export type Target =
  { kind: 'account'; name: Exclude<AccountName, 'M'> } | { kind: 'rd' } | { kind: 'folder'; name: FolderName };

export function targetText(t: Target): string {
  if (t.kind === 'account') return ACCOUNTS[t.name];
  if (t.kind === 'rd') return RD;
  return folderPath(t.name);
}

/** The short form used in printed histories: A, X, rd, F1, F1S. */
export function targetLabel(t: Target): string {
  return t.kind === 'account' ? t.name : t.kind === 'rd' ? 'rd' : t.name;
}

export const ALL_TARGETS: Target[] = [
  ...(['A', 'B', 'C', 'D', 'E', 'X', 'Y'] as const).map((name): Target => ({ kind: 'account', name })),
  { kind: 'rd' },
  ...(['F1', 'F1S', 'F2'] as const).map((name): Target => ({ kind: 'folder', name })),
];

function folderAccounts(name: FolderName): string[] {
  const own = [...FOLDERS[name].accounts] as string[];
  const children = (Object.keys(FOLDERS) as FolderName[]).filter((n) => FOLDERS[n].parent === FOLDERS[name].id);
  return [...own, ...children.flatMap(folderAccounts)];
}

/** The recipient accounts a target reaches (the owner never counts as a recipient). */
export function reach(t: Target): string[] {
  if (t.kind === 'account') return [ACCOUNTS[t.name]];
  if (t.kind === 'rd') return [ACCOUNTS.A, ACCOUNTS.B, ACCOUNTS.C, ACCOUNTS.D, ACCOUNTS.E];
  return folderAccounts(t.name);
}

export const KEYS = {
  K1: 'key-demo0cmk00000000001',
  K2: 'key-sim0cmk000000000002',
  K3: 'key-sim0cmk000000000003',
} as const;
export type KeyName = keyof typeof KEYS;

export interface SimResource {
  name: string;
  id: string;
  kind: 'snapshot' | 'image';
  key?: KeyName; // undefined: not encrypted
  /** An image's backing snapshot (never tagged, never deleted by the simulator). */
  backing?: string;
}

export const RESOURCES: SimResource[] = [
  { name: 'S1', id: 's-sim0res00000000001', kind: 'snapshot', key: 'K1' },
  { name: 'S2', id: 's-sim0res00000000002', kind: 'snapshot', key: 'K2' },
  { name: 'S3', id: 's-sim0res00000000003', kind: 'snapshot', key: 'K3' },
  { name: 'S4', id: 's-sim0res00000000004', kind: 'snapshot' },
  { name: 'I1', id: 'm-sim0res00000000001', kind: 'image', key: 'K1', backing: 's-sim0img00000000001' },
  { name: 'I2', id: 'm-sim0res00000000002', kind: 'image', key: 'K2', backing: 's-sim0img00000000002' },
  { name: 'I3', id: 'm-sim0res00000000003', kind: 'image', key: 'K3', backing: 's-sim0img00000000003' },
  { name: 'I4', id: 'm-sim0res00000000004', kind: 'image', key: 'K1', backing: 's-sim0img00000000004' },
];
export const resourceByName = (name: string): SimResource => RESOURCES.find((r) => r.name === name)!;

/** The image the owner shares by hand with M (and whose role trusts M through a hand-written statement). */
export const MANUAL_IMAGE = 'I3';

export const SNAPSHOT_ROLE = 'AliyunECSShareEncryptSnapshotDefaultRole';
export const IMAGE_ROLE = 'AliyunECSShareEncryptImageDefaultRole';
/** A policy the owner attached to the image share role by hand: ecs-share must never touch it. */
export const FOREIGN_POLICY = 'sim-hand-written-policy';

function account(uid: string, name: string) {
  return { uid, name, accessKeys: [{ id: `LTAIsim${uid.slice(-9)}`, secret: `simSecret${uid}` }] };
}

export function buildState(): EmulatorState {
  const keys: KmsKey[] = Object.values(KEYS).map((keyId) => ({
    keyId,
    accountId: OWNER,
    region: REGION,
    state: 'Enabled',
    description: 'simulation CMK',
    creationDate: CREATED,
    creator: OWNER,
  }));
  const snapshot = (snapshotId: string, key: KeyName | undefined, name: string): Snapshot => ({
    snapshotId,
    accountId: OWNER,
    region: REGION,
    encrypted: Boolean(key),
    ...(key ? { kmsKeyId: KEYS[key] } : {}),
    status: 'accomplished',
    size: 40,
    name,
    creationTime: CREATED,
    tags: {},
  });
  const snapshots: Snapshot[] = [];
  const images: Image[] = [];
  for (const r of RESOURCES) {
    if (r.kind === 'snapshot') snapshots.push(snapshot(r.id, r.key, r.name));
    else {
      snapshots.push(snapshot(r.backing!, r.key, `${r.name}-disk`));
      images.push({
        imageId: r.id,
        accountId: OWNER,
        region: REGION,
        name: r.name,
        status: 'Available',
        creationTime: CREATED,
        tags: {},
        sharedWith: [],
        diskMappings: [{ device: '/dev/xvda', snapshotId: r.backing!, size: 40, type: 'system' }],
      });
    }
  }
  return {
    regions: [REGION],
    accounts: [
      { uid: OWNER, name: 'owner', accessKeys: [{ id: 'LTAIownerDemoKey0001', secret: 'ownerDemoSecret' }] },
      ...Object.entries(ACCOUNTS).map(([n, uid]) => account(uid, `recipient-${n}`)),
    ],
    resourceDirectory: {
      id: RD,
      rootFolderId: ROOT,
      managementAccount: OWNER,
      sharingEnabled: true,
      folders: [
        { id: ROOT, parentId: null, name: 'Root', accounts: [OWNER, ACCOUNTS.E] },
        ...Object.entries(FOLDERS).map(([n, f]) => ({
          id: f.id,
          parentId: f.parent,
          name: n,
          accounts: [...f.accounts],
        })),
      ],
    },
    keys,
    snapshots,
    images,
  };
}
