// Use case: make one snapshot or image shared exactly as its tags ask (or, in a dry run, say what that takes).
import { formatTarget, parseShareTags, type ShareTarget } from '../domain/targets';
import { CloudError, ShareRefusedError, adviceFor, classify } from '../errors';
import type { EngineContext } from './context';
import { ConcurrentUpdateError, applyPlan } from './apply';
import { observeResource, observeRole, observeToolShare } from './observe';
import { decide, grantsFor, splitTargets } from './plan';
import type { PlanAction, ResourceObservation, ResourceOutcome, ResourceRef, RoleObservation, ToolShareState } from './model';

export interface ShareOptions {
  dryRun?: boolean;
  /** Already-read description of the resource (reconcile lists them); skips the re-read. */
  known?: Parameters<typeof observeResource>[2];
  /** Role observations shared by the resources of one run (reconcile); refreshed after any role write. */
  roleCache?: Map<string, Promise<RoleObservation>>;
}

function outcome(ref: ResourceRef, fields: Partial<ResourceOutcome> & Pick<ResourceOutcome, 'outcome'>): ResourceOutcome {
  return { resourceId: ref.id, resourceType: ref.type, region: ref.region, targets: [], actions: [], ...fields };
}

async function roleFor(ctx: EngineContext, obs: ResourceObservation, targets: ShareTarget[], cache?: ShareOptions['roleCache']): Promise<RoleObservation | undefined> {
  if (obs.encryption.kind === 'none' || targets.length === 0) return undefined;
  const key = obs.ref.type;
  let p = cache?.get(key);
  if (!p) {
    p = observeRole(ctx, obs.ref.type);
    cache?.set(key, p);
  }
  return p;
}

function targetStatus(share: ToolShareState | undefined, wanted: string[]): { pending: string[]; failed: Array<{ id: string; message?: string }> } {
  const status = (id: string) => share?.targets[id]?.status ?? 'Missing';
  return {
    pending: wanted.filter((id) => status(id) === 'Associating' || status(id) === 'Missing'),
    failed: wanted.filter((id) => status(id) === 'Failed').map((id) => ({ id, message: share?.targets[id]?.message })),
  };
}

