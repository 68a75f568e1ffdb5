// The emulator's contract: the JSON state format, the caller identity, and the shape of an action handler.
// Every service module (services/*.ts, services/ecs/) exports a table of ActionSpec keyed by action name; server.ts dispatches to it.

export type Tags = Record<string, string>;

export interface AccessKey {
  id: string;
  secret: string;
}

export interface AttachedPolicy {
  policyName: string;
  policyType: 'System' | 'Custom';
  attachDate?: string;
}

export interface RamUser {
  userName: string;
  userId?: string;
  accessKeys?: AccessKey[];
  attachedPolicies?: AttachedPolicy[];
}

export interface Account {
  uid: string; // 16 digits
  name?: string;
  accessKeys: AccessKey[]; // root keys: may do anything in the account
  users?: RamUser[];
  site?: 'china' | 'international'; // default china
}

export interface RdFolder {
  id: string; // rootFolderId (r-xxxxxx) or fd-xxxxxxxxxx
  parentId?: string | null; // absent/null for the root folder
  name?: string;
  accounts: string[]; // member account uids directly in this folder
}

export interface ResourceDirectory {
  id: string; // rd-xxxxxx
  rootFolderId: string; // r-xxxxxx
  managementAccount?: string; // uid; defaults to the first account in the root folder
  delegatedAdministrators?: string[]; // members that may read the directory (ResourceManager) like the management account
  sharingEnabled?: boolean; // resource sharing enabled for the RD (default true)
  folders: RdFolder[]; // includes the root folder (id === rootFolderId); if absent it is implied with no accounts
}

export interface KmsKey {
  keyId: string;
  accountId: string;
  region: string;
  state: 'Enabled' | 'Disabled' | 'PendingDeletion';
  description?: string;
  creationDate?: string;
  aliases?: string[]; // e.g. ["alias/acs/ecs"] for the ECS service key
  creator?: string; // 'Ecs' for the service key, else the account uid
}

export interface Disk {
  diskId: string;
  accountId: string;
  region: string;
  zoneId?: string;
  size: number;
  category?: string; // cloud_essd, ...
  encrypted: boolean;
  kmsKeyId?: string;
  snapshotId?: string; // source snapshot
  creationTime?: string;
  tags?: Tags;
}

export interface Snapshot {
  snapshotId: string;
  accountId: string;
  region: string;
  sourceDiskId?: string;
  sourceSnapshotId?: string;
  sourceRegionId?: string;
  encrypted: boolean;
  kmsKeyId?: string;
  status?: 'accomplished' | 'progressing' | 'failed';
  readyAt?: number; // epoch ms when progressing becomes accomplished (absent: stays as it is)
  size?: number;
  name?: string;
  creationTime?: string;
  tags?: Tags;
}

export interface ImageDiskMapping {
  device: string; // /dev/xvda
  snapshotId: string;
  size?: number;
  type?: 'system' | 'data';
}

export interface ImageShare {
  accountId: string;
  sharedTime?: string;
}

export interface Image {
  imageId: string;
  accountId: string;
  region: string;
  name?: string;
  description?: string;
  status?: 'Available' | 'Creating' | 'Deprecated';
  readyAt?: number; // epoch ms when Creating becomes Available (absent: stays as it is)
  creationTime?: string;
  diskMappings: ImageDiskMapping[];
  tags?: Tags;
  sharedWith?: ImageShare[]; // ModifyImageSharePermission accounts
  sourceImageId?: string;
}

export interface Role {
  accountId: string;
  roleName: string;
  roleId?: string;
  description?: string;
  assumeRolePolicyDocument: string; // stored reformatted, as RAM returns it
  maxSessionDuration?: number;
  createDate?: string;
  updateDate?: string;
  attachedPolicies?: AttachedPolicy[];
}

export interface PolicyVersion {
  versionId: string; // v1, v2, ...
  document: string;
  createDate?: string;
}

export interface CustomPolicy {
  accountId: string;
  policyName: string;
  description?: string;
  createDate?: string;
  updateDate?: string;
  defaultVersion: string;
  versions: PolicyVersion[];
  nextVersion?: number; // next version number to hand out (versions are never reused)
}

export type AssociationStatus = 'Associating' | 'Associated' | 'Failed' | 'Disassociating' | 'Disassociated';

