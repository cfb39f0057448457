import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEventingManifests } from '../../../../eventing/src/index.ts';
import { withRunSources } from './system-platform.ts';

const MANIFESTS = resolve(import.meta.dirname, '../../../../eventing/manifests');

describe('withRunSources', () => {
  it('puts the fed sources of two runs on different exchanges and queues, and leaves the others as they are', async () => {
    const manifests = await loadEventingManifests(MANIFESTS);
    const a = withRunSources(manifests, ['readings'], 'streams_1xa');
    const b = withRunSources(manifests, ['readings'], 'streams_2xb');
    const readings = (m: typeof manifests) => m.sources.find((s) => s.name === 'readings');
    // Two runs of one test on one RabbitMQ: one queue would split each run's readings between them.
    expect(readings(a)).toMatchObject({
      exchangeName: 'sluice.streams.readings.streams_1xa',
      queueName: 'sluice.streams.readings.streams_1xa',
      predeclared: false,
    });
    expect(readings(b)?.queueName).toBe('sluice.streams.readings.streams_2xb');
    expect(readings(b)?.exchangeName).toBe('sluice.streams.readings.streams_2xb');
    // Everything else is the manifests' own: a source this run does not feed, the triggers, the sink.
    expect(a.sources.filter((s) => s.name !== 'readings')).toEqual(
      manifests.sources.filter((s) => s.name !== 'readings'),
    );
    expect(readings(a)?.sink).toEqual(readings(manifests)?.sink);
    expect(a.triggers).toBe(manifests.triggers);
    expect(readings(manifests)?.queueName).toBe('sluice.streams.readings');
  });
});
