// Execute a plan: each action is its write(s) plus a postcondition check. The role documents are shared by every
// resource of a type and RAM has no conditional write, so the trust policy, the KMS policies and the image grant
// record are written read-merge-write: the first write merges into what the observation read (when nothing of this
// invocation wrote the document since), every later round re-reads and re-merges, a failed write is never resent with
// a document computed from an old read, and the read-back after each write repairs what a concurrent writer dropped.
// Writes that do not depend on each other go at once; no pause is taken unless a read-back shows lag or a race.
import { trustPolicyLength } from '../domain/trust-policy';
import type { TrustChange } from '../domain/trust-policy';
import {
  buildKmsPolicies,
  policyIndexFromName,
  policyNameFor,
  versionToDelete,
  type KeyRef,
} from '../domain/kms-policy';
import { parsePolicy, samePolicy } from '../domain/policy-json';
import {
  formatImageGrants,
  mergeImageGrants,
  readImageGrants,
  sameImageGrants,
  type ImageGrantChange,
} from '../domain/image-grants';
import { ledgerTagKeys } from '../domain/targets';
import { CloudError, RetryCount, classify } from '../errors';
import { markWritten, observedSinceWrite, withLock, type EngineContext } from './context';
import { readKmsPolicies, sharesByName } from './observe';
import { keySet, keysOfPolicies, trustWrite } from './plan';
import {
  shareNameFor,
  type PlanAction,
  type ResourceObservation,
  type ResourceRef,
  type RoleObservation,
} from './model';
import type { ResourceType } from '../domain/ids';
import type { RoleInfo } from '../cloud/ram';
import type { AssociationInfo } from '../cloud/sharing';

export const MAX_MERGE_ATTEMPTS = 6;
/** Reads the product verifies with may lag behind the write: look again this many times before calling it lost. */
const READBACK_ATTEMPTS = 5;

export class ConcurrentUpdateError extends Error {
  constructor(what: string) {
    super(
      `${what} kept changing under concurrent writers after ${MAX_MERGE_ATTEMPTS} attempts; the next run repairs it`,
    );
    this.name = 'ConcurrentUpdateError';
  }
}

/** One document written read-merge-write. */
interface Merge<S> {
  read(): Promise<S>;
  /** Write the change merged into `s`; 0 when `s` already shows it. */
  write(s: S): Promise<number>;
  /** Two reads show the same document. */
  same(a: S, b: S): boolean;
}

/** A read-merge-write under way. */
export interface Written<S = unknown> {
  /** Settles once the first write is made, or none is needed: what needs the document written may go ahead. */
  written: Promise<void>;
  /** Settles with the number of writes once a read-back shows the change (after repairing what a concurrent writer dropped). */
  done: Promise<number>;
  /** The document as the last read showed it (after `done`: with the change). */
  last(): S | undefined;
}

/**
 * The read-back after a write. A read that shows exactly the document the write merged into lags behind the write
 * (or a writer put the old one back): look again after growing, jittered pauses (two writers desynchronise) before
 * merging again. Any other answer is the truth to merge into: ours intact, or a concurrent writer's that dropped ours.
 */
async function readBack<S>(ctx: EngineContext, m: Merge<S>, before: S): Promise<S> {
  let now = await m.read();
  for (let look = 1; look < READBACK_ATTEMPTS && m.same(now, before); look++) {
    await ctx.sleep(100 * 2 ** (look - 1) + Math.floor(ctx.random() * 50 * look));
    now = await m.read();
  }
  return now;
}

/**
 * The shape of every read-merge-write: merge into the observation (or a fresh read), write, read back; a read-back
 * without the change is merged into and written again. A retryable failure of a write is waited out as the API says
 * and followed by a fresh read, never by resending the old document; the loop ends when a read shows the change, or
 * after MAX_MERGE_ATTEMPTS writing rounds with a ConcurrentUpdateError (retryable). Within an invocation, writers of
 * one document queue (concurrent resources never race each other).
 */
