// Execute a plan. The role documents are shared by every resource of a type and RAM has no conditional write, so
// the trust policy and the KMS policies are written read-merge-write, then re-read after a jittered pause: when a
// concurrent writer's update dropped ours, the merge reports a change again and is re-applied (bounded).
import { parsePolicy, type PolicyDocument } from '../domain/policy-json';
import { mergeTrust, readTrustLedger, trustPolicyLength, writeTrustLedger, type TrustGrant } from '../domain/trust-policy';
import { buildKmsPolicies, keyArn, keysInPolicy, policyNameFor, versionToDelete, type KeyRef } from '../domain/kms-policy';
import { samePolicy } from '../domain/policy-json';
import { CloudError, LimitError, classify } from '../errors';
import type { EngineContext } from './context';
import { readKmsPolicies } from './observe';
import { formatGrantLedger } from '../domain/targets';
import type { PlanAction, ResourceRef } from './model';
import type { ResourceType } from '../cloud/ecs';

export const MAX_MERGE_ATTEMPTS = 6;
const ROLE_DESCRIPTION = 'Lets ECS of the recipients of shared encrypted resources use the KMS keys. Managed by ecs-share.';
const EMPTY_TRUST: PolicyDocument = { Version: '1', Statement: [] };

export class ConcurrentUpdateError extends Error {
  constructor(what: string) {
    super(`${what} kept changing under concurrent writers after ${MAX_MERGE_ATTEMPTS} attempts; the next run repairs it`);
    this.name = 'ConcurrentUpdateError';
  }
}

const ownerOnlyStatement = (uid: string) => ({ Action: 'sts:AssumeRole', Effect: 'Allow' as const, Principal: { Service: [`${uid}@ecs.aliyuncs.com`] } });

async function settle(ctx: EngineContext, attempt: number): Promise<void> {
  // Long enough for a concurrent writer's update to land before we verify; jittered so two writers desynchronise.
  await ctx.sleep(100 + Math.floor(ctx.random() * 150 * attempt));
}

/** Merge grants into (or out of) a role's trust policy until a re-read shows them. Returns the number of writes. */
export async function ensureTrust(ctx: EngineContext, roleName: string, add: TrustGrant[], remove: TrustGrant[]): Promise<number> {
  let writes = 0;
  for (let attempt = 1; attempt <= MAX_MERGE_ATTEMPTS; attempt++) {
    const role = await ctx.ports.ram.getRole(roleName);
    const doc = role ? parsePolicy(role.trustPolicy) : EMPTY_TRUST;
    const merged = mergeTrust(doc, readTrustLedger(role?.description), { add, remove });
    if (role && !merged.changed) return writes;
    if (!role && add.length === 0) return writes;
    // RAM needs at least one statement: when the last grant goes, keep one that trusts only the owner's own ECS.
    if (merged.document.Statement.length === 0) merged.document.Statement = [ownerOnlyStatement(ctx.ownerUid)];
    const text = JSON.stringify(merged.document);
    if (trustPolicyLength(merged.document) > ctx.cfg.trustPolicyMaxLength) {
      throw new LimitError(
        `The trust policy of ${roleName} would be ${text.length} characters, over the limit of ${ctx.cfg.trustPolicyMaxLength}; share with a resource directory or folder instead of single accounts`,
        'TrustPolicyTooLong',
      );
    }
    let description: string;
    try {
      description = writeTrustLedger(role?.description || ROLE_DESCRIPTION, merged.ledger);
    } catch (e) {
      // The ownership record no longer fits the role's 1,024-character description: refuse rather than lose track.
      throw new LimitError(`${(e as Error).message} (role ${roleName})`, 'TrustRecordTooLong');
    }
    try {
      if (role) await ctx.ports.ram.updateRole(roleName, text, description);
      else await ctx.ports.ram.createRole(roleName, text, description);
      writes++;
    } catch (e) {
      // Another instance created the role first: merge into theirs on the next round.
      if (!(e instanceof CloudError && classify(e) === 'already-done')) throw e;
    }
    ctx.log.info('trust policy written', { role: roleName, attempt, added: merged.added, removed: merged.removed });
    await settle(ctx, attempt);
  }
  throw new ConcurrentUpdateError(`The trust policy of ${roleName}`);
}

