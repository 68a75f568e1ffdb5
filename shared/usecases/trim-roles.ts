// The role trim: after a complete pass, take out of each share role what ecs-share granted and no resource asks for
// any more. It is the step that can cut people off, so it owns its safety rules:
//  - only grants in ecs-share's ownership record and keys in its own KMS policies are ever candidates;
//  - keys are regional: a pass trims only keys of the regions it covered;
//  - the role is global: before a trust grant goes, every region that ever asked for the role's grants (recorded in
//    the ownership record), the pass's regions and the configured ones are listed afresh (ListTagResources), and any
//    resource still tagged for the target holds it, whatever its outcome (refused, failed, shared after the pass
//    began, on a page that shifted), and so does whatever a still-tagged resource is shared with now (its resource
//    share's targets, its image grant record: trust follows the shares, never the other way round); the same fresh
//    listing holds every key a still-tagged resource uses;
//  - after writing, the trim lists again (after a settle pause) and puts back anything a resource asks for by then,
//    so a share made while the trim ran is not left without its grant;
//  - every candidate held back is reported in `trimHeld` with the resources that hold it and why.
import { parseShareTags, shareTagKeys } from '../domain/targets';
import { parseExpiry } from '../domain/expiry';
import { grantForTarget, grantKey, grantsInLedger, readTrustLedger, type TrustGrant } from '../domain/trust-policy';
import type { KeyRef } from '../domain/kms-policy';
import type { ResourceType } from '../domain/ids';
import type { RoleNeeds } from '../checkpoint';
import type { EngineContext } from '../share/context';
import { applyPlan } from '../share/apply';
import { observeRole } from '../share/observe';
import { loadShareIndex } from './reconcile-region';
import { readImageGrants } from '../domain/image-grants';
import { grantedKeys } from '../share/plan';
import type { PlanAction, ResourceOutcome, RoleObservation } from '../share/model';

export interface TrimHold {
  roleName: string;
  /** The grant (`account:…`, `rd:…`, `folder:…`) or key (`key:<region>/<id>`) kept. */
  grant: string;
  /** Up to five resources that still ask for it. */
  heldBy: string[];
  /** Why they hold it: their outcome in this pass (`refused KeyNotEnabled`), or `still tagged`. */
  reason: string;
}

export interface TrimResult {
  actions: PlanAction[];
  held: TrimHold[];
  /** A role whose trim could not be decided or written (the pass keeps its checkpoint and tries again). */
  errors: Array<{ roleName: string; code: string; message: string }>;
}

const keyId = (k: KeyRef) => `${k.region}/${k.keyId}`;

/** What the tags ask for right now, in some regions: trust grants and (for some regions) keys, with who asks. */
export interface AskedNow {
  grants: Map<string, string[]>;
  keys: Map<string, string[]>;
  /** The grants the tags ask for now, as grants (so a removal re-adds any that only a removed statement admitted). */
  wanted: Map<string, TrustGrant>;
}

/** A target id of a resource share (account uid, rd-…, fd-…) as the grant key it needs. */
const grantOfTarget = (id: string) =>
  id.startsWith('rd-') ? `rd:${id}` : id.startsWith('fd-') ? `folderId:${id}` : `account:${id}`;

/** Who holds a grant: by its key, or (a folder) by the folder id its pattern ends with. */
function holdersOf(asked: AskedNow, g: TrustGrant): string[] | undefined {
  const direct = asked.grants.get(grantKey(g));
  if (direct || g.kind !== 'folder') return direct;
  return asked.grants.get(`folderId:${g.pattern.replace(/\*$/, '').split('/').pop()}`);
}

/**
 * What every resource still carrying a share tag asks for now, and what it is shared with now (its resource share's
 * targets, its image grant record): a trust grant goes only once nothing tagged is shared through it either, so a
 * move from an account to its folder, or a take-back that failed, never leaves a live share without its trust.
 */
