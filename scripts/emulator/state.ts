// The emulator's state: normalising a (possibly sparse) state file into a FullState, copying it out, loading it from disk.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import {
  ApiError,
  DEFAULT_OPTIONS,
  type CallContext,
  type EmulatorState,
  type FullState,
  type StsSession,
} from './types';

/** Thrown for a state document that cannot be used; the admin API answers it with 400. */
export class InvalidStateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidStateError';
  }
}

const UID = /^\d{16}$/;

/** Fills every list and the options, deep-copies the input (the caller keeps its object) and validates accounts and keys. */
export function normaliseState(s: EmulatorState): FullState {
  if (!s || typeof s !== 'object' || !Array.isArray(s.accounts)) {
    throw new InvalidStateError('state must be an object with an "accounts" array');
  }
  const c = structuredClone(s);
  const full: FullState = {
    regions: c.regions && c.regions.length > 0 ? c.regions : ['cn-hangzhou'],
    accounts: c.accounts,
    resourceDirectory: c.resourceDirectory ?? null,
    keys: c.keys ?? [],
    disks: c.disks ?? [],
    snapshots: c.snapshots ?? [],
    images: c.images ?? [],
    roles: c.roles ?? [],
    policies: c.policies ?? [],
    resourceShares: c.resourceShares ?? [],
    invitations: c.invitations ?? [],
    stsSessions: c.stsSessions ?? [],
    eventBuses: c.eventBuses ?? [],
    eventRoutes: c.eventRoutes ?? [],
    options: { ...DEFAULT_OPTIONS, ...(c.options ?? {}) },
  };
  validateAccounts(full);
  if (full.resourceDirectory) validateDirectory(full);
  return full;
}

function validateAccounts(full: FullState): void {
  const uids = new Set<string>();
  const keyIds = new Set<string>();
  const claimKey = (id: unknown, secret: unknown, owner: string) => {
    if (typeof id !== 'string' || id === '' || typeof secret !== 'string' || secret === '') {
      throw new InvalidStateError(`${owner}: every access key needs a non-empty "id" and "secret"`);
    }
    if (keyIds.has(id)) throw new InvalidStateError(`access key id ${id} is used twice`);
    keyIds.add(id);
  };
  for (const a of full.accounts) {
    if (typeof a.uid !== 'string' || !UID.test(a.uid)) {
      throw new InvalidStateError(`account uid ${JSON.stringify(a.uid)} must be a string of 16 digits`);
    }
    if (uids.has(a.uid)) throw new InvalidStateError(`account ${a.uid} appears twice`);
    uids.add(a.uid);
    if (!Array.isArray(a.accessKeys)) throw new InvalidStateError(`account ${a.uid}: "accessKeys" must be an array`);
    for (const k of a.accessKeys) claimKey(k?.id, k?.secret, `account ${a.uid}`);
    for (const u of a.users ?? []) {
      if (!u.userName) throw new InvalidStateError(`account ${a.uid}: every user needs a "userName"`);
      for (const k of u.accessKeys ?? []) claimKey(k?.id, k?.secret, `user ${u.userName} of ${a.uid}`);
    }
  }
  for (const s of full.stsSessions) claimKey(s.accessKeyId, s.secret, `sts session of ${s.accountId}`);
}

function validateDirectory(full: FullState): void {
  const rd = full.resourceDirectory!;
  if (!rd.id || !rd.rootFolderId) throw new InvalidStateError('resourceDirectory needs "id" and "rootFolderId"');
  rd.folders = Array.isArray(rd.folders) ? rd.folders : [];
  if (!rd.folders.some((f) => f.id === rd.rootFolderId)) {
    rd.folders.unshift({ id: rd.rootFolderId, parentId: null, accounts: [] });
  }
  const known = new Set(full.accounts.map((a) => a.uid));
  for (const f of rd.folders) {
    f.accounts = f.accounts ?? [];
    for (const uid of f.accounts) {
      if (!known.has(uid)) throw new InvalidStateError(`folder ${f.id} lists unknown account ${uid}`);
    }
  }
}

/** A deep copy of the live state in the state-file format (what GET /_emulator/state returns). */
export function snapshotState(full: FullState): EmulatorState {
  return structuredClone(full);
}

/** Reads and normalises a JSON state file. */
export function loadStateFile(path: string): FullState {
  let parsed: EmulatorState;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8')) as EmulatorState;
  } catch (e) {
    throw new InvalidStateError(`cannot read state file ${path}: ${(e as Error).message}`);
  }
  return normaliseState(parsed);
}

/** Creates and stores temporary credentials for a role session (what STS hands out; used for service-linked sessions). */
export function newStsSession(
  state: FullState,
  init: {
    accountId: string;
    roleName: string;
    sessionName: string;
    durationSeconds: number;
    policy?: string;
    now: number;
  },
): StsSession {
  const session: StsSession = {
    accessKeyId: 'STS.' + randomText(ALNUM, 25),
    secret: randomText(ALNUM, 44),
    token: 'CAIS' + randomBytes(96).toString('base64'),
    accountId: init.accountId,
    roleName: init.roleName,
    sessionName: init.sessionName,
    expiration: new Date(init.now + init.durationSeconds * 1000).toISOString().replace(/\.\d{3}Z$/, 'Z'),
    ...(init.policy ? { policy: init.policy } : {}),
  };
  state.stsSessions.push(session);
  return session;
}

const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

export function randomText(alphabet: string, length: number): string {
  const bytes = randomBytes(length);
  let out = '';
  for (let i = 0; i < length; i++) out += alphabet[bytes[i] % alphabet.length];
  return out;
}

/**
 * Every regional product (ECS, KMS, Resource Sharing) refuses a region the state does not list, with the ECS code
 * 404 InvalidRegionId.NotFound. Calls without a RegionId (CreateSnapshot, DeleteSnapshot) act where their resource is.
 */
export function requireKnownRegion(ctx: CallContext, param = 'RegionId'): void {
  if (ctx.params[param] && !ctx.state.regions.includes(ctx.region)) {
    throw new ApiError(404, 'InvalidRegionId.NotFound', `The specified ${param} ${ctx.region} does not exist.`);
  }
}
