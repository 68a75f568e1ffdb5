// The ports: one interface per outside system, exactly the calls the use cases make. The adapters in shared/cloud
// implement them over the real API; test/helpers/fake-cloud.ts implements them in memory, so the use cases' races,
// lag and partial failures are unit-tested deterministically. Every method fails with a CloudError.
import type { CloudError } from '../errors';
import type { ImageInfo, SnapshotInfo } from '../cloud/ecs';
import type { ResourceType, SharedResourceType } from '../domain/ids';
import type { AttachedPolicyInfo, RoleInfo } from '../cloud/ram';
import type { PolicyVersionInfo } from '../domain/kms-policy';
import type { KeyInfo } from '../cloud/kms';
import type { AssociationInfo, ResourceShareInfo } from '../cloud/sharing';

export interface EcsPort {
  /** Snapshots by id; absent ids are simply missing from the result. */
  getSnapshots(region: string, ids: string[]): Promise<SnapshotInfo[]>;
  /**
   * One page of the ids of own resources of the type carrying a tag key, resumable from an opaque `token` (read the
   * resources themselves by id: getSnapshots, getImages).
   */
  taggedIdPage(
    region: string,
    type: ResourceType,
    tagKey: string,
    token?: string,
  ): Promise<{ ids: string[]; next?: string }>;
  /** An own image, or undefined when it does not exist. */
  getImage(region: string, imageId: string): Promise<ImageInfo | undefined>;
  /** Own Available images by id; absent ids are missing from the result. */
  getImages(region: string, ids: string[]): Promise<ImageInfo[]>;
  /** Every account the image is shared with through ModifyImageSharePermission. */
  imageShareAccounts(region: string, imageId: string): Promise<string[]>;
  /** The region ids the account has. */
  regions(region: string): Promise<string[]>;
  /** Every own resource of the type carrying any of the tag keys, with the values of those keys. */
  taggedResources(
    region: string,
    type: ResourceType,
    tagKeys: string[],
  ): Promise<Array<{ id: string; tags: Record<string, string> }>>;
  modifyImageShare(region: string, imageId: string, change: { add?: string[]; remove?: string[] }): Promise<void>;
  tagResource(region: string, type: ResourceType, id: string, tags: Record<string, string>): Promise<void>;
  untagResource(region: string, type: ResourceType, id: string, keys: string[]): Promise<void>;
}

export interface RamPort {
  /** The role, or undefined when it does not exist. */
  getRole(roleName: string): Promise<RoleInfo | undefined>;
  /** Fails with EntityAlreadyExists.Role when it exists (never resent: the caller re-reads). */
  createRole(roleName: string, trustPolicy: string, description: string): Promise<void>;
  /** The trust policy and the description in one write (never resent: the caller re-reads). */
  updateRole(roleName: string, trustPolicy: string, description: string): Promise<void>;
  /** Attached policies; none when the role does not exist. */
  listPoliciesForRole(roleName: string): Promise<AttachedPolicyInfo[]>;
  /** Already attached is success. */
  attachPolicy(roleName: string, policyName: string, policyType: 'System' | 'Custom'): Promise<void>;
  /** Already detached (or gone) is success. */
  detachPolicy(roleName: string, policyName: string, policyType: 'System' | 'Custom'): Promise<void>;
  /** The default version's document of a custom policy, or undefined when it does not exist. */
  getPolicyDocument(policyName: string): Promise<string | undefined>;
  createPolicy(policyName: string, document: string, description: string): Promise<void>;
  listPolicyVersions(policyName: string): Promise<PolicyVersionInfo[]>;
  /** Already gone is success. */
  deletePolicyVersion(policyName: string, versionId: string): Promise<void>;
  /** A new default version (never resent: the caller re-reads). */
  createPolicyVersion(policyName: string, document: string): Promise<void>;
  /** Already gone is success. */
  deletePolicy(policyName: string): Promise<void>;
}

export interface KmsPort {
  /** The key (by id or alias), or undefined when it does not exist. */
  describeKey(region: string, keyIdOrAlias: string): Promise<KeyInfo | undefined>;
  /** The region's ECS service key id (alias/acs/ecs), undefined if the account has none. */
  serviceKeyId(region: string): Promise<string | undefined>;
}

export interface SharingPort {
  /** The owner's live resource shares whose name starts with `prefix` (only `exactName`, when given), page by page. */
  sharesNamed(region: string, prefix: string, exactName?: string): AsyncGenerator<ResourceShareInfo[]>;
  /** One live share by name (the contract tests use it). */
  findShare(region: string, name: string): Promise<ResourceShareInfo | undefined>;
  /** Returns the new share's id. A lost answer is re-observed by the caller, never resent. */
  createShare(
    region: string,
    name: string,
    resource: { id: string; type: SharedResourceType },
    targets: string[],
    allowExternalTargets: boolean,
  ): Promise<string>;
  updateAllowExternal(region: string, shareId: string, allow: boolean, name: string): Promise<void>;
  associateTargets(region: string, shareId: string, targets: string[]): Promise<void>;
  disassociateTargets(region: string, shareId: string, targets: string[]): Promise<void>;
  deleteShare(region: string, shareId: string): Promise<void>;
  /** Every target association of the owner's shares in a region (Disassociated ones left out). */
  allTargetAssociations(region: string): Promise<Array<AssociationInfo & { resourceShareId: string }>>;
  /** Current associations of one share (Disassociated ones left out). */
  associations(region: string, shareId: string, type: 'Resource' | 'Target'): Promise<AssociationInfo[]>;
}

export interface StsPort {
  /** The caller's account id, as a string. */
  accountId(region: string): Promise<string>;
}

/** What the use cases need of the API client itself: the retry decision of a read-merge-write, and a call count. */
export interface ApiPort {
  /** False when the error is not retryable or no attempt or time is left; else waits and returns true. */
  waitBeforeRetry(err: CloudError, attempt: number, since?: number): Promise<boolean>;
  /** Calls made so far, retries included. */
  countCalls(): number;
}

/** Whether an account belongs to the owner's resource directory; `unknown` when this account may not read it. */
export type Membership =
  /** `path`: GetAccount's ResourceDirectoryPath (`rd-…/r-…/fd-…/…`; the member's own segment is not relied on). */
  | { kind: 'member'; rdId?: string; folderId?: string; path?: string }
  | { kind: 'external' }
  | { kind: 'unknown'; code: string };

export interface DirectoryPort {
  /** Fails (retryably) only when the directory could not be asked; a refusal to answer is `unknown`. */
  membership(uid: string): Promise<Membership>;
}
