// Service-key copies (opt-in, SHARE_SERVICE_KEY_COPY): Alibaba Cloud no longer shares a snapshot or image encrypted
// with the ECS service key, so ecs-share copies it once with a customer master key (CopySnapshot/CopyImage with
// Encrypted=true and KMSKeyId, into the same region) and shares the copy through the normal path.
//
// Exactly one copy per original, whatever the redeliveries, races and crashes:
// - The copy is born tagged (Tag.N of the copy call): `ecs-share:copy-of=<original id>` plus the original's share
//   tags. There is no moment at which a copy exists without the mark that finds it, so a crash right after the copy
//   call leaves a copy the next run finds (ListTagResources by that tag) instead of making another.
// - Before copying, a run claims the original: it writes an intent `ecs-share:copy=+<time>.<token>` on it, waits the
//   settle pause and reads it back; only the run whose token is still there copies. A young intent of another run
//   (it may be copying right now, and a fresh copy may not be listed yet) makes the others wait (pending); a stale one
//   (older than 15 minutes: that run died before copying) is claimed anew. After the copy the intent becomes the copy's
//   id (the record), so "the kept copy" is named on the original.
// - Tags are last-writer-wins and the claim is not atomic, so two copies can still happen (two runs whose read and
//   write of the claim straddle each other's pause). Then they converge: the kept copy is the one the record names
//   (else the lowest id), every other copy of the original (only resources carrying ecs-share's copy-of tag) has
//   its share tags removed, its shares taken back and is deleted; a copy is shared only while it is the kept one.
// - Every run over the original (or over its copy) keeps the copy's share tags equal to the original's, so a retag or
//   an untag of the original reaches the copy, and the copy's shares follow through the normal revocation.
import { isShareTagKey, formatTarget, type ShareTarget } from '../domain/targets';
import { PENDING_TTL_S } from '../domain/image-grants';
import { CloudError, classify } from '../errors';
import type { EngineContext } from './context';
import { readTags } from './observe';
import { outcomeOf, type ResourceObservation, type ResourceOutcome, type ResourceRef, type RequestedBy } from './model';

/** On a copy: the original it was made from (ecs-share's mark: only resources carrying it are ever deleted). */
const COPY_OF_TAG = 'ecs-share:copy-of';
/** On the original: the kept copy's id, or a claim `+<base-36 seconds>.<token>` while a run is making it. */
const COPY_TAG = 'ecs-share:copy';
const DISK_ENCRYPT_ROLE = 'AliyunECSDiskEncryptDefaultRole';
/**
 * The system policy of that role. Alibaba Cloud's RAM documentation lists `AliyunECSDiskEncryptRolePolicy` for it;
 * the other name is accepted as attached too (and tried when the first does not exist).
 */
const DISK_ENCRYPT_POLICIES = ['AliyunECSDiskEncryptRolePolicy', 'AliyunECSDiskEncryptDefaultRolePolicy'];
const DISK_ENCRYPT_TRUST = JSON.stringify({
  Version: '1',
  Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['ecs.aliyuncs.com'] } }],
});
const DISK_ENCRYPT_DESCRIPTION = 'ECS uses this role to access KMS keys for disk, snapshot and image encryption.';

type Share = (ctx: EngineContext, ref: ResourceRef, opts: CopyShareOptions) => Promise<ResourceOutcome>;

export interface CopyShareOptions {
  dryRun?: boolean;
  requestedBy?: RequestedBy;
  /** Set on the runs this module makes over a copy: the copy is then handled by the normal path only. */
  copyInner?: boolean;
}

/** The CMK a region's service-key resources are copied with; undefined when none is configured. */
function copyKeyFor(ctx: EngineContext, region: string): string | undefined {
  const c = ctx.cfg.serviceKeyCopy;
  return c ? (c.byRegion[region] ?? c.default) : undefined;
}

/** The claim or record on an original: a copy id, a claim (its time and token), or nothing. */
export function readCopyRecord(value: string | undefined): { copyId?: string; claim?: { atS: number; token: string } } {
  if (!value) return {};
  const m = /^\+([0-9a-z]+)\.([0-9a-z]+)$/.exec(value);
  if (m) return { claim: { atS: parseInt(m[1], 36), token: value } };
  return /^(s|m)-[A-Za-z0-9]+$/.test(value) ? { copyId: value } : {};
}

