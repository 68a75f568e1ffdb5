// The emulator's state: normalising a (possibly sparse) state file into a FullState, copying it out, loading it from disk.
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  ApiError,
  DEFAULT_OPTIONS,
  type CallContext,
  type EmulatorState,
  type FcFunction,
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
    functions: [],
    options: { ...DEFAULT_OPTIONS, ...(c.options ?? {}) },
  };
  validateAccounts(full);
  if (full.resourceDirectory) validateDirectory(full);
  for (const fn of c.functions ?? []) addFunction(full, fn, false);
  return full;
}

const FUNCTION_NAME = /^[a-zA-Z_][a-zA-Z0-9_-]{0,127}$/; // FC 3.0 CreateFunction's functionName
const FUNCTION_ARN = /^acs:fc:([a-z0-9-]+):(\d{16}):functions\/([a-zA-Z_][a-zA-Z0-9_-]{0,127})$/;

/** acs:fc:<region>:<uid>:functions/<name> -> its parts, or undefined. */
export function parseFunctionArn(arn: string): { region: string; accountId: string; functionName: string } | undefined {
  const m = FUNCTION_ARN.exec(arn);
  return m ? { region: m[1], accountId: m[2], functionName: m[3] } : undefined;
}

/**
 * Validates an FC function and adds it to the state (`replace`: one with the same account, region and name goes;
 * otherwise a second one is an error). Throws InvalidStateError.
 */
export function addFunction(full: FullState, input: FcFunction, replace: boolean): FcFunction {
  const fn = structuredClone(input);
  const who = `function ${JSON.stringify(fn?.functionName)}`;
  if (!fn || typeof fn.functionName !== 'string' || !FUNCTION_NAME.test(fn.functionName))
    throw new InvalidStateError(`${who}: "functionName" must match ${FUNCTION_NAME}`);
  if (!full.accounts.some((a) => a.uid === fn.accountId))
    throw new InvalidStateError(`${who}: "accountId" ${JSON.stringify(fn.accountId)} is not an account of the state`);
  if (!full.regions.includes(fn.region))
    throw new InvalidStateError(`${who}: "region" ${JSON.stringify(fn.region)} is not one of the state's regions`);
  if (typeof fn.codeDir !== 'string' || !path.isAbsolute(fn.codeDir))
    throw new InvalidStateError(`${who}: "codeDir" must be an absolute directory (the one holding index.js)`);
  if (fn.handler !== undefined && !/^[\w./-]+\.[A-Za-z_$][\w$]*$/.test(fn.handler))
    throw new InvalidStateError(`${who}: "handler" must be <file>.<export>, e.g. index.handler`);
  if (fn.role !== undefined && (typeof fn.role !== 'string' || fn.role === '' || fn.role.includes(':')))
    throw new InvalidStateError(`${who}: "role" is a role name in the function's account, not an ARN`);
  const env = fn.environment ?? {};
  if (typeof env !== 'object' || Object.values(env).some((v) => typeof v !== 'string'))
    throw new InvalidStateError(`${who}: "environment" values must be strings`);
  if (fn.timeoutSeconds !== undefined && !(fn.timeoutSeconds > 0 && fn.timeoutSeconds <= 86_400))
    throw new InvalidStateError(`${who}: "timeoutSeconds" must be in (0, 86400]`);
  const a = fn.asyncConfig ?? {};
  const retries = a.maxAsyncRetryAttempts;
  if (retries !== undefined && !(Number.isInteger(retries) && retries >= 0 && retries <= 8))
    throw new InvalidStateError(`${who}: "asyncConfig.maxAsyncRetryAttempts" must be an integer 0..8`);
  const age = a.maxAsyncEventAgeInSeconds;
  if (age !== undefined && !(age > 0 && age <= 604_800))
    throw new InvalidStateError(`${who}: "asyncConfig.maxAsyncEventAgeInSeconds" must be in (0, 604800]`);
  if (a.onFailure !== undefined && !parseFunctionArn(a.onFailure))
    throw new InvalidStateError(`${who}: "asyncConfig.onFailure" must be acs:fc:<region>:<uid>:functions/<name>`);
  const same = (f: FcFunction) =>
    f.accountId === fn.accountId && f.region === fn.region && f.functionName === fn.functionName;
  const functions = (full.functions ??= []);
  const existing = functions.findIndex(same);
  if (existing >= 0 && !replace) throw new InvalidStateError(`${who} appears twice in ${fn.accountId}/${fn.region}`);
  if (existing >= 0) functions[existing] = fn;
  else functions.push(fn);
  return fn;
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
