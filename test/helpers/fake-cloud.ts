// An in-memory fake of the five ports (shared/share/ports.ts), for use-case unit tests that must be deterministic:
// a plain model of RAM roles and policies, ECS snapshots and images, KMS keys and Resource Sharing, plus knobs that
// the real API only shows by chance — the Nth call of a method failing with a given code, a call applied whose
// answer is lost, reads that lag behind writes, and hooks that run code between two calls (a concurrent writer,
// a crash). Faults act at the port level: a fault is what the adapter would throw after its own retries.
//
// `fake.ports` are the product's (tracked: counted, logged, faulted, lagged); `fake.other` are another instance's
// (untracked: for concurrent writers in hooks; their writes still make our reads lag). Direct state helpers
// (addSnapshot, putRole, …) arrange and inspect the world without any call.
import { CloudError, classify } from '../../shared/errors';
import { readConfig, type Config } from '../../shared/config';
import type { Logger, LogFields } from '../../shared/log';
import type { EngineContext, Ports } from '../../shared/share/context';
import type {
  ApiPort,
  DirectoryPort,
  EcsPort,
  KmsPort,
  Membership,
  RamPort,
  SharingPort,
  StsPort,
} from '../../shared/share/ports';
import type { ImageInfo, SnapshotInfo } from '../../shared/cloud/ecs';
import { isAccountUid, type ResourceType, type SharedResourceType } from '../../shared/domain/ids';
import type { AttachedPolicyInfo, RoleInfo } from '../../shared/cloud/ram';
import type { PolicyVersionInfo } from '../../shared/domain/kms-policy';
import type { KeyInfo } from '../../shared/cloud/kms';
import type { AssociationInfo, ResourceShareInfo } from '../../shared/cloud/sharing';

export const OWNER_UID = '1000000000000001';
export const REGION = 'cn-hangzhou';
/** The fixed "now" of a fake context (ms); `fake.nowMs` can be moved. */
const FAKE_NOW_MS = Date.UTC(2025, 5, 1, 12, 0, 0);

/** Every port method, as `port.method` (`ram.updateRole`, `ecs.modifyImageShare`, …). */
export type MethodName = { [P in keyof Ports]: `${P & string}.${keyof Ports[P] & string}` }[keyof Ports];

/** The API action a port method stands for (the `action` of the CloudErrors it throws). */
const ACTIONS: Partial<Record<MethodName, string>> = {
  'ecs.getSnapshots': 'DescribeSnapshots',
  'ecs.taggedIdPage': 'ListTagResources',
  'ecs.getImage': 'DescribeImages',
  'ecs.getImages': 'DescribeImages',
  'ecs.imageShareAccounts': 'DescribeImageSharePermission',
  'ecs.regions': 'DescribeRegions',
  'ecs.taggedResources': 'ListTagResources',
  'ecs.modifyImageShare': 'ModifyImageSharePermission',
  'ecs.tagResource': 'TagResources',
  'ecs.untagResource': 'UntagResources',
  'ram.getRole': 'GetRole',
  'ram.createRole': 'CreateRole',
  'ram.updateRole': 'UpdateRole',
  'ram.listPoliciesForRole': 'ListPoliciesForRole',
  'ram.attachPolicy': 'AttachPolicyToRole',
  'ram.detachPolicy': 'DetachPolicyFromRole',
  'ram.getPolicyDocument': 'GetPolicy',
  'ram.createPolicy': 'CreatePolicy',
  'ram.listPolicyVersions': 'ListPolicyVersions',
  'ram.deletePolicyVersion': 'DeletePolicyVersion',
  'ram.createPolicyVersion': 'CreatePolicyVersion',
  'ram.deletePolicy': 'DeletePolicy',
  'kms.describeKey': 'DescribeKey',
  'kms.serviceKeyId': 'DescribeKey',
  'sharing.sharesNamed': 'ListResourceShares',
  'sharing.findShare': 'ListResourceShares',
  'sharing.createShare': 'CreateResourceShare',
  'sharing.updateAllowExternal': 'UpdateResourceShare',
  'sharing.associateTargets': 'AssociateResourceShare',
  'sharing.disassociateTargets': 'DisassociateResourceShare',
  'sharing.deleteShare': 'DeleteResourceShare',
  'sharing.allTargetAssociations': 'ListResourceShareAssociations',
  'sharing.associations': 'ListResourceShareAssociations',
  'sts.accountId': 'GetCallerIdentity',
};

export interface Fault {
  code: string;
  status?: number;
  retryAfterMs?: number;
  message?: string;
  /** Apply the call, then throw: the answer was lost. */
  applied?: boolean;
}

