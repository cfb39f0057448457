import { describe, expect, it } from 'vitest';
import {
  benchReading,
  compareWindows,
  expectedWindows,
  parseStreamsBenchArgs,
  STREAMS_FUNCTION,
  streamsBenchManifests,
} from './streams-bench.ts';

const T0 = Date.parse('2026-03-01T12:00:00.000Z');

describe('streams-bench', () => {
  it('runs a RabbitmqSource into the broker and one trigger to window-aggregator, classic queues', () => {
    const m = streamsBenchManifests({ exchange: 'ex', queue: 'q', parallelism: 50 });
    expect(m.warnings).toEqual([]);
    expect(m.sources.map((s) => s.name)).toEqual(['bench-readings']);
    expect(m.triggers.map((t) => [t.name, t.subscriber.ref?.name, t.parallelism])).toEqual([
      ['bench-window-aggregator', STREAMS_FUNCTION, 50],
    ]);
  });

  it('expects each window from the distinct readings sent', () => {
    const a = benchReading('r', 0, 2, T0 + 1_000);
    const b = benchReading('r', 2, 2, T0 + 2_000);
    const c = benchReading('r', 4, 2, T0 + 61_000);
    const windows = expectedWindows([a, b, a, c]);
    expect([...windows.keys()]).toEqual([
      'bench-000|2026-03-01T12:00:00.000Z',
      'bench-000|2026-03-01T12:01:00.000Z',
    ]);
    expect(windows.get('bench-000|2026-03-01T12:00:00.000Z')).toMatchObject({
      count: 2,
      sum: a.value + b.value,
      min: Math.min(a.value, b.value),
    });
  });

  it('finds a window missing, one too many, one counted twice or with other figures; none when exact', () => {
    const expected = expectedWindows([benchReading('r', 0, 1, T0), benchReading('r', 1, 1, T0 + 60_000)]);
    const published = [...expected.values()];
    expect(compareWindows(expected, published)).toEqual([]);
    expect(compareWindows(expected, published.slice(1))).toEqual([
      'bench-000|2026-03-01T12:00:00.000Z: missing',
    ]);
    const [first, second] = published;
    if (first === undefined || second === undefined) throw new Error('two windows');
    expect(compareWindows(expected, [first, { ...second, count: 2 }])[0]).toContain('instead of');
    expect(compareWindows(expected, [...published, first])[0]).toContain('published twice');
    expect(compareWindows(expected, [...published, { ...first, sensorId: 'x' }])[0]).toContain(
      'not expected',
    );
  });

  it('reads its arguments or refuses them', () => {
    expect(
      parseStreamsBenchArgs('{"url":"amqp://x","readings":10,"warmup":0,"sensors":2,"inFlight":5}'),
    ).toMatchObject({ readings: 10, warmup: 0, serverCpu: '0' });
    expect(() =>
      parseStreamsBenchArgs('{"url":"amqp://x","readings":0,"warmup":0,"sensors":2,"inFlight":5}'),
    ).toThrow(/readings/);
  });
});
