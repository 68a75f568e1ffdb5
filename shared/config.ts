// Typed configuration, read once per invocation from the environment (s.yaml environmentVariables).
import { InvalidInputError } from './errors';
import type { Allowlist } from './domain/targets';
import { parseOrgConfig, type OrgConfig } from './org/scope';

export interface Config {
  /** Base tag key; continuation keys are `<tagKey>.2` ... (see README, tag contract). */
  tagKey: string;
  /** Tag keys on an image that record the accounts ecs-share itself added through ModifyImageSharePermission. */
  ledgerKey: string;
  /** Regions the reconcile run covers; default: the function's region. */
  regions: string[];
  allowlist?: Allowlist;
  /**
   * Accounts outside the owner's resource directory may be targets (SHARE_ALLOW_EXTERNAL=true). Off by default:
   * such an account is refused (ExternalNotAllowed) unless SHARE_ALLOW_ACCOUNTS lists it.
   */
  allowExternal: boolean;
  /** Seed's older behaviour for resources encrypted with the ECS service key (attach AliyunKMSFullAccess and try). */
  legacyServiceKey: boolean;
  /** Every product endpoint goes here when set (the local emulator); otherwise the real regional endpoints. */
  endpointOverride?: string;
  /** Refuse to write a trust policy longer than this (the real limit is unconfirmed). */
  trustPolicyMaxLength: number;
  /** How long to wait for a Resource Sharing association to leave Associating before reporting pending. */
  associationWaitMs: number;
  /** Concurrency of the reconcile run. */
  concurrency: number;
  /** Where a reconcile pass cut short records how far it got (a NAS/OSS mount survives instance recycling). */
  checkpointFile: string;
  /** A checkpoint older than this is not resumed (the pass starts afresh). */
  checkpointMaxAgeMs: number;
  /** How long the role trim waits before its second listing (shares made while it wrote get their grant back). */
  trimSettleMs: number;
  /** The pause before a read-merge-write reads back (above the reads' lag behind writes). */
  settleMs: number;
  /** The tag ecs-share writes its status to on each resource (SHARE_STATUS_KEY; `off` writes none). */
  statusKey?: string;
  /** The tag that ends a share at a date or time (SHARE_UNTIL_KEY). */
  untilKey: string;
  /**
   * Service-key copies (SHARE_SERVICE_KEY_COPY): the CMK (id or alias) a service-key resource tagged for sharing is
   * copied with, for every region (`default`) or per region. Absent: service-key resources are refused as before.
   */
  serviceKeyCopy?: ServiceKeyCopyConfig;
  /** SHARE_SERVICE_KEY_COPY_DELETE: delete ecs-share's copy once its original is untagged or deleted. */
  serviceKeyCopyDelete: boolean;
  /** Opt-in: publish every refused and failed outcome to this EventBridge bus (SHARE_NOTIFY_EVENT_BUS). */
  notifyEventBus?: string;
  /** The CloudEvents `source` of those events (SHARE_NOTIFY_SOURCE, default `ecs-share`). */
  notifySource: string;
  /** Organisation mode (SHARE_ACCOUNTS, SHARE_MEMBER_ROLE; docs/organisation.md); absent: single account. */
  org?: OrgConfig;
}

export interface ServiceKeyCopyConfig {
  default?: string;
  byRegion: Record<string, string>;
}

const COPY_KEY = /^(key-[A-Za-z0-9-]{1,64}|alias\/[A-Za-z0-9:/_-]{1,120})$/;

/** `key-…` or `alias/…` for every region, and/or `<region>=<key>` entries, separated by commas or whitespace. */
export function parseServiceKeyCopy(v: string | undefined): ServiceKeyCopyConfig | undefined {
  const entries = list(v);
  if (!entries) return undefined;
  const out: ServiceKeyCopyConfig = { byRegion: {} };
  for (const e of entries) {
    const m = /^([a-z]{2,}(?:-[a-z0-9]+)+)=(.*)$/.exec(e);
    const key = m ? m[2] : e;
    if (!COPY_KEY.test(key) || key === 'alias/acs/ecs') {
      throw new InvalidInputError(
        `SHARE_SERVICE_KEY_COPY: "${e}" is not a customer master key id (key-…) or alias (alias/…), optionally after <region>=`,
      );
    }
    if (m) {
      if (out.byRegion[m[1]]) throw new InvalidInputError(`SHARE_SERVICE_KEY_COPY names region ${m[1]} twice`);
      out.byRegion[m[1]] = key;
    } else {
      if (out.default) throw new InvalidInputError('SHARE_SERVICE_KEY_COPY names more than one key for every region');
      out.default = key;
    }
  }
  return out;
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined || v.trim() === '') return undefined;
  return v.split(/[\s,]+/).filter(Boolean);
}

