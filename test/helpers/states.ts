// Emulator states for the end-to-end suites: the demo state plus what the scenarios of issue 3 need
// (many recipient accounts, a second CMK, an image over two disks with two keys, an RD member outside the folder,
// a service-key image, spare CMK snapshots for concurrent writers). Every id is fixed so tests can name them.
import { demoState, DEMO, type EmulatorState, type Image, type Snapshot } from '../../scripts/emulator';

const CREATED = '2026-11-01T00:00:00Z';
const { region } = DEMO;
const o = DEMO.owner.uid;

/** Recipient number n (1..99) outside the RD: 10000000000001nn. */
export const recipientUid = (n: number) => `10000000000001${String(n).padStart(2, '0')}`;

export const E2E = {
  /** RD member directly in the root folder: inside the RD, outside folder fd-demofold01. */
  rootMember: '1000000000000004',
  /** A well-formed uid of an account that does not exist. */
  ghost: '1000000000000999',
  cmk2Id: 'key-demo0cmk00000000002',
  /** Image over two disks, one per CMK. */
  twoKeyImage: 'm-e2etwokeys00000001',
  cmk2Snapshot: 's-e2ecmk2data0000001',
  /** More CMK snapshots (key 1), so tests do not share state through one resource. */
  spareSnapshots: ['s-e2espare0000000001', 's-e2espare0000000002', 's-e2espare0000000003', 's-e2espare0000000004'],
  /** Image over the service-key snapshot. */
  serviceKeyImage: 'm-e2esvcimage0000001',
  folderPath: `${DEMO.resourceDirectoryId}/${DEMO.rootFolderId}/${DEMO.folderId}`,
} as const;

function account(uid: string, name: string) {
  return { uid, name, accessKeys: [{ id: `LTAIe2e${uid.slice(-9)}`, secret: `e2eSecret${uid}` }] };
}

function snapshot(snapshotId: string, keyId: string | undefined, name: string): Snapshot {
  return {
    snapshotId,
    accountId: o,
    region,
    encrypted: Boolean(keyId),
    ...(keyId ? { kmsKeyId: keyId } : {}),
    status: 'accomplished',
    size: 40,
    name,
    creationTime: CREATED,
    tags: {},
  };
}

function image(imageId: string, name: string, snapshots: string[]): Image {
  return {
    imageId,
    accountId: o,
    region,
    name,
    status: 'Available',
    creationTime: CREATED,
    tags: {},
    sharedWith: [],
    diskMappings: snapshots.map((snapshotId, i) => ({
      device: `/dev/xvd${'abcdefgh'[i]}`,
      snapshotId,
      size: 40,
      type: i === 0 ? 'system' : 'data',
    })),
  };
}

/** The demo state plus `recipients` external accounts (recipientUid(1..n)) and the E2E resources. */
export function e2eState(opts: { recipients?: number } = {}): EmulatorState {
  const s = demoState();
  const n = opts.recipients ?? 14;
  s.accounts.push(account(E2E.rootMember, 'rd-root-member'));
  for (let i = 1; i <= n; i++) s.accounts.push(account(recipientUid(i), `recipient-${i}`));
  s.resourceDirectory!.folders[0].accounts.push(E2E.rootMember);
  s.keys!.push({
    keyId: E2E.cmk2Id,
    accountId: o,
    region,
    state: 'Enabled',
    description: 'second CMK',
    creationDate: CREATED,
    creator: o,
  });
  s.snapshots!.push(
    snapshot(E2E.cmk2Snapshot, E2E.cmk2Id, 'data-disk-cmk2'),
    ...E2E.spareSnapshots.map((id, i) => snapshot(id, DEMO.cmkId, `spare-${i + 1}`)),
  );
  s.images!.push(
    image(E2E.twoKeyImage, 'two-disks-two-keys', [DEMO.snapshots.cmk, E2E.cmk2Snapshot]),
    image(E2E.serviceKeyImage, 'service-key-image', [DEMO.snapshots.serviceKey]),
  );
  return s;
}
