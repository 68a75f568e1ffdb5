// npm run unused-exports: lists every export no other file imports, and fails (exit 1) when there is one.
// Syntactic, over the files tsconfig.json includes: parsing ~30k lines takes well under a second, where a type-checked
// program would load the multi-megabyte @alicloud typings first. Follows `export ... from` and `export *` chains;
// a namespace import or an import() that is not destructured counts as using every export of that file.
import fs from 'node:fs';
import path from 'node:path';
import ts from 'typescript';

// Files loaded by path rather than by an import, with the exports their loader reads.
const ENTRIES: Array<{ file: RegExp; names: string[] }> = [
  { file: /^functions\/[^/]+\/index\.ts$/, names: ['handler'] }, // Function Compute: s.yaml's `index.handler`
  { file: /^test\/(secret-scan|count-reporter)\.ts$/, names: ['default'] }, // vitest reporters (test/vitest.config.mts)
];

type Module = {
  file: string;
  /** Exported name → where it is declared (itself, or a name in another file for `export { x } from`). */
  exports: Map<string, Export>;
  /** `export * from` targets, searched for names this file does not declare. */
  stars: string[];
};

type Export = {
  line: number;
  from?: { file: string; name: string };
  /** A type or interface, which may stay exported to name a part of the file's API (a parameter, a result). */
  type?: boolean;
  /** Referenced in its own file beyond its declaration. */
  local?: boolean;
};

type Use = { file: string; names: string[] | 'all' };

function configFiles(root: string): { files: string[]; options: ts.CompilerOptions } {
  const read = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  if (read.error) throw new Error(ts.flattenDiagnosticMessageText(read.error.messageText, '\n'));
  const parsed = ts.parseJsonConfigFileContent(read.config, ts.sys, root);
  return { files: parsed.fileNames.filter((f) => !f.endsWith('.d.ts')), options: parsed.options };
}

function bindingNames(name: ts.BindingName): string[] {
  if (ts.isIdentifier(name)) return [name.text];
  return name.elements.flatMap((e) => (ts.isOmittedExpression(e) ? [] : bindingNames(e.name)));
}

const hasExport = (n: ts.Node) =>
  ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.ExportKeyword);
const isDefault = (n: ts.Node) =>
  ts.canHaveModifiers(n) && (ts.getModifiers(n) ?? []).some((m) => m.kind === ts.SyntaxKind.DefaultKeyword);

/** The names a destructured `await import(...)` (or `require(...)`) takes, or 'all'. */
function destructured(call: ts.Node): string[] | 'all' {
  let n = call.parent;
  while (n && (ts.isAwaitExpression(n) || ts.isParenthesizedExpression(n) || ts.isAsExpression(n))) n = n.parent;
  if (n && ts.isVariableDeclaration(n) && ts.isObjectBindingPattern(n.name)) {
    const names = n.name.elements.map((e) => (e.propertyName ?? e.name).getText());
    if (!n.name.elements.some((e) => e.dotDotDotToken)) return names;
  }
  return 'all';
}