/** Common faults, as the API returns them. */
export const FAULTS = {
  throttled: (retryAfterMs = 1_000): Fault => ({
    code: 'Throttling.User',
    status: 400,
    retryAfterMs,
    message: 'Request was denied due to user flow control.',
  }),
  unavailable: (): Fault => ({
    code: 'ServiceUnavailable',
    status: 503,
    message: 'The request has failed due to a temporary failure of the server.',
  }),
  lostAnswer: (): Fault => ({ code: 'RequestTimeout', message: 'ReadTimeout', applied: true }),
  notFound: (code = 'EntityNotExist.Role'): Fault => ({ code, status: 404, message: 'The entity does not exist.' }),
};

/** What the fake throws once killed: not a CloudError, like a process that died mid-way (nothing after it runs). */
export class FakeCrash extends Error {
  constructor(method: string) {
    super(`the function was killed (at ${method})`);
    this.name = 'FakeCrash';
  }
}

export interface FakeCall {
  method: MethodName;
  args: unknown[];
  ok: boolean;
  code?: string;
}

export type Hook = (fake: FakeCloud, call: { method: MethodName; n: number; args: unknown[] }) => void | Promise<void>;

/** Reads of these return, after a write, the version before it for the next K reads (eventual consistency). */
export type LagKind = 'trust' | 'policy' | 'imageShares' | 'shareTargets';

export interface FakeRole {
  trustPolicy: string;
  description: string;
  arn: string;
}

export interface FakePolicy {
  description: string;
  versions: Array<{ versionId: string; document: string; createDate: string }>;
  defaultVersion: string;
  nextVersion: number;
}

export interface FakeSnapshot {
  id: string;
  region: string;
  encrypted: boolean;
  kmsKeyId?: string;
  status: string;
  tags: Record<string, string>;
}

export interface FakeImage {
  id: string;
  region: string;
  status: string;
  snapshotIds: string[];
  tags: Record<string, string>;
  /** Accounts shared through ModifyImageSharePermission. */
  accounts: string[];
}

export interface FakeKey {
  keyId: string;
  region: string;
  accountId: string;
  state: string;
  alias?: string;
}

export interface FakeShare {
  id: string;
  region: string;
  name: string;
  allowExternalTargets: boolean;
  status: 'Active' | 'Deleted';
  resources: Record<string, { type: SharedResourceType; status: string; message?: string }>;
  targets: Record<string, { status: string; message?: string; external: boolean }>;
}

/** The port methods that only read. */
const READS = new Set<MethodName>([
  'ecs.getSnapshots',
  'ecs.taggedIdPage',
  'ecs.getImage',
  'ecs.getImages',
  'ecs.imageShareAccounts',
  'ecs.regions',
  'ecs.taggedResources',
  'ram.getRole',
  'ram.listPoliciesForRole',
  'ram.getPolicyDocument',
  'ram.listPolicyVersions',
  'kms.describeKey',
  'kms.serviceKeyId',
  'sharing.sharesNamed',
  'sharing.findShare',
  'sharing.allTargetAssociations',
  'sharing.associations',
  'sts.accountId',
  'directory.membership',
]);

const ECS_SERVICE_KEY_ALIAS = 'alias/acs/ecs';
const clone = <T>(v: T): T => (v === undefined ? v : structuredClone(v));
const IMAGE_SHARE_QUOTA = 50;
const POLICY_VERSION_LIMIT = 5;

export class FakeCloud {
  readonly roles = new Map<string, FakeRole>();
  readonly policies = new Map<string, FakePolicy>();
  /** Role name -> attached policies. */
  readonly attachments = new Map<string, AttachedPolicyInfo[]>();
  readonly snapshots = new Map<string, FakeSnapshot>();
  readonly images = new Map<string, FakeImage>();
  readonly keys: FakeKey[] = [];
  readonly shares = new Map<string, FakeShare>();
  /** What DescribeRegions lists. */
  regionIds = ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'];
  /** Accounts of the owner's resource directory (GetAccount finds them). */
  readonly members = new Set<string>();
  /** When set, the directory cannot be read from the owner account (that error code). */
  directoryUnreadable?: string;
  /** Accounts ModifyImageSharePermission refuses as unknown (InvalidAccount.NotFound). */
  readonly unknownAccounts = new Set<string>();
  /** The status a new target association gets (default Associated). */
  targetStatus: (target: string, share: FakeShare) => string = () => 'Associated';
  /** Page size of the paged listings (snapshotPage, imagePage, sharesNamed). */
  pageSize = 100;
  /** The id of the next resource share; ids are not ordered by creation in the real cloud, so a test may pick one. */
  nextShareId?: string;
  nowMs = FAKE_NOW_MS;

