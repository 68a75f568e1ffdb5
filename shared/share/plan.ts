// Pure decisions: from what was observed and what the tags ask, either why nothing can be done (a refusal, a
// resource not ready yet) or the list of changes (as data) that makes the resource shared exactly as asked. No I/O
// here; a dry run returns this decision, the real run applies exactly it.
import type { ShareTarget } from '../domain/targets';
import { isAccountUid } from '../domain/ids';
import {
  grantForTarget,
  grantSatisfied,
  mergeTrust,
  readTrustLedger,
  trustPolicyLength,
  writeTrustLedger,
  type TrustChange,
  type TrustGrant,
} from '../domain/trust-policy';
import { buildKmsPolicies, keyArn, keysInPolicy, policyNameFor, type KeyRef } from '../domain/kms-policy';
import { parsePolicy, samePolicy, type PolicyDocument } from '../domain/policy-json';
import { PENDING_TTL_S } from '../domain/image-grants';
import { LimitError } from '../errors';
import {
  shareNameFor,
  type PlanAction,
  type ResourceObservation,
  type RoleObservation,
  type ToolShareState,
} from './model';

const KMS_FULL_ACCESS = 'AliyunKMSFullAccess';
export const ROLE_DESCRIPTION =
  'Lets ECS of the recipients of shared encrypted resources use the KMS keys. Managed by ecs-share.';
const EMPTY_TRUST: PolicyDocument = { Version: '1', Statement: [] };

/** Where each target is shared: image accounts via ModifyImageSharePermission; everything else via Resource Sharing. */
export function splitTargets(
  type: 'snapshot' | 'image',
  targets: ShareTarget[],
): { imageAccounts: string[]; sharingTargets: string[] } {
  const imageAccounts: string[] = [];
  const sharingTargets: string[] = [];
  for (const t of targets) {
    if (t.kind === 'account' && type === 'image') imageAccounts.push(t.uid);
    else sharingTargets.push(t.kind === 'account' ? t.uid : t.kind === 'rd' ? t.rdId : t.folderId);
  }
  return { imageAccounts, sharingTargets };
}

/** Trust grants a target set needs on the share role. */
export const grantsFor = (targets: ShareTarget[]): TrustGrant[] => targets.map(grantForTarget);

/** Keys in a set of KMS policy documents. */
export const keysOfPolicies = (docs: Record<string, string | undefined>): KeyRef[] =>
  Object.values(docs).flatMap((doc) => (doc ? keysInPolicy(parsePolicy(doc)) : []));

/** Keys granted by the role's ecs-share KMS policies. */
export const grantedKeys = (role: RoleObservation): KeyRef[] => keysOfPolicies(role.kmsPolicies);

/** `keys` plus `add` minus `remove`, deduplicated by ARN. */
export function keySet(keys: KeyRef[], add: KeyRef[], remove: KeyRef[]): KeyRef[] {
  const out = new Map<string, KeyRef>();
  for (const k of [...keys, ...add]) out.set(keyArn(k), k);
  for (const k of remove) out.delete(keyArn(k));
  return [...out.values()];
}

const ownerOnlyStatement = (uid: string) => ({
  Action: 'sts:AssumeRole',
  Effect: 'Allow' as const,
  Principal: { Service: [`${uid}@ecs.aliyuncs.com`] },
});

/**
 * The trust policy and description a change produces from a role as read, or undefined when nothing changes.
 * Throws LimitError when the policy or the ownership record would break a limit: the plan calls it to refuse in
 * advance (so a dry run says what the real run will), apply calls it again on each fresh read.
 */
