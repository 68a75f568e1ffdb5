// Use case: make one snapshot or image shared exactly as its tags ask (or, in a dry run, say what that takes).
import { formatTarget, isShareTagKey, parseShareTags, type ShareTarget } from '../domain/targets';
import { parseExpiry } from '../domain/expiry';
import { isAccountUid } from '../domain/ids';
import { bodyOf, statusBody, statusValue } from '../share/status';
import { CloudError, ShareRefusedError, adviceFor, classify } from '../errors';
import { describeKeyCached, membershipCached, type EngineContext } from '../share/context';
import { ConcurrentUpdateError, applyPlan, applySharePlan, readShare, type Applied } from '../share/apply';
import { observeResource, observeRole, observeToolShare, readTags } from '../share/observe';
import { decide, grantedKeys, grantsFor, heldTakeBacks, heldTwins, splitTargets } from '../share/plan';
import { EXTERNAL_NOT_ALLOWED, externalRefusal } from '../share/external';
import { serviceKeyCopy } from '../share/service-key-copy';
import {
  outcomeOf,
  type PlanAction,
  type RequestedBy,
  type ResourceObservation,
  type ResourceOutcome,
  type ResourceRef,
  type RoleObservation,
  type ToolShareState,
} from '../share/model';

export interface ShareOptions {
  dryRun?: boolean;
  /** Already-read description of the resource (reconcile lists them); skips the re-read. */
  known?: Parameters<typeof observeResource>[2];
  /** Role observations shared by the resources of one run (reconcile); refreshed after any role write. */
  roleCache?: Map<string, Promise<RoleObservation>>;
  /** Carried on the outcome and on every log line of this resource. */
  requestedBy?: RequestedBy;
  /** A reconcile pass (timer or by hand): a transient failure leaves the status tag as it was. */
  pass?: boolean;
  /**
   * Internal: the round of this run (1 first). A later round observes afresh: after a move whose held take-backs
   * became possible within the wait, after a create that found a twin, or when the tags changed under a take-back.
   */
  round?: number;
  /** Internal: a run the service-key copy module makes over a copy (the normal path only). */
  copyInner?: boolean;
}

/**
 * The share role's observation of this resource type, started with the resource's own reads (it needs only the type),
 * from the run's cache when another resource already asked. Not awaited when the resource needs no role.
 */
function startRole(
  ctx: EngineContext,
  type: ResourceRef['type'],
  cache?: ShareOptions['roleCache'],
): Promise<RoleObservation> {
  let p = cache?.get(type);
  if (!p) {
    const mine = (p = observeRole(ctx, type));
    cache?.set(type, mine);
    // A failed read (throttling, a timeout) is asked again by the next resource rather than remembered.
    mine.catch(() => cache?.get(type) === mine && cache.delete(type));
  }
  return p;
}

/** Granted keys asked for ahead of the snapshots that name them: at most this many per resource. */
const PREFETCHED_KEYS = 4;

/**
 * Ask for the keys the role already grants in the resource's region while the resource's snapshots are read: a
 * resource shared before uses one of them, so the look-up of its key costs no round trip of its own.
 */
function prefetchGrantedKeys(ctx: EngineContext, region: string, role: Promise<RoleObservation>): void {
  role.then(
    (r) => {
      for (const k of grantedKeys(r)
        .filter((k) => k.region === region && k.accountId === ctx.ownerUid)
        .slice(0, PREFETCHED_KEYS)) {
        describeKeyCached(ctx, region, k.keyId).catch(() => undefined);
      }
    },
    () => undefined,
  );
}

async function roleFor(
  obs: ResourceObservation,
  targets: ShareTarget[],
  role: Promise<RoleObservation>,
): Promise<RoleObservation | undefined> {
  if (obs.encryption.kind === 'none' || targets.length === 0) return undefined;
  return role;
}

function targetStatus(
  share: ToolShareState | undefined,
  wanted: string[],
): { pending: string[]; failed: Array<{ id: string; message?: string }> } {
  const status = (id: string) => share?.targets[id]?.status ?? 'Missing';
  return {
    pending: wanted.filter((id) => status(id) === 'Associating' || status(id) === 'Missing'),
    failed: wanted.filter((id) => status(id) === 'Failed').map((id) => ({ id, message: share?.targets[id]?.message })),
  };
}