async function askedNow(
  ctx: EngineContext,
  type: ResourceType,
  regions: string[],
  keyRegions: Set<string>,
): Promise<AskedNow> {
  const out: AskedNow = { grants: new Map(), keys: new Map(), wanted: new Map() };
  const add = (m: Map<string, string[]>, k: string, id: string) => {
    const ids = m.get(k) ?? [];
    if (!ids.includes(id)) m.set(k, [...ids, id]);
  };
  for (const region of regions) {
    const tagged = (
      await ctx.ports.ecs.taggedResources(region, type, [...shareTagKeys(ctx.cfg.tagKey), ctx.cfg.untilKey])
    ).filter((r) => Object.keys(r.tags).some((k) => k !== ctx.cfg.untilKey));
    if (tagged.length === 0) continue;
    const now = ctx.now();
    for (const r of tagged) {
      // A share past its end asks for nothing (what it is still shared with holds below, until it is taken back).
      const until = r.tags[ctx.cfg.untilKey] === undefined ? undefined : parseExpiry(r.tags[ctx.cfg.untilKey]);
      if (until && 'at' in until && now >= until.at) continue;
      // Every well-formed target counts, even of a tag refused as a whole or outside the allowlist: holding too much
      // for a pass costs nothing, cutting off someone still named does.
      const { targets } = parseShareTags(r.tags, { tagKey: ctx.cfg.tagKey, ownerUid: ctx.ownerUid });
      for (const t of targets) {
        const g = grantForTarget(t);
        add(out.grants, grantKey(g), r.id);
        out.wanted.set(grantKey(g), g);
      }
    }
    const shares = await loadShareIndex(ctx, region);
    for (const r of tagged) {
      for (const [target, a] of Object.entries(shares.get(r.id)?.share.targets ?? {})) {
        if (a.status !== 'Disassociating' && a.status !== 'Failed') add(out.grants, grantOfTarget(target), r.id);
      }
    }
    const ids = tagged.map((r) => r.id);
    if (type === 'snapshot') {
      if (!keyRegions.has(region)) continue;
      for (const s of await ctx.ports.ecs.getSnapshots(region, ids))
        if (s.kmsKeyId) add(out.keys, `${region}/${s.kmsKeyId}`, s.id);
    } else {
      const images = await ctx.ports.ecs.getImages(region, ids);
      for (const i of images) {
        const rec = readImageGrants(i.tags, ctx.cfg.ledgerKey);
        for (const uid of rec.granted) add(out.grants, `account:${uid}`, i.id);
        // An intent holds only once it is a share: one left by a crash before the share (kept for 15 minutes in
        // case its instance is still at work) names an account nobody can use the image as, so it holds nothing;
        // if that instance does share later, the next run claims the share and takes it back.
        if (rec.pending.length) {
          const current = new Set(await ctx.ports.ecs.imageShareAccounts(region, i.id));
          for (const uid of rec.pending) if (current.has(uid)) add(out.grants, `account:${uid}`, i.id);
        }
      }
      if (!keyRegions.has(region)) continue;
      const owner = new Map(images.flatMap((i) => i.snapshotIds.map((sid) => [sid, i.id] as const)));
      for (const s of await ctx.ports.ecs.getSnapshots(region, [...owner.keys()]))
        if (s.kmsKeyId) add(out.keys, `${region}/${s.kmsKeyId}`, owner.get(s.id)!);
    }
  }
  return out;
}

/** The pure part: which candidates go and which are held, given what the tags ask for now. */
export function planTrim(
  role: RoleObservation,
  type: ResourceType,
  needs: RoleNeeds,
  passRegions: string[],
  asked: AskedNow | undefined,
  outcomes: Map<string, string>,
): { actions: PlanAction[]; held: TrimHold[]; candidates: number } {
  if (!role.exists) return { actions: [], held: [], candidates: 0 };
  const needed = new Set(needs.grants.map(grantKey));
  const neededKeys = new Set(needs.keys.map(keyId));
  const grantCandidates = grantsInLedger(readTrustLedger(role.description)).filter((g) => !needed.has(grantKey(g)));
  const keyCandidates = grantedKeys(role).filter((k) => passRegions.includes(k.region) && !neededKeys.has(keyId(k)));
  const candidates = grantCandidates.length + keyCandidates.length;
  if (!asked || candidates === 0) return { actions: [], held: [], candidates };
  const held: TrimHold[] = [];
  const hold = (grant: string, ids: string[]) => {
    const reasons = [...new Set(ids.map((id) => outcomes.get(id) ?? 'still tagged'))];
    held.push({ roleName: role.roleName, grant, heldBy: ids.slice(0, 5), reason: reasons.join('; ') });
  };
  const removeGrants: TrustGrant[] = [];
  const keepGrants: TrustGrant[] = [];
  for (const g of grantCandidates) {
    const ids = holdersOf(asked, g);
    if (ids) {
      hold(grantKey(g), ids);
      keepGrants.push(g);
    } else removeGrants.push(g);
  }
  const removeKeys: KeyRef[] = [];
  for (const k of keyCandidates) {
    const ids = asked.keys.get(keyId(k));
    if (ids) hold(`key:${keyId(k)}`, ids);
    else removeKeys.push(k);
  }
  const actions: PlanAction[] = [];
  // Everything still asked goes in `add`: a narrower grant the removed statement admitted (a folder under a removed
  // directory grant, say) was never written in its own right, and is now (found by the simulation, seed 552).
  const add = [
    ...new Map([...needs.grants, ...keepGrants, ...asked.wanted.values()].map((g) => [grantKey(g), g])).values(),
  ];
  if (removeGrants.length) actions.push({ kind: 'mergeTrust', roleName: role.roleName, add, remove: removeGrants });
  if (removeKeys.length)
    actions.push({ kind: 'writeKmsPolicies', roleName: role.roleName, type, add: [], remove: removeKeys });
  return { actions, held, candidates };
}

