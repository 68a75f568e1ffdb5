// The share engine's data: what was observed, what must change (the plan, as data), and what happened.
import type { ShareTarget } from '../domain/targets';
import type { TrustGrant } from '../domain/trust-policy';
import type { KeyRef } from '../domain/kms-policy';
import type { ResourceType } from '../domain/ids';
import type { ImageGrantRecord } from '../domain/image-grants';

export interface ResourceRef {
  type: ResourceType;
  id: string;
  region: string;
}

export const ROLE_NAMES: Record<ResourceType, string> = {
  snapshot: 'AliyunECSShareEncryptSnapshotDefaultRole',
  image: 'AliyunECSShareEncryptImageDefaultRole',
};

/** Resource shares ecs-share creates are named after the resource, so it recognises its own: ecs-share-<resource id>. */
export const SHARE_NAME_PREFIX = 'ecs-share-';
export const shareNameFor = (resourceId: string) => `${SHARE_NAME_PREFIX}${resourceId}`;

export type Encryption = { kind: 'none' } | { kind: 'cmk'; keys: KeyRef[] } | { kind: 'service-key'; keys: KeyRef[] };

export interface ToolShareState {
  id: string;
  allowExternalTargets: boolean;
  /** Target id -> association status (Associating, Associated, Failed...). */
  targets: Record<string, { status: string; message?: string; external?: boolean }>;
}

export interface ResourceObservation {
  ref: ResourceRef;
  exists: boolean;
  tags: Record<string, string>;
  encryption: Encryption;
  /** Keys that are not Enabled (state by key id). */
  disabledKeys: Array<{ keyId: string; state: string }>;
  /** Not ready yet (a snapshot still `progressing`, an image `Creating`): its status; nothing can be shared before. */
  notReady?: string;
  /** Image only: accounts shared through ModifyImageSharePermission, and ecs-share's record of those it added. */
  imageAccounts?: string[];
  imageGrants?: ImageGrantRecord;
  /** Now, in epoch seconds, as the observation saw it (the image grant record's intents are dated). */
  observedAtS?: number;
  /** The resource share ecs-share owns for this resource, if any. */
  toolShare?: ToolShareState;
  /**
   * More shares with ecs-share's name for this resource (names are not unique: two instances created at once), with
   * their targets: an anomaly, deleted once what they carry that is asked is on the kept share.
   */
  twinShares?: ToolShareState[];
  /**
   * Accounts the resource is shared with now that the tags no longer name, but that a directory or folder the tags
   * do name holds: the ids of those targets, by account (from the directory). Their grants are kept until one of
   * those associations is Associated (make before break).
   */
  coveredBy?: Record<string, string[]>;
}

export interface RoleObservation {
  roleName: string;
  exists: boolean;
  trustPolicy?: string;
  description?: string;
  attached: Array<{ policyName: string; policyType: 'System' | 'Custom' }>;
  /** Custom KMS policies of this role by name: default document. */
  kmsPolicies: Record<string, string | undefined>;
}

export type PlanAction =
  /** `regions`: where the resources asking for these grants live (recorded with the grants, see the trim). */
  | { kind: 'createRole'; roleName: string; grants: TrustGrant[]; regions: string[] }
  | { kind: 'mergeTrust'; roleName: string; add: TrustGrant[]; remove: TrustGrant[]; regions?: string[] }
  /** Make ecs-share's KMS policies grant `add` and no longer `remove`, applied to what they grant when written. */
  | { kind: 'writeKmsPolicies'; roleName: string; type: ResourceType; add: KeyRef[]; remove: KeyRef[] }
  | { kind: 'attachPolicy'; roleName: string; policyName: string; policyType: 'System' | 'Custom' }
  | { kind: 'shareImageAccounts'; ref: ResourceRef; add: string[] }
  | { kind: 'unshareImageAccounts'; ref: ResourceRef; remove: string[] }
  /** Change ecs-share's record of the image accounts it added (merged into the record as read when written). */
  | { kind: 'writeGrantLedger'; ref: ResourceRef; intend?: string[]; confirm?: string[]; forget?: string[] }
  | { kind: 'createResourceShare'; ref: ResourceRef; name: string; targets: string[]; allowExternalTargets: boolean }
  | { kind: 'allowExternalTargets'; ref: ResourceRef; shareId: string; name: string }
  | { kind: 'associateTargets'; ref: ResourceRef; shareId: string; targets: string[] }
  | { kind: 'disassociateTargets'; ref: ResourceRef; shareId: string; targets: string[] }
  | { kind: 'deleteResourceShare'; ref: ResourceRef; shareId: string };

export type OutcomeKind = 'shared' | 'revoked' | 'unchanged' | 'pending' | 'refused' | 'failed';

/**
 * Who set the tag, from the ActionTrail record's userIdentity (never its access key id): `type` as ActionTrail says
 * it (root-account, ram-user, assumed-role, ...), the account, the principal id, the RAM user name or the role and
 * its session. `timer` for the scheduled reconcile, `manual` for a hand invocation.
 */
export type Principal = {
  type: string;
  accountId?: string;
  principalId?: string;
  userName?: string;
  roleName?: string;
  roleSession?: string;
};
export type RequestedBy = Principal | 'timer' | 'manual';

export interface ResourceOutcome {
  resourceId: string;
  resourceType: ResourceType;
  region: string;
  outcome: OutcomeKind;
  targets: string[];
  /** Targets still waiting (an external account must accept the invitation; an association still Associating). */
  pending?: string[];
  reason?: string;
  /** `retryable`: a transient failure (throttling, 5xx, timeout, concurrent writers) that a later run can get past. */
  error?: { code: string; message: string; requestId?: string; retryable?: boolean };
  advice?: string;
  /** The plan: every change, as data. In a dry run nothing of it was applied. */
  actions: PlanAction[];
  dryRun?: boolean;
  /** What the share role must keep granting for this resource (reconcile sums these to take back the rest). */
  needs?: { grants: TrustGrant[]; keys: KeyRef[] };
  /** Who asked: the principal whose tag call triggered this, or the timer / a hand invocation. */
  requestedBy?: RequestedBy;
  /** The status tag's value after this run (as written, or as it would be in a dry run). */
  status?: string;
  /** A service-key resource shared through its copy: the copy's id. */
  copy?: string;
  /** Organisation mode: the account that owns the resource (and that ecs-share acted in). */
  accountId?: string;
}

export type { ShareTarget };

/** An outcome for a resource: nothing targeted and nothing done unless `fields` say so, and who asked for it. */
export function outcomeOf(
  ref: ResourceRef,
  requestedBy: RequestedBy | undefined,
  fields: Partial<ResourceOutcome> & Pick<ResourceOutcome, 'outcome'>,
): ResourceOutcome {
  return {
    resourceId: ref.id,
    resourceType: ref.type,
    region: ref.region,
    targets: [],
    actions: [],
    ...fields,
    ...(requestedBy ? { requestedBy } : {}),
  };
}
