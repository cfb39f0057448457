import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { brokerTarget, TargetsFile, toFileSd } from './prometheus-targets.ts';

describe('prometheus-targets', () => {
  describe('toFileSd', () => {
    it('lists ready instances only, one group per instance', () => {
      const groups = toFileSd([
        {
          service: 'hello',
          queued: 0,
          instances: [
            {
              id: 'hello-1',
              state: 'ready',
              url: 'http://127.0.0.1:41000',
              metricsUrl: 'http://127.0.0.1:41000',
              inFlight: 0,
            },
            { id: 'hello-2', state: 'starting', url: undefined, metricsUrl: undefined, inFlight: 0 },
            {
              id: 'hello-3',
              state: 'stopping',
              url: 'http://127.0.0.1:41002',
              metricsUrl: 'http://127.0.0.1:41002',
              inFlight: 0,
            },
          ],
        },
      ]);
      expect(groups).toHaveLength(1);
      expect(groups[0]?.targets).toEqual(['127.0.0.1:41000']);
      expect(groups[0]?.labels).toMatchObject({
        faas_name: 'hello',
        pod: 'hello-1',
        job: 'sluice-functions',
      });
    });

    it('scrapes an instance on its own metrics port when the Service sets METRICS_PORT', () => {
      const groups = toFileSd([
        {
          service: 'api-gateway',
          queued: 0,
          instances: [
            {
              id: 'api-gateway-1',
              state: 'ready',
              url: 'http://127.0.0.1:41000',
              metricsUrl: 'http://127.0.0.1:41001',
              inFlight: 0,
            },
          ],
        },
      ]);
      expect(groups[0]?.targets).toEqual(['127.0.0.1:41001']);
    });
  });

  describe('TargetsFile', () => {
    it('writes the latest list as JSON', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-targets-'));
      try {
        const file = new TargetsFile(join(dir, 'nested/targets.json'));
        void file.write([{ targets: ['a:1'], labels: {} }]);
        await file.write([{ targets: ['b:2'], labels: { faas_name: 'x' } }]);
        expect(JSON.parse(await readFile(file.file, 'utf8'))).toEqual([
          { targets: ['b:2'], labels: { faas_name: 'x' } },
        ]);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  });

  it('lists the local broker as its own target: its /metrics has the KEDA-scaled dispatchers', () => {
    expect(brokerTarget('http://127.0.0.1:9010/')).toEqual({
      targets: ['127.0.0.1:9010'],
      labels: { job: 'sluice-broker', namespace: 'sluice', service: 'broker', __metrics_path__: '/metrics' },
    });
  });
});
