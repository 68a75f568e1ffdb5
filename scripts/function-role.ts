// The function role Function Compute runs ecs-share under, built from EXACTLY the policy files we ship, and the
// FC-shaped context that carries its STS credentials. Shared by the demo and the end-to-end harness, so both run
// the product with nothing more than the documented least privilege.
import fs from 'node:fs';
import path from 'node:path';
import * as $Ram from '@alicloud/ram20150501';
import type Ram from '@alicloud/ram20150501';
import type { Emulator } from './emulator';
import type { FcContext } from '../shared/runtime';

const root = path.resolve(__dirname, '..');
export const FUNCTION_ROLE = 'ecs-share-fc-role';
export const FUNCTION_POLICY = 'ecs-share-fc-policy';
export const shippedPolicy = () => fs.readFileSync(path.join(root, 'shared/policies/function-role.json'), 'utf8');
const shippedTrust = () => fs.readFileSync(path.join(root, 'shared/policies/function-role-trust.json'), 'utf8');

async function attachCustomPolicy(ram: Ram, policyName: string, document: string): Promise<void> {
  await ram.createPolicy(new $Ram.CreatePolicyRequest({ policyName, policyDocument: document }));
  await ram.attachPolicyToRole(
    new $Ram.AttachPolicyToRoleRequest({ roleName: FUNCTION_ROLE, policyName, policyType: 'Custom' }),
  );
}

/** Create the function role through the real RAM SDK as the owner: shipped trust, shipped policy, plus any extra documents. */
export async function createFunctionRole(ram: Ram, extraPolicies: string[] = []): Promise<void> {
  await ram.createRole(
    new $Ram.CreateRoleRequest({ roleName: FUNCTION_ROLE, assumeRolePolicyDocument: shippedTrust() }),
  );
  await attachCustomPolicy(ram, FUNCTION_POLICY, shippedPolicy());
  for (const [i, doc] of extraPolicies.entries()) await attachCustomPolicy(ram, `${FUNCTION_POLICY}-extra${i}`, doc);
}

/** What FC hands a handler: fresh credentials of the function role (the emulator checks its trust policy first). */
export function functionContext(emu: Emulator, ownerUid: string, fn: string, region = 'cn-hangzhou'): FcContext {
  const creds = emu.issueServiceCredentials(ownerUid, FUNCTION_ROLE, 'fc.aliyuncs.com');
  return {
    requestId: `local-${Math.random().toString(36).slice(2)}`,
    accountId: ownerUid,
    region,
    credentials: {
      accessKeyId: creds.accessKeyId,
      accessKeySecret: creds.accessKeySecret,
      securityToken: creds.securityToken,
    },
    function: { name: `ecs-share-${fn}`, timeout: 120 },
  };
}
