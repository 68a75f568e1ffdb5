// Execute a plan: each action is its write(s) plus a postcondition check. The role documents are shared by every
// resource of a type and RAM has no conditional write, so the trust policy, the KMS policies and the image grant
// record are written read-merge-write: every round re-reads and re-merges, a failed write is never resent with a
// document computed from an old read, and a re-read after a jittered pause repairs what a concurrent writer dropped.
import { trustPolicyLength } from '../domain/trust-policy';
import type { TrustChange } from '../domain/trust-policy';
import { buildKmsPolicies, policyIndexFromName, policyNameFor, versionToDelete, type KeyRef } from '../domain/kms-policy';
import { parsePolicy, samePolicy } from '../domain/policy-json';
import { formatImageGrants, mergeImageGrants, readImageGrants, sameImageGrants, type ImageGrantChange } from '../domain/image-grants';
import { ledgerTagKeys } from '../domain/targets';
import { CloudError, classify } from '../errors';
import { withLock, type EngineContext } from './context';
import { readKmsPolicies, sharesByName } from './observe';
import { keySet, keysOfPolicies, trustWrite } from './plan';
import { shareNameFor, type PlanAction, type ResourceRef } from './model';
import type { ResourceType } from '../domain/ids';

export const MAX_MERGE_ATTEMPTS = 6;
/** Reads the product verifies with may lag behind the write: look again this many times before calling it lost. */
const READBACK_ATTEMPTS = 5;

export class ConcurrentUpdateError extends Error {
  constructor(what: string) {
    super(`${what} kept changing under concurrent writers after ${MAX_MERGE_ATTEMPTS} attempts; the next run repairs it`);
    this.name = 'ConcurrentUpdateError';
  }
}

async function settle(ctx: EngineContext, attempt: number): Promise<void> {
  // Long enough for a concurrent writer's update to land and for reads to stop lagging behind it before we verify (a
  // read-back within the lag would show our write intact over a newer one that dropped it); jittered so two writers
  // desynchronise.
  await ctx.sleep(ctx.cfg.settleMs + Math.floor(ctx.random() * 150 * attempt));
}

/**
 * The shape of every read-merge-write: `round` reads, merges and writes (returns the writes made, 0 when the read
 * already shows the change). A retryable failure of a write is waited out as the API says and followed by a fresh
 * read, never by resending the old document; the loop ends when a read shows the change, or after
 * MAX_MERGE_ATTEMPTS writing rounds with a ConcurrentUpdateError (retryable).
 */
function mergeLoop(ctx: EngineContext, what: string, round: () => Promise<number>): Promise<number> {
  return withLock(ctx, what, () => mergeRounds(ctx, what, round));
}

async function mergeRounds(ctx: EngineContext, what: string, round: () => Promise<number>): Promise<number> {
  let writes = 0;
  let failures = 0;
  const since = Date.now();
  for (let attempt = 1; attempt <= MAX_MERGE_ATTEMPTS; ) {
    let wrote: number;
    try {
      wrote = await round();
    } catch (e) {
      if (e instanceof CloudError && (await ctx.api.waitBeforeRetry(e, ++failures, since))) continue; // re-read, re-merge
      throw e;
    }
    if (wrote === 0) return writes;
    writes += wrote;
    await settle(ctx, attempt++);
  }
  throw new ConcurrentUpdateError(what);
}

/** Merge grants into (or out of) a role's trust policy until a re-read shows them. Returns the number of writes. */
function ensureTrust(ctx: EngineContext, roleName: string, change: TrustChange): Promise<number> {
  return mergeLoop(ctx, `The trust policy of ${roleName}`, async () => {
    const role = await ctx.ports.ram.getRole(roleName);
    const next = trustWrite({ roleName, exists: Boolean(role), trustPolicy: role?.trustPolicy, description: role?.description }, change, {
      ownerUid: ctx.ownerUid,
      maxLength: ctx.cfg.trustPolicyMaxLength,
    });
    if (!next) return 0;
    try {
      if (role) await ctx.ports.ram.updateRole(roleName, next.trustPolicy, next.description);
      else await ctx.ports.ram.createRole(roleName, next.trustPolicy, next.description);
    } catch (e) {
      // Another instance created the role first: merge into theirs on the next round.
      if (!(e instanceof CloudError && classify(e) === 'already-done')) throw e;
    }
    ctx.log.info('trust policy written', { role: roleName, added: next.added, removed: next.removed, length: trustPolicyLength(parsePolicy(next.trustPolicy)) });
    return 1;
  });
}

