// The server core through the real SDKs: dispatch, error shapes, required parameters, RAM authorization and
// handler failures; plus the service credentials Function Compute would hand a function.
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Kms from '@alicloud/kms20160120';
import * as $Ram from '@alicloud/ram20150501';
import { ApiError, DEMO, demoState, startEmulator, type Emulator, type EmulatorState } from '../../scripts/emulator';
import { sdkClients, type Creds } from '../helpers/sdk';

const OWNER: Creds = { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret };
const NOBODY: Creds = { accessKeyId: 'LTAIuserNoPolicy01', accessKeySecret: 'userNoPolicySecret' };
const READER: Creds = { accessKeyId: 'LTAIuserReader0001', accessKeySecret: 'userReaderSecret' };

const doc = (statements: unknown[]) => JSON.stringify({ Version: '1', Statement: statements });

function testState(): EmulatorState {
  const s = demoState();
  const o = DEMO.owner.uid;
  s.accounts[0].users = [
    { userName: 'nobody', accessKeys: [{ id: NOBODY.accessKeyId, secret: NOBODY.accessKeySecret }] },
    {
      userName: 'reader',
      accessKeys: [{ id: READER.accessKeyId, secret: READER.accessKeySecret }],
      attachedPolicies: [{ policyName: 'describe-but-not-images', policyType: 'Custom' }],
    },
  ];
  s.policies = [
    {
      accountId: o,
      policyName: 'describe-but-not-images',
      defaultVersion: 'v1',
      versions: [
        {
          versionId: 'v1',
          document: doc([
            { Effect: 'Allow', Action: 'ecs:Describe*', Resource: '*' },
            { Effect: 'Deny', Action: 'ecs:DescribeImages', Resource: '*' },
          ]),
        },
      ],
    },
  ];
  s.roles = [
    {
      accountId: o,
      roleName: 'fc-role',
      assumeRolePolicyDocument: doc([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['fc.aliyuncs.com'] } },
      ]),
    },
    {
      accountId: o,
      roleName: 'ecs-only',
      assumeRolePolicyDocument: doc([
        { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: ['ecs.aliyuncs.com'] } },
      ]),
    },
  ];
  return s;
}

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