  /** The product's calls, in order (tracked ports only). */
  readonly calls: FakeCall[] = [];
  readonly ports: Ports;
  /** Another instance's ports: untracked, unfaulted, unlagged; for concurrent writers in hooks. */
  readonly other: Ports;

  private readonly counts = new Map<string, number>();
  private readonly faults: Array<{ method: MethodName; from: number; to: number; fault: Fault }> = [];
  private readonly hooks: Array<{ method: MethodName; from: number; to: number; when: 'before' | 'after'; fn: Hook }> =
    [];
  private readonly lagReads = new Map<LagKind, number>();
  private readonly stale = new Map<string, { value: unknown; remaining: number }>();
  private killedAt?: string;
  private seq = 0;

  constructor(readonly ownerUid: string = OWNER_UID) {
    this.ports = this.makePorts(true);
    this.other = this.makePorts(false);
  }

  // ------------------------------------------------------------------------------------------------------------
  // Knobs

  /** The `nth` next call of `method` (1 = the next one) and `times - 1` after it fail with `fault`. */
  fail(method: MethodName, fault: Fault, opts: { nth?: number; times?: number } = {}): this {
    const from = this.count(method) + (opts.nth ?? 1);
    this.faults.push({ method, from, to: from + (opts.times ?? 1) - 1, fault });
    return this;
  }

  /** Run `fn` before or after (default) the `nth` next call of `method` (after: whether it succeeded or failed). */
  on(method: MethodName, fn: Hook, opts: { nth?: number; times?: number; when?: 'before' | 'after' } = {}): this {
    const from = this.count(method) + (opts.nth ?? 1);
    this.hooks.push({ method, from, to: from + (opts.times ?? 1) - 1, when: opts.when ?? 'after', fn });
    return this;
  }

  /** After each later write, the next `reads` reads of that document return the version before the write. */
  lag(kind: LagKind, reads: number): this {
    this.lagReads.set(kind, reads);
    return this;
  }

  /** Every later tracked call throws FakeCrash, until revive(): the function died. */
  kill(at = 'a hook'): void {
    this.killedAt = at;
  }

  revive(): void {
    this.killedAt = undefined;
  }

  /** The id a test picked for the next resource share, once. */
  takeShareId(): string | undefined {
    const id = this.nextShareId;
    this.nextShareId = undefined;
    return id;
  }

  /** Tracked calls of a method so far. */
  count(method: MethodName): number {
    return this.counts.get(method) ?? 0;
  }

  callsOf(method: MethodName): FakeCall[] {
    return this.calls.filter((c) => c.method === method);
  }

  /** Calls that change something (every method that is not a read). */
  writes(): FakeCall[] {
    return this.calls.filter((c) => !READS.has(c.method));
  }

  // ------------------------------------------------------------------------------------------------------------
  // Arrange and inspect (no calls)

  addKey(k: Partial<FakeKey> & { keyId: string }): FakeKey {
    const key: FakeKey = { region: REGION, accountId: this.ownerUid, state: 'Enabled', ...k };
    this.keys.push(key);
    return key;
  }

  addSnapshot(s: Partial<FakeSnapshot> & { id: string }): FakeSnapshot {
    const snap: FakeSnapshot = {
      region: REGION,
      encrypted: Boolean(s.kmsKeyId),
      status: 'accomplished',
      tags: {},
      ...s,
    };
    this.snapshots.set(snap.id, snap);
    return snap;
  }

  addImage(i: Partial<FakeImage> & { id: string; snapshotIds: string[] }): FakeImage {
    const image: FakeImage = { region: REGION, status: 'Available', tags: {}, accounts: [], ...i };
    this.images.set(image.id, image);
    return image;
  }

  putRole(roleName: string, trustPolicy: string, description = ''): void {
    this.roles.set(roleName, {
      trustPolicy,
      description,
      arn: `acs:ram::${this.ownerUid}:role/${roleName.toLowerCase()}`,
    });
  }

  putPolicy(policyName: string, document: string, description = ''): void {
    this.policies.set(policyName, {
      description,
      versions: [{ versionId: 'v1', document, createDate: this.stamp() }],
      defaultVersion: 'v1',
      nextVersion: 2,
    });
  }

  attach(roleName: string, policyName: string, policyType: 'System' | 'Custom' = 'Custom'): void {
    const list = this.attachments.get(roleName) ?? [];
    if (!list.some((p) => p.policyName === policyName && p.policyType === policyType))
      list.push({ policyName, policyType });
    this.attachments.set(roleName, list);
  }

  /** The default document of a policy, as stored (undefined when absent). */
  policyDocument(policyName: string): string | undefined {
    const p = this.policies.get(policyName);
    return p?.versions.find((v) => v.versionId === p.defaultVersion)?.document;
  }

