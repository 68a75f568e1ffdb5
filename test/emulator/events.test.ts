// From a real SDK tag call to the CloudEvent EventBridge would hand Function Compute: its shape, the in-process and
// HTTP subscribers, and the at-least-once switches (duplicates, reordering).
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import {
  DEMO,
  demoState,
  startEmulator,
  type CloudEvent,
  type Emulator,
  type EmulatorState,
} from '../../scripts/emulator';
import { sdkClients, type Creds } from '../helpers/sdk';

const OWNER: Creds = { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret };
const REGION = 'cn-hangzhou';
const SNAP = DEMO.snapshots.plain;

function testState(): EmulatorState {
  const s = demoState();
  const o = DEMO.owner.uid;
  s.policies = [
    {
      accountId: o,
      policyName: 'ecs-all',
      defaultVersion: 'v1',
      versions: [
        {
          versionId: 'v1',
          document: JSON.stringify({ Version: '1', Statement: [{ Effect: 'Allow', Action: 'ecs:*', Resource: '*' }] }),
        },
      ],
    },
  ];
  s.roles = [
    {
      accountId: o,
      roleName: 'tagger',
      roleId: '300000000000000001',
      assumeRolePolicyDocument: JSON.stringify({
        Version: '1',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } }],
      }),
      attachedPolicies: [{ policyName: 'ecs-all', policyType: 'Custom' }],
    },
  ];
  return s;
}

const tag = (
  ecs: ReturnType<typeof sdkClients>['ecs'],
  type: string,
  ids: string[],
  key = 'share-with',
  value: string = DEMO.rdRecipient.uid,
) =>
  ecs.tagResources(
    new $Ecs.TagResourcesRequest({
      regionId: REGION,
      resourceType: type,
      resourceId: ids,
      tag: [new $Ecs.TagResourcesRequestTag({ key, value })],
    }),
  );

