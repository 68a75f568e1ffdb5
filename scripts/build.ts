// npm run build: one esbuild bundle folder per function (dist/<name>/index.js), what s.yaml deploys.
import { build } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';

const root = path.resolve(__dirname, '..');
export const BUNDLE_BUDGET_BYTES = 800 * 1024;

export function functionNames(): string[] {
  return fs
    .readdirSync(path.join(root, 'functions'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(root, 'functions', d.name, 'index.ts')))
    .map((d) => d.name)
    .sort();
}

export async function buildFunction(name: string, outRoot = path.join(root, 'dist')): Promise<{ name: string; file: string; bytes: number }> {
  const outdir = path.join(outRoot, name);
  fs.rmSync(outdir, { recursive: true, force: true });
  await build({
    entryPoints: [path.join(root, 'functions', name, 'index.ts')],
    outfile: path.join(outdir, 'index.js'),
    bundle: true,
    platform: 'node',
    target: 'node20',
    format: 'cjs',
    minify: true,
    sourcemap: 'external',
    legalComments: 'none',
    logLevel: 'warning',
  });
  const file = path.join(outdir, 'index.js');
  return { name, file, bytes: fs.statSync(file).size };
}

async function main() {
  let over = false;
  for (const name of functionNames()) {
    const r = await buildFunction(name);
    const kb = (r.bytes / 1024).toFixed(0);
    over ||= r.bytes > BUNDLE_BUDGET_BYTES;
    console.log(`dist/${name}/index.js  ${kb} KB${r.bytes > BUNDLE_BUDGET_BYTES ? '  OVER the 800 KB budget' : ''}`);
  }
  if (over) process.exit(1);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