/** Poll the tool's resource share until its targets leave Associating, within the configured wait. */
async function settledTargets(ctx: EngineContext, ref: ResourceRef, wanted: string[]): Promise<{ pending: string[]; failed: Array<{ id: string; message?: string }> }> {
  if (wanted.length === 0) return { pending: [], failed: [] };
  const deadline = Date.now() + ctx.cfg.associationWaitMs;
  for (let delay = 100; ; delay = Math.min(delay * 2, 1000)) {
    const share = await observeToolShare(ctx, ref);
    const { pending, failed } = targetStatus(share, wanted);
    // An external account stays Associating until it accepts the invitation: no point waiting for that.
    const waiting = pending.filter((id) => !share?.targets[id]?.external);
    if (waiting.length === 0 || Date.now() + delay > deadline) {
      // The resource's own association fails too (e.g. a service-key snapshot): then no target can use it.
      const resource = share ? (await ctx.ports.sharing.associations(ref.region, share.id, 'Resource')).find((a) => a.entityId === ref.id) : undefined;
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

export async function shareResource(ctx: EngineContext, ref: ResourceRef, opts: ShareOptions = {}): Promise<ResourceOutcome> {
  const log = ctx.log.child({ resourceId: ref.id, resourceType: ref.type, region: ref.region });
  let actions: PlanAction[] = [];
  try {
    const obs = await observeResource(ctx, ref, opts.known);
    if (!obs.exists) {
      // A deleted resource takes its image share permissions with it; only ecs-share's resource share is left behind.
      const shareIds = [...(obs.toolShare ? [obs.toolShare.id] : []), ...(obs.twinShares ?? [])];
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
    const parsed = parseShareTags(obs.tags, { tagKey: ctx.cfg.tagKey, ownerUid: ctx.ownerUid, allowlist: ctx.cfg.allowlist });
    if (parsed.errors.length) {
      // All or nothing: one bad target refuses the whole tag, so a typo never shares with the wrong set, nor revokes.
      const reason = `The ${ctx.cfg.tagKey} tag is refused, nothing was changed: ${parsed.errors.map((e) => `"${e.value}": ${e.reason}`).join('; ')}`;
      const res = outcome(ref, { outcome: 'refused', reason, error: { code: parsed.errors[0].code, message: reason } });
      log.warn('tag refused', { outcome: res.outcome, reason });
      return res;
    }
    const targets = parsed.targets;
    const names = targets.map(formatTarget);
    const role = await roleFor(ctx, obs, targets, opts.roleCache);
    const decision = decide(obs, role, targets, { legacyServiceKey: ctx.cfg.legacyServiceKey, ownerUid: ctx.ownerUid, trustPolicyMaxLength: ctx.cfg.trustPolicyMaxLength });
    if (decision.kind === 'refused') {
      actions = decision.actions;
      if (!opts.dryRun && actions.length) await applyPlan(ctx, actions);
      log.warn('share refused', { code: decision.code, reason: decision.reason, actions: actions.map((x) => x.kind) });
      return outcome(ref, { outcome: 'refused', targets: names, reason: decision.reason, error: { code: decision.code, message: decision.reason }, actions, dryRun: opts.dryRun });
    }
    if (decision.kind === 'notReady') {
      log.info('resource not ready yet', { outcome: 'pending', reason: decision.reason });
      return outcome(ref, { outcome: 'pending', targets: names, reason: decision.reason, error: { code: 'NotReady', message: decision.reason, retryable: true }, dryRun: opts.dryRun });
    }
    actions = decision.actions;
    const needs = role || obs.encryption.kind !== 'none' ? needsOf(obs, targets) : undefined;
    const changedKind = targets.length ? 'shared' : 'revoked';
    if (opts.dryRun) return outcome(ref, { outcome: actions.length ? changedKind : 'unchanged', targets: names, actions, dryRun: true, needs });

    const writes = await applyPlan(ctx, actions);
    if (writes > 0 && role && opts.roleCache) opts.roleCache.delete(ref.type);
    const { sharingTargets } = splitTargets(ref.type, targets);
    // Nothing written: what was observed is still the truth, no need to read it again.
    const { pending, failed } = writes > 0 ? await settledTargets(ctx, ref, sharingTargets) : targetStatus(obs.toolShare, sharingTargets);
    if (failed.length) {
      const message = failed.map((f) => `${f.id}: ${f.message ?? 'association failed'}`).join('; ');
      const res = outcome(ref, { outcome: 'failed', targets: names, actions, error: { code: 'AssociationFailed', message } });
      log.error('share failed', { outcome: res.outcome, error: res.error });
      return res;
    }
    const kind = pending.length ? 'pending' : writes > 0 ? changedKind : 'unchanged';
    const res = outcome(ref, { outcome: kind, targets: names, actions, needs, ...(pending.length ? { pending } : {}) });
    log.info('resource processed', { outcome: kind, targets: names, actions: actions.map((x) => x.kind), writes, pending });
    return res;
  } catch (e) {
    if (e instanceof ShareRefusedError) {
      log.warn('share refused', { code: e.code, reason: e.reason });
      return outcome(ref, { outcome: 'refused', actions, reason: e.reason, error: { code: e.code, message: e.reason } });
    }
    const err = e instanceof CloudError ? e : undefined;
    const retryable = err ? classify(err) === 'retryable' : e instanceof ConcurrentUpdateError;
    const error = { code: err?.code ?? (e as Error).name ?? 'Error', message: (e as Error).message, requestId: err?.requestId, ...(retryable ? { retryable } : {}) };
    log.error('share failed', { outcome: 'failed', action: err?.action, error });
    return outcome(ref, { outcome: 'failed', actions, error, advice: adviceFor(error.code) });
  }
}
