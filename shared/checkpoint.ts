// Where a reconcile run cut short by the function timeout records how far it got, so the next run resumes there.
// Function Compute keeps no state between invocations; point SHARE_CHECKPOINT_FILE at a mounted NAS or OSS path
// (s.yaml nasConfig / ossMountConfig) to make resuming survive instance recycling. Default: /tmp (best effort).
import fs from 'node:fs';
import path from 'node:path';
import type { TrustGrant } from './domain/trust-policy';
import type { KeyRef } from './domain/kms-policy';

/** What the resources a pass shared need from a role; the trim checks anything else afresh before removing it. */
export interface RoleNeeds {
  grants: TrustGrant[];
  keys: KeyRef[];
}

/** The two listings of a region, run side by side: the tagged snapshots and the tagged images. */
export type Listing = 'snapshots' | 'images';

/** Where one listing stands within the region in progress. */
export interface ListingCursor {
  /** The page to list next (absent: the first). */
  pageToken?: string;
  /** Resources of that page already handled (a run that stopped mid-page): the next run skips them. */
  pageDone?: string[];
  /** Its last page is handled. */
  done?: true;
}

export interface Checkpoint {
  /** 3: one cursor per listing (version 2 had one cursor, the listings in turn; it is still read, see parseCheckpoint). */
  version: 3;
  startedAt: string;
  /** Regions of the pass, in order, and the index of the one in progress. */
  regions: string[];
  regionIndex: number;
  /** Phase within the region: both listings, then continuation-only tags, take-backs; after the last region, the trim. */
  phase: 'listings' | 'continued' | 'revoke' | 'trim';
  listings: Record<Listing, ListingCursor>;
  /** What the share roles must keep granting, accumulated over the pass. */
  needs: { snapshot: RoleNeeds; image: RoleNeeds };
  /** How many resources this pass has handled so far, over all its runs. */
  processed: number;
}

/** Both listings of a region from their first page. */
export const firstPages = (): Record<Listing, ListingCursor> => ({ snapshots: {}, images: {} });

export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(cp: Checkpoint): Promise<void>;
  clear(): Promise<void>;
}

export class FileCheckpointStore implements CheckpointStore {
  /** The save under way: two writes of one tmp file at once would mix, and the second rename would find no file. */
  private writing: Promise<void> = Promise.resolve();

  constructor(private readonly file: string) {}

  async load(): Promise<Checkpoint | undefined> {
    try {
      // Checked like a payload (a NAS file is shared), and a version-2 file a deployed timer left behind is read.
      return parseCheckpoint(JSON.parse(await fs.promises.readFile(this.file, 'utf8')));
    } catch {
      return undefined; // absent, unreadable or malformed: start a fresh pass
    }
  }

  /** One write at a time, each of the checkpoint as it is when its turn comes: the last save wins. */
  save(cp: Checkpoint): Promise<void> {
    const write = async () => {
      await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
      const tmp = `${this.file}.${process.pid}.tmp`;
      await fs.promises.writeFile(tmp, JSON.stringify(cp));
      await fs.promises.rename(tmp, this.file); // atomic: a crash never leaves half a checkpoint
    };
    // A failed save fails its caller only; the next one tries afresh.
    this.writing = this.writing.then(write, write);
    return this.writing;
  }

  async clear(): Promise<void> {
    await this.writing.catch(() => undefined); // a save still under way would bring the file back
    await fs.promises.rm(this.file, { force: true });
  }
}

export const emptyNeeds = (): RoleNeeds => ({ grants: [], keys: [] });

/**
 * A checkpoint carried in a payload (organisation mode: a worker continuing itself). `load` returns what it was
 * given; `save` keeps the latest for the caller to pass on; `clear` marks the pass done.
 */
export class PayloadCheckpointStore implements CheckpointStore {
  saved?: Checkpoint;
  cleared = false;

  constructor(private readonly initial?: Checkpoint) {}

  async load(): Promise<Checkpoint | undefined> {
    return this.initial;
  }

  async save(cp: Checkpoint): Promise<void> {
    this.saved = structuredClone(cp);
  }

  async clear(): Promise<void> {
    this.cleared = true;
    this.saved = undefined;
  }
}

