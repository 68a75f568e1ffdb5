// npm run build: one esbuild bundle folder per function (dist/<name>/index.js and sdk.js), what s.yaml deploys.
import { build, type BuildOptions, type Plugin } from 'esbuild';
import fs from 'node:fs';
import path from 'node:path';
import { leaveOut } from './leave-out';

const root = path.resolve(__dirname, '..');
export const BUNDLE_BUDGET_BYTES = 800 * 1024;

export function functionNames(): string[] {
  return fs
    .readdirSync(path.join(root, 'functions'), { withFileTypes: true })
    .filter((d) => d.isDirectory() && fs.existsSync(path.join(root, 'functions', d.name, 'index.ts')))
    .map((d) => d.name)
    .sort();
}

/** The shipping esbuild settings, shared by both files (and by the bench's controls). */
export const BUILD_OPTIONS: BuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node20',
  format: 'cjs',
  minify: true,
  sourcemap: 'external',
  legalComments: 'none',
  logLevel: 'warning',
};

/** The official packages (shared/cloud/sdk.ts), imported dynamically by shared/cloud/api.ts. */
const SDK_ENTRY = path.join(root, 'shared', 'cloud', 'sdk.ts');
export const SDK_FILE = 'sdk.js';

/**
 * The SDK goes in a second file beside index.js, which node reads and compiles only at the first call: compiling a
 * bundle costs time in proportion to its size even when none of its modules run (docs/benchmarks.md, Cold start).
 */
const sdkBesideIndex: Plugin = {
  name: 'sdk-beside-index',
  setup(b) {
    // With dynamic import unsupported, esbuild turns import('./sdk') into a plain require() of the side file (no ESM loader).
    b.onResolve({ filter: /^\.\/sdk$/ }, (args) =>
      path.join(args.resolveDir, 'sdk.ts') === SDK_ENTRY ? { path: `./${SDK_FILE}`, external: true } : undefined,
    );
  },
};

export async function buildFunction(
  name: string,
  outRoot = path.join(root, 'dist'),
): Promise<{ name: string; file: string; bytes: number; files: Record<string, number> }> {
  const outdir = path.join(outRoot, name);
  fs.rmSync(outdir, { recursive: true, force: true });
  await build({
    ...BUILD_OPTIONS,
    entryPoints: [path.join(root, 'functions', name, 'index.ts')],
    outfile: path.join(outdir, 'index.js'),
    plugins: [sdkBesideIndex],
    supported: { 'dynamic-import': false },
  });
  await build({
    ...BUILD_OPTIONS,
    entryPoints: [SDK_ENTRY],
    outfile: path.join(outdir, SDK_FILE),
    plugins: [leaveOut],
  });
  const files = Object.fromEntries(['index.js', SDK_FILE].map((f) => [f, fs.statSync(path.join(outdir, f)).size]));
  // The budget is for what one function deploys: both files.
  return { name, file: path.join(outdir, 'index.js'), bytes: files['index.js'] + files[SDK_FILE], files };
}

async function main() {
  let over = false;
  for (const name of functionNames()) {
    const r = await buildFunction(name);
    const kb = (r.bytes / 1024).toFixed(0);
    over ||= r.bytes > BUNDLE_BUDGET_BYTES;
    const parts = Object.entries(r.files)
      .map(([f, b]) => `${f} ${(b / 1024).toFixed(0)} KB`)
      .join(' + ');
    console.log(`dist/${name}/  ${kb} KB (${parts})${r.bytes > BUNDLE_BUDGET_BYTES ? '  OVER the 800 KB budget' : ''}`);
  }
  if (over) process.exit(1);
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e);
    process.exit(1);
  });
}
