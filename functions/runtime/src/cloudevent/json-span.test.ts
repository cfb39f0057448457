import { describe, expect, it } from 'vitest';
import { memberSpan } from './json-span.ts';

function memberText(json: string, name: string): string | undefined {
  const bytes = Buffer.from(json);
  const span = memberSpan(bytes, name);
  return span === undefined ? undefined : bytes.subarray(span.start, span.end).toString();
}

describe('memberSpan', () => {
  it.each([
    [
      'an object with nested strings holding brackets',
      '{"data":{"a":"}]\\"{","b":[1,{"c":[]}]},"z":1}',
      '{"a":"}]\\"{","b":[1,{"c":[]}]}',
    ],
    ['a number with exponent', '{"data":-1.10e+2}', '-1.10e+2'],
    ['a string with escapes', '{"data":"a\\"b\\\\"}', '"a\\"b\\\\"'],
    ['literals', '{"data":null}', 'null'],
    ['whitespace around', ' { "x" : 1 ,\n "data" :\t[ 1 , 2 ] \n}', '[ 1 , 2 ]'],
    ['non-ASCII text', '{"data":"café ☕","n":1}', '"café ☕"'],
    ['an escaped key', '{"d\\u0061ta":true}', 'true'],
    ['a repeated key: the last, as JSON.parse', '{"data":1,"data":2}', '2'],
  ])('finds the value in %s', (_what, json, expected) => {
    expect(JSON.parse(json)).toBeTypeOf('object');
    expect(memberText(json, 'data')).toBe(expected);
  });

  it('returns undefined without the member, for an empty object and for a non-object', () => {
    expect(memberText('{"datum":1,"x":{"data":2}}', 'data')).toBeUndefined();
    expect(memberText('{}', 'data')).toBeUndefined();
    expect(memberText('[1]', 'data')).toBeUndefined();
  });
});