const UID = /^\d{16}$/;
const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function parseGrant(g: unknown): TrustGrant {
  if (isObj(g)) {
    if (g.kind === 'account' && typeof g.uid === 'string' && UID.test(g.uid)) return { kind: 'account', uid: g.uid };
    if (g.kind === 'rd' && typeof g.rdId === 'string' && /^rd-[A-Za-z0-9]{1,64}$/.test(g.rdId))
      return { kind: 'rd', rdId: g.rdId };
    if (g.kind === 'folder' && typeof g.pattern === 'string' && /^[A-Za-z0-9/*-]{1,512}$/.test(g.pattern))
      return { kind: 'folder', pattern: g.pattern };
  }
  throw new Error(`a grant is malformed: ${JSON.stringify(g)?.slice(0, 120)}`);
}

function parseKey(k: unknown): KeyRef {
  if (
    isObj(k) &&
    typeof k.region === 'string' &&
    /^[a-z]{2,}-[a-z0-9-]{1,40}$/.test(k.region) &&
    typeof k.keyId === 'string' &&
    /^[A-Za-z0-9-]{1,128}$/.test(k.keyId) &&
    typeof k.accountId === 'string' &&
    UID.test(k.accountId)
  )
    return { region: k.region, accountId: k.accountId, keyId: k.keyId };
  throw new Error(`a key is malformed: ${JSON.stringify(k)?.slice(0, 120)}`);
}

function parseNeeds(v: unknown, what: string): RoleNeeds {
  if (!isObj(v) || !Array.isArray(v.grants) || !Array.isArray(v.keys))
    throw new Error(`${what} must hold grants and keys`);
  return { grants: v.grants.map(parseGrant), keys: v.keys.map(parseKey) };
}

function parseCursor(v: unknown, what: string): ListingCursor {
  if (!isObj(v)) throw new Error(`${what} must be an object`);
  const extra = Object.keys(v).filter((k) => !['pageToken', 'pageDone', 'done'].includes(k));
  if (extra.length) throw new Error(`${what} has unknown field(s) ${extra.join(', ')}`);
  if (v.done !== undefined && v.done !== true) throw new Error(`${what}.done must be true when present`);
  if (v.done && (v.pageToken !== undefined || v.pageDone !== undefined))
    throw new Error(`${what} is done: it has no page`);
  return { ...parsePage(v, `${what}.`), ...(v.done ? { done: true as const } : {}) };
}

/** A listing position: the page token and the resources of that page already handled (`within`: whose, for messages). */
function parsePage(v: Record<string, unknown>, within = ''): Omit<ListingCursor, 'done'> {
  if (v.pageToken !== undefined && (typeof v.pageToken !== 'string' || v.pageToken.length > 4096))
    throw new Error(`${within}pageToken must be a string`);
  const done = v.pageDone;
  if (
    done !== undefined &&
    (!Array.isArray(done) ||
      done.length > 10_000 ||
      !done.every((id) => typeof id === 'string' && /^[a-z]{1,3}-[A-Za-z0-9]{1,64}$/.test(id)))
  )
    throw new Error(`${within}pageDone must be a list of resource ids`);
  return {
    ...(v.pageToken !== undefined ? { pageToken: v.pageToken as string } : {}),
    ...(done !== undefined ? { pageDone: done as string[] } : {}),
  };
}

const PHASES = new Set<Checkpoint['phase']>(['listings', 'continued', 'revoke', 'trim']);
/** Version 2's phases: the listings in turn, one cursor (pageToken, pageDone) for the one in progress. */
const PHASES_V2 = new Set(['snapshots', 'images', 'continued', 'revoke', 'trim']);

/**
 * Version 2 read as the version 3 it means (a deployed timer's file, a worker continuation in flight): in phase
 * 'snapshots' its cursor is the snapshot listing's and the images are not listed yet; in 'images' the snapshots are
 * done and the cursor is the image listing's; later phases have both done and no cursor.
 */
function listingsOfV2(raw: Record<string, unknown>): Pick<Checkpoint, 'phase' | 'listings'> {
  if (typeof raw.phase !== 'string' || !PHASES_V2.has(raw.phase))
    throw new Error(`phase must be one of ${[...PHASES_V2].join(', ')}`);
  const page = parsePage(raw);
  if (raw.phase === 'snapshots') return { phase: 'listings', listings: { snapshots: page, images: {} } };
  if (raw.phase === 'images') return { phase: 'listings', listings: { snapshots: { done: true }, images: page } };
  if (Object.keys(page).length) throw new Error('pageToken and pageDone belong to a listing phase');
  return { phase: raw.phase as Checkpoint['phase'], listings: { snapshots: { done: true }, images: { done: true } } };
}

function listingsOfV3(raw: Record<string, unknown>): Pick<Checkpoint, 'phase' | 'listings'> {
  if (typeof raw.phase !== 'string' || !PHASES.has(raw.phase as Checkpoint['phase']))
    throw new Error(`phase must be one of ${[...PHASES].join(', ')}`);
  if (raw.pageToken !== undefined || raw.pageDone !== undefined)
    throw new Error('pageToken and pageDone belong to a listing (version 2)');
  if (!isObj(raw.listings)) throw new Error('listings must be an object');
  const extra = Object.keys(raw.listings).filter((k) => k !== 'snapshots' && k !== 'images');
  if (extra.length) throw new Error(`listings has unknown field(s) ${extra.join(', ')}`);
  return {
    phase: raw.phase as Checkpoint['phase'],
    listings: {
      snapshots: parseCursor(raw.listings.snapshots, 'listings.snapshots'),
      images: parseCursor(raw.listings.images, 'listings.images'),
    },
  };
}

/** A checkpoint read from untrusted input, checked field by field; throws a readable reason. Reads version 2 too. */
export function parseCheckpoint(raw: unknown): Checkpoint {
  if (!isObj(raw)) throw new Error('the checkpoint must be an object');
  if (raw.version !== 2 && raw.version !== 3) throw new Error('the checkpoint version must be 2 or 3');
  if (typeof raw.startedAt !== 'string' || !Number.isFinite(Date.parse(raw.startedAt)))
    throw new Error('startedAt must be a date');
  const regions = raw.regions;
  if (!Array.isArray(regions) || regions.length === 0 || !regions.every((r) => typeof r === 'string'))
    throw new Error('regions must be a list of region ids');
  const index = raw.regionIndex;
  if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index > regions.length)
    throw new Error('regionIndex is out of range');
  const { phase, listings } = raw.version === 2 ? listingsOfV2(raw) : listingsOfV3(raw);
  if (typeof raw.processed !== 'number' || !Number.isInteger(raw.processed) || raw.processed < 0)
    throw new Error('processed must be a count');
  if (!isObj(raw.needs)) throw new Error('needs must be an object');
  return {
    version: 3,
    startedAt: raw.startedAt,
    regions: regions as string[],
    regionIndex: index,
    phase,
    listings,
    needs: {
      snapshot: parseNeeds(raw.needs.snapshot, 'needs.snapshot'),
      image: parseNeeds(raw.needs.image, 'needs.image'),
    },
    processed: raw.processed,
  };
}
