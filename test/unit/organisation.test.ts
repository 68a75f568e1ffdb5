// Organisation mode's pure parts: SHARE_ACCOUNTS / SHARE_MEMBER_ROLE parsing, the scope decision, the owner account
// of an event (a member's event routed to the central bus), and the member session's renewal before expiry.
import { describe, expect, it } from 'vitest';
import { readConfig } from '../../shared/config';
import { parseTrigger } from '../../shared/events';
import { decideScope, parseOrgConfig, type OrgConfig } from '../../shared/org/scope';
import { MemberCredentials, REFRESH_BEFORE_MS } from '../../shared/org/member';
import type { CloudApi } from '../../shared/cloud/api';

const CENTRAL = '1000000000000001';
const M1 = '1000000000000002';
const M2 = '1000000000000004';
const W = 'ecs-share-reconcile-worker';

describe('SHARE_ACCOUNTS and SHARE_MEMBER_ROLE', () => {
  it('leave single-account mode the default', () => {
    expect(readConfig({}).org).toBeUndefined();
    expect(readConfig({ SHARE_ACCOUNTS: '  ' }).org).toBeUndefined();
  });

  it.each<[string, Record<string, string>, OrgConfig]>([
    ['all', { SHARE_ACCOUNTS: 'all' }, { accounts: 'all', memberRole: 'ecs-share-member', worker: W }],
    ['ALL, any case', { SHARE_ACCOUNTS: 'ALL' }, { accounts: 'all', memberRole: 'ecs-share-member', worker: W }],
    [
      'uids and folders, commas and spaces, duplicates once',
      { SHARE_ACCOUNTS: `${M1}, fd-abcdefgh12 ${M1},${M2}` },
      { accounts: { uids: [M1, M2], folders: ['fd-abcdefgh12'] }, memberRole: 'ecs-share-member', worker: W },
    ],
    [
      'a member role of ones own',
      { SHARE_ACCOUNTS: M1, SHARE_MEMBER_ROLE: 'org.share_role-1' },
      { accounts: { uids: [M1], folders: [] }, memberRole: 'org.share_role-1', worker: W },
    ],
    [
      'a worker function of ones own',
      { SHARE_ACCOUNTS: M1, SHARE_WORKER_FUNCTION: 'org_worker-2' },
      { accounts: { uids: [M1], folders: [] }, memberRole: 'ecs-share-member', worker: 'org_worker-2' },
    ],
  ])('parse %s', (_, env, expected) => {
    expect(parseOrgConfig(env)).toEqual(expected);
  });

  it.each<[string, Record<string, string>, RegExp]>([
    ['a short uid', { SHARE_ACCOUNTS: '100000000000001' }, /"100000000000001" is not a 16-digit account uid/],
    ['a truncated folder id', { SHARE_ACCOUNTS: 'fd-abc' }, /"fd-abc" is not .* fd- folder id/],
    ['a folder path', { SHARE_ACCOUNTS: 'rd-demo01/r-demo01/fd-abcdefgh12' }, /is not a 16-digit/],
    ['a wildcard', { SHARE_ACCOUNTS: '*' }, /"\*" is not/],
    ['all with a list', { SHARE_ACCOUNTS: `all,${M1}` }, /"all" or a list .*not both/],
    [
      'a member role that is no RAM role name',
      { SHARE_ACCOUNTS: 'all', SHARE_MEMBER_ROLE: 'bad role!' },
      /SHARE_MEMBER_ROLE "bad role!" is not a RAM role name/,
    ],
    [
      'a worker that is no FC function name',
      { SHARE_ACCOUNTS: 'all', SHARE_WORKER_FUNCTION: '1worker' },
      /SHARE_WORKER_FUNCTION "1worker" is not a Function Compute function name/,
    ],
    [
      'a worker without SHARE_ACCOUNTS',
      { SHARE_WORKER_FUNCTION: 'ecs-share-reconcile-worker' },
      /SHARE_WORKER_FUNCTION is set but SHARE_ACCOUNTS is not/,
    ],
    [
      'a member role without SHARE_ACCOUNTS',
      { SHARE_MEMBER_ROLE: 'ecs-share-member' },
      /SHARE_MEMBER_ROLE is set but SHARE_ACCOUNTS is not/,
    ],
  ])('refuse %s with a clear error', (_, env, message) => {
    expect(() => readConfig(env)).toThrow(message);
  });
});

