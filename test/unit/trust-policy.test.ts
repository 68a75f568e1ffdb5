import { describe, expect, it } from 'vitest';
import { parsePolicy, samePolicy, type PolicyDocument, type Statement } from '../../shared/domain/policy-json';
import {
  emptyTrustLedger,
  grantForTarget,
  grantSatisfied,
  grantsInLedger,
  mergeTrust,
  readTrustLedger,
  trustPolicyLength,
  writeTrustLedger,
  type TrustGrant,
  type TrustLedger,
} from '../../shared/domain/trust-policy';

const A2 = '1000000000000002';
const A3 = '1000000000000003';
const A4 = '1000000000000004';
const FOLDER = 'rd-demo01/r-demo01/fd-demofold01';

const acct = (uid: string): TrustGrant => ({ kind: 'account', uid });
const rdG = (rdId: string): TrustGrant => ({ kind: 'rd', rdId });
const fdG = (path: string): TrustGrant => ({ kind: 'folder', pattern: `${path}*` });

const doc = (...Statement: Statement[]): PolicyDocument => ({ Version: '1', Statement });
const ledger = (l: Partial<TrustLedger> = {}): TrustLedger => ({ ...emptyTrustLedger(), ...l });

const accountsStmt = (...uids: string[]): Statement => ({
  Action: 'sts:AssumeRole',
  Effect: 'Allow',
  Principal: { Service: uids.map((u) => `${u}@ecs.aliyuncs.com`) },
});
const rdStmt = (rdId: string | string[]): Statement => ({
  Action: 'sts:AssumeRole',
  Effect: 'Allow',
  Principal: { Service: '*@ecs.aliyuncs.com' },
  Condition: { StringEquals: { 'sts:ServiceOwnerRDId': rdId } },
});
const folderStmt = (pattern: string): Statement => ({
  Action: 'sts:AssumeRole',
  Effect: 'Allow',
  Principal: { Service: '*@ecs.aliyuncs.com' },
  Condition: { StringLike: { 'sts:ServiceOwnerRDPath': pattern } },
});
/** What RAM's console writes for a trusted account: someone else's statement. */
const ramRootStmt: Statement = {
  Action: 'sts:AssumeRole',
  Effect: 'Allow',
  Principal: { RAM: ['acs:ram::1000000000000001:root'] },
};

describe('grantForTarget', () => {
  it.each([
    [{ kind: 'account', uid: A2 } as const, acct(A2)],
    [{ kind: 'rd', rdId: 'rd-demo01' } as const, rdG('rd-demo01')],
    [
      { kind: 'folder', rdId: 'rd-demo01', path: FOLDER, folderId: 'fd-demofold01' } as const,
      { kind: 'folder', pattern: `${FOLDER}*` },
    ],
  ])('maps %j', (target, grant) => {
    expect(grantForTarget(target)).toEqual(grant);
  });
});

describe('grantSatisfied', () => {
  it.each<[string, Statement, TrustGrant, boolean]>([
    ['an account in a Service array', accountsStmt(A3, A2), acct(A2), true],
    [
      'an account in a Service string',
      { ...accountsStmt(), Principal: { Service: `${A2}@ecs.aliyuncs.com` } },
      acct(A2),
      true,
    ],
    ['an account behind an Action array', { ...accountsStmt(A2), Action: ['sts:AssumeRole'] }, acct(A2), true],
    ['another account', accountsStmt(A3), acct(A2), false],
    [
      'an account restricted by a condition',
      { ...accountsStmt(A2), Condition: { IpAddress: { 'acs:SourceIp': '10.0.0.0/8' } } },
      acct(A2),
      false,
    ],
    ['an account in a Deny statement', { ...accountsStmt(A2), Effect: 'Deny' }, acct(A2), false],
    ['an account for another action', { ...accountsStmt(A2), Action: 'sts:GetCallerIdentity' }, acct(A2), false],
    [
      'an account as a RAM principal',
      { ...accountsStmt(), Principal: { RAM: [`acs:ram::${A2}:root`] } },
      acct(A2),
      false,
    ],
    ['any ECS service without a condition, for an account', { ...rdStmt('x'), Condition: undefined }, acct(A2), true],
    ['any ECS service without a condition, for a folder', { ...rdStmt('x'), Condition: undefined }, fdG(FOLDER), true],
    ['an RD by StringEquals', rdStmt('rd-demo01'), rdG('rd-demo01'), true],
    ['an RD in a value array', rdStmt(['rd-other1', 'rd-demo01']), rdG('rd-demo01'), true],
    [
      'an RD with a lower-case condition key',
      { ...rdStmt('x'), Condition: { StringEquals: { 'sts:serviceownerrdid': 'rd-demo01' } } },
      rdG('rd-demo01'),
      true,
    ],
    ['another RD', rdStmt('rd-other1'), rdG('rd-demo01'), false],
    [
      'an RD with an extra condition',
      {
        ...rdStmt('rd-demo01'),
        Condition: { StringEquals: { 'sts:ServiceOwnerRDId': 'rd-demo01', 'acs:SourceIp': 'x' } },
      },
      rdG('rd-demo01'),
      false,
    ],
    [
      'an RD for one account only',
      { ...rdStmt('rd-demo01'), Principal: { Service: `${A2}@ecs.aliyuncs.com` } },
      rdG('rd-demo01'),
      false,
    ],
    ['an RD condition for an account', rdStmt('rd-demo01'), acct(A2), false],
    ['a folder by its pattern', folderStmt(`${FOLDER}*`), fdG(FOLDER), true],
    ['a folder under a parent pattern', folderStmt('rd-demo01/r-demo01/*'), fdG(FOLDER), true],
    ['a folder by its RD', rdStmt('rd-demo01'), fdG(FOLDER), true],
    ['a folder by a sibling pattern', folderStmt('rd-demo01/r-demo01/fd-demofold02*'), fdG(FOLDER), false],
    ['a folder by the exact path without star', folderStmt(FOLDER), fdG(FOLDER), false],
    ['a folder by a pattern with an inner wildcard', folderStmt('rd-demo01/*/fd-demofold01*'), fdG(FOLDER), false],
    ['a parent folder by a child pattern', folderStmt(`${FOLDER}/fd-child00001*`), fdG(FOLDER), false],
  ])('%s: %s', (_name, statement, grant, expected) => {
    expect(grantSatisfied(doc(statement), grant)).toBe(expected);
  });
});

