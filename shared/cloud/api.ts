// The only place that talks HTTP to Alibaba Cloud. Every product goes through openapi-core's generic RPC call
// (what the generated SDK clients do internally), which keeps each function bundle small and its cold start short.
// Endpoints and credentials are configuration: ALIBABA_CLOUD_ENDPOINT_OVERRIDE routes every product to one host
// (the local emulator); otherwise the real regional endpoints are used.
import type OpenApi from '@alicloud/openapi-core';
import type Credential from '@alicloud/credentials';
import { Readable } from 'node:stream';
import { CloudError, RetryCount, classify, toCloudError } from '../errors';
import { ThrottleGates, realClock } from './throttle-gate';

type Sdk = typeof import('./sdk');
let sdk: Promise<Sdk> | undefined;
/** The official packages, loaded at the first call rather than with the bundle (cold start: docs/benchmarks.md). */
const loadSdk = (): Promise<Sdk> => (sdk ??= import('./sdk'));

/** The SDK response models the adapters cast with, by class name. */
export type ResponseModel = { [K in keyof Sdk]: K extends `${string}ResponseBody` ? K : never }[keyof Sdk];
/** A raw response body cast with the SDK's own response model (darabonba's cast, as the generated clients do). */
export async function castAs<K extends ResponseModel>(raw: unknown, model: K): Promise<InstanceType<Sdk[K]>> {
  const m = await loadSdk();
  const Model = m[model] as unknown as new (map: object) => InstanceType<Sdk[K]>;
  return m.cast(raw, new Model({}));
}

/** Time kept back from every wait and timeout so the function can still report. */
const RESERVE_MS = 2_000;
/** The actions that only read (they may wait in a throttling line: throttle-gate.ts). */
const READ_ACTION = /^(Describe|List|Get|Query)/;
/** ECS throttles per API per minute; a retry without retry-after must be able to outlast one window. */
const THROTTLE_WINDOW_MS = 60_000;

export type Product = 'ecs' | 'ram' | 'kms' | 'sts' | 'resourcesharing' | 'resourcemanager' | 'eventbridge' | 'fc';

export interface Credentials {
  accessKeyId: string;
  accessKeySecret: string;
  securityToken?: string;
}

const VERSIONS: Record<Product, string> = {
  ecs: '2014-05-26',
  ram: '2015-05-01',
  kms: '2016-01-20',
  sts: '2015-04-01',
  resourcesharing: '2020-01-10',
  resourcemanager: '2020-03-31',
  eventbridge: '2020-04-01',
  fc: '2023-03-30',
};

/** What openapi-core asks a `credential` for before each request. */
export interface CredentialProvider {
  getCredential(): Promise<{ accessKeyId: string; accessKeySecret: string; securityToken?: string; type: string }>;
}

export interface ApiOptions {
  endpointOverride?: string;
  /** Static or STS credentials (the function's role from the FC context); else the default Alibaba Cloud credential chain. */
  credentials?: Credentials;
  /**
   * Credentials that change during the invocation (a member account's assumed role, organisation mode): asked before
   * every request, so a refreshed session is used at once. Takes precedence over the default chain, not over `credentials`.
   */
  credentialProvider?: CredentialProvider;
  /** Milliseconds left before the function times out; retries stop in time. */
  remainingMs?: () => number;
  maxAttempts?: number;
  /**
   * The throttling window assumed when a service throttles without x-acs-retry-after (ECS documents minute windows:
   * 60,000). A call keeps trying for two windows and 10 s, within the function's time.
   */
  throttleWindowMs?: number;
  readTimeoutMs?: number;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

export interface CallRecord {
  product: Product;
  action: string;
  attempt: number;
  ok: boolean;
  code?: string;
}

function endpointFor(
  product: Product,
  region: string,
  override?: string,
  accountId?: string,
): { host: string; protocol: 'http' | 'https' } {
  if (override) {
    const url = new URL(override);
    return { host: url.host, protocol: url.protocol === 'http:' ? 'http' : 'https' };
  }
  switch (product) {
    case 'ecs':
      // The ECS SDK's endpoint map sends cn-hangzhou to ecs-cn-hangzhou.aliyuncs.com.
      return {
        host: region === 'cn-hangzhou' ? 'ecs-cn-hangzhou.aliyuncs.com' : `ecs.${region}.aliyuncs.com`,
        protocol: 'https',
      };
    case 'ram':
      return { host: 'ram.aliyuncs.com', protocol: 'https' };
    case 'resourcemanager':
      return { host: 'resourcemanager.aliyuncs.com', protocol: 'https' };
    case 'fc':
      // FC 3.0's endpoint names the account whose functions it serves (functioncompute/endpoints).
      return { host: `${accountId}.${region}.fc.aliyuncs.com`, protocol: 'https' };
    default:
      return { host: `${product}.${region}.aliyuncs.com`, protocol: 'https' };
  }
}

export class CloudApi {
  private readonly clients = new Map<string, OpenApi>();
  /** Calls throttled in windows wait in line per action and region, oldest first (throttle-gate.ts). */
  private readonly gates: ThrottleGates;
  private credential?: Credential;
  readonly log: CallRecord[] = [];

