// End-to-end harness: a running emulator, the owner's function role built from EXACTLY the policy we ship,
// the product's handlers invoked in-process with FC-shaped contexts carrying that role's STS credentials,
// and real SDK clients for the owner and the recipients.
import fs from 'node:fs';
import path from 'node:path';
import { startEmulator, demoState, DEMO, type Emulator, type EmulatorState } from '../../scripts/emulator';
import * as $Ram from '@alicloud/ram20150501';
import { sdkClients, type SdkClients } from './sdk';
import type { FcContext } from '../../shared/runtime';
import { handler as onTag } from '../../functions/on-tag/index';
import { handler as share } from '../../functions/share/index';

const root = path.resolve(__dirname, '../..');
export const FUNCTION_ROLE = 'ecs-share-fc-role';
export const FUNCTION_POLICY = 'ecs-share-fc-policy';
export const shippedPolicy = () => fs.readFileSync(path.join(root, 'shared/policies/function-role.json'), 'utf8');
export const shippedTrust = () => fs.readFileSync(path.join(root, 'shared/policies/function-role-trust.json'), 'utf8');

type Handler = (event: unknown, context: FcContext) => Promise<any>;
const handlers: Record<string, Handler> = {
  'on-tag': onTag,
  share,
};

export interface World {
  emu: Emulator;
  owner: SdkClients;
  ownerUid: string;
  client(uid: string): SdkClients;
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
}

export async function startWorld(opts: WorldOptions = {}): Promise<World> {
  const emu = await startEmulator({ state: opts.state ?? demoState() });
  const ownerUid = DEMO.owner.uid;
  const keyOf = (uid: string) => {
    const account = emu.state.accounts.find((a) => a.uid === uid);
    if (!account) throw new Error(`no account ${uid}`);
    return { accessKeyId: account.accessKeys[0].id, accessKeySecret: account.accessKeys[0].secret };
  };
  const owner = sdkClients(emu.endpoint, keyOf(ownerUid));
  // The function role, created through the real RAM SDK from the files we ship.
  await owner.ram.createPolicy(new $Ram.CreatePolicyRequest({ policyName: FUNCTION_POLICY, policyDocument: shippedPolicy() }));
  await owner.ram.createRole(new $Ram.CreateRoleRequest({ roleName: FUNCTION_ROLE, assumeRolePolicyDocument: shippedTrust() }));
  await owner.ram.attachPolicyToRole(new $Ram.AttachPolicyToRoleRequest({ roleName: FUNCTION_ROLE, policyName: FUNCTION_POLICY, policyType: 'Custom' }));
  for (const [i, doc] of (opts.extraPolicies ?? []).entries()) {
    await owner.ram.createPolicy(new $Ram.CreatePolicyRequest({ policyName: `${FUNCTION_POLICY}-extra${i}`, policyDocument: doc }));
    await owner.ram.attachPolicyToRole(new $Ram.AttachPolicyToRoleRequest({ roleName: FUNCTION_ROLE, policyName: `${FUNCTION_POLICY}-extra${i}`, policyType: 'Custom' }));
  }
  Object.assign(process.env, {
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: emu.endpoint,
    SHARE_ASSOCIATION_WAIT_MS: '2000',
    FC_REGION: 'cn-hangzhou',
    ...opts.env,
  });
  const context = (fn: string): FcContext => {
    const creds = emu.issueServiceCredentials(ownerUid, FUNCTION_ROLE, 'fc.aliyuncs.com');
    return {
      requestId: `test-${Math.random().toString(36).slice(2)}`,
      accountId: ownerUid,
      region: 'cn-hangzhou',
      credentials: { accessKeyId: creds.accessKeyId, accessKeySecret: creds.accessKeySecret, securityToken: creds.securityToken },
      function: { name: `ecs-share-${fn}`, timeout: 120 },
    };
  };
  const delivered = new Set<string>();
  const world: World = {
    emu,
    owner,
    ownerUid,
    client: (uid) => sdkClients(emu.endpoint, keyOf(uid)),
    invoke: (fn, event) => handlers[fn](Buffer.from(typeof event === 'string' ? event : JSON.stringify(event)), context(fn)),
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
