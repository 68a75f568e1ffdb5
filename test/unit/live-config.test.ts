// Live mode's configuration (scripts/live/config.ts) and the sweep's arguments: pure, table-tested.
import { describe, expect, it } from 'vitest';
import { LIVE_HINT, RUN_TAG, productEnv, readLiveConfig } from '../../scripts/live/config';
import { parseSweepArgs } from '../../scripts/live-sweep';
import { isShareTag } from '../../scripts/live/run';

const full = {
  ECS_SHARE_LIVE: '1',
  ECS_SHARE_LIVE_OWNER_AK: 'LTAIowner',
  ECS_SHARE_LIVE_OWNER_SK: 'ownerSecret',
  ECS_SHARE_LIVE_RECIPIENT_AK: 'LTAIrecipient',
  ECS_SHARE_LIVE_RECIPIENT_SK: 'recipientSecret',
  ECS_SHARE_LIVE_KMS_KEY_ID: 'key-abc',
};

describe('readLiveConfig', () => {
  it('is off (undefined) without ECS_SHARE_LIVE, whatever else is set', () => {
    expect(readLiveConfig({ ...full, ECS_SHARE_LIVE: '' })).toBeUndefined();
    expect(readLiveConfig({ ...full, ECS_SHARE_LIVE: '0' })).toBeUndefined();
  });

  it("defaults: cn-hangzhou, zone h, the real endpoints, the owner's keys for the functions, 30 min, ./live-report", () => {
    const cfg = readLiveConfig(full)!;
    expect(cfg).toMatchObject({
      region: 'cn-hangzhou',
      zone: 'cn-hangzhou-h',
      endpoint: undefined,
      copyImage: false,
      reconcile: false,
      timeoutMs: 1_800_000,
      hasRecipient: true,
    });
    expect(cfg.functionCreds).toEqual(cfg.owner);
    expect(cfg.report).toMatch(/live-report$/);
    expect(cfg.runId).toMatch(/^\d{12}-[a-z0-9]+$/);
  });

  it.each([
    ['the owner secret', { ECS_SHARE_LIVE_OWNER_SK: '' }, 'missing: ECS_SHARE_LIVE_OWNER_SK'],
    [
      'the recipient',
      { ECS_SHARE_LIVE_RECIPIENT_AK: '', ECS_SHARE_LIVE_RECIPIENT_SK: '' },
      'ECS_SHARE_LIVE_RECIPIENT_AK, ECS_SHARE_LIVE_RECIPIENT_SK',
    ],
    ['the key', { ECS_SHARE_LIVE_KMS_KEY_ID: ' ' }, 'ECS_SHARE_LIVE_KMS_KEY_ID'],
    ['a zone outside cn-hangzhou', { ECS_SHARE_LIVE_REGION: 'cn-shanghai' }, 'ECS_SHARE_LIVE_ZONE'],
    ['half of the function pair', { ECS_SHARE_LIVE_FUNCTION_AK: 'LTAIfn' }, 'ECS_SHARE_LIVE_FUNCTION_SK'],
    ['a malformed region', { ECS_SHARE_LIVE_REGION: 'Hangzhou' }, 'is not a region id'],
    ['a folder id without its path', { ECS_SHARE_LIVE_FOLDER_PATH: 'fd-abcdefghij' }, 'is not a folder path'],
    ['a truncated folder id', { ECS_SHARE_LIVE_FOLDER_PATH: 'rd-a1/r-b2/fd-abc' }, 'is not a folder path'],
    ['a malformed RD id', { ECS_SHARE_LIVE_RD_ID: 'rd_x' }, 'is not a resource directory id'],
    ['an endpoint with a path', { ECS_SHARE_LIVE_ENDPOINT: 'http://127.0.0.1:1/x' }, 'is not http(s)://host[:port]'],
    ['a zero timeout', { ECS_SHARE_LIVE_TIMEOUT_S: '0' }, 'is not a positive number'],
    ['a run id with a space', { ECS_SHARE_LIVE_RUN_ID: 'a b' }, 'must be 1-64 letters'],
  ])('names what is wrong: %s', (_, change, message) => {
    expect(() => readLiveConfig({ ...full, ...change })).toThrow(message);
  });

  it('the sweep needs only the owner (no key, no zone, no recipient), and ECS_SHARE_LIVE is implied by the caller', () => {
    const cfg = readLiveConfig(
      {
        ECS_SHARE_LIVE: '1',
        ECS_SHARE_LIVE_OWNER_AK: 'a',
        ECS_SHARE_LIVE_OWNER_SK: 'b',
        ECS_SHARE_LIVE_REGION: 'cn-shanghai',
      },
      { sweep: true },
    )!;
    expect(cfg.hasRecipient).toBe(false);
    expect(() => readLiveConfig({ ...full, ECS_SHARE_LIVE_RECIPIENT_SK: '' }, { sweep: true })).toThrow(
      'ECS_SHARE_LIVE_RECIPIENT_SK',
    );
  });

  it('uses the function keys when both are given', () => {
    const cfg = readLiveConfig({
      ...full,
      ECS_SHARE_LIVE_FUNCTION_AK: 'LTAIfn',
      ECS_SHARE_LIVE_FUNCTION_SK: 'fnSecret',
    })!;
    expect(cfg.functionCreds).toEqual({ accessKeyId: 'LTAIfn', accessKeySecret: 'fnSecret' });
  });
});

describe('productEnv', () => {
  it('overrides the endpoint only when one is configured (unset means the real cloud)', () => {
    expect(productEnv(readLiveConfig(full)!).ALIBABA_CLOUD_ENDPOINT_OVERRIDE).toBeUndefined();
    expect(
      productEnv(readLiveConfig({ ...full, ECS_SHARE_LIVE_ENDPOINT: 'http://127.0.0.1:4000' })!)
        .ALIBABA_CLOUD_ENDPOINT_OVERRIDE,
    ).toBe('http://127.0.0.1:4000');
  });
});

describe('the sweep', () => {
  it.each([
    [[], { dryRun: false }],
    [['--dry-run'], { dryRun: true }],
    [['--run', 'r-1'], { dryRun: false, runId: 'r-1' }],
    [['--run=r-1', '--dry-run'], { dryRun: true, runId: 'r-1' }],
  ])('parses %j', (argv, expected) => {
    expect(parseSweepArgs(argv as string[])).toEqual(expected);
  });

  it.each([[['--all']], [['--run']], [['--run', '*']]])('refuses %j with the usage', (argv) => {
    expect(() => parseSweepArgs(argv as string[])).toThrow('usage: npm run live:sweep');
  });

  it.each([
    ['share-with', true],
    ['share-with.2', true],
    ['share-until', true],
    [RUN_TAG, false],
    ['ecs-share:status', false],
    ['share-with-x', false],
    ['Share-With', false],
  ])('removes %s before a take-back: %s', (key, removed) => {
    expect(isShareTag(key)).toBe(removed);
  });

  it('the skip hint says how to enable live mode in one line', () => {
    expect(LIVE_HINT).toContain('ECS_SHARE_LIVE=1');
    expect(LIVE_HINT).not.toContain('\n');
  });
});
