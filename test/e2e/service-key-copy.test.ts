// Service-key copies (SHARE_SERVICE_KEY_COPY): a service-key snapshot or image tagged share-with is copied once with
// a customer master key, born tagged with its origin and the share tags, and shared through the normal path once
// ready; duplicate deliveries and a crash right after the copy make no second copy; untagging the original takes the
// copy's shares back (and deletes it with SHARE_SERVICE_KEY_COPY_DELETE); AliyunECSDiskEncryptDefaultRole is made
// first, or the share is refused with the fix. All through the real SDKs, under the shipped policy plus its add-on.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO, type CloudEvent } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import { resourceTypeOf } from '../../shared/domain/ids';
import { phase, productWrites, resourceTags, tag, untag, use } from '../helpers/e2e';
import { runUntilCrash } from '../helpers/crash';
import { startInvocation } from '../../shared/runtime';
import { shareResource } from '../../shared/usecases/share-resource';

const copyPolicy = fs.readFileSync(
  path.resolve(__dirname, '../../shared/policies/function-role-service-key-copy.json'),
  'utf8',
);
const member = DEMO.rdRecipient.uid;
const ROLE = 'AliyunECSDiskEncryptDefaultRole';
const env = { SHARE_SERVICE_KEY_COPY: DEMO.cmkId, SHARE_LEGACY_SERVICE_KEY: '' };

/** ecs-share's copies of an original, as the owner lists them (ListTagResources by the origin tag). */
async function copiesOf(w: World, id: string): Promise<string[]> {
  const r = await w.owner.ecs.listTagResources(
    new $Ecs.ListTagResourcesRequest({
      regionId: 'cn-hangzhou',
      resourceType: resourceTypeOf(id),
      tag: [new $Ecs.ListTagResourcesRequestTag({ key: 'ecs-share:copy-of', value: id })],
    }),
  );
  return [...new Set((r.body!.tagResources?.tagResource ?? []).map((t) => t.resourceId!))].sort();
}

async function tagEvent(w: World, id: string, value: string): Promise<CloudEvent> {
  const before = w.emu.events().length;
  await tag(w, id, value);
  await w.emu.flushEvents();
  return w.emu
    .events()
    .slice(before)
    .find((e) => JSON.stringify(e).includes(id))!;
}

/** EventBridge: every event so far delivered (a failed invocation is delivered again on the next round). */
async function deliverAll(w: World, seen: Set<string>): Promise<void> {
  await w.emu.flushEvents();
  for (const e of w.emu.events().filter((x) => !seen.has(x.id))) {
    try {
      await w.invoke('on-tag', e);
      seen.add(e.id);
    } catch {
      // TransientFailure (a copy not ready yet): redelivered next round
    }
  }
}