/**
 * Poll the tool's resource share until its targets leave Associating, within the configured wait. The share is read
 * by id when the writes said which (its targets and the resource's own association at once), and the first look is
 * the one the create already took.
 */
async function settledTargets(
  ctx: EngineContext,
  ref: ResourceRef,
  wanted: string[],
  applied: Applied,
): Promise<{ pending: string[]; failed: Array<{ id: string; message?: string }> }> {
  if (wanted.length === 0) return { pending: [], failed: [] };
  const deadline = Date.now() + ctx.cfg.associationWaitMs;
  let first = applied.shareReadBack;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const read = first ?? (applied.shareId ? await readShare(ctx, ref.region, applied.shareId) : undefined);
    first = undefined;
    const share = read ? undefined : await observeToolShare(ctx, ref);
    const targets = read
      ? Object.fromEntries(
          read.targets.map((a) => [a.entityId, { status: a.status, message: a.message, external: a.external }]),
        )
      : share?.targets;
    const { pending, failed } = targetStatus(
      targets ? { id: '', allowExternalTargets: false, targets } : undefined,
      wanted,
    );
    // An external account stays Associating until it accepts the invitation: no point waiting for that.
    const waiting = pending.filter((id) => !targets?.[id]?.external);
    if (waiting.length === 0 || Date.now() + delay > deadline) {
      // The resource's own association fails too (e.g. a service-key snapshot): then no target can use it.
      const resources = read
        ? read.resources
        : share
          ? await ctx.ports.sharing.associations(ref.region, share.id, 'Resource')
          : [];
      const resource = resources.find((a) => a.entityId === ref.id);
      if (resource?.status === 'Failed') failed.unshift({ id: ref.id, message: resource.message });
      return { pending, failed };
    }
    await ctx.sleep(delay);
  }
}

/** What the share role must grant for this resource: a trust grant per target and every key in use. */
function needsOf(obs: ResourceObservation, targets: ShareTarget[]): ResourceOutcome['needs'] {
  if (obs.encryption.kind === 'none' || targets.length === 0) return { grants: [], keys: [] };
  return { grants: grantsFor(targets), keys: obs.encryption.kind === 'cmk' ? obs.encryption.keys : [] };
}

/**
 * For the accounts the resource is shared with now that the tags no longer name, which directory or folder the
 * tags do name holds each (asked of the directory only during such a move; unknown membership holds nothing).
 */
async function coverageOf(
  ctx: EngineContext,
  obs: ResourceObservation,
  targets: ShareTarget[],
): Promise<Record<string, string[]> | undefined> {
  const holders = targets.filter((t) => t.kind !== 'account');
  if (holders.length === 0) return undefined;
  const named = new Set(targets.flatMap((t) => (t.kind === 'account' ? [t.uid] : [])));
  const owned = new Set([...(obs.imageGrants?.granted ?? []), ...(obs.imageGrants?.pending ?? [])]);
  const image = (obs.imageAccounts ?? []).filter((uid) => owned.has(uid));
  const accounts = [...new Set([...image, ...Object.keys(obs.toolShare?.targets ?? {})])].filter(
    (id) => isAccountUid(id) && !named.has(id),
  );
  if (accounts.length === 0) return undefined;
  const out: Record<string, string[]> = {};
  for (const uid of accounts) {
    const m = await membershipCached(ctx, uid);
    if (m.kind !== 'member') continue;
    const segments = (m.path ?? '').split('/');
    const by = holders.flatMap((h) =>
      h.kind === 'rd'
        ? m.rdId === h.rdId || segments[0] === h.rdId
          ? [h.rdId]
          : []
        : h.kind === 'folder' && (m.folderId === h.folderId || segments.includes(h.folderId))
          ? [h.folderId]
          : [],
    );
    if (by.length) out[uid] = by;
  }
  return out;
}

/** Rounds of one run at most: each observes afresh (see ShareOptions.round). */
const MAX_ROUNDS = 3;

