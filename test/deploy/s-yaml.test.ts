// s.yaml is what `s deploy` ships: check its structure against the code and the bundles `npm run build` makes.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { HANDLED_EVENT_NAMES, SNAPSHOT_READY_TYPE } from '../../shared/events';
import { FUNCTION_ROLE } from '../../scripts/function-role';
import { parseOrgConfig } from '../../shared/org/scope';

const root = path.resolve(__dirname, '../..');
const requireFromRoot = createRequire(path.join(root, 'package.json'));

interface FcProps {
  functionName: string;
  runtime: string;
  handler: string;
  code: string;
  role: string;
  logConfig?: unknown;
  environmentVariables?: unknown;
  triggers?: Array<{ triggerType: string; triggerConfig: Record<string, unknown> }>;
}
interface SYaml {
  edition: string;
  vars: { role: string; logConfig: Record<string, unknown>; environment: Record<string, string> };
  resources: Record<string, { component: string; props: FcProps }>;
}

// s.yaml uses ${vars.x} only in values; the yaml package leaves them as text, so resolve the few the checks need.
function loadSYaml(): SYaml {
  const doc = parse(fs.readFileSync(path.join(root, 's.yaml'), 'utf8')) as SYaml;
  for (const r of Object.values(doc.resources)) if (r.props.role === '${vars.role}') r.props.role = doc.vars.role;
  return doc;
}

const s = loadSYaml();
const resources = Object.entries(s.resources);
const trigger = (type: string) =>
  resources.flatMap(([, r]) => r.props.triggers ?? []).find((t) => t.triggerType === type);