describe('mergeTrust adds', () => {
  it('writes Scenario 1 for accounts into one statement', () => {
    const result = mergeTrust(doc(), ledger(), { add: [acct(A3), acct(A2)], remove: [] });
    expect(result.document).toEqual(doc(accountsStmt(A2, A3)));
    expect(result.ledger).toEqual(ledger({ accounts: [A2, A3] }));
    expect(result.added).toEqual([acct(A2), acct(A3)]);
    expect(result.changed).toBe(true);
  });

  it('writes Scenario 2 for an RD with a string Service', () => {
    const result = mergeTrust(doc(), ledger(), { add: [rdG('rd-demo01')], remove: [] });
    expect(result.document).toEqual(doc(rdStmt('rd-demo01')));
    expect(result.ledger.rds).toEqual(['rd-demo01']);
  });

  it('writes Scenario 3 for a folder with a trailing-star RD path', () => {
    const result = mergeTrust(doc(), ledger(), { add: [fdG(FOLDER)], remove: [] });
    expect(result.document).toEqual(doc(folderStmt(`${FOLDER}*`)));
    expect(result.ledger.folders).toEqual([`${FOLDER}*`]);
  });

  it('extends its own account statement in place and keeps statement order', () => {
    const before = doc(accountsStmt(A2), ramRootStmt);
    const result = mergeTrust(before, ledger({ accounts: [A2] }), { add: [acct(A3)], remove: [] });
    expect(result.document).toEqual(doc(accountsStmt(A2, A3), ramRootStmt));
  });

  it('appends new statements after the existing ones', () => {
    const result = mergeTrust(doc(ramRootStmt), ledger(), { add: [rdG('rd-demo01'), acct(A2)], remove: [] });
    expect(result.document.Statement).toEqual([ramRootStmt, accountsStmt(A2), rdStmt('rd-demo01')]);
  });

  it('leaves foreign statements untouched and never adds into them', () => {
    const foreign = accountsStmt(A4); // the tool's shape, but A4 is not in the ledger
    const result = mergeTrust(doc(ramRootStmt, foreign), ledger(), { add: [acct(A2)], remove: [] });
    expect(result.document.Statement).toEqual([ramRootStmt, foreign, accountsStmt(A2)]);
  });

  it('neither writes nor claims a grant a foreign statement already admits', () => {
    const before = doc(accountsStmt(A2, A4));
    const result = mergeTrust(before, ledger(), { add: [acct(A2)], remove: [] });
    expect(result.document).toEqual(before);
    expect(result.ledger).toEqual(ledger());
    expect(result.changed).toBe(false);
    expect(result.added).toEqual([]);
  });

  it('extends its own statement when RAM returned the Service as a string', () => {
    const collapsed: Statement = {
      Action: ['sts:AssumeRole'],
      Effect: 'Allow',
      Principal: { Service: `${A2}@ecs.aliyuncs.com` },
    };
    const result = mergeTrust(doc(collapsed), ledger({ accounts: [A2] }), { add: [acct(A3)], remove: [] });
    expect(result.document).toEqual(doc(accountsStmt(A2, A3)));
  });

  it('repairs a grant in its ledger that someone deleted by hand', () => {
    const result = mergeTrust(doc(ramRootStmt), ledger({ accounts: [A2] }), { add: [acct(A2)], remove: [] });
    expect(result.document.Statement).toEqual([ramRootStmt, accountsStmt(A2)]);
    expect(result.ledgerChanged).toBe(false);
    expect(result.documentChanged).toBe(true);
  });

  it('does not change a RAM-reformatted document that already holds the grants', () => {
    const text = JSON.stringify(
      {
        Statement: [
          {
            Principal: { Service: [`${A3}@ecs.aliyuncs.com`, `${A2}@ecs.aliyuncs.com`] },
            Effect: 'Allow',
            Action: 'sts:AssumeRole',
          },
        ],
        Version: '1',
      },
      null,
      4,
    );
    const result = mergeTrust(parsePolicy(text), ledger({ accounts: [A2, A3] }), {
      add: [acct(A2), acct(A3)],
      remove: [],
    });
    expect(result.changed).toBe(false);
  });
});

