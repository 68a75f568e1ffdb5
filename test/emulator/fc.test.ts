// Function Compute 3.0 InvokeFunction in the emulator, called with the real @alicloud/fc20230330 client over HTTP:
// tiny bundles written to a temp dir run in child processes (sync and async), async events are delivered at least
// once, retried, expired and sent to an onFailure function; RAM, the signature and fault injection apply as for
// every other product, and a function's calls are signed with its role's credentials.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import Fc, { InvokeFunctionHeaders, InvokeFunctionRequest } from '@alicloud/fc20230330';
import { $OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { Emulator } from '../../scripts/emulator/api';
import { startEmulator } from '../../scripts/emulator/server';
import { DEMO } from '../../scripts/emulator/demo-state';
import { buildFunction } from '../../scripts/build';
import { FUNCTION_ROLE } from '../../scripts/function-role';
import { startWorld } from '../helpers/world';
import type { EmulatorState, FcFunction } from '../../scripts/emulator/types';
import { hostOf } from '../helpers/sdk';
import { errorOf } from '../helpers/error-of';
import { A, B, twoAccounts } from './iam-fixture';

const REGION = 'cn-hangzhou';
const USER = { accessKeyId: 'LTAIfcReaderKey00001', accessKeySecret: 'fcReaderSecret' };
const ROLE = 'fc-role';
const req = createRequire(__filename);
const FC_SDK = JSON.stringify(req.resolve('@alicloud/fc20230330'));
const ECS_SDK = JSON.stringify(req.resolve('@alicloud/ecs20140526'));
const CORE_SDK = JSON.stringify(req.resolve('@alicloud/openapi-core'));

// The bundles: each an index.js exporting `handler`, as dist/<fn>/ holds after `npm run build`.
const CLIENT = `
const { $OpenApiUtil } = require(${CORE_SDK});
const config = (c) => new $OpenApiUtil.Config({
  accessKeyId: c.accessKeyId, accessKeySecret: c.accessKeySecret, securityToken: c.securityToken,
  endpoint: process.env.ALIBABA_CLOUD_ENDPOINT_OVERRIDE.replace(/^https?:\\/\\//, ''), protocol: 'http', regionId: process.env.FC_REGION,
});`;
const BUNDLES: Record<string, string> = {
  echo: `exports.handler = async (event, context) => ({
  event: event.toString(),
  isBuffer: Buffer.isBuffer(event),
  context: { requestId: context.requestId, accountId: context.accountId, region: context.region,
    function: context.function, credentials: context.credentials ? Object.keys(context.credentials).sort() : null },
  env: { endpoint: process.env.ALIBABA_CLOUD_ENDPOINT_OVERRIDE, region: process.env.FC_REGION,
    account: process.env.FC_ACCOUNT_ID, name: process.env.FC_FUNCTION_NAME, custom: process.env.CUSTOM,
    inheritedKey: process.env.ALIBABA_CLOUD_ACCESS_KEY_ID || null },
});`,
  throws: `exports.handler = async () => { console.log('about to fail'); const e = new Error('boom'); e.name = 'BoomError'; throw e; };`,
  sleeps: `exports.handler = () => new Promise((resolve) => setTimeout(() => resolve('late'), 10000));`,
  nap: `exports.handler = () => new Promise((resolve) => setTimeout(() => resolve('rested'), 150));`,
  chain: `${CLIENT}
const Fc = require(${FC_SDK});
const { Readable } = require('node:stream');
exports.handler = async (event, context) => {
  const n = JSON.parse(event.toString()).n;
  if (n >= 1) return { n };
  const client = new Fc.default(config(context.credentials));
  const res = await client.invokeFunctionWithOptions(process.env.FC_FUNCTION_NAME,
    new Fc.InvokeFunctionRequest({ body: Readable.from(Buffer.from(JSON.stringify({ n: n + 1 }))) }),
    new Fc.InvokeFunctionHeaders({ xFcInvocationType: 'Async' }), {});
  return { n, next: res.statusCode };
};`,
  ecs: `${CLIENT}
const Ecs = require(${ECS_SDK});
exports.handler = async (event, context) => {
  const client = new Ecs.default(config(context.credentials));
  const res = await client.describeRegions(new Ecs.DescribeRegionsRequest({}));
  return { regions: res.body.regions.region.map((r) => r.regionId) };
};`,
};

let codeRoot: string;
const fn = (functionName: string, bundle: string, extra: Partial<FcFunction> = {}): FcFunction => ({
  accountId: A.uid,
  region: REGION,
  functionName,
  codeDir: path.join(codeRoot, bundle),
  role: ROLE,
  ...extra,
});

const doc = (...Statement: unknown[]) => JSON.stringify({ Version: '1', Statement });

function state(): EmulatorState {
  const s = twoAccounts();
  s.accounts[0].users = [
    {
      userName: 'reader',
      accessKeys: [{ id: USER.accessKeyId, secret: USER.accessKeySecret }],
      attachedPolicies: [{ policyName: 'ReadOnlyAccess', policyType: 'System' }],
    },
  ];
  s.roles = [
    {
      accountId: A.uid,
      roleName: ROLE,
      assumeRolePolicyDocument: doc({
        Effect: 'Allow',
        Action: 'sts:AssumeRole',
        Principal: { Service: ['fc.aliyuncs.com'] },
      }),
      attachedPolicies: [
        { policyName: 'AliyunECSReadOnlyAccess', policyType: 'System' },
        { policyName: 'fc-invoke', policyType: 'Custom' },
      ],
    },
  ];
  s.policies = [
    {
      accountId: A.uid,
      policyName: 'fc-invoke',
      defaultVersion: 'v1',
      versions: [
        {
          versionId: 'v1',
          document: doc({ Effect: 'Allow', Action: 'fc:InvokeFunction', Resource: `acs:fc:*:${A.uid}:functions/*` }),
        },
      ],
    },
  ];
  s.functions = [
    fn('echo', 'echo', { environment: { CUSTOM: 'from-function', FC_REGION: REGION } }),
    fn('echo-norole', 'echo', { role: undefined }),
    fn('sink', 'echo'),
    fn('boom', 'throws', {
      asyncConfig: {
        maxAsyncRetryAttempts: 2,
        onFailure: `acs:fc:${REGION}:${A.uid}:functions/sink`,
      },
    }),
    fn('slow', 'sleeps', { timeoutSeconds: 0.5, asyncConfig: { maxAsyncRetryAttempts: 0 } }),
    fn('nap', 'nap'),
    fn('stale', 'echo', {
      asyncConfig: { maxAsyncEventAgeInSeconds: 0.05, onFailure: `acs:fc:${REGION}:${A.uid}:functions/sink` },
    }),
    fn('chain', 'chain'),
    fn('ecs-caller', 'ecs'),
    // The same name in two regions of one account: behind an endpoint override the emulator cannot tell which.
    fn('twin', 'echo'),
    fn('twin', 'echo', { region: 'cn-shanghai' }),
    { ...fn('b-only', 'echo'), accountId: B.uid },
  ];
  s.options = { ...s.options, fcAsyncDuplicateRate: 0, fcAsyncDelayMs: 30, fcAsyncRetryDelayMs: 20 };
  return s;
}

let emu: Emulator;
beforeAll(async () => {
  codeRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'fc-test-'));
  for (const [name, source] of Object.entries(BUNDLES)) {
    fs.mkdirSync(path.join(codeRoot, name));
    fs.writeFileSync(path.join(codeRoot, name, 'index.js'), source);
  }
  emu = await startEmulator({ state: state() });
});
afterAll(async () => {
  await emu.stop();
  fs.rmSync(codeRoot, { recursive: true, force: true });
});
beforeEach(async () => {
  await emu.waitForFcIdle(20_000);
  emu.setState(state());
  emu.clearFaults();
  emu.clearCalls();
});

