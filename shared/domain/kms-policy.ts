// The custom permission policy attached to a share role for CMK-encrypted resources, exactly as the
// seed's step 3 writes it, split over several policies when one would pass RAM's 6,144-character limit.

import { asArray, type PolicyDocument, type Statement } from './policy-json';

export type KeyRef = { region: string; accountId: string; keyId: string };

/** One version of a RAM permission policy, as ListPolicyVersions answers. */
export type PolicyVersionInfo = { versionId: string; isDefault: boolean; document: string; createDate?: string };

const KMS_POLICY_MAX_LENGTH = 6144;
const POLICY_VERSION_LIMIT = 5;
const KMS_KEY_ACTIONS = [
  'kms:DescribeKey',
  'kms:TagResource',
  'kms:UntagResource',
  'kms:Encrypt',
  'kms:Decrypt',
  'kms:GenerateDataKey',
] as const;

const KEY_ARN = /^acs:kms:([a-z0-9-]+):(\d+):key\/([^/\s*?]+)$/;

export function keyArn(k: KeyRef): string {
  return `acs:kms:${k.region}:${k.accountId}:key/${k.keyId}`;
}

function keyListResource(region: string, accountId: string): string {
  return `acs:kms:${region}:${accountId}:key`;
}

function sortedUniqueKeys(keys: KeyRef[]): KeyRef[] {
  const byArn = new Map(keys.map((k) => [keyArn(k), k]));
  return [...byArn.keys()].sort().map((arn) => byArn.get(arn)!);
}

/** One self-contained document: kms:List* per region/account in use, then the key actions on every key. */
function kmsPolicyFor(keys: KeyRef[]): PolicyDocument {
  const sorted = sortedUniqueKeys(keys);
  const scopes = [...new Set(sorted.map((k) => keyListResource(k.region, k.accountId)))].sort();
  const list: Statement[] = scopes.map((resource) => ({ Action: 'kms:List*', Resource: resource, Effect: 'Allow' }));
  const use: Statement = { Action: [...KMS_KEY_ACTIONS], Resource: sorted.map(keyArn), Effect: 'Allow' };
  return { Version: '1', Statement: [...list, use] };
}

/**
 * Keys sorted by ARN and deduplicated, packed greedily into documents of at most `maxLength`
 * characters of JSON.stringify (submit them compact). No keys → no policy.
 */
export function buildKmsPolicies(keys: KeyRef[], maxLength: number = KMS_POLICY_MAX_LENGTH): PolicyDocument[] {
  const docs: PolicyDocument[] = [];
  let chunk: KeyRef[] = [];
  for (const key of sortedUniqueKeys(keys)) {
    if (chunk.length > 0 && JSON.stringify(kmsPolicyFor([...chunk, key])).length > maxLength) {
      docs.push(kmsPolicyFor(chunk));
      chunk = [];
    }
    chunk.push(key);
    if (chunk.length === 1 && JSON.stringify(kmsPolicyFor(chunk)).length > maxLength) {
      throw new Error(`A KMS policy for key ${keyArn(key)} alone exceeds ${maxLength} characters`);
    }
  }
  if (chunk.length > 0) docs.push(kmsPolicyFor(chunk));
  return docs;
}

/** `ecs-share-<kind>-kms` for index 0, then `-2`, `-3`, … (RAM names: letters, digits, `-`). */
export function policyNameFor(roleKind: 'snapshot' | 'image', index: number): string {
  const base = `ecs-share-${roleKind}-kms`;
  return index === 0 ? base : `${base}-${index + 1}`;
}

/** The index `policyNameFor` gave this name, or undefined when it is not one of the tool's names. */
export function policyIndexFromName(roleKind: 'snapshot' | 'image', name: string): number | undefined {
  const base = `ecs-share-${roleKind}-kms`;
  if (name === base) return 0;
  const m = new RegExp(`^${base}-([2-9]|[1-9]\\d+)$`).exec(name);
  return m ? Number(m[1]) - 1 : undefined;
}

/** The keys an Allow statement of the policy names by ARN, sorted and deduplicated. */
export function keysInPolicy(doc: PolicyDocument): KeyRef[] {
  const keys: KeyRef[] = [];
  for (const s of doc.Statement) {
    if (s.Effect !== 'Allow') continue;
    for (const resource of asArray(s.Resource)) {
      const m = KEY_ARN.exec(String(resource));
      if (m) keys.push({ region: m[1], accountId: m[2], keyId: m[3] });
    }
  }
  return sortedUniqueKeys(keys);
}

/**
 * RAM keeps at most `limit` versions of a policy. When the count has reached it, the oldest
 * non-default version must go before CreatePolicyVersion; otherwise nothing does.
 */
export function versionToDelete(
  versions: Array<Omit<PolicyVersionInfo, 'document'>>,
  limit: number = POLICY_VERSION_LIMIT,
): string | undefined {
  if (versions.length < limit) return undefined;
  const age = (v: Omit<PolicyVersionInfo, 'document'>) => Date.parse(v.createDate ?? '');
  const number = (v: Omit<PolicyVersionInfo, 'document'>) =>
    Number(/^v(\d+)$/i.exec(v.versionId)?.[1] ?? Number.MAX_SAFE_INTEGER);
  const candidates = versions.filter((v) => !v.isDefault);
  candidates.sort((a, b) => {
    const ta = age(a);
    const tb = age(b);
    if (!Number.isNaN(ta) && !Number.isNaN(tb) && ta !== tb) return ta - tb;
    return number(a) - number(b);
  });
  return candidates[0]?.versionId;
}