const TAKE_BACKS = new Set<PlanAction['kind']>(['unshareImageAccounts', 'disassociateTargets', 'deleteResourceShare']);

/**
 * Whether the tags that ask (share keys, `share-until`) still read as the plan saw them. A take-back planned from
 * tags read before the share it changes (a reconcile page listed earlier, or a read that beat the share's read) could
 * take away what newer tags ask for and another instance already shared: it is checked against a fresh read first.
 */
async function tagsStillAsSeen(ctx: EngineContext, ref: ResourceRef, seen: Record<string, string>): Promise<boolean> {
  const fresh = await readTags(ctx, ref);
  if (!fresh) return false;
  const asks = (tags: Record<string, string>) =>
    JSON.stringify(
      Object.entries(tags)
        .filter(([k]) => isShareTagKey(k, ctx.cfg.tagKey) || k === ctx.cfg.untilKey)
        .sort(([a], [b]) => a.localeCompare(b)),
    );
  return asks(fresh) === asks(seen);
}

/** What the core saw of the resource, for the status tag: its tags as read, and its `share-until`. */
interface Seen {
  tags?: Record<string, string>;
  until?: { text: string; expired: boolean };
  /** The grant record's confirmation, still being written (see Applied.tail). */
  tail?: Promise<number>;
}

/**
 * Share one resource as its tags ask, then write the status tag when the status changed (never in a dry run; a
 * failed status write is logged and changes nothing else).
 */
export async function shareResource(
  ctx: EngineContext,
  ref: ResourceRef,
  opts: ShareOptions = {},
): Promise<ResourceOutcome> {
  const seen: Seen = {};
  const res = await shareResourceCore(ctx, ref, opts, seen);
  if (!seen.tail) return writeStatus(ctx, ref, opts, seen, res);
  // The status tag is written while the grant record's confirmation is: neither waits for the other.
  const [tail, withStatus] = await Promise.allSettled([seen.tail, writeStatus(ctx, ref, opts, seen, res)]);
  if (withStatus.status === 'rejected') throw withStatus.reason;
  if (tail.status === 'fulfilled') return withStatus.value;
  const failed = failure(ctx, ref, opts, res.actions, tail.reason);
  // The status written with it said the share went through: say what happened instead.
  return writeStatus(
    ctx,
    ref,
    opts,
    {
      ...seen,
      tags:
        withStatus.value.status === undefined
          ? seen.tags
          : { ...seen.tags, [ctx.cfg.statusKey!]: withStatus.value.status },
    },
    failed,
  );
}

/** Write the status tag when the status changed (never in a dry run; a failed write is logged and changes nothing else). */
async function writeStatus(
  ctx: EngineContext,
  ref: ResourceRef,
  opts: ShareOptions,
  seen: Seen,
  res: ResourceOutcome,
): Promise<ResourceOutcome> {
  const key = ctx.cfg.statusKey;
  if (!key || !seen.tags) return res;
  const asks = Object.keys(seen.tags).some((k) => isShareTagKey(k, ctx.cfg.tagKey) || k === ctx.cfg.untilKey);
  const body = asks ? statusBody(res, seen.until) : undefined;
  const current = seen.tags[key];
  if (body === bodyOf(current)) return current !== undefined ? { ...res, status: current } : res;
  // A reconcile pass that failed for a transient reason knows nothing new: the status it found stays (the summary
  // and the log carry the failure, the next pass retries). Otherwise throttling or a 5xx would write "failed …, will
  // retry" over a share that works, and the next pass would write it back: two writes per resource, under load.
  if (opts.pass && res.outcome === 'failed' && res.error?.retryable && current !== undefined) {
    return { ...res, status: current };
  }
  const value = body === undefined ? undefined : statusValue(body, ctx.now());
  if (!opts.dryRun) {
    try {
      if (value !== undefined) await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, { [key]: value });
      else await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, [key]);
    } catch (e) {
      ctx.log.warn('status tag not written', {
        resourceId: ref.id,
        region: ref.region,
        code: (e as { code?: string }).code ?? (e as Error).message,
      });
      return res;
    }
  }
  return value !== undefined ? { ...res, status: value } : res;
}

