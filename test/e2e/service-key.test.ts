// Resources encrypted with the ECS service key (alias/acs/ecs): refused by default without a single write; the
// opt-in legacy mode attaches AliyunKMSFullAccess to the share role and tries, reporting the API's refusal clearly.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import { startWorld, type World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import {
  IMAGE_ROLE,
  SNAPSHOT_ROLE,
  attachedPolicies,
  outcomeFor,
  outcomes,
  phase,
  tag,
  tagAndDeliver,
  trustPolicy,
  use,
  shareWrites,
} from '../helpers/e2e';

const legacyPolicy = fs.readFileSync(
  path.resolve(__dirname, '../../shared/policies/function-role-legacy-service-key.json'),
  'utf8',
);
const member = DEMO.rdRecipient.uid;
const svcSnapshot = DEMO.snapshots.serviceKey;
const svcImage = E2E.serviceKeyImage;

describe('a service-key resource in the default mode', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState(), env: { SHARE_LEGACY_SERVICE_KEY: '' } });
  });
  afterAll(() => w.stop());

  for (const [kind, id, copy] of [
    ['snapshot', svcSnapshot, 'CopySnapshot'],
    ['image', svcImage, 'CopyImage'],
  ] as const) {
    it(`refuses the ${kind} with the fix (copy it with a customer master key) and writes nothing`, async () => {
      await tag(w, id, member);
      phase(w);
      const result = outcomeFor(outcomes(await w.deliverEvents()), id);
      expect(result.outcome).toBe('refused');
      expect(result.error?.code).toBe('ServiceKeyEncrypted');
      expect(result.reason).toMatch(/service key/);
      expect(result.reason).toContain(copy);
      expect(result.reason).toContain('KMSKeyId');
      expect(shareWrites(w)).toEqual([]);
    });
  }

  it('creates no share role and leaves the recipient without access', async () => {
    expect(await trustPolicy(w, SNAPSHOT_ROLE)).toBeUndefined();
    expect(await trustPolicy(w, IMAGE_ROLE)).toBeUndefined();
    expect(await use(w, member, svcSnapshot)).toMatchObject({ ok: false });
  });
});

describe('a service-key resource in the legacy mode, where the cloud still allows it', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({
      state: e2eState(),
      env: { SHARE_LEGACY_SERVICE_KEY: 'true' },
      extraPolicies: [legacyPolicy],
    });
    w.emu.setOptions({ legacyServiceKeySharing: true });
  });
  afterAll(() => w.stop());

  it('attaches AliyunKMSFullAccess to the snapshot role and the member can create a disk', async () => {
    const result = outcomeFor(await tagAndDeliver(w, svcSnapshot, member), svcSnapshot);
    expect(result.outcome).toBe('shared');
    expect(await attachedPolicies(w, SNAPSHOT_ROLE)).toContain('System/AliyunKMSFullAccess');
    expect(await use(w, member, svcSnapshot)).toMatchObject({ ok: true });
  });

  it('attaches AliyunKMSFullAccess to the image role and the account can copy the image', async () => {
    const result = outcomeFor(await tagAndDeliver(w, svcImage, recipientUid(1)), svcImage);
    expect(result.outcome).toBe('shared');
    expect(await attachedPolicies(w, IMAGE_ROLE)).toContain('System/AliyunKMSFullAccess');
    expect(await use(w, recipientUid(1), svcImage)).toMatchObject({ ok: true });
  });
});

describe('a service-key resource in the legacy mode, where the cloud refuses it', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({
      state: e2eState(),
      env: { SHARE_LEGACY_SERVICE_KEY: 'true' },
      extraPolicies: [legacyPolicy],
    });
  });
  afterAll(() => w.stop());

  it('reports the image failed with the API refusal code and advice to copy it with a CMK', async () => {
    const result = outcomeFor(await tagAndDeliver(w, svcImage, recipientUid(1)), svcImage);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('InvalidOperation.ServiceKeyEncryptedImageUnsupported');
    expect(result.advice).toMatch(/customer master key/);
    expect(await attachedPolicies(w, IMAGE_ROLE)).toContain('System/AliyunKMSFullAccess');
  });

  // The emulator reports this refusal asynchronously, as a Failed *resource* association of the share.
  it('reports the snapshot failed with the reason the share association gives', async () => {
    const result = outcomeFor(await tagAndDeliver(w, svcSnapshot, member), svcSnapshot);
    expect(result.outcome).toBe('failed');
    expect(result.error?.message).toMatch(/service key/);
    expect(await use(w, member, svcSnapshot)).toMatchObject({ ok: false });
  });
});
