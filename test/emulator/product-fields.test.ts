// Every field the product's adapters read comes back filled through the real casting path (the SDK response models
// for ECS, RAM and STS; the raw body for KMS and Resource Sharing). A field the model lacks would read as undefined.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startEmulator, demoState, DEMO, type Emulator } from '../../scripts/emulator';
import { CloudApi } from '../../shared/cloud/api';
import { createPorts, type Ports } from '../../shared/share/context';

let emu: Emulator;
let ports: Ports;

beforeAll(async () => {
  emu = await startEmulator({ state: demoState() });
  ports = createPorts(
    new CloudApi({
      endpointOverride: emu.endpoint,
      credentials: { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret },
    }),
  );
  const trust = JSON.stringify({
    Version: '1',
    Statement: [
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['1000000000000002@ecs.aliyuncs.com'] } },
    ],
  });
  await ports.ram.createRole('AliyunECSShareEncryptImageDefaultRole', trust, 'human text');
  await ports.ram.createPolicy(
    'ecs-share-image-kms',
    JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: 'kms:Decrypt', Resource: '*' }] }),
    'd',
  );
  await ports.ram.attachPolicy('AliyunECSShareEncryptImageDefaultRole', 'ecs-share-image-kms', 'Custom');
  await ports.sharing.createShare(
    DEMO.region,
    'ecs-share-s-demo0cmk0000000001',
    { id: DEMO.snapshots.cmk, type: 'Snapshot' },
    [DEMO.externalRecipient.uid],
    true,
  );
  // The reads lag behind the writes (readLagMs): read once they have caught up, as a later invocation would.
  await new Promise((r) => setTimeout(r, emu.state.options.readLagMs + 20));
});
afterAll(() => emu.stop());

describe('fields the product reads', () => {
  it('reads the role trust policy, description and arn', async () => {
    const role = await ports.ram.getRole('AliyunECSShareEncryptImageDefaultRole');
    expect(JSON.parse(role!.trustPolicy).Statement[0].Principal.Service).toEqual(['1000000000000002@ecs.aliyuncs.com']);
    expect(role!.description).toBe('human text');
    expect(role!.arn).toMatch(/^acs:ram::1000000000000001:role\//);
  });

  it('reads attached policies, the default document and the versions', async () => {
    expect(await ports.ram.listPoliciesForRole('AliyunECSShareEncryptImageDefaultRole')).toEqual([
      { policyName: 'ecs-share-image-kms', policyType: 'Custom' },
    ]);
    expect(JSON.parse((await ports.ram.getPolicyDocument('ecs-share-image-kms'))!).Statement).toHaveLength(1);
    const [v] = await ports.ram.listPolicyVersions('ecs-share-image-kms');
    expect(v).toMatchObject({ versionId: 'v1', isDefault: true });
    expect(v.document).toContain('kms:Decrypt');
    expect(v.createDate).toBeTruthy();
  });

  it('reads the caller account id as a string, never through a number', async () => {
    expect(await ports.sts.accountId(DEMO.region)).toBe(DEMO.owner.uid);
  });

  it('reads key id, ARN, owner and state, and resolves the service key alias', async () => {
    expect(await ports.kms.describeKey(DEMO.region, DEMO.cmkId)).toEqual({
      keyId: DEMO.cmkId,
      arn: `acs:kms:${DEMO.region}:${DEMO.owner.uid}:key/${DEMO.cmkId}`,
      state: 'Enabled',
      accountId: DEMO.owner.uid,
      region: DEMO.region,
    });
    expect(await ports.kms.serviceKeyId(DEMO.region)).toBe(DEMO.serviceKeyId);
    expect(await ports.kms.describeKey(DEMO.region, 'key-doesnotexist000000000')).toBeUndefined();
  });

  it('reads snapshots with encryption, key and tags, and images with the snapshots of their disk mappings', async () => {
    const [snap] = await ports.ecs.getSnapshots(DEMO.region, [DEMO.snapshots.cmk]);
    expect(snap).toMatchObject({ id: DEMO.snapshots.cmk, encrypted: true, kmsKeyId: DEMO.cmkId });
    const image = await ports.ecs.getImage(DEMO.region, DEMO.images.cmk);
    expect(image!.snapshotIds).toEqual([DEMO.snapshots.cmk]);
  });

  it('reads resource shares by name and their target associations', async () => {
    const share = await ports.sharing.findShare(DEMO.region, 'ecs-share-s-demo0cmk0000000001');
    expect(share).toMatchObject({
      name: 'ecs-share-s-demo0cmk0000000001',
      allowExternalTargets: true,
      status: 'Active',
    });
    const [target] = await ports.sharing.associations(DEMO.region, share!.id, 'Target');
    expect(target).toMatchObject({ entityId: DEMO.externalRecipient.uid, status: 'Associating', external: true });
    const all = await ports.sharing.allTargetAssociations(DEMO.region);
    expect(all.map((a) => [a.resourceShareId, a.entityId])).toEqual([[share!.id, DEMO.externalRecipient.uid]]);
  });
});