function mergeLoop<S>(
  ctx: EngineContext,
  what: string,
  m: Merge<S>,
  observed?: { state: S; from: object },
  opts: { settle?: boolean; pauseBeforeReadBack?: boolean } = {},
): Written<S> {
  let signal!: () => void;
  const firstWrite = new Promise<void>((r) => (signal = r));
  let last: S | undefined;
  const done = withLock(ctx, what, async () => {
    let writes = 0;
    const tries = new RetryCount();
    const since = Date.now();
    const read = async () => (last = await m.read());
    let state =
      observed && !opts.settle && observedSinceWrite(ctx, observed.from, what) ? (last = observed.state) : await read();
    // The document a failed write was merged into, while no read-back has verified that write: it may have been
    // applied with its answer lost, and then it needs the same settled read-back as any write.
    let unverified: { from: S } | undefined;
    for (let attempt = 1; attempt <= MAX_MERGE_ATTEMPTS;) {
      let wrote: number;
      try {
        wrote = await m.write(state);
      } catch (e) {
        if (e instanceof CloudError && (await ctx.api.waitBeforeRetry(e, tries.of(e), since))) {
          unverified ??= { from: state };
          state = await read(); // re-read, re-merge
          continue;
        }
        throw e;
      }
      if (wrote === 0 && !unverified) return writes;
      // Nothing written but unverified: the re-read shows the change, our lost write perhaps seen before a concurrent
      // writer's that drops it lands (simulation seed 549). Verify it after the settle, as if just written.
      const from = wrote === 0 ? unverified!.from : state;
      writes += wrote;
      unverified = undefined;
      attempt++;
      markWritten(ctx, what);
      signal();
      if (opts.settle || opts.pauseBeforeReadBack) await settle(ctx, attempt - 1);
      state = await readBack(ctx, { ...m, read }, from);
    }
    throw new ConcurrentUpdateError(what);
  });
  const written = Promise.race([firstWrite, done.then(() => undefined)]);
  written.catch(() => undefined);
  return { written, done, last: () => last };
}

async function settle(ctx: EngineContext, attempt: number): Promise<void> {
  // Long enough for a concurrent writer's update to land and for reads to stop lagging behind it before we verify (a
  // read-back within the lag would show our write intact over a newer one that dropped it); jittered so two writers
  // desynchronise.
  await ctx.sleep(ctx.cfg.settleMs + Math.floor(ctx.random() * 150 * attempt));
}

/** Both settled; the first failure, if any, rethrown (so no write is left running behind an error). */
async function allOf(ps: Array<Promise<unknown>>): Promise<void> {
  const settled = await Promise.allSettled(ps);
  const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failed) throw failed.reason;
}

const sameRole = (a: RoleInfo | undefined, b: RoleInfo | undefined) =>
  a === b ||
  (a !== undefined &&
    b !== undefined &&
    a.description === b.description &&
    samePolicy(parsePolicy(a.trustPolicy), parsePolicy(b.trustPolicy)));

/** Merge grants into (or out of) a role's trust policy until a re-read shows them. */
function startTrust(
  ctx: EngineContext,
  roleName: string,
  change: TrustChange,
  observed?: RoleObservation,
): Written<RoleInfo | undefined> {
  const what = `The trust policy of ${roleName}`;
  const initial = observed && {
    state: observed.exists
      ? ({ roleName, trustPolicy: observed.trustPolicy ?? '', description: observed.description ?? '' } as RoleInfo)
      : undefined,
    from: observed,
  };
  return mergeLoop<RoleInfo | undefined>(
    ctx,
    what,
    {
      read: () => ctx.ports.ram.getRole(roleName),
      same: sameRole,
      async write(role) {
        const next = trustWrite(
          { roleName, exists: Boolean(role), trustPolicy: role?.trustPolicy, description: role?.description },
          change,
          {
            ownerUid: ctx.ownerUid,
            maxLength: ctx.cfg.trustPolicyMaxLength,
          },
        );
        if (!next) return 0;
        try {
          if (role) await ctx.ports.ram.updateRole(roleName, next.trustPolicy, next.description);
          else await ctx.ports.ram.createRole(roleName, next.trustPolicy, next.description);
        } catch (e) {
          // Another instance created the role first: merge into theirs on the next round.
          if (!(e instanceof CloudError && classify(e) === 'already-done')) throw e;
        }
        ctx.log.info('trust policy written', {
          role: roleName,
          added: next.added,
          removed: next.removed,
          length: trustPolicyLength(parsePolicy(next.trustPolicy)),
        });
        return 1;
      },
    },
    initial,
    // Another instance may be between its read and its write of this document (RAM has no conditional write): the
    // read-back waits that long, so it sees a write that would drop ours and merges again.
    { pauseBeforeReadBack: true },
  );
}

