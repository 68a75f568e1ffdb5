// Use case: tag events arrived; share (or take back) each resource they name, once, from its current state.
import { ledgerTagKeys } from '../domain/targets';
import type { TagEvent, Skipped } from '../events';
import type { EngineContext } from '../share/context';
import { shareResource } from '../share/share-resource';
import { mapLimit, summarise, type RunSummary } from '../share/summary';
import type { RequestedBy, ResourceRef } from '../share/model';

/** A tag call that touched only ecs-share's own grant record (it writes one after sharing an image): nothing to do. */
export function onlyLedgerKeys(e: TagEvent, ledgerKey: string): boolean {
  if (e.tagKeys.length === 0) return false; // unknown keys (e.g. UntagResources All=true, create calls): look
  return ledgerTagKeys(Object.fromEntries(e.tagKeys.map((k) => [k, ''])), ledgerKey).length === e.tagKeys.length;
}

export async function handleTagEvents(ctx: EngineContext, events: TagEvent[], skipped: Skipped[] = []): Promise<RunSummary> {
  const started = Date.now();
  const refs = new Map<string, ResourceRef>();
  // Who asked, per resource: the last event that named it (several events for one resource collapse into one run).
  const askers = new Map<string, RequestedBy>();
  const skips = [...skipped];
  for (const e of events) {
    if (onlyLedgerKeys(e, ctx.cfg.ledgerKey)) {
      skips.push({ eventId: e.eventId, reason: `${e.eventName} changed only ecs-share's own ${ctx.cfg.ledgerKey} tags` });
      continue;
    }
    // Duplicates and several events for one resource collapse: the resource is re-read anyway.
    for (const id of e.resourceIds) {
      refs.set(`${e.region}/${id}`, { type: e.resourceType, id, region: e.region });
      askers.set(`${e.region}/${id}`, e.requestedBy ?? { type: 'unknown' });
    }
  }
  const roleCache = new Map();
  const results = await mapLimit([...refs.values()], 2, (ref) => shareResource(ctx, ref, { roleCache, requestedBy: askers.get(`${ref.region}/${ref.id}`) }));
  return summarise(results, { started, skipped: skips });
}
