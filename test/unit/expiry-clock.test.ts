// share-until on the in-memory fake with its clock injected: shared up to the end, taken back from it on, with the
// boundary exact to the millisecond; the status tag follows.
import { describe, expect, it } from 'vitest';
import { shareResource } from '../../shared/usecases/share-resource';
import { FakeCloud, REGION, fakeContext } from '../helpers/fake-cloud';

const A = '1000000000000002';
const END = Date.UTC(2026, 11, 31, 18, 0, 0);

function world(untilTag: string) {
  const fake = new FakeCloud();
  const key = fake.addKey({ keyId: 'key-hz0000000000000000001' });
  fake.addSnapshot({ id: 's-until000001', kmsKeyId: key.keyId, tags: { 'share-with': A, 'share-until': untilTag } });
  return fake;
}
const ref = { type: 'snapshot' as const, id: 's-until000001', region: REGION };

describe('share-until with an injected clock', () => {
  it('shares one millisecond before the end and takes back at the end', async () => {
    const fake = world('2026-12-31T18:00:00Z');
    fake.nowMs = END - 1;
    const before = await shareResource(fakeContext(fake), ref);
    expect(before.outcome).toBe('shared');
    expect(fake.shares.size).toBe(1);
    expect(fake.snapshots.get(ref.id)!.tags['ecs-share:status']).toMatch(/^shared 1 until 2026-12-31T18:00:00Z \| /);

    fake.nowMs = END;
    const at = await shareResource(fakeContext(fake), ref);
    expect(at.outcome).toBe('revoked');
    expect([...fake.shares.values()].filter((s) => s.status !== 'Deleted')).toEqual([]);
    expect(fake.snapshots.get(ref.id)!.tags['ecs-share:status']).toMatch(/^expired 2026-12-31T18:00:00Z \| /);

    const writes = fake.writes().length;
    const again = await shareResource(fakeContext(fake), ref);
    expect(again.error?.code).toBe('Expired');
    expect(fake.writes().length).toBe(writes);
  });

  it('a date means through that whole day (UTC)', async () => {
    const fake = world('2026-12-31');
    fake.nowMs = Date.UTC(2026, 11, 31, 23, 59, 59);
    expect((await shareResource(fakeContext(fake), ref)).outcome).toBe('shared');
    fake.nowMs = Date.UTC(2027, 0, 1);
    expect((await shareResource(fakeContext(fake), ref)).outcome).toBe('revoked');
  });

  it('an already expired resource is refused and nothing is shared', async () => {
    const fake = world('2026-12-31');
    fake.nowMs = Date.UTC(2027, 5, 1);
    const o = await shareResource(fakeContext(fake), ref);
    expect(o).toMatchObject({ outcome: 'refused', error: { code: 'Expired' } });
    expect(fake.shares.size).toBe(0);
    expect(fake.writes().map((c) => c.method)).toEqual(['ecs.tagResource']); // the status tag only
  });
});
