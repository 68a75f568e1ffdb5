// What the owner and the recipients do and read, through the real SDKs (openapi-core's generic RPC call, the way the
// generated clients call): tag edits, hand edits, and the owner-side read-backs the invariants are checked on.
import type { SdkClients } from '../sdk-clients';
import { REGION } from './model';
import { resourceTypeOf } from '../../shared/domain/ids';

const V = { ecs: '2014-05-26', ram: '2015-05-01', kms: '2016-01-20', rs: '2020-01-10' } as const;

const TRANSPORT = /ECONNRESET|EPIPE|ECONNREFUSED|ETIMEDOUT|socket hang up/i;

/**
 * The simulator's own reads (the oracle, the owner-side checks) are not under test: a connection reset on one (a
 * keep-alive socket the emulator closed while the loaded machine was slow) is retried, so it cannot end a seed. Only
 * reads: a write is never resent, so an owner step fails as it would for a person (noted, the history goes on).
 */
async function harnessCall(c: SdkClients, action: string, version: string, q: Record<string, unknown>): Promise<any> {
  const read = /^(Describe|List|Get)/.test(action);
  for (let attempt = 1; ; attempt++) {
    try {
      return await c.call(action, version, q);
    } catch (e) {
      const err = e as { code?: string; message?: string };
      if (!read || attempt >= 4 || !TRANSPORT.test(`${err.code ?? ''} ${err.message ?? ''}`)) throw e;
      await new Promise((r) => setTimeout(r, 50 * attempt));
    }
  }
}

export const ecs = (c: SdkClients, action: string, q: Record<string, unknown>) =>
  harnessCall(c, action, V.ecs, { RegionId: REGION, ...q });
export const ram = (c: SdkClients, action: string, q: Record<string, unknown>) => harnessCall(c, action, V.ram, q);
export const kms = (c: SdkClients, action: string, q: Record<string, unknown>) =>
  harnessCall(c, action, V.kms, { RegionId: REGION, ...q });
export const rs = (c: SdkClients, action: string, q: Record<string, unknown>) =>
  harnessCall(c, action, V.rs, { RegionId: REGION, ...q });

export type Attempt = { ok: true } | { ok: false; code: string; message: string };

export async function attempt(fn: () => Promise<unknown>): Promise<Attempt> {
  try {
    await fn();
    return { ok: true };
  } catch (e) {
    const err = e as { code?: string; message?: string };
    return { ok: false, code: String(err.code), message: String(err.message) };
  }
}

/** The recipient uses the resource as its kind allows: CreateDisk (ESSD) from a snapshot, CopyImage of an image. */
export function use(c: SdkClients, id: string): Promise<Attempt> {
  return attempt(() =>
    resourceTypeOf(id) === 'image'
      ? ecs(c, 'CopyImage', { ImageId: id, DestinationRegionId: REGION, DestinationImageName: 'sim-copy' })
      : ecs(c, 'CreateDisk', { ZoneId: 'cn-hangzhou-h', SnapshotId: id, DiskCategory: 'cloud_essd' }),
  );
}

export async function acceptInvitations(c: SdkClients): Promise<number> {
  const list = await rs(c, 'ListResourceShareInvitations', { MaxResults: 100 });
  const pending = (list.ResourceShareInvitations ?? []).filter((i: any) => i.Status === 'Pending');
  for (const i of pending)
    await rs(c, 'AcceptResourceShareInvitation', { ResourceShareInvitationId: i.ResourceShareInvitationId });
  return pending.length;
}

export interface RoleView {
  trust: { Statement: any[] };
  description: string;
  attached: string[];
}

export async function readRole(c: SdkClients, roleName: string): Promise<RoleView | undefined> {
  try {
    const res = await ram(c, 'GetRole', { RoleName: roleName });
    const attached = await ram(c, 'ListPoliciesForRole', { RoleName: roleName });
    return {
      trust: JSON.parse(res.Role.AssumeRolePolicyDocument),
      description: String(res.Role.Description ?? ''),
      attached: (attached.Policies?.Policy ?? []).map((p: any) => `${p.PolicyType}/${p.PolicyName}`),
    };
  } catch (e) {
    if ((e as { code?: string }).code === 'EntityNotExist.Role') return undefined;
    throw e;
  }
}

