// The state `npm run emulator` starts with when no --state file is given. Every id is fixed, so docs and demos can name them.
//
// Accounts (root keys: may do anything in their account):
//   1000000000000001  owner        LTAIownerDemoKey0001 / ownerDemoSecret       RD management account, in the root folder
//   1000000000000002  recipient    LTAIrecipDemoKey0002 / recipientDemoSecret2  RD member, in folder fd-demofold01
//   1000000000000003  external     LTAIextDemoKey000003 / externalDemoSecret3   not in the RD
// Resource directory rd-demo01: root folder r-demo01 (owner) > folder fd-demofold01 (recipient 2).
// (Real ids: r- + 6 characters, fd- + 10 characters, so the folder is fd-demofold01, not fd-demofolder1.)
// Region cn-hangzhou. Everything below belongs to the owner:
//   KMS  key-demo0cmk00000000001  customer master key, Enabled
//        key-demo0ecs00000000001  the ECS service key, alias alias/acs/ecs (creator Ecs)
//   Disks     d-demo0cmk0000000001 (CMK), d-demo0svc0000000001 (service key), d-demo0plain000000001 (plain)
//   Snapshots s-demo0cmk0000000001 (CMK), s-demo0svc0000000001 (service key), s-demo0plain000000001 (plain)
//   Images    m-demo0cmk0000000001 (from the CMK snapshot), m-demo0plain000000001 (from the plain snapshot)
import type { EmulatorState } from './types';

export const DEMO = {
  region: 'cn-hangzhou',
  owner: { uid: '1000000000000001', accessKeyId: 'LTAIownerDemoKey0001', accessKeySecret: 'ownerDemoSecret' },
  rdRecipient: {
    uid: '1000000000000002',
    accessKeyId: 'LTAIrecipDemoKey0002',
    accessKeySecret: 'recipientDemoSecret2',
  },
  externalRecipient: {
    uid: '1000000000000003',
    accessKeyId: 'LTAIextDemoKey000003',
    accessKeySecret: 'externalDemoSecret3',
  },
  resourceDirectoryId: 'rd-demo01',
  rootFolderId: 'r-demo01',
  folderId: 'fd-demofold01',
  cmkId: 'key-demo0cmk00000000001',
  serviceKeyId: 'key-demo0ecs00000000001',
  snapshots: { cmk: 's-demo0cmk0000000001', serviceKey: 's-demo0svc0000000001', plain: 's-demo0plain000000001' },
  images: { cmk: 'm-demo0cmk0000000001', plain: 'm-demo0plain000000001' },
} as const;

const CREATED = '2026-11-01T00:00:00Z';

export function demoState(): EmulatorState {
  const { owner, rdRecipient, externalRecipient, region } = DEMO;
  const o = owner.uid;
  return {
    regions: [region],
    accounts: [
      { uid: o, name: 'owner', accessKeys: [{ id: owner.accessKeyId, secret: owner.accessKeySecret }] },
      {
        uid: rdRecipient.uid,
        name: 'rd-recipient',
        accessKeys: [{ id: rdRecipient.accessKeyId, secret: rdRecipient.accessKeySecret }],
      },
      {
        uid: externalRecipient.uid,
        name: 'external-recipient',
        accessKeys: [{ id: externalRecipient.accessKeyId, secret: externalRecipient.accessKeySecret }],
      },
    ],
    resourceDirectory: {
      id: DEMO.resourceDirectoryId,
      rootFolderId: DEMO.rootFolderId,
      managementAccount: o,
      sharingEnabled: true,
      folders: [
        { id: DEMO.rootFolderId, parentId: null, name: 'Root', accounts: [o] },
        { id: DEMO.folderId, parentId: DEMO.rootFolderId, name: 'recipients', accounts: [rdRecipient.uid] },
      ],
    },
    keys: [
      {
        keyId: DEMO.cmkId,
        accountId: o,
        region,
        state: 'Enabled',
        description: 'demo CMK',
        creationDate: CREATED,
        creator: o,
      },
      {
        keyId: DEMO.serviceKeyId,
        accountId: o,
        region,
        state: 'Enabled',
        description: 'ECS service key',
        creationDate: CREATED,
        aliases: ['alias/acs/ecs'],
        creator: 'Ecs',
      },
    ],
    disks: [
      {
        diskId: 'd-demo0cmk0000000001',
        accountId: o,
        region,
        zoneId: 'cn-hangzhou-h',
        size: 40,
        category: 'cloud_essd',
        encrypted: true,
        kmsKeyId: DEMO.cmkId,
        creationTime: CREATED,
      },
      {
        diskId: 'd-demo0svc0000000001',
        accountId: o,
        region,
        zoneId: 'cn-hangzhou-h',
        size: 40,
        category: 'cloud_essd',
        encrypted: true,
        kmsKeyId: DEMO.serviceKeyId,
        creationTime: CREATED,
      },
      {
        diskId: 'd-demo0plain000000001',
        accountId: o,
        region,
        zoneId: 'cn-hangzhou-h',
        size: 40,
        category: 'cloud_essd',
        encrypted: false,
        creationTime: CREATED,
      },
    ],
    snapshots: [
      {
        snapshotId: DEMO.snapshots.cmk,
        accountId: o,
        region,
        sourceDiskId: 'd-demo0cmk0000000001',
        encrypted: true,
        kmsKeyId: DEMO.cmkId,
        status: 'accomplished',
        size: 40,
        name: 'demo-cmk',
        creationTime: CREATED,
        tags: {},
      },
      {
        snapshotId: DEMO.snapshots.serviceKey,
        accountId: o,
        region,
        sourceDiskId: 'd-demo0svc0000000001',
        encrypted: true,
        kmsKeyId: DEMO.serviceKeyId,
        status: 'accomplished',
        size: 40,
        name: 'demo-service-key',
        creationTime: CREATED,
        tags: {},
      },
      {
        snapshotId: DEMO.snapshots.plain,
        accountId: o,
        region,
        sourceDiskId: 'd-demo0plain000000001',
        encrypted: false,
        status: 'accomplished',
        size: 40,
        name: 'demo-plain',
        creationTime: CREATED,
        tags: {},
      },
    ],
    images: [
      {
        imageId: DEMO.images.cmk,
        accountId: o,
        region,
        name: 'demo-cmk-image',
        status: 'Available',
        creationTime: CREATED,
        diskMappings: [{ device: '/dev/xvda', snapshotId: DEMO.snapshots.cmk, size: 40, type: 'system' }],
        tags: {},
        sharedWith: [],
      },
      {
        imageId: DEMO.images.plain,
        accountId: o,
        region,
        name: 'demo-plain-image',
        status: 'Available',
        creationTime: CREATED,
        diskMappings: [{ device: '/dev/xvda', snapshotId: DEMO.snapshots.plain, size: 40, type: 'system' }],
        tags: {},
        sharedWith: [],
      },
    ],
  };
}
