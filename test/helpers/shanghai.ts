// A second region for the multi-region scenarios: a CMK snapshot in Shanghai, and a recipient using it there.
import * as $Ecs from '@alicloud/ecs20140526';
import { DEMO, type EmulatorState } from '../../scripts/emulator';
import type { World } from './world';
import { sdkClients } from './sdk';

export const SH = 'cn-shanghai';
export const SH_KEY = 'key-shanghai0cmk000001';
const SH_SNAP = 's-shanghai00000000001';

/** `state` with Shanghai as a region and its CMK snapshot tagged `tags`. */
export function withShanghaiSnapshot(
  state: EmulatorState,
  tags: Record<string, string>,
  regions = [DEMO.region, SH],
): EmulatorState {
  state.regions = regions;
  state.keys!.push({ keyId: SH_KEY, accountId: DEMO.owner.uid, region: SH, state: 'Enabled' });
  state.snapshots!.push({
    snapshotId: SH_SNAP,
    accountId: DEMO.owner.uid,
    region: SH,
    encrypted: true,
    kmsKeyId: SH_KEY,
    status: 'accomplished',
    tags,
  });
  return state;
}

/** The recipient makes a disk from the Shanghai snapshot, in Shanghai. */
export async function useInShanghai(w: World, uid: string): Promise<boolean> {
  const account = w.emu.state.accounts.find((a) => a.uid === uid)!;
  const c = sdkClients(
    w.emu.endpoint,
    { accessKeyId: account.accessKeys[0].id, accessKeySecret: account.accessKeys[0].secret },
    SH,
  );
  try {
    await c.ecs.createDisk(
      new $Ecs.CreateDiskRequest({
        regionId: SH,
        zoneId: 'cn-shanghai-b',
        snapshotId: SH_SNAP,
        diskCategory: 'cloud_essd',
      }),
    );
    return true;
  } catch {
    return false;
  }
}
