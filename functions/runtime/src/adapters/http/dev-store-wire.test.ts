import { describe, expect, it } from 'vitest';
import { decodeDevStore, encodeDevStore } from './dev-store-wire.ts';

describe('dev-store-wire', () => {
  it('round-trips dates, regular expressions and bytes, nested in objects and arrays', () => {
    const value = {
      at: new Date('2026-03-04T05:06:07.089Z'),
      list: [new Date(0), { re: /^a.b$/im }],
      bytes: new Uint8Array([0, 255]),
      n: 1,
      s: 'x',
      none: null,
    };
    const back = decodeDevStore(encodeDevStore(value)) as typeof value;
    expect(back).toEqual(value);
    expect(back.at).toBeInstanceOf(Date);
    expect((back.list[1] as { re: RegExp }).re.flags).toBe('im');
  });

  it('leaves MongoDB operators alone, $regex with a string included', () => {
    const filter = { name: { $regex: '^a', $options: 'i' }, n: { $in: [1, 2] }, $or: [{ a: 1 }] };
    expect(decodeDevStore(encodeDevStore(filter))).toEqual(filter);
  });

  it('throws TypeError for keys containing NUL, which could pose as tags', () => {
    expect(() => encodeDevStore({ doc: { '\0date': '2026-01-01' } })).toThrow(TypeError);
  });

  it('writes and reads plain values as plain JSON, and still tags what a toJSON returns', () => {
    const doc = { _id: 'a#1', seq: 1, tags: ['x', { y: null }], text: 'back\\u0000slash' };
    expect(encodeDevStore(doc)).toBe(JSON.stringify(doc));
    expect(decodeDevStore(encodeDevStore(doc))).toEqual(doc);
    const wrapped = { inner: { toJSON: () => ({ at: new Date(0) }) } };
    expect(decodeDevStore(encodeDevStore(wrapped))).toEqual({ inner: { at: new Date(0) } });
    expect(() => encodeDevStore({ deep: { list: [{ '\0regexp': 1 }] } })).toThrow(TypeError);
  });

  it('throws TypeError for a malformed tagged value', () => {
    expect(() => decodeDevStore('{"a":{"\\u0000date":5}}')).toThrow(TypeError);
  });
});