function run(cmd: string, args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: root, env: process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

describe('s.yaml', () => {
  it('is a Serverless Devs edition 3.0.0 project with at least the on-tag and share functions', () => {
    expect(s.edition).toBe('3.0.0');
    expect(Object.keys(s.resources)).toEqual(expect.arrayContaining(['on-tag', 'share']));
  });

  it.each(resources)('deploys %s with fc3 on nodejs20, handler index.handler, from its bundle folder', (name, r) => {
    expect(r.component).toBe('fc3');
    expect(r.props.runtime).toBe('nodejs20');
    expect(r.props.handler).toBe('index.handler');
    expect(path.normalize(r.props.code)).toBe(path.join('dist', name));
    expect(fs.existsSync(path.join(root, 'functions', name, 'index.ts')), `functions/${name}/index.ts`).toBe(true);
  });

  it.each(resources)("finds %s's handler exported by the built bundle (run npm run build first)", (name) => {
    const bundle = path.join(root, 'dist', name, 'index.js');
    expect(fs.existsSync(bundle), `${bundle} is missing: run npm run build`).toBe(true);
    const mod = requireFromRoot(bundle) as { handler?: unknown };
    expect(typeof mod.handler).toBe('function');
  });

  it('filters the EventBridge trigger to ECS ActionTrail calls and exactly the event names on-tag handles', () => {
    const pattern = JSON.parse(String(trigger('eventbridge')?.triggerConfig.eventRuleFilterPattern));
    expect(pattern.source).toEqual(['acs.ecs']);
    expect(pattern.type).toContain('ecs:ActionTrail:ApiCall');
    expect(pattern.data.eventName).toEqual([...HANDLED_EVENT_NAMES]);
  });

  it('gives the EventBridge trigger an explicit retry strategy over a day that drops (or dead-letters) an exhausted event', () => {
    const run = trigger('eventbridge')?.triggerConfig.runOptions as {
      retryStrategy?: { PushRetryStrategy?: string };
      errorsTolerance?: string;
      mode?: string;
    };
    expect(run).toMatchObject({
      mode: 'event-driven',
      retryStrategy: { PushRetryStrategy: 'EXPONENTIAL_DECAY_RETRY' },
      errorsTolerance: 'ALL',
    });
    expect(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).toContain('EXPONENTIAL_DECAY_RETRY');
  });

  it("routes ECS's snapshot-ready event to on-tag, the event its parser reads", () => {
    const ready = (s.resources['on-tag'].props.triggers ?? []).find((t) =>
      String(t.triggerConfig.eventRuleFilterPattern ?? '').includes('CreateSnapshotCompleted'),
    );
    expect(JSON.parse(String(ready?.triggerConfig.eventRuleFilterPattern))).toEqual({
      source: ['acs.ecs'],
      type: [SNAPSHOT_READY_TYPE],
    });
  });

  it("deploys organisation mode's worker under the name the coordinator invokes, with an explicit async configuration", () => {
    const worker = s.resources['reconcile-worker']?.props as FcProps & { asyncInvokeConfig?: Record<string, any> };
    expect(worker.functionName).toBe(parseOrgConfig({ SHARE_ACCOUNTS: 'all' })!.worker);
    expect(worker.triggers ?? []).toEqual([]); // invoked only by the coordinator and by itself
    const cfg = worker.asyncInvokeConfig!;
    expect(cfg.maxAsyncRetryAttempts).toBeGreaterThanOrEqual(1);
    expect(cfg.maxAsyncEventAgeInSeconds).toBeGreaterThanOrEqual(60);
    expect(cfg.maxAsyncEventAgeInSeconds).toBeLessThanOrEqual(604_800); // FC's documented range
    const destination = String(cfg.destinationConfig?.onFailure?.destination);
    // The failure queue is the one the organisation add-on lets the function role send to.
    const addOn = JSON.parse(fs.readFileSync(path.join(root, 'shared/policies/function-role-org.json'), 'utf8'));
    const mns = addOn.Statement.find((x: { Action: string }) => x.Action === 'mns:SendMessage');
    const queue = String(mns.Resource).split(':').pop();
    expect(destination).toMatch(/^acs:mns:\$\{vars\.region\}:\$\{config\('AccountID'\)\}:/);
    expect(destination.endsWith(`:${queue}`)).toBe(true);
    const invoke = addOn.Statement.find((x: { Action: string }) => x.Action === 'fc:InvokeFunction');
    expect(invoke.Resource).toBe(`acs:fc:*:*:functions/${worker.functionName}`);
  });

  it('puts the EventBridge trigger on the on-tag function', () => {
    expect(s.resources['on-tag'].props.triggers?.map((t) => t.triggerType)).toContain('eventbridge');
  });

  it('gives the timer trigger a six-field cron expression and a JSON payload', () => {
    const cfg = trigger('timer')?.triggerConfig ?? {};
    expect(String(cfg.cronExpression).trim().split(/\s+/)).toHaveLength(6);
    expect(() => JSON.parse(String(cfg.payload))).not.toThrow();
  });

  it('runs every function under the role the end-to-end suite builds from the shipped policy', () => {
    for (const [, r] of resources) expect(r.props.role).toBe(FUNCTION_ROLE);
  });

  // The README tells users which role to create: it must be the one s.yaml names.
  it('names the same function role as the README', () => {
    expect(fs.readFileSync(path.join(root, 'README.md'), 'utf8')).toContain(s.vars.role);
  });

  // Failures reach a person: every function's stdout (the JSON records the README's query and alert read) goes to a
  // Log Service logstore, one line one record, with FC's request and instance metrics.
  it.each(resources)("ships %s's log to Log Service, one line one record", (_name, r) => {
    expect(r.props.logConfig).toBe('${vars.logConfig}');
    expect(s.vars.logConfig).toMatchObject({
      enableRequestMetrics: true,
      enableInstanceMetrics: true,
      logBeginRule: 'None',
    });
    expect(typeof s.vars.logConfig.project).toBe('string');
    expect(typeof s.vars.logConfig.logstore).toBe('string');
    expect(r.props.environmentVariables).toBe('${vars.environment}');
    expect(Object.keys(s.vars.environment)).toContain('SHARE_NOTIFY_EVENT_BUS');
  });

  it('renders offline with `s preview` to the same function names', async () => {
    const r = await run(path.join(root, 'node_modules/.bin/s'), ['preview', '--silent', '-o', 'json']);
    expect(r.code, r.stderr).toBe(0);
    const rendered = JSON.parse(r.stdout) as SYaml;
    const names = (doc: SYaml) => Object.values(doc.resources).map((x) => x.props.functionName);
    expect(names(rendered)).toEqual(names(s));
    expect(Object.values(rendered.resources).map((x) => x.props.role)).toEqual(resources.map(() => FUNCTION_ROLE));
    for (const r of Object.values(rendered.resources)) expect(r.props.logConfig).toEqual(s.vars.logConfig);
  });
});
