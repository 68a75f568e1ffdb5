// The live run's own calls, as the owner and as the recipient: create what a scenario needs (tagged with the run
// id), wait for it, read the end state back, use a shared resource, delete what the run made. Plain RPC calls
// through openapi-core (what the official SDKs do), at the real endpoints or the configured one.
import { CloudApi, type Credentials, type Product } from '../../shared/cloud/api';
import { RUN_TAG, type LiveConfig } from './config';
import type { LiveReport } from './report';

export type Kind = 'snapshot' | 'image' | 'disk';
export const kindOf = (id: string): Kind => (id.startsWith('m-') ? 'image' : id.startsWith('d-') ? 'disk' : 'snapshot');

export const STATUS_TAG = 'ecs-share:status';
/** The status tag's value without the minute it changed. */
export const statusText = (v: string | undefined) => v?.replace(/ \| [0-9T:Z-]+$/, '');

export const SHARE_ROLES = ['AliyunECSShareEncryptSnapshotDefaultRole', 'AliyunECSShareEncryptImageDefaultRole'];

const IMAGE_STATUSES = 'Creating,Waiting,Available,UnAvailable,CreateFailed,Deprecated';

export class LiveClient {
  private readonly api: CloudApi;
  private seen = 0;

  constructor(
    readonly who: 'owner' | 'recipient',
    readonly cfg: LiveConfig,
    creds: Credentials,
    private readonly report?: LiveReport,
  ) {
    this.api = new CloudApi({ endpointOverride: cfg.endpoint, credentials: creds, readTimeoutMs: 30_000 });
  }

  /** One call; every failed attempt (retried ones too) goes to the report's error codes. */
  async call(product: Product, action: string, params: Record<string, unknown>): Promise<any> {
    try {
      return await this.api.call(product, action, params, this.cfg.region);
    } finally {
      for (const rec of this.api.log.slice(this.seen))
        if (!rec.ok) this.report?.error(this.who, product, action, rec.code ?? 'unknown');
      this.seen = this.api.log.length;
    }
  }

  /** A call whose failure is an answer, not a crash: the error code, or undefined when it succeeded. */
  async attempt(
    product: Product,
    action: string,
    params: Record<string, unknown>,
  ): Promise<{ ok: true; body: any } | { ok: false; code: string; message: string }> {
    try {
      return { ok: true, body: await this.call(product, action, params) };
    } catch (e) {
      const err = e as { code?: string; message?: string };
      return { ok: false, code: String(err.code ?? 'unknown'), message: String(err.message ?? e) };
    }
  }

  private runTags(extra: Record<string, string> = {}) {
    return Object.entries({ [RUN_TAG]: this.cfg.runId, ...extra }).map(([Key, Value]) => ({ Key, Value }));
  }

  async accountId(): Promise<string> {
    return String((await this.call('sts', 'GetCallerIdentity', {})).AccountId);
  }

  async keyState(keyId: string): Promise<string> {
    return String(
      (await this.call('kms', 'DescribeKey', { RegionId: this.cfg.region, KeyId: keyId })).KeyMetadata?.KeyState,
    );
  }

  // ---------- disks, snapshots, images

  /** A small ESSD disk, encrypted with the given CMK or, from a snapshot, with what ECS chooses. */
  async createDisk(opts: { kmsKeyId?: string; snapshotId?: string }): Promise<string> {
    const body = await this.call('ecs', 'CreateDisk', {
      RegionId: this.cfg.region,
      ZoneId: this.cfg.zone,
      DiskCategory: 'cloud_essd',
      DiskName: `ecs-share-live-${this.cfg.runId}`,
      ...(opts.snapshotId ? { SnapshotId: opts.snapshotId } : { Size: 20, Encrypted: true, KMSKeyId: opts.kmsKeyId }),
      Tag: this.runTags(),
    });
    return String(body.DiskId);
  }

  async disk(id: string): Promise<any | undefined> {
    const body = await this.call('ecs', 'DescribeDisks', { RegionId: this.cfg.region, DiskIds: JSON.stringify([id]) });
    return body.Disks?.Disk?.[0];
  }

  async createSnapshot(diskId: string): Promise<string> {
    const body = await this.call('ecs', 'CreateSnapshot', {
      DiskId: diskId,
      SnapshotName: `ecs-share-live-${this.cfg.runId}`,
      Tag: this.runTags(),
    });
    return String(body.SnapshotId);
  }

  async snapshot(id: string): Promise<any | undefined> {
    const body = await this.call('ecs', 'DescribeSnapshots', {
      RegionId: this.cfg.region,
      SnapshotIds: JSON.stringify([id]),
    });
    return body.Snapshots?.Snapshot?.[0];
  }

  async createImage(snapshotId: string): Promise<string> {
    const body = await this.call('ecs', 'CreateImage', {
      RegionId: this.cfg.region,
      SnapshotId: snapshotId,
      ImageName: `ecs-share-live-${this.cfg.runId}`,
      Tag: this.runTags(),
    });
    return String(body.ImageId);
  }

