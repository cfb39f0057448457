import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig, parseDuration } from './config.ts';
import { ConfigError } from './errors.ts';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('fills defaults from the folder name when only FUNCTION_DIR is set', () => {
    const config = loadConfig({ FUNCTION_DIR: 'functions/demo/hello' });
    expect(config).toMatchObject({
      functionDir: resolve('functions/demo/hello'),
      serviceName: 'hello',
      serviceRevision: undefined,
      port: 8080,
      eventSource: '/sluice/functions/hello',
      maxBodyBytes: 1024 * 1024,
      mongodbUrl: undefined,
      handlerTimeoutSeconds: 25,
      idempotencyLockSeconds: 30,
      storeTimeoutSeconds: 5,
      logLevel: 'info',
      metricsEnabled: true,
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('refuses an idempotency TTL that does not exceed the lock: a record could expire under a live claim', () => {
    expect(() =>
      loadConfig({ FUNCTION_DIR: 'f', IDEMPOTENCY_LOCK_SECONDS: '60', IDEMPOTENCY_TTL_SECONDS: '60' }),
    ).toThrow(/IDEMPOTENCY_TTL_SECONDS \(60\) must exceed IDEMPOTENCY_LOCK_SECONDS \(60\)/);
  });

  it("takes Knative's K_SERVICE, K_REVISION and PORT", () => {
    const config = loadConfig({
      FUNCTION_DIR: '/app/fn',
      K_SERVICE: 'greeter',
      K_REVISION: 'greeter-00003',
      PORT: '9090',
    });
    expect(config.serviceName).toBe('greeter');
    expect(config.serviceRevision).toBe('greeter-00003');
    expect(config.port).toBe(9090);
    expect(config.eventSource).toBe('/sluice/functions/greeter');
  });

  it('lets CE_SOURCE override the reply source', () => {
    expect(loadConfig({ FUNCTION_DIR: 'x', CE_SOURCE: 'urn:me' }).eventSource).toBe('urn:me');
  });

  it('lists every problem at once', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      MAX_BODY_BYTES: '0',
      IDEMPOTENCY_TTL_SECONDS: '1.5',
      HANDLER_TIMEOUT_SECONDS: '60',
      IDEMPOTENCY_LOCK_SECONDS: '30',
      SHUTDOWN_TIMEOUT_SECONDS: '-1',
      LOG_LEVEL: 'loud',
      MONGODB_URL: 'postgres://x',
      OTEL_SDK_DISABLED: 'yes',
    });
    expect(problems).toHaveLength(9);
    const joined = problems.join('\n');
    for (const name of [
      'FUNCTION_DIR',
      'PORT',
      'MAX_BODY_BYTES',
      'IDEMPOTENCY_TTL_SECONDS',
      'IDEMPOTENCY_LOCK_SECONDS (30) must exceed HANDLER_TIMEOUT_SECONDS (60)',
      'SHUTDOWN_TIMEOUT_SECONDS',
      'LOG_LEVEL',
      'MONGODB_URL',
      'OTEL_SDK_DISABLED',
    ]) {
      expect(joined).toContain(name);
    }
  });

  it('says everything in one message', () => {
    expect(() => loadConfig({ PORT: '70000' })).toThrow(/FUNCTION_DIR[\s\S]*PORT="70000"/);
  });

  it('accepts a mongodb+srv URL and OTEL_SDK_DISABLED=true', () => {
    const config = loadConfig({
      FUNCTION_DIR: 'x',
      MONGODB_URL: 'mongodb+srv://db.example.com/',
      OTEL_SDK_DISABLED: 'true',
    });
    expect(config.mongodbUrl).toBe('mongodb+srv://db.example.com/');
    expect(config.metricsEnabled).toBe(false);
  });

  it('reports its ports over IPC only with SLUICE_REPORT_PORTS=ipc', () => {
    const base = { FUNCTION_DIR: 'x' };
    expect(loadConfig(base).reportPortsOverIpc).toBe(false);
    expect(loadConfig({ ...base, SLUICE_REPORT_PORTS: '' }).reportPortsOverIpc).toBe(false);
    expect(loadConfig({ ...base, SLUICE_REPORT_PORTS: 'ipc' }).reportPortsOverIpc).toBe(true);
    expect(problemsOf({ ...base, SLUICE_REPORT_PORTS: 'stdout' })).toEqual([
      'SLUICE_REPORT_PORTS="stdout" must be ipc (or unset)',
    ]);
  });

  it('takes SLUICE_DEAD_LETTER_SINK when it is an http(s) URL; empty means none', () => {
    const base = { FUNCTION_DIR: 'functions/demo/hello' };
    expect(loadConfig({ ...base, SLUICE_DEAD_LETTER_SINK: 'http://dead-letter-sink' }).deadLetterSink).toBe(
      'http://dead-letter-sink',
    );
    expect(loadConfig({ ...base, SLUICE_DEAD_LETTER_SINK: '' }).deadLetterSink).toBeUndefined();
    expect(problemsOf({ ...base, SLUICE_DEAD_LETTER_SINK: 'dead-letter-sink' })[0]).toMatch(
      /SLUICE_DEAD_LETTER_SINK/,
    );
    expect(problemsOf({ ...base, SLUICE_DEAD_LETTER_SINK: 'ftp://x/' })[0]).toMatch(/http\(s\) URL/);
  });

  it('takes SLUICE_DEV_STORE_URL when it is a loopback http URL, with its token', () => {
    const config = loadConfig({
      FUNCTION_DIR: 'x',
      SLUICE_DEV_STORE_URL: 'http://127.0.0.1:40123',
      SLUICE_DEV_STORE_TOKEN: 't0ken',
    });
    expect(config.devStoreUrl).toBe('http://127.0.0.1:40123');
    expect(config.devStoreToken).toBe('t0ken');
    expect(loadConfig({ FUNCTION_DIR: 'x' }).devStoreUrl).toBeUndefined();
  });

  it('requires SLUICE_DEV_STORE_TOKEN with SLUICE_DEV_STORE_URL: the dev store refuses requests without it', () => {
    expect(
      problemsOf({ FUNCTION_DIR: 'x', SLUICE_DEV_STORE_URL: 'http://127.0.0.1:40123' }).join('\n'),
    ).toContain('SLUICE_DEV_STORE_TOKEN is required');
  });

  it('reads METRICS_PORT: a plain HTTP function serves /metrics there instead of PORT', () => {
    expect(loadConfig({ FUNCTION_DIR: 'x', METRICS_PORT: '9464' }).metricsPort).toBe(9464);
    expect(loadConfig({ FUNCTION_DIR: 'x' }).metricsPort).toBeUndefined();
    expect(problemsOf({ FUNCTION_DIR: 'x', METRICS_PORT: 'nine' })[0]).toContain('METRICS_PORT');
  });

  it.each(['https://127.0.0.1:1', 'http://10.0.0.5:8080', 'http://127.0.0.1:1/v1', 'mongodb://127.0.0.1:1'])(
    'rejects SLUICE_DEV_STORE_URL=%s: the dev store is loopback http only',
    (url) => {
      expect(problemsOf({ FUNCTION_DIR: 'x', SLUICE_DEV_STORE_URL: url }).join('\n')).toContain(
        'SLUICE_DEV_STORE_URL',
      );
    },
  );
});

describe('parseDuration', () => {
  it('reads Go-style durations and refuses the rest', () => {
    expect(parseDuration('1h30m')).toBe(5_400_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(parseDuration('1.5s')).toBeUndefined();
    expect(parseDuration('')).toBeUndefined();
  });
});
