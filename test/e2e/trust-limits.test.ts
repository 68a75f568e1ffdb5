// Too many single accounts on one share role: ecs-share refuses, with advice, before it writes a trust policy or an
// ownership record that would pass a limit, and changes nothing.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { E2E, e2eState, recipientUid } from '../helpers/states';
import { startWorld, type World } from '../helpers/world';
import {
  outcomeFor,
  phase,
  tagAndDeliver,
  trustServices,
  trustPolicy,
  SNAPSHOT_ROLE,
  shareWrites,
} from '../helpers/e2e';

const accounts = (n: number) => Array.from({ length: n }, (_, i) => recipientUid(i + 1));

describe('a trust policy limit set low', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ state: e2eState({ recipients: 14 }), env: { SHARE_TRUST_POLICY_MAX_LENGTH: '300' } });
  });
  afterAll(() => w.stop());

  it('refuses with TrustPolicyTooLong and advice to use RD or folder targets, writing nothing', async () => {
    phase(w);
    const [first, second] = [accounts(14).slice(0, 5).join(' '), accounts(14).slice(5, 10).join(' ')];
    const out = outcomeFor(
      await tagAndDeliver(w, E2E.spareSnapshots[0], { 'share-with': first, 'share-with.2': second }),
      E2E.spareSnapshots[0],
    );
    expect(out.outcome).toBe('refused');
    expect(out.error?.code).toBe('TrustPolicyTooLong');
    expect(out.reason).toMatch(/resource directory or folder/);
    expect(shareWrites(w)).toEqual([]);
    expect(await trustPolicy(w, SNAPSHOT_ROLE)).toBeUndefined();
  });
});

describe('more accounts than the role description can record', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld({ state: e2eState({ recipients: 60 }), env: { SHARE_TRUST_POLICY_MAX_LENGTH: '100000' } });
  });
  afterAll(() => w.stop());

  it('refuses with TrustRecordTooLong instead of losing track of what it granted', async () => {
    const uids = accounts(60);
    const tags: Record<string, string> = {};
    for (let k = 0; k < 10; k++)
      tags[k === 0 ? 'share-with' : `share-with.${k + 1}`] = uids.slice(k * 6, k * 6 + 6).join(' ');
    phase(w);
    const out = outcomeFor(await tagAndDeliver(w, E2E.spareSnapshots[1], tags), E2E.spareSnapshots[1]);
    expect(out.outcome).toBe('refused');
    expect(out.error?.code).toBe('TrustRecordTooLong');
    expect(shareWrites(w)).toEqual([]);
    expect(trustServices(await trustPolicy(w, SNAPSHOT_ROLE))).toEqual([]);
  });
});