async function writePolicyVersion(ctx: EngineContext, policyName: string, text: string): Promise<void> {
  const versions = await ctx.ports.ram.listPolicyVersions(policyName);
  const victim = versionToDelete(
    versions.map((v) => ({ versionId: v.versionId, isDefault: v.isDefault, createDate: v.createDate })),
  );
  if (victim) await ctx.ports.ram.deletePolicyVersion(policyName, victim);
  await ctx.ports.ram.createPolicyVersion(policyName, text);
}

/** Delete a KMS policy part: detached first (a detached part grants nothing), its versions, then the policy. */
async function deletePolicyPart(ctx: EngineContext, roleName: string, name: string): Promise<number> {
  await ctx.ports.ram.detachPolicy(roleName, name, 'Custom');
  for (const v of await ctx.ports.ram.listPolicyVersions(name).catch(() => []))
    if (!v.isDefault) await ctx.ports.ram.deletePolicyVersion(name, v.versionId);
  await ctx.ports.ram.deletePolicy(name);
  return 2;
}

const samePolicies = (a: Record<string, string>, b: Record<string, string>) =>
  Object.keys(a).length === Object.keys(b).length &&
  Object.entries(a).every(([name, doc]) => b[name] !== undefined && samePolicy(parsePolicy(doc), parsePolicy(b[name])));

/**
 * Make ecs-share's KMS policies grant what they grant plus `add` minus `remove`, merged into the observation first
 * and into a fresh read on every later round. `parts()`: how many parts the last write left.
 */
