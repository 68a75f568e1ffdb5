// The status tag (`ecs-share:status`): what happened to the resource, in a value a person reads at a glance in the
// ECS console (at most 128 characters): `shared 3 | 2026-12-01T21:00Z`, `pending 1 invitation | …`,
// `refused ServiceKeyEncrypted: … | …`, `failed Throttling.User, will retry | …`. The time is when the status last
// changed: a run that finds the same status writes nothing (a replay stays at zero writes).
import type { ResourceOutcome } from './model';
import { isAccountUid } from '../domain/ids';

const MAX = 128;
const STAMP = ' | 2026-12-01T21:00Z'.length;

/** `YYYY-MM-DDTHH:MMZ` */
const minuteStamp = (ms: number): string => `${new Date(ms).toISOString().slice(0, 16)}Z`;

const plural = (n: number, one: string, many = `${one}s`) => `${n} ${n === 1 ? one : many}`;

/** ECS refuses tag values with a URL scheme or a reserved prefix; keep one line. */
function clean(text: string): string {
  return text
    .replace(/https?:\/\//gi, '')
    .replace(/\s+/g, ' ')
    .replace(/^(acs:|aliyun)/i, '')
    .trim();
}

/**
 * The status of an outcome, without its time; undefined when the resource asks nothing any more (the status tag
 * goes with the share tags). `until`: the share's end as written in its tag.
 */
export function statusBody(o: ResourceOutcome, until?: { text: string; expired: boolean }): string | undefined {
  const n = o.targets.length;
  if (until?.expired && n === 0 && o.outcome !== 'failed') return `expired ${until.text}`;
  const upTo = until && !until.expired ? ` until ${until.text}` : '';
  let body: string;
  switch (o.outcome) {
    case 'shared':
    case 'unchanged':
      if (n === 0) return undefined;
      body = `shared ${n}${o.copy ? ` through its copy ${o.copy}` : ''}${upTo}`;
      break;
    case 'revoked':
      return undefined;
    case 'pending':
      if (o.error?.code === 'NotReady') body = `pending: not ready yet${upTo}`;
      else if (o.copy) body = `pending: copying to ${o.copy}${upTo}`;
      else {
        const waiting = o.pending ?? [];
        const invitations = waiting.filter(isAccountUid).length;
        const parts = [
          invitations ? plural(invitations, 'invitation') : '',
          waiting.length - invitations ? plural(waiting.length - invitations, 'association') : '',
        ].filter(Boolean);
        body = parts.length ? `pending ${parts.join(', ')}${upTo}` : `pending: moving to a directory or folder${upTo}`;
      }
      break;
    case 'refused':
      body = `refused ${o.error?.code ?? 'Refused'}: ${o.reason ?? o.error?.message ?? ''}`;
      break;
    case 'failed':
      body = `failed ${o.error?.code ?? 'Error'}${o.error?.retryable ? ', will retry' : ''}`;
      break;
  }
  body = clean(body);
  return body.length > MAX - STAMP ? `${body.slice(0, MAX - STAMP - 1)}…` : body;
}

/** The status without its time, as written (`<body> | <time>`). */
export function bodyOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const cut = value.lastIndexOf(' | ');
  return cut < 0 ? value : value.slice(0, cut);
}

export const statusValue = (body: string, nowMs: number): string => `${body} | ${minuteStamp(nowMs)}`;
