// Use cases on the in-memory fake of the ports (test/helpers/fake-cloud.ts): the trim's safety rules as a table, and
// shareResource under races, lost answers, lag and a crash, each interleaving made deterministic by a hook.
import { describe, expect, it } from 'vitest';
import { trimRoles, type TrimHold } from '../../shared/usecases/trim-roles';
import { shareResource } from '../../shared/usecases/share-resource';
import { MAX_MERGE_ATTEMPTS } from '../../shared/share/apply';
import { ROLE_DESCRIPTION, trustWrite } from '../../shared/share/plan';
import { ROLE_NAMES, type ResourceRef } from '../../shared/share/model';
import { emptyNeeds, type RoleNeeds } from '../../shared/checkpoint';
import {
  buildKmsPolicies,
  keysInPolicy,
  policyIndexFromName,
  policyNameFor,
  type KeyRef,
} from '../../shared/domain/kms-policy';
import { readTrustLedger, type TrustGrant } from '../../shared/domain/trust-policy';
import { PENDING_TTL_S, readImageGrants } from '../../shared/domain/image-grants';
import { asArray, parsePolicy, type Statement } from '../../shared/domain/policy-json';
import type { ResourceType } from '../../shared/domain/ids';
import { FAULTS, FakeCloud, FakeCrash, OWNER_UID, REGION, fakeContext, type FakeCall } from '../helpers/fake-cloud';

const A = '1000000000000002';
const B = '1000000000000003';
const C = '1000000000000004';
const SHANGHAI = 'cn-shanghai';
const LEDGER_KEY = 'ecs-share:granted';
const SNAP_ROLE = ROLE_NAMES.snapshot;
const KEY_HZ: KeyRef = { region: REGION, accountId: OWNER_UID, keyId: 'key-hz000001' };
const KEY_SH: KeyRef = { region: SHANGHAI, accountId: OWNER_UID, keyId: 'key-sh000001' };
const KEY_OFF: KeyRef = { region: REGION, accountId: OWNER_UID, keyId: 'key-off00001' };
const account = (uid: string): TrustGrant => ({ kind: 'account', uid });
const keyName = (k: KeyRef) => `${k.region}/${k.keyId}`;

/** A share role as ecs-share leaves it: `accounts` granted and recorded, hand-written `foreign` statements, KMS keys. */
function seedRole(
  fake: FakeCloud,
  type: ResourceType,
  opts: { accounts?: string[]; regions?: string[]; foreign?: Statement[]; keys?: KeyRef[] },
): void {
  const roleName = ROLE_NAMES[type];
  const base = { Version: '1', Statement: [] as Statement[] };
  const next = trustWrite(
    { roleName, exists: true, trustPolicy: JSON.stringify(base), description: ROLE_DESCRIPTION },
    { add: (opts.accounts ?? []).map(account), remove: [], regions: opts.regions ?? [REGION] },
    { ownerUid: OWNER_UID, maxLength: 4096 },
  );
  const doc = next ? parsePolicy(next.trustPolicy) : base;
  doc.Statement.push(...(opts.foreign ?? []));
  fake.putRole(roleName, JSON.stringify(doc), next?.description ?? ROLE_DESCRIPTION);
  for (const [i, policy] of (opts.keys?.length ? buildKmsPolicies(opts.keys) : []).entries()) {
    fake.putPolicy(policyNameFor(type, i), JSON.stringify(policy));
    fake.attach(roleName, policyNameFor(type, i));
  }
}

/** Accounts the role's trust policy admits (any statement), the owner's placeholder left out. */
function trusted(fake: FakeCloud, roleName: string): string[] {
  const doc = parsePolicy(fake.roles.get(roleName)?.trustPolicy ?? '{"Version":"1","Statement":[]}');
  const uids = doc.Statement.flatMap((s) =>
    asArray((s.Principal as { Service?: string | string[] } | undefined)?.Service),
  ).map((svc) => /^(\d{16})@ecs\.aliyuncs\.com$/.exec(svc)?.[1]);
  return [...new Set(uids.filter((u): u is string => Boolean(u) && u !== OWNER_UID))].sort();
}

const ledgerOf = (fake: FakeCloud, roleName: string) => readTrustLedger(fake.roles.get(roleName)?.description).accounts;

