// Organisation mode end to end: one central deployment (the shipped function role plus the organisation add-on)
// shares a member account's snapshot through the member role (built from the shipped files: exactly the function
// policy, trust admitting only the central function role), from the member's event routed to the central bus. The
// recipient's use is judged by the emulator's oracle; nothing is written in the central account; an account
// outside SHARE_ACCOUNTS is refused with no call made in it; the member role is least privilege.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO, type EmulatorState } from '../../scripts/emulator';
import { shippedPolicy, startWorld, type World } from '../helpers/world';
import { FUNCTION_ROLE } from '../../scripts/function-role';
import { E2E, e2eState } from '../helpers/states';
import { logLines, outcomeFor, outcomes, phase, use, type Outcome } from '../helpers/e2e';
import type { SdkClients } from '../helpers/sdk';

const root = path.resolve(__dirname, '../..');
const read = (f: string) => fs.readFileSync(path.join(root, f), 'utf8');
const region = DEMO.region;
const CENTRAL = DEMO.owner.uid;
/** The member account (an RD member in the root folder) and its resources. */
const MEMBER = E2E.rootMember;
const MEMBER_KEY = 'key-member0cmk000000001';
const MEMBER_SNAP = 's-membercmk000000001';
const MEMBER_SNAP_2 = 's-membercmk000000002';
const MEMBER_DISK = 'd-membercmk000000001';
/** An account SHARE_ACCOUNTS does not list (outside the directory), with a snapshot of its own. */
const OUTSIDER: string = DEMO.externalRecipient.uid;
const OUTSIDER_SNAP = 's-outsider0000000001';
/** An RD member: SHARE_ALLOW_EXTERNAL is off, so the central account's directory must say it is one. */
const RECIPIENT = DEMO.rdRecipient.uid;
const MEMBER_ROLE = 'ecs-share-member';

function orgState(): EmulatorState {
  const s = e2eState();
  const created = '2026-11-01T00:00:00Z';
  s.keys!.push({
    keyId: MEMBER_KEY,
    accountId: MEMBER,
    region,
    state: 'Enabled',
    description: 'member CMK',
    creationDate: created,
    creator: MEMBER,
  });
  const snap = (snapshotId: string, accountId: string, kmsKeyId?: string) => ({
    snapshotId,
    accountId,
    region,
    encrypted: Boolean(kmsKeyId),
    ...(kmsKeyId ? { kmsKeyId } : {}),
    status: 'accomplished' as const,
    size: 40,
    name: snapshotId,
    creationTime: created,
    tags: {},
  });
  s.snapshots!.push(
    snap(MEMBER_SNAP, MEMBER, MEMBER_KEY),
    snap(MEMBER_SNAP_2, MEMBER, MEMBER_KEY),
    snap(OUTSIDER_SNAP, OUTSIDER),
  );
  s.disks!.push({
    diskId: MEMBER_DISK,
    accountId: MEMBER,
    region,
    zoneId: 'cn-hangzhou-h',
    size: 40,
    category: 'cloud_essd',
    encrypted: true,
    kmsKeyId: MEMBER_KEY,
    creationTime: created,
  });
  // Both members route their ECS events to the central account's bus (shared/policies/member-account.ros.yaml).
  s.eventRoutes = [MEMBER, OUTSIDER].map((fromAccountId) => ({
    fromAccountId,
    toAccountId: CENTRAL,
    bus: 'ecs-share-members',
  }));
  return s;
}

/** The member role as the ROS template makes it, through the member's own RAM: the shipped trust and policy files. */
async function createMemberRole(
  ram: SdkClients['ram'],
  policy = shippedPolicy(),
  central: string = CENTRAL,
): Promise<void> {
  const trust = read('shared/policies/member-role-trust.json').replace('<CENTRAL_UID>', central);
  await ram.createRole(new $Ram.CreateRoleRequest({ roleName: MEMBER_ROLE, assumeRolePolicyDocument: trust }));
  await ram.createPolicy(new $Ram.CreatePolicyRequest({ policyName: `${MEMBER_ROLE}-policy`, policyDocument: policy }));
  await ram.attachPolicyToRole(
    new $Ram.AttachPolicyToRoleRequest({
      roleName: MEMBER_ROLE,
      policyName: `${MEMBER_ROLE}-policy`,
      policyType: 'Custom',
    }),
  );
}