  resource(type: ResourceType, id: string): FakeSnapshot | FakeImage | undefined {
    return type === 'snapshot' ? this.snapshots.get(id) : this.images.get(id);
  }

  /** Set (value) or remove (undefined) tags of a resource directly, as an owner's edit between two calls. */
  setTags(type: ResourceType, id: string, tags: Record<string, string | undefined>): void {
    const r = this.resource(type, id);
    if (!r) throw new Error(`no ${type} ${id}`);
    for (const [k, v] of Object.entries(tags)) {
      if (v === undefined) delete r.tags[k];
      else r.tags[k] = v;
    }
  }

  // ------------------------------------------------------------------------------------------------------------
  // The call machinery

  private stamp(): string {
    return new Date(this.nowMs + ++this.seq * 1000).toISOString();
  }

  private error(method: MethodName, code: string, message: string, status = 400, retryAfterMs?: number): CloudError {
    return new CloudError({
      code,
      message,
      status,
      action: ACTIONS[method] ?? method,
      requestId: `fake-${this.calls.length}`,
      retryAfterMs,
    });
  }

  private matching<T extends { method: MethodName; from: number; to: number }>(
    list: T[],
    method: MethodName,
    n: number,
  ): T[] {
    return list.filter((x) => x.method === method && n >= x.from && n <= x.to);
  }

  private async call<T>(tracked: boolean, method: MethodName, args: unknown[], op: () => T): Promise<T> {
    if (!tracked) return clone(op());
    if (this.killedAt !== undefined) {
      this.calls.push({ method, args: clone(args), ok: false, code: 'FakeCrash' });
      throw new FakeCrash(this.killedAt);
    }
    const n = this.count(method) + 1;
    this.counts.set(method, n);
    const record: FakeCall = { method, args: clone(args), ok: true };
    this.calls.push(record);
    const info = { method, n, args };
    const hooks = async (when: 'before' | 'after') => {
      for (const h of this.matching(this.hooks, method, n).filter((h) => h.when === when)) await h.fn(this, info);
    };
    const failed = (e: unknown) => {
      record.ok = false;
      record.code = (e as { code?: string }).code ?? (e as Error).name;
      return e;
    };
    try {
      await hooks('before');
    } catch (e) {
      throw failed(e);
    }
    const fault = this.matching(this.faults, method, n)[0]?.fault;
    let result: T | undefined;
    let failure: unknown;
    try {
      if (fault && !fault.applied)
        throw this.error(method, fault.code, fault.message ?? fault.code, fault.status, fault.retryAfterMs);
      result = clone(op());
      if (fault?.applied)
        throw this.error(method, fault.code, fault.message ?? fault.code, fault.status, fault.retryAfterMs);
    } catch (e) {
      failure = failed(e);
    }
    try {
      await hooks('after');
    } catch (e) {
      throw failed(e);
    }
    if (failure !== undefined) throw failure;
    return result as T;
  }

  /** Before a write of a document: remember its current version for lagging reads. */
  private written(kind: LagKind, key: string, current: unknown): void {
    const reads = this.lagReads.get(kind) ?? 0;
    if (reads > 0) this.stale.set(`${kind}:${key}`, { value: clone(current), remaining: reads });
  }

  /** A (tracked) read of a document: the version before the last write while that write still lags. */
  private view<T>(tracked: boolean, kind: LagKind, key: string, live: T): T {
    const s = this.stale.get(`${kind}:${key}`);
    if (!tracked || !s || s.remaining <= 0) return live;
    s.remaining--;
    if (s.remaining === 0) this.stale.delete(`${kind}:${key}`);
    return s.value as T;
  }

