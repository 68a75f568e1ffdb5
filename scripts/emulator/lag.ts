// Read-after-write lag: the reads a client verifies its writes with (DescribeImageSharePermission, RAM GetRole,
// GetPolicy/GetPolicyVersion, ListResourceShareAssociations) answer with the state as of `readLagMs` ago. Each write
// of such an entity records a version (a deep copy, timestamped); a lagged read takes the newest version at least
// `readLagMs` old. An entity nobody wrote since the state was loaded has no history and reads as it is.
import type { ActionSpec, CallContext, FullState } from './types';

interface Version {
  t: number; // epoch ms the version became current (-Infinity: before any recorded write)
  value: unknown;
}

const MAX_VERSIONS = 64;
const histories = new WeakMap<FullState, Map<string, Version[]>>();

function historyOf(state: FullState): Map<string, Version[]> {
  let h = histories.get(state);
  if (!h) histories.set(state, (h = new Map()));
  return h;
}

/** An entity whose current value is read by `read` and recorded under `key`. */
export interface Tracked {
  key: string;
  read: () => unknown;
}

const copy = (v: unknown) => (v === undefined ? undefined : structuredClone(v));

/** Wraps a write: the entities it touches get their old value (if no history yet) and their new value recorded. */
export function recordingWrites(spec: ActionSpec, touched: (ctx: CallContext) => Tracked[]): ActionSpec {
  return {
    ...spec,
    async handler(ctx) {
      const lag = ctx.state.options.readLagMs;
      if (!(lag > 0)) return spec.handler(ctx);
      const entities = touched(ctx);
      const h = historyOf(ctx.state);
      for (const e of entities) if (!h.has(e.key)) h.set(e.key, [{ t: -Infinity, value: copy(e.read()) }]);
      const result = await spec.handler(ctx);
      const now = ctx.emu.now().getTime();
      for (const e of entities) record(h, e.key, { t: now, value: copy(e.read()) }, now - lag);
      return result;
    },
  };
}

function record(h: Map<string, Version[]>, key: string, v: Version, horizon: number): void {
  const versions = h.get(key) ?? [];
  versions.push(v);
  // Versions older than the newest one a lagged read could still pick are never read again.
  let keepFrom = 0;
  for (let i = 0; i < versions.length; i++) if (versions[i].t <= horizon) keepFrom = i;
  const kept = versions.slice(keepFrom);
  h.set(key, kept.length > MAX_VERSIONS ? kept.slice(kept.length - MAX_VERSIONS) : kept);
}

/**
 * The entity as a read `readLagMs` ago would have seen it: a private copy the caller may change (settle, filter),
 * or `current()` itself when there is no lag or no recorded history.
 */
export function laggedRead<T>(ctx: CallContext, key: string, current: () => T): T {
  const lag = ctx.state.options.readLagMs;
  const versions = lag > 0 ? historyOf(ctx.state).get(key) : undefined;
  if (!versions) return current();
  const asOf = ctx.emu.now().getTime() - lag;
  let pick: Version | undefined;
  for (const v of versions) if (v.t <= asOf) pick = v;
  // Every recorded version is newer than the lag window allows: the oldest is what was there before them.
  return copy((pick ?? versions[0]).value) as T;
}

/** The moment a lagged read looks at (for entities that change with time, such as associations settling). */
export function laggedNow(ctx: CallContext): number {
  const lag = ctx.state.options.readLagMs;
  return ctx.emu.now().getTime() - (lag > 0 ? lag : 0);
}