export interface ShareResourceEntry {
  resourceId: string;
  resourceType: 'Snapshot' | 'Image';
  status: AssociationStatus;
  statusMessage?: string;
  createTime?: string;
  updateTime?: string;
  readyAt?: number; // epoch ms when Associating becomes Associated (or Disassociating becomes Disassociated)
  failureReason?: 'Unavailable' | 'LimitExceeded' | 'UnsupportedOperation'; // set when status is Failed
}

export interface ShareTargetEntry {
  targetId: string; // account uid, rd-..., r-/fd-... folder id
  status: AssociationStatus;
  external: boolean;
  statusMessage?: string;
  createTime?: string;
  updateTime?: string;
  readyAt?: number;
  failureReason?: 'Unavailable' | 'LimitExceeded' | 'UnsupportedOperation'; // set when status is Failed
}

export interface ResourceShare {
  resourceShareId: string; // rs-...
  ownerAccountId: string;
  region: string;
  name: string;
  allowExternalTargets: boolean;
  status: 'Active' | 'Pending' | 'Deleting' | 'Deleted';
  createTime?: string;
  updateTime?: string;
  resources: ShareResourceEntry[];
  targets: ShareTargetEntry[];
}

export interface Invitation {
  invitationId: string; // i-...
  resourceShareId: string;
  senderAccountId: string;
  receiverAccountId: string;
  region: string;
  status: 'Pending' | 'Accepted' | 'Cancelled' | 'Rejected' | 'Expired' | 'AcceptFailed';
  createTime?: string;
}

export interface StsSession {
  accessKeyId: string; // STS.xxxx
  secret: string;
  token: string;
  accountId: string;
  roleName: string;
  sessionName: string;
  expiration: string; // ISO
  policy?: string; // optional session policy (further restricts)
}

export interface EventBusDecl {
  name: string;
  accountId: string;
  region: string;
}

/** One event a PutEvents call published (what emu.published() returns). */
export interface PublishedEvent {
  accountId: string;
  region: string;
  bus: string;
  /** The event as sent: Id, Source, Type, Subject, Time, SpecVersion, DataContentType, Data. */
  event: Record<string, unknown>;
  /** The caller (a role session: acs:ram::<uid>:assumed-role/<role>/<session>). */
  caller: string;
  requestId: string;
  time: string;
}

/** What FC does with a function's failed asynchronous invocations (ALIYUN::FC3::AsyncInvokeConfig). */
export interface FcAsyncConfig {
  maxAsyncRetryAttempts?: number; // retries after the first attempt fails: default 3, 0..8
  maxAsyncEventAgeInSeconds?: number; // an event not run by then is dropped (default 86,400; fractions allowed here)
  onFailure?: string; // acs:fc:<region>:<uid>:functions/<name>: invoked asynchronously with the destination payload
}

/** A Function Compute 3.0 function the emulator runs (InvokeFunction) from a built bundle on disk. */
export interface FcFunction {
  accountId: string;
  region: string;
  functionName: string;
  codeDir: string; // absolute directory holding index.js (dist/<fn>/ after `npm run build`)
  handler?: string; // <file>.<export>, default 'index.handler'
  role?: string; // role NAME in accountId; its trust must admit fc.aliyuncs.com
  environment?: Record<string, string>;
  timeoutSeconds?: number; // default 60 (fractions allowed here, for tests)
  asyncConfig?: FcAsyncConfig;
}

export interface EmulatorOptions {
  trustPolicyMaxLength: number; // InvalidParameter.AssumeRolePolicyDocument.Length above this (default 4096, real value unconfirmed)
  policyDocumentMaxLength: number; // 6144
  associationDelayMs: number; // Associating -> Associated after this long (default 0 = on next read)
  legacyServiceKeySharing: boolean; // emulate the seed's older behaviour for service-key resources
  imageShareQuota: number; // accounts per image (50)
  snapshotShareQuota: number; // accounts per snapshot (64)
  readyDelayMs: number; // snapshots created or copied through the API stay progressing, images Creating, this long (300)
  readLagMs: number; // the verification reads answer with the state as of this long ago (see lag.ts)
  uniqueShareNames: boolean; // refuse a second resource share with the same name (not documented, so the harder default is false)
  fullImageSharing: boolean; // let ModifyImageSharePermission share an encrypted image with several snapshots (default false)
  resourceShareQuota: number; // resource shares per account (1,000)
  sharedResourceQuota: number; // resources shared through Resource Sharing per account (1,000)
  sharedSnapshotQuota: number; // snapshots shared per account (1,024, the ECS snapshot guide)
  customPoliciesPerRole: number; // custom policies attached to one RAM role (10)
  fcAsyncDuplicateRate: number; // share of async invocations delivered twice (at-least-once; default 0.05)
  fcAsyncDelayMs: number; // an async invocation starts this long after its 202 (default 300)
  fcAsyncRetryDelayMs: number; // first retry delay, doubling per retry (compressed time: the real back-off is longer; 200)
  fcConcurrency: number; // child processes running functions at once; the rest wait (default 4)
}

