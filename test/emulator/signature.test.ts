// Signature verification, driven by the real SDK clients (ACS3 for ECS/RAM/STS, V1 for KMS and openapi-core 'v2'),
// plus raw replays of captured requests to prove that any tampering is rejected.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Kms from '@alicloud/kms20160120';
import * as $Ram from '@alicloud/ram20150501';
import OpenApi, { $OpenApiUtil, OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';
import { DEMO, demoState, startEmulator, type Emulator, type EmulatorState } from '../../scripts/emulator';
import { hostOf, openApiConfig, sdkClients, type Creds } from '../helpers/sdk';

const OWNER: Creds = { accessKeyId: DEMO.owner.accessKeyId, accessKeySecret: DEMO.owner.accessKeySecret };
const STS_KEY = {
  accessKeyId: 'STS.sessionKey0001',
  accessKeySecret: 'sessionSecret0001',
  securityToken: 'CAIS-valid-token',
};
const EXPIRED_KEY = {
  accessKeyId: 'STS.expiredKey0001',
  accessKeySecret: 'expiredSecret0001',
  securityToken: 'CAIS-expired-token',
};

function stateWithSessions(): EmulatorState {
  const s = demoState();
  const future = new Date(Date.now() + 3600_000).toISOString();
  s.stsSessions = [
    {
      accessKeyId: STS_KEY.accessKeyId,
      secret: STS_KEY.accessKeySecret,
      token: STS_KEY.securityToken,
      accountId: DEMO.owner.uid,
      roleName: 'ops',
      sessionName: 's1',
      expiration: future,
    },
    {
      accessKeyId: EXPIRED_KEY.accessKeyId,
      secret: EXPIRED_KEY.accessKeySecret,
      token: EXPIRED_KEY.securityToken,
      accountId: DEMO.owner.uid,
      roleName: 'ops',
      sessionName: 's2',
      expiration: '2020-01-01T00:00:00Z',
    },
  ];
  return s;
}

/** An RPC call through openapi-core with signatureAlgorithm 'v2' (V1 HMAC-SHA1 in the query). */
async function v1Call(
  endpoint: string,
  creds: Creds,
  action: string,
  version: string,
  query: Record<string, unknown>,
): Promise<any> {
  const cfg = openApiConfig(endpoint, creds);
  cfg.signatureAlgorithm = 'v2';
  const params = new $OpenApiUtil.Params({
    action,
    version,
    protocol: 'HTTP',
    pathname: '/',
    method: 'POST',
    authType: 'AK',
    style: 'RPC',
    reqBodyType: 'formData',
    bodyType: 'json',
  });
  const res = await new OpenApi(cfg).callApi(
    params,
    new $OpenApiUtil.OpenApiRequest({ query: OpenApiUtil.query(query) }),
    new $dara.RuntimeOptions({}),
  );
  return res.body;
}

async function failure(p: Promise<unknown>): Promise<any> {
  try {
    await p;
  } catch (e) {
    return e;
  }
  throw new Error('expected the call to fail');
}

// ---- capture and replay ----

interface Captured {
  url: string;
  headers: http.IncomingHttpHeaders;
  body: string;
}

/** Runs `act` against a server that records the request and answers `{}`, then returns what the SDK sent. */
async function capture(act: (endpoint: string) => Promise<unknown>): Promise<Captured> {
  let seen: Captured | undefined;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      seen = { url: req.url ?? '/', headers: req.headers, body: Buffer.concat(chunks).toString() };
      res.writeHead(200, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    await act(`http://127.0.0.1:${(server.address() as AddressInfo).port}`);
  } finally {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  }
  return seen!;
}

/** Sends a captured request (possibly altered) to the emulator with its original, signed Host header. */
function replay(endpoint: string, c: Captured): Promise<{ status: number; body: any }> {
  const url = new URL(endpoint);
  const headers = { ...c.headers, 'content-length': String(Buffer.byteLength(c.body)) };
  delete headers['transfer-encoding'];
  return new Promise((resolve, reject) => {
    const req = http.request({ host: url.hostname, port: url.port, method: 'POST', path: c.url, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) }));
    });
    req.on('error', reject);
    req.end(c.body);
  });
}

