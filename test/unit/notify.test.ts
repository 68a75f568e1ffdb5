// The "share problem" records (shared/notify.ts), table-driven: which outcomes make one, with which fields.
import { describe, expect, it } from 'vitest';
import { eventTypeOf, problemRecords, subjectOf } from '../../shared/notify';
import type { ResourceOutcome } from '../../shared/share/model';

const OWNER = '1000000000000001';
const out = (o: Partial<ResourceOutcome> & Pick<ResourceOutcome, 'outcome'>): ResourceOutcome => ({
  resourceId: 's-a',
  resourceType: 'snapshot',
  region: 'cn-hangzhou',
  targets: [],
  actions: [],
  ...o,
});
const ctx = { fn: 'reconcile', ownerUid: OWNER, requestId: 'req-1' };

describe('problemRecords', () => {
  it('makes one record per refused or failed outcome, none for the others', () => {
    const results = (['shared', 'revoked', 'unchanged', 'pending', 'refused', 'failed'] as const).map((outcome, i) =>
      out({ outcome, resourceId: `s-${i}` }),
    );
    expect(problemRecords({ dryRun: false, results, errors: [] }, ctx).map((r) => [r.outcome, r.resourceId])).toEqual([
      ['refused', 's-4'],
      ['failed', 's-5'],
    ]);
  });

  it('makes none in a dry run', () => {
    expect(problemRecords({ dryRun: true, results: [out({ outcome: 'refused' })], errors: [] }, ctx)).toEqual([]);
  });

  it('fills every field, null where unknown', () => {
    const failed = out({
      outcome: 'failed',
      error: { code: 'Throttling.User', message: 'slow down', requestId: 'api-1', retryable: true },
      advice: 'wait',
      requestedBy: 'timer',
      targets: ['account 1000000000000002'],
    });
    const [r] = problemRecords(
      { dryRun: false, results: [failed], errors: [] },
      { ...ctx, eventIds: new Map([['cn-hangzhou/s-a', 'ev-1']]) },
    );
    expect(r).toEqual({
      outcome: 'failed',
      code: 'Throttling.User',
      reason: 'slow down',
      advice: 'wait',
      retryable: true,
      resourceId: 's-a',
      resourceType: 'snapshot',
      region: 'cn-hangzhou',
      requestedBy: 'timer',
      function: 'reconcile',
      eventId: 'ev-1',
      ownerAccountId: OWNER,
      invocationId: 'req-1',
      apiRequestId: 'api-1',
      targets: ['account 1000000000000002'],
    });
    const [refused] = problemRecords(
      {
        dryRun: false,
        results: [out({ outcome: 'refused', reason: 'fix the tag', error: { code: 'Wildcard', message: 'm' } })],
        errors: [],
      },
      { fn: 'share', ownerUid: OWNER },
    );
    expect(refused).toMatchObject({
      code: 'Wildcard',
      reason: 'fix the tag',
      advice: null,
      retryable: false,
      requestedBy: null,
      eventId: null,
      invocationId: null,
      apiRequestId: null,
    });
  });

  it("reports a reconcile's failed role trim, which is no resource's outcome, once", () => {
    const refused = out({ outcome: 'refused', error: { code: 'KeyNotEnabled', message: 'm' } });
    const errors = [
      { resourceId: 's-a', region: 'cn-hangzhou', outcome: 'refused', code: 'KeyNotEnabled', message: 'm' },
      {
        resourceId: 'AliyunECSShareEncryptSnapshotDefaultRole',
        region: 'global',
        outcome: 'failed',
        code: 'Throttling.User',
        message: 'role trim: slow down',
      },
    ];
    const records = problemRecords({ dryRun: false, results: [refused], errors }, ctx);
    expect(records.map((r) => [r.resourceType, r.resourceId])).toEqual([
      ['snapshot', 's-a'],
      ['role', 'AliyunECSShareEncryptSnapshotDefaultRole'],
    ]);
    expect(subjectOf(records[1])).toBe(`acs:ram::${OWNER}:role/AliyunECSShareEncryptSnapshotDefaultRole`);
    expect(subjectOf(records[0])).toBe(`acs:ecs:cn-hangzhou:${OWNER}:snapshot/s-a`);
    expect(records.map(eventTypeOf)).toEqual(['ecs-share:Share:Refused', 'ecs-share:Share:Failed']);
  });
});

describe('SHARE_NOTIFY_EVENT_BUS and SHARE_NOTIFY_SOURCE', () => {
  it('are off and ecs-share by default, read when set, and a malformed name is a configuration error', async () => {
    const { readConfig } = await import('../../shared/config');
    expect(readConfig({})).toMatchObject({ notifyEventBus: undefined, notifySource: 'ecs-share' });
    expect(readConfig({ SHARE_NOTIFY_EVENT_BUS: ' ops-alerts ', SHARE_NOTIFY_SOURCE: 'acme.ecs-share' })).toMatchObject(
      { notifyEventBus: 'ops-alerts', notifySource: 'acme.ecs-share' },
    );
    expect(() => readConfig({ SHARE_NOTIFY_EVENT_BUS: 'no spaces' })).toThrow(/SHARE_NOTIFY_EVENT_BUS/);
  });
});
