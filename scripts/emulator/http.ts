// HTTP plumbing of the emulator: reading a request, sending a JSON answer or an error in the products' shape, and
// the errors every product shares (an unknown action, a missing parameter, an internal failure).
import { randomUUID } from 'node:crypto';
import type http from 'node:http';
import { ApiError, type Product } from './types';

const PRODUCT_NAMES: Record<Product, string> = {
  ecs: 'Ecs',
  ram: 'Ram',
  kms: 'Kms',
  sts: 'Sts',
  resourcesharing: 'ResourceSharing',
  resourcemanager: 'ResourceManager',
  eventbridge: 'EventBridge',
  fc: 'FC',
};

export function newRequestId(): string {
  return randomUUID().toUpperCase();
}

export function missingParameter(name: string): ApiError {
  return new ApiError(
    400,
    'MissingParameter',
    `The input parameter "${name}" that is mandatory for processing this request is not supplied.`,
  );
}

export function apiNotFound(): ApiError {
  return new ApiError(404, 'InvalidAction.NotFound', 'Specified api is not found, please check your url and method.');
}

export function internalError(e: unknown, action: string): ApiError {
  process.stderr.write(`[emulator] ${action || 'request'} failed: ${(e as Error)?.stack ?? String(e)}\n`);
  return new ApiError(
    500,
    'InternalError',
    'The request processing has failed due to some unknown error, exception or failure.',
  );
}

export function sendError(
  res: http.ServerResponse,
  product: Product | null,
  requestId: string,
  err: ApiError,
  host?: string,
): void {
  if (product === 'fc') {
    // FC 3.0's error body (API reference, data structure Error), and its request id header.
    const body = { Code: err.code, Message: err.message, RequestId: requestId, ...err.extra };
    return send(res, err.status, body, { 'x-fc-request-id': requestId, ...err.headers });
  }
  const productName = product ? PRODUCT_NAMES[product] : '';
  const body = {
    RequestId: requestId,
    HostId: product ? `${product}.aliyuncs.com` : (host ?? '127.0.0.1'),
    Code: err.code,
    Message: err.message,
    Recommend: `https://api.aliyun.com/troubleshoot?q=${encodeURIComponent(err.code)}&product=${productName}&requestId=${requestId}`,
    ...err.extra,
  };
  send(res, err.status, body, err.headers);
}

export function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'content-type': 'application/json;charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

export function parseJson(body: Buffer): unknown {
  const text = body.toString('utf8');
  if (!text.trim()) throw new Error('a JSON body is required');
  return JSON.parse(text);
}

export function headerValue(req: http.IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