describe('decideScope', () => {
  const list = (uids: string[], folders: string[] = []): OrgConfig => ({
    accounts: { uids, folders },
    memberRole: 'ecs-share-member',
    worker: W,
  });
  const all: OrgConfig = { accounts: 'all', memberRole: 'ecs-share-member', worker: W };
  const member = (path: string) => ({ kind: 'member' as const, rdId: 'rd-x', folderId: path.split('/').at(-2), path });

  it('keeps the central account in scope without asking', () => {
    expect(decideScope(list([]), CENTRAL, CENTRAL)).toEqual({ kind: 'in' });
  });

  it('admits a listed uid without asking, and refuses an unlisted one without asking when no folder is listed', () => {
    expect(decideScope(list([M1]), M1, CENTRAL)).toEqual({ kind: 'in' });
    expect(decideScope(list([M1]), M2, CENTRAL)).toMatchObject({
      kind: 'out',
      reason: expect.stringContaining(`account ${M2} is not listed in SHARE_ACCOUNTS`),
    });
  });

  it('asks the directory for all and for folders', () => {
    expect(decideScope(all, M1, CENTRAL)).toEqual({ kind: 'ask-directory' });
    expect(decideScope(list([], ['fd-abcdefgh12']), M1, CENTRAL)).toEqual({ kind: 'ask-directory' });
  });

  it('admits a member of the directory for all, and refuses an account outside it or one it cannot place', () => {
    expect(decideScope(all, M1, CENTRAL, member(`rd-x/r-x/${M1}`))).toEqual({ kind: 'in' });
    expect(decideScope(all, M1, CENTRAL, { kind: 'external' })).toMatchObject({
      kind: 'out',
      reason: expect.stringContaining('is not a member of the resource directory'),
    });
    expect(decideScope(all, M1, CENTRAL, { kind: 'unknown', code: 'NoPermission' })).toMatchObject({
      kind: 'out',
      reason: expect.stringContaining('(NoPermission)'),
    });
  });

  it('admits an account in or below a listed folder, and refuses one beside it', () => {
    const cfg = list([], ['fd-teamaaaaa1']);
    expect(decideScope(cfg, M1, CENTRAL, member(`rd-x/r-x/fd-teamaaaaa1/${M1}`))).toEqual({ kind: 'in' });
    expect(decideScope(cfg, M1, CENTRAL, member(`rd-x/r-x/fd-teamaaaaa1/fd-subbbbbb22/${M1}`))).toEqual({ kind: 'in' });
    expect(decideScope(cfg, M1, CENTRAL, member(`rd-x/r-x/fd-otherccc03/${M1}`))).toMatchObject({
      kind: 'out',
      reason: expect.stringContaining('in none of the folders'),
    });
    // A folder id that merely starts the same is another folder.
    expect(decideScope(cfg, M1, CENTRAL, member(`rd-x/r-x/fd-teamaaaaa12/${M1}`))).toMatchObject({ kind: 'out' });
  });
});