export function trustWrite(
  role: { exists: boolean; trustPolicy?: string; description?: string; roleName: string },
  change: TrustChange,
  opts: { ownerUid: string; maxLength: number },
): { trustPolicy: string; description: string; added: TrustGrant[]; removed: TrustGrant[] } | undefined {
  const doc = role.exists ? parsePolicy(role.trustPolicy || JSON.stringify(EMPTY_TRUST)) : EMPTY_TRUST;
  const merged = mergeTrust(doc, readTrustLedger(role.description), change);
  if (role.exists && !merged.changed) return undefined;
  if (!role.exists && change.add.length === 0) return undefined;
  // RAM needs at least one statement: when the last grant goes, keep one that trusts only the owner's own ECS.
  if (merged.document.Statement.length === 0) merged.document.Statement = [ownerOnlyStatement(opts.ownerUid)];
  const length = trustPolicyLength(merged.document);
  if (length > opts.maxLength) {
    throw new LimitError(
      `The trust policy of ${role.roleName} would be ${length} characters, over the limit of ${opts.maxLength}; share with a resource directory or folder instead of single accounts`,
      'TrustPolicyTooLong',
    );
  }
  let description: string;
  try {
    description = writeTrustLedger(role.description || ROLE_DESCRIPTION, merged.ledger);
  } catch (e) {
    // The ownership record no longer fits the role's 1,024-character description: refuse rather than lose track.
    throw new LimitError(`${(e as Error).message} (role ${role.roleName})`, 'TrustRecordTooLong');
  }
  return { trustPolicy: JSON.stringify(merged.document), description, added: merged.added, removed: merged.removed };
}

/** Changes to the share role so that ECS acting for every target may use every key (additive). */
export function planRole(
  role: RoleObservation,
  obs: ResourceObservation,
  targets: ShareTarget[],
  legacyServiceKey: boolean,
): PlanAction[] {
  if (obs.encryption.kind === 'none' || targets.length === 0) return [];
  const actions: PlanAction[] = [];
  const grants = grantsFor(targets);
  const region = obs.ref.region;
  if (!role.exists) {
    actions.push({ kind: 'createRole', roleName: role.roleName, grants, regions: [region] });
  } else {
    const doc = parsePolicy(role.trustPolicy ?? '{"Version":"1","Statement":[]}');
    const missing = grants.filter((g) => !grantSatisfied(doc, g));
    // The role is global: record that this region asks for its grants, so a pass elsewhere checks here first.
    const regionKnown = (readTrustLedger(role.description).regions ?? []).includes(region);
    if (missing.length || !regionKnown)
      actions.push({ kind: 'mergeTrust', roleName: role.roleName, add: missing, remove: [], regions: [region] });
  }
  const attached = new Set(role.attached.map((p) => `${p.policyType}/${p.policyName}`));
  if (obs.encryption.kind === 'service-key') {
    if (legacyServiceKey && !attached.has(`System/${KMS_FULL_ACCESS}`)) {
      actions.push({
        kind: 'attachPolicy',
        roleName: role.roleName,
        policyName: KMS_FULL_ACCESS,
        policyType: 'System',
      });
    }
    return actions;
  }
  actions.push(...planKmsPolicies(role, obs.encryption.keys, [], obs.ref.type));
  return actions;
}

/** Make the KMS policies grant what they grant plus `add` minus `remove`, and be attached; nothing when they do. */
function planKmsPolicies(
  role: RoleObservation,
  add: KeyRef[],
  remove: KeyRef[],
  type: 'snapshot' | 'image',
): PlanAction[] {
  const docs = buildKmsPolicies(keySet(grantedKeys(role), add, remove));
  const names = docs.map((_, i) => policyNameFor(type, i));
  const differs =
    docs.some((doc, i) => {
      const current = role.kmsPolicies[names[i]];
      return current === undefined || !samePolicy(parsePolicy(current), doc);
    }) || Object.keys(role.kmsPolicies).length > docs.length;
  // Writing the policies also attaches them; otherwise repair a detached one.
  if (differs) return [{ kind: 'writeKmsPolicies', roleName: role.roleName, type, add, remove }];
  const attached = new Set(role.attached.map((p) => `${p.policyType}/${p.policyName}`));
  return names
    .filter((policyName) => !attached.has(`Custom/${policyName}`))
    .map((policyName): PlanAction => ({
      kind: 'attachPolicy',
      roleName: role.roleName,
      policyName,
      policyType: 'Custom',
    }));
}