interface Creds {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

const client = (creds: Creds = A) =>
  new Fc(
    new $OpenApiUtil.Config({
      accessKeyId: creds.accessKeyId,
      accessKeySecret: creds.accessKeySecret,
      securityToken: creds.securityToken,
      endpoint: hostOf(emu.endpoint),
      protocol: 'http',
      regionId: REGION,
      readTimeout: 30_000,
      // The emulator answers in this process, which forks the functions: on a loaded machine a connection may wait.
      connectTimeout: 30_000,
    }),
  );

async function invoke(
  name: string,
  event: unknown,
  opts: { type?: 'Sync' | 'Async'; creds?: Creds; logType?: 'Tail'; raw?: Buffer } = {},
) {
  const bytes = opts.raw ?? Buffer.from(typeof event === 'string' ? event : JSON.stringify(event));
  const res = await client(opts.creds).invokeFunctionWithOptions(
    name,
    new InvokeFunctionRequest({ body: Readable.from([bytes]) }),
    new InvokeFunctionHeaders({ xFcInvocationType: opts.type, xFcLogType: opts.logType }),
    new $dara.RuntimeOptions({}),
  );
  const chunks: Buffer[] = [];
  for await (const c of res.body as Readable) chunks.push(Buffer.from(c));
  const text = Buffer.concat(chunks).toString('utf8');
  return { status: res.statusCode, headers: res.headers ?? {}, text, json: () => JSON.parse(text) };
}

describe('synchronous invocation', () => {
  it('runs the bundle with the body as a Buffer, the FC context and the function environment', async () => {
    const res = await invoke('echo', { hello: 'world' });
    expect(res.status).toBe(200);
    const requestId = res.headers['x-fc-request-id'];
    expect(requestId).toBeTruthy();
    expect(res.headers['x-fc-error-type']).toBeUndefined();
    const out = res.json();
    expect(out.event).toBe('{"hello":"world"}');
    expect(out.isBuffer).toBe(true);
    expect(out.context).toEqual({
      requestId,
      accountId: A.uid,
      region: REGION,
      function: { name: 'echo', handler: 'index.handler', timeout: 60 },
      credentials: ['accessKeyId', 'accessKeySecret', 'securityToken'],
    });
    expect(out.env).toMatchObject({
      endpoint: emu.endpoint,
      region: REGION,
      account: A.uid,
      name: 'echo',
      custom: 'from-function',
    });
    // The role's key, not one inherited from the emulator's process.
    expect(out.env.inheritedKey).toMatch(/^STS\./);

    const [record] = emu.fcInvocations({ requestId });
    expect(record).toMatchObject({
      functionName: 'echo',
      accountId: A.uid,
      region: REGION,
      type: 'Sync',
      attempt: 1,
      duplicate: false,
      payload: { hello: 'world' },
      status: 'succeeded',
      result: out,
    });
    expect(record.startedAt && record.endedAt).toBeTruthy();
    const [call] = emu.calls({ product: 'fc' });
    expect(call).toMatchObject({ action: 'InvokeFunction', status: 200, requestId, caller: { accountId: A.uid } });
  });

  it('gives no credentials to a function without a role', async () => {
    const out = (await invoke('echo-norole', 'x')).json();
    expect(out.context.credentials).toBeNull();
    expect(out.env.inheritedKey).toBeNull();
  });

  it('answers a thrown error with 200, x-fc-error-type UnhandledInvocationError and the error body', async () => {
    const res = await invoke('boom', {}, { logType: 'Tail' });
    expect(res.status).toBe(200);
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.json()).toMatchObject({ errorMessage: 'boom', errorType: 'BoomError' });
    expect(Buffer.from(res.headers['x-fc-log-result'], 'base64').toString()).toContain('about to fail');
    const [record] = emu.fcInvocations({ functionName: 'boom' });
    expect(record).toMatchObject({ status: 'failed', error: { type: 'BoomError', message: 'boom' } });
  });

  it('kills a handler that runs past its timeout and answers as FC does', async () => {
    const t0 = Date.now();
    const res = await invoke('slow', {});
    expect(Date.now() - t0).toBeLessThan(5_000);
    expect(res.headers['x-fc-error-type']).toBe('UnhandledInvocationError');
    expect(res.json().errorMessage).toMatch(/^Function time out after 0.5 seconds/);
    expect(emu.fcInvocations({ functionName: 'slow' })[0]).toMatchObject({
      status: 'failed',
      error: { type: 'FunctionTimeout' },
    });
  });

  it('signs the function calls with its role: the ECS call is attributed to the role in the call log', async () => {
    const out = (await invoke('ecs-caller', {})).json();
    expect(out.regions).toContain(REGION);
    const [ecs] = emu.calls({ product: 'ecs', action: 'DescribeRegions' });
    expect(ecs.status).toBe(200);
    expect(ecs.caller).toMatchObject({ accountId: A.uid, type: 'role' });
    expect(ecs.caller?.name).toMatch(new RegExp(`^${ROLE}:fc-`));
  });
});

