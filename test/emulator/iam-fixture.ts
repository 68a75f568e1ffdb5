// Shared arrange step of the IAM emulator suites (ram, sts, kms): two accounts with root keys, a started emulator,
// real SDK clients, and a way to capture the error an SDK call throws.
import type { Emulator } from '../../scripts/emulator/api';
import { startEmulator } from '../../scripts/emulator/server';
import type { EmulatorState } from '../../scripts/emulator/types';
import { sdkClients, type Creds, type SdkClients } from '../helpers/sdk';

export const A = { uid: '1000000000000001', accessKeyId: 'LTAIiamTestRootA0001', accessKeySecret: 'secretA' };
export const B = { uid: '1000000000000002', accessKeyId: 'LTAIiamTestRootB0002', accessKeySecret: 'secretB' };

/** No read lag: these suites read back what they just wrote (the lag has its own suite, lag.test.ts). */
export function twoAccounts(extra: Partial<EmulatorState> = {}): EmulatorState {
  return {
    regions: ['cn-hangzhou', 'cn-shanghai', 'cn-beijing'],
    accounts: [
      { uid: A.uid, accessKeys: [{ id: A.accessKeyId, secret: A.accessKeySecret }] },
      { uid: B.uid, accessKeys: [{ id: B.accessKeyId, secret: B.accessKeySecret }] },
    ],
    ...extra,
    options: { readLagMs: 0, ...extra.options },
  };
}

export interface Started {
  emu: Emulator;
  clients(creds: Creds, region?: string): SdkClients;
}

export async function start(state: EmulatorState = twoAccounts()): Promise<Started> {
  const emu = await startEmulator({ state });
  return { emu, clients: (creds, region) => sdkClients(emu.endpoint, creds, region) };
}

export { errorOf } from '../helpers/error-of';

export const doc = (...Statement: unknown[]) => JSON.stringify({ Version: '1', Statement });
export const allow = (Action: unknown, Resource: unknown = '*', extra: object = {}) => ({
  Effect: 'Allow',
  Action,
  Resource,
  ...extra,
});
export const trustAccount = (uid: string) =>
  doc({ Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { RAM: [`acs:ram::${uid}:root`] } });