/**
 * The image's account shares. An account is added only after the record says ecs-share intends it, and confirmed
 * after: a crash in between leaves an intent the next run resolves (shared: claimed; never shared and stale:
 * forgotten). Only accounts ecs-share added (confirmed, or intended and now shared) are ever taken back.
 */
function planImageAccounts(obs: ResourceObservation, wantedAccounts: string[], held: Set<string>): PlanAction[] {
  const ref = obs.ref;
  const current = new Set(obs.imageAccounts ?? []);
  const rec = obs.imageGrants ?? { granted: [], pending: [] };
  const now = obs.observedAtS ?? 0;
  const wanted = new Set(wantedAccounts);
  const claimed = rec.pending.filter((uid) => current.has(uid));
  const stale = now - (rec.since ?? 0) > PENDING_TTL_S;
  const expired = rec.pending.filter((uid) => !current.has(uid) && !wanted.has(uid) && stale);
  const owned = [...new Set([...rec.granted, ...claimed])];
  const add = wantedAccounts.filter((a) => !current.has(a));
  const remove = owned.filter((a) => current.has(a) && !wanted.has(a) && !held.has(a));
  const gone = rec.granted.filter((a) => !current.has(a) && !wanted.has(a));
  // An account already recorded as ecs-share's needs no new intent when it is shared again (drift repair).
  const intend = add.filter((a) => !rec.granted.includes(a));
  const confirm = [...new Set([...intend, ...claimed.filter((a) => wanted.has(a))])].sort();
  const forget = [...new Set([...remove, ...gone, ...expired])].sort();
  const actions: PlanAction[] = [];
  if (intend.length) actions.push({ kind: 'writeGrantLedger', ref, intend });
  if (add.length) actions.push({ kind: 'shareImageAccounts', ref, add });
  if (remove.length) actions.push({ kind: 'unshareImageAccounts', ref, remove });
  if (confirm.length || forget.length) actions.push({ kind: 'writeGrantLedger', ref, confirm, forget });
  return actions;
}

/**
 * Take-backs that wait (make before break): an account, or a folder, the tags no longer name but that a directory or
 * folder they do name holds keeps its grant until one of those holders is Associated on ecs-share's resource share,
 * so a move from an account to its folder never cuts the account off, not even when the run dies in between. Held
 * grants go on a later run (the same one, when the association settles within the wait). Folders are held by the
 * directory only (a folder's own ancestors are not observed); accounts by what the directory says holds them.
 */
export function heldTakeBacks(obs: ResourceObservation, targets: ShareTarget[]): string[] {
  const holders = targets.filter((t) => t.kind !== 'account');
  if (holders.length === 0) return [];
  const associated = (id: string) => obs.toolShare?.targets[id]?.status === 'Associated';
  const rdIds = holders.flatMap((t) => (t.kind === 'rd' ? [t.rdId] : []));
  const wantedIds = new Set(targets.map((t) => (t.kind === 'account' ? t.uid : t.kind === 'rd' ? t.rdId : t.folderId)));
  const candidates = new Set(
    [...(obs.imageAccounts ?? []), ...Object.keys(obs.toolShare?.targets ?? {})].filter((id) => !wantedIds.has(id)),
  );
  const held: string[] = [];
  for (const id of candidates) {
    const by = isAccountUid(id) ? (obs.coveredBy?.[id] ?? []) : /^(fd|r)-/.test(id) ? rdIds : [];
    if (by.length && !by.some(associated)) held.push(id);
  }
  return held.sort();
}

