// "Verify by reading back": ModifyImageSharePermission answers success even for accounts it drops (past 10 a call,
// silently). Against a cloud that drops one, the share must be reported failed, not shared.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { actions as ecsActions } from '../../scripts/emulator/services/ecs';
import { startWorld, type World } from '../helpers/world';
import { outcomeFor, tagAndDeliver } from '../helpers/e2e';

describe('an image share the API acknowledges but does not apply', () => {
  let w: World;
  beforeAll(async () => {
    const real = ecsActions.ModifyImageSharePermission;
    // Answers like the real call, but applies nothing: what a silently dropped AddAccount looks like.
    w = await startWorld({ actions: { ecs: { ModifyImageSharePermission: { ...real, handler: () => ({}) } } } });
  });
  afterAll(() => w.stop());

  it('is reported failed with ShareNotApplied, naming the account', async () => {
    const out = outcomeFor(await tagAndDeliver(w, DEMO.images.plain, DEMO.externalRecipient.uid), DEMO.images.plain);
    expect(out.outcome).toBe('failed');
    expect(out.error?.code).toBe('ShareNotApplied');
    expect(out.error?.message).toContain(DEMO.externalRecipient.uid);
  });
});