/** Keys ecs-share's KMS policies of a type grant, as region/id. */
function grantedKeyNames(fake: FakeCloud, type: ResourceType): string[] {
  return [...fake.policies.keys()]
    .filter((name) => policyIndexFromName(type, name) !== undefined)
    .flatMap((name) => keysInPolicy(parsePolicy(fake.policyDocument(name)!)).map(keyName))
    .sort();
}

const needs = (snapshot: Partial<RoleNeeds> = {}): Record<ResourceType, RoleNeeds> => ({
  snapshot: { ...emptyNeeds(), ...snapshot },
  image: emptyNeeds(),
});
const indexOf = (calls: FakeCall[], pred: (c: FakeCall) => boolean) => calls.findIndex(pred);

describe('trimRoles: the safety rules', () => {
  // Hand-written (its Sid makes it a shape ecs-share never writes), naming a grant that is in the ownership record.
  const foreign = {
    Sid: 'HandWritten',
    Effect: 'Allow',
    Action: 'sts:AssumeRole',
    Principal: { Service: [`${A}@ecs.aliyuncs.com`, `${C}@ecs.aliyuncs.com`] },
  } as Statement;

  interface Row {
    rule: string;
    arrange: (fake: FakeCloud) => void;
    pass?: { regions?: string[]; needs?: Partial<RoleNeeds>; outcomes?: Record<string, string> };
    /** After the trim: accounts the snapshot role trusts, accounts its ownership record holds, keys it grants. */
    trusted: string[];
    ledger: string[];
    keys: string[];
    held: Array<Pick<TrimHold, 'grant' | 'heldBy' | 'reason'>>;
    errors?: string[];
    /** Regions listed by tag (ListTagResources) — [] means no listing call, indeed nothing but the role's reads. */
    listed?: string[];
  }

  const rows: Row[] = [
    {
      rule: 'only grants in the ownership record are candidates: an account granted by hand stays',
      arrange: (fake) =>
        seedRole(fake, 'snapshot', {
          accounts: [A],
          foreign: [{ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: [`${B}@ecs.aliyuncs.com`] } }],
        }),
      trusted: [B],
      ledger: [],
      keys: [],
      held: [],
    },
    {
      rule: 'a foreign statement is never touched, even when it names a grant being taken back',
      arrange: (fake) => seedRole(fake, 'snapshot', { accounts: [A], foreign: [foreign] }),
      trusted: [A, C],
      ledger: [],
      keys: [],
      held: [],
    },
    {
      rule: 'a grant and a key asked for by a still-tagged resource are held and reported',
      arrange: (fake) => {
        seedRole(fake, 'snapshot', { accounts: [A], keys: [KEY_HZ] });
        fake.addKey({ keyId: KEY_HZ.keyId });
        fake.addSnapshot({ id: 's-tagged0001', kmsKeyId: KEY_HZ.keyId, tags: { 'share-with': A } });
      },
      trusted: [A],
      ledger: [A],
      keys: [keyName(KEY_HZ)],
      held: [
        { grant: `account:${A}`, heldBy: ['s-tagged0001'], reason: 'still tagged' },
        { grant: `key:${keyName(KEY_HZ)}`, heldBy: ['s-tagged0001'], reason: 'still tagged' },
      ],
    },
    {
      rule: 'a grant asked for by a resource whose tag is refused as a whole is held, with the refusal as reason',
      arrange: (fake) => {
        seedRole(fake, 'snapshot', { accounts: [A] });
        fake.addSnapshot({ id: 's-refused001', tags: { 'share-with': `${A},${OWNER_UID}` } });
      },
      pass: { outcomes: { 's-refused001': 'refused Self' } },
      trusted: [A],
      ledger: [A],
      keys: [],
      held: [{ grant: `account:${A}`, heldBy: ['s-refused001'], reason: 'refused Self' }],
    },
    {
      rule: 'a grant and the key of a resource whose key is disabled are held, with the refusal as reason',
      arrange: (fake) => {
        seedRole(fake, 'snapshot', { accounts: [A], keys: [KEY_OFF] });
        fake.addKey({ keyId: KEY_OFF.keyId, state: 'Disabled' });
        fake.addSnapshot({ id: 's-keyoff0001', kmsKeyId: KEY_OFF.keyId, tags: { 'share-with': A } });
      },
      pass: { outcomes: { 's-keyoff0001': 'refused KeyNotEnabled' } },
      trusted: [A],
      ledger: [A],
      keys: [keyName(KEY_OFF)],
      held: [
        { grant: `account:${A}`, heldBy: ['s-keyoff0001'], reason: 'refused KeyNotEnabled' },
        { grant: `key:${keyName(KEY_OFF)}`, heldBy: ['s-keyoff0001'], reason: 'refused KeyNotEnabled' },
      ],
    },
    {
      rule: 'keys of regions outside the pass are never candidates',
      arrange: (fake) => seedRole(fake, 'snapshot', { keys: [KEY_HZ, KEY_SH] }),
      trusted: [],
      ledger: [],
      keys: [keyName(KEY_SH)],
      held: [],
    },
    {
      rule: 'a grant asked for only in another region of the ownership record is held',
      arrange: (fake) => {
        seedRole(fake, 'snapshot', { accounts: [A], regions: [REGION, SHANGHAI] });
        fake.addSnapshot({ id: 's-shanghai01', region: SHANGHAI, tags: { 'share-with': A } });
      },
      trusted: [A],
      ledger: [A],
      keys: [],
      held: [{ grant: `account:${A}`, heldBy: ['s-shanghai01'], reason: 'still tagged' }],
      listed: [REGION, SHANGHAI],
    },
    {
      rule: 'nothing to trim makes no listing call at all',
      arrange: (fake) => seedRole(fake, 'snapshot', { accounts: [A], keys: [KEY_HZ] }),
      pass: { needs: { grants: [account(A)], keys: [KEY_HZ] } },
      trusted: [A],
      ledger: [A],
      keys: [keyName(KEY_HZ)],
      held: [],
      listed: [],
    },
    {
      rule: "a grant asked for again between the trim's write and its second listing is put back",
      arrange: (fake) => {
        seedRole(fake, 'snapshot', { accounts: [A] });
        fake.on('ram.updateRole', (f) => void f.addSnapshot({ id: 's-latecomer1', tags: { 'share-with': A } }));
      },
      trusted: [A],
      ledger: [A],
      keys: [],
      held: [],
    },
    {
      rule: 'a failure while listing leaves the role untouched and is reported as an error',
      arrange: (fake) => {
        seedRole(fake, 'snapshot', { accounts: [A] });
        fake.fail('ecs.taggedResources', FAULTS.unavailable(), { times: 10 });
      },
      trusted: [A],
      ledger: [A],
      keys: [],
      held: [],
      errors: ['ServiceUnavailable'],
    },
  ];

  it.each(rows)('$rule', async (row) => {
    const fake = new FakeCloud();
    row.arrange(fake);
    const before = fake.roles.get(SNAP_ROLE);
    const ctx = fakeContext(fake);

    const result = await trimRoles(ctx, {
      regions: row.pass?.regions ?? [REGION],
      needs: needs(row.pass?.needs),
      dryRun: false,
      outcomes: new Map(Object.entries(row.pass?.outcomes ?? {})),
    });

    expect(trusted(fake, SNAP_ROLE)).toEqual(row.trusted);
    expect(ledgerOf(fake, SNAP_ROLE)).toEqual(row.ledger);
    expect(grantedKeyNames(fake, 'snapshot')).toEqual(row.keys);
    expect(result.held.map(({ grant, heldBy, reason }) => ({ grant, heldBy, reason }))).toEqual(row.held);
    expect(result.errors.map((e) => e.code)).toEqual(row.errors ?? []);
    if (row.errors?.length) {
      expect(result.errors[0].roleName).toBe(SNAP_ROLE);
      expect(fake.roles.get(SNAP_ROLE)).toEqual(before);
      expect(fake.writes()).toEqual([]);
    }
    if (row.listed)
      expect([...new Set(fake.callsOf('ecs.taggedResources').map((c) => c.args[0]))].sort()).toEqual(row.listed);
    if (row.listed?.length === 0) {
      expect(fake.calls.filter((c) => !c.method.startsWith('ram.'))).toEqual([]);
      expect(fake.writes()).toEqual([]);
    }
  });

  // An ownership record written before the records carried regions (no "rg": every role of a deployment made before
  // the region-scoped trim) cannot say which regions asked: the trim then lists every region DescribeRegions gives.
  it('holds a grant asked for in another region even when the ownership record predates regions', async () => {
    const fake = new FakeCloud();
    fake.putRole(
      SNAP_ROLE,
      JSON.stringify({
        Version: '1',
        Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: [`${A}@ecs.aliyuncs.com`] } }],
      }),
      `${ROLE_DESCRIPTION}\n[ecs-share] {"a":["${A}"]}`,
    );
    fake.addSnapshot({ id: 's-shanghai01', region: SHANGHAI, tags: { 'share-with': A } });

    const result = await trimRoles(fakeContext(fake), {
      regions: [REGION],
      needs: needs(),
      dryRun: false,
      outcomes: new Map(),
    });

    expect(trusted(fake, SNAP_ROLE)).toEqual([A]);
    expect(result.held.map((h) => h.heldBy)).toEqual([['s-shanghai01']]);
  });

  it('keeps a foreign statement byte for byte', async () => {
    const fake = new FakeCloud();
    seedRole(fake, 'snapshot', { accounts: [A], foreign: [foreign] });

    await trimRoles(fakeContext(fake), { regions: [REGION], needs: needs(), dryRun: false, outcomes: new Map() });

    expect(parsePolicy(fake.roles.get(SNAP_ROLE)!.trustPolicy).Statement).toContainEqual(foreign);
  });

  it('puts back the grant asked for while it ran with a second write', async () => {
    const fake = new FakeCloud();
    seedRole(fake, 'snapshot', { accounts: [A] });
    fake.on('ram.updateRole', (f) => void f.addSnapshot({ id: 's-latecomer1', tags: { 'share-with': A } }));

    const result = await trimRoles(fakeContext(fake), {
      regions: [REGION],
      needs: needs(),
      dryRun: false,
      outcomes: new Map(),
    });

    expect(result.actions).toEqual([
      { kind: 'mergeTrust', roleName: SNAP_ROLE, add: [], remove: [account(A)] },
      { kind: 'mergeTrust', roleName: SNAP_ROLE, add: [account(A)], remove: [] },
    ]);
    expect(fake.callsOf('ram.updateRole')).toHaveLength(2);
  });

  it('in a dry run lists and plans the same, and writes nothing', async () => {
    const fake = new FakeCloud();
    seedRole(fake, 'snapshot', { accounts: [A, B] });
    fake.addSnapshot({ id: 's-tagged0001', tags: { 'share-with': B } });

    const result = await trimRoles(fakeContext(fake), {
      regions: [REGION],
      needs: needs(),
      dryRun: true,
      outcomes: new Map(),
    });

    expect(result.actions).toEqual([
      { kind: 'mergeTrust', roleName: SNAP_ROLE, add: [account(B)], remove: [account(A)] },
    ]);
    expect(fake.writes()).toEqual([]);
    expect(trusted(fake, SNAP_ROLE)).toEqual([A, B]);
  });
});

