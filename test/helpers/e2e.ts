// What the end-to-end suites do through the real SDKs: tag as the owner, read the end state back (owner side and
// recipient side), and use a shared resource as a recipient. Nothing here touches the emulator's state directly.
import * as $Ecs from '@alicloud/ecs20140526';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO, type CloudEvent } from '../../scripts/emulator';
import { resourceTypeOf } from '../../shared/domain/ids';
import type { SdkClients } from './sdk';
import type { World } from './world';

const region = DEMO.region;
export const SNAPSHOT_ROLE = 'AliyunECSShareEncryptSnapshotDefaultRole';
export const IMAGE_ROLE = 'AliyunECSShareEncryptImageDefaultRole';

export async function tag(
  w: World,
  id: string,
  value: string | Record<string, string>,
  key = 'share-with',
): Promise<void> {
  const tags = typeof value === 'string' ? { [key]: value } : value;
  await w.owner.ecs.tagResources(
    new $Ecs.TagResourcesRequest({
      regionId: region,
      resourceType: resourceTypeOf(id),
      resourceId: [id],
      tag: Object.entries(tags).map(([k, v]) => ({ key: k, value: v })),
    }),
  );
}

export async function untag(w: World, id: string, keys: string[] = ['share-with']): Promise<void> {
  await w.owner.ecs.untagResources(
    new $Ecs.UntagResourcesRequest({
      regionId: region,
      resourceType: resourceTypeOf(id),
      resourceId: [id],
      tagKey: keys,
    }),
  );
}

/** Tag, then let the emitted events drive on-tag; returns every per-resource outcome of those invocations. */
export async function tagAndDeliver(
  w: World,
  id: string,
  value: string | Record<string, string>,
  key = 'share-with',
): Promise<Outcome[]> {
  await tag(w, id, value, key);
  return outcomes(await w.deliverEvents());
}

export interface Outcome {
  resourceId: string;
  outcome: 'shared' | 'revoked' | 'unchanged' | 'pending' | 'refused' | 'failed';
  targets: string[];
  pending?: string[];
  reason?: string;
  error?: { code: string; message: string };
  advice?: string;
  actions: Array<{ kind: string; [k: string]: unknown }>;
}

export function outcomes(results: any[]): Outcome[] {
  return results.flatMap((r) => (Array.isArray(r?.results) ? r.results : []));
}

/** The last outcome reported for a resource (later events re-check the same resource). */
export function outcomeFor(list: Outcome[], id: string): Outcome {
  const hits = list.filter((o) => o.resourceId === id);
  if (hits.length === 0) throw new Error(`no outcome for ${id} in ${JSON.stringify(list)}`);
  return hits[hits.length - 1];
}

/** Wait until every read shows what was just written (reads lag behind writes by the emulator's readLagMs). */
export function afterReadLag(w: World): Promise<void> {
  const ms = w.emu.state.options?.readLagMs ?? 0;
  return ms > 0 ? new Promise((r) => setTimeout(r, ms + 20)) : Promise.resolve();
}

/** Start a phase: forget the call log so writes() and calls() count only what follows. */
export function phase(w: World): void {
  w.emu.clearCalls();
}

/** Successful state-changing calls made by anyone other than the test's own root keys (i.e. by the product). */
export function productWrites(w: World): Array<{ action: string; params: Record<string, string> }> {
  return w.emu
    .writes()
    .filter((c) => c.caller?.type === 'role')
    .map((c) => ({ action: c.action, params: c.params }));
}

/** A write of ecs-share's status tag only (TagResources/UntagResources naming no other key). */
export function isStatusWrite(
  c: { action: string; params: Record<string, string> },
  statusKey = 'ecs-share:status',
): boolean {
  if (c.action !== 'TagResources' && c.action !== 'UntagResources') return false;
  const keys = Object.entries(c.params)
    .filter(([k]) => /^Tag\.\d+\.Key$|^TagKey\.\d+$/.test(k))
    .map(([, v]) => v);
  return keys.length > 0 && keys.every((k) => k === statusKey);
}

/** The product's writes that change a share (everything but its status tag): what "changes nothing" is about. */
export function shareWrites(w: World): Array<{ action: string; params: Record<string, string> }> {
  return productWrites(w).filter((c) => !isStatusWrite(c));
}

