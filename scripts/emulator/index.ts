// The emulator's public surface for tests, scripts and the demo.
import type { Emulator, StartOptions } from './api';
import { startEmulator as startServer } from './server';
import type { EmulatorState } from './types';

export type { Emulator, CallRecord, StartOptions, AppliedWrite } from './api';
export type { FaultRule } from './faults';
export { DEFAULT_THROTTLING } from './faults';
export type { CloudEvent } from './events';
export { retryDelaysMs } from './events';
export { demoState, DEMO } from './demo-state';
export * from './types';

/** A credential the emulator knows: what the tests' secret scan looks for in the logs. */
export interface EmulatorSecret {
  kind: 'access key id' | 'access key secret' | 'security token';
  value: string;
  owner: string; // e.g. "account 1000000000000001", "sts session fc-1a2b3c4d of 1000000000000001/share-role"
}

/** Every access key (accounts, RAM users) and STS session (AssumeRole, issueServiceCredentials) a state holds. */
function secretsOfState(state: EmulatorState): EmulatorSecret[] {
  const out: EmulatorSecret[] = [];
  const key = (id: string, secret: string, owner: string) =>
    out.push({ kind: 'access key id', value: id, owner }, { kind: 'access key secret', value: secret, owner });
  for (const a of state.accounts ?? []) {
    for (const k of a.accessKeys ?? []) key(k.id, k.secret, `account ${a.uid}`);
    for (const u of a.users ?? [])
      for (const k of u.accessKeys ?? []) key(k.id, k.secret, `user ${u.userName} of ${a.uid}`);
  }
  for (const s of state.stsSessions ?? []) {
    const owner = `sts session ${s.sessionName} of ${s.accountId}/${s.roleName}`;
    key(s.accessKeyId, s.secret, owner);
    out.push({ kind: 'security token', value: s.token, owner });
  }
  return out;
}

// Off unless a test run asks (trackEmulatorSecrets): long-running scripts (the simulation) start thousands of emulators.
let tracked: Set<Emulator> | undefined;
const replaced = new Map<string, EmulatorSecret>(); // by value: a crash test restores the same state many times

/** From now on, remember every emulator started here and the credentials of every state it drops (setState). */
export function trackEmulatorSecrets(): void {
  tracked ??= new Set();
}

/** The credentials of every tracked emulator's state (live, and replaced by setState) since the last call, each once; forgets them. */
export function takeEmulatorSecrets(): EmulatorSecret[] {
  for (const emu of tracked ?? []) for (const s of secretsOfState(emu.state)) replaced.set(s.value, s);
  const out = [...replaced.values()];
  replaced.clear();
  tracked?.clear();
  return out;
}

export async function startEmulator(opts: StartOptions = {}): Promise<Emulator> {
  const emu = await startServer(opts);
  if (tracked) {
    tracked.add(emu);
    const setState = emu.setState;
    emu.setState = (s) => {
      for (const secret of secretsOfState(emu.state)) replaced.set(secret.value, secret);
      setState(s);
    };
  }
  return emu;
}