  constructor(private readonly opts: ApiOptions = {}) {
    this.gates = new ThrottleGates(this.throttleWindowMs(), { ...realClock, random: opts.random ?? Math.random });
  }

  private throttleWindowMs(): number {
    return this.opts.throttleWindowMs ?? THROTTLE_WINDOW_MS;
  }

  /**
   * How long a call keeps trying through throttling without retry-after: two windows and a little (a call throttled
   * early in a spent window is served in the next one, after the calls that waited longer), within the time left.
   */
  private throttleGiveUpMs(): number {
    return 2 * this.throttleWindowMs() + 10_000;
  }

  /** Until when a call started at `since` may wait in a throttling line: its give-up, within the time left. */
  private waitDeadline(since: number): number {
    const left = this.opts.remainingMs?.();
    const end = since + this.throttleGiveUpMs();
    return left === undefined ? end : Math.min(end, Date.now() + left - RESERVE_MS - 1_000);
  }

  private client(
    product: Product,
    region: string,
    { OpenApi, $OpenApiUtil, Credential }: Sdk,
    accountId = '',
  ): OpenApi {
    const key = `${product}/${region}/${accountId}`;
    let c = this.clients.get(key);
    if (c) return c;
    const { host, protocol } = endpointFor(product, region, this.opts.endpointOverride, accountId);
    const creds = this.opts.credentials;
    if (!creds && !this.opts.credentialProvider) this.credential ??= new Credential();
    c = new OpenApi(
      new $OpenApiUtil.Config({
        ...(creds
          ? {
              accessKeyId: creds.accessKeyId,
              accessKeySecret: creds.accessKeySecret,
              securityToken: creds.securityToken,
            }
          : { credential: (this.opts.credentialProvider as unknown as Credential | undefined) ?? this.credential }),
        regionId: region,
        endpoint: host,
        protocol,
        readTimeout: this.opts.readTimeoutMs ?? 10_000,
        connectTimeout: 5_000,
        // KMS's own SDK signs with the V1 HMAC-SHA1 scheme; keep to what the real KMS endpoint is known to accept.
        ...(product === 'kms' ? { signatureAlgorithm: 'v2' } : {}),
      }),
    );
    this.clients.set(key, c);
    return c;
  }

  /**
   * One RPC call. Reads, idempotent writes and deletes are retried here (throttling, 5xx, timeouts) with backoff;
   * `resend: false` marks a write whose document was computed from an earlier read (UpdateRole, CreatePolicyVersion)
   * or a create whose lost answer must be re-observed: it is never resent blindly, the caller re-reads and decides.
   * `body: true` sends the parameters as a form body instead of the query (what the SDKs do for large ones, e.g.
   * EventBridge's EventList). T is the shape of the raw body the caller reads (every field optional: read defensively).
   */
  async call<T = Partial<Record<string, unknown>>>(
    product: Product,
    action: string,
    params: Record<string, unknown>,
    region: string,
    opts: { resend?: boolean; body?: boolean } = {},
  ): Promise<T> {
    const m = await loadSdk();
    const apiParams = new m.$OpenApiUtil.Params({
      action,
      version: VERSIONS[product],
      protocol: 'HTTPS',
      pathname: '/',
      method: 'POST',
      authType: 'AK',
      style: 'RPC',
      reqBodyType: 'formData',
      bodyType: 'json',
    });
    const clean = Object.fromEntries(Object.entries(params).filter(([, v]) => v !== undefined && v !== null));
    const started = Date.now();
    const gate = `${product}|${action}|${region}`;
    // Let go by the line just now (as its probe, with it, or at its deadline): go. Only reads wait in line: a write
    // may be merged into a read made just before (a role document, the image's share list, the grant record's tags),
    // and the merge is safe only while that read is fresh (shared/share/context.ts); throttled, a write backs off
    // on its own as before (waitBeforeRetry), and its caller re-reads when it may not be resent.
    const read = READ_ACTION.test(action);
    let inLine = !read;
    const tries = new RetryCount();
    for (let attempt = 1; ; attempt++) {
      try {
        if (!inLine) await this.gates.turn(gate, started, this.waitDeadline(started));
        inLine = false;
        const res = await this.client(product, region, m).callApi(
          apiParams,
          new m.$OpenApiUtil.OpenApiRequest(
            opts.body ? { body: m.OpenApiUtil.query(clean) } : { query: m.OpenApiUtil.query(clean) },
          ),
          new m.RuntimeOptions(this.timeouts()),
        );
        this.log.push({ product, action, attempt, ok: true });
        this.gates.passed(gate);
        return (res.body ?? {}) as T;
      } catch (raw) {
        const err = toCloudError(raw, action);
        this.log.push({ product, action, attempt, ok: false, code: err.code });
        // A read throttled in a window (not told when to come back) waits in its action's line, until its time is up.
        if (read && /Throttling/i.test(err.code) && err.retryAfterMs === undefined) {
          const deadline = this.waitDeadline(started);
          if (deadline > Date.now()) {
            await this.gates.throttled(gate, started, deadline);
            inLine = true;
            continue;
          }
          this.gates.left(gate);
          throw err;
        }
        this.gates.left(gate);
        if (opts.resend === false || !(await this.waitBeforeRetry(err, tries.of(err), started))) throw err;
      }
    }
  }