export function claimValue(nowS: number, random: () => number): string {
  return `+${nowS.toString(36)}.${Math.floor(random() * 36 ** 8).toString(36)}`;
}

/** The share tags of a resource (base key and continuation keys, and its `share-until`), as they are. */
function shareTagsOf(tags: Record<string, string>, base: string, untilKey?: string): Record<string, string> {
  return Object.fromEntries(Object.entries(tags).filter(([k]) => isShareTagKey(k, base) || k === untilKey));
}

/** What makes `to`'s share tags equal to `from`'s: tags to set and keys to remove. */
export function tagSync(
  from: Record<string, string>,
  to: Record<string, string>,
  base: string,
  untilKey?: string,
): { set: Record<string, string>; remove: string[] } {
  const want = shareTagsOf(from, base, untilKey);
  const have = shareTagsOf(to, base, untilKey);
  const set = Object.fromEntries(Object.entries(want).filter(([k, v]) => have[k] !== v));
  const remove = Object.keys(have)
    .filter((k) => !(k in want))
    .sort();
  return { set, remove };
}

interface CopyInfo {
  id: string;
  tags: Record<string, string>;
}

async function describe(ctx: EngineContext, ref: ResourceRef): Promise<CopyInfo | undefined> {
  if (ref.type === 'snapshot') {
    const [s] = await ctx.ports.ecs.getSnapshots(ref.region, [ref.id]);
    return s ? { id: s.id, tags: s.tags } : undefined;
  }
  const i = await ctx.ports.ecs.getImage(ref.region, ref.id);
  return i ? { id: i.id, tags: i.tags } : undefined;
}

/** ecs-share's copies of an original that exist now (by their copy-of tag, plus the one the record names). */
async function copiesOf(ctx: EngineContext, original: ResourceRef, recorded?: string): Promise<CopyInfo[]> {
  const ids = new Set(await ctx.copies!.idsTagged(original.region, original.type, COPY_OF_TAG, original.id));
  if (recorded) ids.add(recorded);
  const out: CopyInfo[] = [];
  for (const id of [...ids].sort()) {
    const c = await describe(ctx, { ...original, id });
    // Only ecs-share's: a resource the record names but that does not carry the mark is never touched.
    if (c && c.tags[COPY_OF_TAG] === original.id) out.push(c);
  }
  return out;
}

const denied = (e: unknown) =>
  e instanceof CloudError && /^(Forbidden\.RAM|NoPermission|Forbidden\.NoPermission)/.test(e.code);

const DISK_ENCRYPT_FIX =
  `ECS may encrypt with a customer master key only once the service role ${DISK_ENCRYPT_ROLE} exists in the account with its system policy. ` +
  `Authorize it once in the ECS console (it asks the first time you pick a CMK), or run: ` +
  `aliyun ram CreateRole --RoleName ${DISK_ENCRYPT_ROLE} --AssumeRolePolicyDocument '${DISK_ENCRYPT_TRUST}' && ` +
  `aliyun ram AttachPolicyToRole --PolicyType System --PolicyName ${DISK_ENCRYPT_POLICIES[0]} --RoleName ${DISK_ENCRYPT_ROLE}; ` +
  `or attach shared/policies/function-role-service-key-copy.json to the function role so ecs-share creates it.`;

class Refused extends Error {
  constructor(
    readonly code: string,
    readonly reason: string,
  ) {
    super(reason);
  }
}

