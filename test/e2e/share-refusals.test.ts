// What the share API refuses at share time is reported with its code and the fix (issue 8): an encrypted image made
// of several snapshots (403 OperationDeined.FullImage, documented) is not shared, and nothing is left shared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E } from '../helpers/states';
import { afterReadLag, imageShareAccounts, tag, use } from '../helpers/e2e';
import { reconcileWorld } from '../helpers/reconcile';

describe('an encrypted image over two snapshots', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, E2E.twoKeyImage, DEMO.externalRecipient.uid);
  });
  afterAll(() => w.stop());

  it('is reported failed with OperationDeined.FullImage and what to do instead, and shared with nobody', async () => {
    const out = (await w.invoke('share', { resourceId: E2E.twoKeyImage, region: DEMO.region })).results[0];

    expect(out).toMatchObject({
      outcome: 'failed',
      error: { code: 'OperationDeined.FullImage' },
      advice: expect.stringContaining('several snapshots'),
    });
    expect(out.error.retryable).toBeUndefined();
    await afterReadLag(w);
    expect(await imageShareAccounts(w, E2E.twoKeyImage)).toEqual([]);
    expect(await use(w, DEMO.externalRecipient.uid, E2E.twoKeyImage)).toMatchObject({ ok: false });
  });
});
