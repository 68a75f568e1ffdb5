// The cold-start strategy holds: each function bundle stays small because it never pulls in a full SDK client.
// Bundles are built fresh from the current source into a temp folder, and a full ECS client bundle is the control
// that proves the markers below are what a full client drags in.
import { build } from 'esbuild';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BUILD_OPTIONS, BUNDLE_BUDGET_BYTES, SDK_FILE, buildFunction, functionNames } from '../../scripts/build';
import { LEFT_OUT, leaveOut } from '../../scripts/leave-out';

const root = path.resolve(__dirname, '../..');
/** A model class only the full ECS client's model table contains, and a method only its client class has. */
const FULL_ECS_MARKERS = ['RunInstancesRequest', 'runInstancesWithOptions'];

let outDir: string;
let fullClientText: string;
const bundles: Record<string, { bytes: number; text: string }> = {};

beforeAll(async () => {
  outDir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-bundles-'));
  for (const name of functionNames()) {
    const b = await buildFunction(name, outDir);
    // Every file the function deploys (index.js and the sdk.js it loads at the first call).
    bundles[name] = {
      bytes: b.bytes,
      text: Object.keys(b.files)
        .map((f) => fs.readFileSync(path.join(path.dirname(b.file), f), 'utf8'))
        .join('\n'),
    };
  }
  const control = path.join(outDir, 'full-ecs.js');
  await build({
    stdin: {
      contents: "import Ecs from '@alicloud/ecs20140526'; export const client = Ecs;",
      resolveDir: root,
      loader: 'ts',
    },
    outfile: control,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    minify: true,
    logLevel: 'warning',
  });
  fullClientText = fs.readFileSync(control, 'utf8');
});

afterAll(() => fs.rmSync(outDir, { recursive: true, force: true }));

describe('function bundles', () => {
  it('are built for every function folder', () => {
    expect(Object.keys(bundles).sort()).toEqual(functionNames());
    expect(functionNames()).toEqual(expect.arrayContaining(['on-tag', 'share']));
  });

  it.each(functionNames())('keeps %s within the 800 KB budget, all its files together', (name) => {
    expect(BUNDLE_BUDGET_BYTES).toBe(800 * 1024);
    expect(bundles[name].bytes).toBeLessThanOrEqual(BUNDLE_BUDGET_BYTES);
    expect(bundles[name].bytes).toBe(
      fs
        .readdirSync(path.join(outDir, name))
        .filter((f) => f.endsWith('.js'))
        .reduce((n, f) => n + fs.statSync(path.join(outDir, name, f)).size, 0),
    );
  });

  it.each(functionNames())("loads no official package with %s's index.js, only at the first call (sdk.js)", (name) => {
    const index = fs.readFileSync(path.join(outDir, name, 'index.js'), 'utf8');
    expect(index).toContain(`require("./${SDK_FILE}")`);
    // openapi-core's signature scheme and the credential chain's file variable: markers of the two packages' code.
    for (const marker of ['ACS3-HMAC-SHA256', 'ALIBABA_CLOUD_CREDENTIALS_FILE']) {
      expect(index).not.toContain(marker);
      expect(bundles[name].text).toContain(marker);
    }
  });

  it('control: a bundle of the full ECS client is over the budget and carries the markers', () => {
    expect(fullClientText.length).toBeGreaterThan(BUNDLE_BUDGET_BYTES);
    for (const marker of FULL_ECS_MARKERS) expect(fullClientText).toContain(marker);
  });

  it.each(functionNames())('leaves the full ECS client and its model table out of %s', (name) => {
    for (const marker of FULL_ECS_MARKERS) expect(bundles[name].text).not.toContain(marker);
  });

  it.each(functionNames())(
    'leaves ws, the proxy agents, moment and lodash out of %s, each as a stub naming it',
    (name) => {
      for (const pkg of Object.keys(LEFT_OUT))
        expect(bundles[name].text).toContain(`ecs-share: ${pkg} is left out of the bundle`);
    },
  );
});

describe('the leave-out plugin', () => {
  it('keeps darabonba loadable and makes a use of a left-out package throw, naming it', async () => {
    const file = path.join(outDir, 'left-out-probe.js');
    await build({
      ...BUILD_OPTIONS,
      sourcemap: false,
      stdin: {
        contents:
          "import * as $dara from '@darabonba/typescript'; export const merge = () => $dara.merge({ a: 1 }, { b: 2 }); export const date = () => new $dara.Date(new globalThis.Date());",
        resolveDir: root,
        loader: 'ts',
      },
      outfile: file,
      plugins: [leaveOut],
    });
    const probe = require(file) as { merge: () => unknown; date: () => unknown };
    expect(() => probe.merge()).toThrow(/ecs-share: lodash is left out of the bundle \(scripts\/leave-out\.ts\)/);
    expect(() => probe.date()).toThrow(/ecs-share: moment is left out of the bundle/);
  });
});