/** Make sure AliyunECSDiskEncryptDefaultRole exists with its system policy; refuse with the exact fix if we may not. */
async function ensureDiskEncryptRole(ctx: EngineContext): Promise<number> {
  const { ram } = ctx.ports;
  let writes = 0;
  // A function that may not even read the role leaves it to the copy call: that fails with the documented
  // InvalidParameter.KMSKeyId.KMSUnauthorized when the role is missing, and the run refuses with the same fix.
  const read = <T>(p: Promise<T>): Promise<T | 'denied'> =>
    p.catch((e) => (denied(e) ? ('denied' as const) : Promise.reject(e)));
  try {
    const role = await read(ram.getRole(DISK_ENCRYPT_ROLE));
    if (role === 'denied') return 0;
    if (!role) {
      try {
        await ram.createRole(DISK_ENCRYPT_ROLE, DISK_ENCRYPT_TRUST, DISK_ENCRYPT_DESCRIPTION);
        writes++;
      } catch (e) {
        if (!(e instanceof CloudError && classify(e) === 'already-done')) throw e;
      }
    }
    const listed = await read(ram.listPoliciesForRole(DISK_ENCRYPT_ROLE));
    if (listed === 'denied') return writes;
    const attached = new Set(listed.filter((p) => p.policyType === 'System').map((p) => p.policyName));
    if (DISK_ENCRYPT_POLICIES.some((p) => attached.has(p))) return writes;
    for (const [i, name] of DISK_ENCRYPT_POLICIES.entries()) {
      try {
        await ram.attachPolicy(DISK_ENCRYPT_ROLE, name, 'System');
        return writes + 1;
      } catch (e) {
        // The policy name the docs give does not exist here: try the other one.
        if (i < DISK_ENCRYPT_POLICIES.length - 1 && e instanceof CloudError && classify(e) === 'not-found') continue;
        throw e;
      }
    }
    return writes;
  } catch (e) {
    if (denied(e))
      throw new Refused(
        'DiskEncryptRoleMissing',
        `${DISK_ENCRYPT_FIX} (${(e as CloudError).code}: ${(e as Error).message})`,
      );
    throw e;
  }
}

/** Take a copy out of use: its share tags removed, its shares taken back (normal path), then deleted. */
async function retire(
  ctx: EngineContext,
  ref: ResourceRef,
  copy: CopyInfo,
  share: Share,
  opts: CopyShareOptions,
): Promise<ResourceOutcome> {
  const keys = Object.keys(shareTagsOf(copy.tags, ctx.cfg.tagKey, ctx.cfg.untilKey));
  if (!opts.dryRun && keys.length) await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, keys);
  const back = opts.dryRun ? undefined : await share(ctx, ref, { ...opts, copyInner: true });
  if (!opts.dryRun && back && back.outcome !== 'failed' && back.outcome !== 'pending')
    await ctx.copies!.remove(ref.region, ref.type, ref.id);
  return back ?? base(ref, opts, { outcome: 'revoked', reason: `would take back and delete ${ref.id}` });
}

const base = (
  ref: ResourceRef,
  opts: CopyShareOptions,
  fields: Partial<ResourceOutcome> & Pick<ResourceOutcome, 'outcome'>,
) => outcomeOf(ref, opts.requestedBy, fields);

/**
 * The hook share-resource calls where a service-key resource would be refused: undefined when the normal path
 * decides (the feature is off, or this is not its business), else the outcome of the resource.
 */
export async function serviceKeyCopy(
  ctx: EngineContext,
  obs: ResourceObservation,
  targets: ShareTarget[],
  given: CopyShareOptions,
  share: Share,
): Promise<ResourceOutcome | undefined> {
  if (given.copyInner || !ctx.copies || ctx.cfg.legacyServiceKey) return undefined;
  // Only these travel to the runs over the copy (never the caller's `known` description of this resource).
  const opts: CopyShareOptions = { dryRun: given.dryRun, requestedBy: given.requestedBy };
  const originalId = obs.tags[COPY_OF_TAG];
  if (originalId) return onCopy(ctx, obs, originalId, opts, share);
  if (obs.encryption.kind !== 'service-key') return undefined;
  const record = readCopyRecord(obs.tags[COPY_TAG]);
  if (!ctx.cfg.serviceKeyCopy && !record.copyId) return undefined;
  try {
    return await onOriginal(ctx, obs, targets, record, opts, share);
  } catch (e) {
    if (e instanceof Refused) {
      ctx.log.warn('service-key copy refused', { resourceId: obs.ref.id, code: e.code, reason: e.reason });
      return base(obs.ref, opts, {
        outcome: 'refused',
        targets: targets.map(formatTarget),
        reason: e.reason,
        error: { code: e.code, message: e.reason },
      });
    }
    throw e;
  }
}

/** A run over a copy: the original decides (its run syncs, records and converges), then the copy as it is now. */
const visiting = new WeakMap<EngineContext, Set<string>>();

