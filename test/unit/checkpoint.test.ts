// The checkpoint file: a region's two listings save side by side, so two saves may be under way at once (the file
// must end with the later one, whole, and neither save may fail); a version-2 file a deployed timer left behind
// resumes where it says, and a malformed file starts a fresh pass.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FileCheckpointStore, emptyNeeds, firstPages, type Checkpoint } from '../../shared/checkpoint';

const dirs: string[] = [];
const tmpFile = () => {
  dirs.push(fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-checkpoint-')));
  return path.join(dirs[dirs.length - 1], 'checkpoint.json');
};
afterAll(() => dirs.forEach((d) => fs.rmSync(d, { recursive: true, force: true })));
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
    const cp: Checkpoint = { ...base, version: 3, phase: 'listings', listings: firstPages() };

    const first = store.save(cp);
    const second = store.save({ ...cp, processed: 2 });
    await expect(Promise.all([first, second])).resolves.toBeDefined();

    expect(JSON.parse(fs.readFileSync(file, 'utf8')).processed).toBe(2);
    expect(fs.readdirSync(path.dirname(file))).toEqual(['checkpoint.json']);
  });

  it('reads a version-2 file as the listing it was in, and a malformed one as no checkpoint', async () => {
    const file = tmpFile();
    const store = new FileCheckpointStore(file);
    fs.writeFileSync(
      file,
      JSON.stringify({ ...base, version: 2, phase: 'images', pageToken: 'f:m-2', pageDone: ['m-3'] }),
    );
    expect(await store.load()).toEqual({
      ...base,
      version: 3,
      phase: 'listings',
      listings: { snapshots: { done: true }, images: { pageToken: 'f:m-2', pageDone: ['m-3'] } },
    });

    fs.writeFileSync(file, JSON.stringify({ ...base, version: 3, phase: 'listings' }));
    expect(await store.load()).toBeUndefined();
  });
});
