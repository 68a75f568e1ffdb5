// Request signature verification for the two schemes the SDKs send (sdk-mechanics.md section 5):
// ACS3-HMAC-SHA256 in the Authorization header (openapi-core clients) and V1 HMAC-SHA1 in the query (KMS rpc-client,
// openapi-core with signatureAlgorithm 'v2'). A verified request yields the Caller it was signed for.
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { ApiError, type Caller, type FullState, type Params, type StsSession } from './types';

interface SignedRequest {
  method: string;
  /** The request path as sent, still percent-encoded: `/` for RPC, the resource path for ROA (FC 3.0). Default `/`. */
  path?: string;
  query: Params; // decoded
  form: Params; // decoded form body parameters
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Parameters that belong to the V1 signing protocol, not to the API call. */
export const PROTOCOL_PARAMS = new Set([
  'Signature',
  'SignatureMethod',
  'SignatureVersion',
  'SignatureNonce',
  'SignatureType',
  'AccessKeyId',
  'SecurityToken',
  'Timestamp',
  'Format',
  'Action',
  'Version',
]);

const EMPTY_SHA256 = createHash('sha256').update('').digest('hex');

/** RFC 3986 percent-encoding as the SDKs do it: encodeURIComponent plus ! ' ( ) *. */
function pct(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** Decodes `a=b&c=d` without treating '+' as a space (the SDKs always send %20/%2B) unless `plusIsSpace`. */
export function parseUrlEncoded(text: string, plusIsSpace = false): Params {
  const out: Params = {};
  if (!text) return out;
  for (const part of text.split('&')) {
    if (!part) continue;
    const eq = part.indexOf('=');
    const rawK = eq < 0 ? part : part.slice(0, eq);
    const rawV = eq < 0 ? '' : part.slice(eq + 1);
    out[decode(rawK, plusIsSpace)] = decode(rawV, plusIsSpace);
  }
  return out;
}

function decode(s: string, plusIsSpace: boolean): string {
  const t = plusIsSpace ? s.replace(/\+/g, ' ') : s;
  try {
    return decodeURIComponent(t);
  } catch {
    throw new ApiError(400, 'InvalidParameter', `The parameter encoding of "${s}" is not valid.`);
  }
}

// ---------- key lookup and caller ----------

type KeyOwner =
  | { kind: 'root'; accountId: string }
  | { kind: 'user'; accountId: string; userName: string; userId?: string }
  | { kind: 'sts'; session: StsSession };

interface FoundKey {
  secret: string;
  owner: KeyOwner;
}

function findAccessKey(state: FullState, id: string): FoundKey | undefined {
  for (const a of state.accounts) {
    const root = a.accessKeys.find((k) => k.id === id);
    if (root) return { secret: root.secret, owner: { kind: 'root', accountId: a.uid } };
    for (const u of a.users ?? []) {
      const k = (u.accessKeys ?? []).find((x) => x.id === id);
      if (k)
        return { secret: k.secret, owner: { kind: 'user', accountId: a.uid, userName: u.userName, userId: u.userId } };
    }
  }
  const session = state.stsSessions.find((s) => s.accessKeyId === id);
  if (session) return { secret: session.secret, owner: { kind: 'sts', session } };
  return undefined;
}

/** A stable numeric id derived from a name, for users and roles whose state entry carries no id. */
export function derivedId(leading: string, ...parts: string[]): string {
  const digits = BigInt('0x' + createHash('sha256').update(parts.join('/')).digest('hex').slice(0, 15))
    .toString()
    .padStart(16, '0');
  return leading + digits.slice(-16);
}

export function roleIdOf(state: FullState, accountId: string, roleName: string): string {
  const role = state.roles.find((r) => r.accountId === accountId && r.roleName === roleName);
  return role?.roleId ?? derivedId('3', accountId, 'role', roleName);
}

function callerOf(state: FullState, owner: KeyOwner, accessKeyId: string): Caller {
  switch (owner.kind) {
    case 'root':
      return {
        accountId: owner.accountId,
        type: 'root',
        accessKeyId,
        arn: `acs:ram::${owner.accountId}:root`,
        principalId: owner.accountId,
      };
    case 'user':
      return {
        accountId: owner.accountId,
        type: 'user',
        accessKeyId,
        userName: owner.userName,
        arn: `acs:ram::${owner.accountId}:user/${owner.userName}`,
        principalId: owner.userId ?? derivedId('2', owner.accountId, 'user', owner.userName),
      };
    case 'sts': {
      const s = owner.session;
      return {
        accountId: s.accountId,
        type: 'role',
        accessKeyId,
        roleName: s.roleName,
        sessionName: s.sessionName,
        arn: `acs:ram::${s.accountId}:assumed-role/${s.roleName}/${s.sessionName}`,
        principalId: `${roleIdOf(state, s.accountId, s.roleName)}:${s.sessionName}`,
        sessionPolicy: s.policy,
      };
    }
  }
}

// ---------- verification ----------

/** Verifies the request's signature and returns who signed it; throws the ApiError the real gateway answers with. */
export function verifyRequest(state: FullState, req: SignedRequest, now: number): Caller {
  const auth = header(req.headers, 'authorization');
  const verified = auth ? verifyAcs3(state, req, auth) : verifyV1(state, req);
  const token = auth
    ? header(req.headers, 'x-acs-security-token')
    : (req.query.SecurityToken ?? req.form.SecurityToken);
  if (verified.found.owner.kind === 'sts') checkSession(verified.found.owner.session, token, now);
  return callerOf(state, verified.found.owner, verified.accessKeyId);
}

/** The access key id a request claims, without verifying anything (for the call log of rejected calls). */
export function claimedAccessKeyId(req: Pick<SignedRequest, 'headers' | 'query' | 'form'>): string | undefined {
  const auth = header(req.headers, 'authorization');
  if (auth) return /Credential=([^,\s]+)/.exec(auth)?.[1];
  return req.query.AccessKeyId ?? req.form.AccessKeyId;
}

function checkSession(session: StsSession, token: string | undefined, now: number): void {
  if (!token || token !== session.token) {
    throw new ApiError(
      400,
      'InvalidSecurityToken.MismatchWithAccessKey',
      'The security token you provided does not match the access key id.',
    );
  }
  if (Date.parse(session.expiration) <= now) {
    throw new ApiError(400, 'InvalidSecurityToken.Expired', 'The security token you provided has expired.');
  }
}

function lookup(state: FullState, accessKeyId: string): FoundKey {
  const found = findAccessKey(state, accessKeyId);
  if (!found) throw new ApiError(404, 'InvalidAccessKeyId.NotFound', 'Specified access key is not found.');
  return found;
}

const SIGNATURE_MISMATCH =
  'The request signature we calculated does not match the signature you provided. Check your key and signing method.';

function incomplete(why: string): ApiError {
  return new ApiError(400, 'IncompleteSignature', `The request signature does not conform to Aliyun standards. ${why}`);
}

/** Headers every ACS3 request must sign, so an unsigned copy cannot be swapped in. */
const MUST_SIGN = ['host', 'x-acs-action', 'x-acs-version', 'x-acs-content-sha256'];

function verifyAcs3(state: FullState, req: SignedRequest, auth: string): { accessKeyId: string; found: FoundKey } {
  const m = /^ACS3-HMAC-SHA256\s+Credential=([^,\s]+),\s*SignedHeaders=([^,\s]*),\s*Signature=([0-9a-fA-F]+)\s*$/.exec(
    auth,
  );
  if (!m) throw incomplete('The Authorization header is not an ACS3-HMAC-SHA256 header.');
  const [, accessKeyId, signedHeaderList, signature] = m;
  const signedHeaders = signedHeaderList.split(';');
  const missing = MUST_SIGN.filter((h) => !signedHeaders.includes(h));
  if (missing.length > 0) throw incomplete(`Headers not signed: ${missing.join(', ')}.`);
  for (const h of ['x-acs-security-token', 'x-acs-accesskey-id']) {
    if (header(req.headers, h) !== undefined && !signedHeaders.includes(h))
      throw incomplete(`Header not signed: ${h}.`);
  }
  const payloadHash = header(req.headers, 'x-acs-content-sha256') ?? '';
  const bodyHash = req.body.length === 0 ? EMPTY_SHA256 : createHash('sha256').update(req.body).digest('hex');
  if (payloadHash !== bodyHash)
    throw incomplete('The request body is not covered by the signature (x-acs-content-sha256).');
  const found = lookup(state, accessKeyId);
  const canonicalRequest = [
    req.method.toUpperCase(),
    canonicalUri(req.path ?? '/'),
    canonicalQuery(req.query),
    signedHeaders.map((h) => `${h}:${(header(req.headers, h) ?? '').trim()}\n`).join(''),
    signedHeaderList,
    payloadHash,
  ].join('\n');
  const stringToSign = 'ACS3-HMAC-SHA256\n' + createHash('sha256').update(canonicalRequest).digest('hex');
  const expected = createHmac('sha256', found.secret).update(stringToSign).digest('hex');
  if (!sameText(expected, signature.toLowerCase()))
    throw new ApiError(400, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  return { accessKeyId, found };
}

/** The path as openapi-core signs it: as sent, with + and * percent-encoded and %7E as ~. */
function canonicalUri(path: string): string {
  return path.replace(/\+/g, '%20').replace(/\*/g, '%2A').replace(/%7E/gi, '~');
}

function canonicalQuery(query: Params): string {
  return Object.keys(query)
    .sort()
    .map((k) => `${pct(k)}=${pct(query[k])}`)
    .join('&');
}

function verifyV1(state: FullState, req: SignedRequest): { accessKeyId: string; found: FoundKey } {
  const all: Params = { ...req.query, ...req.form };
  const signature = all.Signature;
  if (!signature) {
    throw new ApiError(
      400,
      'MissingSignature',
      'The input parameter "Signature" that is mandatory for processing this request is not supplied.',
    );
  }
  const accessKeyId = all.AccessKeyId;
  if (!accessKeyId) {
    throw new ApiError(
      400,
      'MissingAccessKeyId',
      'The input parameter "AccessKeyId" that is mandatory for processing this request is not supplied.',
    );
  }
  if ((all.SignatureMethod ?? 'HMAC-SHA1') !== 'HMAC-SHA1') {
    throw new ApiError(
      400,
      'InvalidSignatureMethod',
      `The signature method "${all.SignatureMethod}" is not supported.`,
    );
  }
  const found = lookup(state, accessKeyId);
  delete all.Signature;
  const canonical = Object.keys(all)
    .sort()
    .map((k) => `${pct(k)}=${pct(all[k])}`)
    .join('&');
  const stringToSign = `${req.method.toUpperCase()}&${pct('/')}&${pct(canonical)}`;
  const expected = createHmac('sha1', found.secret + '&')
    .update(stringToSign)
    .digest('base64');
  if (!sameText(expected, signature)) throw new ApiError(400, 'SignatureDoesNotMatch', SIGNATURE_MISMATCH);
  return { accessKeyId, found };
}

function sameText(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function header(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v.join(',') : v;
}