describe('refusals', () => {
  it('refuses a payload over the documented limit with EntityTooLarge (async 128 KB)', async () => {
    const big = Buffer.alloc(128 * 1024 + 1, 'a');
    const err = await errorOf(invoke('echo', null, { type: 'Async', raw: big }));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('EntityTooLarge');
    expect(err.message).toContain('131072 bytes');
    // The same bytes are fine synchronously (32 MB).
    expect((await invoke('echo', null, { raw: big })).status).toBe(200);
  });

  it("answers a missing function, and another account's, with 404 FunctionNotFound in FC shape", async () => {
    for (const name of ['nope', 'b-only']) {
      const err = await errorOf(invoke(name, {}));
      expect(err.statusCode).toBe(404);
      expect(err.code).toBe('FunctionNotFound');
      expect(Object.keys(err.data).sort()).toEqual(['Code', 'Message', 'RequestId']);
    }
  });

  it('says so when the name exists in several regions of the account', async () => {
    const err = await errorOf(invoke('twin', {}));
    expect(err.statusCode).toBe(400);
    expect(err.code).toBe('Emulator.AmbiguousFunction');
    expect(err.message).toContain('cn-hangzhou, cn-shanghai');
  });

  it('denies a RAM user without fc:InvokeFunction with 403 AccessDenied', async () => {
    const before = emu.fcInvocations().length;
    const err = await errorOf(invoke('echo', {}, { creds: USER }));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('AccessDenied');
    expect(err.accessDeniedDetail?.AuthAction).toBe('fc:InvokeFunction');
    expect(emu.fcInvocations().length).toBe(before);
    // RAM is asked before existence: a missing name tells the denied user nothing more.
    expect((await errorOf(invoke('nope', {}, { creds: USER }))).code).toBe('AccessDenied');
  });

  it('checks the signature: a wrong secret is refused with SignatureNotMatch', async () => {
    const before = emu.fcInvocations().length;
    const err = await errorOf(invoke('echo', {}, { creds: { ...A, accessKeySecret: 'wrong' } }));
    expect(err.statusCode).toBe(403);
    expect(err.code).toBe('SignatureNotMatch');
    expect(emu.fcInvocations().length).toBe(before);
  });
});

