// Who may share: the shipped tag guard (shared/policies/tag-guard.json), attached as a RAM custom policy, keeps a
// developer from setting, continuing or removing `share-with` (and from creating a snapshot that carries it), while
// other tags stay free; a publisher sets it only through the `ecs-share-publisher` role (tag-publisher-assume.json,
// tag-publisher-trust.json), and the product then shares. Real SDK clients against the emulator throughout.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import * as $Sts from '@alicloud/sts20150401';
import { DEMO } from '../../scripts/emulator';
import { parsePolicyDocument } from '../../scripts/emulator/policy';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import { eventsFor, outcomeFor, outcomes, resourceTags, tag, use } from '../helpers/e2e';
import { errorOf } from '../helpers/error-of';
import { sdkClients, type Creds, type SdkClients } from '../helpers/sdk';

const POLICIES = path.resolve(__dirname, '../../shared/policies');
const shipped = (file: string) => fs.readFileSync(path.join(POLICIES, file), 'utf8');
const { region } = DEMO;
const member = DEMO.rdRecipient.uid;
const GUARD = 'ecs-share-tag-guard';
const ASSUME = 'ecs-share-tag-publisher-assume';
const PUBLISHER_ROLE = 'ecs-share-publisher';
const SHARE_KEYS = ['share-with', ...Array.from({ length: 9 }, (_, i) => `share-with.${i + 2}`)];

describe('the shipped policy documents', () => {
  const files = fs.readdirSync(POLICIES).filter((f) => f.endsWith('.json'));

  it.each(files)('%s is valid JSON and a valid RAM document', (file) => {
    const text = shipped(file);
    expect(() => JSON.parse(text)).not.toThrow();
    const kind = file.endsWith('-trust.json') ? 'trust' : 'permission';
    // The trust template's placeholder is filled first, as the README says.
    expect(() => parsePolicyDocument(text.replaceAll('<OWNER_UID>', DEMO.owner.uid), kind, 6144)).not.toThrow();
  });

  it('the guard denies every tag and create/copy call for each share key, except the publisher role', () => {
    const doc = JSON.parse(shipped('tag-guard.json'));
    const guarded = doc.Statement.map((s: any) => Object.keys(s.Condition.Null)).flat();
    expect(guarded).toEqual(SHARE_KEYS.map((k) => `acs:RequestTag/${k}`));
    for (const s of doc.Statement) {
      expect(s.Effect).toBe('Deny');
      expect([s.Action].flat().sort()).toEqual([
        'ecs:AddTags',
        'ecs:CopyImage',
        'ecs:CopySnapshot',
        'ecs:CreateImage',
        'ecs:CreateSnapshot',
        'ecs:RemoveTags',
        'ecs:TagResources',
        'ecs:UntagResources',
        'tag:TagResources',
        'tag:UntagResources',
      ]);
      expect(Object.values(s.Condition.Null)).toEqual(['false']);
      expect(s.Condition.StringNotLike).toEqual({ 'acs:PrincipalARN': `acs:ram:*:*:role/${PUBLISHER_ROLE}` });
    }
  });

  it('the guard fits a resource directory control policy (4,096 characters) as shipped', () => {
    expect(shipped('tag-guard.json').length).toBeLessThanOrEqual(4096);
  });
});

