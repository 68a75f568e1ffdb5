// Faults, rate limits, latency, the call log and the /_emulator/ admin surface, observed through the real SDKs.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Kms from '@alicloud/kms20160120';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO, demoState, startEmulator, type Emulator, type EmulatorState } from '../../scripts/emulator';
import { sdkClients, type Creds } from '../helpers/sdk';

const OWNER: Creds = { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret };
const SESSION = {
  accessKeyId: 'STS.logSession0001',
  accessKeySecret: 'logSessionSecret01',
  securityToken: 'CAIS-log-session-token',
};

function testState(): EmulatorState {
  const s = demoState();
  s.stsSessions = [
    {
      accessKeyId: SESSION.accessKeyId,
      secret: SESSION.accessKeySecret,
      token: SESSION.securityToken,
      accountId: DEMO.owner.uid,
      roleName: 'ops',
      sessionName: 'log-test',
      expiration: new Date(Date.now() + 3600_000).toISOString(),
    },
  ];
  return s;
}

const FC_TRUST = JSON.stringify({
  Version: '1',
  Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } }],
});

async function outcome(p: Promise<unknown>): Promise<any> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    return e;
  }
}

describe('faults, rate limits and the admin surface', () => {
  let emu: Emulator;
  let ecs: ReturnType<typeof sdkClients>['ecs'];
  let ram: ReturnType<typeof sdkClients>['ram'];
  const describeSnapshots = () => ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: 'cn-hangzhou' }));
  const listRoles = () => ram.listRoles(new $Ram.ListRolesRequest({}));
  const admin = async (method: string, path: string, body?: unknown) => {
    const res = await fetch(`${emu.endpoint}/_emulator/${path}`, {
      method,
      body: body === undefined ? undefined : JSON.stringify(body),
      headers: { 'content-type': 'application/json' },
    });
    return { status: res.status, body: (await res.json()) as any };
  };

  beforeAll(async () => {
    emu = await startEmulator({ state: testState() });
    ({ ecs, ram } = sdkClients(emu.endpoint, OWNER));
  });
  afterAll(async () => {
    await emu.stop();
  });
  beforeEach(() => {
    emu.clearFaults();
    emu.setLatency(0);
    emu.setRateLimit('*', null);
    emu.setRateLimit('DescribeSnapshots', null);
    emu.setRateLimit('ListRoles', null);
    emu.setState(testState());
    emu.clearCalls();
  });

  describe('fault rules', () => {
    it('throttles exactly the Nth matching call with Throttling.User and x-acs-retry-after', async () => {
      emu.addFault({ action: 'DescribeSnapshots', kind: 'throttle', nth: 2, retryAfterMs: 50 });

      const results = [
        await outcome(describeSnapshots()),
        await outcome(describeSnapshots()),
        await outcome(describeSnapshots()),
      ];

      expect(results[0]).toBe('ok');
      expect(results[1].name).toBe('ThrottlingError');
      expect(results[1].code).toBe('Throttling.User');
      expect(results[1].statusCode).toBe(400);
      expect(results[1].retryAfter).toBe(50);
      expect(results[2]).toBe('ok');
    });

    it('affects `times` consecutive calls from the Nth on', async () => {
      emu.addFault({ action: 'ListRoles', kind: 'unavailable', nth: 1, times: 2 });

      const codes = [];
      for (let i = 0; i < 3; i++) codes.push((await outcome(listRoles())).code ?? 'ok');

      expect(codes).toEqual(['ServiceUnavailable', 'ServiceUnavailable', 'ok']);
    });

    it('fails every Nth call with `every`', async () => {
      emu.addFault({ action: 'ListRoles', kind: 'internal', every: 2 });

      const results = [];
      for (let i = 0; i < 4; i++) results.push(await outcome(listRoles()));

      expect(results.map((r) => (r === 'ok' ? 'ok' : `${r.name} ${r.code} ${r.statusCode}`))).toEqual([
        'ok',
        'ServerError InternalError 500',
        'ok',
        'ServerError InternalError 500',
      ]);
    });

    it('fails a seeded share of calls with `rate`, the same ones on every run', async () => {
      const run = async () => {
        emu.clearFaults();
        emu.addFault({ action: 'ListRoles', kind: 'unavailable', rate: 0.5, seed: 42 });
        const pattern = [];
        for (let i = 0; i < 16; i++) pattern.push((await outcome(listRoles())) === 'ok' ? '.' : 'x');
        return pattern.join('');
      };

      const first = await run();
      const second = await run();

      expect(first).toBe(second);
      expect(first).toMatch(/x/);
      expect(first).toMatch(/\./);
    });

    it('limits a rule to one product with `product`', async () => {
      emu.addFault({ action: '*', product: 'ram', kind: 'unavailable' });

      const ecsResult = await outcome(describeSnapshots());
      const ramResult = await outcome(listRoles());

      expect(ecsResult).toBe('ok');
      expect(ramResult.code).toBe('ServiceUnavailable');
    });

    it('drops the connection without an answer: the SDK sees a network error', async () => {
      emu.addFault({ action: 'DescribeSnapshots', kind: 'drop', nth: 1 });

      const err = await outcome(describeSnapshots());

      expect(err).toBeInstanceOf(Error);
      expect(err.statusCode).toBeUndefined();
      expect(String(err.code ?? err.message)).toMatch(/ECONNRESET|socket hang up|EPIPE/);
      expect(emu.calls({ action: 'DescribeSnapshots' }).at(-1)).toMatchObject({ status: 0, code: 'ConnectionDropped' });
    });

    it('applies a dropAfter call, then drops the connection: the role exists although the SDK saw a network error', async () => {
      emu.addFault({ action: 'CreateRole', kind: 'dropAfter', nth: 1 });

      const err = await outcome(
        ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'lost-answer', assumeRolePolicyDocument: FC_TRUST })),
      );
      await new Promise((r) => setTimeout(r, emu.state.options.readLagMs + 20)); // GetRole lags behind the write
      const role = await ram.getRole(new $Ram.GetRoleRequest({ roleName: 'lost-answer' }));

      expect(err).toBeInstanceOf(Error);
      expect(err.statusCode).toBeUndefined();
      expect(String(err.code ?? err.message)).toMatch(/ECONNRESET|socket hang up|EPIPE/);
      expect(role.body?.role?.roleName).toBe('lost-answer');
      expect(emu.calls({ action: 'CreateRole' })).toEqual([
        expect.objectContaining({
          status: 0,
          code: 'ConnectionDropped',
          applied: true,
          write: true,
          cause: expect.stringMatching(/dropAfter/),
        }),
      ]);
      expect(emu.writes().map((c) => c.action)).toEqual(['CreateRole']);
    });

    it('applies an unavailableAfter call, then answers 503: the tag is set and its event emitted', async () => {
      emu.addFault({ action: 'TagResources', kind: 'unavailableAfter', every: 1 });
      const published = emu.events().length;

      const err = await outcome(
        ecs.tagResources(
          new $Ecs.TagResourcesRequest({
            regionId: 'cn-hangzhou',
            resourceType: 'snapshot',
            resourceId: [DEMO.snapshots.plain],
            tag: [{ key: 'lost', value: 'answer' }],
          }),
        ),
      );
      const tags = await ecs.listTagResources(
        new $Ecs.ListTagResourcesRequest({
          regionId: 'cn-hangzhou',
          resourceType: 'snapshot',
          resourceId: [DEMO.snapshots.plain],
        }),
      );

      expect([err.name, err.code, err.statusCode]).toEqual(['ServerError', 'ServiceUnavailable', 503]);
      expect(tags.body?.tagResources?.tagResource?.map((t) => `${t.tagKey}=${t.tagValue}`)).toContain('lost=answer');
      expect(emu.events().length - published).toBe(1);
      expect(emu.calls({ action: 'TagResources' })[0]).toMatchObject({
        status: 503,
        code: 'ServiceUnavailable',
        applied: true,
      });
    });

    it('loses the answer of a failing call under unavailableAfter without marking it applied', async () => {
      emu.addFault({ action: 'GetRole', kind: 'unavailableAfter', nth: 1 });

      const err = await outcome(ram.getRole(new $Ram.GetRoleRequest({ roleName: 'no-such-role' })));

      expect(err.code).toBe('ServiceUnavailable');
      expect(emu.calls({ action: 'GetRole' })[0].applied).toBeUndefined();
    });

    it('selects apply-then-lose calls with nth and times like the other kinds', async () => {
      emu.addFault({ action: 'CreateRole', kind: 'unavailableAfter', nth: 2, times: 2 });

      const codes = [];
      for (let i = 1; i <= 4; i++) {
        const r = await outcome(
          ram.createRole(new $Ram.CreateRoleRequest({ roleName: `sel-${i}`, assumeRolePolicyDocument: FC_TRUST })),
        );
        codes.push(r === 'ok' ? 'ok' : r.code);
      }
      const roles = (await listRoles()).body?.roles?.role?.map((r) => r.roleName) ?? [];

      expect(codes).toEqual(['ok', 'ServiceUnavailable', 'ServiceUnavailable', 'ok']);
      expect(roles).toEqual(expect.arrayContaining(['sel-1', 'sel-2', 'sel-3', 'sel-4']));
    });

    it('adds latency to the matching calls only', async () => {
      emu.addFault({ action: 'ListRoles', kind: 'latency', latencyMs: 150 });

      const t0 = Date.now();
      await listRoles();
      const slow = Date.now() - t0;
      const t1 = Date.now();
      await describeSnapshots();
      const fast = Date.now() - t1;

      expect(slow).toBeGreaterThanOrEqual(145);
      expect(fast).toBeLessThan(145);
    });
  });

  describe('onWrite hook', () => {
    it('runs after a write is applied and holds its answer until the hook resolves', async () => {
      const seen: Array<{ action: string; roleExists: boolean; answer: string }> = [];
      const off = emu.onWrite(async (call) => {
        seen.push({
          action: call.action,
          answer: call.answer,
          roleExists: emu.state.roles.some((r) => r.roleName === call.params.RoleName),
        });
        await new Promise((r) => setTimeout(r, 150));
      });

      const t0 = Date.now();
      await ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'hooked', assumeRolePolicyDocument: FC_TRUST }));
      const took = Date.now() - t0;
      off();

      expect(seen).toEqual([{ action: 'CreateRole', roleExists: true, answer: 'ok' }]);
      expect(took).toBeGreaterThanOrEqual(145);
    });

    it('is not called for reads, refused writes or after unsubscribing', async () => {
      const seen: string[] = [];
      const off = emu.onWrite((call) => void seen.push(call.action));
      await listRoles();
      await ram.deleteRole(new $Ram.DeleteRoleRequest({ roleName: 'no-such-role' })).catch(() => undefined);
      await ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'seen', assumeRolePolicyDocument: FC_TRUST }));
      off();
      await ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'unseen', assumeRolePolicyDocument: FC_TRUST }));

      expect(seen).toEqual(['CreateRole']);
    });

    it('tells the hook when the answer will be lost, and carries the call log request id', async () => {
      const seen: Array<{ answer: string; requestId: string; caller: string }> = [];
      const off = emu.onWrite(
        (c) => void seen.push({ answer: c.answer, requestId: c.requestId, caller: c.caller.accountId }),
      );
      emu.addFault({ action: 'CreateRole', kind: 'dropAfter', nth: 1 });

      await outcome(
        ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'lost', assumeRolePolicyDocument: FC_TRUST })),
      );
      off();

      expect(seen).toEqual([
        { answer: 'drop', requestId: emu.calls({ action: 'CreateRole' })[0].requestId, caller: DEMO.owner.uid },
      ]);
    });
  });

  describe('severClient', () => {
    it('drops the answer of the write in progress and never applies the calls queued behind it', async () => {
      const s = testState();
      s.accounts.push({
        uid: '1000000000000077',
        accessKeys: [{ id: 'LTAIcrashingClient1', secret: 'crashingSecret1' }],
      });
      emu.setState(s);
      const doomed = sdkClients(emu.endpoint, {
        accessKeyId: 'LTAIcrashingClient1',
        accessKeySecret: 'crashingSecret1',
      });
      let second: Promise<unknown> | undefined;
      const off = emu.onWrite(async (call) => {
        if (call.params.RoleName !== 'first') return;
        // While this hook runs nothing else is applied: queue the client's next write, then cut the client off.
        second = outcome(
          doomed.ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'second', assumeRolePolicyDocument: FC_TRUST })),
        );
        await new Promise((r) => setTimeout(r, 50));
        emu.severClient('LTAIcrashingClient1');
      });

      const first = await outcome(
        doomed.ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'first', assumeRolePolicyDocument: FC_TRUST })),
      );
      const secondErr = await second;
      off();
      const names = emu.state.roles.filter((r) => r.accountId === '1000000000000077').map((r) => r.roleName);

      expect(first).toBeInstanceOf(Error);
      expect(secondErr).toBeInstanceOf(Error);
      expect(names).toEqual(['first']);
      expect(emu.calls({ action: 'CreateRole' }).map((c) => [c.params.RoleName, c.status, c.code, c.applied])).toEqual([
        ['first', 0, 'ClientGone', true],
        ['second', 0, 'ClientGone', undefined],
      ]);
    });
  });

  describe('rate limits and global latency', () => {
    it('throttles the (N+1)th call within a second, then lets calls through again after retry-after', async () => {
      emu.setRateLimit('ListRoles', { perSecond: 3, retryAfter: true });

      for (let i = 0; i < 3; i++) await listRoles();
      const err = await outcome(listRoles());
      const other = await outcome(describeSnapshots());
      await new Promise((r) => setTimeout(r, err.retryAfter + 5));
      const later = await outcome(listRoles());

      expect(err.name).toBe('ThrottlingError');
      expect(err.code).toBe('Throttling.User');
      expect(err.retryAfter).toBeGreaterThan(0);
      expect(err.retryAfter).toBeLessThanOrEqual(1000);
      expect(other).toBe('ok');
      expect(later).toBe('ok');
      expect(emu.calls().filter((c) => c.code === 'Throttling.User')).toHaveLength(1);
    });

    it('delays every call by the global latency', async () => {
      emu.setLatency(120);

      const t0 = Date.now();
      await listRoles();

      expect(Date.now() - t0).toBeGreaterThanOrEqual(115);
    });
  });

  describe('call log', () => {
    it('records caller, action, parameters and outcome, but no signature, token or secret', async () => {
      const session = sdkClients(emu.endpoint, SESSION);
      await session.kms.describeKey(new $Kms.DescribeKeyRequest({ keyId: DEMO.cmkId })).catch(() => undefined);
      await sdkClients(emu.endpoint, { ...OWNER, accessKeySecret: 'wrong' })
        .ram.listRoles(new $Ram.ListRolesRequest({}))
        .catch(() => undefined);

      const [kmsCall, rejected] = emu.calls();

      expect(kmsCall).toMatchObject({
        seq: expect.any(Number),
        product: 'kms',
        action: 'DescribeKey',
        version: '2016-01-20',
        caller: { accountId: DEMO.owner.uid, type: 'role', name: 'ops:log-test', accessKeyId: SESSION.accessKeyId },
        params: { KeyId: DEMO.cmkId },
        status: 403,
        code: 'Forbidden.NoPermission',
        write: false,
      });
      expect(Object.keys(kmsCall.params)).toEqual(['KeyId']);
      expect(rejected).toMatchObject({
        action: 'ListRoles',
        status: 400,
        code: 'SignatureDoesNotMatch',
        caller: { accessKeyId: OWNER.accessKeyId },
      });
      const text = JSON.stringify(emu.calls());
      for (const secret of [
        SESSION.securityToken,
        SESSION.accessKeySecret,
        OWNER.accessKeySecret,
        'wrong',
        'SignatureNonce',
      ]) {
        expect(text).not.toContain(secret);
      }
    });

    it('lists successful writes apart from reads and failures', async () => {
      const doc = JSON.stringify({
        Version: '1',
        Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } }],
      });
      await ram.createRole(new $Ram.CreateRoleRequest({ roleName: 'logged', assumeRolePolicyDocument: doc }));
      await ram
        .createRole(new $Ram.CreateRoleRequest({ roleName: 'logged', assumeRolePolicyDocument: doc }))
        .catch(() => undefined);
      await listRoles();

      expect(emu.writes().map((c) => `${c.action} ${c.status}`)).toEqual(['CreateRole 200']);
      expect(emu.calls().map((c) => c.action)).toEqual(['CreateRole', 'CreateRole', 'ListRoles']);
    });

    it('logs faulted calls with their code and cause', async () => {
      emu.addFault({ action: 'ListRoles', kind: 'throttle', nth: 1 });
      await listRoles().catch(() => undefined);

      expect(emu.calls()[0]).toMatchObject({
        action: 'ListRoles',
        status: 400,
        code: 'Throttling.User',
        cause: expect.stringMatching(/throttle/),
      });
    });
  });

  describe('admin HTTP API', () => {
    it('round-trips the state: what GET returns, PUT accepts unchanged', async () => {
      const got = await admin('GET', 'state');

      const put = await admin('PUT', 'state', got.body);
      const again = await admin('GET', 'state');

      expect(put.status).toBe(200);
      expect(again.body).toEqual(got.body);
      expect(got.body.accounts.map((a: any) => a.uid)).toEqual([
        DEMO.owner.uid,
        DEMO.rdRecipient.uid,
        DEMO.externalRecipient.uid,
      ]);
    });

    it('replaces the state with PUT, so new keys work at once', async () => {
      const next = demoState();
      next.accounts.push({ uid: '1000000000000009', accessKeys: [{ id: 'LTAInewAccount0009', secret: 'newSecret9' }] });

      await admin('PUT', 'state', next);
      const who = await sdkClients(emu.endpoint, {
        accessKeyId: 'LTAInewAccount0009',
        accessKeySecret: 'newSecret9',
      }).sts.getCallerIdentity();

      expect(who.body?.accountId).toBe('1000000000000009');
    });

    it('refuses a state whose account uid is not 16 digits, keeping the old state', async () => {
      const bad = demoState();
      bad.accounts[0].uid = '123';

      const res = await admin('PUT', 'state', bad);

      expect(res.status).toBe(400);
      expect(res.body.Code).toBe('InvalidState');
      expect(emu.state.accounts[0].uid).toBe(DEMO.owner.uid);
    });

    it('serves the call log, since a sequence number, and clears it', async () => {
      await listRoles();
      await describeSnapshots();
      const first = emu.calls()[0].seq;

      const since = await admin('GET', `calls?since=${first}`);
      const cleared = await admin('DELETE', 'calls');
      const after = await admin('GET', 'calls');

      expect(since.body.calls.map((c: any) => c.action)).toEqual(['DescribeSnapshots']);
      expect(cleared.status).toBe(200);
      expect(after.body.calls).toEqual([]);
    });

    it('adds and removes fault rules', async () => {
      const added = await admin('POST', 'faults', { action: 'ListRoles', kind: 'unavailable' });
      const failed = await outcome(listRoles());
      await admin('DELETE', 'faults');
      const recovered = await outcome(listRoles());

      expect(added.body.added[0]).toMatchObject({ id: expect.any(Number), action: 'ListRoles', kind: 'unavailable' });
      expect(failed.code).toBe('ServiceUnavailable');
      expect(recovered).toBe('ok');
    });

    it('refuses a malformed fault rule with 400', async () => {
      const res = await admin('POST', 'faults', { action: 'ListRoles', kind: 'explode' });

      expect(res.status).toBe(400);
    });

    it('sets rate limits and latency', async () => {
      await admin('PUT', 'rate-limits', { ListRoles: 1 });
      await admin('PUT', 'latency', { ms: 60 });

      const t0 = Date.now();
      const first = await outcome(listRoles());
      const second = await outcome(listRoles());

      expect(Date.now() - t0).toBeGreaterThanOrEqual(110);
      expect(first).toBe('ok');
      expect(second.code).toBe('Throttling.User');
      await admin('PUT', 'rate-limits', {});
      expect((await admin('GET', 'rate-limits')).body).toEqual({});
    });

    it('merges emulator options', async () => {
      const res = await admin('PUT', 'options', { imageShareQuota: 7 });

      expect(res.body.imageShareQuota).toBe(7);
      expect(res.body.snapshotShareQuota).toBe(64);
      expect(emu.state.options.imageShareQuota).toBe(7);
    });

    it('answers an unknown admin route with 404 and needs no signature for known ones', async () => {
      expect((await admin('GET', 'nothing-here')).status).toBe(404);
      expect((await admin('GET', 'health')).body).toEqual({ ok: true });
    });
  });
});