  async image(id: string, alias: 'self' | 'others' = 'self'): Promise<any | undefined> {
    const body = await this.call('ecs', 'DescribeImages', {
      RegionId: this.cfg.region,
      ImageId: id,
      ImageOwnerAlias: alias,
      Status: IMAGE_STATUSES,
    });
    return body.Images?.Image?.[0];
  }

  async copyImage(imageId: string): Promise<string> {
    const body = await this.call('ecs', 'CopyImage', {
      RegionId: this.cfg.region,
      ImageId: imageId,
      DestinationRegionId: this.cfg.region,
      DestinationImageName: `ecs-share-live-copy-${this.cfg.runId}`,
      Tag: this.runTags(),
    });
    return String(body.ImageId);
  }

  async deleteDisk(id: string): Promise<void> {
    await this.call('ecs', 'DeleteDisk', { DiskId: id });
  }

  async deleteSnapshot(id: string): Promise<void> {
    await this.call('ecs', 'DeleteSnapshot', { SnapshotId: id });
  }

  async deleteImage(id: string): Promise<void> {
    await this.call('ecs', 'DeleteImage', { RegionId: this.cfg.region, ImageId: id });
  }

  /** Every resource of a kind carrying the run tag (of one run, or of any run): what the sweep may delete, and only that. */
  async listRunResources(kind: Kind, runId?: string): Promise<Array<{ id: string; runId: string; status?: string }>> {
    const filter = { Tag: [{ Key: RUN_TAG, ...(runId ? { Value: runId } : {}) }] };
    const out: Array<{ id: string; runId: string; status?: string }> = [];
    const runOf = (tags: any) => String((tags?.Tag ?? []).find((t: any) => t.TagKey === RUN_TAG)?.TagValue ?? '');
    for (let page = 1; page <= 100; page++) {
      const base = { RegionId: this.cfg.region, PageNumber: page, PageSize: 100, ...filter };
      let items: any[];
      if (kind === 'image') {
        items =
          (await this.call('ecs', 'DescribeImages', { ...base, ImageOwnerAlias: 'self', Status: IMAGE_STATUSES }))
            .Images?.Image ?? [];
        out.push(...items.map((i) => ({ id: String(i.ImageId), runId: runOf(i.Tags), status: i.Status })));
      } else if (kind === 'snapshot') {
        items = (await this.call('ecs', 'DescribeSnapshots', base)).Snapshots?.Snapshot ?? [];
        out.push(...items.map((s) => ({ id: String(s.SnapshotId), runId: runOf(s.Tags), status: s.Status })));
      } else {
        items = (await this.call('ecs', 'DescribeDisks', base)).Disks?.Disk ?? [];
        out.push(...items.map((d) => ({ id: String(d.DiskId), runId: runOf(d.Tags), status: d.Status })));
      }
      if (items.length < 100) break;
    }
    // Only what really carries the tag (a filter the API ignored must not widen what is deleted).
    return out.filter((r) => r.runId !== '' && (!runId || r.runId === runId));
  }

  // ---------- tags

  async tag(id: string, tags: Record<string, string>): Promise<void> {
    await this.call('ecs', 'TagResources', {
      RegionId: this.cfg.region,
      ResourceType: kindOf(id),
      ResourceId: [id],
      Tag: Object.entries(tags).map(([Key, Value]) => ({ Key, Value })),
    });
  }

  async untag(id: string, keys: string[]): Promise<void> {
    if (keys.length)
      await this.call('ecs', 'UntagResources', {
        RegionId: this.cfg.region,
        ResourceType: kindOf(id),
        ResourceId: [id],
        TagKey: keys,
      });
  }

  async tags(id: string): Promise<Record<string, string>> {
    const body = await this.call('ecs', 'ListTagResources', {
      RegionId: this.cfg.region,
      ResourceType: kindOf(id),
      ResourceId: [id],
    });
    return Object.fromEntries(
      (body.TagResources?.TagResource ?? []).map((t: any) => [String(t.TagKey), String(t.TagValue ?? '')]),
    );
  }

  // ---------- owner-side read-back

  async imageShareAccounts(imageId: string): Promise<string[]> {
    const out: string[] = [];
    for (let page = 1; page <= 50; page++) {
      const body = await this.call('ecs', 'DescribeImageSharePermission', {
        RegionId: this.cfg.region,
        ImageId: imageId,
        PageNumber: page,
        PageSize: 100,
      });
      const accounts = (body.Accounts?.Account ?? []).map((a: any) => String(a.AliyunId));
      out.push(...accounts);
      if (accounts.length < 100) break;
    }
    return out.sort();
  }

