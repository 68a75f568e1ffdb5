// The function role's shipped policy is least privilege: it names exactly the actions the code calls, and every
// end-to-end suite runs under it, so a missing action fails. Here one statement is taken away to show it bites.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as $Ram from '@alicloud/ram20150501';
import { DEMO } from '../../scripts/emulator';
import { FUNCTION_POLICY, shippedPolicy, startWorld, type World } from '../helpers/world';
import { e2eState } from '../helpers/states';
import { outcomeFor, outcomes, phase, tag, use } from '../helpers/e2e';

const root = path.resolve(__dirname, '../..');
/** Calls any caller may make without a policy. */
const NO_PERMISSION_NEEDED = new Set(['sts:GetCallerIdentity']);

function policyActions(doc: { Statement: Array<{ Effect: string; Action: string | string[] }> }): Set<string> {
  return new Set(doc.Statement.filter((s) => s.Effect === 'Allow').flatMap((s) => [s.Action].flat()));
}

/** `api.call('<product>', '<Action>'`, also with the body's type: `api.call<{ … }>('<product>', '<Action>'`. */
const CALL = /api\.call(?:<[\s\S]*?>)?\(\s*'([a-z]+)',\s*'([A-Za-z]+)'/g;

/** `<product>:<Action>` for every call in shared/cloud/*.ts. */
function calledActions(): Set<string> {
  const dir = path.join(root, 'shared/cloud');
  const out = new Set<string>();
  // ecs-copy.ts is the service-key copy feature's, covered by its own add-on policy (below).
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'ecs-copy.ts')) {
    const text = fs.readFileSync(path.join(dir, file), 'utf8');
    for (const m of text.matchAll(CALL)) out.add(`${m[1]}:${m[2]}`);
    // FC 3.0's InvokeFunction is a ROA call of its own (api.invokeFunction).
    if (/\bapi\.invokeFunction\(/.test(text)) out.add('fc:InvokeFunction');
  }
  return new Set([...out].filter((a) => !NO_PERMISSION_NEEDED.has(a)));
}

/** Opt-in features call actions the base policy does not grant: each ships its own policy file. */
const ADD_ONS: Record<string, string> = {
  'eventbridge:PutEvents': 'shared/policies/function-role-notify.json',
  // Organisation mode (docs/organisation.md): the central function role assumes the member role, lists the
  // directory's accounts and invokes the fan-out's worker.
  'sts:AssumeRole': 'shared/policies/function-role-org.json',
  'resourcemanager:ListAccounts': 'shared/policies/function-role-org.json',
  'fc:InvokeFunction': 'shared/policies/function-role-org.json',
};
/** Actions an add-on grants that Function Compute uses with the function role, not the code (async destinations). */
const PLATFORM: Record<string, string[]> = {
  'shared/policies/function-role-org.json': ['mns:SendMessage'],
};
const addOnPolicy = (file: string) => fs.readFileSync(path.join(root, file), 'utf8');

describe('the shipped function role policy', () => {
  it('grants exactly the RAM actions the code calls, none missing and none unused', () => {
    const granted = policyActions(JSON.parse(shippedPolicy()));
    const called = new Set([...calledActions()].filter((a) => !ADD_ONS[a]));
    expect(called.size).toBeGreaterThan(10); // the scan found the adapters
    expect({
      missing: [...called].filter((a) => !granted.has(a)).sort(),
      unused: [...granted].filter((a) => !called.has(a)).sort(),
    }).toEqual({
      missing: [],
      unused: [],
    });
  });
});