describe('the owner account of an event', () => {
  const event = (envelope: Record<string, unknown>, data: Record<string, unknown> = {}) => {
    const inv = parseTrigger({
      id: 'ce-1',
      source: 'acs.ecs',
      specversion: '1.0',
      type: 'ecs:ActionTrail:ApiCall',
      aliyunregionid: 'cn-hangzhou',
      ...envelope,
      data: {
        eventId: 'E1',
        eventName: 'TagResources',
        serviceName: 'Ecs',
        acsRegion: 'cn-hangzhou',
        requestParameters: { ResourceType: 'snapshot', ResourceId: 's-aaaa1' },
        ...data,
      },
    });
    if (inv.kind !== 'events') throw new Error(inv.kind);
    return inv.events[0];
  };

  it("is a routed event's original account, never the account of the bus that delivered it", () => {
    expect(event({ aliyunaccountid: CENTRAL, aliyunoriginalaccountid: M1 }).accountId).toBe(M1);
  });

  it("is the call's account (recipientAccountId) before the bus's", () => {
    expect(event({ aliyunaccountid: CENTRAL }, { recipientAccountId: M1 }).accountId).toBe(M1);
    expect(event({ aliyunaccountid: CENTRAL }).accountId).toBe(CENTRAL);
  });

  it('is no account at all when the original and the call name two different ones', () => {
    const e = event({ aliyunaccountid: CENTRAL, aliyunoriginalaccountid: M1 }, { recipientAccountId: M2 });
    expect(e.accountId).toBeUndefined();
    expect(e.accountConflict).toMatch(new RegExp(`${M1}.*${M2}`));
  });

  it('never comes from a numeric field', () => {
    expect(event({ aliyunaccountid: CENTRAL, aliyunoriginalaccountid: 1000000000000002 }).accountId).toBe(CENTRAL);
  });
});

describe('MemberCredentials', () => {
  /** The central account's client, answering AssumeRole with sessions that end `lifetime` after `clock`. */
  function sts(clock: { now: number }, lifetime: number, fail = 0) {
    const calls: Array<Record<string, unknown>> = [];
    const api = {
      call: async (product: string, action: string, params: Record<string, unknown>) => {
        calls.push({ product, action, ...params });
        if (fail-- > 0) throw Object.assign(new Error('boom'), { code: 'Throttling' });
        return {
          Credentials: {
            AccessKeyId: `STS.${calls.length}`,
            AccessKeySecret: 's',
            SecurityToken: 't',
            Expiration: new Date(clock.now + lifetime).toISOString(),
          },
        };
      },
    } as unknown as CloudApi;
    return { api, calls };
  }

  it('assumes the role once and reuses the session while it is fresh', async () => {
    const clock = { now: Date.parse('2026-12-01T00:00:00Z') };
    const { api, calls } = sts(clock, 3600_000);
    const creds = new MemberCredentials(api, `acs:ram::${M1}:role/ecs-share-member`, 'cn-hangzhou', () => clock.now);
    await Promise.all([creds.getCredential(), creds.getCredential()]);
    clock.now += 3600_000 - REFRESH_BEFORE_MS - 1000;
    expect((await creds.getCredential()).accessKeyId).toBe('STS.1');
    expect(calls).toEqual([
      {
        product: 'sts',
        action: 'AssumeRole',
        RoleArn: `acs:ram::${M1}:role/ecs-share-member`,
        RoleSessionName: 'ecs-share',
        DurationSeconds: 3600,
      },
    ]);
  });

  it('renews the session before it expires', async () => {
    const clock = { now: Date.parse('2026-12-01T00:00:00Z') };
    const { api, calls } = sts(clock, 3600_000);
    const creds = new MemberCredentials(api, `acs:ram::${M1}:role/ecs-share-member`, 'cn-hangzhou', () => clock.now);
    await creds.getCredential();
    clock.now += 3600_000 - REFRESH_BEFORE_MS + 1000;
    expect(await creds.getCredential()).toMatchObject({ accessKeyId: 'STS.2', type: 'sts' });
    expect(calls).toHaveLength(2);
  });

  it('asks again after a failed assume instead of remembering the failure', async () => {
    const clock = { now: Date.parse('2026-12-01T00:00:00Z') };
    const { api } = sts(clock, 3600_000, 1);
    const creds = new MemberCredentials(api, `acs:ram::${M1}:role/ecs-share-member`, 'cn-hangzhou', () => clock.now);
    await expect(creds.getCredential()).rejects.toThrow('boom');
    expect((await creds.getCredential()).accessKeyId).toBe('STS.2');
  });
});
