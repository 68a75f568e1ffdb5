// The two paging styles the APIs use: opaque NextToken + MaxResults, and PageNumber + PageSize.
import { ApiError, intParam, type Params } from './types';

interface TokenPage<T> {
  items: T[];
  nextToken: string; // '' at the end, as ECS and Resource Sharing return it
}

/** Opaque to clients; the offset is wrapped so that clients cannot rely on it being a number. */
function encodeToken(offset: number): string {
  return Buffer.from(JSON.stringify({ o: offset, v: 1 })).toString('base64url');
}

function decodeToken(token: string): number {
  try {
    const parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as { o?: unknown; v?: unknown };
    if (parsed.v === 1 && Number.isInteger(parsed.o) && (parsed.o as number) >= 0) return parsed.o as number;
  } catch {
    // fall through to the error below
  }
  throw new ApiError(400, 'InvalidParameter.NextToken', 'The specified parameter "NextToken" is not valid.');
}

export function pageByToken<T>(items: T[], params: Params, defaultMax: number, maxMax = 100): TokenPage<T> {
  const max = intParam(params, 'MaxResults', defaultMax, 1, maxMax);
  const start = params.NextToken ? decodeToken(params.NextToken) : 0;
  const end = start + max;
  return { items: items.slice(start, end), nextToken: end < items.length ? encodeToken(end) : '' };
}

interface NumberPage<T> {
  items: T[];
  pageNumber: number;
  pageSize: number;
}

export function pageByNumber<T>(items: T[], params: Params, defaultSize = 10, maxSize = 100): NumberPage<T> {
  const pageNumber = intParam(params, 'PageNumber', 1, 1);
  const pageSize = intParam(params, 'PageSize', defaultSize, 1, maxSize);
  const start = (pageNumber - 1) * pageSize;
  return { items: items.slice(start, start + pageSize), pageNumber, pageSize };
}
