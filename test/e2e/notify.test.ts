// Failures reach a person (README): every refused and failed outcome is one "share problem" JSON log line carrying
// the fields the README's Log Service query and alert read, and, with SHARE_NOTIFY_EVENT_BUS set and the notify
// policy on the function role, exactly one CloudEvent on that bus whose data is the same record. Nothing is published
// for shared or unchanged outcomes, nor without the variable; a publish that fails changes no outcome.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { outcomeFor, outcomes, tag, logLines } from '../helpers/e2e';

const root = path.resolve(__dirname, '../..');
const NOTIFY_POLICY = fs.readFileSync(path.join(root, 'shared/policies/function-role-notify.json'), 'utf8');
const BUS = 'ecs-share-alerts';
const LOGGER_FIELDS = ['time', 'level', 'msg', 'fn', 'requestId'];

/** The `$.<field>` paths the README's "Failures reach a person" query and alert read. */
function recipeFields(): string[] {
  const readme = fs.readFileSync(path.join(root, 'README.md'), 'utf8');
  const start = readme.indexOf('\n## Failures reach a person\n');
  expect(start, 'README section "Failures reach a person"').toBeGreaterThan(0);
  const section = readme.slice(start + 1, readme.indexOf('\n## ', start + 1));
  expect(section).toContain('<!-- share-problem-recipe:');
  const blocks = [...section.matchAll(/```(?:sql|json)\n([\s\S]*?)```/g)].map((m) => m[1]).join('\n');
  return [...new Set([...blocks.matchAll(/'\$\.([A-Za-z][A-Za-z0-9_.]*)'/g)].map((m) => m[1]))];
}

const at = (o: Record<string, any>, p: string) => p.split('.').reduce<any>((x, k) => (x == null ? undefined : x[k]), o);

const problems = (lines: Array<Record<string, any>>, id?: string) =>
  lines.filter((l) => l.msg === 'share problem' && (id === undefined || l.resourceId === id));
const recordOf = (line: Record<string, any>) =>
  Object.fromEntries(Object.entries(line).filter(([k]) => !LOGGER_FIELDS.includes(k)));

