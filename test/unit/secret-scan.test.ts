// The secret scan behind docs/testing.md "No secret in the logs": it must find a credential in every form a log line can carry
// it, and fail the run (and say so) when it finds one or when it would scan nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { TestModule } from 'vitest/node';
import SecretScanReporter, {
  SecretIndex,
  captureNames,
  mask,
  readCaptures,
  scanCaptures,
  secretForms,
  type Secret,
} from '../secret-scan';

const KEY_ID = 'STS.NUh5GbTqRp2sWx8vYz3kLmAb1';
const SECRET = 'Dk4mQ9zR2vXc7NpL0sTy5WbH8eJg3aFu6iKo1rEt9Zq7';
// An STS token: base64, so '/', '+' and '=' in it.
const TOKEN =
  'CAIS+gF1q6Ft5B2yfSjIr5bSOcjtlKl2hI6cWBHyi2UmRrR4uKv/gDz2IHhMe3dtAu0ev/s3nW1W6/sflrN9SpRJXFqcmzXsATTEj7+ZGgpeA0n5nIq9X+ob1O0GNCtREWdadRNT3Nb3Aw==';
const SECRETS: Secret[] = [
  { kind: 'access key id', value: KEY_ID, owner: 'sts session fc-1 of 1000000000000001/fc-role' },
  { kind: 'access key secret', value: SECRET, owner: 'sts session fc-1 of 1000000000000001/fc-role' },
  { kind: 'security token', value: TOKEN, owner: 'sts session fc-1 of 1000000000000001/fc-role' },
  { kind: 'access key id', value: 'LTAIownerDemoKey0001', owner: 'account 1000000000000001' },
  { kind: 'access key secret', value: 'ownerDemoSecret', owner: 'account 1000000000000001' },
  { kind: 'access key secret', value: 'q"uo\\te/d+Se cret=', owner: 'user odd of 1000000000000001' },
];
const index = new SecretIndex(SECRETS);
const found = (line: string) => index.scan(line).map((h) => `${h.kind}${h.partial ? ' (part)' : ''}: ${h.form}`);
const json = (o: unknown) =>
  JSON.stringify({ time: '2026-12-02T00:00:00.000Z', level: 'info', msg: 'call', ...(o as object) });

