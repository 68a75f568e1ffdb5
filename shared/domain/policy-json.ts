// RAM policy documents as plain data, compared by meaning: RAM hands documents back reformatted
// (whitespace, key order, a one-element array collapsed to a scalar), so string equality lies.

export type Statement = {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Principal?: { Service?: string | string[]; RAM?: string | string[] };
  Resource?: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
};

export type PolicyDocument = { Version: string; Statement: Statement[] };

export function asArray<T>(x: T | readonly T[] | undefined | null): T[] {
  if (x === undefined || x === null) return [];
  return Array.isArray(x) ? [...(x as T[])] : [x as T];
}

/**
 * Parses a policy document returned by RAM (a JSON string). A lone statement object is accepted
 * and wrapped, because the policy grammar allows it; anything that is not a JSON object is an error.
 */
export function parsePolicy(text: string): PolicyDocument {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`Policy document is not valid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (!isRecord(value)) throw new Error('Policy document is not a JSON object');
  const statements = value.Statement;
  if (statements !== undefined && !Array.isArray(statements) && !isRecord(statements)) {
    throw new Error('Policy document has a Statement that is neither an object nor an array');
  }
  return {
    ...value,
    Version: value.Version === undefined ? '1' : String(value.Version),
    Statement: asArray(statements as Statement | Statement[] | undefined),
  } as PolicyDocument;
}

/**
 * A canonical string for semantic equality: object keys sorted, arrays deduplicated and sorted,
 * a one-element array equal to its element. Not meant for display.
 */
export function canonical(value: unknown): string {
  return JSON.stringify(normalise(value));
}

export function samePolicy(a: unknown, b: unknown): boolean {
  return canonical(a) === canonical(b);
}

function normalise(value: unknown): unknown {
  if (Array.isArray(value)) {
    const byKey = new Map<string, unknown>();
    for (const item of value) {
      const norm = normalise(item);
      byKey.set(JSON.stringify(norm), norm);
    }
    const items = [...byKey.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)).map(([, v]) => v);
    return items.length === 1 ? items[0] : items;
  }
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      if (value[key] !== undefined) out[key] = normalise(value[key]);
    }
    return out;
  }
  return value;
}

export function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}