/** The outcome of a run that failed with `e` (a refusal the API made, or an error). */
function failure(
  ctx: EngineContext,
  ref: ResourceRef,
  opts: ShareOptions,
  actions: PlanAction[],
  e: unknown,
): ResourceOutcome {
  const log = ctx.log.child({
    resourceId: ref.id,
    resourceType: ref.type,
    region: ref.region,
    ...(opts.requestedBy ? { requestedBy: opts.requestedBy } : {}),
  });
  if (e instanceof ShareRefusedError) {
    log.warn('share refused', { code: e.code, reason: e.reason });
    return outcomeOf(ref, opts.requestedBy, {
      outcome: 'refused',
      actions,
      reason: e.reason,
      error: { code: e.code, message: e.reason },
    });
  }
  const err = e instanceof CloudError ? e : undefined;
  const retryable = err ? classify(err) === 'retryable' : e instanceof ConcurrentUpdateError;
  const error = {
    code: err?.code ?? (e as Error).name ?? 'Error',
    message: (e as Error).message,
    requestId: err?.requestId,
    ...(retryable ? { retryable } : {}),
  };
  log.error('share failed', { outcome: 'failed', action: err?.action, error });
  return outcomeOf(ref, opts.requestedBy, { outcome: 'failed', actions, error, advice: adviceFor(error.code) });
}