describe('emulator server', () => {
  let emu: Emulator;
  let order: string[];
  beforeAll(async () => {
    order = [];
    emu = await startEmulator({
      state: testState(),
      actions: {
        sts: {
          Explode: {
            handler: () => {
              throw new TypeError('boom');
            },
            noAuthorization: true,
          },
          Refuse: {
            handler: () => {
              throw new ApiError(409, 'Conflict.Test', 'no', { Extra: 1 }, { 'x-test': 'yes' });
            },
            noAuthorization: true,
          },
          Slow: {
            noAuthorization: true,
            handler: async (ctx) => {
              order.push(`start ${ctx.params.N}`);
              await new Promise((r) => setTimeout(r, 30));
              order.push(`end ${ctx.params.N}`);
              return { N: ctx.params.N, Region: ctx.region };
            },
          },
        },
      },
    });
  });
  afterAll(async () => {
    await emu.stop();
  });

  describe('responses', () => {
    it('answers success with a JSON body carrying RequestId', async () => {
      const { ram } = sdkClients(emu.endpoint, OWNER);

      const r = await ram.listRoles(new $Ram.ListRolesRequest({}));

      expect(r.statusCode).toBe(200);
      expect(r.headers?.['content-type']).toBe('application/json;charset=utf-8');
      expect(r.body?.requestId).toMatch(/^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$/);
    });

    it('answers errors with exactly RequestId, HostId, Code, Message and Recommend', async () => {
      const { ram } = sdkClients(emu.endpoint, OWNER);

      const err = await failure(ram.getRole(new $Ram.GetRoleRequest({})));

      expect(Object.keys(err.data).sort()).toEqual(['Code', 'HostId', 'Message', 'Recommend', 'RequestId']);
      expect(err.data.HostId).toBe('ram.aliyuncs.com');
      expect(err.requestId).toBe(err.data.RequestId);
    });

    it('names the missing required parameter in a 400 MissingParameter', async () => {
      const { ram } = sdkClients(emu.endpoint, OWNER);

      const err = await failure(ram.getRole(new $Ram.GetRoleRequest({})));

      expect(err.code).toBe('MissingParameter');
      expect(err.statusCode).toBe(400);
      expect(err.data.Message).toBe(
        'The input parameter "RoleName" that is mandatory for processing this request is not supplied.',
      );
    });

    it('rejects an unknown action with 404 InvalidAction.NotFound', async () => {
      const { call } = sdkClients(emu.endpoint, OWNER);

      const err = await failure(call('DescribeEverything', '2014-05-26', {}));

      expect(err.code).toBe('InvalidAction.NotFound');
      expect(err.statusCode).toBe(404);
    });

    it('rejects an unknown API version with 400 InvalidVersion', async () => {
      const { call } = sdkClients(emu.endpoint, OWNER);

      const err = await failure(call('DescribeSnapshots', '2099-01-01', {}));

      expect(err.code).toBe('InvalidVersion');
      expect(err.statusCode).toBe(400);
    });

    it("returns a handler's ApiError with its status, code, extra fields and headers", async () => {
      const { call } = sdkClients(emu.endpoint, OWNER);

      const err = await failure(call('Refuse', '2015-04-01', {}));

      expect(err.statusCode).toBe(409);
      expect(err.code).toBe('Conflict.Test');
      expect(err.data.Extra).toBe(1);
    });

    it('turns any other handler failure into 500 InternalError', async () => {
      const { call } = sdkClients(emu.endpoint, OWNER);

      const err = await failure(call('Explode', '2015-04-01', {}));

      expect(err.name).toBe('ServerError');
      expect(err.code).toBe('InternalError');
      expect(err.statusCode).toBe(500);
    });

    it('passes RegionId to the handler, defaulting to cn-hangzhou', async () => {
      const { call } = sdkClients(emu.endpoint, OWNER);

      const given = await call('Slow', '2015-04-01', { N: '0', RegionId: 'cn-shanghai' });
      const absent = await call('Slow', '2015-04-01', { N: '0' });

      expect(given.Region).toBe('cn-shanghai');
      expect(absent.Region).toBe('cn-hangzhou');
    });

    it('runs one handler at a time even when handlers are asynchronous', async () => {
      const { call } = sdkClients(emu.endpoint, OWNER);
      order.length = 0;

      await Promise.all([call('Slow', '2015-04-01', { N: '1' }), call('Slow', '2015-04-01', { N: '2' })]);

      expect(order.join(',')).toMatch(/^start (\d),end \1,start (\d),end \2$/);
    });
  });

  describe('authorization', () => {
    it('lets root keys do anything', async () => {
      const { ecs } = sdkClients(emu.endpoint, OWNER);

      const r = await ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou' }));

      expect(r.statusCode).toBe(200);
    });

    it('refuses an ECS call by a user without policies: 403 Forbidden.RAM with an implicit-deny AccessDeniedDetail', async () => {
      const { ecs } = sdkClients(emu.endpoint, NOBODY);

      const err = await failure(ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: 'cn-hangzhou' })));

      expect(err.statusCode).toBe(403);
      expect(err.code).toBe('Forbidden.RAM');
      expect(err.accessDeniedDetail).toMatchObject({
        AuthAction: 'ecs:DescribeSnapshots',
        AuthPrincipalType: 'SubUser',
        AuthPrincipalOwnerId: DEMO.owner.uid,
        AuthPrincipalDisplayName: 'nobody',
        NoPermissionType: 'ImplicitDeny',
      });
      expect(typeof err.accessDeniedDetail.EncodedDiagnosticMessage).toBe('string');
    });

    it("answers each product's denial with that product's code", async () => {
      const { ram, kms, rs } = sdkClients(emu.endpoint, NOBODY);

      const ramErr = await failure(ram.listRoles(new $Ram.ListRolesRequest({})));
      const kmsErr = await failure(kms.listKeys(new $Kms.ListKeysRequest({})));
      const rsErr = await failure(rs('ListResourceShares', { ResourceOwner: 'Self' }));

      expect([ramErr.code, kmsErr.code, rsErr.code]).toEqual([
        'NoPermission',
        'Forbidden.NoPermissionError',
        'NoPermission',
      ]);
      expect(kmsErr.data.AccessDeniedDetail.AuthAction).toBe('kms:ListKeys');
    });

    it('allows what an attached policy allows', async () => {
      const { ecs } = sdkClients(emu.endpoint, READER);

      const r = await ecs.describeSnapshots(new $Ecs.DescribeSnapshotsRequest({ regionId: 'cn-hangzhou' }));

      expect(r.statusCode).toBe(200);
    });

    it('reports an explicit Deny as ExplicitDeny', async () => {
      const { ecs } = sdkClients(emu.endpoint, READER);

      const err = await failure(ecs.describeImages(new $Ecs.DescribeImagesRequest({ regionId: 'cn-hangzhou' })));

      expect(err.code).toBe('Forbidden.RAM');
      expect(err.accessDeniedDetail.NoPermissionType).toBe('ExplicitDeny');
    });

    it('checks required parameters before authorization', async () => {
      const { ram } = sdkClients(emu.endpoint, NOBODY);

      const err = await failure(ram.getRole(new $Ram.GetRoleRequest({})));

      expect(err.code).toBe('MissingParameter');
    });
  });

  describe('service credentials', () => {
    it('mints working STS credentials for a role that trusts the service', async () => {
      const creds = emu.issueServiceCredentials(DEMO.owner.uid, 'fc-role');
      const { sts } = sdkClients(emu.endpoint, creds);

      const who = await sts.getCallerIdentity();

      expect(creds.accessKeyId).toMatch(/^STS\./);
      expect(Date.parse(creds.expiration)).toBeGreaterThan(Date.now());
      expect(who.body?.arn).toMatch(new RegExp(`^acs:ram::${DEMO.owner.uid}:assumed-role/fc-role/`));
    });

    it('refuses a role whose trust policy does not name the service', () => {
      expect(() => emu.issueServiceCredentials(DEMO.owner.uid, 'ecs-only')).toThrow(
        /does not trust the service fc.aliyuncs.com/,
      );
    });

    it('refuses an unknown role', () => {
      expect(() => emu.issueServiceCredentials(DEMO.owner.uid, 'missing')).toThrow(ApiError);
    });
  });
});

