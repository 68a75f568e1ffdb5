// Everything a use case needs: configuration, the adapters, the owner account, a logger, and per-run caches.
import { CloudApi, type ApiOptions, type Credentials } from '../cloud/api';
import { EcsAdapter } from '../cloud/ecs';
import { RamAdapter } from '../cloud/ram';
import { KmsAdapter, type KeyInfo } from '../cloud/kms';
import { SharingAdapter } from '../cloud/sharing';
import { StsAdapter } from '../cloud/sts';
import { DirectoryAdapter } from '../cloud/directory';
import { EcsCopyAdapter, type CopyPort } from '../cloud/ecs-copy';
import type { Config } from '../config';
import { isAccountUid } from '../domain/ids';
import type { Logger } from '../log';
import type { ApiPort, DirectoryPort, EcsPort, KmsPort, Membership, RamPort, SharingPort, StsPort } from './ports';

export interface Ports {
  ecs: EcsPort;
  ram: RamPort;
  kms: KmsPort;
  sharing: SharingPort;
  sts: StsPort;
  directory: DirectoryPort;
}

export interface EngineContext {
  cfg: Config;
  ports: Ports;
  api: ApiPort;
  ownerUid: string;
  log: Logger;
  sleep(ms: number): Promise<void>;
  random(): number;
  /** Wall-clock milliseconds (dated intents in the image grant record). */
  now(): number;
  /** Key lookups are the same for every resource in a run. */
  keyCache: Map<string, Promise<KeyInfo | undefined>>;
  /** Read-merge-writes of one document (a role's trust, its KMS policies) queue here within an invocation. */
  locks: Map<string, Promise<unknown>>;
  /** Resource directory membership of target accounts, asked once per account per invocation. */
  memberCache: Map<string, Promise<Membership>>;
  /** Service-key copies (SHARE_SERVICE_KEY_COPY); absent (the in-memory fake): the feature is off. */
  copies?: CopyPort;
}

/** Run `fn` after every earlier holder of `key` in this invocation: concurrent resources never race each other. */
export function withLock<T>(ctx: EngineContext, key: string, fn: () => Promise<T>): Promise<T> {
  const before = ctx.locks.get(key) ?? Promise.resolve();
  const run = before.then(fn, fn);
  const tail = run.catch(() => undefined);
  ctx.locks.set(key, tail);
  void tail.then(() => {
    if (ctx.locks.get(key) === tail) ctx.locks.delete(key);
  });
  return run;
}

export function createPorts(api: CloudApi): Ports {
  return {
    ecs: new EcsAdapter(api),
    ram: new RamAdapter(api),
    kms: new KmsAdapter(api),
    sharing: new SharingAdapter(api),
    sts: new StsAdapter(api),
    directory: new DirectoryAdapter(api),
  };
}

export interface ContextOptions {
  cfg: Config;
  log: Logger;
  credentials?: Credentials;
  /** The owner account, when the platform already knows it (FC context.accountId); else STS GetCallerIdentity. */
  accountId?: string;
  remainingMs?: () => number;
  api?: Partial<ApiOptions>;
}

export async function createContext(opts: ContextOptions): Promise<EngineContext> {
  const api = new CloudApi({
    endpointOverride: opts.cfg.endpointOverride,
    credentials: opts.credentials,
    remainingMs: opts.remainingMs,
    ...opts.api,
  });
  const ports = createPorts(api);
  const ownerUid =
    opts.accountId && isAccountUid(opts.accountId) ? opts.accountId : await ports.sts.accountId(opts.cfg.regions[0]);
  return {
    cfg: opts.cfg,
    ports,
    api,
    ownerUid,
    log: opts.log,
    sleep: (ms) => new Promise((r) => setTimeout(r, ms)),
    random: Math.random,
    now: Date.now,
    keyCache: new Map(),
    locks: new Map(),
    memberCache: new Map(),
    copies: new EcsCopyAdapter(api),
  };
}

export function describeKeyCached(ctx: EngineContext, region: string, keyId: string): Promise<KeyInfo | undefined> {
  const k = `${region}/${keyId}`;
  let p = ctx.keyCache.get(k);
  if (!p) {
    const mine = (p = ctx.ports.kms.describeKey(region, keyId));
    ctx.keyCache.set(k, mine);
    // A failed lookup (throttling, a timeout) is asked again by the next resource rather than remembered.
    mine.catch(() => ctx.keyCache.get(k) === mine && ctx.keyCache.delete(k));
  }
  return p;
}

export function membershipCached(ctx: EngineContext, uid: string): Promise<Membership> {
  let p = ctx.memberCache.get(uid);
  if (!p) {
    p = ctx.ports.directory.membership(uid);
    // A failed lookup (throttling, a timeout) is asked again by the next resource rather than remembered.
    p.catch(() => ctx.memberCache.delete(uid));
    ctx.memberCache.set(uid, p);
  }
  return p;
}

/**
 * Which documents this invocation wrote, and when (a counter, not a clock): a read-merge-write may start from an
 * observation only when nothing of this invocation wrote that document since the observation was read. (Other
 * instances' writes are what the read-back after each write is for.)
 */
const writeLogs = new WeakMap<EngineContext, { seq: number; last: Map<string, number> }>();
const observedAt = new WeakMap<object, ReadPoint>();

/**
 * How old an observation may be and still seed a write: a third of the settle pause. Other instances write the same
 * role documents and RAM has no conditional write: a document merged into an old read puts back what another writer
 * changed since. That writer's read-back comes a settle pause after its write and may lag by up to the read lag, so
 * it sees our overwrite only if our write follows our read by at most settle − 2 × lag; with the settle at three
 * times the lag (300 ms over the emulator's 100 ms), a third of the settle. Older than this, the write re-reads first.
 * (With 1 s, simulation seeds 288 and 535 had a take-back drop a folder grant written just before, unseen.)
 */
const observationFreshMs = (ctx: EngineContext) => Math.floor(ctx.cfg.settleMs / 3);

export interface ReadPoint {
  seq: number;
  atMs: number;
}

function writeLog(ctx: EngineContext): { seq: number; last: Map<string, number> } {
  let log = writeLogs.get(ctx);
  if (!log) writeLogs.set(ctx, (log = { seq: 0, last: new Map() }));
  return log;
}

/** The point in this invocation's writes a read starting now sees: pass it to markObserved with what the read returned. */
export function readPoint(ctx: EngineContext): ReadPoint {
  return { seq: writeLog(ctx).seq, atMs: ctx.now() };
}

export function markObserved<T extends object>(observation: T, point: ReadPoint): T {
  observedAt.set(observation, point);
  return observation;
}

export function markWritten(ctx: EngineContext, doc: string): void {
  const log = writeLog(ctx);
  log.last.set(doc, ++log.seq);
}

/**
 * Whether an observation (marked when its read started) may seed a write of `doc`: read at most a third of the
 * settle pause ago, and nothing of this invocation wrote `doc` since.
 */
export function observedSinceWrite(ctx: EngineContext, observation: object, doc: string): boolean {
  const at = observedAt.get(observation);
  return (
    at !== undefined && ctx.now() - at.atMs <= observationFreshMs(ctx) && (writeLog(ctx).last.get(doc) ?? 0) <= at.seq
  );
}
