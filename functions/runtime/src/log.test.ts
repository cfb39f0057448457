import { describe, expect, it } from 'vitest';
import { Limits } from './limits.ts';
import { isoText, JsonLogger, jsonString } from './log.ts';
import { seededUniform } from './seeded-random.ts';

function capture() {
  const lines: string[] = [];
  const log = new JsonLogger({
    serviceName: 'svc',
    sink: { write: (c: string) => lines.push(...c.trim().split('\n')) },
  });
  return { log, lines };
}

describe('JsonLogger', () => {
  it('writes what it holds once 256 lines wait, without waiting for the event loop', () => {
    const writes: string[] = [];
    const log = new JsonLogger({ serviceName: 'svc', sink: { write: (c: string) => writes.push(c) } });
    for (let i = 0; i < 600; i++) log.info(`line ${i}`);
    // Synchronously: two full batches written, the rest held for the next turn.
    expect(writes.map((w) => w.trim().split('\n').length)).toEqual([256, 256]);
    log.flush();
    expect(
      writes
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).message),
    ).toEqual(Array.from({ length: 600 }, (_, i) => `line ${i}`));
  });

  describe('log', () => {
    it('writes a short line as given: one ECS JSON object with every field', () => {
      const { log, lines } = capture();
      log.info('event processed', { 'event.id': 'e1', 'http.response.status_code': 204, nested: { a: [1] } });
      log.flush();
      expect(JSON.parse(lines[0] ?? '')).toMatchObject({
        'log.level': 'info',
        message: 'event processed',
        service: { name: 'svc' },
        'event.id': 'e1',
        'http.response.status_code': 204,
        nested: { a: [1] },
      });
    });

    it('caps a line to Limits.logLineBytes whatever the message and fields hold, keeping the first fields', () => {
      const { log, lines } = capture();
      const huge = 'é'.repeat(1_000_000); // two bytes each
      const fields: Record<string, unknown> = {
        'event.id': 'e1',
        'error.message': huge,
        'error.stack_trace': huge,
      };
      for (let i = 0; i < 1000; i++) fields[`field${i}`] = { value: huge.slice(0, 100) };
      log.error(huge, fields);
      log.flush();
      const line = lines[0] ?? '';
      expect(Buffer.byteLength(line)).toBeLessThanOrEqual(Limits.logLineBytes);
      const parsed = JSON.parse(line);
      expect(parsed['event.id']).toBe('e1');
      expect(parsed.message).toMatch(/more characters\)$/);
      expect(parsed['error.message']).toHaveLength(Limits.logField);
      expect(parsed['log.truncated_fields']).toBeGreaterThan(0);
    });
  });
});

describe('jsonString', () => {
  it('is JSON.stringify of any string: quotes, backslashes, controls, DEL, non-ASCII, lone surrogates', () => {
    const samples = [
      '',
      'dev.sluice.bench.order.placed.v1',
      '/apis/v1/namespaces/sluice/pingsources/window-closer',
      'a"b',
      'a\\b',
      'tab\there',
      'nul\u0000',
      'del\u007f',
      '~ !',
      'caf\u00e9',
      'emoji \ud83d\ude00',
      'lone \ud83d',
      'lone \ude00 low',
      '\u2028\u2029',
    ];
    for (const s of samples) expect(jsonString(s)).toBe(JSON.stringify(s));
    for (let c = 0; c < 0x800; c++) {
      const s = `x${String.fromCharCode(c)}y`;
      expect(jsonString(s)).toBe(JSON.stringify(s));
    }
  });

  it('writes a message once serialised for the lines that repeat it, and each new message as itself', () => {
    const { log, lines } = capture();
    for (const m of ['event processed', 'event processed', 'say "hi"', 'event processed']) log.info(m);
    log.flush();
    expect(lines.map((l) => JSON.parse(l).message)).toEqual([
      'event processed',
      'event processed',
      'say "hi"',
      'event processed',
    ]);
  });
});

describe('isoText', () => {
  it("is the millisecond's toISOString, whatever the order the clock reads in", () => {
    const base = Date.UTC(2026, 11, 31, 23, 59, 58, 990);
    const steps = [0, 0, 1, 9, 10, 99, 100, 999, 1000, 1009, 1010, 2005, 1500, -3000, 86_400_000, 5, 5];
    const seen = steps.map((step) => base + step);
    // Either side of the epoch, the years the format holds at its ends, and past them (an extended year).
    seen.push(-1, 0, 999, 1000, -62_167_219_200_000, 253_402_300_799_999, 253_402_300_800_000, 8.64e15);
    const uniform = seededUniform(7);
    for (let i = 0; i < 2000; i++) seen.push(base + Math.floor(uniform() * 5000) - 2500);
    for (const ms of seen) expect(isoText(ms), String(ms)).toBe(new Date(ms).toISOString());
  });
});
