// KMS 2016-01-20 as the old rpc-client SDK (1.2.0) reads it: keys and aliases per account and region, and the
// per-region ECS service key under alias/acs/ecs, created on first use.
import { randomBytes, randomUUID } from 'node:crypto';
import { requireKnownRegion } from '../state';
import {
  ApiError,
  intParam,
  type ActionTable,
  type CallContext,
  type EmulatorServices,
  type FullState,
  type KmsKey,
} from '../types';

export const SERVICE_KEY_ALIAS = 'alias/acs/ecs';
const KEY_USAGES = ['ENCRYPT/DECRYPT', 'SIGN/VERIFY'];
const ORIGINS = ['Aliyun_KMS', 'EXTERNAL'];
const PROTECTION_LEVELS = ['SOFTWARE', 'HSM'];

export const keyArn = (k: KmsKey) => `acs:kms:${k.region}:${k.accountId}:key/${k.keyId}`;
/** AliasArn names the alias without its "alias/" prefix: acs:kms:<region>:<uid>:alias/<name>. */
const aliasArn = (region: string, accountId: string, alias: string) => `acs:kms:${region}:${accountId}:${alias}`;

/** Key ids shaped like current KMS ids ("key-" and 21 lowercase characters); the real ones also encode the region. */
function newKeyId(): string {
  return 'key-' + randomBytes(12).toString('hex').slice(0, 21);
}

/** A key of this account and region by id, alias, key ARN or alias ARN; another account's key is simply not found. */
export function findKey(state: FullState, accountId: string, region: string, idOrAlias: string): KmsKey | undefined {
  const arn = /^acs:kms:([^:]*):(\d+):(key\/(.+)|(alias\/.+))$/.exec(idOrAlias);
  if (arn && (arn[1] !== region || arn[2] !== accountId)) return undefined;
  const ref = arn ? (arn[4] ?? arn[5]) : idOrAlias;
  const mine = state.keys.filter((k) => k.accountId === accountId && k.region === region);
  return ref.startsWith('alias/')
    ? mine.find((k) => (k.aliases ?? []).includes(ref))
    : mine.find((k) => k.keyId === ref);
}

/** The account's ECS service key in a region, created the first time anything asks for it (as ECS does). */
export function ensureServiceKey(state: FullState, emu: EmulatorServices, accountId: string, region: string): KmsKey {
  const existing = findKey(state, accountId, region, SERVICE_KEY_ALIAS);
  if (existing) return existing;
  const key: KmsKey = {
    keyId: newKeyId(),
    accountId,
    region,
    state: 'Enabled',
    description: 'Default Service CMK for ECS',
    creationDate: emu.nowIso(),
    aliases: [SERVICE_KEY_ALIAS],
    // 'Ecs' as creator is seen only in a third-party fixture (unconfirmed); clients should compare the alias.
    creator: 'Ecs',
  };
  state.keys.push(key);
  return key;
}

const isServiceKey = (k: KmsKey) => (k.aliases ?? []).includes(SERVICE_KEY_ALIAS);

function keyNotFound(ref: string): ApiError {
  return ref.startsWith('alias/')
    ? new ApiError(404, 'Forbidden.AliasNotFound', `The specified alias is not found: ${ref}.`)
    : new ApiError(404, 'Forbidden.KeyNotFound', `The specified Key is not found: ${ref}.`);
}

/** Resolves KeyId; alias/acs/ecs brings the service key into being. */
function resolveKey(ctx: CallContext): KmsKey | undefined {
  const ref = ctx.params.KeyId;
  if (ref === SERVICE_KEY_ALIAS) return ensureServiceKey(ctx.state, ctx.emu, ctx.caller.accountId, ctx.region);
  return findKey(ctx.state, ctx.caller.accountId, ctx.region, ref);
}

function keyOrThrow(ctx: CallContext): KmsKey {
  const key = resolveKey(ctx);
  if (!key) throw keyNotFound(ctx.params.KeyId);
  return key;
}

/** Authorization resource of a KeyId parameter: the key's ARN, or the ARN the id would have. */
function keyResource(ctx: CallContext): string[] {
  const key = resolveKey(ctx);
  return [key ? keyArn(key) : `acs:kms:${ctx.region}:${ctx.caller.accountId}:key/${ctx.params.KeyId}`];
}

function metadata(k: KmsKey) {
  return {
    KeyId: k.keyId,
    Arn: keyArn(k),
    KeyState: k.state,
    KeySpec: 'Aliyun_AES_256',
    KeyUsage: 'ENCRYPT/DECRYPT',
    Origin: 'Aliyun_KMS',
    ProtectionLevel: 'SOFTWARE',
    Creator: k.creator ?? k.accountId,
    CreationDate: k.creationDate ?? '',
    Description: k.description ?? '',
    DeleteDate: '',
    MaterialExpireTime: '',
    PrimaryKeyVersion: '',
    AutomaticRotation: 'Disabled',
    RotationInterval: '',
    LastRotationDate: '',
    NextRotationDate: '',
  };
}

function oneOf(ctx: CallContext, name: string, allowed: string[], fallback: string): string {
  const v = ctx.params[name] || fallback;
  if (!allowed.includes(v)) throw new ApiError(400, 'InvalidParameter', `The parameter "${name}" is invalid: ${v}.`);
  return v;
}

function paging(ctx: CallContext) {
  return {
    pageNumber: intParam(ctx.params, 'PageNumber', 1, 1),
    pageSize: intParam(ctx.params, 'PageSize', 10, 1, 100),
  };
}

function pageOf<T>(items: T[], pageNumber: number, pageSize: number): T[] {
  return items.slice((pageNumber - 1) * pageSize, pageNumber * pageSize);
}