describe('the service-key copy add-on (shared/policies/function-role-service-key-copy.json)', () => {
  const addOn = () =>
    JSON.parse(fs.readFileSync(path.join(root, 'shared/policies/function-role-service-key-copy.json'), 'utf8'));
  /** The copy adapter's calls, plus the RAM calls that make AliyunECSDiskEncryptDefaultRole. */
  const copyCalls = () => {
    const text = fs.readFileSync(path.join(root, 'shared/cloud/ecs-copy.ts'), 'utf8');
    const ecs = [...text.matchAll(CALL)].map((m) => `${m[1]}:${m[2]}`);
    return new Set([
      ...ecs.filter((a) => a !== 'ecs:ListTagResources'),
      'ram:GetRole',
      'ram:CreateRole',
      'ram:ListPoliciesForRole',
      'ram:AttachPolicyToRole',
    ]);
  };

  it('grants exactly what the copies need beyond the shipped policy, on exactly that role and its system policy', () => {
    const doc = addOn();
    expect([...policyActions(doc)].sort()).toEqual([...copyCalls()].sort());
    const ram = doc.Statement.filter((s: { Action: string | string[] }) =>
      [s.Action].flat().some((a) => a.startsWith('ram:')),
    );
    expect(ram.flatMap((s: { Resource: string[] }) => s.Resource).sort()).toEqual([
      'acs:ram:*:*:policy/AliyunECSDiskEncryptDefaultRolePolicy',
      'acs:ram:*:*:policy/AliyunECSDiskEncryptRolePolicy',
      'acs:ram:*:*:role/AliyunECSDiskEncryptDefaultRole',
    ]);
  });

  it('with the shipped policy covers every action the code calls', () => {
    const granted = new Set([...policyActions(JSON.parse(shippedPolicy())), ...policyActions(addOn())]);
    const called = new Set([...[...calledActions()].filter((a) => !ADD_ONS[a]), ...copyCalls()]);
    expect([...called].filter((a) => !granted.has(a)).sort()).toEqual([]);
  });
});

describe('the opt-in add-on policies (notify, organisation mode)', () => {
  it('grants exactly the opt-in actions the code calls, and the base policy none of them', () => {
    const called = calledActions();
    const base = policyActions(JSON.parse(shippedPolicy()));
    for (const [action] of Object.entries(ADD_ONS)) {
      expect(called.has(action), `${action} is called`).toBe(true);
      expect(base.has(action), `${action} is opt-in`).toBe(false);
    }
    for (const file of new Set(Object.values(ADD_ONS))) {
      const expected = [...Object.keys(ADD_ONS).filter((a) => ADD_ONS[a] === file), ...(PLATFORM[file] ?? [])];
      expect([...policyActions(JSON.parse(addOnPolicy(file)))].sort(), file).toEqual(expected.sort());
    }
  });
});

describe('SHARE_NOTIFY_EVENT_BUS set but the notify policy not attached', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState(), env: { SHARE_NOTIFY_EVENT_BUS: 'ecs-share-alerts' } });
  });
  afterAll(async () => {
    process.env.SHARE_NOTIFY_EVENT_BUS = '';
    await w.stop();
  });

  it('is denied eventbridge:PutEvents, which changes no outcome, and publishes nothing', async () => {
    const snap = DEMO.snapshots.serviceKey;
    await tag(w, snap, DEMO.rdRecipient.uid);
    const result = await w.invoke('share', { resourceId: snap, region: DEMO.region });
    expect(result.results[0]).toMatchObject({ outcome: 'refused', error: { code: 'ServiceKeyEncrypted' } });
    const denied = w.emu.calls({ action: 'PutEvents' });
    expect(denied.map((c) => [c.status, c.code])).toEqual([[403, 'NoPermission']]);
    expect(w.emu.published()).toEqual([]);
  });
});

describe('the function role without its Resource Sharing statement', () => {
  let w: World;

  beforeAll(async () => {
    w = await startWorld({ state: e2eState() });
    const doc = JSON.parse(shippedPolicy());
    doc.Statement = doc.Statement.filter(
      (s: { Action: string | string[] }) => ![s.Action].flat().some((a) => a.startsWith('resourcesharing:')),
    );
    await w.owner.ram.createPolicyVersion(
      new $Ram.CreatePolicyVersionRequest({
        policyName: FUNCTION_POLICY,
        policyDocument: JSON.stringify(doc),
        setAsDefault: true,
      }),
    );
  });
  afterAll(() => w.stop());

  it('fails the share with the permission error and its advice, and shares nothing', async () => {
    const snap = DEMO.snapshots.cmk;
    await tag(w, snap, DEMO.rdRecipient.uid);
    phase(w);
    const result = outcomeFor(outcomes(await w.deliverEvents()), snap);
    expect(result.outcome).toBe('failed');
    expect(result.error?.code).toBe('NoPermission');
    expect(result.advice).toMatch(/lacks a permission/);
    expect(await use(w, DEMO.rdRecipient.uid, snap)).toMatchObject({ ok: false });
  });
});