  private makePorts(tracked: boolean): Ports {
    const fake = this;
    const c = <T>(method: MethodName, args: unknown[], op: () => T) => fake.call(tracked, method, args, op);
    const view = <T>(kind: LagKind, key: string, live: T) => fake.view(tracked, kind, key, live);

    const snapshotInfo = (s: FakeSnapshot): SnapshotInfo => ({
      id: s.id,
      region: s.region,
      encrypted: s.encrypted,
      kmsKeyId: s.kmsKeyId,
      status: s.status,
      tags: { ...s.tags },
    });
    const imageInfo = (i: FakeImage): ImageInfo => ({
      id: i.id,
      region: i.region,
      status: i.status,
      snapshotIds: [...i.snapshotIds],
      tags: { ...i.tags },
    });
    const inRegion = <R extends { region: string }>(m: Map<string, R>, region: string, id: string) =>
      m.get(id)?.region === region ? m.get(id) : undefined;
    const tagPage = <R extends { id: string; region: string; tags: Record<string, string> }>(
      m: Map<string, R>,
      region: string,
      tagKey: string,
      token: string | undefined,
    ) => {
      // Token: "f:<last id handed out>"; ids are listed in order, so a page that shifts never repeats or skips one.
      const after = token?.startsWith('f:') ? token.slice(2) : '';
      const ids = [...m.values()]
        .filter((r) => r.region === region && tagKey in r.tags && r.id > after)
        .map((r) => r.id)
        .sort();
      const page = ids.slice(0, fake.pageSize);
      return { ids: page, next: ids.length > page.length ? `f:${page[page.length - 1]}` : undefined };
    };
    const image = (method: MethodName, region: string, id: string) => {
      const i = inRegion(fake.images, region, id);
      if (!i) throw fake.error(method, 'InvalidImageId.NotFound', `The specified ImageId ${id} does not exist.`, 404);
      return i;
    };

    const ecs: EcsPort = {
      getSnapshots: (region, ids) =>
        c('ecs.getSnapshots', [region, ids], () =>
          [...new Set(ids)]
            .map((id) => inRegion(fake.snapshots, region, id))
            .filter((s): s is FakeSnapshot => Boolean(s))
            .map(snapshotInfo),
        ),
      taggedIdPage: (region, type, tagKey, token) =>
        c('ecs.taggedIdPage', [region, type, tagKey, token], () =>
          type === 'snapshot'
            ? tagPage(fake.snapshots, region, tagKey, token)
            : tagPage(fake.images, region, tagKey, token),
        ),
      getImage: (region, imageId) =>
        c('ecs.getImage', [region, imageId], () => {
          const i = inRegion(fake.images, region, imageId);
          return i ? imageInfo(i) : undefined;
        }),
      // DescribeImages without Status lists Available images only.
      getImages: (region, ids) =>
        c('ecs.getImages', [region, ids], () =>
          ids
            .map((id) => inRegion(fake.images, region, id))
            .filter((i): i is FakeImage => Boolean(i) && i!.status === 'Available')
            .map(imageInfo),
        ),
      imageShareAccounts: (region, imageId) =>
        c('ecs.imageShareAccounts', [region, imageId], () => {
          const i = image('ecs.imageShareAccounts', region, imageId);
          return [...view('imageShares', imageId, i.accounts)];
        }),
      regions: (region) => c('ecs.regions', [region], () => [...fake.regionIds]),
      taggedResources: (region, type, tagKeys) =>
        c('ecs.taggedResources', [region, type, tagKeys], () => {
          const all: Array<FakeSnapshot | FakeImage> = [
            ...(type === 'snapshot' ? fake.snapshots : fake.images).values(),
          ];
          return all
            .filter((r) => r.region === region && tagKeys.some((k) => k in r.tags))
            .map((r) => ({
              id: r.id,
              tags: Object.fromEntries(Object.entries(r.tags).filter(([k]) => tagKeys.includes(k))),
            }));
        }),
      modifyImageShare: (region, imageId, change) =>
        c('ecs.modifyImageShare', [region, imageId, change], () => {
          const i = image('ecs.modifyImageShare', region, imageId);
          const add = change.add ?? [];
          if (add.includes(fake.ownerUid))
            throw fake.error(
              'ecs.modifyImageShare',
              'InvalidAccount.Forbbiden',
              'The image cannot be shared with its owner.',
            );
          const unknown = add.find((a) => fake.unknownAccounts.has(a));
          if (unknown)
            throw fake.error(
              'ecs.modifyImageShare',
              'InvalidAccount.NotFound',
              `The account ${unknown} does not exist.`,
              404,
            );
          const next = [...new Set([...i.accounts, ...add])].filter((a) => !(change.remove ?? []).includes(a));
          if (next.length > IMAGE_SHARE_QUOTA)
            throw fake.error(
              'ecs.modifyImageShare',
              'QuotaExceed.ShareImageUser',
              'The image is shared with too many accounts.',
            );
          fake.written('imageShares', imageId, i.accounts);
          i.accounts = next;
        }),
      tagResource: (region, type, id, tags) =>
        c('ecs.tagResource', [region, type, id, tags], () => {
          const r = fake.resource(type, id);
          if (!r || r.region !== region)
            throw fake.error(
              'ecs.tagResource',
              'InvalidResourceId.NotFound',
              `The resource ${id} does not exist.`,
              404,
            );
          Object.assign(r.tags, tags);
        }),
      untagResource: (region, type, id, keys) =>
        c('ecs.untagResource', [region, type, id, keys], () => {
          const r = fake.resource(type, id);
          if (!r || r.region !== region)
            throw fake.error(
              'ecs.untagResource',
              'InvalidResourceId.NotFound',
              `The resource ${id} does not exist.`,
              404,
            );
          for (const k of keys) delete r.tags[k];
        }),
    };

    const policy = (method: MethodName, name: string) => {
      const p = view('policy', name, fake.policies.get(name));
      if (!p) throw fake.error(method, 'EntityNotExist.Policy', `The policy ${name} does not exist.`, 404);
      return p;
    };
    const ram: RamPort = {
      getRole: (roleName) =>
        c('ram.getRole', [roleName], (): RoleInfo | undefined => {
          const r = view('trust', roleName, fake.roles.get(roleName));
          return r ? { roleName, arn: r.arn, trustPolicy: r.trustPolicy, description: r.description } : undefined;
        }),
      createRole: (roleName, trustPolicy, description) =>
        c('ram.createRole', [roleName, trustPolicy, description], () => {
          if (fake.roles.has(roleName))
            throw fake.error('ram.createRole', 'EntityAlreadyExists.Role', `The role ${roleName} already exists.`, 409);
          fake.written('trust', roleName, undefined);
          fake.putRole(roleName, trustPolicy, description);
        }),
      updateRole: (roleName, trustPolicy, description) =>
        c('ram.updateRole', [roleName, trustPolicy, description], () => {
          const r = fake.roles.get(roleName);
          if (!r)
            throw fake.error('ram.updateRole', 'EntityNotExist.Role', `The role ${roleName} does not exist.`, 404);
          fake.written('trust', roleName, r);
          fake.roles.set(roleName, { ...r, trustPolicy, description });
        }),
      listPoliciesForRole: (roleName) =>
        c('ram.listPoliciesForRole', [roleName], () =>
          fake.roles.has(roleName) ? [...(fake.attachments.get(roleName) ?? [])] : [],
        ),
      attachPolicy: (roleName, policyName, policyType) =>
        c('ram.attachPolicy', [roleName, policyName, policyType], () => {
          if (!fake.roles.has(roleName))
            throw fake.error('ram.attachPolicy', 'EntityNotExist.Role', `The role ${roleName} does not exist.`, 404);
          if (policyType === 'Custom' && !fake.policies.has(policyName))
            throw fake.error(
              'ram.attachPolicy',
              'EntityNotExist.Policy',
              `The policy ${policyName} does not exist.`,
              404,
            );
          fake.attach(roleName, policyName, policyType);
        }),
      detachPolicy: (roleName, policyName, policyType) =>
        c('ram.detachPolicy', [roleName, policyName, policyType], () => {
          const list = fake.attachments.get(roleName) ?? [];
          fake.attachments.set(
            roleName,
            list.filter((p) => !(p.policyName === policyName && p.policyType === policyType)),
          );
        }),
      getPolicyDocument: (policyName) =>
        c('ram.getPolicyDocument', [policyName], () => {
          const p = view('policy', policyName, fake.policies.get(policyName));
          return p?.versions.find((v) => v.versionId === p.defaultVersion)?.document;
        }),
      createPolicy: (policyName, document, description) =>
        c('ram.createPolicy', [policyName, document, description], () => {
          if (fake.policies.has(policyName))
            throw fake.error(
              'ram.createPolicy',
              'EntityAlreadyExists.Policy',
              `The policy ${policyName} already exists.`,
              409,
            );
          fake.written('policy', policyName, undefined);
          fake.putPolicy(policyName, document, description);
        }),
      listPolicyVersions: (policyName) =>
        c('ram.listPolicyVersions', [policyName], (): PolicyVersionInfo[] => {
          const p = policy('ram.listPolicyVersions', policyName);
          return p.versions.map((v) => ({
            versionId: v.versionId,
            isDefault: v.versionId === p.defaultVersion,
            document: v.document,
            createDate: v.createDate,
          }));
        }),
      deletePolicyVersion: (policyName, versionId) =>
        c('ram.deletePolicyVersion', [policyName, versionId], () => {
          const p = fake.policies.get(policyName);
          if (!p || !p.versions.some((v) => v.versionId === versionId)) return; // already gone: success
          if (p.defaultVersion === versionId)
            throw fake.error(
              'ram.deletePolicyVersion',
              'DeleteConflict.PolicyVersion.Default',
              'The default version cannot be deleted.',
              409,
            );
          fake.written('policy', policyName, p);
          p.versions = p.versions.filter((v) => v.versionId !== versionId);
        }),
      createPolicyVersion: (policyName, document) =>
        c('ram.createPolicyVersion', [policyName, document], () => {
          const p = fake.policies.get(policyName);
          if (!p)
            throw fake.error(
              'ram.createPolicyVersion',
              'EntityNotExist.Policy',
              `The policy ${policyName} does not exist.`,
              404,
            );
          if (p.versions.length >= POLICY_VERSION_LIMIT)
            throw fake.error(
              'ram.createPolicyVersion',
              'LimitExceeded.Policy.Version',
              'The policy already has 5 versions.',
              409,
            );
          fake.written('policy', policyName, p);
          const versionId = `v${p.nextVersion++}`;
          p.versions.push({ versionId, document, createDate: fake.stamp() });
          p.defaultVersion = versionId;
        }),
      deletePolicy: (policyName) =>
        c('ram.deletePolicy', [policyName], () => {
          const p = fake.policies.get(policyName);
          if (!p) return; // already gone: success
          if (
            [...fake.attachments.values()].some((list) =>
              list.some((a) => a.policyType === 'Custom' && a.policyName === policyName),
            )
          ) {
            throw fake.error(
              'ram.deletePolicy',
              'DeleteConflict.Policy.Attachment',
              `The policy ${policyName} is still attached.`,
              409,
            );
          }
          if (p.versions.length > 1)
            throw fake.error(
              'ram.deletePolicy',
              'DeleteConflict.Policy.Version',
              `The policy ${policyName} still has versions.`,
              409,
            );
          fake.written('policy', policyName, p);
          fake.policies.delete(policyName);
        }),
    };

    const findKey = (region: string, idOrAlias: string) =>
      fake.keys.find((k) => k.region === region && (k.keyId === idOrAlias || k.alias === idOrAlias));
    const kms: KmsPort = {
      describeKey: (region, keyIdOrAlias) =>
        c('kms.describeKey', [region, keyIdOrAlias], (): KeyInfo | undefined => {
          const k = findKey(region, keyIdOrAlias);
          return k
            ? {
                keyId: k.keyId,
                arn: `acs:kms:${k.region}:${k.accountId}:key/${k.keyId}`,
                state: k.state,
                accountId: k.accountId,
                region: k.region,
              }
            : undefined;
        }),
      serviceKeyId: (region) => c('kms.serviceKeyId', [region], () => findKey(region, ECS_SERVICE_KEY_ALIAS)?.keyId),
    };

    const shareInfo = (s: FakeShare): ResourceShareInfo => ({
      id: s.id,
      name: s.name,
      allowExternalTargets: s.allowExternalTargets,
      status: s.status,
    });
    const liveShare = (method: MethodName, region: string, shareId: string) => {
      const s = fake.shares.get(shareId);
      if (!s || s.region !== region || s.status === 'Deleted')
        throw fake.error(method, 'InvalidResourceShare.NotFound', `The resource share ${shareId} does not exist.`, 404);
      return s;
    };
    const associate = (s: FakeShare, targets: string[]) => {
      fake.written('shareTargets', s.id, s.targets);
      for (const t of targets) s.targets[t] = { status: fake.targetStatus(t, s), external: isAccountUid(t) };
    };
    const targetsOf = (s: FakeShare): AssociationInfo[] =>
      Object.entries(view('shareTargets', s.id, s.targets)).map(([entityId, a]) => ({
        entityId,
        entityType: isAccountUid(entityId) ? 'Account' : entityId.startsWith('rd-') ? 'ResourceDirectory' : 'Folder',
        status: a.status,
        message: a.message,
        external: a.external,
      }));
    const named = (region: string, prefix: string, exactName?: string) =>
      [...fake.shares.values()]
        .filter(
          (s) =>
            s.region === region &&
            s.status !== 'Deleted' &&
            s.name.startsWith(prefix) &&
            (exactName === undefined || s.name === exactName),
        )
        .sort((a, b) => a.id.localeCompare(b.id))
        .map(shareInfo);
    const sharing: SharingPort = {
      async *sharesNamed(region, prefix, exactName) {
        const all = await c('sharing.sharesNamed', [region, prefix, exactName], () => named(region, prefix, exactName));
        for (let i = 0; i === 0 || i < all.length; i += fake.pageSize) yield all.slice(i, i + fake.pageSize);
      },
      findShare: (region, name) => c('sharing.findShare', [region, name], () => named(region, name, name)[0]),
      createShare: (region, name, resource, targets, allowExternalTargets) =>
        c('sharing.createShare', [region, name, resource, targets, allowExternalTargets], () => {
          const s: FakeShare = {
            id: fake.takeShareId() ?? `rs-fake${String(++fake.seq).padStart(6, '0')}`,
            region,
            name,
            allowExternalTargets,
            status: 'Active',
            resources: { [resource.id]: { type: resource.type, status: 'Associated' } },
            targets: {},
          };
          fake.shares.set(s.id, s);
          associate(s, targets);
          return s.id;
        }),
      updateAllowExternal: (region, shareId, allow, name) =>
        c('sharing.updateAllowExternal', [region, shareId, allow, name], () => {
          const s = liveShare('sharing.updateAllowExternal', region, shareId);
          s.allowExternalTargets = allow;
          s.name = name;
        }),
      associateTargets: (region, shareId, targets) =>
        c('sharing.associateTargets', [region, shareId, targets], () =>
          associate(liveShare('sharing.associateTargets', region, shareId), targets),
        ),
      disassociateTargets: (region, shareId, targets) =>
        c('sharing.disassociateTargets', [region, shareId, targets], () => {
          const s = liveShare('sharing.disassociateTargets', region, shareId);
          fake.written('shareTargets', s.id, s.targets);
          for (const t of targets) delete s.targets[t];
        }),
      deleteShare: (region, shareId) =>
        c('sharing.deleteShare', [region, shareId], () => {
          liveShare('sharing.deleteShare', region, shareId).status = 'Deleted';
        }),
      allTargetAssociations: (region) =>
        c('sharing.allTargetAssociations', [region], () =>
          [...fake.shares.values()]
            .filter((s) => s.region === region && s.status !== 'Deleted')
            .flatMap((s) => targetsOf(s).map((a) => ({ ...a, resourceShareId: s.id }))),
        ),
      associations: (region, shareId, type) =>
        c('sharing.associations', [region, shareId, type], (): AssociationInfo[] => {
          const s = fake.shares.get(shareId);
          if (!s || s.region !== region || s.status === 'Deleted') return [];
          if (type === 'Target') return targetsOf(s);
          return Object.entries(s.resources).map(([entityId, r]) => ({
            entityId,
            entityType: r.type,
            status: r.status,
            message: r.message,
          }));
        }),
    };

    const sts: StsPort = { accountId: (region) => c('sts.accountId', [region], () => fake.ownerUid) };
    const directory: DirectoryPort = {
      membership: (uid) =>
        c('directory.membership', [uid], (): Membership =>
          fake.directoryUnreadable
            ? { kind: 'unknown', code: fake.directoryUnreadable }
            : fake.members.has(uid)
              ? { kind: 'member' }
              : { kind: 'external' },
        ),
    };
    return { ecs, ram, kms, sharing, sts, directory };
  }
}

