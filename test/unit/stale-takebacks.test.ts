// Take-backs decided from a view of the tags older than the share they take from: a concurrent instance that read the
// newer tags made (or added to) the share in between. Found by the simulation (seed 4113): twin resource shares made
// at once by an instance with the old tags and one with the new, the old one keeping its own and deleting the twin
// that alone carried the new target.
import { describe, expect, it } from 'vitest';
import { shareResource } from '../../shared/usecases/share-resource';
import { shareNameFor, type ResourceRef } from '../../shared/share/model';
import { FakeCloud, REGION, fakeContext } from '../helpers/fake-cloud';

const A = '1000000000000002';
const C = '1000000000000004';
const snapshot: ResourceRef = { type: 'snapshot', id: 's-stale00001', region: REGION };

/** Live shares named for the snapshot, with their live targets. */
function liveShares(fake: FakeCloud): Array<{ id: string; targets: string[] }> {
  return [...fake.shares.values()]
    .filter((s) => s.name === shareNameFor(snapshot.id) && s.status !== 'Deleted')
    .map((s) => ({ id: s.id, targets: Object.keys(s.targets).sort() }));
}

describe('take-backs never act on tags older than the share they change', () => {
  it('keeps the target of a twin share made by an instance that read the newer tags', async () => {
    const fake = new FakeCloud();
    fake.addSnapshot({ id: snapshot.id, tags: { 'share-with': A } });
    // Between our observation (tags: A) and our create, the owner retags to C and another instance shares it with C.
    let theirs: Awaited<ReturnType<typeof shareResource>> | undefined;
    fake.on(
      'sharing.createShare',
      async (f) => {
        f.setTags('snapshot', snapshot.id, { 'share-with': C });
        f.nextShareId = 'rs-zzzzzzzz';
        theirs = await shareResource(fakeContext(f, {}, { ports: f.other }), snapshot);
        f.nextShareId = 'rs-aaaaaaaa'; // ours sorts first: we keep ours, the twin is theirs
      },
      { when: 'before' },
    );

    await shareResource(fakeContext(fake), snapshot);

    expect(theirs?.outcome).toBe('shared');
    // Never cut off: C, asked now and reported shared, is still on the one share left; A, no longer asked, is not.
    expect(liveShares(fake)).toEqual([{ id: 'rs-aaaaaaaa', targets: [C] }]);
  });

  it('keeps the target of a twin made by an instance that read the older tags, and takes back what it added', async () => {
    const fake = new FakeCloud();
    fake.addSnapshot({ id: snapshot.id, tags: { 'share-with': C } });
    // We read the newer tags (C); the twin was made from the older ones (A) and sorts first: it is the one kept.
    fake.on(
      'sharing.createShare',
      async (f) => {
        const other = fakeContext(f, {}, { ports: f.other });
        await other.ports.sharing.createShare(
          REGION,
          shareNameFor(snapshot.id),
          { id: snapshot.id, type: 'Snapshot' },
          [A],
          true,
        );
      },
      { when: 'before' },
    );
    fake.nextShareId = 'rs-aaaaaaaa';
    fake.on('sharing.createShare', (f) => void (f.nextShareId = 'rs-zzzzzzzz'), { when: 'before', nth: 1 });

    await shareResource(fakeContext(fake), snapshot);

    expect(liveShares(fake)).toEqual([{ id: 'rs-aaaaaaaa', targets: [C] }]);
  });

  it('re-reads the tags before a take-back planned from a listing that is older than the share', async () => {
    const fake = new FakeCloud();
    fake.addSnapshot({ id: snapshot.id, tags: { 'share-with': `${A},${C}` } });
    const shareId = await fake.other.sharing.createShare(
      REGION,
      shareNameFor(snapshot.id),
      { id: snapshot.id, type: 'Snapshot' },
      [A, C],
      true,
    );
    const snap = fake.snapshots.get(snapshot.id)!;
    // A reconcile page listed the tags before C was added; the share index was read after C was shared.
    const known = {
      exists: true,
      tags: { 'share-with': A },
      snapshots: [{ id: snap.id, region: REGION, encrypted: false, tags: { 'share-with': A }, status: 'accomplished' }],
      status: 'accomplished',
      toolShare: {
        id: shareId,
        allowExternalTargets: true,
        targets: { [A]: { status: 'Associated', external: true }, [C]: { status: 'Associated', external: true } },
      },
    };

    const res = await shareResource(fakeContext(fake), snapshot, { known });

    expect(fake.callsOf('sharing.disassociateTargets')).toEqual([]);
    expect(liveShares(fake)).toEqual([{ id: shareId, targets: [A, C] }]);
    expect(res.outcome).toBe('unchanged');
  });

  it('deletes a twin only once what it carries that is asked is Associated on the kept share', async () => {
    const fake = new FakeCloud();
    fake.addSnapshot({ id: snapshot.id, tags: { 'share-with': C } });
    const make = async (id: string, targets: string[]) => {
      fake.nextShareId = id;
      await fake.other.sharing.createShare(
        REGION,
        shareNameFor(snapshot.id),
        { id: snapshot.id, type: 'Snapshot' },
        targets,
        true,
      );
    };
    await make('rs-aaaaaaaa', [A]);
    await make('rs-zzzzzzzz', [C]);
    fake.targetStatus = () => 'Associating';

    const first = await shareResource(fakeContext(fake), snapshot);

    expect(first.outcome).toBe('pending');
    expect(first.reason).toContain('rs-zzzzzzzz');
    expect(liveShares(fake)).toEqual([
      { id: 'rs-aaaaaaaa', targets: [C] },
      { id: 'rs-zzzzzzzz', targets: [C] },
    ]);

    fake.shares.get('rs-aaaaaaaa')!.targets[C].status = 'Associated';
    const second = await shareResource(fakeContext(fake), snapshot);

    expect(second.outcome).toBe('shared');
    expect(liveShares(fake)).toEqual([{ id: 'rs-aaaaaaaa', targets: [C] }]);
  });

  it('puts back a target the owner asked for again while the take-back was written', async () => {
    const fake = new FakeCloud();
    fake.addSnapshot({ id: snapshot.id, tags: { 'share-with': A } });
    await fake.other.sharing.createShare(
      REGION,
      shareNameFor(snapshot.id),
      { id: snapshot.id, type: 'Snapshot' },
      [A, C],
      true,
    );
    // After our fresh look at the tags (A), the owner asks for C again; an instance that sees C still there does nothing.
    let theirs: Awaited<ReturnType<typeof shareResource>> | undefined;
    fake.on(
      'sharing.disassociateTargets',
      async (f) => {
        f.setTags('snapshot', snapshot.id, { 'share-with': `${A},${C}` });
        theirs = await shareResource(fakeContext(f, {}, { ports: f.other }), snapshot);
      },
      { when: 'before' },
    );

    await shareResource(fakeContext(fake), snapshot);

    expect(theirs?.outcome).toBe('unchanged');
    expect(liveShares(fake)).toEqual([{ id: 'rs-fake000001', targets: [A, C] }]);
  });
});