async function shareResourceCore(
  ctx: EngineContext,
  ref: ResourceRef,
  opts: ShareOptions,
  seen: Seen,
): Promise<ResourceOutcome> {
  const log = ctx.log.child({
    resourceId: ref.id,
    resourceType: ref.type,
    region: ref.region,
    ...(opts.requestedBy ? { requestedBy: opts.requestedBy } : {}),
  });
  const outcome = (r: ResourceRef, fields: Partial<ResourceOutcome> & Pick<ResourceOutcome, 'outcome'>) =>
    outcomeOf(r, opts.requestedBy, fields);
  let actions: PlanAction[] = [];
  try {
    const rolePromise = startRole(ctx, ref.type, opts.roleCache);
    prefetchGrantedKeys(ctx, ref.region, rolePromise);
    const obs = await observeResource(ctx, ref, opts.known);
    if (!obs.exists) {
      // A deleted resource takes its image share permissions with it; only ecs-share's resource share is left behind.
      const shareIds = [...(obs.toolShare ? [obs.toolShare.id] : []), ...(obs.twinShares ?? []).map((s) => s.id)];
      if (shareIds.length === 0) {
        const reason = `${ref.type} ${ref.id} does not exist in ${ref.region} (or is not owned by account ${ctx.ownerUid}).`;
        log.warn('resource not found', { outcome: 'refused', reason });
        return outcome(ref, { outcome: 'refused', reason, error: { code: 'ResourceNotFound', message: reason } });
      }
      actions = shareIds.map((shareId): PlanAction => ({ kind: 'deleteResourceShare', ref, shareId }));
      if (!opts.dryRun) await applyPlan(ctx, actions);
      log.info('resource gone, its share deleted', { outcome: 'revoked', shareIds });
      return outcome(ref, { outcome: 'revoked', reason: `${ref.id} no longer exists`, actions, dryRun: opts.dryRun });
    }
    seen.tags = obs.tags;
    const parsed = parseShareTags(obs.tags, {
      tagKey: ctx.cfg.tagKey,
      ownerUid: ctx.ownerUid,
      allowlist: ctx.cfg.allowlist,
    });
    if (parsed.errors.length) {
      // All or nothing: one bad target refuses the whole tag, so a typo never shares with the wrong set, nor revokes.
      const reason = `The ${ctx.cfg.tagKey} tag is refused, nothing was changed: ${parsed.errors.map((e) => `"${e.value}": ${e.reason}`).join('; ')}`;
      const res = outcome(ref, { outcome: 'refused', reason, error: { code: parsed.errors[0].code, message: reason } });
      log.warn('tag refused', { outcome: res.outcome, reason });
      return res;
    }
    const untilTag = obs.tags[ctx.cfg.untilKey];
    const until = untilTag === undefined ? undefined : parseExpiry(untilTag);
    if (until && 'error' in until) {
      const reason = `The ${ctx.cfg.untilKey} tag is refused, nothing was changed: ${until.error}`;
      log.warn('tag refused', { outcome: 'refused', code: 'MalformedExpiry', reason });
      return outcome(ref, {
        outcome: 'refused',
        reason,
        error: { code: 'MalformedExpiry', message: reason },
        dryRun: opts.dryRun,
      });
    }
    // Past its end, the share is taken back exactly as if the tags named nobody.
    const expired = until !== undefined && ctx.now() >= until.at;
    if (until) seen.until = { text: until.text, expired };
    const targets = expired ? [] : parsed.targets;
    const names = targets.map(formatTarget);
    const external = await externalRefusal(ctx, targets);
    if (external) {
      // Like any refused tag: nothing changes, so what is already shared stays shared (reported, never cut off).
      const reason = `The ${ctx.cfg.tagKey} tag is refused, nothing was changed: ${external}`;
      log.warn('tag refused', { outcome: 'refused', code: EXTERNAL_NOT_ALLOWED, reason });
      return outcome(ref, {
        outcome: 'refused',
        targets: names,
        reason,
        error: { code: EXTERNAL_NOT_ALLOWED, message: reason },
        dryRun: opts.dryRun,
      });
    }
    // A service-key resource (SHARE_SERVICE_KEY_COPY) is shared through its copy; a copy follows its original.
    const copied = await serviceKeyCopy(ctx, obs, targets, opts, (c, r, o) =>
      shareResource(c, r, { roleCache: opts.roleCache, ...o }),
    );
    if (copied) return copied;
    const coveredBy = await coverageOf(ctx, obs, targets);
    if (coveredBy) obs.coveredBy = coveredBy;
    const held = heldTakeBacks(obs, targets);
    const twinsHeld = heldTwins(obs, targets);
    const role = await roleFor(obs, targets, rolePromise);
    const decision = decide(obs, role, targets, {
      legacyServiceKey: ctx.cfg.legacyServiceKey,
      ownerUid: ctx.ownerUid,
      trustPolicyMaxLength: ctx.cfg.trustPolicyMaxLength,
    });
    const round = opts.round ?? 1;
    const again = () => {
      if (round >= MAX_ROUNDS) throw new ConcurrentUpdateError(`The tags or the resource shares of ${ref.id}`);
      return shareResourceCore(ctx, ref, { ...opts, known: undefined, round: round + 1 }, seen);
    };
    // Take-backs are checked against the tags before (a plan from older tags) and after (the owner asked again while
    // it wrote, and an instance that saw the target still there did nothing): either way, plan again from fresh reads.
    const takesBack =
      !opts.dryRun && (decision.kind === 'notReady' ? [] : decision.actions).some((a) => TAKE_BACKS.has(a.kind));
    if (takesBack && !(await tagsStillAsSeen(ctx, ref, obs.tags))) return again();
    const askedAgain = async () => takesBack && !(await tagsStillAsSeen(ctx, ref, obs.tags));
    if (decision.kind === 'refused') {
      actions = decision.actions;
      if (!opts.dryRun && actions.length) await applyPlan(ctx, actions);
      if (await askedAgain()) {
        const next = await again();
        return { ...next, actions: [...actions, ...next.actions] };
      }
      log.warn('share refused', { code: decision.code, reason: decision.reason, actions: actions.map((x) => x.kind) });
      return outcome(ref, {
        outcome: 'refused',
        targets: names,
        reason: decision.reason,
        error: { code: decision.code, message: decision.reason },
        actions,
        dryRun: opts.dryRun,
      });
    }
    if (decision.kind === 'notReady') {
      log.info('resource not ready yet', { outcome: 'pending', reason: decision.reason });
      return outcome(ref, {
        outcome: 'pending',
        targets: names,
        reason: decision.reason,
        error: { code: 'NotReady', message: decision.reason, retryable: true },
        dryRun: opts.dryRun,
      });
    }
    actions = decision.actions;
    if (expired && actions.length === 0) {
      const reason = `The share ended at ${until!.text} (${ctx.cfg.untilKey}), so nothing is shared; remove ${ctx.cfg.tagKey}, or move ${ctx.cfg.untilKey} later to share again.`;
      log.info('share expired', { outcome: 'refused', reason });
      return outcome(ref, {
        outcome: 'refused',
        reason,
        error: { code: 'Expired', message: reason },
        dryRun: opts.dryRun,
      });
    }
    const needs = role || obs.encryption.kind !== 'none' ? needsOf(obs, targets) : undefined;
    const changedKind = targets.length ? 'shared' : 'revoked';
    if (opts.dryRun)
      return outcome(ref, {
        outcome: actions.length ? changedKind : 'unchanged',
        targets: names,
        actions,
        dryRun: true,
        needs,
      });

    const applied = await applySharePlan(ctx, actions, { role, resource: obs });
    seen.tail = applied.tail;
    const writes = applied.writes;
    if (!applied.shareId && obs.toolShare) applied.shareId = obs.toolShare.id;
    if (writes > 0 && role && opts.roleCache) opts.roleCache.delete(ref.type);
    if (applied.reobserve || (await askedAgain())) {
      // A twin share (or a create whose answer was lost), or tags that changed while a take-back was written: plan
      // again over every share there is, from fresh tags.
      if (seen.tail) await seen.tail;
      seen.tail = undefined;
      const next = await again();
      return {
        ...next,
        actions: [...actions, ...next.actions],
        outcome: next.outcome === 'unchanged' ? changedKind : next.outcome,
      };
    }
    const { sharingTargets } = splitTargets(ref.type, targets);
    // Nothing written: what was observed is still the truth, no need to read it again.
    const { pending, failed } =
      writes > 0
        ? await settledTargets(ctx, ref, sharingTargets, applied)
        : targetStatus(obs.toolShare, sharingTargets);
    if (failed.length) {
      const message = failed.map((f) => `${f.id}: ${f.message ?? 'association failed'}`).join('; ');
      const res = outcome(ref, {
        outcome: 'failed',
        targets: names,
        actions,
        error: { code: 'AssociationFailed', message },
      });
      log.error('share failed', { outcome: res.outcome, error: res.error });
      return res;
    }
    if ((held.length || twinsHeld.length) && writes > 0 && round < MAX_ROUNDS && pending.length === 0) {
      // The new associations settled within the wait: take back what was held, now that it cuts nobody off.
      if (seen.tail) await seen.tail;
      seen.tail = undefined;
      await ctx.sleep(ctx.cfg.settleMs);
      const next = await again();
      return {
        ...next,
        actions: [...actions, ...next.actions],
        outcome: next.outcome === 'unchanged' ? changedKind : next.outcome,
      };
    }
    const kind = pending.length || held.length || twinsHeld.length ? 'pending' : writes > 0 ? changedKind : 'unchanged';
    const waits = [
      ...(pending.length
        ? [`${pending.join(', ')} not Associated yet (an account outside the directory first accepts the invitation)`]
        : []),
      ...(held.length
        ? [
            `${held.join(', ')} keep${held.length === 1 ? 's' : ''} ${held.length === 1 ? 'its' : 'their'} grant until the directory or folder that holds ${held.length === 1 ? 'it' : 'them'} is Associated`,
          ]
        : []),
      ...(twinsHeld.length
        ? [
            `the twin resource share(s) ${twinsHeld.join(', ')} stay until their targets are Associated on ${obs.toolShare?.id}`,
          ]
        : []),
    ];
    const res = outcome(ref, {
      outcome: kind,
      targets: names,
      actions,
      needs,
      ...(pending.length ? { pending } : {}),
      ...(waits.length ? { reason: `Waiting: ${waits.join('; ')}.` } : {}),
    });
    log.info('resource processed', {
      outcome: kind,
      targets: names,
      actions: actions.map((x) => x.kind),
      writes,
      pending,
    });
    return res;
  } catch (e) {
    return failure(ctx, ref, opts, actions, e);
  }
}
