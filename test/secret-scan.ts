// "No secret ever logged" (issue 13): a reporter that, once the run is over, scans everything the e2e files logged for
// every credential used in them, and fails the run (exit code 1) on any occurrence.
// - onInit makes a capture directory and provides it to the workers (inject(CAPTURE_DIR_KEY)); the e2e project's
//   setup file (test/setup/log-capture.ts) writes there, per test file: the product's log lines at every level
//   (<stem>.log), whatever this process printed (<stem>.out), and the credentials its emulators held (<stem>.secrets.json).
// - onTestRunEnd scans every captured line of every e2e file for every recorded secret, in the forms a leak takes:
//   raw, JSON-escaped, with '/' escaped, URL-encoded (either hex case, also RFC 3986 and form encoding) and URL-encoded
//   twice. A long secret (32+ characters: STS secrets and tokens) is found from any 24 consecutive characters of it.
// It prints what it scanned, so a scan over nothing is noticed, and fails when e2e files ran but nothing was captured.
// Findings name the file, the capture and the line, the kind of secret and a masked prefix; never the secret.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Reporter, TestModule, Vitest } from 'vitest/node';

export const CAPTURE_DIR_KEY = 'secretScanDir' as const;

declare module 'vitest' {
  export interface ProvidedContext {
    secretScanDir: string;
  }
}

export type SecretKind = 'access key id' | 'access key secret' | 'security token';

export interface Secret {
  kind: SecretKind;
  value: string;
  owner?: string;
}

export interface Hit {
  kind: SecretKind;
  owner?: string;
  masked: string;
  /** The form found: raw, JSON-escaped, URL-encoded, ... */
  form: string;
  /** Only part of the secret (24+ consecutive characters of a long one) was found. */
  partial: boolean;
}

/** The files one test file's capture is made of. */
export function captureNames(dir: string, stem: string): { log: string; out: string; secrets: string } {
  return {
    log: path.join(dir, `${stem}.log`),
    out: path.join(dir, `${stem}.out`),
    secrets: path.join(dir, `${stem}.secrets.json`),
  };
}

/** A prefix short enough to tell secrets apart in a report without giving one away (at most a third of it). */
export function mask(value: string): string {
  return `${value.slice(0, Math.min(6, Math.floor(value.length / 3)))}… (${value.length} chars)`;
}

const rfc3986 = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
const lowerHex = (s: string) => s.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());