async function onCopy(
  ctx: EngineContext,
  obs: ResourceObservation,
  originalId: string,
  opts: CopyShareOptions,
  share: Share,
): Promise<ResourceOutcome | undefined> {
  const origRef: ResourceRef = { ...obs.ref, id: originalId };
  const seen = visiting.get(ctx) ?? new Set<string>();
  visiting.set(ctx, seen);
  if (seen.has(obs.ref.id) || originalId === obs.ref.id) return undefined; // copy-of tags that form a loop: the normal path
  if (await describe(ctx, origRef)) {
    seen.add(obs.ref.id);
    try {
      await share(ctx, origRef, { ...opts, copyInner: false });
    } finally {
      seen.delete(obs.ref.id);
    }
    return share(ctx, obs.ref, { ...opts, copyInner: true });
  }
  if (!ctx.cfg.serviceKeyCopyDelete) return undefined; // the original is gone: the copy is a resource of its own now
  const out = await retire(ctx, obs.ref, { id: obs.ref.id, tags: obs.tags }, share, opts);
  ctx.log.info('copy deleted, its original is gone', { resourceId: obs.ref.id, original: originalId });
  return {
    ...out,
    resourceId: obs.ref.id,
    outcome: 'revoked',
    reason: `${originalId} no longer exists: its copy ${obs.ref.id} was taken back and deleted (SHARE_SERVICE_KEY_COPY_DELETE)`,
  };
}

async function onOriginal(
  ctx: EngineContext,
  obs: ResourceObservation,
  targets: ShareTarget[],
  record: ReturnType<typeof readCopyRecord>,
  opts: CopyShareOptions,
  share: Share,
): Promise<ResourceOutcome | undefined> {
  const ref = obs.ref;
  const names = targets.map(formatTarget);
  const copies = await copiesOf(ctx, ref, record.copyId);
  const kept = copies.find((c) => c.id === record.copyId) ?? copies[0];
  const twins = copies.filter((c) => c !== kept);
  const keyId = copyKeyFor(ctx, ref.region);

  // Twins (two runs both copied): only the kept one stays.
  for (const t of twins) {
    await retire(ctx, { ...ref, id: t.id }, t, share, opts);
    ctx.log.warn('twin copy retired', { resourceId: ref.id, twin: t.id, kept: kept!.id });
  }

  if (targets.length === 0) {
    if (!kept) return record.claim || !record.copyId ? undefined : await forgetRecord(ctx, ref, opts);
    // Untagged: the copy's shares are taken back; the copy itself is deleted only with the option.
    if (ctx.cfg.serviceKeyCopyDelete) {
      const back = await retire(ctx, { ...ref, id: kept.id }, kept, share, opts);
      if (!opts.dryRun && back.outcome !== 'failed' && back.outcome !== 'pending')
        await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, [COPY_TAG]);
      return {
        ...back,
        resourceId: ref.id,
        copy: kept.id,
        reason: `untagged: its copy ${kept.id} was taken back and deleted (SHARE_SERVICE_KEY_COPY_DELETE)`,
      };
    }
    const synced = await syncCopy(ctx, ref, obs.tags, kept, share, opts);
    return {
      ...synced,
      resourceId: ref.id,
      targets: [],
      copy: kept.id,
      reason: `untagged: the shares of its copy ${kept.id} follow (the copy is kept; SHARE_SERVICE_KEY_COPY_DELETE=true deletes it)`,
    };
  }

  if (kept) {
    if (!opts.dryRun && record.copyId !== kept.id)
      await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, { [COPY_TAG]: kept.id });
    const inner = await syncCopy(ctx, ref, obs.tags, kept, share, opts);
    const how = inner.reason ? `; ${inner.reason}` : '';
    return {
      ...inner,
      resourceId: ref.id,
      resourceType: ref.type,
      targets: names,
      copy: kept.id,
      reason: `shared through its copy ${kept.id}, encrypted with a customer master key${how}`,
    };
  }

  if (!keyId) return undefined; // no key for this region: the normal refusal, with its fix
  const nowS = Math.floor(ctx.now() / 1000);
  if (record.claim && nowS - record.claim.atS < PENDING_TTL_S)
    return copying(
      ref,
      opts,
      names,
      `another run is copying ${ref.id} (claim ${record.claim.token}); it is shared through the copy once that is ready`,
    );
  if (opts.dryRun)
    return base(ref, opts, {
      outcome: 'pending',
      targets: names,
      reason: `would copy ${ref.id} with ${keyId} (${ref.type === 'image' ? 'CopyImage' : 'CopySnapshot'}, Encrypted=true) and share the copy`,
    });

  const key = await ctx.ports.kms.describeKey(ref.region, keyId);
  if (!key)
    throw new Refused(
      'CopyKeyNotFound',
      `SHARE_SERVICE_KEY_COPY names ${keyId}, which does not exist in ${ref.region}: create the key or fix the setting.`,
    );
  if (key.state !== 'Enabled')
    throw new Refused(
      'KeyNotEnabled',
      `The copy key ${keyId} of ${ref.region} is ${key.state}: enable it (kms:EnableKey) and run again.`,
    );
  await ensureDiskEncryptRole(ctx);

  // Claim, wait, read back: only the run whose claim survived copies.
  const claim = claimValue(nowS, ctx.random);
  await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, { [COPY_TAG]: claim });
  await ctx.sleep(ctx.cfg.settleMs + Math.floor(ctx.random() * 300));
  const now = await describe(ctx, ref);
  if (now?.tags[COPY_TAG] !== claim)
    return copying(ref, opts, names, `another run claimed the copy of ${ref.id} first`);
  if ((await copiesOf(ctx, ref)).length)
    return copying(ref, opts, names, `a copy of ${ref.id} appeared meanwhile; the next run shares it`);

  const tags = { ...shareTagsOf(obs.tags, ctx.cfg.tagKey, ctx.cfg.untilKey), [COPY_OF_TAG]: ref.id };
  let copyId: string;
  try {
    copyId = await ctx.copies!.copy(
      ref.region,
      ref.type,
      ref.id,
      key.keyId || keyId,
      tags,
      `ecs-share-copy-of-${ref.id}`,
    );
  } catch (e) {
    // A definite refusal frees the claim at once; an unknown answer keeps it, so nobody copies until the copy shows.
    if (e instanceof CloudError && classify(e) !== 'retryable')
      await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, [COPY_TAG]);
    if (e instanceof CloudError && e.code === 'InvalidParameter.KMSKeyId.KMSUnauthorized')
      throw new Refused('DiskEncryptRoleMissing', `${DISK_ENCRYPT_FIX} (${e.code}: ${e.message})`);
    throw e;
  }
  await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, { [COPY_TAG]: copyId });
  ctx.log.info('service-key resource copied', { resourceId: ref.id, copy: copyId, keyId });
  return {
    ...copying(
      ref,
      opts,
      names,
      `copying ${ref.id} to ${copyId} with ${keyId}; the copy is shared once it is ready (the next event or timer run)`,
    ),
    copy: copyId,
  };
}