function startKmsPolicies(
  ctx: EngineContext,
  roleName: string,
  type: ResourceType,
  add: KeyRef[],
  remove: KeyRef[],
  observed?: RoleObservation,
): Written<Record<string, string>> & { parts(): number } {
  let parts = 0;
  const initial = observed && {
    state: Object.fromEntries(
      Object.entries(observed.kmsPolicies).filter((e): e is [string, string] => e[1] !== undefined),
    ),
    from: observed,
  };
  // The read-back needs the parts, not the role's attachments: those the observation listed find a part beyond a gap.
  const attached = observed?.attached;
  const loop = mergeLoop<Record<string, string>>(
    ctx,
    `The KMS policies of ${roleName}`,
    {
      read: () => readKmsPolicies(ctx, type, attached),
      same: samePolicies,
      async write(current) {
        const docs = buildKmsPolicies(keySet(keysOfPolicies(current), add, remove));
        parts = docs.length;
        let wrote = 0;
        // Written low to high, so the parts never have a gap.
        for (const [i, doc] of docs.entries()) {
          const name = policyNameFor(type, i);
          const text = JSON.stringify(doc);
          try {
            if (current[name] === undefined)
              await ctx.ports.ram.createPolicy(
                name,
                text,
                `KMS keys that ${roleName} may use for shared encrypted resources. Managed by ecs-share.`,
              );
            else if (!samePolicy(parsePolicy(current[name]), doc)) await writePolicyVersion(ctx, name, text);
            else continue;
          } catch (e) {
            // Another writer created the part or added a version first: read again and merge into theirs.
            if (!(
              e instanceof CloudError &&
              (classify(e) === 'already-done' || e.code === 'LimitExceeded.Policy.Version')
            ))
              throw e;
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
      },
    },
    initial,
    // Another instance may be between its read and its write of this document (RAM has no conditional write): the
    // read-back waits that long, so it sees a write that would drop ours and merges again.
    { pauseBeforeReadBack: true },
  );
  return { ...loop, parts: () => parts };
}

/** Make ecs-share's KMS policies grant what they grant plus `add` minus `remove`, and be attached (re-read every round). */
export async function ensureKmsPolicies(
  ctx: EngineContext,
  roleName: string,
  type: ResourceType,
  add: KeyRef[],
  remove: KeyRef[],
): Promise<number> {
  const loop = startKmsPolicies(ctx, roleName, type, add, remove);
  const writes = await loop.done;
  return writes + (await attachKmsPolicies(ctx, roleName, loop.parts(), type));
}

/** Attach the first `parts` parts; `attached`: what a read already showed attached (else it is read). */
async function attachKmsPolicies(
  ctx: EngineContext,
  roleName: string,
  parts: number,
  type: ResourceType,
  attached?: Set<string>,
): Promise<number> {
  const known = attached ?? new Set((await ctx.ports.ram.listPoliciesForRole(roleName)).map((p) => p.policyName));
  const missing = Array.from({ length: parts }, (_, i) => policyNameFor(type, i)).filter((name) => !known.has(name));
  await allOf(missing.map((name) => ctx.ports.ram.attachPolicy(roleName, name, 'Custom').then(() => known.add(name))));
  if (missing.length) markWritten(ctx, attachmentsOf(roleName));
  return missing.length;
}

const attachmentsOf = (roleName: string) => `The attachments of ${roleName}`;

/**
 * Read the image's share list back: the API answers success even for accounts it silently dropped (past 10 a call),
 * and the read may lag behind the write, so look a few times with growing pauses before calling it lost.
 */
async function verifyImageAccounts(
  ctx: EngineContext,
  ref: ResourceRef,
  accounts: string[],
  shared: boolean,
): Promise<void> {
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

const ledgerOf = (ctx: EngineContext, image: { tags: Record<string, string> } | undefined) =>
  readImageGrants(image?.tags ?? {}, ctx.cfg.ledgerKey);

/**
 * Merge a change into the image's grant record as it is now, write it, and read it back after a settle. The record is
 * raced by every invocation about the same image (a duplicate event, a quick re-tag), each merging into what it read
 * one round trip before; only a pause as long as a writer's read-to-write window lets the read-back see a write that
 * dropped ours (the e2e test of two instances tagging one image 20 ms apart says so), so it keeps the settle and
 * re-reads before every write.
 */
function startImageGrants(
  ctx: EngineContext,
  ref: ResourceRef,
  change: ImageGrantChange,
): Written<{ tags: Record<string, string> } | undefined> {
  return mergeLoop<{ tags: Record<string, string> } | undefined>(
    ctx,
    `The grant record of ${ref.id}`,
    {
      read: () => ctx.ports.ecs.getImage(ref.region, ref.id),
      same: (a, b) => (a === undefined) === (b === undefined) && sameImageGrants(ledgerOf(ctx, a), ledgerOf(ctx, b)),
      async write(image) {
        if (!image) return 0; // deleted: its share permissions went with it
        const rec = ledgerOf(ctx, image);
        const next = mergeImageGrants(rec, change, Math.floor(ctx.now() / 1000));
        if (sameImageGrants(rec, next)) return 0;
        const tags = formatImageGrants(next, ctx.cfg.ledgerKey);
        const stale = ledgerTagKeys(image.tags, ctx.cfg.ledgerKey).filter((k) => !(k in tags));
        await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, tags);
        await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, stale);
        return (Object.keys(tags).length ? 1 : 0) + (stale.length ? 1 : 0);
      },
    },
    undefined,
    { settle: true },
  );
}

function ensureImageGrants(ctx: EngineContext, ref: ResourceRef, change: ImageGrantChange): Promise<number> {
  return startImageGrants(ctx, ref, change).done;
}

/** ecs-share's resource share as a read after the last write saw it: its target and resource associations. */
export interface ShareReadBack {
  shareId: string;
  targets: AssociationInfo[];
  resources: AssociationInfo[];
}

/** The associations of one share, targets and resources at once. */
export async function readShare(ctx: EngineContext, region: string, shareId: string): Promise<ShareReadBack> {
  const [targets, resources] = await Promise.all([
    ctx.ports.sharing.associations(region, shareId, 'Target'),
    ctx.ports.sharing.associations(region, shareId, 'Resource'),
  ]);
  return { shareId, targets, resources };
}

/**
 * Create the resource's share. A create whose answer was lost is re-observed, not resent (names are not unique, so a
 * resend could make a twin). When two instances made twins, each made its own from the tags it read, so neither knows
 * which tags are current: the run observes again (Applied.reobserve) and plans over all of them, from fresh tags. The
 * look for twins reads the new share's associations at the same time.
 */
async function createResourceShare(
  ctx: EngineContext,
  a: Extract<PlanAction, { kind: 'createResourceShare' }>,
  out: Applied,
): Promise<number> {
  const { sharing } = ctx.ports;
  let writes = 0;
  const tries = new RetryCount();
  let created: string | undefined;
  const since = Date.now();
  for (;;) {
    try {
      created = await sharing.createShare(
        a.ref.region,
        a.name,
        { id: a.ref.id, type: a.ref.type === 'image' ? 'Image' : 'Snapshot' },
        a.targets,
        a.allowExternalTargets,
      );
      writes++;
      break;
    } catch (e) {
      if (!(e instanceof CloudError)) throw e;
      const retry = classify(e) === 'retryable';
      if (!retry && classify(e) !== 'already-done') throw e;
      if ((await sharesByName(ctx, a.ref.region, a.name)).length) break; // it was created (by us or a twin delivery)
      if (!retry || !(await ctx.api.waitBeforeRetry(e, tries.of(e), since))) throw e;
    }
  }
  const readBack = created ? readShare(ctx, a.ref.region, created) : undefined;
  readBack?.catch(() => undefined);
  const [kept, ...twins] = await sharesByName(ctx, a.ref.region, a.name);
  if (!kept) return writes;
  out.shareId = kept.id;
  if (twins.length || writes === 0) out.reobserve = true;
  else if (readBack && kept.id === created) {
    out.shareReadBack = await readBack.catch(() => undefined);
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

/** What applying a plan did: the writes it made, and the resource share its targets are on (with a read-back). */
export interface Applied {
  writes: number;
  /**
   * The grant record's confirmation, still being written when the plan returns: it is the last write and nothing
   * waits for it (the status tag goes with it). Settles with its write count; the caller awaits it.
   */
  tail?: Promise<number>;
  shareId?: string;
  /** The share's associations as read right after it was created (the first look for them, already taken). */
  shareReadBack?: ShareReadBack;
  /**
   * The create found a share of the same name it cannot vouch for (a twin made at once, or its own answer was lost):
   * what the plan was made from is no longer the truth, so the run observes again and plans over what is there.
   */
  reobserve?: boolean;
}

/** What the plan was made from: each read-merge-write's first round merges into it rather than reading again. */
export interface Observed {
  role?: RoleObservation;
  resource?: ResourceObservation;
}

/** Apply one action; returns the number of write calls it made. */
async function applyAction(
  ctx: EngineContext,
  a: PlanAction,
  out: Applied = { writes: 0 },
  observed: Observed = {},
): Promise<number> {
  const { ecs, ram, sharing } = ctx.ports;
  switch (a.kind) {
    case 'createRole':
      return startTrust(ctx, a.roleName, { add: a.grants, remove: [], regions: a.regions }, observed.role).done;
    case 'mergeTrust':
      return startTrust(ctx, a.roleName, { add: a.add, remove: a.remove, regions: a.regions }, observed.role).done;
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
      return startImageGrants(ctx, a.ref, a).done;
    case 'createResourceShare':
      return createResourceShare(ctx, a, out);
    case 'allowExternalTargets':
      await sharing.updateAllowExternal(a.ref.region, a.shareId, true, a.name);
      return 1;
    case 'associateTargets':
      await sharing.associateTargets(a.ref.region, a.shareId, a.targets);
      out.shareId = a.shareId;
      return 1;
    case 'disassociateTargets':
      await sharing.disassociateTargets(a.ref.region, a.shareId, a.targets);
      out.shareId = a.shareId;
      return 1;
    case 'deleteResourceShare':
      return deleteResourceShare(ctx, a.ref, a.shareId);
  }
}

/** Apply a plan, one action after another (the role trim's plans, a deleted resource's shares). */
export async function applyPlan(ctx: EngineContext, actions: PlanAction[]): Promise<number> {
  return (await applyInOrder(ctx, actions, { writes: 0 })).writes;
}

async function applyInOrder(
  ctx: EngineContext,
  actions: PlanAction[],
  out: Applied,
  observed: Observed = {},
): Promise<Applied> {
  for (const [i, a] of actions.entries()) {
    try {
      out.writes += await applyAction(ctx, a, out, observed);
    } catch (e) {
      await settleGrantRecord(ctx, actions.slice(i + 1));
      throw e;
    }
  }
  return out;
}

const ROLE_KINDS = new Set<PlanAction['kind']>(['createRole', 'mergeTrust', 'writeKmsPolicies', 'attachPolicy']);

/**
 * Apply a share plan at the speed of its dependencies. At once: the trust policy and the KMS policies (merged into
 * what the plan was made from) and the image grant record's intent. The attachments once the role exists. The shares,
 * one after another as planned, once what they need is there: a resource share once the role writes are made, an image
 * share once the role's read-backs show them and the intent is in the record; the confirmation after the share's
 * read-back goes on while the caller writes the status tag (Applied.tail). Meanwhile each document is read back and
 * repaired if a concurrent writer dropped the change; the plan is done when every read-back shows it.
 */
export async function applySharePlan(ctx: EngineContext, actions: PlanAction[], observed: Observed): Promise<Applied> {
  const out: Applied = { writes: 0 };
  const roleActions = actions.filter((a) => ROLE_KINDS.has(a.kind));
  const shareActions = actions.filter((a) => !ROLE_KINDS.has(a.kind));
  const role = observed.role;
  const count = (p: Promise<number>) => p.then((n) => void (out.writes += n));
  // What the shares wait for. ModifyImageSharePermission itself checks that the image role exists, trusts each
  // account and (legacy service key) has its policy attached: an image share waits for the role's read-backs. A
  // resource share does not check: it waits only for the role writes to be made.
  const image = shareActions.some((a) => a.kind === 'shareImageAccounts');
  const gate: Array<Promise<unknown>> = [];
  const rest: Array<Promise<void>> = [];
  let trust: Written | undefined;
  let kms: ReturnType<typeof startKmsPolicies> | undefined;
  for (const a of roleActions) {
    if (a.kind === 'createRole' || a.kind === 'mergeTrust') {
      trust = startTrust(
        ctx,
        a.roleName,
        a.kind === 'createRole'
          ? { add: a.grants, remove: [], regions: a.regions }
          : { add: a.add, remove: a.remove, regions: a.regions },
        role,
      );
    } else if (a.kind === 'writeKmsPolicies') {
      kms = startKmsPolicies(ctx, a.roleName, a.type, a.add, a.remove, role);
    }
  }
  for (const w of [trust, kms]) {
    if (!w) continue;
    gate.push(image ? w.done : w.written);
    rest.push(count(w.done));
  }
  const roleExists = trust ? trust.written : Promise.resolve();
  // Attachments once the role exists (and the parts do): those the plan names, and the parts the KMS write made.
  for (const a of roleActions) {
    if (a.kind !== 'attachPolicy') continue;
    const attach = roleExists
      .then(() => ctx.ports.ram.attachPolicy(a.roleName, a.policyName, a.policyType))
      .then(() => 1);
    rest.push(count(attach));
    if (image) gate.push(attach);
  }
  if (kms) {
    const k = kms;
    const { roleName, type } = roleActions.find((a) => a.kind === 'writeKmsPolicies') as Extract<
      PlanAction,
      { kind: 'writeKmsPolicies' }
    >;
    // The observed attachments, unless this invocation attached parts since (another resource of the run did).
    const attached =
      role && observedSinceWrite(ctx, role, attachmentsOf(roleName))
        ? new Set(role.attached.filter((p) => p.policyType === 'Custom').map((p) => p.policyName))
        : undefined;
    const attachFirst = Promise.all([roleExists, k.written]).then(() =>
      attachKmsPolicies(ctx, roleName, k.parts(), type, attached),
    );
    // A repair round may have needed more parts than the first write: attach those once the read-back is done.
    const attachAll = Promise.all([attachFirst, k.done]).then(() =>
      attachKmsPolicies(ctx, roleName, k.parts(), type, attached),
    );
    rest.push(count(attachFirst), count(attachAll));
    if (image) gate.push(attachAll);
  }
  // The grant record's intent goes with the role writes; the share it records waits until a read-back shows it.
  const first = shareActions[0];
  const intent =
    first?.kind === 'writeGrantLedger' && (first.intend?.length ?? 0) > 0
      ? startImageGrants(ctx, first.ref, first)
      : undefined;
  if (intent) {
    gate.push(intent.done);
    rest.push(count(intent.done));
  }
  const shares = (async () => {
    const after = intent ? shareActions.slice(1) : shareActions;
    try {
      await allOf(gate);
    } catch (e) {
      await settleGrantRecord(ctx, after);
      throw e;
    }
    for (const [i, a] of after.entries()) {
      try {
        if (a.kind === 'writeGrantLedger' && i > 0 && !out.tail) {
          // The confirmation after a share is the last write: the status tag is written while it is.
          out.tail = startImageGrants(ctx, a.ref, a).done;
          out.tail.catch(() => undefined);
          continue;
        }
        out.writes += await applyAction(ctx, a, out);
      } catch (e) {
        await settleGrantRecord(ctx, after.slice(i + 1));
        throw e;
      }
    }
  })();
  await allOf([...gate, ...rest, shares]);
  return out;
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
      const change = {
        confirm: (a.confirm ?? []).filter((uid) => now.has(uid)),
        forget: (a.forget ?? []).filter((uid) => !now.has(uid)),
      };
      if (change.confirm.length || change.forget.length) await ensureImageGrants(ctx, a.ref, change);
    } catch (e) {
      ctx.log.error('could not record the accounts granted before the failure', {
        resourceId: a.ref.id,
        error: (e as Error).message,
      });
    }
  }
}
