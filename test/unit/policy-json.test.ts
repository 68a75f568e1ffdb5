import { describe, expect, it } from 'vitest';
import { asArray, canonical, parsePolicy, samePolicy } from '../../shared/domain/policy-json';

describe('parsePolicy', () => {
  it('parses a pretty-printed document as RAM returns it', () => {
    const text = '{\n  "Version": "1",\n  "Statement": [\n    {"Effect": "Allow", "Action": "sts:AssumeRole"}\n  ]\n}';
    expect(parsePolicy(text)).toEqual({ Version: '1', Statement: [{ Effect: 'Allow', Action: 'sts:AssumeRole' }] });
  });

  it('wraps a lone statement object in an array', () => {
    expect(parsePolicy('{"Version":"1","Statement":{"Effect":"Allow","Action":"x"}}').Statement).toHaveLength(1);
  });

  it.each([
    ['not JSON', 'Version: 1', /not valid JSON/],
    ['a JSON array', '[]', /not a JSON object/],
    ['a JSON string', '"policy"', /not a JSON object/],
    ['a scalar Statement', '{"Version":"1","Statement":"x"}', /Statement/],
  ])('throws a clear error for %s', (_name, text, message) => {
    expect(() => parsePolicy(text)).toThrow(message);
  });
});

describe('canonical and samePolicy', () => {
  it.each([
    ['key order', { a: 1, b: 2 }, { b: 2, a: 1 }, true],
    ['a one-element array and its scalar', { Service: ['x'] }, { Service: 'x' }, true],
    ['array order', { Service: ['a', 'b'] }, { Service: ['b', 'a'] }, true],
    ['duplicate array elements', { Service: ['a', 'a'] }, { Service: 'a' }, true],
    ['nested statements in another order', { S: [{ a: 1 }, { b: 2 }] }, { S: [{ b: 2 }, { a: 1 }] }, true],
    ['a different value', { Service: 'a' }, { Service: 'b' }, false],
    ['an extra element', { Service: ['a', 'b'] }, { Service: 'a' }, false],
    ['a number and its string', { Version: 1 }, { Version: '1' }, false],
  ])('treats %s as %s', (_name, a, b, equal) => {
    expect(samePolicy(a, b)).toBe(equal);
  });

  it('compares a reformatted RAM document equal to the one written', () => {
    const written = {
      Version: '1',
      Statement: [{ Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { Service: ['1@x'] } }],
    };
    const returned = parsePolicy(
      '{"Statement":[{"Principal":{"Service":"1@x"},"Effect":"Allow","Action":["sts:AssumeRole"]}],"Version":"1"}',
    );
    expect(canonical(returned)).toBe(canonical(written));
  });
});

describe('asArray', () => {
  it.each([
    [undefined, []],
    [null, []],
    ['a', ['a']],
    [
      ['a', 'b'],
      ['a', 'b'],
    ],
  ])('turns %j into %j', (input, expected) => {
    expect(asArray(input as string | string[] | undefined)).toEqual(expected);
  });
});