const liveTargets = (share: ToolShareState) =>
  Object.entries(share.targets)
    .filter(([, a]) => a.status !== 'Disassociating' && a.status !== 'Failed')
    .map(([id]) => id);

/**
 * Twin resource shares (names are not unique: two instances created at once, each from the tags it read) that must
 * wait: a twin goes once every target asked for that is Associated on it is Associated on the kept share too (make
 * before break: the twin may be the only one carrying a target that newer tags asked for). Their ids.
 */
export function heldTwins(obs: ResourceObservation, targets: ShareTarget[]): string[] {
  const kept = obs.toolShare;
  const { sharingTargets } = splitTargets(obs.ref.type, targets);
  if (!kept || sharingTargets.length === 0) return [];
  const wanted = new Set(sharingTargets);
  return (obs.twinShares ?? [])
    .filter((twin) =>
      Object.entries(twin.targets).some(
        ([id, a]) => wanted.has(id) && a.status === 'Associated' && kept.targets[id]?.status !== 'Associated',
      ),
    )
    .map((twin) => twin.id);
}

/** Changes to the resource's own shares: add what the tags ask, take back what ecs-share granted and no longer asked. */
export function planShares(
  obs: ResourceObservation,
  targets: ShareTarget[],
  opts: { hold?: boolean } = {},
): PlanAction[] {
  const ref = obs.ref;
  const { imageAccounts, sharingTargets } = splitTargets(ref.type, targets);
  // Nothing is added when only take-backs apply: no association will ever make a held grant redundant, so none is held.
  const held = new Set(opts.hold === false ? [] : heldTakeBacks(obs, targets));
  const actions: PlanAction[] = ref.type === 'image' ? planImageAccounts(obs, imageAccounts, held) : [];

  const share = obs.toolShare;
  const needsExternal = targets.some((t) => t.kind === 'account') && ref.type === 'snapshot';
  if (!share) {
    if (sharingTargets.length)
      actions.push({
        kind: 'createResourceShare',
        ref,
        name: shareNameFor(ref.id),
        targets: sharingTargets,
        allowExternalTargets: needsExternal,
      });
    return actions;
  }
  if (sharingTargets.length === 0) {
    for (const s of [share, ...(obs.twinShares ?? [])])
      actions.push({ kind: 'deleteResourceShare', ref, shareId: s.id });
    return actions;
  }
  const live = liveTargets(share);
  const liveSet = new Set(live);
  const wanted = new Set(sharingTargets);
  if (needsExternal && !share.allowExternalTargets)
    actions.push({ kind: 'allowExternalTargets', ref, shareId: share.id, name: shareNameFor(ref.id) });
  const add = sharingTargets.filter((t) => !liveSet.has(t));
  const remove = live.filter((t) => !wanted.has(t) && !held.has(t));
  if (add.length) actions.push({ kind: 'associateTargets', ref, shareId: share.id, targets: add });
  if (remove.length) actions.push({ kind: 'disassociateTargets', ref, shareId: share.id, targets: remove });
  // Resource share names are not unique: a twin shares too. Keep the lowest id; a twin goes once the kept share
  // carries what it carries that is asked (added above); until then it only stops sharing what is not asked.
  const waiting = new Set(heldTwins(obs, targets));
  for (const twin of obs.twinShares ?? []) {
    if (!waiting.has(twin.id)) {
      actions.push({ kind: 'deleteResourceShare', ref, shareId: twin.id });
      continue;
    }
    const unasked = liveTargets(twin).filter((t) => !wanted.has(t) && !held.has(t));
    if (unasked.length) actions.push({ kind: 'disassociateTargets', ref, shareId: twin.id, targets: unasked });
  }
  return actions;
}

