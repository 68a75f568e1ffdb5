// Issue 7: KMS policy parts are found by listing and deleted high to low, so a failure between two deletions can
// never leave a part granting a key nobody asked for; and one error taxonomy, table-tested over real codes.
import { describe, expect, it } from 'vitest';
import { ensureKmsPolicies } from '../../shared/share/apply';
import {
  buildKmsPolicies,
  keysInPolicy,
  policyIndexFromName,
  policyNameFor,
  type KeyRef,
} from '../../shared/domain/kms-policy';
import { parsePolicy } from '../../shared/domain/policy-json';
import { CloudError, classify } from '../../shared/errors';
import { FakeCloud, OWNER_UID, REGION, fakeContext } from '../helpers/fake-cloud';

const ROLE = 'AliyunECSShareEncryptSnapshotDefaultRole';
const keys = (n: number, from = 0): KeyRef[] =>
  Array.from({ length: n }, (_, i) => ({
    region: REGION,
    accountId: OWNER_UID,
    keyId: `key-part${String(from + i).padStart(17, '0')}`,
  }));

/** A role whose KMS policy spans several parts, every part attached. */
function threeParts(): { fake: FakeCloud; all: KeyRef[] } {
  const fake = new FakeCloud();
  fake.putRole(ROLE, '{"Version":"1","Statement":[]}', 'x');
  const all = keys(220);
  const docs = buildKmsPolicies(all);
  expect(docs.length).toBe(3);
  for (const [i, doc] of docs.entries()) {
    fake.putPolicy(policyNameFor('snapshot', i), JSON.stringify(doc));
    fake.attach(ROLE, policyNameFor('snapshot', i));
  }
  return { fake, all };
}

const defaultDocument = (fake: FakeCloud, name: string) => {
  const p = fake.policies.get(name)!;
  return p.versions.find((v) => v.versionId === p.defaultVersion)!.document;
};

/** Keys granted by the parts still attached to the role (what ECS acting through the role may use). */
function grantedThroughRole(fake: FakeCloud): string[] {
  const attached = (fake.attachments.get(ROLE) ?? [])
    .map((p) => p.policyName)
    .filter((n) => policyIndexFromName('snapshot', n) !== undefined);
  return attached.flatMap((n) => keysInPolicy(parsePolicy(defaultDocument(fake, n))).map((k) => k.keyId)).sort();
}

describe('KMS policy parts', () => {
  it('are deleted high to low, detached first, so a failure between two deletions leaves no part granting a removed key', async () => {
    const { fake, all } = threeParts();
    const keep = all.slice(0, 5);
    // The second part's deletion fails for good: the third part is gone already (deleted first), the second detached.
    fake.fail('ram.deletePolicy', { code: 'InternalError', status: 500, message: 'boom' }, { nth: 2, times: 50 });

    await expect(ensureKmsPolicies(fakeContext(fake), ROLE, 'snapshot', [], all.slice(5))).rejects.toThrow();

    expect(fake.policies.has(policyNameFor('snapshot', 2))).toBe(false);
    expect(grantedThroughRole(fake)).toEqual(keep.map((k) => k.keyId).sort());
  });

  it('left behind by a failure (even beyond a gap, if attached) are found on the next run and removed', async () => {
    const { fake, all } = threeParts();
    // A gap: part 2 is missing while part 3 is still attached (what deleting low to high could leave).
    fake.policies.delete(policyNameFor('snapshot', 1));
    fake.attachments.set(
      ROLE,
      (fake.attachments.get(ROLE) ?? []).filter((p) => p.policyName !== policyNameFor('snapshot', 1)),
    );

    await ensureKmsPolicies(fakeContext(fake), ROLE, 'snapshot', [], all.slice(5));

    expect(fake.policies.has(policyNameFor('snapshot', 2))).toBe(false);
    expect(grantedThroughRole(fake)).toEqual(
      all
        .slice(0, 5)
        .map((k) => k.keyId)
        .sort(),
    );
  });
});

describe('the error taxonomy', () => {
  const err = (code: string, status?: number, message = 'm') => new CloudError({ code, status, message, action: 'X' });
  it.each([
    ['Throttling.User', 400, 'retryable'],
    ['Throttling', 400, 'retryable'],
    ['Rejected.Throttling', 429, 'retryable'],
    ['ServiceUnavailable', 503, 'retryable'],
    ['InternalError', 500, 'retryable'],
    ['UnknownError', 400, 'retryable'],
    ['OperationConflict', 409, 'retryable'],
    ['IncorrectImageStatus', 400, 'retryable'],
    ['IncorrectSnapshotStatus', 403, 'retryable'],
    ['RequestTimeout', undefined, 'retryable'],
    ['ECONNRESET', undefined, 'retryable'],
    ['EntityAlreadyExists.Role', 409, 'already-done'],
    ['EntityAlreadyExists.Role.Policy', 409, 'already-done'],
    ['EntityNotExist.Role', 404, 'not-found'],
    ['Forbidden.KeyNotFound', 404, 'not-found'],
    ['InvalidImageId.NotFound', 404, 'not-found'],
    ['InvalidAccessKeyId.NotFound', 404, 'terminal'],
    ['InvalidRegionId.NotFound', 404, 'terminal'],
    ['InvalidSecurityToken.Expired', 400, 'terminal'],
    ['SignatureDoesNotMatch', 400, 'terminal'],
    ['Forbidden.RAM', 403, 'terminal'],
    ['QuotaExceed.ShareImageUser', 400, 'terminal'],
    ['OperationDeined.FullImage', 403, 'terminal'],
    ['InvalidParameter.KMSKeyId.CMKUnauthorized', 403, 'terminal'],
  ] as const)('%s (%s) is %s', (code, status, expected) => {
    expect(classify(err(code, status))).toBe(expected);
  });

  it('retries a message that asks to be retried', () => {
    expect(classify(err('SomeCode', 400, 'The system is busy, please retry later.'))).toBe('retryable');
  });
});