async function tagAs(w: World, uid: string, id: string, value: string): Promise<void> {
  await w.client(uid).ecs.tagResources(
    new $Ecs.TagResourcesRequest({
      regionId: region,
      resourceType: 'snapshot',
      resourceId: [id],
      tag: [{ key: 'share-with', value }],
    }),
  );
}
async function untagAs(w: World, uid: string, id: string): Promise<void> {
  await w.client(uid).ecs.untagResources(
    new $Ecs.UntagResourcesRequest({
      regionId: region,
      resourceType: 'snapshot',
      resourceId: [id],
      tagKey: ['share-with'],
    }),
  );
}

/** The product's successful writes (role sessions), by the account they were made in. */
function writesIn(w: World): Record<string, string[]> {
  const out: Record<string, string[]> = {};
  for (const c of w.emu.writes().filter((c) => c.caller?.type === 'role'))
    (out[c.caller!.accountId!] ??= []).push(c.action);
  return out;
}
const isStatus = (a: string) => a === 'TagResources' || a === 'UntagResources';

const ORG_ENV = { SHARE_ACCOUNTS: MEMBER, SHARE_ALLOW_EXTERNAL: '' };
const ORG_ADD_ON = read('shared/policies/function-role-org.json');

describe('organisation mode: a member account tags, the central deployment shares', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ state: orgState(), env: ORG_ENV, extraPolicies: [ORG_ADD_ON] });
    await createMemberRole(w.client(MEMBER).ram);
  });
  afterAll(async () => {
    process.env.SHARE_ACCOUNTS = '';
    await w.stop();
  });

  it("shares the member's snapshot from its routed event, acting only in the member account", async () => {
    await tagAs(w, MEMBER, MEMBER_SNAP, RECIPIENT);
    phase(w);
    const delivered = await w.deliverEvents();
    const result = outcomeFor(outcomes(delivered), MEMBER_SNAP) as Outcome & { accountId?: string };
    expect([result.outcome, result.accountId, result.targets]).toEqual(['shared', MEMBER, [`account ${RECIPIENT}`]]);
    expect(await use(w, RECIPIENT, MEMBER_SNAP)).toMatchObject({ ok: true });
    const writes = writesIn(w);
    expect(Object.keys(writes)).toEqual([MEMBER]);
    expect(writes[MEMBER]).toEqual(expect.arrayContaining(['CreateRole', 'CreatePolicy', 'CreateResourceShare']));
    // The member role was assumed by the central function role, once for the batch.
    const assumed = w.emu.calls({ action: 'AssumeRole' }).filter((c) => c.status === 200);
    expect(assumed.map((c) => [c.caller?.accountId, c.caller?.name?.split(':')[0], c.params.RoleArn])).toEqual([
      [CENTRAL, FUNCTION_ROLE, `acs:ram::${MEMBER}:role/${MEMBER_ROLE}`],
    ]);
  });

  it('makes zero writes when the same event is delivered again', async () => {
    const event = w.emu
      .events()
      .find(
        (e) => JSON.stringify(e.data.referencedResources).includes(MEMBER_SNAP) && e.data.eventName === 'TagResources',
      )!;
    expect(event.aliyunoriginalaccountid).toBe(MEMBER);
    phase(w);
    const again = await w.invoke('on-tag', event);
    expect(outcomeFor(outcomes([again]), MEMBER_SNAP).outcome).toBe('unchanged');
    expect(writesIn(w)).toEqual({});
  });

  it('refuses an event whose account fields name two accounts, with no call made', async () => {
    const event = w.emu.events().find((e) => JSON.stringify(e.data.referencedResources).includes(MEMBER_SNAP))!;
    const forged = {
      ...event,
      id: 'forged-1',
      data: { ...event.data, eventId: 'FORGED-1', recipientAccountId: OUTSIDER },
    };
    phase(w);
    const result = outcomeFor(outcomes([await w.invoke('on-tag', forged)]), MEMBER_SNAP);
    expect([result.outcome, result.error?.code]).toEqual(['refused', 'AccountConflict']);
    expect(w.emu.calls().filter((c) => c.action !== 'GetCallerIdentity')).toEqual([]);
  });

  it('takes the share back when the member removes the tag', async () => {
    await untagAs(w, MEMBER, MEMBER_SNAP);
    const result = outcomeFor(outcomes(await w.deliverEvents()), MEMBER_SNAP);
    expect(result.outcome).toBe('revoked');
    expect(await use(w, RECIPIENT, MEMBER_SNAP)).toMatchObject({ ok: false });
  });

  it('applies the tag contract per owner account: a member naming itself is refused Self', async () => {
    await tagAs(w, MEMBER, MEMBER_SNAP_2, `${MEMBER},${RECIPIENT}`);
    phase(w);
    const result = outcomeFor(outcomes(await w.deliverEvents()), MEMBER_SNAP_2);
    expect([result.outcome, result.error?.code]).toEqual(['refused', 'Self']);
    expect((writesIn(w)[MEMBER] ?? []).filter((a) => !isStatus(a))).toEqual([]);
    await untagAs(w, MEMBER, MEMBER_SNAP_2);
    await w.deliverEvents();
  });

  it("shares a snapshot the member creates with the tag, from the member's routed snapshot-ready event", async () => {
    const created = await w.client(MEMBER).ecs.createSnapshot(
      new $Ecs.CreateSnapshotRequest({
        diskId: MEMBER_DISK,
        snapshotName: 'nightly',
        tag: [new $Ecs.CreateSnapshotRequestTag({ key: 'share-with', value: RECIPIENT })],
      }),
    );
    const id = created.body!.snapshotId!;
    await w.deliverEvents().catch(() => undefined); // the create event: not ready yet, retried by EventBridge
    await new Promise((r) => setTimeout(r, w.emu.state.options.readyDelayMs + 100));
    await w.emu.flushEvents();
    const ready = w.emu
      .events()
      .filter((e) => e.type === ('ecs:Snapshot:CreateSnapshotCompleted' as string) && e.subject.endsWith(id));
    expect(ready.map((e) => [e.aliyunaccountid, e.aliyunoriginalaccountid])).toEqual([[CENTRAL, MEMBER]]);
    const result = outcomeFor(outcomes([await w.invoke('on-tag', ready[0])]), id) as Outcome & { accountId?: string };
    expect([result.outcome, result.accountId]).toEqual(['shared', MEMBER]);
    await new Promise((r) => setTimeout(r, 150)); // the emulator's read lag
    expect(await use(w, RECIPIENT, id)).toMatchObject({ ok: true });
  });

  it("shares a member's resource by hand (share with accountId) in the member, and refuses an account outside", async () => {
    await tagAs(w, MEMBER, MEMBER_SNAP_2, RECIPIENT);
    await w.emu.flushEvents();
    phase(w);
    const plan = await w.invoke('share', { resourceId: MEMBER_SNAP_2, region, accountId: MEMBER, dryRun: true });
    expect(plan.results[0]).toMatchObject({ accountId: MEMBER, resourceId: MEMBER_SNAP_2 });
    expect(writesIn(w)).toEqual({});
    const done = await w.invoke('share', { resourceId: MEMBER_SNAP_2, region, accountId: MEMBER });
    expect(done.results[0]).toMatchObject({ outcome: 'shared', accountId: MEMBER });
    expect(Object.keys(writesIn(w))).toEqual([MEMBER]);
    expect(await use(w, RECIPIENT, MEMBER_SNAP_2)).toMatchObject({ ok: true });
    phase(w);
    const out = await w.invoke('share', { resourceId: OUTSIDER_SNAP, region, accountId: OUTSIDER });
    expect(out.results[0]).toMatchObject({
      outcome: 'refused',
      accountId: OUTSIDER,
      error: { code: 'AccountNotInScope' },
    });
    expect(w.emu.calls({ action: 'AssumeRole' }).filter((c) => c.params.RoleArn?.includes(OUTSIDER))).toEqual([]);
    expect(writesIn(w)).toEqual({});
    await untagAs(w, MEMBER, MEMBER_SNAP_2);
    await w.deliverEvents();
  });

  it('refuses an event from an account outside SHARE_ACCOUNTS, with no call in that account and no write', async () => {
    await tagAs(w, OUTSIDER, OUTSIDER_SNAP, RECIPIENT);
    phase(w);
    let delivered: any[] = [];
    const lines = await logLines(async () => {
      delivered = await w.deliverEvents();
    });
    const result = outcomeFor(outcomes(delivered), OUTSIDER_SNAP) as Outcome & { accountId?: string };
    // The problem record names the account the resource is in, not the central one.
    expect(lines.filter((l) => l.msg === 'share problem')).toEqual([
      expect.objectContaining({ code: 'AccountNotInScope', ownerAccountId: OUTSIDER, resourceId: OUTSIDER_SNAP }),
    ]);
    expect(result).toMatchObject({ outcome: 'refused', accountId: OUTSIDER, error: { code: 'AccountNotInScope' } });
    expect(result.reason).toContain(`account ${OUTSIDER} is not listed in SHARE_ACCOUNTS`);
    expect(w.emu.calls({ action: 'AssumeRole' }).filter((c) => c.params.RoleArn?.includes(OUTSIDER))).toEqual([]);
    expect(writesIn(w)).toEqual({});
    expect(await use(w, RECIPIENT, OUTSIDER_SNAP)).toMatchObject({ ok: false });
  });
});

