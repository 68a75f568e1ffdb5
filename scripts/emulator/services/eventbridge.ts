// EventBridge 2020-04-01, the one call ecs-share makes: PutEvents, which publishes CloudEvents to a bus of the caller's
// account (EventBusName, and EventList as one JSON string, as the 2020-04-01 SDKs send it). What was published is
// kept per account, region and bus (emu.published()). The buses the state declares (`eventBuses`) are the only ones
// that exist; a state that declares none accepts any bus name.
import { requireKnownRegion } from '../state';
import { ApiError, type ActionTable, type CallContext } from '../types';

/** Events per call: the batch limit EventBridge documents for publishing (16). */
const MAX_EVENTS = 16;
const REQUIRED_FIELDS = ['Id', 'Source', 'Type'] as const;

function eventList(ctx: CallContext): Array<Record<string, unknown>> {
  let list: unknown;
  try {
    list = JSON.parse(ctx.params.EventList);
  } catch {
    throw new ApiError(400, 'InvalidParameter.EventList', 'The parameter EventList is not a valid JSON array.');
  }
  if (!Array.isArray(list) || list.length === 0)
    throw new ApiError(400, 'InvalidParameter.EventList', 'The parameter EventList must be a non-empty array.');
  if (list.length > MAX_EVENTS)
    throw new ApiError(
      400,
      'InvalidParameter.EventList',
      `At most ${MAX_EVENTS} events may be published in one call, got ${list.length}.`,
    );
  for (const [i, e] of list.entries()) {
    if (!e || typeof e !== 'object' || Array.isArray(e))
      throw new ApiError(400, 'InvalidParameter.EventList', `EventList[${i}] is not an object.`);
    for (const f of REQUIRED_FIELDS) {
      if (typeof (e as Record<string, unknown>)[f] !== 'string' || (e as Record<string, string>)[f] === '') {
        throw new ApiError(400, 'InvalidParameter.EventList', `EventList[${i}].${f} is mandatory.`);
      }
    }
  }
  return list as Array<Record<string, unknown>>;
}

export const actions: ActionTable = {
  PutEvents: {
    required: ['EventBusName', 'EventList'],
    write: false, // publishes; changes no resource the product reads (writes() and the crash harness ignore it)
    resources: (ctx) => [`acs:eventbridge:${ctx.region}:${ctx.caller.accountId}:eventbus/${ctx.params.EventBusName}`],
    handler: (ctx) => {
      requireKnownRegion(ctx);
      const bus = ctx.params.EventBusName;
      const buses = ctx.state.eventBuses ?? [];
      if (
        buses.length &&
        !buses.some((b) => b.name === bus && b.accountId === ctx.caller.accountId && b.region === ctx.region)
      ) {
        throw new ApiError(404, 'EventBusNotExist', `The event bus [${bus}] not existed!`);
      }
      const events = eventList(ctx);
      const time = ctx.emu.nowIso();
      ctx.emu.publish?.(
        events.map((event) => ({
          accountId: ctx.caller.accountId,
          region: ctx.region,
          bus,
          event,
          caller: ctx.caller.arn,
          requestId: ctx.requestId,
          time,
        })),
      );
      return {
        Code: '200',
        Message: 'success',
        Success: true,
        Data: {
          FailedEntryCount: 0,
          EntryList: events.map((e) => ({ EventId: e.Id, TraceId: ctx.emu.newId('', 32) })),
        },
      };
    },
  },
};