describe('ECS tag-change events', () => {
  let emu: Emulator;
  let ecs: ReturnType<typeof sdkClients>['ecs'];
  let received: CloudEvent[];
  let unsubscribe: () => void;

  beforeAll(async () => {
    emu = await startEmulator({ state: testState() });
    ecs = sdkClients(emu.endpoint, OWNER).ecs;
  });
  afterAll(async () => {
    await emu.stop();
  });
  beforeEach(async () => {
    emu.setEventDelivery({
      duplicates: false,
      reorder: false,
      sink: null,
      seed: 1,
      lose: 0,
      delayMs: 0,
      deadLetter: false,
      retryStrategy: 'BACKOFF_RETRY',
      retryTimeScale: 0.001,
    });
    await emu.drainEvents();
    emu.setState(testState());
    received = [];
    unsubscribe?.();
    unsubscribe = emu.onEvent((e) => {
      received.push(e);
    });
  });

  describe('the CloudEvent', () => {
    it('delivers a TagResources call as the ActionTrail ApiCall event with flat request parameters', async () => {
      const res = await tag(ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(1);

      expect(received).toHaveLength(1);
      const e = received[0];
      expect(e).toMatchObject({
        source: 'acs.ecs',
        specversion: '1.0',
        type: 'ecs:ActionTrail:ApiCall',
        subject: `acs.ecs:${REGION}:${DEMO.owner.uid}:snapshot/${SNAP}`,
        datacontenttype: 'application/json;charset=utf-8',
        aliyunaccountid: DEMO.owner.uid,
        aliyuneventbusname: 'default',
        aliyunregionid: REGION,
      });
      expect(e.id).toMatch(/^[0-9a-f-]{36}$/);
      expect(e.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
      expect(e.data).toMatchObject({
        eventName: 'TagResources',
        serviceName: 'Ecs',
        acsRegion: REGION,
        eventRW: 'Write',
        eventType: 'ApiCall',
        apiVersion: '2014-05-26',
        requestId: res.body?.requestId,
        userIdentity: {
          type: 'root-account',
          accountId: DEMO.owner.uid,
          principalId: DEMO.owner.uid,
          accessKeyId: OWNER.accessKeyId,
        },
        referencedResources: { 'ACS::ECS::Snapshot': [SNAP] },
        requestParameters: {
          RegionId: REGION,
          ResourceType: 'snapshot',
          'ResourceId.1': SNAP,
          'Tag.1.Key': 'share-with',
          'Tag.1.Value': DEMO.rdRecipient.uid,
        },
        responseElements: { RequestId: res.body?.requestId },
      });
    });

    it('names images and removed tag keys for UntagResources', async () => {
      await ecs.untagResources(
        new $Ecs.UntagResourcesRequest({
          regionId: REGION,
          resourceType: 'image',
          resourceId: [DEMO.images.cmk],
          tagKey: ['share-with'],
        }),
      );
      await emu.waitForEvents(1);

      expect(received[0].data.eventName).toBe('UntagResources');
      expect(received[0].data.referencedResources).toEqual({ 'ACS::ECS::Image': [DEMO.images.cmk] });
      expect(received[0].data.requestParameters).toMatchObject({
        'ResourceId.1': DEMO.images.cmk,
        'TagKey.1': 'share-with',
        ResourceType: 'image',
      });
    });

    it('delivers the deprecated AddTags call with its single ResourceId', async () => {
      await ecs.addTags(
        new $Ecs.AddTagsRequest({
          regionId: REGION,
          resourceType: 'snapshot',
          resourceId: SNAP,
          tag: [new $Ecs.AddTagsRequestTag({ key: 'k', value: 'v' })],
        }),
      );
      await emu.waitForEvents(1);

      expect(received[0].data.eventName).toBe('AddTags');
      expect(received[0].data.requestParameters).toMatchObject({ ResourceId: SNAP, 'Tag.1.Key': 'k' });
    });

    it('delivers a CreateSnapshot that carried tags, naming the new snapshot', async () => {
      const res = await ecs.createSnapshot(
        new $Ecs.CreateSnapshotRequest({
          diskId: 'd-demo0cmk0000000001',
          tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'share-with', value: DEMO.externalRecipient.uid })],
        }),
      );
      await emu.waitForEvents(1);

      const id = res.body?.snapshotId;
      expect(id).toBeTruthy();
      expect(received[0].data.eventName).toBe('CreateSnapshot');
      expect(received[0].data.responseElements).toMatchObject({ SnapshotId: id });
      expect(received[0].data.referencedResources).toEqual({ 'ACS::ECS::Snapshot': [id] });
      expect(received[0].subject).toBe(`acs.ecs:${REGION}:${DEMO.owner.uid}:snapshot/${id}`);
    });

    it('stays silent for an untagged create, a read and a failed tag call', async () => {
      const publishedBefore = emu.events().length;
      await ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: 'd-demo0cmk0000000001' }));
      await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: REGION }));
      await tag(ecs, 'snapshot', ['s-doesnotexist00000001']).catch(() => undefined);
      await tag(ecs, 'snapshot', [SNAP], 'marker', 'last');
      await emu.waitForEvents(1);

      expect(received.map((e) => e.data.requestParameters['Tag.1.Key'])).toEqual(['marker']);
      expect(emu.events().length - publishedBefore).toBe(1);
    });

    it('identifies an assumed-role caller', async () => {
      const creds = emu.issueServiceCredentials(DEMO.owner.uid, 'tagger');
      await tag(sdkClients(emu.endpoint, creds).ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(1);

      expect(received[0].data.userIdentity).toMatchObject({
        type: 'assumed-role',
        accountId: DEMO.owner.uid,
        accessKeyId: creds.accessKeyId,
        principalId: expect.stringMatching(/^300000000000000001:/),
      });
    });
  });

  describe('delivery', () => {
    it('posts the same event as JSON to an HTTP sink', async () => {
      const posted: any[] = [];
      const sink = http.createServer((req, res) => {
        const chunks: Buffer[] = [];
        req.on('data', (c: Buffer) => chunks.push(c));
        req.on('end', () => {
          posted.push({ contentType: req.headers['content-type'], body: JSON.parse(Buffer.concat(chunks).toString()) });
          res.writeHead(200).end();
        });
      });
      await new Promise<void>((r) => sink.listen(0, '127.0.0.1', () => r()));
      emu.setEventDelivery({ sink: `http://127.0.0.1:${(sink.address() as AddressInfo).port}/events` });

      await tag(ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(1);
      sink.closeAllConnections();
      await new Promise((r) => sink.close(r));

      expect(posted).toHaveLength(1);
      expect(posted[0].contentType).toMatch(/^application\/json/);
      expect(posted[0].body).toEqual(received[0]);
    });

    it('delivers every event twice with duplicates on, with the same id', async () => {
      emu.setEventDelivery({ duplicates: true });
      const publishedBefore = emu.events().length;

      await tag(ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(2);

      expect(received).toHaveLength(2);
      expect(received[0].id).toBe(received[1].id);
      expect(emu.events().length - publishedBefore).toBe(1);
    });

    it('holds events with reorder on and delivers them reversed when flushed', async () => {
      emu.setEventDelivery({ reorder: 'reverse' });

      for (const key of ['a', 'b', 'c']) await tag(ecs, 'snapshot', [SNAP], key, 'v');
      await new Promise((r) => setTimeout(r, 20));
      const beforeFlush = received.length;
      await emu.flushEvents();

      expect(beforeFlush).toBe(0);
      expect(received.map((e) => e.data.requestParameters['Tag.1.Key'])).toEqual(['c', 'b', 'a']);
    });

    it('retries a listener that fails, so delivery is at least once', async () => {
      let attempts = 0;
      const off = emu.onEvent(() => {
        attempts++;
        if (attempts === 1) throw new Error('function cold start failed');
      });

      await tag(ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(1);
      off();

      expect(attempts).toBe(2);
    });

    it('stops delivering to an unsubscribed listener', async () => {
      unsubscribe();

      await tag(ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(1);

      expect(received).toHaveLength(0);
    });

    it('serves published events and delivery options over the admin API', async () => {
      await fetch(`${emu.endpoint}/_emulator/events`, { method: 'PUT', body: JSON.stringify({ duplicates: 0 }) });
      await tag(ecs, 'snapshot', [SNAP]);
      await emu.waitForEvents(1);

      const res = (await (await fetch(`${emu.endpoint}/_emulator/events`)).json()) as any;

      expect(res.events.map((e: CloudEvent) => e.id)).toContain(received[0].id);
      expect(res.delivery).toMatchObject({ duplicates: 0, reorder: false });
    });
  });
});