describe('shareResource: races, lost answers, lag and crashes', () => {
  const snapshot: ResourceRef = { type: 'snapshot', id: 's-shared0001', region: REGION };
  const image: ResourceRef = { type: 'image', id: 'm-shared0001', region: REGION };

  /** A CMK snapshot tagged for A; its role already trusts B and grants the key, so the trust write is the only role change. */
  function snapshotWorld(): FakeCloud {
    const fake = new FakeCloud();
    fake.addKey({ keyId: KEY_HZ.keyId });
    fake.addSnapshot({ id: snapshot.id, kmsKeyId: KEY_HZ.keyId, tags: { 'share-with': A } });
    seedRole(fake, 'snapshot', { accounts: [B], keys: [KEY_HZ] });
    return fake;
  }

  /** A CMK image tagged for A; its role already trusts B and grants the key. */
  function imageWorld(): FakeCloud {
    const fake = new FakeCloud();
    fake.addKey({ keyId: KEY_HZ.keyId });
    fake.addSnapshot({ id: 's-imagedisk1', kmsKeyId: KEY_HZ.keyId });
    fake.addImage({ id: image.id, snapshotIds: ['s-imagedisk1'], tags: { 'share-with': A } });
    seedRole(fake, 'image', { accounts: [B], keys: [KEY_HZ] });
    return fake;
  }

  /** Another ecs-share instance adding `uid` to the role, merged into the role as it read it. */
  async function otherInstanceGrants(
    fake: FakeCloud,
    uid: string,
    read?: Awaited<ReturnType<FakeCloud['other']['ram']['getRole']>>,
  ): Promise<void> {
    const role = read ?? (await fake.other.ram.getRole(SNAP_ROLE));
    const next = trustWrite(
      { roleName: SNAP_ROLE, exists: true, trustPolicy: role!.trustPolicy, description: role!.description },
      { add: [account(uid)], remove: [], regions: [REGION] },
      { ownerUid: OWNER_UID, maxLength: 4096 },
    )!;
    await fake.other.ram.updateRole(SNAP_ROLE, next.trustPolicy, next.description);
  }

  const grantRecord = (fake: FakeCloud) => readImageGrants(fake.images.get(image.id)!.tags, LEDGER_KEY);

  it('repairs a grant that a concurrent writer, merging an older read, dropped after our write', async () => {
    const fake = snapshotWorld();
    let theirRead: Awaited<ReturnType<FakeCloud['other']['ram']['getRole']>>;
    fake.on('ram.updateRole', async (f) => void (theirRead = await f.other.ram.getRole(SNAP_ROLE)), { when: 'before' });
    let afterTheirs: string[] = [];
    fake.on('ram.updateRole', async (f) => {
      await otherInstanceGrants(f, C, theirRead);
      afterTheirs = trusted(f, SNAP_ROLE);
    });

    const res = await shareResource(fakeContext(fake), snapshot);

    expect(afterTheirs).toEqual([B, C]); // the race happened: their write dropped ours
    expect(res.outcome).toBe('shared');
    expect(trusted(fake, SNAP_ROLE)).toEqual([A, B, C]);
    expect(ledgerOf(fake, SNAP_ROLE)).toEqual([A, B, C]);
    expect(fake.callsOf('ram.updateRole')).toHaveLength(2);
  });

  it('a concurrent UpdateRole landing between our read and our write is put back by its writer, whose read-back sees ours', async () => {
    const fake = snapshotWorld();
    const theirs: ResourceRef = { type: 'snapshot', id: 's-theirs0001', region: REGION };
    fake.addSnapshot({ id: theirs.id, kmsKeyId: KEY_HZ.keyId, tags: { 'share-with': C } });
    // The other instance runs the product too; it is held at the read-back after its write until our stale write has
    // landed (its first read of the role is its observation, its second the read-back).
    let atReadBack!: () => void;
    let release!: () => void;
    const heldAtReadBack = new Promise<void>((r) => (atReadBack = r));
    const released = new Promise<void>((r) => (release = r));
    let roleReads = 0;
    const otherRam = { ...fake.other.ram };
    otherRam.getRole = async (name) => {
      if (++roleReads === 2) {
        atReadBack();
        await released;
      }
      return fake.other.ram.getRole(name);
    };
    const other = fakeContext(fake, {}, { ports: { ...fake.other, ram: otherRam } });
    let theirRun: Promise<Awaited<ReturnType<typeof shareResource>>> | undefined;
    fake.on(
      'ram.updateRole',
      async () => {
        theirRun = shareResource(other, theirs);
        await heldAtReadBack;
      },
      { when: 'before' },
    );
    let afterOurs: string[] = [];
    fake.on('ram.updateRole', (f) => {
      afterOurs = trusted(f, SNAP_ROLE);
      release();
    });

    const ours = await shareResource(fakeContext(fake), snapshot);
    const them = await theirRun!;

    expect(afterOurs).toEqual([A, B]); // the race happened: our write, from the older read, dropped theirs
    expect([ours.outcome, them.outcome]).toEqual(['shared', 'shared']);
    expect(trusted(fake, SNAP_ROLE)).toEqual([A, B, C]);
    expect(ledgerOf(fake, SNAP_ROLE)).toEqual([A, B, C]);
  });

  it('a writer that keeps dropping our grant ends in a retryable failure after a bounded number of writes', async () => {
    const fake = snapshotWorld();
    const original = { ...fake.roles.get(SNAP_ROLE)! };
    fake.on('ram.updateRole', (f) => f.other.ram.updateRole(SNAP_ROLE, original.trustPolicy, original.description), {
      times: 100,
    });

    const res = await shareResource(fakeContext(fake), snapshot);

    expect(res.outcome).toBe('failed');
    expect(res.error).toMatchObject({ code: 'ConcurrentUpdateError', retryable: true });
    expect(fake.callsOf('ram.updateRole')).toHaveLength(MAX_MERGE_ATTEMPTS);
  });

  it('never resends a throttled UpdateRole with the old document: the retry merges the concurrent writer in', async () => {
    const fake = snapshotWorld();
    fake.fail('ram.updateRole', FAULTS.throttled(1_000));
    fake.on('ram.updateRole', (f) => otherInstanceGrants(f, C));
    const ctx = fakeContext(fake);

    const res = await shareResource(ctx, snapshot);

    const [first, second] = fake.callsOf('ram.updateRole');
    expect(first.ok).toBe(false);
    expect(second.args[1]).toContain(`${C}@ecs.aliyuncs.com`);
    expect(second.args[1]).toContain(`${A}@ecs.aliyuncs.com`);
    expect(ctx.retries).toEqual([{ code: 'Throttling.User', attempt: 1, retry: true, waitMs: 1_000 }]);
    expect(res.outcome).toBe('shared');
    expect(trusted(fake, SNAP_ROLE)).toEqual([A, B, C]);
  });

  it('ends shared with exactly one trust change when the answer of UpdateRole is lost', async () => {
    const fake = snapshotWorld();
    fake.fail('ram.updateRole', FAULTS.lostAnswer());

    const res = await shareResource(fakeContext(fake), snapshot);

    expect(res.outcome).toBe('shared');
    expect(fake.callsOf('ram.updateRole')).toHaveLength(1);
    expect(fake.callsOf('ram.createRole')).toHaveLength(0);
    expect(fake.roles.get(SNAP_ROLE)!.trustPolicy.split(`${A}@ecs.aliyuncs.com`)).toHaveLength(2);
    expect(trusted(fake, SNAP_ROLE)).toEqual([A, B]);
    expect(ledgerOf(fake, SNAP_ROLE)).toEqual([A, B]);
    expect(fake.callsOf('sharing.createShare')).toHaveLength(1);
  });

  it('verifies a write whose answer was lost like any write: a concurrent writer that read before it and wrote after the re-read is caught', async () => {
    // Simulation seed 549: the re-read after the lost answer showed our grant (read lag hid the writes after it), so
    // the loop ended without the settled read-back, and two writers that had read before our write dropped it.
    const fake = snapshotWorld();
    let theirRead: Awaited<ReturnType<FakeCloud['other']['ram']['getRole']>>;
    fake.on('ram.updateRole', async (f) => void (theirRead = await f.other.ram.getRole(SNAP_ROLE)), { when: 'before' });
    fake.fail('ram.updateRole', FAULTS.lostAnswer());
    const reads = fake.count('ram.getRole');
    let dropped: string[] = [];
    // The first read after the lost answer shows our grant; the other instance's write lands right after it.
    fake.on(
      'ram.getRole',
      async (f) => {
        await otherInstanceGrants(f, C, theirRead);
        dropped = trusted(f, SNAP_ROLE);
      },
      { nth: fake.count('ram.getRole') - reads + 2 },
    );

    const res = await shareResource(fakeContext(fake), snapshot);

    expect(dropped).toEqual([B, C]); // the race happened: their write dropped ours after our re-read
    expect(res.outcome).toBe('shared');
    expect(trusted(fake, SNAP_ROLE)).toEqual([A, B, C]);
    expect(ledgerOf(fake, SNAP_ROLE)).toEqual([A, B, C]);
  });

  it('does not report ShareNotApplied when the image share list lags behind the share', async () => {
    const fake = imageWorld();
    fake.lag('imageShares', 2);
    const ctx = fakeContext(fake);

    const res = await shareResource(ctx, image);

    expect(res.error).toBeUndefined();
    expect(res.outcome).toBe('shared');
    expect(fake.images.get(image.id)!.accounts).toEqual([A]);
    expect(grantRecord(fake)).toEqual({ granted: [A], pending: [] });
    expect(ctx.slept).toEqual(expect.arrayContaining([100, 200]));
  });

  it('writes the intent to the image grant record before ModifyImageSharePermission and confirms it after', async () => {
    const fake = imageWorld();

    const res = await shareResource(fakeContext(fake), image);

    const intent = indexOf(
      fake.calls,
      (c) =>
        c.method === 'ecs.tagResource' &&
        (c.args[3] as Record<string, string>)[LEDGER_KEY] === `+${A},at.${Math.floor(fake.nowMs / 1000).toString(36)}`,
    );
    const share = indexOf(
      fake.calls,
      (c) => c.method === 'ecs.modifyImageShare' && (c.args[2] as { add?: string[] }).add?.includes(A) === true,
    );
    const confirm = indexOf(
      fake.calls,
      (c) => c.method === 'ecs.tagResource' && (c.args[3] as Record<string, string>)[LEDGER_KEY] === A,
    );
    expect(res.outcome).toBe('shared');
    expect(intent).toBeGreaterThanOrEqual(0);
    expect(share).toBeGreaterThan(intent);
    expect(confirm).toBeGreaterThan(share);
  });

  describe('killed right before ModifyImageSharePermission', () => {
    it('leaves an intent that is never claimed, and forgotten once stale when the tag no longer asks', async () => {
      const fake = imageWorld();
      fake.on(
        'ecs.modifyImageShare',
        (f) => {
          f.kill('before ModifyImageSharePermission');
          throw new FakeCrash('before ModifyImageSharePermission');
        },
        { when: 'before' },
      );
      expect((await shareResource(fakeContext(fake), image)).outcome).toBe('failed');
      fake.revive();
      fake.setTags('image', image.id, { 'share-with': undefined });

      const young = await shareResource(fakeContext(fake), image);
      const pendingWhileYoung = grantRecord(fake).pending;
      fake.nowMs += (PENDING_TTL_S + 1) * 1000;
      const stale = await shareResource(fakeContext(fake), image);

      expect(young.outcome).toBe('unchanged');
      expect(pendingWhileYoung).toEqual([A]);
      expect(stale.outcome).toBe('revoked');
      expect(grantRecord(fake)).toEqual({ granted: [], pending: [] });
      expect(fake.images.get(image.id)!.accounts).toEqual([]);
      expect(fake.callsOf('ecs.modifyImageShare')).toHaveLength(1);
    });
  });

  describe('killed right after ModifyImageSharePermission', () => {
    async function crashAfterShare(): Promise<FakeCloud> {
      const fake = imageWorld();
      fake.on('ecs.modifyImageShare', (f) => {
        f.kill('after ModifyImageSharePermission');
        throw new FakeCrash('after ModifyImageSharePermission');
      });
      const res = await shareResource(fakeContext(fake), image);
      expect(res.outcome).toBe('failed');
      fake.revive();
      return fake;
    }

    it('leaves an intent in the record with the account shared', async () => {
      const fake = await crashAfterShare();

      expect(fake.images.get(image.id)!.accounts).toEqual([A]);
      expect(grantRecord(fake)).toEqual({ granted: [], pending: [A], since: Math.floor(fake.nowMs / 1000) });
    });

    it('the next run claims the intent as a grant, without sharing again', async () => {
      const fake = await crashAfterShare();
      const before = fake.calls.length;

      const res = await shareResource(fakeContext(fake), image);

      expect(res.outcome).toBe('shared');
      expect(grantRecord(fake)).toEqual({ granted: [A], pending: [] });
      expect(fake.calls.slice(before).filter((c) => c.method === 'ecs.modifyImageShare')).toEqual([]);
    });

    it('the next run takes the account back when the tag no longer asks for it', async () => {
      const fake = await crashAfterShare();
      fake.setTags('image', image.id, { 'share-with': undefined });

      const res = await shareResource(fakeContext(fake), image);

      expect(res.outcome).toBe('revoked');
      expect(fake.images.get(image.id)!.accounts).toEqual([]);
      expect(grantRecord(fake)).toEqual({ granted: [], pending: [] });
      expect(Object.keys(fake.images.get(image.id)!.tags)).toEqual([]);
    });
  });
});