describe('failures reach a person, with SHARE_NOTIFY_EVENT_BUS and the notify policy', () => {
  let w: World;
  const fields = recipeFields();

  beforeAll(async () => {
    w = await startWorld({
      extraPolicies: [NOTIFY_POLICY],
      env: { SHARE_NOTIFY_EVENT_BUS: BUS, SHARE_NOTIFY_SOURCE: '' },
    });
  });
  afterAll(() => w.stop());

  it('reads a recipe that names the fields', () => {
    expect(fields).toEqual(
      expect.arrayContaining(['msg', 'outcome', 'code', 'resourceId', 'region', 'reason', 'requestedBy']),
    );
  });

  it('turns a refused tag (a service-key snapshot) into one warn record with the recipe fields and one published event', async () => {
    const snap = DEMO.snapshots.serviceKey;
    await tag(w, snap, DEMO.rdRecipient.uid);
    let results: any[] = [];
    const lines = await logLines(async () => (results = await w.deliverEvents()));
    expect(outcomeFor(outcomes(results), snap)).toMatchObject({
      outcome: 'refused',
      error: { code: 'ServiceKeyEncrypted' },
    });
    const mine = problems(lines, snap);
    expect(mine).toHaveLength(1);
    const line = mine[0];
    expect(line).toMatchObject({
      level: 'warn',
      msg: 'share problem',
      outcome: 'refused',
      code: 'ServiceKeyEncrypted',
      resourceType: 'snapshot',
      region: DEMO.region,
      function: 'on-tag',
      ownerAccountId: DEMO.owner.uid,
      retryable: false,
    });
    expect(line.requestedBy).toMatchObject({ type: 'root-account', accountId: DEMO.owner.uid });
    expect(line.eventId).toEqual(expect.any(String));
    expect(line.reason).toMatch(/customer master key/i);
    for (const f of fields) expect(at(line, f), `$.${f} of the refused record`).not.toBeUndefined();

    const published = w.emu.published({ bus: BUS });
    expect(published).toHaveLength(1);
    const [p] = published;
    expect(p).toMatchObject({ accountId: DEMO.owner.uid, region: DEMO.region, bus: BUS });
    expect(p.caller).toMatch(/assumed-role\/ecs-share-fc-role\//); // the function role, under the notify policy
    expect(p.event).toMatchObject({
      Source: 'ecs-share',
      Type: 'ecs-share:Share:Refused',
      Subject: `acs:ecs:${DEMO.region}:${DEMO.owner.uid}:snapshot/${snap}`,
      SpecVersion: '1.0',
      DataContentType: 'application/json',
    });
    expect(p.event.Id).toMatch(/^[0-9a-f-]{36}$/);
    expect(p.event.Data).toEqual(recordOf(line));
  });

  it('turns a failed share (a terminal API error) into one error record and one published event', async () => {
    w.emu.setOptions({ imageShareQuota: 0 }); // ModifyImageSharePermission answers 403 QuotaExceed.ShareImageUser
    w.emu.clearPublished();
    const image = DEMO.images.plain;
    await tag(w, image, DEMO.rdRecipient.uid);
    let results: any[] = [];
    const lines = await logLines(async () => (results = await w.deliverEvents()));
    w.emu.setOptions({ imageShareQuota: 50 });
    expect(outcomeFor(outcomes(results), image)).toMatchObject({
      outcome: 'failed',
      error: { code: 'QuotaExceed.ShareImageUser' },
    });
    const mine = problems(lines, image);
    expect(mine).toHaveLength(1);
    const line = mine[0];
    expect(line).toMatchObject({
      level: 'error',
      outcome: 'failed',
      code: 'QuotaExceed.ShareImageUser',
      resourceType: 'image',
      function: 'on-tag',
      retryable: false,
    });
    expect(line.advice).toMatch(/at most 50 accounts/);
    expect(line.apiRequestId).toEqual(expect.any(String));
    for (const f of fields) expect(at(line, f), `$.${f} of the failed record`).not.toBeUndefined();
    const published = w.emu.published({ bus: BUS });
    expect(published).toHaveLength(1);
    expect(published[0].event).toMatchObject({
      Type: 'ecs-share:Share:Failed',
      Subject: `acs:ecs:${DEMO.region}:${DEMO.owner.uid}:image/${image}`,
    });
    expect(published[0].event.Data).toEqual(recordOf(line));
  });

  it('publishes nothing for shared and unchanged outcomes', async () => {
    w.emu.clearPublished();
    const snap = DEMO.snapshots.plain;
    await tag(w, snap, DEMO.rdRecipient.uid);
    let results: any[] = [];
    const lines = await logLines(async () => (results = await w.deliverEvents()));
    expect(outcomeFor(outcomes(results), snap).outcome).toBe('shared');
    const replay = await w.invoke('share', { resourceId: snap, region: DEMO.region });
    expect(replay.results[0].outcome).toBe('unchanged');
    expect(problems(lines, snap)).toEqual([]);
    expect(w.emu.published()).toEqual([]);
    expect(w.emu.calls({ action: 'PutEvents' }).filter((c) => c.params.EventList?.includes(snap))).toEqual([]);
  });

  it('reports a refusal again from the share function and the timer, each run one event, requestedBy as the run says', async () => {
    w.emu.clearPublished();
    const snap = DEMO.snapshots.serviceKey;
    const manual = await w.invoke('share', { resourceId: snap, region: DEMO.region });
    expect(manual.results[0].outcome).toBe('refused');
    const timer = await w.invoke('reconcile', {
      triggerTime: new Date().toISOString(),
      triggerName: 'reconcile-timer',
      payload: '{"action":"reconcile"}',
    });
    expect(timer.results.find((r: any) => r.resourceId === snap)?.outcome).toBe('refused');
    const data = w.emu
      .published({ type: 'ecs-share:Share:Refused' })
      .map((p) => p.event.Data as Record<string, any>)
      .filter((d) => d.resourceId === snap);
    expect(data.map((d) => [d.function, d.requestedBy, d.eventId])).toEqual([
      ['share', 'manual', null],
      ['reconcile', 'timer', null],
    ]);
  });

  it('a dry run reports nothing', async () => {
    w.emu.clearPublished();
    const lines = await logLines(() =>
      w.invoke('share', { resourceId: DEMO.snapshots.serviceKey, region: DEMO.region, dryRun: true }),
    );
    expect(problems(lines)).toEqual([]);
    expect(w.emu.published()).toEqual([]);
  });

  it('a failing publish changes no outcome and fails no invocation: it is logged with its code, the record stays', async () => {
    w.emu.clearPublished();
    w.emu.addFault({ action: 'PutEvents', kind: 'internal', times: 100, every: 1 });
    const snap = DEMO.snapshots.serviceKey;
    let result: any;
    const lines = await logLines(
      async () => (result = await w.invoke('share', { resourceId: snap, region: DEMO.region })),
    );
    w.emu.clearFaults();
    expect(result.results[0]).toMatchObject({ outcome: 'refused', error: { code: 'ServiceKeyEncrypted' } });
    expect(problems(lines, snap)).toHaveLength(1);
    const failed = lines.filter((l) => l.msg === 'notify publish failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'warn', bus: BUS, code: 'InternalError' });
    expect(w.emu.published()).toEqual([]);
    expect(w.emu.calls({ action: 'PutEvents' }).length).toBeGreaterThan(1); // retried as a 5xx, then given up
  });

  it('a bus that does not exist is a logged publish failure too', async () => {
    w.emu.state.eventBuses = [{ name: 'another-bus', accountId: DEMO.owner.uid, region: DEMO.region }];
    const lines = await logLines(() =>
      w.invoke('share', { resourceId: DEMO.snapshots.serviceKey, region: DEMO.region }),
    );
    w.emu.state.eventBuses = [];
    expect(lines.find((l) => l.msg === 'notify publish failed')).toMatchObject({ code: 'EventBusNotExist' });
    expect(w.emu.published()).toEqual([]);
  });
});

describe('failures reach a person, without SHARE_NOTIFY_EVENT_BUS', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ extraPolicies: [NOTIFY_POLICY], env: { SHARE_NOTIFY_EVENT_BUS: '' } });
  });
  afterAll(() => w.stop());

  it('logs the record and publishes nothing', async () => {
    const snap = DEMO.snapshots.serviceKey;
    await tag(w, snap, DEMO.rdRecipient.uid);
    const lines = await logLines(() => w.deliverEvents());
    expect(problems(lines, snap)).toHaveLength(1);
    expect(w.emu.published()).toEqual([]);
    expect(w.emu.calls({ action: 'PutEvents' })).toEqual([]);
  });
});