export interface EmulatorState {
  regions?: string[]; // default ["cn-hangzhou"]
  accounts: Account[];
  resourceDirectory?: ResourceDirectory | null;
  keys?: KmsKey[];
  disks?: Disk[];
  snapshots?: Snapshot[];
  images?: Image[];
  roles?: Role[];
  policies?: CustomPolicy[];
  resourceShares?: ResourceShare[];
  invitations?: Invitation[];
  stsSessions?: StsSession[];
  /** EventBridge custom buses. When the state declares none, PutEvents accepts any bus name (see docs/emulator.md). */
  eventBuses?: EventBusDecl[];
  /**
   * EventBridge cross-account routing rules of member accounts: every ECS event of `fromAccountId` is delivered as
   * routed to `toAccountId`'s bus `bus` (aliyunaccountid the receiver, aliyunoriginalaccountid the sender).
   */
  eventRoutes?: EventRoute[];
  /** Function Compute 3.0 functions InvokeFunction runs (see docs/emulator.md "Function Compute"). */
  functions?: FcFunction[];
  options?: Partial<EmulatorOptions>;
}

export interface EventRoute {
  fromAccountId: string;
  toAccountId: string;
  bus: string;
}

/** State after normalisation: every list present. */
export type FullState = Required<
  Omit<EmulatorState, 'resourceDirectory' | 'options' | 'eventBuses' | 'eventRoutes' | 'functions'>
> & {
  resourceDirectory: ResourceDirectory | null;
  eventBuses?: EventBusDecl[];
  eventRoutes?: EventRoute[];
  /** Always set by normaliseState (optional so hand-built states in older tests still type-check). */
  functions?: FcFunction[];
  options: EmulatorOptions;
};

export interface Caller {
  accountId: string;
  type: 'root' | 'user' | 'role';
  accessKeyId: string;
  userName?: string;
  roleName?: string;
  sessionName?: string;
  arn: string; // acs:ram::<uid>:root | acs:ram::<uid>:user/<name> | acs:ram::<uid>:assumed-role/<role>/<session>
  principalId: string;
  sessionPolicy?: string;
}

export type Product = 'ecs' | 'ram' | 'kms' | 'sts' | 'resourcesharing' | 'resourcemanager' | 'eventbridge' | 'fc';

export const VERSION_TO_PRODUCT: Record<string, Product> = {
  '2014-05-26': 'ecs',
  '2015-05-01': 'ram',
  '2016-01-20': 'kms',
  '2015-04-01': 'sts',
  '2020-01-10': 'resourcesharing',
  '2020-03-31': 'resourcemanager',
  '2020-04-01': 'eventbridge',
};

export type Params = Record<string, string>;

/** What a handler may ask of the emulator besides the state. */
export interface EmulatorServices {
  now(): Date;
  nowIso(): string;
  newId(prefix: string, length?: number): string;
  requestId(): string;
  options: EmulatorOptions;
  /** Records events an EventBridge PutEvents call published (emu.published()). */
  publish?(events: PublishedEvent[]): void;
}

export interface CallContext {
  action: string;
  version: string;
  product: Product;
  params: Params; // decoded query + form parameters, flat (Tag.1.Key ...), minus signature parameters
  caller: Caller;
  region: string; // RegionId parameter, else "cn-hangzhou"
  state: FullState; // mutable: handlers change it in place
  emu: EmulatorServices;
  requestId: string;
}