describe("organisation mode: SHARE_ACCOUNTS=all and folders, asked of the central account's directory", () => {
  /** Tag as the member and as the outsider, then hand both routed events to on-tag in one batch. */
  async function batch(w: World): Promise<Array<Outcome & { accountId?: string }>> {
    await tagAs(w, MEMBER, MEMBER_SNAP, RECIPIENT);
    await tagAs(w, OUTSIDER, OUTSIDER_SNAP, RECIPIENT);
    await w.emu.flushEvents();
    const events = w.emu.events().filter((e) => e.data.eventName === 'TagResources');
    phase(w);
    return outcomes([await w.invoke('on-tag', events)]);
  }

  it('all: acts in a member of the directory and refuses an account outside it, in one batch', async () => {
    const w = await startWorld({
      state: orgState(),
      env: { ...ORG_ENV, SHARE_ACCOUNTS: 'all' },
      extraPolicies: [ORG_ADD_ON],
    });
    try {
      await createMemberRole(w.client(MEMBER).ram);
      const results = await batch(w);
      expect(outcomeFor(results, MEMBER_SNAP)).toMatchObject({ outcome: 'shared', accountId: MEMBER });
      expect(outcomeFor(results, OUTSIDER_SNAP)).toMatchObject({
        outcome: 'refused',
        accountId: OUTSIDER,
        error: { code: 'AccountNotInScope' },
      });
      expect(outcomeFor(results, OUTSIDER_SNAP).reason).toContain('is not a member of the resource directory');
      expect(Object.keys(writesIn(w))).toEqual([MEMBER]);
      expect(await use(w, RECIPIENT, MEMBER_SNAP)).toMatchObject({ ok: true });
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });

  it('a folder: refuses a directory member outside it, with no role assumed', async () => {
    const w = await startWorld({
      state: orgState(),
      env: { ...ORG_ENV, SHARE_ACCOUNTS: DEMO.folderId },
      extraPolicies: [ORG_ADD_ON],
    });
    try {
      await createMemberRole(w.client(MEMBER).ram);
      const results = await batch(w);
      // The member sits in the root folder, beside fd-demofold01.
      expect(outcomeFor(results, MEMBER_SNAP)).toMatchObject({
        outcome: 'refused',
        error: { code: 'AccountNotInScope' },
      });
      expect(outcomeFor(results, MEMBER_SNAP).reason).toContain(
        `in none of the folders SHARE_ACCOUNTS lists (${DEMO.folderId})`,
      );
      expect(w.emu.calls({ action: 'AssumeRole' })).toEqual([]);
      expect(writesIn(w)).toEqual({});
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });
});

describe('organisation mode: the directory or STS failing transiently', () => {
  it('fails the invocation so EventBridge delivers the event again, with nothing written', async () => {
    const w = await startWorld({
      state: orgState(),
      env: { ...ORG_ENV, SHARE_ACCOUNTS: 'all' },
      extraPolicies: [ORG_ADD_ON],
    });
    try {
      await createMemberRole(w.client(MEMBER).ram);
      await tagAs(w, MEMBER, MEMBER_SNAP, RECIPIENT);
      await w.emu.flushEvents();
      const event = w.emu.events().at(-1)!;
      w.emu.addFault({ action: 'GetAccount', kind: 'unavailable' });
      phase(w);
      await expect(w.invoke('on-tag', event)).rejects.toMatchObject({ code: 'TransientFailure' });
      expect(writesIn(w)).toEqual({});
      w.emu.clearFaults();
      // The redelivery goes through.
      expect(outcomeFor(outcomes([await w.invoke('on-tag', event)]), MEMBER_SNAP).outcome).toBe('shared');
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });
});

describe('single-account mode, unchanged: an event from another account', () => {
  it("is looked up in the function's own account only: no role assumed, nothing written anywhere", async () => {
    const w = await startWorld({ state: orgState(), extraPolicies: [ORG_ADD_ON] });
    try {
      await createMemberRole(w.client(MEMBER).ram);
      await tagAs(w, MEMBER, MEMBER_SNAP, RECIPIENT);
      phase(w);
      const result = outcomeFor(outcomes(await w.deliverEvents()), MEMBER_SNAP);
      expect([result.outcome, result.error?.code]).toEqual(['refused', 'ResourceNotFound']);
      expect(w.emu.calls({ action: 'AssumeRole' })).toEqual([]);
      expect(writesIn(w)).toEqual({});
    } finally {
      await w.stop();
    }
  });
});

describe('organisation mode: a malformed SHARE_ACCOUNTS', () => {
  it('is a ConfigError in the result and the log, with no call made', async () => {
    const w = await startWorld({
      state: orgState(),
      env: { ...ORG_ENV, SHARE_ACCOUNTS: `${MEMBER},fd-short` },
      extraPolicies: [ORG_ADD_ON],
    });
    try {
      await createMemberRole(w.client(MEMBER).ram);
      await tagAs(w, MEMBER, MEMBER_SNAP, RECIPIENT);
      phase(w);
      let delivered: any[] = [];
      const lines = await logLines(async () => {
        delivered = await w.deliverEvents();
      });
      expect(delivered).toEqual([
        { ok: false, error: { code: 'ConfigError', message: expect.stringContaining('SHARE_ACCOUNTS: "fd-short"') } },
      ]);
      expect(lines).toEqual([
        expect.objectContaining({ level: 'error', error: expect.objectContaining({ code: 'ConfigError' }) }),
      ]);
      expect(w.emu.calls()).toEqual([]);
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });
});

describe('organisation mode: the member role is least privilege', () => {
  it('without its Resource Sharing statement fails the share with the permission error and shares nothing', async () => {
    const w = await startWorld({ state: orgState(), env: ORG_ENV, extraPolicies: [ORG_ADD_ON] });
    try {
      const doc = JSON.parse(shippedPolicy());
      doc.Statement = doc.Statement.filter(
        (s: { Action: string | string[] }) => ![s.Action].flat().some((a) => a.startsWith('resourcesharing:')),
      );
      await createMemberRole(w.client(MEMBER).ram, JSON.stringify(doc));
      await tagAs(w, MEMBER, MEMBER_SNAP_2, RECIPIENT);
      const result = outcomeFor(outcomes(await w.deliverEvents()), MEMBER_SNAP_2);
      expect([result.outcome, result.error?.code]).toEqual(['failed', 'NoPermission']);
      expect(await use(w, RECIPIENT, MEMBER_SNAP_2)).toMatchObject({ ok: false });
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });

  it('cannot be assumed by a central role without the organisation add-on: failed, nothing written anywhere', async () => {
    const w = await startWorld({ state: orgState(), env: ORG_ENV });
    try {
      await createMemberRole(w.client(MEMBER).ram);
      await tagAs(w, MEMBER, MEMBER_SNAP_2, RECIPIENT);
      phase(w);
      const result = outcomeFor(outcomes(await w.deliverEvents()), MEMBER_SNAP_2);
      expect([result.outcome, result.error?.code]).toEqual(['failed', 'MemberRoleUnavailable']);
      expect(result.error?.message).toContain('NoPermission');
      expect(writesIn(w)).toEqual({});
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });

  it('whose trust names another central account cannot be assumed: failed, nothing written anywhere', async () => {
    const w = await startWorld({ state: orgState(), env: ORG_ENV, extraPolicies: [ORG_ADD_ON] });
    try {
      await createMemberRole(w.client(MEMBER).ram, shippedPolicy(), '1000000000000999');
      await tagAs(w, MEMBER, MEMBER_SNAP_2, RECIPIENT);
      phase(w);
      const result = outcomeFor(outcomes(await w.deliverEvents()), MEMBER_SNAP_2);
      expect([result.outcome, result.error?.code]).toEqual(['failed', 'MemberRoleUnavailable']);
      expect(writesIn(w)).toEqual({});
    } finally {
      process.env.SHARE_ACCOUNTS = '';
      await w.stop();
    }
  });
});