/** The forms a secret takes in a log line, each once (for an alphanumeric secret, most are the raw text). */
export function secretForms(value: string): { form: string; text: string }[] {
  const json = JSON.stringify(value).slice(1, -1);
  const candidates: [string, string][] = [
    ['raw', value],
    ['JSON-escaped', json],
    ['JSON-escaped twice', JSON.stringify(json).slice(1, -1)],
    ['JSON-escaped with \\/', json.replace(/\//g, '\\/')],
    ['URL-encoded', encodeURIComponent(value)],
    ['URL-encoded', lowerHex(encodeURIComponent(value))],
    ['URL-encoded (RFC 3986)', rfc3986(value)],
    ['form-encoded', new URLSearchParams({ v: value }).toString().slice(2)],
    ['URL-encoded twice', encodeURIComponent(encodeURIComponent(value))],
    ['URL-encoded twice', lowerHex(encodeURIComponent(encodeURIComponent(value)))],
  ];
  const seen = new Set<string>();
  return candidates.filter(([, text]) => !seen.has(text) && seen.add(text)).map(([form, text]) => ({ form, text }));
}

/** Secrets shorter than this are not scanned (they would match ordinary text); SecretIndex.skipped lists them. */
const MIN_SECRET_LENGTH = 8;
/** Forms at least this long are also found from a part of them (FRAGMENT consecutive characters). */
const LONG_FORM = 32;
const FRAGMENT = 24;
const WINDOW = 16;
const STEP = FRAGMENT - WINDOW + 1; // any FRAGMENT characters of a form hold one of its windows starting at a multiple of STEP

interface Entry {
  secret: Secret;
  form: string;
  rank: number; // the form's place in secretForms: a hit reports the first form found
  text: string;
  partial: boolean;
}

/**
 * Finds secrets in lines in time linear in the line's length, whatever the number of secrets: every WINDOW-character
 * slice of the line is looked up among the secrets' windows (a long form's windows every STEP characters, a shorter
 * form's first WINDOW characters then checked in full); forms shorter than WINDOW are looked up by their length.
 */
export class SecretIndex {
  readonly secrets: number;
  readonly skipped: Secret[] = [];
  private readonly windows = new Map<string, Entry[]>();
  private readonly short = new Map<number, Map<string, Entry[]>>();

  constructor(secrets: Iterable<Secret>) {
    const unique = new Map<string, Secret>();
    for (const s of secrets) if (!unique.has(s.value)) unique.set(s.value, s);
    this.secrets = unique.size;
    const add = (map: Map<string, Entry[]>, key: string, e: Entry) => {
      const list = map.get(key);
      if (list) list.push(e);
      else map.set(key, [e]);
    };
    for (const secret of unique.values()) {
      if (secret.value.length < MIN_SECRET_LENGTH) {
        this.skipped.push(secret);
        continue;
      }
      secretForms(secret.value).forEach(({ form, text }, rank) => {
        if (text.length >= LONG_FORM) {
          for (let p = 0; p + WINDOW <= text.length; p += STEP)
            add(this.windows, text.slice(p, p + WINDOW), { secret, form, rank, text, partial: true });
        } else if (text.length >= WINDOW) {
          add(this.windows, text.slice(0, WINDOW), { secret, form, rank, text, partial: false });
        } else {
          let byLength = this.short.get(text.length);
          if (!byLength) this.short.set(text.length, (byLength = new Map()));
          add(byLength, text, { secret, form, rank, text, partial: false });
        }
      });
    }
  }

  /** The secrets in one line, each once: a whole occurrence preferred over a part, then the earliest form. */
  scan(line: string): Hit[] {
    const found = new Map<string, Entry & { whole: boolean }>();
    const note = (e: Entry, whole: boolean) => {
      const prev = found.get(e.secret.value);
      if (!prev || (whole && !prev.whole) || (whole === prev.whole && e.rank < prev.rank))
        found.set(e.secret.value, { ...e, whole });
    };
    for (let i = 0; i + WINDOW <= line.length; i++) {
      const entries = this.windows.get(line.slice(i, i + WINDOW));
      if (!entries) continue;
      for (const e of entries) {
        if (!e.partial) {
          if (line.startsWith(e.text, i)) note(e, true);
        } else note(e, line.includes(e.text));
      }
    }
    for (const [length, byText] of this.short) {
      for (let i = 0; i + length <= line.length; i++) {
        const entries = byText.get(line.slice(i, i + length));
        if (entries) for (const e of entries) note(e, true);
      }
    }
    return [...found.values()].map((e) => ({
      kind: e.secret.kind,
      owner: e.secret.owner,
      masked: mask(e.secret.value),
      form: e.form,
      partial: !e.whole,
    }));
  }
}

export interface CaptureRecord {
  file: string; // the test file
  log: string; // capture file paths
  out: string;
  secrets: Secret[];
}

export interface Finding extends Hit {
  file: string;
  capture: 'product log' | 'stdout/console';
  line: number;
}

export interface ScanReport {
  files: number;
  logLines: number;
  outLines: number;
  secrets: number;
  byKind: Record<SecretKind, number>;
  skipped: number;
  findings: Finding[];
}

/** Reads a capture directory's records (one per test file that finished its setup's afterAll). */
export function readCaptures(dir: string): CaptureRecord[] {
  const out: CaptureRecord[] = [];
  for (const name of fs.existsSync(dir) ? fs.readdirSync(dir).sort() : []) {
    if (!name.endsWith('.secrets.json')) continue;
    const names = captureNames(dir, name.slice(0, -'.secrets.json'.length));
    const data = JSON.parse(fs.readFileSync(path.join(dir, name), 'utf8')) as { file: string; secrets: Secret[] };
    out.push({ file: data.file, log: names.log, out: names.out, secrets: data.secrets });
  }
  return out;
}

/** Every captured line of every record against every record's secrets. */
export function scanCaptures(records: CaptureRecord[]): ScanReport {
  const all = records.flatMap((r) => r.secrets);
  const index = new SecretIndex(all);
  const byKind: Record<SecretKind, number> = { 'access key id': 0, 'access key secret': 0, 'security token': 0 };
  for (const v of new Map(all.map((s) => [s.value, s.kind])).values()) byKind[v]++;
  const report: ScanReport = {
    files: records.length,
    logLines: 0,
    outLines: 0,
    secrets: index.secrets,
    byKind,
    skipped: index.skipped.length,
    findings: [],
  };
  for (const r of records) {
    for (const [capture, file] of [
      ['product log', r.log],
      ['stdout/console', r.out],
    ] as const) {
      const text = fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '';
      const lines = text.split('\n');
      if (lines[lines.length - 1] === '') lines.pop();
      if (capture === 'product log') report.logLines += lines.length;
      else report.outLines += lines.length;
      lines.forEach((line, i) => {
        for (const hit of index.scan(line)) report.findings.push({ ...hit, file: r.file, capture, line: i + 1 });
      });
    }
  }
  return report;
}

const n = (x: number) => x.toLocaleString('en-US');

export default class SecretScanReporter implements Reporter {
  private dir = '';
  private root = process.cwd();

  onInit(vitest: Vitest): void {
    this.root = vitest.config.root;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ecs-share-secret-scan-'));
    vitest.provide(CAPTURE_DIR_KEY, this.dir);
  }

  onTestRunStart(): void {
    fs.mkdirSync(this.dir, { recursive: true }); // a watch-mode rerun after a clean scan removed it
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const rel = (f: string) => path.relative(this.root, f).split(path.sep).join('/');
    const ran = testModules
      // The live files (test/live) capture like the e2e files and are scanned with them.
      .filter((m) => /^test\/(e2e|live)\//.test(rel(m.moduleId)))
      .filter((m) => [...m.children.allTests()].some((t) => ['passed', 'failed'].includes(t.result().state)));
    if (ran.length === 0) return void fs.rmSync(this.dir, { recursive: true, force: true });

    const started = Date.now();
    const records = readCaptures(this.dir).map((r) => ({ ...r, file: rel(r.file) }));
    const report = scanCaptures(records);
    const problems: string[] = [];
    const captured = new Set(records.map((r) => r.file));
    for (const m of ran)
      if (!captured.has(rel(m.moduleId)))
        problems.push(`${rel(m.moduleId)}: nothing captured (its setup file did not run or did not finish)`);
    if (report.logLines === 0) problems.push('no product log line was captured: the scan would look at nothing');
    if (report.secrets === 0) problems.push('no secret was recorded: the scan would look for nothing');
    if (report.skipped > 0)
      problems.push(
        `${report.skipped} secrets are shorter than ${MIN_SECRET_LENGTH} characters and cannot be scanned for`,
      );

    const k = report.byKind;
    const summary =
      `secret scan: ${n(report.logLines)} product log lines and ${n(report.outLines)} stdout/console lines of ${report.files} e2e files, ` +
      `${n(report.secrets)} secrets (${n(k['access key id'])} access key ids, ${n(k['access key secret'])} access key secrets, ` +
      `${n(k['security token'])} security tokens) in ${Date.now() - started} ms`;
    const out: string[] = [];
    for (const f of report.findings.slice(0, 50)) {
      out.push(
        `  ${f.file}, ${f.capture} line ${f.line}: ${f.kind} ${f.masked}${f.owner ? ` of ${f.owner}` : ''}, ${f.partial ? 'part of it, ' : ''}${f.form}`,
      );
    }
    if (report.findings.length > 50) out.push(`  … and ${report.findings.length - 50} more`);

    if (report.findings.length === 0 && problems.length === 0) {
      process.stdout.write(`\n${summary}: no secret found\n`);
      fs.rmSync(this.dir, { recursive: true, force: true });
      return;
    }
    process.exitCode = 1;
    const lines = [`\nSECRET SCAN FAILED: ${summary}`];
    if (report.findings.length) lines.push(`${report.findings.length} occurrences of secrets in the logs:`, ...out);
    for (const p of problems) lines.push(`  ${p}`);
    lines.push(`  (captures kept in ${this.dir})`);
    process.stdout.write(lines.join('\n') + '\n');
  }
}
