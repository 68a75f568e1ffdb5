// A dry run writes nothing and returns the full plan as data (and `npm run invoke -- reconcile --dry-run` prints it
// for a person); the real run that follows does exactly what the plan said.
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO } from '../../scripts/emulator';
import type { World } from '../helpers/world';
import { e2eState, E2E, recipientUid } from '../helpers/states';
import { IMAGE_ROLE, imageShareAccounts, tag, toolShare, untag, use } from '../helpers/e2e';
import { checkpointFile, reconcile, reconcileOk, reconcileWorld, resultFor } from '../helpers/reconcile';
import type { ReconcileSummary } from '../../shared/usecases/reconcile';

const member = DEMO.rdRecipient.uid;
const other = E2E.rootMember;
const account = recipientUid(1);
const [untagged, kept, fresh] = E2E.spareSnapshots;
const image = DEMO.images.cmk;
const root = path.resolve(__dirname, '../..');
const kinds = (s: ReconcileSummary, id: string) => resultFor(s, id)?.actions.map((a) => a.kind);

/** `npm run invoke -- reconcile --dry-run` against the emulator with the owner's root keys, as a person would run it. */
async function invokeDryRun(w: World): Promise<{ stdout: string; plan: string[]; json: ReconcileSummary }> {
  const env = {
    ...process.env,
    ALIBABA_CLOUD_ENDPOINT_OVERRIDE: w.emu.endpoint,
    ALIBABA_CLOUD_ACCESS_KEY_ID: DEMO.owner.accessKeyId,
    ALIBABA_CLOUD_ACCESS_KEY_SECRET: DEMO.owner.accessKeySecret,
    FC_ACCOUNT_ID: DEMO.owner.uid,
    SHARE_CHECKPOINT_FILE: path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-invoke-')), 'checkpoint.json'),
  };
  const { stdout } = await promisify(execFile)('npm', ['run', 'invoke', '--', 'reconcile', '--dry-run'], {
    cwd: root,
    env,
    maxBuffer: 32 * 1024 * 1024,
  });
  const lines = stdout.split('\n');
  const jsonStart = lines.lastIndexOf('{');
  const plan = lines.slice(0, jsonStart).filter((l) => /^(cn-[a-z]+ \S+: | {2}- |nothing to change)/.test(l));
  return { stdout, plan, json: JSON.parse(lines.slice(jsonStart).join('\n')) };
}

describe('a dry run after tags were removed and added', () => {
  let w: World;
  let dry: ReconcileSummary;
  let dryWrites: number;
  let cli: Awaited<ReturnType<typeof invokeDryRun>>;
  let cliWrites: number;
  beforeAll(async () => {
    w = await reconcileWorld({ state: e2eState() });
    await tag(w, untagged, member);
    await tag(w, kept, member);
    await tag(w, image, `${account} ${DEMO.resourceDirectoryId}`);
    await reconcileOk(w);
    await untag(w, untagged);
    await untag(w, image);
    await tag(w, fresh, other);
    w.emu.clearCalls();
    dry = await reconcile(w, { dryRun: true });
    dryWrites = w.emu.writes().length;
    w.emu.clearCalls();
    cli = await invokeDryRun(w);
    cliWrites = w.emu.writes().length;
  }, 90_000);
  afterAll(() => w.stop());

  it('writes nothing: the call log has no successful write, and no checkpoint is kept', () => {
    expect(dryWrites).toBe(0);
    expect(w.emu.calls().length).toBeGreaterThan(0);
    expect(fs.existsSync(checkpointFile(w))).toBe(false);
  });

  it('leaves every share as it was', async () => {
    expect(await toolShare(w, untagged)).toBeDefined();
    expect(await use(w, member, untagged)).toMatchObject({ ok: true });
    expect(await imageShareAccounts(w, image)).toEqual([account]);
    expect(await toolShare(w, fresh)).toBeUndefined();
  });

  it('returns every change it would make to each resource, as data', () => {
    expect(dry).toMatchObject({
      ok: true,
      dryRun: true,
      complete: true,
      counts: { shared: 1, revoked: 2, unchanged: 1 },
    });
    expect(resultFor(dry, untagged)).toMatchObject({ outcome: 'revoked', dryRun: true });
    expect(kinds(dry, untagged)).toEqual(['deleteResourceShare']);
    expect(resultFor(dry, fresh)).toMatchObject({ outcome: 'shared', dryRun: true, targets: [`account ${other}`] });
    expect(kinds(dry, fresh)).toEqual(['mergeTrust', 'createResourceShare']);
    expect(kinds(dry, image)?.sort()).toEqual(['deleteResourceShare', 'unshareImageAccounts', 'writeGrantLedger']);
    expect(resultFor(dry, kept)).toBeUndefined();
  });

  it('returns the changes to the share roles: the image role loses the grants and the key nothing needs any more', () => {
    expect(dry.roleActions).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          kind: 'mergeTrust',
          roleName: IMAGE_ROLE,
          remove: expect.arrayContaining([
            { kind: 'account', uid: account },
            { kind: 'rd', rdId: DEMO.resourceDirectoryId },
          ]),
        }),
        expect.objectContaining({
          kind: 'writeKmsPolicies',
          roleName: IMAGE_ROLE,
          add: [],
          remove: [expect.objectContaining({ keyId: DEMO.cmkId })],
        }),
      ]),
    );
  });

  it('npm run invoke -- reconcile --dry-run prints the plan for a person, then the same plan as JSON, and writes nothing', () => {
    expect(cliWrites).toBe(0);
    expect(cli.plan).toEqual(
      expect.arrayContaining([
        `cn-hangzhou ${untagged}: 1 change(s)`,
        expect.stringMatching(/^ {2}- delete resource share /),
        `cn-hangzhou ${fresh}: 2 change(s)`,
        expect.stringMatching(new RegExp(`^  - create resource share ecs-share-${fresh} with ${other}`)),
        expect.stringMatching(new RegExp(`^  - stop sharing image with account\\(s\\) ${account}`)),
      ]),
    );
    expect(cli.stdout.indexOf(`cn-hangzhou ${untagged}: 1 change(s)`)).toBeLessThan(cli.stdout.lastIndexOf('\n{\n'));
    expect(cli.json).toMatchObject({ dryRun: true, complete: true, counts: dry.counts });
    expect(cli.json.results.map((r) => [r.resourceId, r.actions.map((a) => a.kind)])).toEqual(
      dry.results.map((r) => [r.resourceId, r.actions.map((a) => a.kind)]),
    );
  });

  it('npm run invoke -- reconcile --dry-run prints the changes to the share roles too', () => {
    expect(cli.json.roleActions.length).toBeGreaterThan(0);
    expect(cli.plan.join('\n')).toContain(IMAGE_ROLE);
  });

  it('is what the real run then does, resource by resource', async () => {
    const real = await reconcile(w);

    expect(real).toMatchObject({ ok: true, dryRun: false, complete: true, counts: dry.counts });
    for (const id of [untagged, fresh, image]) expect(kinds(real, id)).toEqual(kinds(dry, id));
    expect(await use(w, member, untagged)).toMatchObject({ ok: false });
    expect(await use(w, other, fresh)).toMatchObject({ ok: true });
  });
});
