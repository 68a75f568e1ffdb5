// What ecs-share did not grant it never takes back: a hand-made image share, a hand-written trust statement and a
// policy attached by hand survive both a reconcile and the revocation of the tool's own share.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, recipientUid } from '../helpers/states';
import {
  IMAGE_ROLE,
  attachedPolicies,
  imageShareAccounts,
  statements,
  semantic,
  tag,
  trustPolicy,
  untag,
  use,
} from '../helpers/e2e';
import {
  attachNewPolicy,
  modifyImageShare,
  reconcile,
  reconcileOk,
  reconcileWorld,
  resultFor,
  setTrustPolicy,
} from '../helpers/reconcile';

const image = DEMO.images.cmk;
const tagged = recipientUid(1); // in the tag: ecs-share's
const manual = recipientUid(2); // shared by hand: not ecs-share's
const foreignStatement = {
  Action: 'sts:AssumeRole',
  Effect: 'Allow',
  Principal: { Service: [`${manual}@ecs.aliyuncs.com`] },
};
// The owner's own grant of the key to the role (what the seed's step 3 writes), not ecs-share's.
const handPolicy = {
  Version: '1',
  Statement: [
    { Effect: 'Allow', Action: 'kms:List*', Resource: `acs:kms:${DEMO.region}:${DEMO.owner.uid}:key` },
    {
      Effect: 'Allow',
      Action: [
        'kms:DescribeKey',
        'kms:TagResource',
        'kms:UntagResource',
        'kms:Encrypt',
        'kms:Decrypt',
        'kms:GenerateDataKey',
      ],
      Resource: [`acs:kms:${DEMO.region}:${DEMO.owner.uid}:key/${DEMO.cmkId}`],
    },
  ],
};

describe('a manual share, a foreign trust statement and a hand-attached policy', () => {
  let w: World;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, image, tagged);
    await reconcileOk(w);
    // The owner's own additions, made by hand next to ecs-share's.
    const doc = (await trustPolicy(w, IMAGE_ROLE))!;
    await setTrustPolicy(w, IMAGE_ROLE, { ...doc, Statement: [...doc.Statement, foreignStatement] });
    await attachNewPolicy(w, IMAGE_ROLE, 'hand-made-kms', handPolicy);
    await modifyImageShare(w, image, { add: [manual] });
  });
  afterAll(() => w.stop());

  it('are left untouched by a reconcile while the tag stays', async () => {
    w.emu.clearCalls();
    const s = await reconcile(w);

    expect(s).toMatchObject({ ok: true, complete: true, counts: { unchanged: 1 }, roleActions: [] });
    expect(w.emu.writes()).toEqual([]);
    expect(await imageShareAccounts(w, image)).toEqual([tagged, manual].sort());
  });

  it('survive the revocation of the tag: only the tagged account loses the image', async () => {
    await untag(w, image);
    const s = await reconcile(w);

    expect(resultFor(s, image)).toMatchObject({
      outcome: 'revoked',
      actions: expect.arrayContaining([{ kind: 'unshareImageAccounts', ref: expect.anything(), remove: [tagged] }]),
    });
    expect(await imageShareAccounts(w, image)).toEqual([manual]);
    const trust = statements(await trustPolicy(w, IMAGE_ROLE));
    expect(trust).toContainEqual(semantic(foreignStatement));
    expect(JSON.stringify(trust)).not.toContain(tagged);
    expect(await attachedPolicies(w, IMAGE_ROLE)).toContain('Custom/hand-made-kms');
    expect(await use(w, tagged, image)).toMatchObject({ ok: false });
    expect(await use(w, manual, image)).toMatchObject({ ok: true });
  });
});
