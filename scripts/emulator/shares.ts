// Resource Sharing state that ECS reads too: the association life cycle (resolved lazily, whenever anything reads a
// share) and the owner-side question "is this snapshot or image in a live share?".
import type { FullState, Image, ResourceShare, ShareResourceEntry, ShareTargetEntry, Snapshot } from './types';

/** Associating -> Associated and Disassociating -> Disassociated once readyAt has passed. */
function settleEntry(entry: ShareResourceEntry | ShareTargetEntry, nowMs: number): void {
  if (entry.readyAt === undefined || entry.readyAt > nowMs) return;
  if (entry.status === 'Associating') entry.status = 'Associated';
  else if (entry.status === 'Disassociating') entry.status = 'Disassociated';
  else return;
  entry.updateTime = new Date(entry.readyAt).toISOString();
  delete entry.readyAt;
}

/** Settles the state's shares, or `shares` (copies a lagged read made) against the state's invitations. */
export function settleShares(state: FullState, nowMs: number, shares: ResourceShare[] = state.resourceShares): void {
  for (const share of shares) {
    share.resources.forEach((e) => settleEntry(e, nowMs));
    share.targets.forEach((e) =>
      e.external && e.status === 'Associating' ? settleExternal(state, share, e, nowMs) : settleEntry(e, nowMs),
    );
  }
}

/**
 * An external account's association stays Associating until it accepts the invitation (the emulator's choice,
 * as AWS RAM does; Alibaba's owner-side view of a pending invitation is unconfirmed). Rejected or expired: Failed.
 */
function settleExternal(state: FullState, share: ResourceShare, e: ShareTargetEntry, nowMs: number): void {
  const inv = state.invitations.find(
    (i) => i.resourceShareId === share.resourceShareId && i.receiverAccountId === e.targetId,
  );
  if (!inv || inv.status === 'Pending') return;
  if (inv.status === 'Accepted') {
    settleEntry(e, nowMs);
    if (e.readyAt === undefined && e.status === 'Associating') e.status = 'Associated';
    return;
  }
  e.status = 'Failed';
  e.statusMessage = `The invitation of ${e.targetId} was ${inv.status.toLowerCase()}.`;
  e.updateTime = new Date(nowMs).toISOString();
  delete e.readyAt;
}

// ---- owner-side lookups ECS makes ----

/** DescribeImages' IsSelfShared: shared through ModifyImageSharePermission, or in an Active share (Associating too). */
export function isImageSelfShared(state: FullState, image: Image, nowMs: number): boolean {
  if ((image.sharedWith ?? []).length > 0) return true;
  settleShares(state, nowMs);
  return state.resourceShares.some(
    (s) =>
      s.ownerAccountId === image.accountId &&
      s.status === 'Active' &&
      s.resources.some(
        (r) => r.resourceId === image.imageId && (r.status === 'Associated' || r.status === 'Associating'),
      ),
  );
}

/** DeleteSnapshot refuses a snapshot still in an Active share (any association neither Disassociated nor Failed). */
export function isSnapshotShared(state: FullState, s: Snapshot, nowMs: number): boolean {
  settleShares(state, nowMs);
  return state.resourceShares.some(
    (share) =>
      share.ownerAccountId === s.accountId &&
      share.status === 'Active' &&
      share.resources.some(
        (r) =>
          r.resourceId === s.snapshotId &&
          r.resourceType === 'Snapshot' &&
          r.status !== 'Disassociated' &&
          r.status !== 'Failed',
      ),
  );
}
