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

export interface Checkpoint {
  version: 2;
  startedAt: string;
  /** Regions of the pass, in order, and the index of the one in progress. */
  regions: string[];
  regionIndex: number;
  /** Phase within the region and the listing position to resume from. */
  phase: 'snapshots' | 'images' | 'continued' | 'revoke' | 'trim';
  pageToken?: string;
  /** What the share roles must keep granting, accumulated over the pass. */
  needs: { snapshot: RoleNeeds; image: RoleNeeds };
  /** How many resources this pass has handled so far, over all its runs. */
  processed: number;
}

export interface CheckpointStore {
  load(): Promise<Checkpoint | undefined>;
  save(cp: Checkpoint): Promise<void>;
  clear(): Promise<void>;
}

export class FileCheckpointStore implements CheckpointStore {
  constructor(private readonly file: string) {}

  async load(): Promise<Checkpoint | undefined> {
    try {
      const cp = JSON.parse(await fs.promises.readFile(this.file, 'utf8')) as Checkpoint;
      return cp.version === 2 ? cp : undefined;
    } catch {
      return undefined; // absent or unreadable: start a fresh pass
    }
  }

  async save(cp: Checkpoint): Promise<void> {
    await fs.promises.mkdir(path.dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    await fs.promises.writeFile(tmp, JSON.stringify(cp));
    await fs.promises.rename(tmp, this.file); // atomic: a crash never leaves half a checkpoint
  }

  async clear(): Promise<void> {
    await fs.promises.rm(this.file, { force: true });
  }
}

export const emptyNeeds = (): RoleNeeds => ({ grants: [], keys: [] });
