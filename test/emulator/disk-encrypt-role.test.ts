// ECS may encrypt with a customer master key only once AliyunECSDiskEncryptDefaultRole exists in the account with its
// system policy: the emulator's CopySnapshot/CopyImage with KMSKeyId refuse with the documented
// InvalidParameter.KMSKeyId.KMSUnauthorized until then. Copies carry the Tag.N of the call and are not ready at once.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { CMK1, IMG, OWNER, REGION, SNAP, baseState, errorOf, ideal, start, type Started } from './share-fixture';

let s: Started;
beforeAll(async () => {
  s = await start();
});
afterAll(async () => {
  await s.emu.stop();
});
beforeEach(() => {
  s.emu.setState(ideal(baseState()));
});

const ecs = () => s.as(OWNER).ecs;
const ROLE = 'AliyunECSDiskEncryptDefaultRole';
const TRUST = JSON.stringify({
  Version: '1',
  Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['ecs.aliyuncs.com'] } }],
});
const copySnapshot = (tags: Array<[string, string]> = []) =>
  ecs().copySnapshot(
    new $Ecs.CopySnapshotRequest({
      regionId: REGION,
      snapshotId: SNAP.svc,
      destinationRegionId: REGION,
      encrypted: true,
      KMSKeyId: CMK1,
      destinationSnapshotName: 'copy',
      destinationSnapshotDescription: 'copy',
      tag: tags.map(([key, value]) => new $Ecs.CopySnapshotRequestTag({ key, value })),
    }),
  );
const copyImage = () =>
  ecs().copyImage(
    new $Ecs.CopyImageRequest({
      regionId: REGION,
      imageId: IMG.svc,
      destinationRegionId: REGION,
      encrypted: true,
      KMSKeyId: CMK1,
    }),
  );

async function createRole(policy?: string): Promise<void> {
  await s.as(OWNER).ram.createRole(new $Ram.CreateRoleRequest({ roleName: ROLE, assumeRolePolicyDocument: TRUST }));
  if (policy)
    await s
      .as(OWNER)
      .ram.attachPolicyToRole(
        new $Ram.AttachPolicyToRoleRequest({ roleName: ROLE, policyName: policy, policyType: 'System' }),
      );
}

describe('CopySnapshot and CopyImage with a customer master key', () => {
  for (const [name, call] of [
    ['CopySnapshot', () => copySnapshot()],
    ['CopyImage', copyImage],
  ] as const) {
    it(`${name} is refused with InvalidParameter.KMSKeyId.KMSUnauthorized without ${ROLE}`, async () => {
      const e = await errorOf(call());
      expect([e.statusCode, e.code]).toEqual([403, 'InvalidParameter.KMSKeyId.KMSUnauthorized']);
      expect(e.message).toContain(ROLE);
    });

    it(`${name} is refused while the role lacks its system policy, and allowed once it has it`, async () => {
      await createRole();
      expect((await errorOf(call())).code).toBe('InvalidParameter.KMSKeyId.KMSUnauthorized');
      await s.as(OWNER).ram.attachPolicyToRole(
        new $Ram.AttachPolicyToRoleRequest({
          roleName: ROLE,
          policyName: 'AliyunECSDiskEncryptRolePolicy',
          policyType: 'System',
        }),
      );
      await expect(call()).resolves.toBeTruthy();
    });
  }

  it('does not ask for the role when no KMSKeyId is given (the service key needs no authorization)', async () => {
    const r = await ecs().copySnapshot(
      new $Ecs.CopySnapshotRequest({
        regionId: REGION,
        snapshotId: SNAP.svc,
        destinationRegionId: REGION,
        destinationSnapshotName: 'c',
        destinationSnapshotDescription: 'c',
      }),
    );
    expect(r.body!.snapshotId).toMatch(/^s-/);
  });

  it("makes a CMK copy that carries the call's tags and is progressing until readyDelayMs has passed", async () => {
    await createRole('AliyunECSDiskEncryptRolePolicy');
    s.emu.setOptions({ readyDelayMs: 400 });
    const r = await copySnapshot([
      ['ecs-share:copy-of', SNAP.svc],
      ['share-with', '1000000000000002'],
    ]);
    const read = async () =>
      (
        await ecs().describeSnapshots(
          new $Ecs.DescribeSnapshotsRequest({ regionId: REGION, snapshotIds: JSON.stringify([r.body!.snapshotId]) }),
        )
      ).body!.snapshots!.snapshot![0];
    const first = await read();
    expect(first).toMatchObject({ encrypted: true, KMSKeyId: CMK1, status: 'progressing', sourceSnapshotId: SNAP.svc });
    expect(Object.fromEntries((first.tags?.tag ?? []).map((t) => [t.tagKey, t.tagValue]))).toEqual({
      'ecs-share:copy-of': SNAP.svc,
      'share-with': '1000000000000002',
    });
    await new Promise((res) => setTimeout(res, 500));
    expect((await read()).status).toBe('accomplished');
  });
});
