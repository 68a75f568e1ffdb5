// The /_emulator/ admin API (no signature; no SDK action can reach it): state, options, call log, faults, rate
// limits, throttling, latency, events, published events, service credentials and Function Compute invocations, as
// methods of the Emulator (api.ts).
import type http from 'node:http';
import type { CallFilter, PublishedFilter } from './api';
import type { EventDeliveryOptions } from './events';
import type { FaultRule, RateLimit, ThrottlingOptions } from './faults';
import type { FcInvocationFilter } from './services/fc';
import { parseJson, send } from './http';
import type { EmulatorCore } from './server';
import { InvalidStateError, snapshotState } from './state';
import { ApiError, type EmulatorOptions, type EmulatorState, type FcFunction, type Product } from './types';

export async function admin(
  core: EmulatorCore,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  path: string,
  rawQuery: string,
  body: Buffer,
): Promise<void> {
  const route = `${req.method} ${path.replace(/\/+$/, '')}`;
  const query = new URLSearchParams(rawQuery);
  try {
    const json = () => parseJson(body);
    switch (route) {
      case 'GET /_emulator/health':
        return send(res, 200, { ok: true });
      case 'GET /_emulator/state':
        return send(res, 200, snapshotState(core.state));
      case 'PUT /_emulator/state':
        core.setState(json() as EmulatorState);
        return send(res, 200, snapshotState(core.state));
      case 'PUT /_emulator/options':
        return send(res, 200, core.setOptions(json() as Partial<EmulatorOptions>));
      case 'GET /_emulator/calls':
        return send(res, 200, { calls: core.calls(callFilterOf(query)) });
      case 'DELETE /_emulator/calls':
        core.clearCalls();
        return send(res, 200, { calls: [] });
      case 'GET /_emulator/faults':
        return send(res, 200, { faults: core.faults.list() });
      case 'POST /_emulator/faults': {
        const input = json();
        const rules = Array.isArray(input) ? input : [input];
        const added = rules.map((r) => core.faults.add(r as FaultRule));
        return send(res, 200, { added, faults: core.faults.list() });
      }
      case 'DELETE /_emulator/faults':
        core.faults.clear();
        return send(res, 200, { faults: [] });
      case 'GET /_emulator/rate-limits':
        return send(res, 200, core.faults.rateLimits());
      case 'PUT /_emulator/rate-limits':
        core.faults.replaceRateLimits(json() as Record<string, number | RateLimit>);
        return send(res, 200, core.faults.rateLimits());
      case 'GET /_emulator/throttling':
        return send(res, 200, core.faults.throttlingOptions());
      case 'PUT /_emulator/throttling':
        return send(res, 200, core.faults.setThrottling(json() as Partial<ThrottlingOptions>));
      case 'GET /_emulator/latency':
        return send(res, 200, { ms: core.faults.globalLatencyMs });
      case 'PUT /_emulator/latency': {
        const ms = Number((json() as { ms?: unknown }).ms);
        if (!Number.isFinite(ms) || ms < 0) throw new Error('"ms" must be a number >= 0');
        core.faults.globalLatencyMs = ms;
        return send(res, 200, { ms });
      }
      case 'GET /_emulator/events':
        return send(res, 200, {
          events: core.bus.recent(),
          delivery: core.bus.deliveryOptions(),
          stats: core.bus.stats(),
          deadLetters: core.bus.deadLetters(),
          lost: core.bus.lost().map((e) => e.id),
        });
      case 'GET /_emulator/events/attempts':
        return send(res, 200, { attempts: core.bus.attempts() });
      case 'PUT /_emulator/events':
        return send(res, 200, { delivery: core.bus.setDelivery(json() as EventDeliveryOptions) });
      case 'POST /_emulator/events/flush':
        await core.bus.flush();
        return send(res, 200, { flushed: true });
      case 'GET /_emulator/published': {
        const f: PublishedFilter = {};
        for (const k of ['accountId', 'bus', 'region', 'type'] as const) if (query.has(k)) f[k] = query.get(k)!;
        return send(res, 200, { published: core.published(f) });
      }
      case 'DELETE /_emulator/published':
        core.clearPublished();
        return send(res, 200, { published: [] });
      case 'POST /_emulator/service-credentials': {
        const b = json() as { accountId?: string; roleName?: string; service?: string };
        if (!b.accountId || !b.roleName) throw new Error('"accountId" and "roleName" are required');
        return send(res, 200, core.issueServiceCredentials(b.accountId, b.roleName, b.service));
      }
      case 'GET /_emulator/fc/invocations': {
        const f: FcInvocationFilter = {};
        for (const k of ['requestId', 'functionName', 'accountId', 'region'] as const)
          if (query.has(k)) f[k] = query.get(k)!;
        if (query.has('type')) f.type = query.get('type') as FcInvocationFilter['type'];
        if (query.has('status')) f.status = query.get('status') as FcInvocationFilter['status'];
        return send(res, 200, { invocations: core.fc.invocations(f) });
      }
      case 'GET /_emulator/fc/failures':
        return send(res, 200, { failures: core.fc.failures() });
      case 'POST /_emulator/fc/idle': {
        const b = (body.length > 0 ? json() : {}) as { timeoutMs?: number };
        await core.fc.waitForIdle(b.timeoutMs);
        return send(res, 200, { idle: true });
      }
      case 'POST /_emulator/fc/functions':
        return send(res, 200, { function: core.registerFunction(json() as FcFunction) });
    }
    const faultId = /^DELETE \/_emulator\/faults\/(\d+)$/.exec(route);
    if (faultId) return send(res, core.faults.remove(Number(faultId[1])) ? 200 : 404, { faults: core.faults.list() });
    return send(res, 404, { Code: 'NotFound', Message: `no admin route ${route}` });
  } catch (e) {
    if (e instanceof ApiError) return send(res, e.status, { Code: e.code, Message: e.message });
    // Bad JSON, an invalid state document or an invalid fault rule: the admin caller's mistake.
    return send(res, 400, {
      Code: e instanceof InvalidStateError ? 'InvalidState' : 'InvalidRequest',
      Message: (e as Error).message,
    });
  }
}

function callFilterOf(q: URLSearchParams): CallFilter {
  const f: CallFilter = {};
  if (q.has('since')) f.since = Number(q.get('since'));
  if (q.has('action')) f.action = q.get('action')!;
  if (q.has('product')) f.product = q.get('product') as Product;
  if (q.has('accountId')) f.accountId = q.get('accountId')!;
  if (q.has('status')) f.status = Number(q.get('status'));
  return f;
}