/** Deliver until `done` holds (the copy is ready and shared), as EventBridge's retries would. */
async function until(w: World, seen: Set<string>, done: () => Promise<boolean>): Promise<void> {
  for (let i = 0; i < 20; i++) {
    await deliverAll(w, seen);
    if (await done()) return;
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new Error('did not converge');
}

const shareCmd = async (w: World, resourceId: string) =>
  (await w.invoke('share', { resourceId, region: 'cn-hangzhou' })).results?.[0];

async function roleState(w: World): Promise<string[] | undefined> {
  try {
    await w.owner.ram.getRole(new $Ram.GetRoleRequest({ roleName: ROLE }));
  } catch {
    return undefined;
  }
  const p = await w.owner.ram.listPoliciesForRole(new $Ram.ListPoliciesForRoleRequest({ roleName: ROLE }));
  return (p.body!.policies?.policy ?? []).map((x) => `${x.policyType}/${x.policyName}`);
}

for (const [kind, original] of [
  ['snapshot', DEMO.snapshots.serviceKey],
  ['image', E2E.serviceKeyImage],
] as const) {
  describe(`a service-key ${kind} tagged share-with, with SHARE_SERVICE_KEY_COPY`, () => {
    let w: World;
    const seen = new Set<string>();
    let copy = '';

    beforeAll(async () => {
      w = await startWorld({
        state: e2eState(),
        env: { ...env, SHARE_SERVICE_KEY_COPY_DELETE: kind === 'image' ? 'true' : '' },
        extraPolicies: [copyPolicy],
      });
    });
    afterAll(() => w.stop());

    it('is copied exactly once under duplicate, concurrent deliveries, after the function made the disk-encryption role', async () => {
      expect(await roleState(w)).toBeUndefined();
      const event = await tagEvent(w, original, member);
      seen.add(event.id);
      await Promise.all([0, 1, 2].map(() => w.invoke('on-tag', event).catch(() => undefined)));
      await until(w, seen, async () => (await use(w, member, (await copiesOf(w, original))[0] ?? original)).ok);
      const copies = await copiesOf(w, original);
      expect(copies).toHaveLength(1);
      copy = copies[0];
      expect(await roleState(w)).toEqual(['System/AliyunECSDiskEncryptRolePolicy']);
      const tags = await resourceTags(w, copy);
      expect(tags).toMatchObject({ 'share-with': member, 'ecs-share:copy-of': original });
      expect((await resourceTags(w, original))['ecs-share:copy']).toBe(copy);
    });

    it('is usable by the recipient through the copy only (the original stays unshared)', async () => {
      expect(await use(w, member, copy)).toMatchObject({ ok: true });
      expect(await use(w, member, original)).toMatchObject({ ok: false });
      const r = await shareCmd(w, original);
      expect(r).toMatchObject({ resourceId: original, copy, outcome: 'unchanged' });
      expect(r.reason).toContain(`through its copy ${copy}`);
    });

    it('replays (its events, the share command and the timer) with zero writes', async () => {
      phase(w);
      for (const e of w.emu.events()) await w.invoke('on-tag', e);
      await shareCmd(w, original);
      await shareCmd(w, copy);
      await w.invoke('reconcile', { action: 'reconcile' });
      expect(productWrites(w)).toEqual([]);
    });

    it(`takes the copy's share back when the original is untagged${kind === 'image' ? ', and deletes the copy (SHARE_SERVICE_KEY_COPY_DELETE)' : ''}`, async () => {
      await untag(w, original);
      await deliverAll(w, seen);
      expect(await use(w, member, copy)).toMatchObject({ ok: false });
      if (kind === 'image') {
        expect(await copiesOf(w, original)).toEqual([]);
        expect((await resourceTags(w, original))['ecs-share:copy']).toBeUndefined();
      } else {
        expect(await copiesOf(w, original)).toEqual([copy]);
        expect((await resourceTags(w, copy))['share-with']).toBeUndefined();
      }
    });
  });
}

describe('a crash right after the copy call, before the original records it', () => {
  let w: World;
  afterAll(() => w.stop());

  it('leaves a copy that the next delivery finds: still exactly one, then shared', async () => {
    w = await startWorld({ state: e2eState(), env, extraPolicies: [copyPolicy] });
    const original = DEMO.snapshots.serviceKey;
    const event = await tagEvent(w, original, member);
    const run = await runUntilCrash(w, 'on-tag', event, { killWhen: (wr) => wr.action === 'CopySnapshot' });
    expect(run.killed).toBe(true);
    const [copy, ...more] = await copiesOf(w, original);
    expect(more).toEqual([]);
    expect((await resourceTags(w, original))['ecs-share:copy']).toMatch(/^\+/); // the claim, never turned into the record
    const seen = new Set<string>();
    await w.invoke('on-tag', event).catch(() => undefined);
    await until(w, seen, async () => (await use(w, member, copy)).ok);
    expect(await copiesOf(w, original)).toEqual([copy]);
    expect((await resourceTags(w, original))['ecs-share:copy']).toBe(copy);
  });

  it('is taken back by the timer alone when the untag event is lost (the pass reaches the original through its copy)', async () => {
    const original = DEMO.snapshots.serviceKey;
    const [copy] = await copiesOf(w, original);
    await untag(w, original); // its event is never delivered
    await w.invoke('reconcile', { action: 'reconcile' });
    expect(await use(w, member, copy)).toMatchObject({ ok: false });
    expect((await resourceTags(w, copy))['share-with']).toBeUndefined();
  });
});

describe('AliyunECSDiskEncryptDefaultRole missing and the function may not create it', () => {
  let w: World;
  beforeAll(async () => {
    const doc = JSON.parse(copyPolicy);
    doc.Statement = doc.Statement.filter(
      (s: { Action: string | string[] }) => ![s.Action].flat().some((a) => a.startsWith('ram:')),
    );
    w = await startWorld({ state: e2eState(), env, extraPolicies: [JSON.stringify(doc)] });
  });
  afterAll(() => w.stop());

  it('refuses with the exact fix and makes no copy; once the role exists, copies', async () => {
    const original = DEMO.snapshots.serviceKey;
    await tag(w, original, member);
    const r = await shareCmd(w, original);
    expect(r).toMatchObject({ outcome: 'refused', error: { code: 'DiskEncryptRoleMissing' } });
    expect(r.reason).toContain(`aliyun ram CreateRole --RoleName ${ROLE}`);
    expect(r.reason).toContain('AttachPolicyToRole --PolicyType System --PolicyName AliyunECSDiskEncryptRolePolicy');
    expect(await copiesOf(w, original)).toEqual([]);
    expect((await resourceTags(w, original))['ecs-share:copy']).toBeUndefined();

    await w.owner.ram.createRole(
      new $Ram.CreateRoleRequest({
        roleName: ROLE,
        assumeRolePolicyDocument: JSON.stringify({
          Version: '1',
          Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['ecs.aliyuncs.com'] } }],
        }),
      }),
    );
    await w.owner.ram.attachPolicyToRole(
      new $Ram.AttachPolicyToRoleRequest({
        roleName: ROLE,
        policyName: 'AliyunECSDiskEncryptRolePolicy',
        policyType: 'System',
      }),
    );
    await new Promise((res) => setTimeout(res, 200)); // RAM's read lag
    expect(await shareCmd(w, original)).toMatchObject({ outcome: 'pending', error: { code: 'CopyInProgress' } });
    expect(await copiesOf(w, original)).toHaveLength(1);
  });
});