function scan(file: string, resolve: (spec: string) => string | undefined): { module: Module; uses: Use[] } {
  const source = ts.createSourceFile(file, fs.readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, true);
  const line = (n: ts.Node) => source.getLineAndCharacterOfPosition(n.getStart()).line + 1;
  const module: Module = { file, exports: new Map(), stars: [] };
  const uses: Use[] = [];
  const use = (spec: ts.Expression | undefined, names: string[] | 'all') => {
    const target = spec && ts.isStringLiteralLike(spec) ? resolve(spec.text) : undefined;
    if (target) uses.push({ file: target, names });
  };

  for (const s of source.statements) {
    if (ts.isImportDeclaration(s)) {
      const c = s.importClause;
      if (!c) continue;
      const names: string[] = c.name ? ['default'] : [];
      if (c.namedBindings && ts.isNamespaceImport(c.namedBindings)) use(s.moduleSpecifier, 'all');
      else for (const e of c.namedBindings?.elements ?? []) names.push((e.propertyName ?? e.name).text);
      use(s.moduleSpecifier, names);
    } else if (ts.isExportDeclaration(s)) {
      const target =
        s.moduleSpecifier && ts.isStringLiteralLike(s.moduleSpecifier) ? resolve(s.moduleSpecifier.text) : undefined;
      if (!s.exportClause) {
        if (target) module.stars.push(target);
      } else if (ts.isNamespaceExport(s.exportClause)) {
        module.exports.set(s.exportClause.name.text, { line: line(s) });
        use(s.moduleSpecifier, 'all');
      } else {
        for (const e of s.exportClause.elements) {
          const local = (e.propertyName ?? e.name).text;
          module.exports.set(e.name.text, { line: line(e), from: target ? { file: target, name: local } : undefined });
        }
      }
    } else if (ts.isExportAssignment(s)) {
      module.exports.set('default', { line: line(s) });
    } else if (hasExport(s)) {
      if (isDefault(s)) module.exports.set('default', { line: line(s) });
      else if (ts.isVariableStatement(s))
        for (const d of s.declarationList.declarations)
          for (const n of bindingNames(d.name)) module.exports.set(n, { line: line(d) });
      else {
        const name = (s as ts.DeclarationStatement).name;
        const type = ts.isTypeAliasDeclaration(s) || ts.isInterfaceDeclaration(s);
        if (name && ts.isIdentifier(name)) module.exports.set(name.text, { line: line(s), type });
      }
    }
  }
  // import('x'), require('x') and `typeof import('x')` anywhere in the file.
  const visit = (n: ts.Node): void => {
    if (ts.isCallExpression(n) && n.arguments.length === 1) {
      const dynamic = n.expression.kind === ts.SyntaxKind.ImportKeyword;
      const required = ts.isIdentifier(n.expression) && n.expression.text === 'require';
      if (dynamic || required) use(n.arguments[0], destructured(n));
    } else if (ts.isImportTypeNode(n) && ts.isLiteralTypeNode(n.argument)) {
      const spec = n.argument.literal as ts.Expression;
      use(spec, n.qualifier && ts.isIdentifier(n.qualifier) ? [n.qualifier.text] : 'all');
    }
    ts.forEachChild(n, visit);
  };
  visit(source);
  // Which exported names the file itself uses (any identifier of that name other than the declaration's own).
  const counts = new Map<string, number>();
  const count = (n: ts.Node): void => {
    if (ts.isIdentifier(n)) counts.set(n.text, (counts.get(n.text) ?? 0) + 1);
    ts.forEachChild(n, count);
  };
  count(source);
  for (const [name, e] of module.exports) e.local = !e.from && (counts.get(name) ?? 0) > 1;
  return { module, uses };
}

/** Every export under `root` (its tsconfig.json's files) that no other file imports. */
export function unusedExports(
  root = path.resolve(__dirname, '..'),
): Array<{ file: string; line: number; name: string; local: boolean }> {
  const { files, options } = configFiles(root);
  const ours = new Set(files);
  const resolve = (from: string) => (spec: string) => {
    const hit = ts.resolveModuleName(spec, from, options, ts.sys).resolvedModule?.resolvedFileName;
    return hit && ours.has(path.resolve(hit)) ? path.resolve(hit) : undefined;
  };
  const modules = new Map<string, Module>();
  const uses: Use[] = [];
  for (const f of files) {
    const scanned = scan(f, resolve(f));
    modules.set(f, scanned.module);
    uses.push(...scanned.uses);
  }

  const used = new Set<string>(); // `${file}#${name}`
  const mark = (file: string, name: string, seen = new Set<string>()): void => {
    const key = `${file}#${name}`;
    if (seen.has(key)) return;
    seen.add(key);
    used.add(key);
    const m = modules.get(file);
    const e = m?.exports.get(name);
    if (e?.from) mark(e.from.file, e.from.name, seen);
    else if (m && !e) for (const star of m.stars) mark(star, name, seen);
  };
  const exportsOf = (file: string, seen = new Set<string>()): string[] => {
    const m = modules.get(file);
    if (!m || seen.has(file)) return [];
    seen.add(file);
    return [...m.exports.keys(), ...m.stars.flatMap((s) => exportsOf(s, seen).filter((n) => n !== 'default'))];
  };
  for (const u of uses) for (const n of u.names === 'all' ? exportsOf(u.file) : u.names) mark(u.file, n);
  for (const f of files) {
    const rel = path.relative(root, f);
    for (const entry of ENTRIES) if (entry.file.test(rel)) for (const n of entry.names) mark(f, n);
  }

  const unused: Array<{ file: string; line: number; name: string; local: boolean }> = [];
  for (const m of modules.values())
    for (const [name, e] of m.exports)
      if (!used.has(`${m.file}#${name}`) && !(e.type && e.local))
        unused.push({ file: path.relative(root, m.file), line: e.line, name, local: Boolean(e.local) });
  return unused.sort((a, b) => a.file.localeCompare(b.file) || a.line - b.line);
}

if (require.main === module) {
  const unused = unusedExports();
  for (const u of unused)
    console.log(`${u.file}:${u.line}  ${u.name}${u.local ? '  (used in its own file: drop `export`)' : ''}`);
  if (unused.length) {
    console.error(`${unused.length} unused export(s)`);
    process.exit(1);
  }
  console.log('no unused exports');
}
