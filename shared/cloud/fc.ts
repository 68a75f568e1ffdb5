// Function Compute 3.0 (API 2023-03-30): asynchronous invocation of another function of this account, for the
// organisation fan-out (a coordinator invoking one worker per account and region; a worker continuing itself).
// Not @alicloud/fc2: that package speaks only FC 2.0's API, where every call names a service, and functions
// deployed with the fc3 component have none (docs/organisation.md, "Why FC 3.0's API").
import type { CloudApi } from './api';

/** FC 3.0 accepts at most 128 KB of payload for an asynchronous invocation. */
const ASYNC_PAYLOAD_LIMIT = 128 * 1024;

export interface InvokerPort {
  /** Queue one asynchronous invocation; resolves with FC's request id once FC has accepted it (HTTP 202). */
  invokeAsync(region: string, functionName: string, payload: object): Promise<{ requestId?: string }>;
}

/** A payload FC would refuse: said before any call, so the caller can report it. */
export class PayloadTooLargeError extends Error {
  readonly code = 'PayloadTooLarge';
}

export class FunctionInvoker implements InvokerPort {
  constructor(
    private readonly api: CloudApi,
    /** The account whose functions are invoked (FC's endpoint names it): the function's own. */
    private readonly accountId: string,
  ) {}

  async invokeAsync(region: string, functionName: string, payload: object): Promise<{ requestId?: string }> {
    const body = Buffer.from(JSON.stringify(payload));
    if (body.length > ASYNC_PAYLOAD_LIMIT) {
      throw new PayloadTooLargeError(
        `the payload for ${functionName} is ${body.length} bytes; FC accepts at most ${ASYNC_PAYLOAD_LIMIT} for an asynchronous invocation`,
      );
    }
    const res = await this.api.invokeFunction(region, this.accountId, functionName, body, 'Async');
    return { requestId: res.requestId };
  }
}
