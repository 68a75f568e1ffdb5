// Process-crash harness: run a function's deployable bundle as a child process (what one Function Compute instance
// is) against the world's emulator, and SIGKILL it right after its Nth write is applied, before that write's answer
// is sent. Nothing the child would have done next happens: its other queued calls are never applied.
//
//   const total = await countWrites(w, 'on-tag', event);           // writes of a clean run (state restored after)
//   for (let n = 1; n <= total; n++) {
//     const saved = w.emu.getState();
//     const run = await runUntilCrash(w, 'on-tag', event, { killAfterWrite: n });
//     // run.killed, run.writes[n - 1] is the last write applied; then redeliver, reconcile, check invariants
//     w.emu.setState(saved);
//   }
//
// The bundle is built with the shipping esbuild settings (scripts/build.ts) from the current sources, once per test
// process, into a temporary folder: no stale dist/, and the same code s.yaml deploys.
import { fork, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { buildFunction } from '../../scripts/build';
import type { AppliedWrite } from '../../scripts/emulator';
import type { World } from './world';

export type FunctionName = 'on-tag' | 'share' | 'reconcile';

export interface CrashOptions {
  /** SIGKILL the child right after its Nth write (1-based) is applied; absent or 0: let it run to the end. */
  killAfterWrite?: number;
  /** Or decide per write: kill right after the first write for which this returns true (`index` is 1-based). */
  killWhen?: (write: AppliedWrite, index: number) => boolean;
  /** Extra environment for the child, over the test process's (which carries the world's endpoint and settings). */
  env?: Record<string, string>;
  /** Kill the child and reject if it has not finished by then (default 60 s). */
  timeoutMs?: number;
}

export interface CrashRun {
  /** True when the harness killed the child after a write; false when the invocation ended by itself. */
  killed: boolean;
  /** How many of the child's writes the emulator applied (every one, including the last before the kill). */
  writesApplied: number;
  /** Those writes, in the order they were applied. */
  writes: AppliedWrite[];
  /** The handler's return value, when it returned. */
  result?: any;
  /** The handler's rejection, when it threw (on-tag throws to have EventBridge redeliver). */
  error?: { name: string; message: string; code?: string };
  /** The access key of the invocation's STS credentials (every call of the child is signed with it). */
  accessKeyId: string;
}

const bundles = new Map<string, Promise<string>>();
let workDir: string | undefined;

function tempDir(): string {
  if (!workDir) {
    const dir = (workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-crash-')));
    process.once('exit', () => fs.rmSync(dir, { recursive: true, force: true }));
  }
  return workDir;
}

/** The child's entry point: load the bundle, run one invocation from the IPC message, report back the same way. */
const RUNNER = `
const { handler } = require(process.argv[2]);
process.once('message', async ({ event, context }) => {
  let reply;
  try {
    reply = { ok: true, result: await handler(Buffer.from(event), context) };
  } catch (e) {
    reply = { ok: false, error: { name: e && e.name || 'Error', message: e && e.message || String(e), code: e && e.code } };
  }
  process.send(reply, () => process.exit(0));
});
process.send({ ready: true });
`;

function runnerFile(): string {
  const file = path.join(tempDir(), 'runner.cjs');
  if (!fs.existsSync(file)) fs.writeFileSync(file, RUNNER);
  return file;
}

/** Builds (once per test process) the function's bundle and returns its path. */
function bundleOf(fn: FunctionName): Promise<string> {
  let p = bundles.get(fn);
  if (!p) {
    p = buildFunction(fn, path.join(tempDir(), 'dist')).then((r) => r.file);
    bundles.set(fn, p);
  }
  return p;
}

/**
 * Invokes `fn` once in a child process with a fresh FC-shaped context (new STS credentials of the function role),
 * and kills it with SIGKILL right after its `killAfterWrite`-th write is applied. The write's answer is never
 * delivered, and the child's calls still waiting in the emulator are never applied (Emulator.severClient).
 * Only the child's own calls count as its writes (those signed with its STS key).
 */
export async function runUntilCrash(
  world: World,
  fn: FunctionName,
  event: unknown,
  opts: CrashOptions = {},
): Promise<CrashRun> {
  const bundle = await bundleOf(fn);
  const context = world.context(fn);
  const accessKeyId = context.credentials!.accessKeyId!;
  const writes: AppliedWrite[] = [];
  let killed = false;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();

  const shouldKill = (w: AppliedWrite, i: number) =>
    (opts.killAfterWrite !== undefined && opts.killAfterWrite > 0 && i === opts.killAfterWrite) ||
    (opts.killWhen?.(w, i) ?? false);

  const off = world.emu.onWrite(async (w) => {
    if (w.caller.accessKeyId !== accessKeyId || killed) return;
    writes.push(w);
    if (!shouldKill(w, writes.length)) return;
    killed = true;
    // Sever first: nothing the child already sent is applied after this write. Then the kill, and wait for the exit.
    world.emu.severClient(accessKeyId);
    child?.kill('SIGKILL');
    await exited;
  });

  try {
    const outcome = await new Promise<{ ok: boolean; result?: any; error?: CrashRun['error'] } | undefined>(
      (resolve, reject) => {
        child = fork(runnerFile(), [bundle], {
          env: { ...process.env, ...opts.env },
          execArgv: ['--enable-source-maps'],
          stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
        });
        let stderr = '';
        child.stderr?.on('data', (d: Buffer) => {
          stderr += d.toString();
          if (stderr.length > 20_000) stderr = stderr.slice(-20_000);
        });
        let reply: { ok: boolean; result?: any; error?: CrashRun['error'] } | undefined;
        exited = new Promise<void>((done) =>
          child!.once('exit', (code, signal) => {
            clearTimeout(timer);
            done();
            if (killed) resolve(undefined);
            else if (reply) resolve(reply);
            else reject(new Error(`${fn} child exited (code ${code}, signal ${signal}) without an answer:\n${stderr}`));
          }),
        );
        const timer = setTimeout(() => {
          child?.kill('SIGKILL');
          reject(new Error(`${fn} child did not finish within ${opts.timeoutMs ?? 60_000} ms:\n${stderr}`));
        }, opts.timeoutMs ?? 60_000);
        child.on('error', reject);
        child.on('message', (m: any) => {
          if (m?.ready) child!.send({ event: typeof event === 'string' ? event : JSON.stringify(event), context });
          else reply = m;
        });
      },
    );
    await exited;
    return {
      killed,
      writesApplied: writes.length,
      writes,
      accessKeyId,
      ...(outcome?.ok ? { result: outcome.result } : {}),
      ...(outcome && !outcome.ok ? { error: outcome.error } : {}),
    };
  } finally {
    off();
  }
}

/**
 * The number of writes one clean invocation makes, so a test can crash it at every write (n = 1..total).
 * Runs in the world as it is and then puts the emulator state back (pass keepState to keep what it wrote).
 */
export async function countWrites(
  world: World,
  fn: FunctionName,
  event: unknown,
  opts: { env?: Record<string, string>; keepState?: boolean } = {},
): Promise<number> {
  const saved = world.emu.getState();
  try {
    const run = await runUntilCrash(world, fn, event, { env: opts.env });
    return run.writesApplied;
  } finally {
    if (!opts.keepState) world.emu.setState(saved);
  }
}