describe('the scanner', () => {
  it('finds nothing in an ordinary log line (account ids, resource ids, request ids)', () => {
    expect(
      found(
        json({
          fn: 'on-tag',
          requestId: 'local-0tp8fd16sim',
          resourceId: 's-e2espare0000000002',
          targets: ['account 1000000000000001'],
        }),
      ),
    ).toEqual([]);
  });

  it('finds a key id, a secret and a token where they stand in a line', () => {
    expect(found(`signed with ${KEY_ID}`)).toEqual(['access key id: raw']);
    expect(found(json({ note: `key=${SECRET};` }))).toEqual(['access key secret: raw']);
    expect(found(json({ headers: { 'x-acs-security-token': TOKEN } }))).toEqual(['security token: raw']);
    expect(found(`LTAIownerDemoKey0001:ownerDemoSecret`).sort()).toEqual([
      'access key id: raw',
      'access key secret: raw',
    ]);
  });

  it('finds a secret JSON-escaped, once or twice, and with "/" escaped', () => {
    expect(found(json({ err: 'bad secret q"uo\\te/d+Se cret= given' }))).toEqual(['access key secret: JSON-escaped']);
    expect(found(JSON.stringify({ body: json({ err: 'q"uo\\te/d+Se cret=' }) }))).toEqual([
      'access key secret: JSON-escaped twice',
    ]);
    expect(found(`{"token":"${TOKEN.replace(/\//g, '\\/')}"}`)).toEqual(['security token: JSON-escaped with \\/']);
  });

  it('finds a token URL-encoded (either hex case, RFC 3986, form encoding) and URL-encoded twice (a string to sign)', () => {
    const enc = encodeURIComponent(TOKEN);
    expect(enc).toContain('%2F');
    expect(found(`GET /?SecurityToken=${enc}&Action=DescribeSnapshots`)).toEqual(['security token: URL-encoded']);
    expect(found(`GET /?SecurityToken=${enc.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase())}`)).toEqual([
      'security token: URL-encoded',
    ]);
    expect(
      found(
        `GET&%2F&AccessKeyId%3D${encodeURIComponent(encodeURIComponent(KEY_ID))}%26SecurityToken%3D${encodeURIComponent(enc)}`,
      ).sort(),
    ).toEqual([
      'access key id: raw', // "STS.", letters and digits: URL-encoding changes nothing
      'security token: URL-encoded twice',
    ]);
    const odd = new URLSearchParams({ s: 'q"uo\\te/d+Se cret=' }).toString();
    expect(found(odd)).toEqual(['access key secret: form-encoded']);
    expect(secretForms("it's(*)!").map((f) => f.form)).toContain('URL-encoded (RFC 3986)');
  });

  it('finds part of a long secret: any 24 consecutive characters, in any form', () => {
    for (const start of [0, 5, 33, TOKEN.length - 24]) {
      expect(found(`token prefix ${TOKEN.slice(start, start + 24)}… (truncated)`), `from ${start}`).toEqual([
        'security token (part): raw',
      ]);
    }
    expect(found(`secret ${SECRET.slice(10, 34)}`)).toEqual(['access key secret (part): raw']);
    expect(found(`SecurityToken=${encodeURIComponent(TOKEN).slice(40, 64)}`)).toEqual([
      'security token (part): URL-encoded',
    ]);
    for (const { form, text } of secretForms(TOKEN)) {
      for (let start = 0; start + 24 <= text.length; start++) {
        expect(
          index.scan(`…${text.slice(start, start + 24)}…`).map((h) => h.kind),
          `${form} from ${start}`,
        ).toEqual(['security token']);
      }
    }
    // Fewer than 16 characters of a secret are not a leak worth the false alarms.
    expect(found(`x${TOKEN.slice(20, 35)}x`)).toEqual([]);
  });

  it('finds each secret of a line once, the whole one preferred to a part', () => {
    expect(index.scan(`${TOKEN.slice(0, 30)} and then ${TOKEN}`)).toEqual([
      {
        kind: 'security token',
        owner: 'sts session fc-1 of 1000000000000001/fc-role',
        masked: 'CAIS+g… (144 chars)',
        form: 'raw',
        partial: false,
      },
    ]);
  });

  it('masks: at most 6 characters and never more than a third of the secret', () => {
    expect(mask(TOKEN)).toBe('CAIS+g… (144 chars)');
    expect(mask('ownerDemoSecret')).toBe('owner… (15 chars)');
    expect(mask('abcdef')).toBe('ab… (6 chars)');
  });

  it('lists the secrets too short to scan for instead of matching them everywhere', () => {
    const i = new SecretIndex([{ kind: 'access key secret', value: 'short' }, ...SECRETS, ...SECRETS]);
    expect(i.secrets).toBe(SECRETS.length + 1);
    expect(i.skipped.map((s) => s.value)).toEqual(['short']);
    expect(i.scan('a short line')).toEqual([]);
  });
});