/** The status tag ecs-share wrote on a resource, without its time. */
export async function statusOf(w: World, id: string): Promise<string | undefined> {
  const v = (await resourceTags(w, id))['ecs-share:status'];
  return v === undefined ? undefined : v.replace(/ \| \d{4}-\d{2}-\d{2}T\d{2}:\d{2}Z$/, '');
}

/** Every JSON line the product logs to stdout while `fn` runs (at level info and above, whatever the test set). */
export async function logLines(fn: () => Promise<unknown>): Promise<Array<Record<string, any>>> {
  const lines: string[] = [];
  const write = process.stdout.write.bind(process.stdout);
  const saved = process.env.SHARE_LOG_LEVEL;
  process.env.SHARE_LOG_LEVEL = 'info';
  (process.stdout as any).write = (chunk: any) => {
    lines.push(String(chunk));
    return true;
  };
  try {
    await fn();
  } finally {
    (process.stdout as any).write = write;
    if (saved === undefined) delete process.env.SHARE_LOG_LEVEL;
    else process.env.SHARE_LOG_LEVEL = saved;
  }
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
}

// ---------- owner-side read-back ----------

export async function trustPolicy(w: World, roleName: string): Promise<{ Statement: any[] } | undefined> {
  try {
    const res = await w.owner.ram.getRole(new $Ram.GetRoleRequest({ roleName }));
    return JSON.parse(res.body!.role!.assumeRolePolicyDocument!);
  } catch (e) {
    if ((e as { code?: string }).code === 'EntityNotExist.Role') return undefined;
    throw e;
  }
}

/** Every Principal.Service of the Allow statements. */
export function trustServices(doc: { Statement: any[] } | undefined): string[] {
  return (doc?.Statement ?? []).flatMap((s) => [s.Principal?.Service ?? []].flat().map(String)).sort();
}

export async function attachedPolicies(w: World, roleName: string): Promise<string[]> {
  const res = await w.owner.ram.listPoliciesForRole(new $Ram.ListPoliciesForRoleRequest({ roleName }));
  return (res.body!.policies?.policy ?? []).map((p) => `${p.policyType}/${p.policyName}`).sort();
}

export async function policyDocument(w: World, policyName: string): Promise<any> {
  const res = await w.owner.ram.getPolicy(new $Ram.GetPolicyRequest({ policyName, policyType: 'Custom' }));
  return JSON.parse(res.body!.defaultPolicyVersion!.policyDocument!);
}

export async function imageShareAccounts(w: World, imageId: string): Promise<string[]> {
  const out: string[] = [];
  for (let page = 1; ; page++) {
    const res = await w.owner.ecs.describeImageSharePermission(
      new $Ecs.DescribeImageSharePermissionRequest({ regionId: region, imageId, pageNumber: page, pageSize: 10 }),
    );
    const accounts = (res.body!.accounts?.account ?? []).map((a) => String(a.aliyunId));
    out.push(...accounts);
    if (accounts.length === 0 || out.length >= (res.body!.totalCount ?? 0)) return out.sort();
  }
}

export async function resourceTags(w: World, id: string): Promise<Record<string, string>> {
  const res = await w.owner.ecs.listTagResources(
    new $Ecs.ListTagResourcesRequest({ regionId: region, resourceType: resourceTypeOf(id), resourceId: [id] }),
  );
  return Object.fromEntries((res.body!.tagResources?.tagResource ?? []).map((t) => [t.tagKey!, t.tagValue ?? '']));
}

export interface ShareView {
  id: string;
  name: string;
  status: string;
  allowExternalTargets: boolean;
  resources: Array<{ id: string; status: string }>;
  targets: Array<{ id: string; status: string; external: boolean }>;
}

/** The owner's resource shares that carry a resource (live or not), with their associations. */
export async function sharesOf(w: World, resourceId: string): Promise<ShareView[]> {
  const list = await w.owner.rs('ListResourceShares', { RegionId: region, ResourceOwner: 'Self', MaxResults: 100 });
  const out: ShareView[] = [];
  for (const s of list.ResourceShares ?? []) {
    const assoc = async (type: 'Resource' | 'Target') =>
      ((
        await w.owner.rs('ListResourceShareAssociations', {
          RegionId: region,
          AssociationType: type,
          ResourceShareIds: [s.ResourceShareId],
          MaxResults: 100,
        })
      ).ResourceShareAssociations ?? []) as any[];
    const resources = (await assoc('Resource')).map((a) => ({
      id: String(a.EntityId),
      status: String(a.AssociationStatus),
    }));
    if (!resources.some((r) => r.id === resourceId)) continue;
    const targets = (await assoc('Target')).map((a) => ({
      id: String(a.EntityId),
      status: String(a.AssociationStatus),
      external: a.External === true,
    }));
    out.push({
      id: s.ResourceShareId,
      name: s.ResourceShareName,
      status: s.ResourceShareStatus,
      allowExternalTargets: s.AllowExternalTargets === true,
      resources,
      targets,
    });
  }
  return out;
}

