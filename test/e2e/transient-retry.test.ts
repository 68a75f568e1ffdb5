// A transient failure that outlasts the function's own retries fails the on-tag invocation, so EventBridge's push
// retry delivers the event again; the redelivery then completes the share.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { eventsFor, outcomes, tag, use } from '../helpers/e2e';

describe('a share whose CreateRole keeps answering 503', () => {
  let w: World;
  beforeAll(async () => {
    w = await startWorld();
  });
  afterAll(() => w.stop());

  it('fails the invocation (for EventBridge to retry) instead of answering failed', async () => {
    w.emu.addFault({ action: 'CreateRole', kind: 'unavailable', nth: 1, times: 100 });
    await tag(w, DEMO.snapshots.cmk, DEMO.rdRecipient.uid);
    const [event] = eventsFor(w, DEMO.snapshots.cmk);
    await expect(w.invoke('on-tag', event)).rejects.toMatchObject({
      name: 'TransientFailure',
      message: expect.stringContaining('ServiceUnavailable'),
    });
  });

  it('completes the share when the event is delivered again', async () => {
    w.emu.clearFaults();
    const [event] = eventsFor(w, DEMO.snapshots.cmk);
    const results = outcomes([await w.invoke('on-tag', event)]);
    expect(results[0].outcome).toBe('shared');
    expect(await use(w, DEMO.rdRecipient.uid, DEMO.snapshots.cmk)).toMatchObject({ ok: true });
  });
});