describe('mergeTrust removes', () => {
  it('takes an account out of its own statement only', () => {
    const result = mergeTrust(doc(accountsStmt(A2, A3)), ledger({ accounts: [A2, A3] }), {
      add: [],
      remove: [acct(A2)],
    });
    expect(result.document).toEqual(doc(accountsStmt(A3)));
    expect(result.ledger.accounts).toEqual([A3]);
    expect(result.removed).toEqual([acct(A2)]);
  });

  it('drops its own statement once it is empty', () => {
    const result = mergeTrust(doc(ramRootStmt, accountsStmt(A2)), ledger({ accounts: [A2] }), {
      add: [],
      remove: [acct(A2)],
    });
    expect(result.document).toEqual(doc(ramRootStmt));
  });

  it('keeps a foreign statement that grants the same principal', () => {
    const foreign = accountsStmt(A2, A4);
    const result = mergeTrust(doc(accountsStmt(A2), foreign), ledger({ accounts: [A2] }), {
      add: [],
      remove: [acct(A2)],
    });
    expect(result.document).toEqual(doc(foreign));
    expect(result.ledger.accounts).toEqual([]);
  });

  it('leaves a grant that is not in its ledger alone', () => {
    const before = doc(accountsStmt(A2), rdStmt('rd-demo01'));
    const result = mergeTrust(before, ledger(), { add: [], remove: [acct(A2), rdG('rd-demo01')] });
    expect(result.document).toEqual(before);
    expect(result.changed).toBe(false);
  });

  it('does not touch a statement of its shape that someone extended by hand', () => {
    const edited = accountsStmt(A2, A4); // A4 added by a person: no longer provably the tool's
    const result = mergeTrust(doc(edited), ledger({ accounts: [A2] }), { add: [], remove: [acct(A2)] });
    expect(result.document).toEqual(doc(edited));
    expect(result.removed).toEqual([]);
  });

  it.each([
    ['an RD', rdStmt('rd-demo01'), rdG('rd-demo01'), ledger({ rds: ['rd-demo01'] })],
    ['a folder', folderStmt(`${FOLDER}*`), fdG(FOLDER), ledger({ folders: [`${FOLDER}*`] })],
  ])('drops its own %s statement and keeps foreign conditions', (_name, own, grant, owned) => {
    const foreignRd = rdStmt('rd-foreign1');
    const result = mergeTrust(doc(foreignRd, own), owned, { add: [], remove: [grant] });
    expect(result.document).toEqual(doc(foreignRd));
    expect(result.ledger).toEqual(ledger());
  });

  it('forgets a ledger grant whose statement is already gone', () => {
    const result = mergeTrust(doc(ramRootStmt), ledger({ accounts: [A2] }), { add: [], remove: [acct(A2)] });
    expect(result.documentChanged).toBe(false);
    expect(result.ledgerChanged).toBe(true);
    expect(result.changed).toBe(true);
  });

  it('adds a folder in its own right when the RD statement that admitted it is removed', () => {
    const result = mergeTrust(doc(rdStmt('rd-demo01')), ledger({ rds: ['rd-demo01'] }), {
      add: [fdG(FOLDER)],
      remove: [rdG('rd-demo01')],
    });
    expect(result.document).toEqual(doc(folderStmt(`${FOLDER}*`)));
    expect(result.ledger).toEqual(ledger({ folders: [`${FOLDER}*`] }));
  });
});