describe('the whole-run scan', () => {
  const dirs: string[] = [];
  const tempDir = () => {
    const d = fs.mkdtempSync(path.join(os.tmpdir(), 'secret-scan-test-'));
    dirs.push(d);
    return d;
  };
  afterEach(() => {
    for (const d of dirs.splice(0)) fs.rmSync(d, { recursive: true, force: true });
    process.exitCode = undefined;
    vi.restoreAllMocks();
  });

  function capture(dir: string, stem: string, file: string, log: string[], out: string[], secrets: Secret[]) {
    const n = captureNames(dir, stem);
    fs.writeFileSync(n.log, log.map((l) => l + '\n').join(''));
    fs.writeFileSync(n.out, out.map((l) => l + '\n').join(''));
    fs.writeFileSync(n.secrets, JSON.stringify({ file, secrets }));
  }

  it("scans every file's lines for every file's secrets and names file, capture and line", () => {
    const dir = tempDir();
    capture(
      dir,
      'a',
      '/r/test/e2e/a.test.ts',
      [json({ n: 1 }), json({ n: 2, leaked: `Bearer ${TOKEN}` })],
      ['race rounds: [1,2]'],
      SECRETS.slice(0, 3),
    );
    capture(
      dir,
      'b',
      '/r/test/e2e/b.test.ts',
      [json({ n: 3 })],
      [`debug ${encodeURIComponent(SECRET)}`],
      SECRETS.slice(3),
    );
    const report = scanCaptures(readCaptures(dir));
    expect(report).toMatchObject({
      files: 2,
      logLines: 3,
      outLines: 2,
      secrets: 6,
      byKind: { 'access key id': 2, 'access key secret': 3, 'security token': 1 },
      skipped: 0,
    });
    expect(report.findings.map((f) => `${f.file} ${f.capture}:${f.line} ${f.kind} ${f.form} ${f.masked}`)).toEqual([
      '/r/test/e2e/a.test.ts product log:2 security token raw CAIS+g… (144 chars)',
      // b's capture is scanned for a's secrets too.
      '/r/test/e2e/b.test.ts stdout/console:1 access key secret raw Dk4mQ9… (44 chars)',
    ]);
  });

  const e2eModule = (root: string, name: string) =>
    ({
      moduleId: path.join(root, 'test/e2e', name),
      children: { allTests: () => [{ result: () => ({ state: 'passed' }) }][Symbol.iterator]() },
    }) as unknown as TestModule;

  function runReporter(fill: (dir: string, root: string) => void, modules: (root: string) => TestModule[]) {
    const root = tempDir();
    const reporter = new SecretScanReporter();
    let dir = '';
    reporter.onInit({ config: { root }, provide: (_k: string, v: string) => void (dir = v) } as never);
    dirs.push(dir);
    fill(dir, root);
    const printed: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => (printed.push(String(chunk)), true),
    );
    reporter.onTestRunEnd(modules(root));
    vi.restoreAllMocks();
    return { text: printed.join(''), exitCode: process.exitCode, dirLeft: fs.existsSync(dir) };
  }

  it('passes a clean run, says what it scanned and removes the captures', () => {
    const r = runReporter(
      (dir, root) => capture(dir, 'a', path.join(root, 'test/e2e/a.test.ts'), [json({ n: 1 })], [], SECRETS),
      (root) => [e2eModule(root, 'a.test.ts')],
    );
    expect(r.text).toMatch(
      /^\nsecret scan: 1 product log lines and 0 stdout\/console lines of 1 e2e files, 6 secrets \(2 access key ids, 3 access key secrets, 1 security tokens\) in \d+ ms: no secret found\n$/,
    );
    expect(r.exitCode).toBeUndefined();
    expect(r.dirLeft).toBe(false);
  });

  it('fails the run on a secret in a log line, naming file, line and kind but not the secret', () => {
    const r = runReporter(
      (dir, root) =>
        capture(
          dir,
          'a',
          path.join(root, 'test/e2e/a.test.ts'),
          [json({ n: 1 }), json({ creds: `${KEY_ID}:${SECRET}` })],
          [],
          SECRETS,
        ),
      (root) => [e2eModule(root, 'a.test.ts')],
    );
    expect(r.exitCode).toBe(1);
    expect(r.text).toContain('SECRET SCAN FAILED');
    expect(r.text).toContain(
      'test/e2e/a.test.ts, product log line 2: access key id STS.NU… (29 chars) of sts session fc-1 of 1000000000000001/fc-role, raw',
    );
    expect(r.text).toContain('test/e2e/a.test.ts, product log line 2: access key secret Dk4mQ9… (44 chars)');
    expect(r.text).not.toContain(SECRET);
    expect(r.text).not.toContain(KEY_ID);
    expect(r.dirLeft).toBe(true);
  });

  it('fails a scan over nothing: e2e files ran but nothing was captured', () => {
    const r = runReporter(
      () => {},
      (root) => [e2eModule(root, 'a.test.ts')],
    );
    expect(r.exitCode).toBe(1);
    expect(r.text).toContain('test/e2e/a.test.ts: nothing captured');
    expect(r.text).toContain('no product log line was captured');
    expect(r.text).toContain('no secret was recorded');
  });

  it('says nothing when no e2e file ran', () => {
    const r = runReporter(
      () => {},
      () => [],
    );
    expect(r).toEqual({ text: '', exitCode: undefined, dirLeft: false });
  });
});