  /**
   * FC 3.0 InvokeFunction (ROA: `POST /2023-03-30/functions/{name}/invocations`), with the SDK's own request and
   * header models and the same signing, timeouts and retries as every RPC call. `accountId` picks the endpoint (FC's
   * host names the account). A retried asynchronous invocation may run twice: callers invoke only idempotent work.
   */
  async invokeFunction(
    region: string,
    accountId: string,
    functionName: string,
    payload: Buffer,
    invocationType: 'Sync' | 'Async',
  ): Promise<{ statusCode: number; requestId?: string }> {
    const m = await loadSdk();
    const request = new m.InvokeFunctionRequest({ body: Readable.from([payload]) });
    const headers = new m.InvokeFunctionHeaders({ xFcInvocationType: invocationType });
    request.validate();
    headers.validate();
    const apiParams = new m.$OpenApiUtil.Params({
      action: 'InvokeFunction',
      version: VERSIONS.fc,
      protocol: 'HTTPS',
      pathname: `/2023-03-30/functions/${encodeURIComponent(functionName)}/invocations`,
      method: 'POST',
      authType: 'AK',
      style: 'ROA',
      reqBodyType: 'json',
      bodyType: 'binary',
    });
    const started = Date.now();
    const tries = new RetryCount();
    for (let attempt = 1; ; attempt++) {
      try {
        const res = await this.client('fc', region, m, accountId).callApi(
          apiParams,
          new m.$OpenApiUtil.OpenApiRequest({
            headers: { 'x-fc-invocation-type': String(headers.xFcInvocationType) },
            // A fresh stream per attempt: openapi-core reads it to sign the body.
            stream: Readable.from([payload]),
          }),
          new m.RuntimeOptions(this.timeouts()),
        );
        (res.body as Readable | undefined)?.resume?.(); // the answer's body is not read (empty for Async)
        this.log.push({ product: 'fc', action: 'InvokeFunction', attempt, ok: true });
        const h = (res.headers ?? {}) as Record<string, string>;
        return { statusCode: Number(res.statusCode), requestId: h['x-fc-request-id'] || undefined };
      } catch (raw) {
        const err = toCloudError(raw, 'InvokeFunction');
        this.log.push({ product: 'fc', action: 'InvokeFunction', attempt, ok: false, code: err.code });
        if (!(await this.waitBeforeRetry(err, tries.of(err), started))) throw err;
      }
    }
  }

  /** Each call's timeouts are capped by the time the function has left, so a hung call cannot eat the report. */
  private timeouts(): { readTimeout: number; connectTimeout: number } {
    const read = this.opts.readTimeoutMs ?? 10_000;
    const left = this.opts.remainingMs?.();
    const cap = left === undefined ? read : Math.max(1_000, left - RESERVE_MS);
    return { readTimeout: Math.min(read, cap), connectTimeout: Math.min(5_000, cap) };
  }

  /**
   * The retry decision for one failed attempt: false when the error is not retryable or no attempt or time is left;
   * else it waits and returns true. Throttling with x-acs-retry-after waits exactly that (plus a little jitter so
   * callers spread out); throttling without it backs off up to 10 s for as long as a per-minute window can last
   * (ECS throttles per minute: "throttled at minute T, the operation can continue as of minute T+1"); anything else
   * retryable backs off exponentially with full jitter, a few times. Always within the function's remaining time.
   */
  async waitBeforeRetry(err: CloudError, attempt: number, since: number = Date.now()): Promise<boolean> {
    if (classify(err) !== 'retryable') return false;
    const maxAttempts = this.opts.maxAttempts ?? 6;
    const sleep = this.opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    const random = this.opts.random ?? Math.random;
    const throttled = /Throttling/i.test(err.code);
    const told = throttled && err.retryAfterMs !== undefined;
    let wait: number;
    if (told) {
      if (attempt >= maxAttempts * 5) return false;
      wait = err.retryAfterMs! + Math.floor(random() * 50);
    } else if (throttled) {
      if (Date.now() - since > this.throttleGiveUpMs()) return false;
      wait = 500 + Math.floor(random() * Math.min(10_000, 500 * 2 ** (attempt - 1)));
    } else {
      if (attempt >= maxAttempts) return false;
      wait = Math.floor(random() * Math.min(8_000, 200 * 2 ** (attempt - 1)));
    }
    const left = this.opts.remainingMs?.();
    if (left !== undefined && left < wait + RESERVE_MS) return false; // leave time to report
    await sleep(wait);
    return true;
  }

  /** HTTP attempts made so far, retries included. */
  countCalls(): number {
    return this.log.length;
  }
}

export { CloudError };