describe('the emulator command', () => {
  /** Starts `tsx scripts/emulator/cli.ts` with args; resolves with its first stdout block and the process. */
  function startCli(args: string[]) {
    const child = spawn(process.execPath, [require.resolve('tsx/cli'), 'scripts/emulator/cli.ts', ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const output = new Promise<string>((resolve, reject) => {
      let text = '';
      child.stdout.on('data', (d: Buffer) => {
        text += d.toString();
        if (text.includes('ALIBABA_CLOUD_ENDPOINT_OVERRIDE')) resolve(text);
      });
      child.stderr.on('data', (d: Buffer) => (text += d.toString()));
      child.on('exit', () => reject(new Error(`emulator exited: ${text}`)));
    });
    return { child, output };
  }

  it('starts from a state file on a free port, prints the endpoint, and stops on SIGTERM', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'emu-cli-'));
    const file = path.join(dir, 'state.json');
    writeFileSync(
      file,
      JSON.stringify({
        accounts: [{ uid: '1234567890123456', accessKeys: [{ id: 'LTAIcliKey', secret: 'cliSecret' }] }],
      }),
    );
    const { child, output } = startCli(['--port', '0', '--state', file]);

    const text = await output;
    const endpoint = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(text)?.[1];
    const who = await sdkClients(endpoint!, {
      accessKeyId: 'LTAIcliKey',
      accessKeySecret: 'cliSecret',
    }).sts.getCallerIdentity();
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    child.kill('SIGTERM');

    expect(text).toContain(`ALIBABA_CLOUD_ENDPOINT_OVERRIDE=${endpoint}`);
    expect(who.body?.accountId).toBe('1234567890123456');
    expect(await exited).toBe(0);
  });

  it('prints the demo accounts when started without a state file', async () => {
    const { child, output } = startCli([]);

    const text = await output.finally(() => child.kill('SIGTERM'));

    expect(text).toContain(DEMO.owner.accessKeyId);
    expect(text).toContain(DEMO.externalRecipient.uid);
  });
});
