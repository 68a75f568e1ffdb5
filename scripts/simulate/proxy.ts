// A pass-through HTTP proxy between the product and the emulator, for what the simulator must decide per function
// invocation rather than per action (emulator fault rules match actions, not callers): a crash of one in-process
// invocation right after its Nth applied write. The answer is lost, and every later call of that invocation is
// refused at once, as if the process were gone (a SIGKILL, without a child process per invocation).
// Only the product's calls go through it; the owner's and the recipients' SDK clients talk to the emulator directly.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isWriteAction } from '../emulator';

export interface CrashPlan {
  /** Crash right after this many of the invocation's writes were applied (1-based). */
  afterWrites: number;
  /** Or right after the invocation's first write of this action. */
  afterAction?: string;
  writes: number;
  crashed: boolean;
  /** Called once, at the moment of the crash (the simulator freezes the checkpoint file there). */
  onCrash?: () => void;
}

export interface Proxy {
  endpoint: string;
  /** Crash plans by the invocation's access key id. */
  crashes: Map<string, CrashPlan>;
  stats: { crashes: number; writes: number };
  stop(): Promise<void>;
}

function accessKeyOf(headers: http.IncomingHttpHeaders, url: URL, body: string): string | undefined {
  const auth = String(headers.authorization ?? '');
  const m = /Credential=([^,\s]+)/.exec(auth);
  if (m) return m[1];
  return url.searchParams.get('AccessKeyId') ?? new URLSearchParams(body).get('AccessKeyId') ?? undefined;
}

function actionOf(headers: http.IncomingHttpHeaders, url: URL, body: string): string {
  return String(
    headers['x-acs-action'] ?? url.searchParams.get('Action') ?? new URLSearchParams(body).get('Action') ?? '',
  );
}

export async function startProxy(target: string): Promise<Proxy> {
  const upstream = new URL(target);
  const crashes = new Map<string, CrashPlan>();
  const stats = { crashes: 0, writes: 0 };

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const url = new URL(req.url ?? '/', 'http://proxy');
      const text = body.toString('utf8');
      const key = accessKeyOf(req.headers, url, text);
      const action = actionOf(req.headers, url, text);
      const crash = key ? crashes.get(key) : undefined;
      if (crash?.crashed) {
        // The process is gone: nothing it sends arrives. Refused terminally so the dead invocation ends at once.
        res.writeHead(403, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            RequestId: 'sim-crashed',
            Code: 'InvalidAccessKeyId.NotFound',
            Message: 'Specified access key is not found (the simulated function instance crashed).',
          }),
        );
        return;
      }
      const up = http.request(
        { host: upstream.hostname, port: upstream.port, method: req.method, path: req.url, headers: req.headers },
        (ures) => {
          const out: Buffer[] = [];
          ures.on('data', (c) => out.push(c));
          ures.on('end', () => {
            const status = ures.statusCode ?? 0;
            const write = status === 200 && isWriteAction(action);
            if (write) stats.writes++;
            if (crash?.crashed) {
              // Sent before the process died, applied, answered to nobody.
              res.destroy();
              return;
            }
            if (write && crash) {
              crash.writes++;
              if (crash.afterAction ? action === crash.afterAction : crash.writes >= crash.afterWrites) {
                crash.crashed = true;
                stats.crashes++;
                crash.onCrash?.();
                res.destroy();
                return;
              }
            }
            res.writeHead(status, ures.headers);
            res.end(Buffer.concat(out));
          });
          ures.on('error', () => res.destroy());
        },
      );
      up.on('error', () => res.destroy());
      up.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.address() as AddressInfo).port;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    crashes,
    stats,
    stop: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
