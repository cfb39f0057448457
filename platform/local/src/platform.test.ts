import { describe, expect, it } from 'vitest';
import {
  DevPlatformConfigError,
  resolveDevConfig,
  SubscriberResolutionError,
  subscriberResolver,
} from './platform.ts';
import type { Serving } from './serving.ts';
import { serviceSpec } from './testing/fake-function-host.ts';

const hello = serviceSpec({ name: 'hello', namespace: 'sluice' });
const serving = {
  urlFor: (name: string) => (name === 'hello' ? 'http://127.0.0.1:41000' : undefined),
} as unknown as Serving;
const ksvc = { apiVersion: 'serving.knative.dev/v1', kind: 'Service' };

describe('platform', () => {
  describe('subscriberResolver', () => {
    const resolve = subscriberResolver(serving, [hello]);

    it('maps a Knative Service ref to its router URL', () => {
      expect(resolve({ ...ksvc, name: 'hello' })).toBe('http://127.0.0.1:41000/');
      expect(resolve({ ...ksvc, name: 'hello', namespace: 'sluice' })).toBe('http://127.0.0.1:41000/');
    });

    it('resolves a uri against the ref, as Knative does', () => {
      expect(resolve({ ...ksvc, name: 'hello' }, '/hooks/in')).toBe('http://127.0.0.1:41000/hooks/in');
    });

    it('refuses a Service that has no manifest in functions/', () => {
      expect(() => resolve({ ...ksvc, name: 'dead-letter-sink' })).toThrow(
        /"dead-letter-sink" has no functions\/dead-letter-sink\/service\.yaml/,
      );
    });

    it('refuses refs that are not Knative Services, and namespace mismatches', () => {
      expect(() => resolve({ apiVersion: 'v1', kind: 'Service', name: 'hello' })).toThrow(
        SubscriberResolutionError,
      );
      expect(() => resolve({ ...ksvc, name: 'hello', namespace: 'other' })).toThrow(/namespace other/);
    });
  });

  describe('resolveDevConfig', () => {
    it('defaults to port 8080, in-memory backends and JSON logs', () => {
      const config = resolveDevConfig({ RABBITMQ_URL: '', MONGODB_URL: '' }, '/repo');
      expect(config).toMatchObject({
        brokerPort: 8080,
        rabbitmqUrl: undefined,
        mongodbUrl: undefined,
        logFormat: 'json',
        targetsFile: '/repo/.tmp/dev/prometheus-targets.json',
      });
    });

    it('takes BROKER_PORT, RABBITMQ_URL and MONGODB_URL from the environment', () => {
      const config = resolveDevConfig(
        { BROKER_PORT: '9090', RABBITMQ_URL: 'amqp://h', MONGODB_URL: 'mongodb://m/' },
        '/repo',
      );
      expect(config).toMatchObject({ brokerPort: 9090, rabbitmqUrl: 'amqp://h', mongodbUrl: 'mongodb://m/' });
    });

    it('runs every RabbitmqSource unless SLUICE_SOURCES names some (empty: none)', () => {
      expect(resolveDevConfig({}, '/repo').sources).toBeUndefined();
      expect(resolveDevConfig({ SLUICE_SOURCES: 'readings, positions' }, '/repo').sources).toEqual([
        'readings',
        'positions',
      ]);
      expect(resolveDevConfig({ SLUICE_SOURCES: '' }, '/repo').sources).toEqual([]);
    });

    it('rejects a bad port or log format', () => {
      expect(() => resolveDevConfig({ BROKER_PORT: 'http' }, '/repo')).toThrow(DevPlatformConfigError);
      expect(() => resolveDevConfig({ SLUICE_LOG_FORMAT: 'xml' }, '/repo')).toThrow(DevPlatformConfigError);
    });
  });
});
