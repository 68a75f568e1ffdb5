// Transient errors (throttling with x-acs-retry-after, 503) are retried and the share still succeeds; an error
// that cannot succeed on retry is reported at once with its code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import { IMAGE_ROLE, imageShareAccounts, outcomeFor, outcomes, phase, tag, use } from '../helpers/e2e';

const image = DEMO.images.cmk;
const RETRY_AFTER_MS = 400;

describe('a share that meets throttling and a 503', () => {
  let w: World;
  let result: ReturnType<typeof outcomeFor>;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    // An existing role, so the merge goes through UpdateRole.
    const trust = {
      Version: '1',
      Statement: [
        { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { RAM: [`acs:ram::${DEMO.owner.uid}:root`] } },
      ],
    };
    await w.owner.ram.createRole(
      new $Ram.CreateRoleRequest({ roleName: IMAGE_ROLE, assumeRolePolicyDocument: JSON.stringify(trust) }),
    );
    await tag(w, image, recipientUid(1));
    phase(w);
    w.emu.addFault({ action: 'DescribeImages', kind: 'unavailable', nth: 1 });
    w.emu.addFault({ action: 'UpdateRole', kind: 'throttle', nth: 1, retryAfterMs: RETRY_AFTER_MS });
    w.emu.addFault({ action: 'ModifyImageSharePermission', kind: 'throttle', nth: 1, retryAfterMs: RETRY_AFTER_MS });
    result = outcomeFor(outcomes(await w.deliverEvents()), image);
    w.emu.clearFaults();
  });
  afterAll(() => w.stop());

  it('still shares the image and the account can copy it', async () => {
    expect(result.outcome).toBe('shared');
    expect(await imageShareAccounts(w, image)).toEqual([recipientUid(1)]);
    expect(await use(w, recipientUid(1), image)).toMatchObject({ ok: true });
  });

  it('retries the 503 read', () => {
    expect(
      w.emu
        .calls({ action: 'DescribeImages' })
        .slice(0, 2)
        .map((c) => c.status),
    ).toEqual([503, 200]);
  });

  for (const action of ['UpdateRole', 'ModifyImageSharePermission']) {
    it(`retries a throttled ${action} no sooner than x-acs-retry-after says`, () => {
      const [throttled, retried] = w.emu.calls({ action });
      expect([throttled.status, throttled.code, retried.status]).toEqual([400, 'Throttling.User', 200]);
      expect(Date.parse(retried.time) - Date.parse(throttled.time)).toBeGreaterThanOrEqual(RETRY_AFTER_MS);
    });
  }
});

describe('a share with an account that does not exist', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());

  it('reports the image failed with InvalidAccount.NotFound after a single attempt', async () => {
    const plain = DEMO.images.plain;
    await tag(w, plain, E2E.ghost);
    phase(w);
    const result = outcomeFor(outcomes(await w.deliverEvents()), plain);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('InvalidAccount.NotFound');
    expect(result.advice).toMatch(/does not exist/);
    expect(w.emu.calls({ action: 'ModifyImageSharePermission' })).toHaveLength(1);
    expect(await imageShareAccounts(w, plain)).toEqual([]);
  });
});