describe('asynchronous invocation', () => {
  it('answers 202 at once and delivers the event later', async () => {
    const res = await invoke('echo', { n: 1 }, { type: 'Async' });
    expect(res.status).toBe(202);
    const requestId = res.headers['x-fc-request-id'];
    expect(emu.fcInvocations({ requestId })[0].status).toBe('queued');
    await emu.waitForFcIdle(10_000);
    const records = emu.fcInvocations({ requestId });
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({ type: 'Async', status: 'succeeded', attempt: 1, payload: { n: 1 } });
    expect((records[0].result as { context: { requestId: string } }).context.requestId).toBe(requestId);
  });

  it('retries a failing event, records the failure and invokes the onFailure function with the destination payload', async () => {
    const res = await invoke('boom', { job: 7 }, { type: 'Async' });
    const requestId = res.headers['x-fc-request-id'];
    await emu.waitForFcIdle(10_000);
    const attempts = emu.fcInvocations({ requestId });
    expect(attempts.map((a) => [a.attempt, a.status])).toEqual([
      [1, 'failed'],
      [2, 'failed'],
      [3, 'failed'],
    ]);
    const [failure] = emu.fcFailures().filter((f) => f.requestId === requestId);
    expect(failure).toMatchObject({
      functionName: 'boom',
      reason: 'retriesExhausted',
      attempts: 3,
      error: { type: 'BoomError', message: 'boom' },
      destination: `acs:fc:${REGION}:${A.uid}:functions/sink`,
    });
    const [delivered] = emu.fcInvocations({ functionName: 'sink', requestId: failure.destinationRequestId });
    expect(delivered.status).toBe('succeeded');
    const sent = JSON.parse((delivered.result as { event: string }).event);
    expect(sent).toMatchObject({
      requestContext: {
        requestId,
        functionArn: `acs:fc:${REGION}:${A.uid}:functions/boom`,
        condition: 'UnhandledInvocationError',
        approximateInvokeCount: 3,
      },
      requestPayload: '{"job":7}',
      responseContext: { statusCode: 200, functionError: 'boom' },
    });
    expect(JSON.parse(sent.responsePayload)).toMatchObject({ errorType: 'BoomError' });
    expect(typeof sent.timestamp).toBe('number');
  });

  it('does not retry past maxAsyncRetryAttempts 0 (a timeout is a failure like any other)', async () => {
    const requestId = (await invoke('slow', {}, { type: 'Async' })).headers['x-fc-request-id'];
    await emu.waitForFcIdle(10_000);
    expect(emu.fcInvocations({ requestId }).map((r) => r.status)).toEqual(['failed']);
    expect(emu.fcFailures().find((f) => f.requestId === requestId)).toMatchObject({
      reason: 'retriesExhausted',
      attempts: 1,
      error: { type: 'FunctionTimeout' },
    });
  });

  it('drops an event older than maxAsyncEventAgeInSeconds and reports it', async () => {
    emu.setOptions({ fcAsyncDelayMs: 200 });
    const requestId = (await invoke('stale', { old: true }, { type: 'Async' })).headers['x-fc-request-id'];
    await emu.waitForFcIdle(10_000);
    expect(emu.fcInvocations({ requestId }).map((r) => r.status)).toEqual(['expired']);
    const failure = emu.fcFailures().find((f) => f.requestId === requestId);
    expect(failure).toMatchObject({ reason: 'expired', attempts: 0 });
    const [sink] = emu.fcInvocations({ functionName: 'sink', requestId: failure?.destinationRequestId });
    expect(JSON.parse((sink.result as { event: string }).event).requestContext.condition).toBe('EventExpired');
  });

  it('delivers twice when the duplicate rate is 1 (at least once)', async () => {
    emu.setOptions({ fcAsyncDuplicateRate: 1 });
    const requestId = (await invoke('echo', { twice: true }, { type: 'Async' })).headers['x-fc-request-id'];
    await emu.waitForFcIdle(10_000);
    const runs = emu.fcInvocations({ requestId });
    expect(runs.map((r) => [r.duplicate, r.status])).toEqual([
      [false, 'succeeded'],
      [true, 'succeeded'],
    ]);
  });

  it('waitForFcIdle waits for a chain: a function that invokes itself async keeps FC busy', async () => {
    const requestId = (await invoke('chain', { n: 0 }, { type: 'Async' })).headers['x-fc-request-id'];
    await emu.waitForFcIdle(15_000);
    const runs = emu.fcInvocations({ functionName: 'chain' });
    expect(runs).toHaveLength(2);
    expect(runs[0]).toMatchObject({ requestId, status: 'succeeded', result: { n: 0, next: 202 } });
    expect(runs[1]).toMatchObject({ status: 'succeeded', payload: { n: 1 }, result: { n: 1 } });
    // The second call came from the child, signed with the role's credentials.
    const calls = emu.calls({ product: 'fc' });
    expect(calls[1].caller).toMatchObject({ type: 'role', accountId: A.uid });
  });

  it('runs at most fcConcurrency children at once; the rest wait', async () => {
    emu.setOptions({ fcConcurrency: 1 });
    for (let i = 0; i < 3; i++) await invoke('nap', { i }, { type: 'Async' });
    await emu.waitForFcIdle(15_000);
    const runs = emu
      .fcInvocations({ functionName: 'nap' })
      .map((r) => [Date.parse(r.startedAt!), Date.parse(r.endedAt!)])
      .sort((a, b) => a[0] - b[0]);
    expect(runs).toHaveLength(3);
    for (let i = 1; i < runs.length; i++) expect(runs[i][0]).toBeGreaterThanOrEqual(runs[i - 1][1]);
  });

  it('fault injection: unavailableAfter queues the event, then answers 503; the caller retries and it runs twice', async () => {
    emu.addFault({ action: 'InvokeFunction', product: 'fc', kind: 'unavailableAfter', nth: 1 });
    const err = await errorOf(invoke('echo', { retry: 'me' }, { type: 'Async' }));
    expect(err.statusCode).toBe(503);
    expect(err.code).toBe('ServiceUnavailable');
    const again = await invoke('echo', { retry: 'me' }, { type: 'Async' });
    expect(again.status).toBe(202);
    await emu.waitForFcIdle(10_000);
    const runs = emu.fcInvocations({ functionName: 'echo' }).filter((r) => JSON.stringify(r.payload).includes('retry'));
    expect(runs.map((r) => [r.payload, r.status])).toEqual([
      [{ retry: 'me' }, 'succeeded'],
      [{ retry: 'me' }, 'succeeded'],
    ]);
    const calls = emu.calls({ product: 'fc' });
    expect(calls.map((c) => [c.status, c.applied])).toEqual([
      [503, true],
      [202, undefined],
    ]);
  });
});

