// Live mode's configuration (docs/live.md): which accounts, region, key and endpoint a live run uses, read from
// ECS_SHARE_LIVE_* variables. The same code runs against real Alibaba Cloud and, in CI, against the emulator: only
// these values differ (the emulator's endpoint and demo keys are just another endpoint and other credentials).
import os from 'node:os';
import path from 'node:path';
import type { Credentials } from '../../shared/cloud/api';
import { REGION } from '../../shared/domain/ids';

/** The tag every resource a live run creates carries; the sweep finds leftovers by this key and nothing else. */
export const RUN_TAG = 'ecs-share:live-run';

/** The one line a skipped live run prints. */
export const LIVE_HINT =
  'live tests skipped: set ECS_SHARE_LIVE=1, ECS_SHARE_LIVE_OWNER_AK/_SK, ECS_SHARE_LIVE_RECIPIENT_AK/_SK and ECS_SHARE_LIVE_KMS_KEY_ID to run them against Alibaba Cloud (docs/live.md)';

export interface LiveConfig {
  runId: string;
  region: string;
  /** Where new disks go (the owner's source disk, the recipient's disk from the shared snapshot). */
  zone: string;
  /** Unset: the real regional endpoints. Set: every product at this endpoint (the emulator in CI). */
  endpoint?: string;
  owner: Credentials;
  recipient: Credentials;
  /** False only for a sweep given no recipient keys. */
  hasRecipient: boolean;
  /** What the functions run with (a RAM user with the shipped policy); default the owner's credentials. */
  functionCreds: Credentials;
  /** The customer master key of the owner the source disk is encrypted with. */
  kmsKeyId: string;
  /** An existing disk to snapshot instead of creating one (ECS may refuse to snapshot a never-attached disk). */
  diskId?: string;
  /** A Resource Directory folder path (rd-…/r-…/fd-…) the recipient account is in: enables the folder scenario. */
  folderPath?: string;
  /** The owner's resource directory (rd-…), the recipient a member: enables the whole-directory scenario. */
  rdId?: string;
  /** The recipient also copies the shared image (slow and billed on the real cloud; off by default). */
  copyImage: boolean;
  /** Cleanup runs a real reconcile pass so the role trim removes the run's trust grants (touches every tagged resource of the region). */
  reconcile: boolean;
  /** How long to wait for readiness, visibility and take-back. */
  timeoutMs: number;
  pollMs: number;
  /** The report is written to `<report>.json` and `<report>.md`. */
  report: string;
  /** SHARE_* variables of the live environment: passed to the functions as s.yaml would (over productEnv's defaults). */
  shareEnv: Record<string, string>;
}

function creds(env: NodeJS.ProcessEnv, prefix: string, missing: string[]): Credentials {
  const id = env[`${prefix}_AK`]?.trim();
  const secret = env[`${prefix}_SK`]?.trim();
  if (!id) missing.push(`${prefix}_AK`);
  if (!secret) missing.push(`${prefix}_SK`);
  return { accessKeyId: id ?? '', accessKeySecret: secret ?? '' };
}

const on = (v: string | undefined) => /^(1|true|yes)$/i.test(v?.trim() ?? '');

