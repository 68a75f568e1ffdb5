import { afterEach, describe, expect, it, vi } from 'vitest';
import { createLogger, logLevelFrom } from '../../shared/log';
import { handler as share } from '../../functions/share/index';

afterEach(() => vi.restoreAllMocks());

describe('the JSON-lines logger', () => {
  it('writes one JSON object per line and never a secret', () => {
    const lines: string[] = [];
    createLogger({ fn: 'x' }, (l) => lines.push(l), 'info').info('hello', {
      credentials: { accessKeySecret: 's3cret', securityToken: 't0ken' },
      resourceId: 's-1',
    });
    const entry = JSON.parse(lines[0]);
    expect(entry).toMatchObject({ level: 'info', msg: 'hello', fn: 'x', resourceId: 's-1' });
    expect(lines[0]).not.toMatch(/s3cret|t0ken/);
  });

  it('drops lines below the configured level', () => {
    const lines: string[] = [];
    const log = createLogger({}, (l) => lines.push(l), 'warn');
    log.info('no');
    log.warn('yes');
    expect(lines.map((l) => JSON.parse(l).msg)).toEqual(['yes']);
    expect(logLevelFrom({ SHARE_LOG_LEVEL: 'ERROR' })).toBe('error');
    expect(logLevelFrom({ SHARE_LOG_LEVEL: 'nonsense' })).toBe('info');
  });
});

describe('bad input', () => {
  it('gets a clear error in the result and in the log, before any call', async () => {
    vi.stubEnv('SHARE_LOG_LEVEL', 'info');
    vi.stubEnv('ALIBABA_CLOUD_ENDPOINT_OVERRIDE', 'http://127.0.0.1:1'); // nothing listens: a call would fail loudly
    const written: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation(
      (chunk: string | Uint8Array) => (written.push(String(chunk)), true),
    );
    const result = await share(Buffer.from('{"resourceId":"*","region":"cn-hangzhou"}'), {
      accountId: '1000000000000001',
    });
    expect(result).toEqual({
      ok: false,
      error: { code: 'InvalidInput', message: expect.stringContaining('resourceId must be a snapshot') },
    });
    const logged = written.map((l) => JSON.parse(l));
    expect(logged).toEqual([
      expect.objectContaining({
        level: 'error',
        fn: 'share',
        error: { code: 'InvalidInput', message: expect.stringContaining('"*"') },
      }),
    ]);
    vi.unstubAllEnvs();
  });

  it('reports a bad setting as a ConfigError result', async () => {
    vi.stubEnv('SHARE_CONCURRENCY', 'many');
    vi.stubEnv('SHARE_LOG_LEVEL', 'off');
    const result = await share(Buffer.from('{"resourceId":"s-1234","region":"cn-hangzhou"}'), {});
    expect(result).toEqual({
      ok: false,
      error: { code: 'ConfigError', message: expect.stringContaining('SHARE_CONCURRENCY') },
    });
    vi.unstubAllEnvs();
  });
});