/** The one live share ecs-share made for a resource, or undefined. */
export async function toolShare(w: World, resourceId: string): Promise<ShareView | undefined> {
  return (await sharesOf(w, resourceId)).find((s) => s.name === `ecs-share-${resourceId}` && s.status === 'Active');
}

// ---------- recipient side ----------

export type Attempt = { ok: true; id: string } | { ok: false; code: string; message: string };

async function attempt(fn: () => Promise<string>): Promise<Attempt> {
  try {
    return { ok: true, id: await fn() };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { ok: false, code: String(err.code), message: String(err.message) };
  }
}

/** The recipient makes an ESSD disk from the shared snapshot (ESSD: required for shared encrypted snapshots). */
function createDiskFrom(c: SdkClients, snapshotId: string, regionId: string = region): Promise<Attempt> {
  return attempt(async () => {
    const res = await c.ecs.createDisk(
      new $Ecs.CreateDiskRequest({ regionId, zoneId: `${regionId}-h`, snapshotId, diskCategory: 'cloud_essd' }),
    );
    return res.body!.diskId!;
  });
}

function copyImage(c: SdkClients, imageId: string, regionId: string = region): Promise<Attempt> {
  return attempt(async () => {
    const res = await c.ecs.copyImage(
      new $Ecs.CopyImageRequest({
        regionId,
        imageId,
        destinationRegionId: regionId,
        destinationImageName: 'copy-of-shared',
      }),
    );
    return res.body!.imageId!;
  });
}

/** Use a shared resource the way its kind allows: CreateDisk from a snapshot, CopyImage of an image. */
export function use(w: World, uid: string, resourceId: string, regionId: string = region): Promise<Attempt> {
  const c = w.client(uid);
  return resourceTypeOf(resourceId) === 'image'
    ? copyImage(c, resourceId, regionId)
    : createDiskFrom(c, resourceId, regionId);
}

/** The recipient accepts every pending Resource Sharing invitation with its own keys; returns how many. */
export async function acceptInvitations(c: SdkClients): Promise<number> {
  const list = await c.rs('ListResourceShareInvitations', { RegionId: region, MaxResults: 100 });
  const pending = (list.ResourceShareInvitations ?? []).filter((i: any) => i.Status === 'Pending');
  for (const i of pending)
    await c.rs('AcceptResourceShareInvitation', {
      RegionId: region,
      ResourceShareInvitationId: i.ResourceShareInvitationId,
    });
  return pending.length;
}

/** The CloudEvents the emulator emitted so far for a resource, oldest first. */
export function eventsFor(w: World, resourceId: string): CloudEvent[] {
  return w.emu.events().filter((e) => JSON.stringify((e as any).data?.referencedResources ?? {}).includes(resourceId));
}

/**
 * A statement in a canonical form: RAM may return a single value as a one-element array (and the order of list
 * values carries no meaning), so policy statements are compared semantically, not textually.
 */
export function semantic(statement: Record<string, any>): Record<string, any> {
  const list = (v: unknown) => [v].flat().map(String).sort();
  const out: Record<string, any> = { Effect: statement.Effect, Action: list(statement.Action) };
  if (statement.Resource !== undefined) out.Resource = list(statement.Resource);
  if (statement.Principal)
    out.Principal = Object.fromEntries(Object.entries(statement.Principal).map(([k, v]) => [k, list(v)]));
  if (statement.Condition) {
    out.Condition = Object.fromEntries(
      Object.entries(statement.Condition as Record<string, Record<string, unknown>>).map(([op, block]) => [
        op,
        Object.fromEntries(Object.entries(block).map(([k, v]) => [k, list(v)])),
      ]),
    );
  }
  return out;
}

/** The statements of a policy document, in canonical form. */
export const statements = (doc: { Statement: any[] } | undefined) => (doc?.Statement ?? []).map(semantic);