export interface ActionSpec {
  handler: (ctx: CallContext) => Record<string, unknown> | Promise<Record<string, unknown>>;
  /** Parameters that must be present and non-empty, else 400 MissingParameter (checked before authorization). */
  required?: string[];
  /** RAM action for authorization; default `${RAM_PREFIX[product]}:${action}` (authorization.ts). */
  ramAction?: string;
  /** Resource ARNs the call acts on, for authorization; default ["*"]. Called after `required` passed. */
  resources?: (ctx: CallContext) => string[];
  /** Condition context keys for authorization (e.g. { "acs:RequestTag/share-with": "..." }). */
  conditionContext?: (ctx: CallContext) => Record<string, string | string[]>;
  /**
   * Condition context keys of one resource ARN from `resources` (e.g. its `acs:ResourceTag/<key>`), laid over
   * `conditionContext` when that resource is authorized: a call touching several resources is judged per resource.
   */
  resourceConditionContext?: (ctx: CallContext, resource: string) => Record<string, string | string[]>;
  /** True for calls that change state (used by the call log; tests count writes). */
  write?: boolean;
  /** STS GetCallerIdentity-style calls that any authenticated caller may make without a policy. */
  noAuthorization?: boolean;
}

export type ActionTable = Record<string, ActionSpec>;

/** The parts of an ActionSpec that say what RAM is asked (a service may keep them in a table of their own). */
export type ActionAuthorization = Pick<
  ActionSpec,
  'ramAction' | 'resources' | 'conditionContext' | 'resourceConditionContext'
>;

/** An API error as the real services return it: HTTP status, Code, Message; extra body fields and headers. */
export class ApiError extends Error {
  constructor(
    public readonly status: number,
    public readonly code: string,
    message: string,
    public readonly extra: Record<string, unknown> = {},
    public readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

export const DEFAULT_OPTIONS: EmulatorOptions = {
  trustPolicyMaxLength: 4096,
  policyDocumentMaxLength: 6144,
  associationDelayMs: 0,
  legacyServiceKeySharing: false,
  imageShareQuota: 50,
  snapshotShareQuota: 64,
  readyDelayMs: 300, // creation takes time in the real cloud (minutes); tests that need it instant set 0
  readLagMs: 100, // reads the product verifies with lag behind writes; tests of an ideal world set 0
  uniqueShareNames: false, // names are not documented unique
  fullImageSharing: false,
  resourceShareQuota: 1000,
  sharedResourceQuota: 1000,
  sharedSnapshotQuota: 1024,
  customPoliciesPerRole: 10,
  fcAsyncDuplicateRate: 0.05, // FC delivers asynchronous events at least once: a handler must bear a second run
  fcAsyncDelayMs: 300,
  fcAsyncRetryDelayMs: 200,
  fcConcurrency: 4,
};

// ---- parameter helpers shared by the service modules ----

/** AddAccount.1, AddAccount.2 ... -> ['a','b'] (1-based, in index order, gaps skipped). */
export function listParam(params: Params, name: string): string[] {
  const out: Array<[number, string]> = [];
  const re = new RegExp(`^${escapeRe(name)}\\.(\\d+)$`);
  for (const [k, v] of Object.entries(params)) {
    const m = re.exec(k);
    if (m) out.push([Number(m[1]), v]);
  }
  return out.sort((a, b) => a[0] - b[0]).map(([, v]) => v);
}

/** Tag.1.Key / Tag.1.Value ... -> [{Key, Value}] (1-based). */
export function structListParam(params: Params, name: string): Array<Record<string, string>> {
  const byIndex = new Map<number, Record<string, string>>();
  const re = new RegExp(`^${escapeRe(name)}\\.(\\d+)\\.(.+)$`);
  for (const [k, v] of Object.entries(params)) {
    const m = re.exec(k);
    if (!m) continue;
    const i = Number(m[1]);
    const entry = byIndex.get(i) ?? {};
    entry[m[2]] = v;
    byIndex.set(i, entry);
  }
  return [...byIndex.entries()].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
}

export function boolParam(params: Params, name: string, fallback = false): boolean {
  const v = params[name];
  if (v === undefined || v === '') return fallback;
  return v === 'true' || v === 'True' || v === '1';
}

export function intParam(params: Params, name: string, fallback: number, min?: number, max?: number): number {
  const v = params[name];
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || (min !== undefined && n < min) || (max !== undefined && n > max)) {
    throw new ApiError(400, `InvalidParameter.${name}`, `The specified parameter "${name}" is not valid.`);
  }
  return n;
}

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Actions whose name marks them as writes (for the call log). */
export function isWriteAction(action: string): boolean {
  return (
    /^(Create|Delete|Update|Modify|Attach|Detach|Set|Tag|Untag|Associate|Disassociate|Accept|Reject|Enable|Disable|Copy|Add|Remove|Assume|Schedule|Cancel)/.test(
      action,
    ) && action !== 'AssumeRole'
  );
}