async function writePolicyVersion(ctx: EngineContext, policyName: string, text: string): Promise<void> {
  const versions = await ctx.ports.ram.listPolicyVersions(policyName);
  const victim = versionToDelete(versions.map((v) => ({ versionId: v.versionId, isDefault: v.isDefault, createDate: v.createDate })));
  if (victim) await ctx.ports.ram.deletePolicyVersion(policyName, victim);
  await ctx.ports.ram.createPolicyVersion(policyName, text);
}

/** Make ecs-share's KMS policies of a role grant `keys` (plus what they grant already, unless exact). */
export async function ensureKmsPolicies(ctx: EngineContext, roleName: string, type: ResourceType, keys: KeyRef[], exact: boolean): Promise<number> {
  let writes = 0;
  for (let attempt = 1; attempt <= MAX_MERGE_ATTEMPTS; attempt++) {
    const current = await readKmsPolicies(ctx, type);
    const granted = Object.values(current).flatMap((d) => keysInPolicy(parsePolicy(d)));
    const wanted = new Map<string, KeyRef>();
    for (const k of exact ? keys : [...granted, ...keys]) wanted.set(keyArn(k), k);
    const docs = buildKmsPolicies([...wanted.values()]);
    let changed = false;
    for (const [i, doc] of docs.entries()) {
      const name = policyNameFor(type, i);
      const text = JSON.stringify(doc);
      if (current[name] === undefined) {
        try {
          await ctx.ports.ram.createPolicy(name, text, `KMS keys that ${roleName} may use for shared encrypted resources. Managed by ecs-share.`);
        } catch (e) {
          // Another worker created it first: merge into theirs on the next round.
          if (!(e instanceof CloudError && classify(e) === 'already-done')) throw e;
          changed = true;
          continue;
        }
      } else if (!samePolicy(parsePolicy(current[name]), doc)) {
        try {
          await writePolicyVersion(ctx, name, text);
        } catch (e) {
          // Another writer added a version between our listing and our write: list again next round.
          if (!(e instanceof CloudError && e.code === 'LimitExceeded.Policy.Version')) throw e;
          changed = true;
          continue;
        }
      } else continue;
      changed = true;
      writes++;
    }
    // Parts no longer needed (fewer keys than before): detach and delete them.
    for (const name of Object.keys(current).slice(docs.length)) {
      await ctx.ports.ram.detachPolicy(roleName, name, 'Custom');
      for (const v of await ctx.ports.ram.listPolicyVersions(name)) if (!v.isDefault) await ctx.ports.ram.deletePolicyVersion(name, v.versionId);
      await ctx.ports.ram.deletePolicy(name);
      changed = true;
      writes += 2;
    }
    if (!changed) return writes + (await attachKmsPolicies(ctx, roleName, docs.length, type));
    ctx.log.info('kms policies written', { role: roleName, keys: wanted.size, attempt });
    await settle(ctx, attempt);
  }
  throw new ConcurrentUpdateError(`The KMS policies of ${roleName}`);
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

/** Read the image's share list back: the API answers success even for accounts it silently dropped (past 10 a call). */
async function verifyImageAccounts(ctx: EngineContext, ref: ResourceRef, accounts: string[], shared: boolean): Promise<void> {
  const now = new Set(await ctx.ports.ecs.imageShareAccounts(ref.region, ref.id));
  const wrong = accounts.filter((uid) => now.has(uid) !== shared);
  if (wrong.length) {
    throw new CloudError({
      code: 'ShareNotApplied',
      action: 'ModifyImageSharePermission',
      message: `ModifyImageSharePermission succeeded, yet ${wrong.join(', ')} ${shared ? 'is not in' : 'is still in'} the share list of ${ref.id}`,
    });
  }
}

/** Apply one action; returns the number of write calls it made. */
export async function applyAction(ctx: EngineContext, a: PlanAction): Promise<number> {
  const { ecs, ram, sharing } = ctx.ports;
  switch (a.kind) {
    case 'createRole':
      return ensureTrust(ctx, a.roleName, a.grants, []);
    case 'mergeTrust':
      return ensureTrust(ctx, a.roleName, a.add, a.remove);
    case 'writeKmsPolicies':
      return ensureKmsPolicies(ctx, a.roleName, a.type, a.keys, a.exact);
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
      return writeGrantLedger(ctx, a.ref, a.accounts, a.existingKeys);
    case 'createResourceShare':
      try {
        await sharing.createShare(a.ref.region, a.name, { id: a.ref.id, type: a.ref.type === 'image' ? 'Image' : 'Snapshot' }, a.targets, a.allowExternalTargets);
      } catch (e) {
        // A concurrent instance (a duplicate event) created it first: add our targets to theirs (idempotent).
        const existing = e instanceof CloudError && classify(e) === 'already-done' ? await sharing.findShare(a.ref.region, a.name) : undefined;
        if (!existing) throw e;
        if (a.allowExternalTargets && !existing.allowExternalTargets) await sharing.updateAllowExternal(a.ref.region, existing.id, true);
        await sharing.associateTargets(a.ref.region, existing.id, a.targets);
      }
      return 1;
    case 'allowExternalTargets':
      await sharing.updateAllowExternal(a.ref.region, a.shareId, true);
      return 1;
    case 'associateTargets':
      await sharing.associateTargets(a.ref.region, a.shareId, a.targets);
      return 1;
    case 'disassociateTargets':
      await sharing.disassociateTargets(a.ref.region, a.shareId, a.targets);
      return 1;
    case 'deleteResourceShare':
      await sharing.deleteShare(a.ref.region, a.shareId);
      return 1;
  }
}

async function writeGrantLedger(ctx: EngineContext, ref: ResourceRef, accounts: string[], existingKeys: string[]): Promise<number> {
  const tags = formatGrantLedger(accounts, ctx.cfg.ledgerKey);
  const stale = existingKeys.filter((k) => !(k in tags));
  await ctx.ports.ecs.tagResource(ref.region, ref.type, ref.id, tags);
  await ctx.ports.ecs.untagResource(ref.region, ref.type, ref.id, stale);
  return (Object.keys(tags).length ? 1 : 0) + (stale.length ? 1 : 0);
}

export async function applyPlan(ctx: EngineContext, actions: PlanAction[]): Promise<number> {
  let writes = 0;
  for (const [i, a] of actions.entries()) {
    try {
      writes += await applyAction(ctx, a);
    } catch (e) {
      await recordPartialGrants(ctx, actions.slice(i + 1));
      throw e;
    }
  }
  return writes;
}

/**
 * An image share failed part-way (e.g. the 50-account quota after two batches of 10): the accounts that did get
 * added must still be recorded as ecs-share's, or a later revocation would mistake them for manual shares.
 */
async function recordPartialGrants(ctx: EngineContext, rest: PlanAction[]): Promise<void> {
  for (const a of rest) {
    if (a.kind !== 'writeGrantLedger') continue;
    try {
      const now = new Set(await ctx.ports.ecs.imageShareAccounts(a.ref.region, a.ref.id));
      const accounts = [...new Set([...a.previous, ...a.accounts])].filter((uid) => now.has(uid)).sort();
      if (accounts.join() !== a.previous.join()) await writeGrantLedger(ctx, a.ref, accounts, a.existingKeys);
    } catch (e) {
      ctx.log.error('could not record the accounts granted before the failure', { resourceId: a.ref.id, error: (e as Error).message });
    }
  }
}
