// Use case: an operator asks to share one resource now (s invoke -e '{"resourceId":"s-…","region":"cn-hangzhou","dryRun":true}').
import { InvalidInputError } from '../errors';
import { REGION, RESOURCE_ID, isAccountUid, resourceTypeOf } from '../domain/ids';
import { clip } from '../events';
import type { EngineContext } from '../share/context';
import { shareResource } from './share-resource';
import { summarise, type RunSummary } from '../share/summary';
import type { ResourceRef } from '../share/model';

const KNOWN = new Set(['resourceId', 'region', 'regionId', 'dryRun', 'resourceType', 'action', 'accountId']);

/** Validate a manual share command strictly: an unknown field or a malformed id is an error, not a guess. */
export function parseShareCommand(
  command: Record<string, unknown>,
  defaultRegion: string,
): { ref: ResourceRef; dryRun: boolean; accountId?: string } {
  const unknown = Object.keys(command).filter((k) => !KNOWN.has(k));
  if (unknown.length)
    throw new InvalidInputError(
      `Unknown field(s) ${clip(unknown.join(', '))}; expected resourceId, region, dryRun (and accountId in organisation mode)`,
    );
  if (command.action !== undefined && command.action !== 'share')
    throw new InvalidInputError(`action must be "share" for this function, got ${show(command.action)}`);
  const id = command.resourceId;
  if (typeof id !== 'string' || !RESOURCE_ID.test(id)) {
    throw new InvalidInputError(`resourceId must be a snapshot (s-…) or image (m-…) id, got ${show(id)}`);
  }
  const region = command.region ?? command.regionId ?? defaultRegion;
  if (typeof region !== 'string' || !REGION.test(region))
    throw new InvalidInputError(`region must look like cn-hangzhou, got ${show(region)}`);
  const type = resourceTypeOf(id);
  if (command.resourceType !== undefined && command.resourceType !== type) {
    throw new InvalidInputError(`resourceType ${show(command.resourceType)} does not match the id ${id}`);
  }
  if (command.dryRun !== undefined && typeof command.dryRun !== 'boolean')
    throw new InvalidInputError('dryRun must be true or false');
  const accountId = command.accountId;
  if (accountId !== undefined && (typeof accountId !== 'string' || !isAccountUid(accountId)))
    throw new InvalidInputError(`accountId must be a 16-digit account uid, got ${show(accountId)}`);
  return {
    ref: { type, id, region },
    dryRun: command.dryRun === true,
    ...(accountId !== undefined ? { accountId } : {}),
  };
}

/** A value as the error shows it: JSON, one line, clipped (the parser has already bounded its depth). */
function show(value: unknown): string {
  return value === undefined ? 'nothing' : clip(JSON.stringify(value));
}

export async function runShareCommand(ctx: EngineContext, ref: ResourceRef, dryRun: boolean): Promise<RunSummary> {
  const started = Date.now();
  const result = await shareResource(ctx, ref, { dryRun, requestedBy: 'manual' });
  return summarise([result], { started, dryRun });
}
