// Resource Sharing (2020-01-10) adapter: snapshots, and RD/folder targets of images. There is no npm SDK for it
// here, so it is called through openapi-core's generic call and the raw PascalCase body is read defensively.
import type { CloudApi } from './api';
import type { SharingPort } from '../share/ports';
import { chunk } from './ecs';
import type { SharedResourceType } from '../domain/ids';

export interface ResourceShareInfo {
  id: string;
  name: string;
  allowExternalTargets: boolean;
  status: string;
}

export interface AssociationInfo {
  entityId: string;
  entityType: string;
  status: string;
  message?: string;
  external?: boolean;
}

/** Resource Sharing takes at most 5 resources and 5 targets a call. */
const SHARING_BATCH = 5;

const arr = <T>(x: unknown): T[] => (Array.isArray(x) ? x : x && typeof x === 'object' ? [x as T] : []);

// The raw fields read from Resource Sharing's answers (booleans may come back as strings).
type RawShare = Partial<Record<'ResourceShareId' | 'ResourceShareName' | 'ResourceShareStatus', string>> & {
  AllowExternalTargets?: boolean | string;
};
type RawAssociation = Partial<
  Record<'ResourceShareId' | 'EntityId' | 'EntityType' | 'AssociationStatus' | 'AssociationStatusMessage', string>
> & { External?: boolean | string };
type Paged = { NextToken?: string; ResourceShares?: unknown; ResourceShareAssociations?: unknown };

export class SharingAdapter implements SharingPort {
  constructor(private readonly api: CloudApi) {}

  private shareInfo(s: RawShare): ResourceShareInfo {
    return {
      id: String(s.ResourceShareId),
      name: String(s.ResourceShareName ?? ''),
      allowExternalTargets: s.AllowExternalTargets === true || s.AllowExternalTargets === 'true',
      status: String(s.ResourceShareStatus ?? ''),
    };
  }

  /** The owner's live resource shares whose name starts with a prefix, page by page. */
  async *sharesNamed(region: string, prefix: string, exactName?: string): AsyncGenerator<ResourceShareInfo[]> {
    let nextToken: string | undefined;
    do {
      const body = await this.api.call<Paged>(
        'resourcesharing',
        'ListResourceShares',
        {
          RegionId: region,
          ResourceOwner: 'Self',
          ResourceShareName: exactName,
          MaxResults: 100,
          NextToken: nextToken,
        },
        region,
      );
      yield arr<RawShare>(body.ResourceShares)
        .map((s) => this.shareInfo(s))
        .filter((s) => s.name.startsWith(prefix) && s.status !== 'Deleted' && s.status !== 'Deleting');
      nextToken = body.NextToken || undefined;
    } while (nextToken);
  }

  async findShare(region: string, name: string): Promise<ResourceShareInfo | undefined> {
    for await (const page of this.sharesNamed(region, name, name)) {
      const hit = page.find((s) => s.name === name);
      if (hit) return hit;
    }
    return undefined;
  }

  async createShare(
    region: string,
    name: string,
    resource: { id: string; type: SharedResourceType },
    targets: string[],
    allowExternalTargets: boolean,
  ): Promise<string> {
    const [first, ...rest] = chunk(targets, SHARING_BATCH);
    const body = await this.api.call<{ ResourceShare?: RawShare }>(
      'resourcesharing',
      'CreateResourceShare',
      {
        RegionId: region,
        ResourceShareName: name,
        Resources: [{ ResourceId: resource.id, ResourceType: resource.type }],
        Targets: first ?? [],
        AllowExternalTargets: allowExternalTargets,
      },
      region,
    );
    const id = String(body?.ResourceShare?.ResourceShareId ?? '');
    for (const part of rest) await this.associateTargets(region, id, part);
    return id;
  }

  /** UpdateResourceShare requires ResourceShareName (API doc, SDK model): the share's own name keeps it as it is. */
  async updateAllowExternal(region: string, shareId: string, allow: boolean, name: string): Promise<void> {
    await this.api.call(
      'resourcesharing',
      'UpdateResourceShare',
      { RegionId: region, ResourceShareId: shareId, ResourceShareName: name, AllowExternalTargets: allow },
      region,
    );
  }

  async associateTargets(region: string, shareId: string, targets: string[]): Promise<void> {
    for (const part of chunk(targets, SHARING_BATCH)) {
      await this.api.call(
        'resourcesharing',
        'AssociateResourceShare',
        { RegionId: region, ResourceShareId: shareId, Targets: part },
        region,
      );
    }
  }

  async disassociateTargets(region: string, shareId: string, targets: string[]): Promise<void> {
    for (const part of chunk(targets, SHARING_BATCH)) {
      await this.api.call(
        'resourcesharing',
        'DisassociateResourceShare',
        { RegionId: region, ResourceShareId: shareId, Targets: part },
        region,
      );
    }
  }

  async deleteShare(region: string, shareId: string): Promise<void> {
    await this.api.call(
      'resourcesharing',
      'DeleteResourceShare',
      { RegionId: region, ResourceShareId: shareId },
      region,
    );
  }

  /** Every target association of the owner's shares in a region, in a few paged calls. */
  async allTargetAssociations(region: string): Promise<Array<AssociationInfo & { resourceShareId: string }>> {
    const out: Array<AssociationInfo & { resourceShareId: string }> = [];
    let nextToken: string | undefined;
    do {
      const body = await this.api.call<Paged>(
        'resourcesharing',
        'ListResourceShareAssociations',
        { RegionId: region, AssociationType: 'Target', MaxResults: 100, NextToken: nextToken },
        region,
      );
      for (const a of arr<RawAssociation>(body.ResourceShareAssociations)) {
        const status = String(a.AssociationStatus ?? '');
        if (status === 'Disassociated') continue;
        out.push({
          resourceShareId: String(a.ResourceShareId),
          entityId: String(a.EntityId),
          entityType: String(a.EntityType ?? ''),
          status,
          message: a.AssociationStatusMessage || undefined,
          external: a.External === true || a.External === 'true',
        });
      }
      nextToken = body.NextToken || undefined;
    } while (nextToken);
    return out;
  }

  /** Current associations of one share (resources or targets), Disassociated ones left out. */
  async associations(region: string, shareId: string, type: 'Resource' | 'Target'): Promise<AssociationInfo[]> {
    const out: AssociationInfo[] = [];
    let nextToken: string | undefined;
    do {
      const body = await this.api.call<Paged>(
        'resourcesharing',
        'ListResourceShareAssociations',
        { RegionId: region, AssociationType: type, ResourceShareIds: [shareId], MaxResults: 100, NextToken: nextToken },
        region,
      );
      for (const a of arr<RawAssociation>(body.ResourceShareAssociations)) {
        const status = String(a.AssociationStatus ?? '');
        if (status === 'Disassociated') continue;
        out.push({
          entityId: String(a.EntityId),
          entityType: String(a.EntityType ?? ''),
          status,
          message: a.AssociationStatusMessage || undefined,
          external: a.External === true || a.External === 'true',
        });
      }
      nextToken = body.NextToken || undefined;
    } while (nextToken);
    return out;
  }
}