describe('the tag guard in the owner account', () => {
  let w: World;
  let developer: SdkClients;
  let publisherUser: SdkClients;
  let publisherArn: string;
  const snap = E2E.spareSnapshots[0];
  const alreadyShared = E2E.spareSnapshots[1];
  const published = E2E.spareSnapshots[2];

  async function userWith(userName: string, policies: Array<[string, 'System' | 'Custom']>): Promise<SdkClients> {
    await w.owner.ram.createUser(new $Ram.CreateUserRequest({ userName }));
    for (const [policyName, policyType] of policies) {
      await w.owner.ram.attachPolicyToUser(new $Ram.AttachPolicyToUserRequest({ userName, policyName, policyType }));
    }
    const key = (await w.owner.ram.createAccessKey(new $Ram.CreateAccessKeyRequest({ userName }))).body!.accessKey!;
    return sdkFor({ accessKeyId: key.accessKeyId!, accessKeySecret: key.accessKeySecret! });
  }

  /** The world's clients are account roots; these are a RAM user's or a role session's. */
  const sdkFor = (creds: Creds): SdkClients => sdkClients(w.emu.endpoint, creds);

  const tagCall = (c: SdkClients, id: string, tags: Record<string, string>) =>
    c.ecs.tagResources(
      new $Ecs.TagResourcesRequest({
        regionId: region,
        resourceType: 'snapshot',
        resourceId: [id],
        tag: Object.entries(tags).map(([key, value]) => ({ key, value })),
      }),
    );

  async function denied(p: Promise<unknown>): Promise<void> {
    const err = await errorOf(p);
    expect([err.code, err.statusCode, err.accessDeniedDetail?.NoPermissionType]).toEqual([
      'Forbidden.RAM',
      403,
      'ExplicitDeny',
    ]);
  }

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    const ram = w.owner.ram;
    await ram.createPolicy(
      new $Ram.CreatePolicyRequest({ policyName: GUARD, policyDocument: shipped('tag-guard.json') }),
    );
    await ram.createPolicy(
      new $Ram.CreatePolicyRequest({ policyName: ASSUME, policyDocument: shipped('tag-publisher-assume.json') }),
    );
    const trust = shipped('tag-publisher-trust.json').replaceAll('<OWNER_UID>', DEMO.owner.uid);
    publisherArn = (
      await ram.createRole(new $Ram.CreateRoleRequest({ roleName: PUBLISHER_ROLE, assumeRolePolicyDocument: trust }))
    ).body!.role!.arn!;
    for (const [policyName, policyType] of [
      ['AliyunECSFullAccess', 'System'],
      [GUARD, 'Custom'],
    ]) {
      await ram.attachPolicyToRole(
        new $Ram.AttachPolicyToRoleRequest({ roleName: PUBLISHER_ROLE, policyName, policyType }),
      );
    }
    developer = await userWith('developer', [
      ['AliyunECSFullAccess', 'System'],
      [GUARD, 'Custom'],
    ]);
    // The publisher RAM group's policies, attached to the user (the emulator has no RAM groups).
    publisherUser = await userWith('publisher', [
      ['AliyunECSFullAccess', 'System'],
      [GUARD, 'Custom'],
      [ASSUME, 'Custom'],
    ]);
    await tag(w, alreadyShared, member); // the owner's root is not bound by RAM policies
    const first = outcomes(await w.deliverEvents());
    if (outcomeFor(first, alreadyShared).outcome !== 'shared')
      throw new Error(`setup failed: ${JSON.stringify(first)}`);
  });
  afterAll(() => w.stop());

  it('(a) refuses the developer setting share-with with TagResources: Forbidden.RAM, no tag, no event, no share', async () => {
    await denied(tagCall(developer, snap, { 'share-with': member }));
    expect(await resourceTags(w, snap)).not.toHaveProperty('share-with');
    await w.emu.flushEvents();
    expect(eventsFor(w, snap)).toEqual([]);
    expect(outcomes(await w.deliverEvents())).toEqual([]);
    expect(await use(w, member, snap)).toMatchObject({ ok: false });
  });

  it('(b) lets the developer set any other tag', async () => {
    await tagCall(developer, snap, { team: 'x' });
    expect(await resourceTags(w, snap)).toEqual({ team: 'x' });
  });

  it('(c) refuses the continuation keys share-with.2 … share-with.10 too, also next to an allowed tag', async () => {
    for (const key of SHARE_KEYS.slice(1)) await denied(tagCall(developer, snap, { team: 'y', [key]: member }));
    await denied(
      developer.ecs.addTags(
        new $Ecs.AddTagsRequest({
          regionId: region,
          resourceType: 'snapshot',
          resourceId: snap,
          tag: [{ key: 'share-with.2', value: member }],
        }),
      ),
    );
    expect(await resourceTags(w, snap)).toEqual({ team: 'x' });
  });

  it('(d) refuses the developer removing share-with (UntagResources, RemoveTags): the share stays', async () => {
    await denied(
      developer.ecs.untagResources(
        new $Ecs.UntagResourcesRequest({
          regionId: region,
          resourceType: 'snapshot',
          resourceId: [alreadyShared],
          tagKey: ['share-with'],
        }),
      ),
    );
    await denied(
      developer.ecs.untagResources(
        new $Ecs.UntagResourcesRequest({
          regionId: region,
          resourceType: 'snapshot',
          resourceId: [alreadyShared],
          all: true,
        }),
      ),
    );
    await denied(
      developer.ecs.removeTags(
        new $Ecs.RemoveTagsRequest({
          regionId: region,
          resourceType: 'snapshot',
          resourceId: alreadyShared,
          tag: [{ key: 'share-with' }],
        }),
      ),
    );
    expect(await resourceTags(w, alreadyShared)).toHaveProperty('share-with', member);
    expect(await use(w, member, alreadyShared)).toMatchObject({ ok: true });
  });

  it('does not over-block: the developer may still change other tags of a resource that carries share-with', async () => {
    await tagCall(developer, alreadyShared, { team: 'z' });
    await developer.ecs.untagResources(
      new $Ecs.UntagResourcesRequest({
        regionId: region,
        resourceType: 'snapshot',
        resourceId: [alreadyShared],
        tagKey: ['team'],
      }),
    );
    expect(await resourceTags(w, alreadyShared)).not.toHaveProperty('team');
  });

  it('(e) the publisher, denied as itself, sets share-with through the ecs-share-publisher role, and the product shares', async () => {
    await denied(tagCall(publisherUser, published, { 'share-with': member }));
    const creds = (
      await publisherUser.sts.assumeRole(
        new $Sts.AssumeRoleRequest({ roleArn: publisherArn, roleSessionName: 'publish' }),
      )
    ).body!.credentials!;
    const publisher = sdkFor({
      accessKeyId: creds.accessKeyId!,
      accessKeySecret: creds.accessKeySecret!,
      securityToken: creds.securityToken!,
    });
    await tagCall(publisher, published, { 'share-with': member, 'share-with.2': DEMO.resourceDirectoryId });
    expect(await resourceTags(w, published)).toMatchObject({
      'share-with': member,
      'share-with.2': DEMO.resourceDirectoryId,
    });
    expect(outcomeFor(outcomes(await w.deliverEvents()), published).outcome).toBe('shared');
    expect(await use(w, member, published)).toMatchObject({ ok: true });
  });

  it('(e) the developer cannot assume the publisher role', async () => {
    const err = await errorOf(
      developer.sts.assumeRole(new $Sts.AssumeRoleRequest({ roleArn: publisherArn, roleSessionName: 'sneak' })),
    );
    expect([err.code, err.statusCode]).toEqual(['NoPermission', 403]);
  });

  it('(f) refuses the developer creating or copying a snapshot that carries share-with, and creates nothing', async () => {
    const before = w.emu.getState().snapshots!.length;
    const shareTag = [{ key: 'share-with', value: member }];
    await denied(
      developer.ecs.createSnapshot(new $Ecs.CreateSnapshotRequest({ diskId: 'd-demo0cmk0000000001', tag: shareTag })),
    );
    await denied(
      developer.ecs.copySnapshot(
        new $Ecs.CopySnapshotRequest({
          regionId: region,
          snapshotId: snap,
          destinationRegionId: region,
          tag: shareTag,
        }),
      ),
    );
    await denied(
      developer.ecs.createImage(new $Ecs.CreateImageRequest({ regionId: region, snapshotId: snap, tag: shareTag })),
    );
    expect(w.emu.getState().snapshots!.length).toBe(before);
    const plain = await developer.ecs.createSnapshot(
      new $Ecs.CreateSnapshotRequest({ diskId: 'd-demo0cmk0000000001', tag: [{ key: 'team', value: 'x' }] }),
    );
    expect(plain.body!.snapshotId).toMatch(/^s-/);
  });
});