async function writePolicyVersion(ctx: EngineContext, policyName: string, text: string): Promise<void> {
  const versions = await ctx.ports.ram.listPolicyVersions(policyName);
  const victim = versionToDelete(versions.map((v) => ({ versionId: v.versionId, isDefault: v.isDefault, createDate: v.createDate })));
  if (victim) await ctx.ports.ram.deletePolicyVersion(policyName, victim);
  await ctx.ports.ram.createPolicyVersion(policyName, text);
}

/** Delete a KMS policy part: detached first (a detached part grants nothing), its versions, then the policy. */
async function deletePolicyPart(ctx: EngineContext, roleName: string, name: string): Promise<number> {
  await ctx.ports.ram.detachPolicy(roleName, name, 'Custom');
  for (const v of await ctx.ports.ram.listPolicyVersions(name).catch(() => [])) if (!v.isDefault) await ctx.ports.ram.deletePolicyVersion(name, v.versionId);
  await ctx.ports.ram.deletePolicy(name);
  return 2;
}

/** Make ecs-share's KMS policies grant what they grant plus `add` minus `remove` (re-read every round). */
export async function ensureKmsPolicies(ctx: EngineContext, roleName: string, type: ResourceType, add: KeyRef[], remove: KeyRef[]): Promise<number> {
  let parts = 0;
  const writes = await mergeLoop(ctx, `The KMS policies of ${roleName}`, async () => {
    const current = await readKmsPolicies(ctx, type);
    const docs = buildKmsPolicies(keySet(keysOfPolicies(current), add, remove));
    parts = docs.length;
    let wrote = 0;
    // Written low to high, so the parts never have a gap.
    for (const [i, doc] of docs.entries()) {
      const name = policyNameFor(type, i);
      const text = JSON.stringify(doc);
      try {
        if (current[name] === undefined) await ctx.ports.ram.createPolicy(name, text, `KMS keys that ${roleName} may use for shared encrypted resources. Managed by ecs-share.`);
        else if (!samePolicy(parsePolicy(current[name]), doc)) await writePolicyVersion(ctx, name, text);
        else continue;
      } catch (e) {
        // Another writer created the part or added a version first: read again and merge into theirs.
        if (!(e instanceof CloudError && (classify(e) === 'already-done' || e.code === 'LimitExceeded.Policy.Version'))) throw e;
      }
      wrote++;
    }
    // Parts no longer needed, deleted high to low: a failure between two deletions leaves no gap below a live part.
    const extra = Object.keys(current)
      .map((name) => ({ name, index: policyIndexFromName(type, name) ?? -1 }))
      .filter((p) => p.index >= docs.length)
      .sort((a, b) => b.index - a.index);
    for (const p of extra) wrote += await deletePolicyPart(ctx, roleName, p.name);
    if (wrote) ctx.log.info('kms policies written', { role: roleName, parts: docs.length });
    return wrote;
  });
  return writes + (await attachKmsPolicies(ctx, roleName, parts, type));
}

async function attachKmsPolicies(ctx: EngineContext, roleName: string, parts: number, type: ResourceType): Promise<number> {
  const attached = new Set((await ctx.ports.ram.listPoliciesForRole(roleName)).map((p) => p.policyName));
  let writes = 0;
  for (let i = 0; i < parts; i++) {
    if (attached.has(policyNameFor(type, i))) continue;
    await ctx.ports.ram.attachPolicy(roleName, policyNameFor(type, i), 'Custom');
    writes++;
  }
  return writes;
}

