// The unused-export check (npm run unused-exports) on a small tree of its own: what counts as a use, what does not.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { unusedExports } from '../../scripts/unused-exports';

const root = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'unused-exports-')));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const files: Record<string, string> = {
  'tsconfig.json': JSON.stringify({
    compilerOptions: { module: 'commonjs', strict: true },
    include: ['src', 'functions'],
  }),
  'src/lib.ts': [
    'export const used = 1;',
    'export const dead = 2;',
    'export const onlyHere = 3;',
    'export const viaStar = 4;',
    'export const viaDynamic = 5;',
    'export const dynamicUntaken = 6;',
    'export type Shape = { a: number };',
    'export function area(s: Shape): number { return s.a * onlyHere; }',
    'export type Lonely = string;',
  ].join('\n'),
  'src/barrel.ts': "export * from './lib';\nexport { used as renamed } from './lib';",
  'src/main.ts': [
    "import { used, area } from './lib';",
    "import { viaStar } from './barrel';",
    'export async function run() {',
    "  const { viaDynamic } = await import('./lib');",
    '  return used + viaStar + viaDynamic + area({ a: 1 });',
    '}',
  ].join('\n'),
  'functions/f/index.ts': "import { run } from '../../src/main';\nexport const handler = run;\nexport const extra = 1;",
};
for (const [name, text] of Object.entries(files)) {
  fs.mkdirSync(path.dirname(path.join(root, name)), { recursive: true });
  fs.writeFileSync(path.join(root, name), text);
}

describe('unusedExports', () => {
  const found = unusedExports(root).map((u) => `${u.file} ${u.name}${u.local ? ' (local)' : ''}`);

  it('lists an export nobody imports, and one only its own file uses', () => {
    expect(found).toEqual(
      expect.arrayContaining(['src/lib.ts dead', 'src/lib.ts onlyHere (local)', 'src/lib.ts Lonely']),
    );
  });

  it('follows export-from and export-star chains and destructured dynamic imports', () => {
    expect(found).not.toContain('src/lib.ts viaStar');
    expect(found).not.toContain('src/lib.ts viaDynamic');
    expect(found).toContain('src/lib.ts dynamicUntaken');
    expect(found).toContain('src/barrel.ts renamed');
  });

  it("lets a type stay exported where it names part of its file's API", () => {
    expect(found.some((f) => f.startsWith('src/lib.ts Shape'))).toBe(false);
  });

  it("keeps a function's handler, the name Function Compute loads, and nothing else of its entry", () => {
    expect(found).not.toContain('functions/f/index.ts handler');
    expect(found).toContain('functions/f/index.ts extra');
  });
});
