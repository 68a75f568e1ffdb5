// Real @alicloud SDK clients pointed at an endpoint (the emulator): the demo and every test use these, never stubs.
import Ecs from '@alicloud/ecs20140526';
import Ram from '@alicloud/ram20150501';
import Sts from '@alicloud/sts20150401';
import Kms from '@alicloud/kms20160120';
import { Config as RpcConfig } from '@alicloud/rpc-client';
import OpenApi, { $OpenApiUtil, OpenApiUtil } from '@alicloud/openapi-core';
import * as $dara from '@darabonba/typescript';

export interface Creds {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

/** host:port of an endpoint like http://127.0.0.1:1234 */
export function hostOf(endpoint: string): string {
  return endpoint.replace(/^https?:\/\//, '').replace(/\/$/, '');
}

export function openApiConfig(endpoint: string, creds: Creds, regionId = 'cn-hangzhou'): $OpenApiUtil.Config {
  return new $OpenApiUtil.Config({
    accessKeyId: creds.accessKeyId,
    accessKeySecret: creds.accessKeySecret,
    securityToken: creds.securityToken,
    regionId,
    endpoint: hostOf(endpoint),
    protocol: 'http',
    readTimeout: 10_000,
    connectTimeout: 5_000,
  });
}

export interface SdkClients {
  ecs: Ecs;
  ram: Ram;
  sts: Sts;
  kms: Kms;
  /** Resource Sharing 2020-01-10 has no npm SDK here: call it through openapi-core's generic callApi, as generated clients do. */
  rs(action: string, query: Record<string, unknown>): Promise<any>;
  /** Any RPC action through the generic call (PascalCase raw body). */
  call(action: string, version: string, query: Record<string, unknown>): Promise<any>;
}

export function sdkClients(endpoint: string, creds: Creds, regionId = 'cn-hangzhou'): SdkClients {
  const cfg = openApiConfig(endpoint, creds, regionId);
  const generic = new OpenApi(cfg);
  const call = async (action: string, version: string, query: Record<string, unknown>) => {
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
    const res = await generic.callApi(
      params,
      new $OpenApiUtil.OpenApiRequest({ query: OpenApiUtil.query(query) }),
      new $dara.RuntimeOptions({}),
    );
    return res.body;
  };
  const kms = new Kms(
    new RpcConfig({
      accessKeyId: creds.accessKeyId,
      accessKeySecret: creds.accessKeySecret,
      securityToken: creds.securityToken,
      regionId,
      endpoint: hostOf(endpoint),
      protocol: 'http',
    }),
  );
  return {
    ecs: new Ecs(cfg),
    ram: new Ram(cfg),
    sts: new Sts(cfg),
    kms,
    rs: (action, query) => call(action, '2020-01-10', query),
    call,
  };
}
