// Snapshots and images are not ready at once: progressing/Creating for readyDelayMs, resolved lazily (like associations)
// whenever an ECS or Resource Sharing call runs.
import type { CallContext, FullState, Image, Snapshot } from '../../types';

/** progressing -> accomplished and Creating -> Available once readyAt has passed. */
export function settleResources(state: FullState, nowMs: number): void {
  for (const s of state.snapshots) {
    if (s.readyAt === undefined || s.readyAt > nowMs) continue;
    if (s.status === 'progressing') s.status = 'accomplished';
    delete s.readyAt;
  }
  for (const i of state.images) {
    if (i.readyAt === undefined || i.readyAt > nowMs) continue;
    if (i.status === 'Creating') i.status = 'Available';
    delete i.readyAt;
  }
}

export const snapshotReady = (s: Snapshot) => (s.status ?? 'accomplished') === 'accomplished';
export const imageReady = (i: Image) => (i.status ?? 'Available') === 'Available';

/** The delay before a new snapshot or image is ready: progressing/Creating until then (none: ready at once). */
export function readiness(ctx: CallContext): { readyAt?: number } {
  const delay = ctx.state.options.readyDelayMs;
  return delay > 0 ? { readyAt: ctx.emu.now().getTime() + delay } : {};
}
