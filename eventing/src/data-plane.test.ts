import { describe, expect, it } from 'vitest';
import { Workers } from './backends/workers.ts';
import { DATA_PLANES, DataPlaneError, dataPlaneFrom, prefetchOf } from './data-plane.ts';
import { waitFor } from './testing/test-sink.ts';

describe('data plane', () => {
  it('is upstream unless SLUICE_DATA_PLANE says sluice, and refuses anything else', () => {
    expect(dataPlaneFrom(undefined)).toBe(DATA_PLANES.upstream);
    expect(dataPlaneFrom('')).toBe(DATA_PLANES.upstream);
    expect(dataPlaneFrom('sluice')).toBe(DATA_PLANES.sluice);
    expect(() => dataPlaneFrom('cluster')).toThrow(DataPlaneError);
  });

  it('prefetches 100 per dispatcher upstream, and the parallelism in the sluice data plane', () => {
    expect(prefetchOf(DATA_PLANES.upstream, 1)).toBe(100);
    expect(prefetchOf(DATA_PLANES.upstream, 500)).toBe(500);
    expect(prefetchOf(DATA_PLANES.sluice, 20)).toBe(20);
  });
});

describe('Workers', () => {
  it('runs at most `concurrency` tasks, the others in arrival order', async () => {
    const workers = new Workers(2);
    const started: number[] = [];
    const releases = new Map<number, () => void>();
    const done = [1, 2, 3, 4].map((n) =>
      workers.run(
        () =>
          new Promise<void>((resolve) => {
            started.push(n);
            releases.set(n, resolve);
          }),
      ),
    );
    expect(started).toEqual([1, 2]);
    expect(workers.waiting).toBe(2);
    releases.get(2)?.();
    await waitFor('a free worker to take task 3', () => started.length === 3);
    expect(started).toEqual([1, 2, 3]);
    releases.get(1)?.();
    releases.get(3)?.();
    await waitFor('task 4', () => started.length === 4);
    releases.get(4)?.();
    await Promise.all(done);
    expect(workers.running).toBe(0);
  });
});
