// EventBridge 2020-04-01 PutEvents in the emulator, called as the 2020-04-01 SDKs and ecs-share do (openapi-core's
// generic call, ACS3 signature, EventList as one JSON string in the form body): what was published is kept per
// account, region and bus; declared buses are the only ones; RAM authorizes eventbridge:PutEvents on the bus.
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../scripts/emulator/api';
import { startEmulator } from '../../scripts/emulator/server';
import type { EmulatorState } from '../../scripts/emulator/types';
import { CloudApi, type CloudError } from '../../shared/cloud/api';
import { putEvents, type BusEvent } from '../../shared/cloud/eventbridge';
import { A, B, twoAccounts } from './iam-fixture';

const REGION = 'cn-hangzhou';
const USER = { accessKeyId: 'LTAIebUserKey000001', accessKeySecret: 'ebUserSecret' };

function state(extra: Partial<EmulatorState> = {}): EmulatorState {
  const s = twoAccounts(extra);
  s.accounts[0].users = [
    {
      userName: 'publisher',
      accessKeys: [{ id: USER.accessKeyId, secret: USER.accessKeySecret }],
      attachedPolicies: [{ policyName: 'bus-a', policyType: 'Custom' }],
    },
  ];
  s.policies = [
    {
      accountId: A.uid,
      policyName: 'bus-a',
      defaultVersion: 'v1',
      versions: [
        {
          versionId: 'v1',
          document: JSON.stringify({
            Version: '1',
            Statement: [
              {
                Effect: 'Allow',
                Action: 'eventbridge:PutEvents',
                Resource: `acs:eventbridge:*:${A.uid}:eventbus/bus-a`,
              },
            ],
          }),
        },
      ],
    },
  ];
  return s;
}

let emu: Emulator;
beforeAll(async () => {
  emu = await startEmulator({ state: state() });
});
afterAll(() => emu.stop());
beforeEach(() => {
  emu.setState(state());
  emu.clearPublished();
  emu.clearCalls();
});

const api = (creds: { accessKeyId: string; accessKeySecret: string }) =>
  new CloudApi({ endpointOverride: emu.endpoint, credentials: creds, maxAttempts: 1 });
const root = (who = A) => api({ accessKeyId: who.accessKeyId, accessKeySecret: who.accessKeySecret });
const event = (n: number, extra: Partial<BusEvent> = {}): BusEvent => ({
  id: `id-${n}`,
  source: 'ecs-share',
  type: 'ecs-share:Share:Failed',
  subject: `s-${n}`,
  time: '2026-12-01T00:00:00Z',
  data: { n },
  ...extra,
});
const raw = (params: Record<string, unknown>, who = A) =>
  root(who).call('eventbridge', 'PutEvents', { RegionId: REGION, ...params }, REGION, { body: true });
async function errorOf(p: Promise<unknown>): Promise<CloudError> {
  try {
    await p;
  } catch (e) {
    return e as CloudError;
  }
  throw new Error('expected the call to fail');
}