describe('admin API and registration', () => {
  it('registers a function and serves invocations, failures and idleness over /_emulator/fc', async () => {
    const admin = (route: string, init?: RequestInit): Promise<any> =>
      fetch(`${emu.endpoint}/_emulator/fc/${route}`, init).then((r) => r.json());
    const registered = await admin('functions', {
      method: 'POST',
      body: JSON.stringify(fn('late-echo', 'echo')),
    });
    expect(registered.function.functionName).toBe('late-echo');
    const requestId = (await invoke('late-echo', { via: 'admin' }, { type: 'Async' })).headers['x-fc-request-id'];
    expect(await admin('idle', { method: 'POST', body: JSON.stringify({ timeoutMs: 10_000 }) })).toEqual({
      idle: true,
    });
    const { invocations } = await admin(`invocations?requestId=${requestId}`);
    expect(invocations).toHaveLength(1);
    expect(invocations[0]).toMatchObject({ functionName: 'late-echo', status: 'succeeded' });
    expect(Array.isArray((await admin('failures')).failures)).toBe(true);
    const bad = await fetch(`${emu.endpoint}/_emulator/fc/functions`, {
      method: 'POST',
      body: JSON.stringify({ ...fn('x', 'echo'), codeDir: 'relative/dir' }),
    });
    expect(bad.status).toBe(400);
  });

  it('replaces a registered function by account, region and name', () => {
    emu.registerFunction(fn('echo', 'echo', { timeoutSeconds: 5 }));
    const echoes = (emu.state.functions ?? []).filter((f) => f.functionName === 'echo');
    expect(echoes).toHaveLength(1);
    expect(echoes[0].timeoutSeconds).toBe(5);
  });
});