function aliasesOf(keys: KmsKey[]) {
  return keys.flatMap((k) =>
    (k.aliases ?? []).map((a) => ({ AliasName: a, AliasArn: aliasArn(k.region, k.accountId, a), KeyId: k.keyId })),
  );
}

const regionKeys = (ctx: CallContext) =>
  ctx.state.keys.filter((k) => k.accountId === ctx.caller.accountId && k.region === ctx.region);
const collection = (ctx: CallContext, kind: 'key' | 'alias') => [
  `acs:kms:${ctx.region}:${ctx.caller.accountId}:${kind}`,
];

function setState(ctx: CallContext, state: 'Enabled' | 'Disabled'): Record<string, unknown> {
  const key = keyOrThrow(ctx);
  if (isServiceKey(key)) {
    // The service key is managed by ECS; the emulator refuses changes to it with this (unconfirmed) code.
    throw new ApiError(
      400,
      'UnsupportedOperation',
      `The service key ${SERVICE_KEY_ALIAS} cannot be changed: Rejected.UnsupportedOperation.`,
    );
  }
  if (key.state === 'PendingDeletion') {
    throw new ApiError(409, 'Forbidden.KeyPendingDeletion', `The key is pending deletion: ${key.keyId}.`);
  }
  key.state = state;
  return {};
}

const table: ActionTable = {
  CreateKey: {
    resources: (ctx) => collection(ctx, 'key'),
    write: true,
    handler(ctx) {
      const keyUsage = oneOf(ctx, 'KeyUsage', KEY_USAGES, 'ENCRYPT/DECRYPT');
      const origin = oneOf(ctx, 'Origin', ORIGINS, 'Aliyun_KMS');
      const protectionLevel = oneOf(ctx, 'ProtectionLevel', PROTECTION_LEVELS, 'SOFTWARE');
      const key: KmsKey = {
        keyId: newKeyId(),
        accountId: ctx.caller.accountId,
        region: ctx.region,
        state: 'Enabled',
        description: ctx.params.Description ?? '',
        creationDate: ctx.emu.nowIso(),
        aliases: [],
        creator: ctx.caller.accountId,
      };
      ctx.state.keys.push(key);
      // The state keeps no usage/origin/level (every emulated key is a symmetric software key); echo what was asked.
      return {
        KeyMetadata: {
          ...metadata(key),
          KeyUsage: keyUsage,
          Origin: origin,
          ProtectionLevel: protectionLevel,
          PrimaryKeyVersion: randomUUID(),
        },
      };
    },
  },

  CreateAlias: {
    required: ['AliasName', 'KeyId'],
    resources: (ctx) => [aliasArn(ctx.region, ctx.caller.accountId, ctx.params.AliasName), ...keyResource(ctx)],
    write: true,
    handler(ctx) {
      const alias = ctx.params.AliasName;
      if (!/^alias\/[A-Za-z0-9:/_-]{1,249}$/.test(alias)) {
        throw new ApiError(400, 'InvalidParameter', `The parameter "AliasName" must start with "alias/": ${alias}.`);
      }
      if (alias.startsWith('alias/acs/')) {
        throw new ApiError(
          400,
          'InvalidParameter',
          `The prefix "alias/acs/" is reserved for cloud services: ${alias}.`,
        );
      }
      const key = keyOrThrow(ctx);
      if (findKey(ctx.state, ctx.caller.accountId, ctx.region, alias)) {
        throw new ApiError(409, 'AlreadyExists.Alias', `The alias already exists: ${alias}.`);
      }
      key.aliases = [...(key.aliases ?? []), alias];
      return {};
    },
  },

  DescribeKey: {
    required: ['KeyId'],
    resources: keyResource,
    handler: (ctx) => ({ KeyMetadata: metadata(keyOrThrow(ctx)) }),
  },

  ListKeys: {
    resources: (ctx) => collection(ctx, 'key'),
    handler(ctx) {
      const { pageNumber, pageSize } = paging(ctx);
      const keys = regionKeys(ctx);
      return {
        TotalCount: keys.length,
        PageNumber: pageNumber,
        PageSize: pageSize,
        Keys: { Key: pageOf(keys, pageNumber, pageSize).map((k) => ({ KeyId: k.keyId, KeyArn: keyArn(k) })) },
      };
    },
  },

  ListAliases: {
    resources: (ctx) => collection(ctx, 'alias'),
    handler(ctx) {
      const { pageNumber, pageSize } = paging(ctx);
      const aliases = aliasesOf(regionKeys(ctx));
      return {
        TotalCount: aliases.length,
        PageNumber: pageNumber,
        PageSize: pageSize,
        Aliases: { Alias: pageOf(aliases, pageNumber, pageSize) },
      };
    },
  },

  ListAliasesByKeyId: {
    required: ['KeyId'],
    resources: keyResource,
    handler(ctx) {
      const { pageNumber, pageSize } = paging(ctx);
      const aliases = aliasesOf([keyOrThrow(ctx)]);
      return {
        TotalCount: aliases.length,
        PageNumber: pageNumber,
        PageSize: pageSize,
        Aliases: { Alias: pageOf(aliases, pageNumber, pageSize) },
      };
    },
  },

  EnableKey: {
    required: ['KeyId'],
    resources: keyResource,
    write: true,
    handler: (ctx) => setState(ctx, 'Enabled'),
  },

  DisableKey: {
    required: ['KeyId'],
    resources: keyResource,
    write: true,
    handler: (ctx) => setState(ctx, 'Disabled'),
  },
};

/** Every action first refuses a region the state does not list. */
export const actions: ActionTable = Object.fromEntries(
  Object.entries(table).map(([name, spec]) => [
    name,
    { ...spec, handler: (ctx: CallContext) => (requireKnownRegion(ctx), spec.handler(ctx)) },
  ]),
);