describe('PutEvents', () => {
  it('publishes to any bus when the state declares none, and keeps each event per account, region and bus', async () => {
    const r = await putEvents(root(), REGION, 'bus-a', [event(1), event(2)]);
    expect(r).toEqual({ published: 2, failed: [] });
    await putEvents(root(B), REGION, 'bus-b', [event(3)]);
    expect(emu.published({ accountId: A.uid }).map((p) => [p.bus, p.region, p.event.Id])).toEqual([
      ['bus-a', REGION, 'id-1'],
      ['bus-a', REGION, 'id-2'],
    ]);
    expect(emu.published({ bus: 'bus-b' })).toHaveLength(1);
    expect(emu.published({ type: 'ecs-share:Share:Failed' })).toHaveLength(3);
    const [first] = emu.published();
    expect(first.event).toEqual({
      Id: 'id-1',
      Source: 'ecs-share',
      Type: 'ecs-share:Share:Failed',
      Subject: 's-1',
      Time: '2026-12-01T00:00:00Z',
      SpecVersion: '1.0',
      DataContentType: 'application/json',
      Data: { n: 1 },
    });
    expect(first.caller).toBe(`acs:ram::${A.uid}:root`);
    // The admin route answers the same, and DELETE forgets.
    const viaAdmin = (await (await fetch(`${emu.endpoint}/_emulator/published?bus=bus-b`)).json()) as {
      published: unknown[];
    };
    expect(viaAdmin.published).toEqual(emu.published({ bus: 'bus-b' }));
    await fetch(`${emu.endpoint}/_emulator/published`, { method: 'DELETE' });
    expect(emu.published()).toEqual([]);
  });

  it('answers each event with its id (the 2020-04-01 response: Code, Success, Data.EntryList)', async () => {
    const body = await raw({
      EventBusName: 'bus-a',
      EventList: JSON.stringify([{ Id: 'x1', Source: 's', Type: 't' }]),
    });
    expect(body).toMatchObject({
      Code: '200',
      Success: true,
      Data: { FailedEntryCount: 0, EntryList: [{ EventId: 'x1', TraceId: expect.any(String) }] },
    });
  });

  it('sends batches of at most 16 events a call', async () => {
    const r = await putEvents(
      root(),
      REGION,
      'bus-a',
      Array.from({ length: 20 }, (_, i) => event(i)),
    );
    expect(r.published).toBe(20);
    expect(emu.calls({ action: 'PutEvents' }).map((c) => JSON.parse(c.params.EventList).length)).toEqual([16, 4]);
  });

  it('knows only the declared buses of the caller, in their region', async () => {
    emu.setState(state({ eventBuses: [{ name: 'bus-a', accountId: A.uid, region: REGION }] }));
    await putEvents(root(), REGION, 'bus-a', [event(1)]);
    expect(await errorOf(putEvents(root(), REGION, 'bus-x', [event(2)]))).toMatchObject({
      code: 'EventBusNotExist',
      status: 404,
    });
    expect(await errorOf(putEvents(root(B), REGION, 'bus-a', [event(3)]))).toMatchObject({ code: 'EventBusNotExist' });
    expect(emu.published().map((p) => p.event.Id)).toEqual(['id-1']);
  });

  it('authorizes eventbridge:PutEvents on the bus: a RAM user may publish to the bus its policy names, not another', async () => {
    await putEvents(api(USER), REGION, 'bus-a', [event(1)]);
    const denied = await errorOf(putEvents(api(USER), REGION, 'bus-b', [event(2)]));
    expect(denied).toMatchObject({ code: 'NoPermission', status: 403 });
    const detail = emu.calls({ action: 'PutEvents', status: 403 })[0];
    expect(detail.caller).toMatchObject({ type: 'user', name: 'publisher' });
    expect(emu.published().map((p) => [p.bus, p.caller])).toEqual([['bus-a', `acs:ram::${A.uid}:user/publisher`]]);
  });

  it('refuses what is not a list of events with Id, Source and Type, and more than 16 at once', async () => {
    expect(await errorOf(raw({ EventBusName: 'bus-a', EventList: 'not json' }))).toMatchObject({
      code: 'InvalidParameter.EventList',
      status: 400,
    });
    expect(await errorOf(raw({ EventBusName: 'bus-a', EventList: '[]' }))).toMatchObject({
      code: 'InvalidParameter.EventList',
    });
    expect(
      await errorOf(raw({ EventBusName: 'bus-a', EventList: JSON.stringify([{ Id: '1', Source: 's' }]) })),
    ).toMatchObject({ code: 'InvalidParameter.EventList' });
    const many = JSON.stringify(Array.from({ length: 17 }, (_, i) => ({ Id: `${i}`, Source: 's', Type: 't' })));
    expect(await errorOf(raw({ EventBusName: 'bus-a', EventList: many }))).toMatchObject({
      code: 'InvalidParameter.EventList',
    });
    expect(await errorOf(raw({ EventList: '[]' }))).toMatchObject({ code: 'MissingParameter' });
    expect(
      await errorOf(
        raw({ EventBusName: 'bus-a', EventList: '[{"Id":"1","Source":"s","Type":"t"}]', RegionId: 'cn-nowhere' }),
      ),
    ).toMatchObject({ code: 'InvalidRegionId.NotFound' });
    expect(emu.published()).toEqual([]);
  });
});
