// Issue 7, "bad input never crashes": an event whose fields are nested absurdly deep or are absurdly large is answered
// InvalidInput with a reason and changes nothing; it never overflows the stack, and it is never rethrown into a
// redelivery that could not succeed either.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState } from '../helpers/states';
import { phase } from '../helpers/e2e';
import tagEvent from '../../events/on-tag-tagresources-snapshot.json';

const snap = DEMO.snapshots.cmk;

/** The shipped TagResources event, its ResourceId replaced by raw JSON text (built as text: JSON.stringify itself would overflow). */
function tagResourcesWith(resourceIdJson: string): string {
  const event = structuredClone(tagEvent) as { data: Record<string, unknown> };
  event.data.requestParameters = {
    RegionId: DEMO.region,
    ResourceType: 'snapshot',
    ResourceId: '__RESOURCE_ID__',
    'Tag.1.Key': 'share-with',
  };
  return JSON.stringify(event).replace('"__RESOURCE_ID__"', resourceIdJson);
}

const deep = (n: number) => '['.repeat(n) + JSON.stringify(snap) + ']'.repeat(n);

describe('an event nested or sized beyond reason', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
  });
  afterAll(() => w.stop());

  for (const fn of ['on-tag', 'share'] as const) {
    it(`answers a ResourceId nested 5,000 arrays deep to ${fn} with InvalidInput and writes nothing`, async () => {
      phase(w);
      const result = await w.invoke(fn, tagResourcesWith(deep(5000)));
      expect(result).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
      expect(result.error.message).toMatch(/nested more than \d+ levels/);
      expect(result.error.message).toContain('ResourceId');
      expect(w.emu.writes()).toEqual([]);
      expect(w.emu.calls()).toEqual([]);
    });
  }

  it('answers the same nesting inside a requestParameterJson string with InvalidInput', async () => {
    phase(w);
    const event = structuredClone(tagEvent) as { data: Record<string, unknown> };
    event.data.requestParameters = {};
    event.data.referencedResources = {};
    event.data.requestParameterJson = `{"RegionId":"${DEMO.region}","ResourceType":"snapshot","ResourceId":${deep(5000)}}`;
    const result = await w.invoke('on-tag', event);
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(w.emu.calls()).toEqual([]);
  });

  it('answers a 10 MB string field with InvalidInput and writes nothing', async () => {
    phase(w);
    const result = await w.invoke('on-tag', tagResourcesWith(JSON.stringify('s-' + 'a'.repeat(10 * 1024 * 1024))));
    expect(result).toMatchObject({ ok: false, error: { code: 'InvalidInput' } });
    expect(result.error.message).toMatch(/larger than/);
    expect(result.error.message.length).toBeLessThan(2000);
    expect(w.emu.calls()).toEqual([]);
  });

  it('still shares from a sane event after all that', async () => {
    phase(w);
    const result = await w.invoke('on-tag', tagResourcesWith(JSON.stringify([snap])));
    expect(result.results).toEqual([expect.objectContaining({ resourceId: snap })]);
  });
});