/** Why a resource cannot be shared as it is; undefined when it can. Nothing asked: never refused (take-backs only). */
function refusal(
  obs: ResourceObservation,
  targets: ShareTarget[],
  legacyServiceKey: boolean,
): { reason: string; code: string } | undefined {
  if (targets.length === 0) return undefined;
  if (obs.encryption.kind === 'service-key' && !legacyServiceKey) {
    return {
      code: 'ServiceKeyEncrypted',
      reason: `${obs.ref.id} is encrypted with the ECS service key (alias/acs/ecs), which Alibaba Cloud no longer shares. Copy it with a customer master key (${obs.ref.type === 'image' ? 'CopyImage' : 'CopySnapshot'} with Encrypted=true and KMSKeyId) and tag the copy.`,
    };
  }
  if (obs.disabledKeys.length) {
    const list = obs.disabledKeys.map((k) => `${k.keyId} (${k.state})`).join(', ');
    return {
      code: 'KeyNotEnabled',
      reason: `The KMS key(s) ${list} of ${obs.ref.id} must be Enabled before the resource can be shared; enable them and run again.`,
    };
  }
  const owners = new Set(obs.encryption.kind === 'cmk' ? obs.encryption.keys.map((k) => k.accountId) : []);
  if (owners.size > 1)
    return {
      code: 'MixedKeyOwners',
      reason: `${obs.ref.id} uses keys of several accounts; ecs-share only grants keys of one owner.`,
    };
  return undefined;
}

/**
 * The take-backs of a share plan: a resource that cannot be shared as asked (its key disabled, say) still stops being
 * shared with what its valid tags no longer ask for; nothing is added. (A tag refused as a whole changes nothing.)
 */
function takeBacksOnly(actions: PlanAction[]): PlanAction[] {
  return actions.flatMap((a): PlanAction[] => {
    if (a.kind === 'unshareImageAccounts' || a.kind === 'disassociateTargets' || a.kind === 'deleteResourceShare')
      return [a];
    if (a.kind === 'writeGrantLedger' && a.forget?.length)
      return [{ kind: 'writeGrantLedger', ref: a.ref, confirm: [], forget: a.forget }];
    return [];
  });
}

export type Decision =
  /** `actions`: the take-backs that still apply (what the tags no longer ask is never kept because a key is off). */
  | { kind: 'refused'; code: string; reason: string; actions: PlanAction[] }
  | { kind: 'notReady'; reason: string }
  | { kind: 'plan'; actions: PlanAction[] };

/**
 * The whole decision for one existing resource: a refusal, "not ready yet", or the plan (the role first, so the
 * share works the moment it exists, then the shares). The same for a dry run and a real run.
 */
export function decide(
  obs: ResourceObservation,
  role: RoleObservation | undefined,
  targets: ShareTarget[],
  opts: { legacyServiceKey: boolean; ownerUid: string; trustPolicyMaxLength: number },
): Decision {
  const refused = refusal(obs, targets, opts.legacyServiceKey);
  if (refused)
    return { kind: 'refused', ...refused, actions: takeBacksOnly(planShares(obs, targets, { hold: false })) };
  if (obs.notReady && targets.length) {
    return {
      kind: 'notReady',
      reason: `${obs.ref.id} is not ready yet (${obs.notReady}); it is shared once it is (the next event or timer run)`,
    };
  }
  const roleActions = role ? planRole(role, obs, targets, opts.legacyServiceKey) : [];
  for (const a of roleActions) {
    if (a.kind !== 'createRole' && a.kind !== 'mergeTrust') continue;
    try {
      trustWrite(role!, a.kind === 'createRole' ? { add: a.grants, remove: [], regions: a.regions } : a, {
        ownerUid: opts.ownerUid,
        maxLength: opts.trustPolicyMaxLength,
      });
    } catch (e) {
      if (e instanceof LimitError)
        return {
          kind: 'refused',
          code: e.code,
          reason: e.reason,
          actions: takeBacksOnly(planShares(obs, targets, { hold: false })),
        };
      throw e;
    }
  }
  return { kind: 'plan', actions: [...roleActions, ...planShares(obs, targets)] };
}