export interface FakeContext extends EngineContext {
  /** Every ctx.sleep, in ms, in order (it never really waits). */
  slept: number[];
  /** Every retry decision asked of the api: the error code, the attempt, and whether it said retry. */
  retries: Array<{ code: string; attempt: number; retry: boolean; waitMs: number }>;
  logs: Array<{ level: 'info' | 'warn' | 'error'; msg: string } & LogFields>;
}

function captureLogger(lines: FakeContext['logs'], base: LogFields = {}): Logger {
  const emit = (level: 'info' | 'warn' | 'error') => (msg: string, fields?: LogFields) =>
    void lines.push({ ...base, ...fields, level, msg });
  return {
    info: emit('info'),
    warn: emit('warn'),
    error: emit('error'),
    child: (f) => captureLogger(lines, { ...base, ...f }),
  };
}

/** A fake API client: the same retry decision as CloudApi (retryable codes, bounded attempts), never really waiting. */
function fakeApi(fake: FakeCloud, retries: FakeContext['retries'], maxAttempts = 6): ApiPort {
  return {
    countCalls: () => fake.calls.length,
    async waitBeforeRetry(err, attempt) {
      const told = /Throttling/i.test(err.code) && err.retryAfterMs !== undefined;
      const retry = classify(err) === 'retryable' && attempt < (told ? maxAttempts * 5 : maxAttempts);
      retries.push({ code: err.code, attempt, retry, waitMs: retry ? (err.retryAfterMs ?? 0) : 0 });
      return retry;
    },
  };
}

/**
 * An EngineContext over the fake: cfg from readConfig({}) plus overrides, the owner account, instant sleep, random
 * 0.5, `now` the fake's clock. `ports: fake.other` makes a second, concurrent instance whose calls are not tracked.
 */
export function fakeContext(fake: FakeCloud, cfg: Partial<Config> = {}, opts: { ports?: Ports } = {}): FakeContext {
  const slept: number[] = [];
  const retries: FakeContext['retries'] = [];
  const logs: FakeContext['logs'] = [];
  return {
    // Most use-case tests share with accounts of no directory: they opt out of the secure default, which has its own tests.
    cfg: { ...readConfig({}), allowExternal: true, ...cfg },
    ports: opts.ports ?? fake.ports,
    api: fakeApi(fake, retries),
    ownerUid: fake.ownerUid,
    log: captureLogger(logs),
    sleep: async (ms) => void slept.push(ms),
    random: () => 0.5,
    now: () => fake.nowMs,
    keyCache: new Map(),
    locks: new Map(),
    memberCache: new Map(),
    slept,
    retries,
    logs,
  };
}
