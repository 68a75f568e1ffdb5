// End-to-end harness: a running emulator, the owner's function role built from EXACTLY the policy we ship,
// the product's handlers invoked in-process with FC-shaped contexts carrying that role's STS credentials,
// and real SDK clients for the owner and the recipients.
import {
  startEmulator,
  demoState,
  DEMO,
  type Emulator,
  type EmulatorState,
  type StartOptions,
} from '../../scripts/emulator';
import { createFunctionRole, functionContext } from '../../scripts/function-role';
import { sdkClients, type SdkClients } from './sdk';
import type { FcContext } from '../../shared/runtime';
import { handler as onTag } from '../../functions/on-tag/index';
import { handler as share } from '../../functions/share/index';
import { handler as reconcile } from '../../functions/reconcile/index';

export { FUNCTION_POLICY, shippedPolicy } from '../../scripts/function-role';

type Handler = (event: unknown, context: FcContext) => Promise<any>;
const handlers: Record<string, Handler> = {
  'on-tag': onTag,
  share,
  reconcile,
};

export interface World {
  emu: Emulator;
  owner: SdkClients;
  ownerUid: string;
  client(uid: string): SdkClients;
  /** A fresh FC-shaped context with new STS credentials of the function role (what each invocation gets). */
  context(fn: string): FcContext;
  /** Invoke a function the way FC does: event as a Buffer, context with the function role's credentials. */
  invoke(fn: keyof typeof handlers, event: unknown): Promise<any>;
  /** Deliver the events the emulator emitted since the last call to on-tag (as EventBridge would) and return the results. */
  deliverEvents(): Promise<any[]>;
  stop(): Promise<void>;
}

export interface WorldOptions {
  state?: EmulatorState;
  env?: Record<string, string>;
  /** Extra policy documents attached to the function role (e.g. the legacy service-key add-on). */
  extraPolicies?: string[];
  /** Replacement emulator actions, to make the cloud misbehave in ways its documented behaviour does not cover. */
  actions?: StartOptions['actions'];
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const emu = await startEmulator({ state: opts.state ?? demoState(), actions: opts.actions });
  const ownerUid = DEMO.owner.uid;
  const keyOf = (uid: string) => {
    const account = emu.state.accounts.find((a) => a.uid === uid);
    if (!account) throw new Error(`no account ${uid}`);
    return { accessKeyId: account.accessKeys[0].id, accessKeySecret: account.accessKeys[0].secret };
  };
  const owner = sdkClients(emu.endpoint, keyOf(ownerUid));
  // The function role, created through the real RAM SDK from the files we ship.
  await createFunctionRole(owner.ram, opts.extraPolicies);
  Object.assign(process.env, {
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint,
    SHARE_ASSOCIATION_WAIT_MS: '2000',
    SHARE_TRIM_SETTLE_MS: '300', // above the emulator's 100 ms read lag, short enough for many trims per test
    FC_REGION: 'cn-hangzhou',
    // Most scenarios share with the demo's account outside the directory: they opt out of the secure default, which
    // test/e2e/external-accounts.test.ts covers (a world sets SHARE_ALLOW_EXTERNAL: '' to get it).
    SHARE_ALLOW_EXTERNAL: 'true',
    ...opts.env,
  });
  const context = (fn: string): FcContext => functionContext(emu, ownerUid, fn);
  const delivered = new Set<string>();
  const world: World = {
    emu,
    owner,
    ownerUid,
    client: (uid) => sdkClients(emu.endpoint, keyOf(uid)),
    context,
    invoke: (fn, event) =>
      handlers[fn](Buffer.from(typeof event === 'string' ? event : JSON.stringify(event)), context(fn)),
    async deliverEvents() {
      await emu.flushEvents();
      const fresh = emu.events().filter((e) => !delivered.has(e.id));
      for (const e of fresh) delivered.add(e.id);
      const out = [];
      for (const e of fresh) out.push(await world.invoke('on-tag', e));
      return out;
    },
    stop: () => emu.stop(),
  };
  return world;
}