export async function policyDefault(c: SdkClients, policyName: string): Promise<any | undefined> {
  try {
    const res = await ram(c, 'GetPolicy', { PolicyName: policyName, PolicyType: 'Custom' });
    return JSON.parse(res.DefaultPolicyVersion.PolicyDocument);
  } catch (e) {
    if ((e as { code?: string }).code === 'EntityNotExist.Policy') return undefined;
    throw e;
  }
}

export async function policyVersionCount(c: SdkClients, policyName: string): Promise<number> {
  const res = await ram(c, 'ListPolicyVersions', { PolicyName: policyName, PolicyType: 'Custom' });
  return (res.PolicyVersions?.PolicyVersion ?? []).length;
}

export async function imageAccounts(c: SdkClients, imageId: string): Promise<string[]> {
  const out: string[] = [];
  for (let page = 1; page < 20; page++) {
    const res = await ecs(c, 'DescribeImageSharePermission', { ImageId: imageId, PageNumber: page, PageSize: 10 });
    const accounts = (res.Accounts?.Account ?? []).map((a: any) => String(a.AliyunId));
    out.push(...accounts);
    if (accounts.length === 0 || out.length >= Number(res.TotalCount ?? 0)) break;
  }
  return out.sort();
}

export async function tagsOf(c: SdkClients, id: string): Promise<Record<string, string>> {
  const res = await ecs(c, 'ListTagResources', { ResourceType: resourceTypeOf(id), ResourceId: [id] });
  return Object.fromEntries(
    (res.TagResources?.TagResource ?? []).map((t: any) => [String(t.TagKey), String(t.TagValue ?? '')]),
  );
}

export interface ShareView {
  id: string;
  name: string;
  status: string;
  resources: string[];
  targets: Array<{ id: string; status: string }>;
}

/** The owner's resource shares with their associations. */
export async function resourceShares(c: SdkClients): Promise<ShareView[]> {
  const out: ShareView[] = [];
  let token: string | undefined;
  do {
    const list = await rs(c, 'ListResourceShares', {
      ResourceOwner: 'Self',
      MaxResults: 100,
      ...(token ? { NextToken: token } : {}),
    });
    for (const s of list.ResourceShares ?? []) {
      const assoc = async (type: 'Resource' | 'Target') =>
        ((
          await rs(c, 'ListResourceShareAssociations', {
            AssociationType: type,
            ResourceShareIds: [s.ResourceShareId],
            MaxResults: 100,
          })
        ).ResourceShareAssociations ?? []) as any[];
      out.push({
        id: String(s.ResourceShareId),
        name: String(s.ResourceShareName),
        status: String(s.ResourceShareStatus),
        resources: (await assoc('Resource'))
          .filter((a) => /^Associat(ed|ing)$/.test(a.AssociationStatus))
          .map((a) => String(a.EntityId)),
        targets: (await assoc('Target')).map((a) => ({ id: String(a.EntityId), status: String(a.AssociationStatus) })),
      });
    }
    token = list.NextToken || undefined;
  } while (token);
  return out;
}

/** A statement in canonical form (RAM reformats documents; list order carries no meaning). */
export function semantic(statement: Record<string, any>): string {
  const list = (v: unknown) => [v].flat().map(String).sort();
  const out: Record<string, any> = { Effect: statement.Effect, Action: list(statement.Action) };
  if (statement.Resource !== undefined) out.Resource = list(statement.Resource);
  if (statement.Principal)
    out.Principal = Object.fromEntries(
      Object.entries(statement.Principal)
        .sort()
        .map(([k, v]) => [k, list(v)]),
    );
  if (statement.Condition) {
    out.Condition = Object.fromEntries(
      Object.entries(statement.Condition as Record<string, Record<string, unknown>>)
        .sort()
        .map(([op, block]) => [
          op,
          Object.fromEntries(
            Object.entries(block)
              .sort()
              .map(([k, v]) => [k, list(v)]),
          ),
        ]),
    );
  }
  return JSON.stringify(out);
}

export const documentSemantic = (doc: { Statement?: any[] } | undefined): string[] =>
  (doc?.Statement ?? []).map(semantic).sort();