/** Put back what a resource asks for by now among what the trim just removed (a share made while it ran). */
async function restoreAskedFor(
  ctx: EngineContext,
  type: ResourceType,
  removed: PlanAction[],
  regions: string[],
): Promise<PlanAction[]> {
  await ctx.sleep(ctx.cfg.trimSettleMs);
  const grants = removed.flatMap((a) => (a.kind === 'mergeTrust' ? a.remove : []));
  const keys = removed.flatMap((a) => (a.kind === 'writeKmsPolicies' ? a.remove : []));
  const asked = await askedNow(ctx, type, regions, new Set(keys.map((k) => k.region)));
  const back: PlanAction[] = [];
  const roleName = (removed[0] as { roleName: string }).roleName;
  const reGrants = grants.filter((g) => holdersOf(asked, g));
  const reKeys = keys.filter((k) => asked.keys.has(keyId(k)));
  if (reGrants.length) back.push({ kind: 'mergeTrust', roleName, add: reGrants, remove: [] });
  if (reKeys.length) back.push({ kind: 'writeKmsPolicies', roleName, type, add: reKeys, remove: [] });
  if (back.length) await applyPlan(ctx, back);
  return back;
}

export async function trimRoles(
  ctx: EngineContext,
  pass: { regions: string[]; needs: Record<ResourceType, RoleNeeds>; dryRun: boolean; outcomes: Map<string, string> },
): Promise<TrimResult> {
  const result: TrimResult = { actions: [], held: [], errors: [] };
  for (const type of ['snapshot', 'image'] as const) {
    let roleName = '';
    try {
      const role = await observeRole(ctx, type);
      roleName = role.roleName;
      const first = planTrim(role, type, pass.needs[type], pass.regions, undefined, pass.outcomes);
      if (first.candidates === 0) continue; // steady state: nothing to take back, no extra calls
      const ledger = readTrustLedger(role.description);
      // A record written before regions were recorded may hold grants asked anywhere: check every region then.
      const asking = ledger.regions ?? (await ctx.ports.ecs.regions(ctx.cfg.regions[0] ?? pass.regions[0]));
      const regions = [...new Set([...asking, ...pass.regions, ...ctx.cfg.regions])];
      // The pass's own take-backs may have been written a moment ago: let the reads catch up before judging.
      await ctx.sleep(ctx.cfg.trimSettleMs);
      const asked = await askedNow(ctx, type, regions, new Set(pass.regions));
      const { actions, held } = planTrim(role, type, pass.needs[type], pass.regions, asked, pass.outcomes);
      result.held.push(...held);
      result.actions.push(...actions);
      if (pass.dryRun || actions.length === 0) continue;
      await applyPlan(ctx, actions);
      const back = await restoreAskedFor(ctx, type, actions, regions);
      result.actions.push(...back);
      if (back.length) ctx.log.warn('trim put back grants asked for while it ran', { role: roleName, actions: back });
    } catch (e) {
      const err = e as { code?: string; message?: string };
      result.errors.push({ roleName: roleName || type, code: err.code ?? 'Error', message: String(err.message ?? e) });
      ctx.log.error('role trim failed, nothing more taken back from this role this pass', {
        role: roleName || type,
        error: { code: err.code, message: err.message },
      });
    }
  }
  return result;
}

/** Outcome labels of a pass's refused and failed resources, for the reasons in trimHeld. */
export function outcomeLabels(results: ResourceOutcome[]): Map<string, string> {
  return new Map(
    results
      .filter((r) => r.outcome === 'refused' || r.outcome === 'failed')
      .map((r) => [r.resourceId, `${r.outcome} ${r.error?.code ?? ''}`.trim()]),
  );
}
