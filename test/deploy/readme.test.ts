// The README and docs/ are part of the product: every command, policy, variable, path and link they quote must be the
// real one, and the README stays the short user contract (the detail lives in docs/).
import fs from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';
import { describe, expect, it } from 'vitest';
import { samePolicy } from '../../shared/domain/policy-json';

const root = path.resolve(__dirname, '../..');
const read = (rel: string) => fs.readFileSync(path.join(root, rel), 'utf8');
const readme = read('README.md');
const docFiles = [
  'README.md',
  ...fs
    .readdirSync(path.join(root, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .sort()
    .map((f) => `docs/${f}`),
];
const docs = docFiles.map((file) => [file, read(file)] as const);
/** Linked from the README before the work that writes them lands; once they exist every check applies to them. */
const LANDS_LATER: string[] = [];
const README_MAX_BYTES = 15_000;

const blocksOf = (text: string, lang: string) =>
  [...text.matchAll(new RegExp('```' + lang + '\\n([\\s\\S]*?)```', 'g'))].map((m) => m[1]);
const jsonDocs = (text: string) =>
  blocksOf(text, 'json').flatMap((b) => {
    try {
      return [JSON.parse(b) as Record<string, unknown>];
    } catch {
      return []; // illustrative blocks (statement lines, a summary with "…") are not whole documents
    }
  });
const packageScripts: Record<string, string> = JSON.parse(read('package.json')).scripts;
const shippedPolicies = fs
  .readdirSync(path.join(root, 'shared/policies'))
  .filter((f) => f.endsWith('.json'))
  .map((f) => ({ file: `shared/policies/${f}`, doc: JSON.parse(read(`shared/policies/${f}`)) }));

/** Source files under a folder, comments removed, so a variable "read" only in a comment does not count. */
function sources(dir: string): string {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of fs.readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (/\.(ts|mts|js)$/.test(e.name))
        out.push(
          fs
            .readFileSync(p, 'utf8')
            .replace(/^\s*\/\*[\s\S]*?\*\//gm, '')
            .replace(/(^|\s)\/\/.*$/gm, '$1'),
        );
    }
  };
  walk(path.join(root, dir));
  return out.join('\n');
}
const productCode = sources('shared') + sources('functions');
const repoCode = productCode + sources('scripts') + sources('test');
const credentialChain = sources('node_modules/@alicloud/credentials/dist');

/** GitHub's heading anchors: lower case, punctuation dropped, spaces to hyphens, repeats numbered. */
function anchorsOf(text: string): Set<string> {
  const seen = new Map<string, number>();
  const out = new Set<string>();
  for (const m of text.replace(/```[\s\S]*?```/g, '').matchAll(/^#{1,6} (.+)$/gm)) {
    const slug = m[1]
      .trim()
      .toLowerCase()
      .replace(/[^\p{L}\p{N} _-]/gu, '')
      .replace(/ /g, '-');
    const n = seen.get(slug) ?? 0;
    seen.set(slug, n + 1);
    out.add(n ? `${slug}-${n}` : slug);
  }
  return out;
}

describe('README', () => {
  it('starts with the demo command and the test command that .ci/run runs', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)![1];
    expect(firstBlock).toMatch(/^npm ci && npm start\b/m);
    expect(firstBlock).toMatch(/^npm ci && npm test\b/m);
    expect(read('.ci/run')).toMatch(/^npm ci\b[\s\S]*^npm test$/m);
  });

  it(`stays the short user contract: under ${README_MAX_BYTES.toLocaleString('en')} bytes`, () => {
    expect(Buffer.byteLength(readme, 'utf8')).toBeLessThan(README_MAX_BYTES);
  });

  it('links every doc in docs/, and the live proof', () => {
    const linked = new Set([...readme.matchAll(/\]\((docs\/[^)#\s]+)/g)].map((m) => m[1]));
    for (const [file] of docs.slice(1)) expect(linked, `README links ${file}`).toContain(file);
    expect(readme).toMatch(/^Run the proof in your own accounts\b.*\]\(docs\/live\.md\)/m);
  });

  it('names the shipped function role policy, which a doc quotes exactly', () => {
    expect(readme).toContain('shared/policies/function-role.json');
    const shipped = JSON.parse(read('shared/policies/function-role.json'));
    const quoted = docs.flatMap(([, text]) => jsonDocs(text)).filter((d) => samePolicy(d as never, shipped));
    expect(quoted.length).toBeGreaterThan(0);
  });

  it('shows the EventBridge filter that s.yaml deploys', () => {
    const sYaml = parse(read('s.yaml'));
    const pattern = JSON.parse(sYaml.resources['on-tag'].props.triggers[0].triggerConfig.eventRuleFilterPattern);
    expect(blocksOf(readme, 'json').map((b) => b.trim())).toContain(JSON.stringify(pattern));
  });

  it('documents every variable the configuration and the logger read', () => {
    const code = read('shared/config.ts') + read('shared/log.ts');
    const readVars = new Set(
      [...code.matchAll(/\benv\.([A-Z][A-Z0-9_]+)|\benv, '([A-Z][A-Z0-9_]+)'/g)].map((m) => m[1] ?? m[2]),
    );
    expect(readVars.size).toBeGreaterThan(10);
    for (const v of readVars) expect(readme, `README names ${v}`).toMatch(new RegExp(`\\b${v}\\b`));
  });
});

describe.each(docs)('%s', (file, text) => {
  it('runs only npm scripts that exist, with flags their script reads', () => {
    for (const m of text.matchAll(/\bnpm (start|test)\b/g)) expect(packageScripts, m[0]).toHaveProperty([m[1]]);
    for (const m of text.matchAll(/\bnpm run ([\w:.-]+)([^\n`#]*)/g)) {
      const [, name, rest] = m;
      expect(packageScripts, `npm run ${name}`).toHaveProperty([name]);
      const entry = /^tsx (\S+\.ts)$/.exec(packageScripts[name])?.[1];
      const args = rest.includes(' -- ') || rest.startsWith(' --') ? rest.slice(rest.indexOf('--') + 2) : '';
      for (const flag of args.match(/--[a-z][\w-]*/g) ?? []) {
        expect(entry, `${m[0].trim()}: a tsx script reads ${flag}`).toBeDefined();
        expect(read(entry!), `${entry} reads ${flag}`).toContain(`'${flag}'`);
      }
    }
  });

  it('quotes only policies that are shipped, exactly', () => {
    for (const d of jsonDocs(text).filter((d) => Array.isArray(d.Statement))) {
      const match = shippedPolicies.find((p) => samePolicy(d as never, p.doc));
      expect(match, `a policy quoted in ${file} is one of shared/policies/*.json:\n${JSON.stringify(d)}`).toBeDefined();
    }
  });

  it('names only environment variables the code reads', () => {
    const names = new Set(
      [...text.matchAll(/\b(?:SHARE|ECS_SHARE|ALIBABA_CLOUD|FC|FUZZ)_[A-Z0-9_]*[A-Z0-9]\b(?!_)/g)].map((m) => m[0]),
    );
    for (const v of names) {
      const where = v.startsWith('SHARE_') ? productCode : repoCode + credentialChain;
      expect(new RegExp(`\\b${v}\\b`).test(where), `${v} (named in ${file}) is read by the code`).toBe(true);
    }
  });

  it('names only files and folders that exist', () => {
    const paths = new Set(
      [...text.matchAll(/(?<![\w./<-])((?:shared|functions|scripts|test|events|docs|\.ci)\/[\w.*/<>-]*)/g)]
        .filter((m) => !/\b(GET|PUT|POST|DELETE) $/.test(text.slice(Math.max(0, m.index - 8), m.index))) // an emulator admin route
        .map((m) => m[1].replace(/[.,]+$/, '')),
    );
    for (const p of paths) {
      if (p.includes('<') || LANDS_LATER.includes(p)) continue; // a placeholder such as functions/<name>/index.ts
      if (p.includes('*')) {
        const dir = path.join(root, path.dirname(p));
        const re = new RegExp('^' + path.basename(p).replace(/[.]/g, '\\.').replace(/\*/g, '.*') + '$');
        expect(fs.existsSync(dir) && fs.readdirSync(dir).some((f) => re.test(f)), `${p} matches a file`).toBe(true);
      } else expect(fs.existsSync(path.join(root, p)), `${p} exists`).toBe(true);
    }
  });

  it('links only to files and headings that exist', () => {
    for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      const [target, anchor] = m[1].split('#');
      if (/^[a-z]+:/.test(target)) continue; // https:, mailto:
      const rel = target ? path.posix.normalize(path.posix.join(path.posix.dirname(file), target)) : file;
      if (LANDS_LATER.includes(rel) && !fs.existsSync(path.join(root, rel))) continue;
      expect(fs.existsSync(path.join(root, rel)), `${m[0]} in ${file}: ${rel} exists`).toBe(true);
      if (anchor) expect([...anchorsOf(read(rel))], `${m[0]} in ${file}: a heading of ${rel}`).toContain(anchor);
    }
  });

  it('queries only the share-problem fields the README recipe carries (which the notify test checks)', () => {
    const section = readme.slice(readme.indexOf('\n## Failures reach a person\n'));
    const recipe = new Set(
      [
        ...blocksOf(section.slice(0, section.indexOf('\n## ', 1)), 'sql')
          .join('\n')
          .matchAll(/'\$\.([A-Za-z][\w.]*)'/g),
      ].map((m) => m[1]),
    );
    expect(recipe.size).toBeGreaterThan(5);
    const used = [
      ...[...blocksOf(text, 'sql'), ...blocksOf(text, 'json')].join('\n').matchAll(/'\$\.([A-Za-z][\w.]*)'/g),
    ].map((m) => m[1]);
    for (const f of used) expect([...recipe], `$.${f} in ${file}`).toContain(f);
  });
});