function copying(ref: ResourceRef, opts: CopyShareOptions, names: string[], reason: string): ResourceOutcome {
  return base(ref, opts, {
    outcome: 'pending',
    targets: names,
    reason,
    error: { code: 'CopyInProgress', message: reason, retryable: true },
  });
}

/** The record names a copy that no longer exists: forget it (the original is untagged, nothing to share). */
async function forgetRecord(ctx: EngineContext, ref: ResourceRef, opts: CopyShareOptions): Promise<ResourceOutcome> {
  if (!opts.dryRun) await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, [COPY_TAG]);
  return base(ref, opts, { outcome: 'unchanged', reason: `its copy is gone; the record was removed` });
}

/** Make the copy's share tags the original's, then run the normal path over the copy. */
async function syncCopy(
  ctx: EngineContext,
  ref: ResourceRef,
  originalTags: Record<string, string>,
  copy: CopyInfo,
  share: Share,
  opts: CopyShareOptions,
): Promise<ResourceOutcome> {
  const copyRef = { ...ref, id: copy.id };
  let { set, remove } = tagSync(originalTags, copy.tags, ctx.cfg.tagKey, ctx.cfg.untilKey);
  if (!opts.dryRun && (Object.keys(set).length || remove.length)) {
    // The original's tags may come from a reconcile page listed before the copy's tags were last synced: sync from a
    // fresh read, so older tags never take back from the copy what the original asks for now.
    const fresh = await readTags(ctx, ref);
    if (fresh) ({ set, remove } = tagSync(fresh, copy.tags, ctx.cfg.tagKey, ctx.cfg.untilKey));
  }
  if (!opts.dryRun) {
    if (Object.keys(set).length) await ctx.ports.ecs.tagResource(ref.region, ref.type, copy.id, set);
    if (remove.length) await ctx.ports.ecs.untagResource(ref.region, ref.type, copy.id, remove);
  }
  return share(ctx, copyRef, { ...opts, copyInner: true });
}