function int(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const v = env[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidInputError(`${name} must be a non-negative integer, got "${v}"`);
  return n;
}

/** A tag key ecs-share reads or writes: a valid ECS key, never under the prefixes Alibaba Cloud reserves. */
function tagKeyOf(env: NodeJS.ProcessEnv, name: string, fallback: string): string {
  const key = env[name]?.trim() || fallback;
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,100}$/.test(key) || /^(acs:|aliyun)/i.test(key))
    throw new InvalidInputError(`${name} "${key}" is not a valid ECS tag key`);
  return key;
}

function statusKey(env: NodeJS.ProcessEnv): string | undefined {
  return /^(off|false|none|0)$/i.test(env.SHARE_STATUS_KEY?.trim() ?? '')
    ? undefined
    : tagKeyOf(env, 'SHARE_STATUS_KEY', 'ecs-share:status');
}

/** A switch: true/1/yes or false/0/no (any case); unset or empty is false; anything else is a mistake. */
function bool(env: NodeJS.ProcessEnv, name: string): boolean {
  const v = env[name]?.trim() ?? '';
  if (/^(1|true|yes)$/i.test(v)) return true;
  if (v === '' || /^(0|false|no)$/i.test(v)) return false;
  throw new InvalidInputError(`${name} must be true or false, got "${v}"`);
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const allow: Allowlist = {
    accounts: list(env.SHARE_ALLOW_ACCOUNTS),
    rds: list(env.SHARE_ALLOW_RDS),
    folders: list(env.SHARE_ALLOW_FOLDERS),
  };
  const hasAllowlist = Boolean(allow.accounts || allow.rds || allow.folders);
  const tagKey = env.SHARE_TAG_KEY?.trim() || 'share-with';
  if (!/^[A-Za-z0-9][A-Za-z0-9._:/-]{0,100}$/.test(tagKey) || /^(acs:|aliyun)/i.test(tagKey)) {
    throw new InvalidInputError(`SHARE_TAG_KEY "${tagKey}" is not a valid ECS tag key`);
  }
  return {
    tagKey,
    ledgerKey: env.SHARE_LEDGER_KEY?.trim() || 'ecs-share:granted',
    regions: list(env.SHARE_REGIONS) ?? [env.FC_REGION || env.ALIBABA_CLOUD_REGION_ID || 'cn-hangzhou'],
    allowlist: hasAllowlist
      ? { accounts: allow.accounts ?? [], rds: allow.rds ?? [], folders: allow.folders ?? [] }
      : undefined,
    allowExternal: bool(env, 'SHARE_ALLOW_EXTERNAL'),
    legacyServiceKey: /^(1|true|yes)$/i.test(env.SHARE_LEGACY_SERVICE_KEY ?? ''),
    endpointOverride: env.ALIBABA_CLOUD_ENDPOINT_OVERRIDE?.trim() || undefined,
    trustPolicyMaxLength: int(env, 'SHARE_TRUST_POLICY_MAX_LENGTH', 4096),
    associationWaitMs: int(env, 'SHARE_ASSOCIATION_WAIT_MS', 3000),
    concurrency: Math.max(1, int(env, 'SHARE_CONCURRENCY', 4)),
    checkpointFile: env.SHARE_CHECKPOINT_FILE?.trim() || '/tmp/ecs-share/reconcile-checkpoint.json',
    checkpointMaxAgeMs: int(env, 'SHARE_CHECKPOINT_MAX_AGE_S', 12 * 3600) * 1000,
    trimSettleMs: int(env, 'SHARE_TRIM_SETTLE_MS', 2000),
    settleMs: int(env, 'SHARE_SETTLE_MS', 300),
    statusKey: statusKey(env),
    untilKey: tagKeyOf(env, 'SHARE_UNTIL_KEY', 'share-until'),
    serviceKeyCopy: parseServiceKeyCopy(env.SHARE_SERVICE_KEY_COPY),
    serviceKeyCopyDelete: bool(env, 'SHARE_SERVICE_KEY_COPY_DELETE'),
    notifyEventBus: named(env, 'SHARE_NOTIFY_EVENT_BUS', /^[A-Za-z0-9][A-Za-z0-9_-]{0,126}$/),
    notifySource: named(env, 'SHARE_NOTIFY_SOURCE', /^[A-Za-z0-9][A-Za-z0-9._:/-]{0,127}$/) ?? 'ecs-share',
    org: parseOrgConfig(env),
  };
}

/** An optional name that must match `pattern` (an event bus name, an event source): unset or empty is undefined. */
function named(env: NodeJS.ProcessEnv, name: string, pattern: RegExp): string | undefined {
  const v = env[name]?.trim() ?? '';
  if (v === '') return undefined;
  if (!pattern.test(v)) throw new InvalidInputError(`${name} "${v}" is not a valid name`);
  return v;
}
