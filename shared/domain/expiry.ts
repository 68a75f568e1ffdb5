// `share-until`: when a share ends. An ISO date (`2026-12-31`: the share holds through that whole day, UTC) or a
// date-time with its zone (`2026-12-31T18:00:00Z`, `2026-12-31T18:00+08:00`); a time without a zone is ambiguous,
// so refused. Once it has passed, the resource is treated as if its share tags named nobody.

export type Expiry = { at: number; text: string } | { error: string };

const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2}))?(Z|[+-]\d{2}:\d{2})$/;

function validDay(y: number, m: number, d: number): boolean {
  const t = new Date(Date.UTC(y, m - 1, d));
  return t.getUTCFullYear() === y && t.getUTCMonth() === m - 1 && t.getUTCDate() === d;
}

/** When the share ends (epoch ms, exclusive), or why the value is not a date. */
export function parseExpiry(raw: string): Expiry {
  const text = raw.trim();
  const shown = text.length > 40 ? `${text.slice(0, 40)}…` : text;
  const bad = (why: string): Expiry => ({
    error: `"${shown}" is not a date: ${why}; write 2026-12-31 (through that day, UTC) or 2026-12-31T18:00:00Z`,
  });
  let m = DATE.exec(text);
  if (m) {
    const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
    if (!validDay(y, mo, d)) return bad('no such day');
    return { at: Date.UTC(y, mo - 1, d + 1), text };
  }
  m = DATE_TIME.exec(text);
  if (!m)
    return bad(
      /T\d{2}:\d{2}(:\d{2})?$/.test(text) ? 'a time needs its zone (Z or +08:00)' : 'not an ISO date or date-time',
    );
  const [y, mo, d, h, mi, s] = [1, 2, 3, 4, 5, 6].map((i) => Number(m![i] ?? 0));
  if (!validDay(y, mo, d) || h > 23 || mi > 59 || s > 59) return bad('no such day or time');
  const zone =
    m[7] === 'Z' ? 0 : (m[7].startsWith('-') ? -1 : 1) * (Number(m[7].slice(1, 3)) * 60 + Number(m[7].slice(4, 6)));
  return { at: Date.UTC(y, mo - 1, d, h, mi, s) - zone * 60_000, text };
}
