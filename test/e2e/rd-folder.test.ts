// Resource directory and folder targets: a Resource Sharing share with the RD or folder, and a trust statement for
// any ECS principal conditioned on the recipient's RD id or RD path. Members reach the resource; outsiders do not.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import {
  IMAGE_ROLE,
  SNAPSHOT_ROLE,
  outcomeFor,
  semantic,
  statements,
  tagAndDeliver,
  toolShare,
  trustPolicy,
  use,
  type Outcome,
} from '../helpers/e2e';

const member = DEMO.rdRecipient.uid; // in folder fd-demofold01
const outsider = DEMO.externalRecipient.uid; // not in the RD
const rootMember = E2E.rootMember; // in the RD, outside the folder

describe('sharing a CMK snapshot with a whole resource directory', () => {
  let w: World;
  const snap = DEMO.snapshots.cmk;
  let result: Outcome;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    result = outcomeFor(await tagAndDeliver(w, snap, DEMO.resourceDirectoryId), snap);
  });
  afterAll(() => w.stop());

  it('reports the snapshot shared with the resource directory', () => {
    expect(result.outcome).toBe('shared');
    expect(result.targets).toEqual([`resource directory ${DEMO.resourceDirectoryId}`]);
  });

  it('trusts any ECS principal whose sts:ServiceOwnerRDId equals the directory', async () => {
    expect(statements(await trustPolicy(w, SNAPSHOT_ROLE))).toContainEqual(
      semantic({
        Action: 'sts:AssumeRole',
        Effect: 'Allow',
        Principal: { Service: '*@ecs.aliyuncs.com' },
        Condition: { StringEquals: { 'sts:ServiceOwnerRDId': DEMO.resourceDirectoryId } },
      }),
    );
  });

  it('creates a resource share with the directory as its only target, without external targets', async () => {
    const share = await toolShare(w, snap);
    expect(share!.allowExternalTargets).toBe(false);
    expect(share!.targets).toEqual([{ id: DEMO.resourceDirectoryId, status: 'Associated', external: false }]);
  });

  it('lets every member of the directory create a disk from the snapshot', async () => {
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
    expect(await use(w, rootMember, snap)).toMatchObject({ ok: true });
  });

  it('does not let an account outside the directory create a disk from the snapshot', async () => {
    expect(await use(w, outsider, snap)).toMatchObject({ ok: false, code: 'InvalidSnapshotId.NotFound' });
  });
});

describe('sharing with a folder of the resource directory', () => {
  let w: World;
  const snap = DEMO.snapshots.cmk;
  const image = DEMO.images.cmk;
  let results: Outcome[];

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    results = [
      outcomeFor(await tagAndDeliver(w, snap, E2E.folderPath), snap),
      outcomeFor(await tagAndDeliver(w, image, E2E.folderPath), image),
    ];
  });
  afterAll(() => w.stop());

  it('reports the snapshot and the image shared with the folder', () => {
    expect(results.map((r) => [r.outcome, r.targets])).toEqual([
      ['shared', [`folder ${E2E.folderPath}`]],
      ['shared', [`folder ${E2E.folderPath}`]],
    ]);
  });

  it('trusts any ECS principal whose sts:ServiceOwnerRDPath is like the folder path, in both roles', async () => {
    for (const role of [SNAPSHOT_ROLE, IMAGE_ROLE]) {
      expect(statements(await trustPolicy(w, role)), role).toContainEqual(
        semantic({
          Action: 'sts:AssumeRole',
          Effect: 'Allow',
          Principal: { Service: '*@ecs.aliyuncs.com' },
          Condition: { StringLike: { 'sts:ServiceOwnerRDPath': `${E2E.folderPath}*` } },
        }),
      );
    }
  });

  it('creates a resource share per resource targeting the folder id', async () => {
    for (const id of [snap, image]) {
      expect((await toolShare(w, id))!.targets, id).toEqual([
        { id: DEMO.folderId, status: 'Associated', external: false },
      ]);
    }
  });

  it('lets the member in the folder create a disk from the snapshot and copy the image', async () => {
    expect(await use(w, member, snap)).toMatchObject({ ok: true });
    expect(await use(w, member, image)).toMatchObject({ ok: true });
  });

  it('does not let a directory member outside the folder, nor an outsider, use either resource', async () => {
    for (const uid of [rootMember, outsider]) {
      expect(await use(w, uid, snap), uid).toMatchObject({ ok: false });
      expect(await use(w, uid, image), uid).toMatchObject({ ok: false });
    }
  });
});
