// Use case: tag events arrived; share (or take back) each resource they name, once, from its current state.
import type { TagEvent, Skipped } from '../events';
import type { EngineContext } from '../share/context';
import { shareResource } from '../share/share-resource';
import { mapLimit, summarise, type RunSummary } from '../share/summary';
import type { ResourceRef } from '../share/model';

export async function handleTagEvents(ctx: EngineContext, events: TagEvent[], skipped: Skipped[] = []): Promise<RunSummary> {
  const started = Date.now();
  const refs = new Map<string, ResourceRef>();
  // Duplicates and several events for one resource collapse: the resource is re-read anyway.
  for (const e of events) for (const id of e.resourceIds) refs.set(`${e.region}/${id}`, { type: e.resourceType, id, region: e.region });
  const roleCache = new Map();
  const results = await mapLimit([...refs.values()], 2, (ref) => shareResource(ctx, ref, { roleCache }));
  return summarise(results, { started, skipped });
}
