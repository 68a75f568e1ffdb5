// The checkpoint file: two saves may be under way at once (a region's listings, run side by side, each save their
// cursor); the file must end with the later one, whole, and neither save may fail.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { FileCheckpointStore, emptyNeeds, type Checkpoint } from '../../shared/checkpoint';

const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-checkpoint-')), 'checkpoint.json');
const base = {
  startedAt: new Date().toISOString(),
  regions: ['cn-hangzhou'],
  regionIndex: 0,
  needs: { snapshot: emptyNeeds(), image: emptyNeeds() },
  processed: 1,
};

describe('FileCheckpointStore', () => {
  it('keeps the later of two saves under way at once, whole, and fails neither', async () => {
    const file = tmpFile();
    const store = new FileCheckpointStore(file);
    const cp: Checkpoint = { ...base, version: 2, phase: 'snapshots' };

    const first = store.save(cp);
    const second = store.save({ ...cp, processed: 2 });
    await expect(Promise.all([first, second])).resolves.toBeDefined();

    expect(JSON.parse(fs.readFileSync(file, 'utf8')).processed).toBe(2);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['checkpoint.json']);
  });
});
