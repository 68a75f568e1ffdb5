// Use case: tag events arrived; share (or take back) each resource they name, once, from its current state.
import { ledgerTagKeys } from '../domain/targets';
import type { TagEvent, Skipped } from '../events';
import type { EngineContext } from '../share/context';
import { shareResource } from './share-resource';
import { mapLimit, summarise, type RunSummary } from '../share/summary';
import type { RequestedBy, ResourceRef } from '../share/model';

/**
 * A tag call that touched only ecs-share's own tags (its grant record on images, its status tag): nothing to do, and
 * acting on it would loop (every run that changes a status writes one).
 */
export function onlyOwnKeys(e: TagEvent, ledgerKey: string, statusKey?: string): boolean {
  if (e.tagKeys.length === 0) return false; // unknown keys (e.g. UntagResources All=true, create calls): look
  const own = new Set(ledgerTagKeys(Object.fromEntries(e.tagKeys.map((k) => [k, ''])), ledgerKey));
  return e.tagKeys.every((k) => own.has(k) || k === statusKey);
}

export async function handleTagEvents(
  ctx: EngineContext,
  events: TagEvent[],
  skipped: Skipped[] = [],
): Promise<RunSummary> {
  const started = Date.now();
  const refs = new Map<string, ResourceRef>();
  // Who asked, per resource: the last event that named it (several events for one resource collapse into one run).
  const askers = new Map<string, RequestedBy>();
  const skips = [...skipped];
  for (const e of events) {
    if (onlyOwnKeys(e, ctx.cfg.ledgerKey, ctx.cfg.statusKey)) {
      skips.push({
        eventId: e.eventId,
        reason: `${e.eventName} changed only ecs-share's own tags (${[ctx.cfg.ledgerKey, ctx.cfg.statusKey].filter(Boolean).join(', ')})`,
      });
      continue;
    }
    // Duplicates and several events for one resource collapse: the resource is re-read anyway.
    for (const id of e.resourceIds) {
      refs.set(`${e.region}/${id}`, { type: e.resourceType, id, region: e.region });
      askers.set(`${e.region}/${id}`, e.requestedBy ?? { type: 'unknown' });
    }
  }
  const roleCache = new Map();
  const results = await mapLimit([...refs.values()], 2, (ref) =>
    shareResource(ctx, ref, { roleCache, requestedBy: askers.get(`${ref.region}/${ref.id}`) }),
  );
  return summarise(results, { started, skipped: skips });
}