describe('a built bundle of the product', () => {
  it('runs dist/share as FC would: the share is made with the function role, and the writes are its', async () => {
    const w = await startWorld();
    try {
      const out = fs.mkdtempSync(path.join(os.tmpdir(), 'fc-dist-'));
      const { file } = await buildFunction('share', out);
      w.emu.setOptions({ fcAsyncDuplicateRate: 0 });
      w.emu.registerFunction({
        accountId: DEMO.owner.uid,
        region: DEMO.region,
        functionName: 'share',
        codeDir: path.dirname(file),
        role: FUNCTION_ROLE,
        environment: { SHARE_ALLOW_EXTERNAL: 'true', SHARE_LOG_LEVEL: 'off' },
      });
      const fc = new Fc(
        new $OpenApiUtil.Config({
          accessKeyId: DEMO.owner.accessKeyId,
          accessKeySecret: DEMO.owner.accessKeySecret,
          endpoint: hostOf(w.emu.endpoint),
          protocol: 'http',
          regionId: DEMO.region,
          readTimeout: 60_000,
        }),
      );
      w.emu.state.snapshots.find((x) => x.snapshotId === DEMO.snapshots.plain)!.tags = {
        'share-with': DEMO.rdRecipient.uid,
      };
      w.emu.clearCalls();
      const res = await fc.invokeFunctionWithOptions(
        'share',
        new InvokeFunctionRequest({
          body: Readable.from([Buffer.from(JSON.stringify({ resourceId: DEMO.snapshots.plain, region: DEMO.region }))]),
        }),
        new InvokeFunctionHeaders({}),
        new $dara.RuntimeOptions({}),
      );
      const chunks: Buffer[] = [];
      for await (const c of res.body as Readable) chunks.push(Buffer.from(c));
      const summary = JSON.parse(Buffer.concat(chunks).toString('utf8'));
      expect(res.headers?.['x-fc-error-type']).toBeUndefined();
      expect(['shared', 'pending']).toContain(summary.results[0].outcome);
      const writes = w.emu.writes();
      expect(writes.length).toBeGreaterThan(0);
      for (const c of writes) expect(c.caller).toMatchObject({ accountId: DEMO.owner.uid, type: 'role' });
      fs.rmSync(out, { recursive: true, force: true });
    } finally {
      await w.stop();
    }
  });
});
