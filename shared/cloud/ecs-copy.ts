// ECS adapter for service-key copies: find ecs-share's copies of a resource by their origin tag, copy a snapshot or
// image with a customer master key (born tagged, in one call), and delete a copy. Only the service-key copy feature
// uses it, so its actions are exactly those of shared/policies/function-role-service-key-copy.json.
import { castAs, type CloudApi } from './api';
import type { ResourceType } from '../domain/ids';

export interface CopyPort {
  /** Ids of the own resources of the type whose tag `key` has exactly `value` (ListTagResources, every page). */
  idsTagged(region: string, type: ResourceType, key: string, value: string): Promise<string[]>;
  /** CopySnapshot/CopyImage into the same region, encrypted with `keyId`, carrying `tags`. Never resent: a lost answer is re-observed by its tag. */
  copy(
    region: string,
    type: ResourceType,
    sourceId: string,
    keyId: string,
    tags: Record<string, string>,
    name: string,
  ): Promise<string>;
  /** DeleteSnapshot/DeleteImage; already gone is success. */
  remove(region: string, type: ResourceType, id: string): Promise<void>;
}

export class EcsCopyAdapter implements CopyPort {
  constructor(private readonly api: CloudApi) {}

  async idsTagged(region: string, type: ResourceType, key: string, value: string): Promise<string[]> {
    const out = new Set<string>();
    let nextToken: string | undefined;
    do {
      const raw = await this.api.call(
        'ecs',
        'ListTagResources',
        { RegionId: region, ResourceType: type, Tag: [{ Key: key, Value: value }], NextToken: nextToken },
        region,
      );
      const body = await castAs(raw, 'ListTagResourcesResponseBody');
      for (const t of body.tagResources?.tagResource ?? [])
        if (t.resourceId && t.tagKey === key && t.tagValue === value) out.add(t.resourceId);
      nextToken = body.nextToken || undefined;
    } while (nextToken);
    return [...out].sort();
  }

  async copy(
    region: string,
    type: ResourceType,
    sourceId: string,
    keyId: string,
    tags: Record<string, string>,
    name: string,
  ): Promise<string> {
    const Tag = Object.entries(tags).map(([Key, Value]) => ({ Key, Value }));
    const common = { RegionId: region, DestinationRegionId: region, Encrypted: true, KMSKeyId: keyId, Tag };
    if (type === 'snapshot') {
      const raw = await this.api.call<{ SnapshotId?: string }>(
        'ecs',
        'CopySnapshot',
        {
          ...common,
          SnapshotId: sourceId,
          DestinationSnapshotName: name,
          DestinationSnapshotDescription: `Copy of ${sourceId} with a customer master key, made by ecs-share`,
        },
        region,
        { resend: false },
      );
      return String(raw?.SnapshotId ?? '');
    }
    const raw = await this.api.call<{ ImageId?: string }>(
      'ecs',
      'CopyImage',
      {
        ...common,
        ImageId: sourceId,
        DestinationImageName: name,
        DestinationDescription: `Copy of ${sourceId} with a customer master key, made by ecs-share`,
      },
      region,
      { resend: false },
    );
    return String(raw?.ImageId ?? '');
  }

  async remove(region: string, type: ResourceType, id: string): Promise<void> {
    try {
      if (type === 'snapshot')
        await this.api.call('ecs', 'DeleteSnapshot', { RegionId: region, SnapshotId: id }, region);
      else await this.api.call('ecs', 'DeleteImage', { RegionId: region, ImageId: id }, region);
    } catch (e) {
      if ((e as { code?: string }).code?.endsWith('NotFound')) return;
      throw e;
    }
  }
}