/**
 * Read the image's share list back: the API answers success even for accounts it silently dropped (past 10 a call),
 * and the read may lag behind the write, so look a few times with growing pauses before calling it lost.
 */
async function verifyImageAccounts(ctx: EngineContext, ref: ResourceRef, accounts: string[], shared: boolean): Promise<void> {
  let wrong: string[] = [];
  for (let attempt = 1; attempt <= READBACK_ATTEMPTS; attempt++) {
    const now = new Set(await ctx.ports.ecs.imageShareAccounts(ref.region, ref.id));
    wrong = accounts.filter((uid) => now.has(uid) !== shared);
    if (wrong.length === 0) return;
    if (attempt < READBACK_ATTEMPTS) await ctx.sleep(100 * 2 ** (attempt - 1));
  }
  throw new CloudError({
    code: 'ShareNotApplied',
    action: 'ModifyImageSharePermission',
    message: `ModifyImageSharePermission succeeded, yet ${wrong.join(', ')} ${shared ? 'is not in' : 'is still in'} the share list of ${ref.id}`,
  });
}

/** Merge a change into the image's grant record as it is now, write it, and read it back (bounded). */
function ensureImageGrants(ctx: EngineContext, ref: ResourceRef, change: ImageGrantChange): Promise<number> {
  return mergeLoop(ctx, `The grant record of ${ref.id}`, async () => {
    const image = await ctx.ports.ecs.getImage(ref.region, ref.id);
    if (!image) return 0; // deleted: its share permissions went with it
    const rec = readImageGrants(image.tags, ctx.cfg.ledgerKey);
    const next = mergeImageGrants(rec, change, Math.floor(ctx.now() / 1000));
    if (sameImageGrants(rec, next)) return 0;
    const tags = formatImageGrants(next, ctx.cfg.ledgerKey);
    const stale = ledgerTagKeys(image.tags, ctx.cfg.ledgerKey).filter((k) => !(k in tags));
    await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, tags);
    await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, stale);
    return (Object.keys(tags).length ? 1 : 0) + (stale.length ? 1 : 0);
  });
}

/**
 * Create the resource's share. A create whose answer was lost is re-observed, not resent (names are not unique, so a
 * resend could make a twin). When two instances made twins, both converge on the lowest id: the others are deleted
 * once their targets are on the kept one.
 */
async function createResourceShare(ctx: EngineContext, a: Extract<PlanAction, { kind: 'createResourceShare' }>): Promise<number> {
  const { sharing } = ctx.ports;
  let writes = 0;
  let failures = 0;
  const since = Date.now();
  for (;;) {
    try {
      await sharing.createShare(a.ref.region, a.name, { id: a.ref.id, type: a.ref.type === 'image' ? 'Image' : 'Snapshot' }, a.targets, a.allowExternalTargets);
      writes++;
      break;
    } catch (e) {
      if (!(e instanceof CloudError)) throw e;
      const retry = classify(e) === 'retryable';
      if (!retry && classify(e) !== 'already-done') throw e;
      if ((await sharesByName(ctx, a.ref.region, a.name)).length) break; // it was created (by us or a twin delivery)
      if (!retry || !(await ctx.api.waitBeforeRetry(e, ++failures, since))) throw e;
    }
  }
  const [kept, ...twins] = await sharesByName(ctx, a.ref.region, a.name);
  if (!kept) return writes;
  if (twins.length || writes === 0) {
    // Make sure the kept share carries our targets, then drop the twins: never wider, never a second copy.
    if (a.allowExternalTargets && !kept.allowExternalTargets) {
      await sharing.updateAllowExternal(a.ref.region, kept.id, true, a.name);
      writes++;
    }
    await sharing.associateTargets(a.ref.region, kept.id, a.targets);
    writes++;
    for (const t of twins) writes += await deleteResourceShare(ctx, a.ref, t.id);
  }
  return writes;
}

/**
 * Delete a resource share; already gone (or a lost answer after it went, which a resent call then finds gone) is
 * success: the share was live when observed, so it counts as taken back.
 */