  /** ecs-share's resource share of a resource (`ecs-share-<id>`), with its target associations; undefined when none is active. */
  async toolShare(
    resourceId: string,
  ): Promise<
    { id: string; status: string; targets: Array<{ id: string; status: string; message: string }> } | undefined
  > {
    const list = await this.call('resourcesharing', 'ListResourceShares', {
      RegionId: this.cfg.region,
      ResourceOwner: 'Self',
      ResourceShareName: `ecs-share-${resourceId}`,
      MaxResults: 100,
    });
    const share = (list.ResourceShares ?? []).find(
      (s: any) => s.ResourceShareName === `ecs-share-${resourceId}` && s.ResourceShareStatus === 'Active',
    );
    if (!share) return undefined;
    const assoc = await this.call('resourcesharing', 'ListResourceShareAssociations', {
      RegionId: this.cfg.region,
      AssociationType: 'Target',
      ResourceShareIds: [share.ResourceShareId],
      MaxResults: 100,
    });
    return {
      id: String(share.ResourceShareId),
      status: String(share.ResourceShareStatus),
      targets: (assoc.ResourceShareAssociations ?? []).map((a: any) => ({
        id: String(a.EntityId),
        status: String(a.AssociationStatus),
        message: String(a.AssociationStatusMessage ?? ''),
      })),
    };
  }

  async trustPolicy(roleName: string): Promise<{ Statement: any[] } | undefined> {
    const r = await this.attempt('ram', 'GetRole', { RoleName: roleName });
    if (!r.ok) {
      if (r.code === 'EntityNotExist.Role') return undefined;
      throw Object.assign(new Error(r.message), { code: r.code });
    }
    return JSON.parse(String(r.body.Role?.AssumeRolePolicyDocument ?? '{}'));
  }

  /**
   * What a replay must leave untouched, owner side: the resources' tags (the status tag with its time), the
   * share roles' trust, description and attached policies, the KMS policies' default versions, the image's account
   * shares and the resource share's associations. Canonical JSON, so two reads compare as strings.
   */
  async fingerprint(resourceIds: string[], opts: { withStatus?: boolean } = {}): Promise<string> {
    const out: Record<string, unknown> = {};
    for (const id of resourceIds) {
      const tags = await this.tags(id);
      // With its time: a replay writes nothing, so not even the status tag's minute may change.
      if (opts.withStatus === false) delete tags[STATUS_TAG];
      out[`tags ${id}`] = tags;
      if (kindOf(id) === 'image') out[`accounts ${id}`] = await this.imageShareAccounts(id);
      const share = await this.toolShare(id);
      out[`share ${id}`] = share && { ...share, targets: share.targets.map((t) => `${t.id}:${t.status}`).sort() };
    }
    for (const role of SHARE_ROLES) {
      const r = await this.attempt('ram', 'GetRole', { RoleName: role });
      if (!r.ok) {
        out[`role ${role}`] = r.code;
        continue;
      }
      out[`role ${role}`] = {
        trust: canonical(JSON.parse(String(r.body.Role?.AssumeRolePolicyDocument ?? '{}'))),
        description: r.body.Role?.Description ?? '',
      };
      const attached = await this.call('ram', 'ListPoliciesForRole', { RoleName: role });
      out[`attached ${role}`] = (attached.Policies?.Policy ?? [])
        .map((p: any) => `${p.PolicyType}/${p.PolicyName}`)
        .sort();
    }
    for (const policy of ['ecs-share-snapshot-kms', 'ecs-share-image-kms']) {
      const p = await this.attempt('ram', 'GetPolicy', { PolicyName: policy, PolicyType: 'Custom' });
      out[`policy ${policy}`] = p.ok ? p.body.DefaultPolicyVersion?.VersionId : p.code;
    }
    return JSON.stringify(canonical(out));
  }

  // ---------- recipient side

  async seesSnapshot(id: string): Promise<boolean> {
    return (await this.snapshot(id)) !== undefined;
  }

  async seesImage(id: string): Promise<boolean> {
    return (await this.image(id, 'others')) !== undefined;
  }

  /** Accept every pending Resource Sharing invitation of a share named `ecs-share-…` (an account outside the directory must). */
  async acceptInvitations(): Promise<number> {
    const list = await this.call('resourcesharing', 'ListResourceShareInvitations', {
      RegionId: this.cfg.region,
      MaxResults: 100,
    });
    const pending = (list.ResourceShareInvitations ?? []).filter(
      (i: any) => i.Status === 'Pending' && String(i.ResourceShareName ?? '').startsWith('ecs-share-'),
    );
    for (const i of pending)
      await this.call('resourcesharing', 'AcceptResourceShareInvitation', {
        RegionId: this.cfg.region,
        ResourceShareInvitationId: i.ResourceShareInvitationId,
      });
    return pending.length;
  }
}

/** Objects with sorted keys (policy documents come back reformatted; compare them semantically). */
function canonical(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(canonical);
  if (v && typeof v === 'object')
    return Object.fromEntries(
      Object.entries(v)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([k, x]) => [k, canonical(x)]),
    );
  return v;
}

/** Poll until `fn` answers true (or a value); returns how long it took. Throws with `what` after the timeout. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | false | undefined>,
  cfg: Pick<LiveConfig, 'timeoutMs' | 'pollMs'>,
): Promise<{ value: T; ms: number }> {
  const started = Date.now();
  for (;;) {
    const v = await fn();
    if (v !== false && v !== undefined) return { value: v as T, ms: Date.now() - started };
    if (Date.now() - started > cfg.timeoutMs)
      throw new Error(`timed out after ${Math.round(cfg.timeoutMs / 1000)} s waiting for ${what}`);
    await new Promise((r) => setTimeout(r, cfg.pollMs));
  }
}
