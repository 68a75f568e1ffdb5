// Pure decisions: from what was observed and what the tags ask, the list of changes (as data) that makes the
// resource shared exactly as asked. No I/O here; a dry run returns this plan, apply executes it.
import { ledgerTagKeys, type ShareTarget } from '../domain/targets';
import { grantForTarget, grantSatisfied, type TrustGrant } from '../domain/trust-policy';
import { buildKmsPolicies, keyArn, keysInPolicy, policyNameFor, type KeyRef } from '../domain/kms-policy';
import { parsePolicy, samePolicy } from '../domain/policy-json';
import { grantedKeys } from './observe';
import { shareNameFor, type PlanAction, type ResourceObservation, type RoleObservation } from './model';

export const KMS_FULL_ACCESS = 'AliyunKMSFullAccess';

/** Where each target is shared: image accounts via ModifyImageSharePermission; everything else via Resource Sharing. */
export function splitTargets(type: 'snapshot' | 'image', targets: ShareTarget[]): { imageAccounts: string[]; sharingTargets: string[] } {
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

function uniqueKeys(keys: KeyRef[]): KeyRef[] {
  const seen = new Map<string, KeyRef>();
  for (const k of keys) seen.set(keyArn(k), k);
  return [...seen.values()];
}

/** Changes to the share role so that ECS acting for every target may use every key (additive). */
export function planRole(role: RoleObservation, obs: ResourceObservation, targets: ShareTarget[], legacyServiceKey: boolean): PlanAction[] {
  if (obs.encryption.kind === 'none' || targets.length === 0) return [];
  const actions: PlanAction[] = [];
  const grants = grantsFor(targets);
  if (!role.exists) {
    actions.push({ kind: 'createRole', roleName: role.roleName, grants });
  } else {
    const doc = parsePolicy(role.trustPolicy ?? '{"Version":"1","Statement":[]}');
    const missing = grants.filter((g) => !grantSatisfied(doc, g));
    if (missing.length) actions.push({ kind: 'mergeTrust', roleName: role.roleName, add: missing, remove: [] });
  }
  const attached = new Set(role.attached.map((p) => `${p.policyType}/${p.policyName}`));
  if (obs.encryption.kind === 'service-key') {
    if (legacyServiceKey && !attached.has(`System/${KMS_FULL_ACCESS}`)) {
      actions.push({ kind: 'attachPolicy', roleName: role.roleName, policyName: KMS_FULL_ACCESS, policyType: 'System' });
    }
    return actions;
  }
  actions.push(...planKmsPolicies(role, uniqueKeys([...grantedKeys(role), ...obs.encryption.keys]), obs.ref.type));
  return actions;
}

/** Make the KMS policies grant `keys` (additive unless exact) and be attached; nothing when they already do. */
export function planKmsPolicies(role: RoleObservation, keys: KeyRef[], type: 'snapshot' | 'image', exact = false): PlanAction[] {
  const actions: PlanAction[] = [];
  const docs = buildKmsPolicies(keys);
  const names = docs.map((_, i) => policyNameFor(type, i));
  const differs =
    docs.some((doc, i) => {
      const current = role.kmsPolicies[names[i]];
      return current === undefined || !samePolicy(parsePolicy(current), doc);
    }) || (exact && Object.keys(role.kmsPolicies).length > docs.length);
  // Writing the policies also attaches them; otherwise repair a detached one.
  if (differs) return [{ kind: 'writeKmsPolicies', roleName: role.roleName, type, keys, exact }];
  const attached = new Set(role.attached.map((p) => `${p.policyType}/${p.policyName}`));
  for (const policyName of names) {
    if (!attached.has(`Custom/${policyName}`)) actions.push({ kind: 'attachPolicy', roleName: role.roleName, policyName, policyType: 'Custom' });
  }
  return actions;
}

/** Changes to the resource's own shares: add what the tags ask, take back what ecs-share granted and no longer asked. */
export function planShares(obs: ResourceObservation, targets: ShareTarget[], ledgerKey: string): PlanAction[] {
  const actions: PlanAction[] = [];
  const ref = obs.ref;
  const { imageAccounts, sharingTargets } = splitTargets(ref.type, targets);

  if (ref.type === 'image') {
    const current = new Set(obs.imageAccounts ?? []);
    const ledger = new Set(obs.grantLedger ?? []);
    const wanted = new Set(imageAccounts);
    const add = imageAccounts.filter((a) => !current.has(a));
    // Only accounts ecs-share added itself are ever taken back; a manual share stays.
    const remove = [...ledger].filter((a) => !wanted.has(a) && current.has(a));
    if (add.length) actions.push({ kind: 'shareImageAccounts', ref, add });
    if (remove.length) actions.push({ kind: 'unshareImageAccounts', ref, remove });
    const nextLedger = [...new Set([...[...ledger].filter((a) => wanted.has(a)), ...add])].sort();
    if (nextLedger.join(',') !== [...ledger].sort().join(',')) {
      actions.push({ kind: 'writeGrantLedger', ref, accounts: nextLedger, previous: [...ledger].sort(), existingKeys: ledgerTagKeys(obs.tags, ledgerKey) });
    }
  }

  const share = obs.toolShare;
  const needsExternal = targets.some((t) => t.kind === 'account') && ref.type === 'snapshot';
  if (!share) {
    if (sharingTargets.length) actions.push({ kind: 'createResourceShare', ref, name: shareNameFor(ref.id), targets: sharingTargets, allowExternalTargets: needsExternal });
    return actions;
  }
  if (sharingTargets.length === 0) {
    actions.push({ kind: 'deleteResourceShare', ref, shareId: share.id });
    return actions;
  }
  const live = Object.entries(share.targets).filter(([, a]) => a.status !== 'Disassociating' && a.status !== 'Failed').map(([id]) => id);
  const liveSet = new Set(live);
  const wanted = new Set(sharingTargets);
  if (needsExternal && !share.allowExternalTargets) actions.push({ kind: 'allowExternalTargets', ref, shareId: share.id });
  const add = sharingTargets.filter((t) => !liveSet.has(t));
  const remove = live.filter((t) => !wanted.has(t));
  if (add.length) actions.push({ kind: 'associateTargets', ref, shareId: share.id, targets: add });
  if (remove.length) actions.push({ kind: 'disassociateTargets', ref, shareId: share.id, targets: remove });
  return actions;
}

/** The whole plan for one resource: the role first (so the share works the moment it exists), then the shares. */
export function planShare(
  obs: ResourceObservation,
  role: RoleObservation | undefined,
  targets: ShareTarget[],
  opts: { legacyServiceKey: boolean; ledgerKey: string },
): PlanAction[] {
  return [...(role ? planRole(role, obs, targets, opts.legacyServiceKey) : []), ...planShares(obs, targets, opts.ledgerKey)];
}