async function deleteResourceShare(ctx: EngineContext, ref: ResourceRef, shareId: string): Promise<number> {
  try {
    await ctx.ports.sharing.deleteShare(ref.region, shareId);
    return 1;
  } catch (e) {
    if (!(e instanceof CloudError)) throw e;
    if (classify(e) === 'not-found') return 1;
    if (!(await sharesByName(ctx, ref.region, shareNameFor(ref.id))).some((x) => x.id === shareId)) return 1;
    throw e;
  }
}

/** Apply one action; returns the number of write calls it made. */
async function applyAction(ctx: EngineContext, a: PlanAction): Promise<number> {
  const { ecs, ram, sharing } = ctx.ports;
  switch (a.kind) {
    case 'createRole':
      return ensureTrust(ctx, a.roleName, { add: a.grants, remove: [], regions: a.regions });
    case 'mergeTrust':
      return ensureTrust(ctx, a.roleName, { add: a.add, remove: a.remove, regions: a.regions });
    case 'writeKmsPolicies':
      return ensureKmsPolicies(ctx, a.roleName, a.type, a.add, a.remove);
    case 'attachPolicy':
      await ram.attachPolicy(a.roleName, a.policyName, a.policyType);
      return 1;
    case 'shareImageAccounts':
      await ecs.modifyImageShare(a.ref.region, a.ref.id, { add: a.add });
      await verifyImageAccounts(ctx, a.ref, a.add, true);
      return Math.ceil(a.add.length / 10);
    case 'unshareImageAccounts':
      await ecs.modifyImageShare(a.ref.region, a.ref.id, { remove: a.remove });
      await verifyImageAccounts(ctx, a.ref, a.remove, false);
      return Math.ceil(a.remove.length / 10);
    case 'writeGrantLedger':
      return ensureImageGrants(ctx, a.ref, a);
    case 'createResourceShare':
      return createResourceShare(ctx, a);
    case 'allowExternalTargets':
      await sharing.updateAllowExternal(a.ref.region, a.shareId, true, a.name);
      return 1;
    case 'associateTargets':
      await sharing.associateTargets(a.ref.region, a.shareId, a.targets);
      return 1;
    case 'disassociateTargets':
      await sharing.disassociateTargets(a.ref.region, a.shareId, a.targets);
      return 1;
    case 'deleteResourceShare':
      return deleteResourceShare(ctx, a.ref, a.shareId);
  }
}

export async function applyPlan(ctx: EngineContext, actions: PlanAction[]): Promise<number> {
  let writes = 0;
  for (const [i, a] of actions.entries()) {
    try {
      writes += await applyAction(ctx, a);
    } catch (e) {
      await settleGrantRecord(ctx, actions.slice(i + 1));
      throw e;
    }
  }
  return writes;
}

/**
 * An image share failed part-way (e.g. the 50-account quota after two batches of 10): settle the grant record with
 * what the share list shows now, so the accounts that did get added are ecs-share's at once (the intents would let
 * the next run claim them anyway) and nothing still shared is forgotten.
 */
async function settleGrantRecord(ctx: EngineContext, rest: PlanAction[]): Promise<void> {
  for (const a of rest) {
    if (a.kind !== 'writeGrantLedger' || !(a.confirm?.length || a.forget?.length)) continue;
    try {
      // The share list may lag behind the calls that did succeed: look again briefly before leaving them intents.
      let now = new Set<string>();
      for (let attempt = 1; attempt <= 3; attempt++) {
        now = new Set(await ctx.ports.ecs.imageShareAccounts(a.ref.region, a.ref.id));
        if ((a.confirm ?? []).every((uid) => now.has(uid)) || attempt === 3) break;
        await ctx.sleep(200 * attempt);
      }
      const change = { confirm: (a.confirm ?? []).filter((uid) => now.has(uid)), forget: (a.forget ?? []).filter((uid) => !now.has(uid)) };
      if (change.confirm.length || change.forget.length) await ensureImageGrants(ctx, a.ref, change);
    } catch (e) {
      ctx.log.error('could not record the accounts granted before the failure', { resourceId: a.ref.id, error: (e as Error).message });
    }
  }
}