describe('mergeTrust is idempotent and converges', () => {
  const start = doc(ramRootStmt, accountsStmt(A4), rdStmt('rd-foreign1'));
  const changes: [string, { add: TrustGrant[]; remove: TrustGrant[] }][] = [
    ['accounts', { add: [acct(A2), acct(A3)], remove: [] }],
    ['an RD and a folder', { add: [rdG('rd-demo01'), fdG(FOLDER)], remove: [] }],
    ['a foreign-held account', { add: [acct(A4)], remove: [] }],
    ['an addition and a removal', { add: [acct(A3)], remove: [acct(A2)] }],
  ];

  it.each(changes)('merging %s twice equals merging once', (_name, change) => {
    const seed = mergeTrust(start, ledger(), { add: [acct(A2)], remove: [] });
    const once = mergeTrust(seed.document, seed.ledger, change);
    const twice = mergeTrust(once.document, once.ledger, change);
    expect(twice.changed).toBe(false);
    expect(twice.added).toEqual([]);
    expect(twice.removed).toEqual([]);
    expect(twice.document).toEqual(once.document);
    expect(twice.ledger).toEqual(once.ledger);
  });

  it.each<[string, TrustGrant, TrustGrant]>([
    ['two accounts', acct(A2), acct(A3)],
    ['an account and an RD', acct(A2), rdG('rd-demo01')],
    ['two folders', fdG(FOLDER), fdG('rd-demo01/r-demo01/fd-demofold02')],
  ])('two concurrent merges of %s re-applied in either order agree', (_name, a, b) => {
    const ab1 = mergeTrust(start, ledger(), { add: [a], remove: [] });
    const ab = mergeTrust(ab1.document, ab1.ledger, { add: [b], remove: [] });
    const ba1 = mergeTrust(start, ledger(), { add: [b], remove: [] });
    const ba = mergeTrust(ba1.document, ba1.ledger, { add: [a], remove: [] });
    expect(samePolicy(ab.document, ba.document)).toBe(true);
    expect(ab.ledger).toEqual(ba.ledger);
  });

  it('leaves every foreign statement byte-for-byte equal through add and remove', () => {
    const added = mergeTrust(start, ledger(), { add: [acct(A2), rdG('rd-demo01'), fdG(FOLDER)], remove: [] });
    const removed = mergeTrust(added.document, added.ledger, { add: [], remove: grantsInLedger(added.ledger) });
    expect(removed.document).toEqual(start);
    expect(removed.ledger).toEqual(ledger());
  });

  it('does not mutate its inputs', () => {
    const input = structuredClone(start);
    const led = ledger({ accounts: [A2] });
    mergeTrust(input, led, { add: [acct(A3)], remove: [acct(A2)] });
    expect(input).toEqual(start);
    expect(led).toEqual(ledger({ accounts: [A2] }));
  });
});

describe('trust ledger in the role description', () => {
  const full = ledger({ accounts: [A3, A2], rds: ['rd-demo01'], folders: [`${FOLDER}*`] });

  it.each([
    ['no description', undefined],
    ['an empty description', ''],
    ['a human description', 'Lets ECS of the recipients use our CMKs'],
    ['a multi-line description', 'line one\nline two\n'],
  ])('round-trips with %s', (_name, description) => {
    const written = writeTrustLedger(description, full);
    expect(readTrustLedger(written)).toEqual(
      ledger({ accounts: [A2, A3], rds: ['rd-demo01'], folders: [`${FOLDER}*`] }),
    );
    if (description) expect(written.startsWith(description.trimEnd())).toBe(true);
  });

  it('replaces its marker line instead of adding another', () => {
    const once = writeTrustLedger('human', full);
    const twice = writeTrustLedger(once, ledger({ accounts: [A4] }));
    expect(twice).toBe(`human\n[ecs-share] {"a":["${A4}"]}`);
  });

  it('removes its marker when the ledger is empty', () => {
    expect(writeTrustLedger(writeTrustLedger('human', full), ledger())).toBe('human');
  });

  it.each([
    ['no marker', 'just text', ledger()],
    ['a mangled marker', '[ecs-share] {"a":[', ledger()],
    ['a marker that is not an object', '[ecs-share] []', ledger()],
    ['invalid entries', `[ecs-share] {"a":["12","${A2}",7],"rd":["rd-*"],"fd":["x"]}`, ledger({ accounts: [A2] })],
  ])('reads %s safely', (_name, description, expected) => {
    expect(readTrustLedger(description)).toEqual(expected);
  });

  it('refuses a description over 1,024 characters with advice', () => {
    const uids = Array.from({ length: 60 }, (_, i) => String(5000000000000000 + i));
    expect(() => writeTrustLedger(undefined, ledger({ accounts: uids }))).toThrow(/1024.*resource directory or folder/);
  });
});

describe('trustPolicyLength', () => {
  it('is the length of the compact JSON', () => {
    const d = doc(accountsStmt(A2));
    expect(trustPolicyLength(d)).toBe(JSON.stringify(d).length);
  });
});