describe('a reconcile page listed before the original was retagged', () => {
  let w: World;
  const seen = new Set<string>();
  const original = DEMO.snapshots.serviceKey;
  const outsider = DEMO.externalRecipient.uid;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState(), env, extraPolicies: [copyPolicy] });
  });
  afterAll(() => w.stop());

  it('never syncs the older tags onto the copy: the copy keeps the target its original asks for now', async () => {
    await tagEvent(w, original, member);
    await until(w, seen, async () => (await use(w, member, (await copiesOf(w, original))[0] ?? original)).ok);
    const [copy] = await copiesOf(w, original);
    // The engine as a reconcile runs it, with the original as its page listed it before the owner's retag.
    const ctx = await startInvocation('reconcile', w.context('reconcile')).engine();
    const [listed] = await ctx.ports.ecs.getSnapshots('cn-hangzhou', [original]);
    await tag(w, original, `${member},${outsider}`);
    await deliverAll(w, seen);
    expect((await resourceTags(w, copy))['share-with']).toBe(`${member},${outsider}`);
    phase(w);

    await shareResource(
      ctx,
      { type: 'snapshot', id: original, region: 'cn-hangzhou' },
      {
        known: { exists: true, tags: listed.tags, snapshots: [listed], status: listed.status, toolShare: undefined },
        pass: true,
      },
    );

    expect((await resourceTags(w, copy))['share-with']).toBe(`${member},${outsider}`);
    expect(productWrites(w).filter((c) => /Untag|Disassociate|DeleteResourceShare/.test(c.action))).toEqual([]);
  });
});
