// Property-based fuzzing of the manual share command and the tag contract: a command is accepted exactly when an
// independent reading of the README says it is well-formed, and refused otherwise with InvalidInputError and a
// reason; a tag set never yields a target the contract does not allow, and every refused token is reported.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { InvalidInputError } from '../../shared/errors';
import { parseShareCommand } from '../../shared/usecases/share-command';
import { parseShareTags, type Allowlist } from '../../shared/domain/targets';
import { ACCOUNTS, FOLDER, OWNER, REGION, runs, shareCommand, tagSet } from './arbitraries';
import { expectReason, REGION_FORM, RESOURCE_ID } from './checks';

const KNOWN = ['s-demo0cmk0000000001', 'm-demo0cmk0000000001'];
const FIELDS = new Set(['resourceId', 'region', 'regionId', 'dryRun', 'resourceType', 'action']);

/** The README's share command, read independently of the parser. */
function wellFormed(c: Record<string, unknown>): boolean {
  const id = c.resourceId;
  const region = c.region ?? c.regionId ?? REGION;
  return (
    Object.keys(c).every((k) => FIELDS.has(k)) &&
    (c.action === undefined || c.action === 'share') &&
    typeof id === 'string' &&
    RESOURCE_ID.test(id) &&
    typeof region === 'string' &&
    REGION_FORM.test(region) &&
    (c.resourceType === undefined || c.resourceType === (id.startsWith('s-') ? 'snapshot' : 'image')) &&
    (c.dryRun === undefined || typeof c.dryRun === 'boolean')
  );
}

describe('the manual share command under fuzzing', () => {
  it('is accepted exactly when well-formed, else refused with InvalidInputError and a reason', () => {
    fc.assert(
      fc.property(shareCommand(KNOWN), (command) => {
        let parsed: ReturnType<typeof parseShareCommand> | undefined;
        try {
          parsed = parseShareCommand(command, REGION);
        } catch (e) {
          expect(e).toBeInstanceOf(InvalidInputError);
          expectReason((e as Error).message, 1000);
        }
        expect(parsed !== undefined).toBe(wellFormed(command));
        if (!parsed) return;
        expect(parsed.ref.id).toBe(command.resourceId);
        expect(parsed.ref.type).toBe(parsed.ref.id.startsWith('s-') ? 'snapshot' : 'image');
        expect(parsed.ref.region).toMatch(REGION_FORM);
        expect(parsed.dryRun).toBe(command.dryRun === true);
      }),
      runs(3000),
    );
  });
});

const TOKEN_FORMS = [
  /^\d{16}$/,
  /^rd-[A-Za-z0-9]{4,32}$/,
  /^rd-[A-Za-z0-9]{4,32}\/r-[A-Za-z0-9]{4,32}(\/fd-[A-Za-z0-9]{10})+$/,
];
const CONTRACT_KEYS = new Set(['share-with', ...Array.from({ length: 9 }, (_, i) => `share-with.${i + 2}`)]);
const allowlists: fc.Arbitrary<Allowlist | undefined> = fc.oneof(
  fc.constant(undefined),
  fc.record(
    {
      accounts: fc.subarray(ACCOUNTS),
      rds: fc.subarray(['rd-demo01']),
      folders: fc.subarray([FOLDER, 'fd-demofold01']),
    },
    { requiredKeys: [] },
  ),
);

describe('share-with tag values under fuzzing', () => {
  it('yield only well-formed, allowed targets other than the owner, and report every token they refuse', () => {
    fc.assert(
      fc.property(tagSet, allowlists, (tags, allowlist) => {
        const { targets, errors } = parseShareTags(tags, { tagKey: 'share-with', ownerUid: OWNER, allowlist });
        for (const t of targets) {
          const key = t.kind === 'account' ? t.uid : t.kind === 'rd' ? t.rdId : t.path;
          expect(TOKEN_FORMS.some((f) => f.test(key))).toBe(true);
          expect(key).not.toMatch(/[*?%]/);
          if (t.kind === 'account') expect(t.uid).not.toBe(OWNER);
        }
        for (const e of errors) {
          expect(['Wildcard', 'Malformed', 'RootFolder', 'Self', 'NotAllowed', 'UnknownKey']).toContain(e.code);
          expectReason(e.reason, 1000);
        }
        // Every token of a contract key is a target or a reported error; every other share-with.* key is refused.
        const found = new Set([
          ...targets.map((t) => (t.kind === 'account' ? t.uid : t.kind === 'rd' ? t.rdId : t.path)),
          ...errors.map((e) => e.value),
        ]);
        for (const [key, value] of Object.entries(tags)) {
          if (CONTRACT_KEYS.has(key))
            for (const token of value.split(/[\s,]+/).filter(Boolean)) expect(found).toContain(token);
          else if (key.startsWith('share-with.'))
            expect(errors).toContainEqual(expect.objectContaining({ code: 'UnknownKey', key }));
        }
        // The order tags are listed in never matters.
        const reversed = Object.fromEntries(Object.entries(tags).reverse());
        expect(parseShareTags(reversed, { tagKey: 'share-with', ownerUid: OWNER, allowlist }).targets).toEqual(targets);
      }),
      runs(3000),
    );
  });
});
