// EventBridge (OpenAPI 2020-04-01) adapter: PutEvents publishes CloudEvents to a bus of the owner's account. Called
// through openapi-core's generic call like every other product (ACS3 signature, the same retries and timeouts); the
// 2020-04-01 SDKs send EventList as one JSON string in the form body ("shrink", style json), and so does this.
// Loaded only when a refused or failed outcome is to be published (SHARE_NOTIFY_EVENT_BUS), never on a cold start.
import type { CloudApi } from './api';
import { chunk } from './ecs';

export interface BusEvent {
  id: string;
  source: string;
  type: string;
  subject?: string;
  time: string;
  data: Record<string, unknown>;
}

/** Events per PutEvents call: EventBridge's documented batch limit (16 events, 256 KB, 64 KB each). */
const PUT_EVENTS_BATCH = 16;

export interface PublishResult {
  published: number;
  failed: Array<{ id?: string; code?: string; message?: string }>;
}

type RawEntry = { EventId?: string; ErrorCode?: string; ErrorMessage?: string };
type RawData = { EntryList?: unknown; FailedEntryCount?: unknown };

const arr = <T>(x: unknown): T[] => (Array.isArray(x) ? x : x && typeof x === 'object' ? [x as T] : []);

export async function putEvents(
  api: CloudApi,
  region: string,
  bus: string,
  events: BusEvent[],
): Promise<PublishResult> {
  const out: PublishResult = { published: 0, failed: [] };
  for (const part of chunk(events, PUT_EVENTS_BATCH)) {
    const eventList = part.map((e) => ({
      Id: e.id,
      Source: e.source,
      Type: e.type,
      Subject: e.subject,
      Time: e.time,
      SpecVersion: '1.0',
      DataContentType: 'application/json',
      Data: e.data,
    }));
    const body = await api.call<RawData & { Data?: RawData }>(
      'eventbridge',
      'PutEvents',
      { RegionId: region, EventBusName: bus, EventList: JSON.stringify(eventList) },
      region,
      { body: true },
    );
    // The answer lists an entry per event; failed entries carry ErrorCode/ErrorMessage (read defensively).
    const data = body?.Data ?? body;
    const entries = arr<RawEntry>(data?.EntryList);
    const failed = entries.filter((x) => x?.ErrorCode);
    for (const f of failed)
      out.failed.push({ id: f.EventId || undefined, code: String(f.ErrorCode), message: f.ErrorMessage || undefined });
    const failedCount = Math.max(failed.length, Number(data?.FailedEntryCount ?? 0) || 0);
    if (failedCount > failed.length)
      for (let i = failed.length; i < failedCount; i++) out.failed.push({ code: 'FailedEntry' });
    out.published += part.length - failedCount;
  }
  return out;
}