/** undefined when ECS_SHARE_LIVE is not set; throws naming every missing or malformed variable when it is. */
export function readLiveConfig(
  env: NodeJS.ProcessEnv = process.env,
  opts: { sweep?: boolean } = {},
): LiveConfig | undefined {
  if (!on(env.ECS_SHARE_LIVE)) return undefined;
  const missing: string[] = [];
  const bad: string[] = [];
  const owner = creds(env, 'ECS_SHARE_LIVE_OWNER', missing);
  const recipientMissing: string[] = [];
  const recipient = creds(env, 'ECS_SHARE_LIVE_RECIPIENT', recipientMissing);
  // The sweep needs only the owner; with the recipient's keys it also removes what the recipient made.
  if (!opts.sweep || recipientMissing.length === 1) missing.push(...recipientMissing);
  const fnMissing: string[] = [];
  const fn = creds(env, 'ECS_SHARE_LIVE_FUNCTION', fnMissing);
  if (fnMissing.length === 1) missing.push(...fnMissing); // one of the pair without the other
  const region = env.ECS_SHARE_LIVE_REGION?.trim() || 'cn-hangzhou';
  if (!REGION.test(region)) bad.push(`ECS_SHARE_LIVE_REGION "${region}" is not a region id`);
  const zone = env.ECS_SHARE_LIVE_ZONE?.trim() || (region === 'cn-hangzhou' ? 'cn-hangzhou-h' : '');
  if (!zone && !opts.sweep) missing.push('ECS_SHARE_LIVE_ZONE (no default outside cn-hangzhou)');
  const kmsKeyId = env.ECS_SHARE_LIVE_KMS_KEY_ID?.trim() ?? '';
  if (!kmsKeyId && !opts.sweep) missing.push('ECS_SHARE_LIVE_KMS_KEY_ID');
  const diskId = env.ECS_SHARE_LIVE_DISK_ID?.trim() || undefined;
  if (diskId && !/^d-[a-z0-9]+$/i.test(diskId)) bad.push(`ECS_SHARE_LIVE_DISK_ID "${diskId}" is not a disk id`);
  const folderPath = env.ECS_SHARE_LIVE_FOLDER_PATH?.trim() || undefined;
  if (folderPath && !/^rd-[a-z0-9]+\/r-[a-z0-9]+(\/fd-[a-z0-9]{10})+$/i.test(folderPath)) {
    bad.push(`ECS_SHARE_LIVE_FOLDER_PATH "${folderPath}" is not a folder path rd-…/r-…/fd-…`);
  }
  const rdId = env.ECS_SHARE_LIVE_RD_ID?.trim() || undefined;
  if (rdId && !/^rd-[a-z0-9]+$/i.test(rdId))
    bad.push(`ECS_SHARE_LIVE_RD_ID "${rdId}" is not a resource directory id rd-…`);
  const endpoint = env.ECS_SHARE_LIVE_ENDPOINT?.trim() || undefined;
  if (endpoint && !/^https?:\/\/[^/]+\/?$/.test(endpoint))
    bad.push(`ECS_SHARE_LIVE_ENDPOINT "${endpoint}" is not http(s)://host[:port]`);
  const timeoutS = Number(env.ECS_SHARE_LIVE_TIMEOUT_S?.trim() || 1800);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0)
    bad.push(`ECS_SHARE_LIVE_TIMEOUT_S "${env.ECS_SHARE_LIVE_TIMEOUT_S}" is not a positive number`);
  const pollMs = Number(env.ECS_SHARE_LIVE_POLL_MS?.trim() || 5000);
  if (!Number.isInteger(pollMs) || pollMs < 10)
    bad.push(`ECS_SHARE_LIVE_POLL_MS "${env.ECS_SHARE_LIVE_POLL_MS}" is not a whole number of milliseconds >= 10`);
  const runId =
    env.ECS_SHARE_LIVE_RUN_ID?.trim() ||
    `${new Date().toISOString().slice(0, 16).replace(/[-:T]/g, '')}-${Math.random().toString(36).slice(2, 8)}`;
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(runId))
    bad.push(`ECS_SHARE_LIVE_RUN_ID "${runId}" must be 1-64 letters, digits, . _ -`);
  if (missing.length || bad.length) {
    throw new Error(
      `ECS_SHARE_LIVE is set but ${[missing.length ? `missing: ${missing.join(', ')}` : '', ...bad].filter(Boolean).join('; ')} (docs/live.md)`,
    );
  }
  return {
    runId,
    region,
    zone,
    endpoint,
    owner,
    recipient,
    hasRecipient: recipientMissing.length === 0,
    functionCreds: fnMissing.length === 0 ? fn : owner,
    kmsKeyId,
    diskId,
    folderPath,
    rdId,
    copyImage: on(env.ECS_SHARE_LIVE_COPY_IMAGE),
    reconcile: on(env.ECS_SHARE_LIVE_RECONCILE),
    timeoutMs: timeoutS * 1000,
    pollMs,
    report: env.ECS_SHARE_LIVE_REPORT?.trim() || path.resolve('live-report'),
    shareEnv: Object.fromEntries(
      Object.entries(env).filter((e): e is [string, string] => /^SHARE_/.test(e[0]) && e[1] !== undefined),
    ),
  };
}

/**
 * The functions' environment for a live run, as s.yaml would set it: the run's region, accounts outside the
 * directory allowed (the recipient may be anywhere), a checkpoint of its own. The endpoint override only for the emulator.
 */
export function productEnv(cfg: LiveConfig): Record<string, string | undefined> {
  return {
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: cfg.endpoint,
    FC_REGION: cfg.region,
    SHARE_REGIONS: cfg.region,
    SHARE_ALLOW_EXTERNAL: 'true',
    SHARE_CHECKPOINT_FILE: path.join(os.tmpdir(), `ecs-share-live-${cfg.runId}`, 'checkpoint.json'),
    // The real cloud's association delay is unconfirmed: wait longer than the default before reporting pending.
    SHARE_ASSOCIATION_WAIT_MS: '15000',
    ...cfg.shareEnv,
  };
}

/** Apply productEnv to process.env (the in-process handlers read it); returns a function that restores it. */
export function applyProductEnv(cfg: LiveConfig, env: NodeJS.ProcessEnv = process.env): () => void {
  const saved = new Map<string, string | undefined>();
  for (const [k, v] of Object.entries(productEnv(cfg))) {
    saved.set(k, env[k]);
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return () => {
    for (const [k, v] of saved) {
      if (v === undefined) delete env[k];
      else env[k] = v;
    }
  };
}