describe('signature verification', () => {
  let emu: Emulator;
  beforeAll(async () => {
    emu = await startEmulator({ state: stateWithSessions() });
  });
  afterAll(async () => {
    await emu.stop();
  });

  describe('accepted requests', () => {
    it('accepts an ACS3-signed STS call and identifies the root caller', async () => {
      const { sts } = sdkClients(emu.endpoint, OWNER);

      const r = await sts.getCallerIdentity();

      expect(r.body?.accountId).toBe(DEMO.owner.uid);
      expect(r.body?.arn).toBe(`acs:ram::${DEMO.owner.uid}:root`);
    });

    it('accepts ACS3-signed RAM and ECS calls with query parameters', async () => {
      const { ram, ecs } = sdkClients(emu.endpoint, OWNER);

      const roles = await ram.listRoles(new $Ram.ListRolesRequest({ maxItems: 10 }));
      const snaps = await ecs.describeSnapshots(
        new $Ecs.DescribeSnapshotsRequest({
          regionId: 'cn-hangzhou',
          snapshotIds: JSON.stringify([DEMO.snapshots.cmk]),
        }),
      );

      expect(roles.statusCode).toBe(200);
      expect(snaps.body?.snapshots?.snapshot?.map((s) => s.snapshotId)).toEqual([DEMO.snapshots.cmk]);
    });

    it('accepts the KMS client, which signs with V1 HMAC-SHA1', async () => {
      const { kms } = sdkClients(emu.endpoint, OWNER);

      const k = await kms.describeKey(new $Kms.DescribeKeyRequest({ keyId: DEMO.cmkId }));

      expect(k.keyMetadata?.keyId).toBe(DEMO.cmkId);
    });

    it("accepts openapi-core's generic call with signatureAlgorithm 'v2', values with reserved characters included", async () => {
      const body = await v1Call(emu.endpoint, OWNER, 'DescribeSnapshots', '2014-05-26', {
        RegionId: 'cn-hangzhou',
        Tag: [{ Key: "a*b (c)!'~", Value: 'x y+z&=é' }],
      });

      expect(body.RequestId).toMatch(/^[0-9A-F-]{36}$/);
      expect(Array.isArray(body.Snapshots.Snapshot)).toBe(true);
    });

    it('accepts a generic ACS3 call whose parameters travel in a signed form body', async () => {
      const cfg = openApiConfig(emu.endpoint, OWNER);
      const params = new $OpenApiUtil.Params({
        action: 'DescribeKey',
        version: '2016-01-20',
        protocol: 'HTTP',
        pathname: '/',
        method: 'POST',
        authType: 'AK',
        style: 'RPC',
        reqBodyType: 'formData',
        bodyType: 'json',
      });

      const res = await new OpenApi(cfg).callApi(
        params,
        new $OpenApiUtil.OpenApiRequest({ body: { KeyId: DEMO.cmkId } }),
        new $dara.RuntimeOptions({}),
      );

      expect(res.body.KeyMetadata.KeyId).toBe(DEMO.cmkId);
    });

    it('accepts STS credentials with their security token, for ACS3 and V1 alike', async () => {
      const c = sdkClients(emu.endpoint, STS_KEY);

      const who = await c.sts.getCallerIdentity();
      const key = await c.kms.describeKey(new $Kms.DescribeKeyRequest({ keyId: DEMO.cmkId })).catch((e) => e);

      expect(who.body?.arn).toBe(`acs:ram::${DEMO.owner.uid}:assumed-role/ops/s1`);
      expect(who.body?.identityType).toBe('AssumedRoleUser');
      // The session's role has no policies: the V1 request got past the signature and was refused by RAM.
      expect(key.code).toBe('Forbidden.NoPermissionError');
    });
  });

  describe('rejected requests', () => {
    it('rejects a wrong secret with 400 SignatureDoesNotMatch', async () => {
      const { sts } = sdkClients(emu.endpoint, { ...OWNER, accessKeySecret: 'not-the-secret' });

      const err = await failure(sts.getCallerIdentity());

      expect(err.name).toBe('ClientError');
      expect(err.code).toBe('SignatureDoesNotMatch');
      expect(err.statusCode).toBe(400);
    });

    it('rejects a wrong secret from the KMS client too', async () => {
      const { kms } = sdkClients(emu.endpoint, { ...OWNER, accessKeySecret: 'not-the-secret' });

      const err = await failure(kms.describeKey(new $Kms.DescribeKeyRequest({ keyId: DEMO.cmkId })));

      expect(err.code).toBe('SignatureDoesNotMatchError');
      expect(err.data.Code).toBe('SignatureDoesNotMatch');
    });

    it('rejects an unknown access key with 404 InvalidAccessKeyId.NotFound', async () => {
      const { ram } = sdkClients(emu.endpoint, { accessKeyId: 'LTAInobody', accessKeySecret: 'x' });

      const err = await failure(ram.listRoles(new $Ram.ListRolesRequest({})));

      expect(err.code).toBe('InvalidAccessKeyId.NotFound');
      expect(err.statusCode).toBe(404);
    });

    it('rejects STS credentials sent with another token', async () => {
      const { sts } = sdkClients(emu.endpoint, { ...STS_KEY, securityToken: 'CAIS-forged' });

      const err = await failure(sts.getCallerIdentity());

      expect(err.code).toBe('InvalidSecurityToken.MismatchWithAccessKey');
      expect(err.statusCode).toBe(400);
    });

    it('rejects STS credentials sent without their token', async () => {
      const { sts } = sdkClients(emu.endpoint, {
        accessKeyId: STS_KEY.accessKeyId,
        accessKeySecret: STS_KEY.accessKeySecret,
      });

      const err = await failure(sts.getCallerIdentity());

      expect(err.code).toBe('InvalidSecurityToken.MismatchWithAccessKey');
    });

    it('rejects expired STS credentials with InvalidSecurityToken.Expired', async () => {
      const { sts } = sdkClients(emu.endpoint, EXPIRED_KEY);

      const err = await failure(sts.getCallerIdentity());

      expect(err.code).toBe('InvalidSecurityToken.Expired');
    });

    it('rejects an unsigned request with MissingSignature', async () => {
      const res = await replay(emu.endpoint, {
        url: '/?Action=GetCallerIdentity&Version=2015-04-01&Format=json',
        headers: { host: hostOf(emu.endpoint) },
        body: '',
      });

      expect(res.status).toBe(400);
      expect(res.body.Code).toBe('MissingSignature');
    });
  });

  describe('tampering with a captured request', () => {
    let acs3: Captured;
    let v1: Captured;
    beforeAll(async () => {
      acs3 = await capture((endpoint) =>
        sdkClients(endpoint, OWNER).ram.listRoles(new $Ram.ListRolesRequest({ maxItems: 10 })),
      );
      v1 = await capture((endpoint) =>
        sdkClients(endpoint, OWNER).kms.describeKey(new $Kms.DescribeKeyRequest({ keyId: DEMO.cmkId })),
      );
    });

    it('accepts the unmodified replays (the nonce is not checked)', async () => {
      expect((await replay(emu.endpoint, acs3)).status).toBe(200);
      expect((await replay(emu.endpoint, v1)).status).toBe(200);
    });

    it('rejects an ACS3 request whose query parameter was changed', async () => {
      const res = await replay(emu.endpoint, { ...acs3, url: acs3.url.replace('MaxItems=10', 'MaxItems=11') });

      expect(res.status).toBe(400);
      expect(res.body.Code).toBe('SignatureDoesNotMatch');
    });

    it('rejects an ACS3 request with an appended query parameter', async () => {
      const res = await replay(emu.endpoint, { ...acs3, url: `${acs3.url}&Marker=x` });

      expect(res.body.Code).toBe('SignatureDoesNotMatch');
    });

    it('rejects an ACS3 request whose signed x-acs-action header was changed', async () => {
      const res = await replay(emu.endpoint, { ...acs3, headers: { ...acs3.headers, 'x-acs-action': 'GetRole' } });

      expect(res.body.Code).toBe('SignatureDoesNotMatch');
    });

    it('rejects an ACS3 request whose signed x-acs-date header was changed', async () => {
      const res = await replay(emu.endpoint, {
        ...acs3,
        headers: { ...acs3.headers, 'x-acs-date': '2020-01-01T00:00:00Z' },
      });

      expect(res.body.Code).toBe('SignatureDoesNotMatch');
    });

    it('rejects an ACS3 request with an injected form body as IncompleteSignature', async () => {
      const res = await replay(emu.endpoint, {
        ...acs3,
        headers: { ...acs3.headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: 'RoleName=admin',
      });

      expect(res.status).toBe(400);
      expect(res.body.Code).toBe('IncompleteSignature');
    });

    it('rejects a V1 request whose parameter was changed', async () => {
      const res = await replay(emu.endpoint, {
        ...v1,
        url: v1.url.replace(`KeyId=${DEMO.cmkId}`, `KeyId=${DEMO.serviceKeyId}`),
      });

      expect(res.status).toBe(400);
      expect(res.body.Code).toBe('SignatureDoesNotMatch');
    });

    it('rejects a V1 request with an injected form parameter', async () => {
      const res = await replay(emu.endpoint, {
        ...v1,
        headers: { ...v1.headers, 'content-type': 'application/x-www-form-urlencoded' },
        body: `KeyId=${DEMO.serviceKeyId}`,
      });

      expect(res.body.Code).toBe('SignatureDoesNotMatch');
    });
  });
});
