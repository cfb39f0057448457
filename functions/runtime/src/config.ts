/**
 * Runtime configuration, only from environment variables, validated at start: every problem is
 * collected and reported in one ConfigError, so a misconfigured pod says everything at once.
 */
import { basename, resolve } from 'node:path';
import { ConfigError } from './errors.ts';
import { LogLevel, type LogLevelName } from './log.ts';

export interface RuntimeConfig {
  /** Folder of the function (`handler.ts` + `schemas/`). */
  readonly functionDir: string;
  /** `faas.name`: Knative sets K_SERVICE; locally it is the folder name. */
  readonly serviceName: string;
  readonly serviceRevision: string | undefined;
  readonly port: number;
  readonly host: string;
  /** `source` of reply events. */
  readonly eventSource: string;
  readonly maxBodyBytes: number;
  /** A client must send its request headers within this (slow-client bound). */
  readonly requestHeadersTimeoutSeconds: number;
  /** …and its whole request, headers and body, within this. */
  readonly requestTimeoutSeconds: number;
  readonly mongodbUrl: string | undefined;
  readonly mongodbDb: string;
  /** The local platform's shared in-memory store (`make dev` without MONGODB_URL); MONGODB_URL wins. */
  readonly devStoreUrl: string | undefined;
  readonly idempotencyTtlSeconds: number;
  readonly idempotencyLockSeconds: number;
  readonly handlerTimeoutSeconds: number;
  /** Deadline of each store call the runtime makes itself (idempotency records, start-up ping). */
  readonly storeTimeoutSeconds: number;
  readonly shutdownTimeoutSeconds: number;
  readonly logLevel: LogLevelName;
  readonly metricsEnabled: boolean;
  /**
   * SLUICE_DEAD_LETTER_SINK: where the function keeps the events it refuses for good (400, 422, …),
   * because eventing-rabbitmq acks those answers (keep-rejected.ts). Set by the platform from the
   * function's Triggers; unset or empty: refusals are answered without being kept.
   */
  readonly deadLetterSink: string | undefined;
}

type Env = Readonly<Record<string, string | undefined>>;

export function loadConfig(env: Env = process.env): Readonly<RuntimeConfig> {
  const problems: string[] = [];
  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw === '') return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name}="${raw}" must be an integer from ${min} to ${max}`);
      return fallback;
    }
    return value;
  };

  const dir = env.FUNCTION_DIR;
  if (dir === undefined || dir === '')
    problems.push('FUNCTION_DIR is required: the folder of the function to run');
  const functionDir = resolve(dir ?? '.');
  const serviceName = env.K_SERVICE || basename(functionDir);
  const port = int('PORT', 8080, 0, 65535);
  const maxBodyBytes = int('MAX_BODY_BYTES', 1024 * 1024, 1, 64 * 1024 * 1024);
  const requestHeadersTimeoutSeconds = int('REQUEST_HEADERS_TIMEOUT_SECONDS', 10, 1, 3600);
  const requestTimeoutSeconds = int('REQUEST_TIMEOUT_SECONDS', 30, 1, 3600);
  if (requestTimeoutSeconds < requestHeadersTimeoutSeconds) {
    problems.push(
      `REQUEST_TIMEOUT_SECONDS (${requestTimeoutSeconds}) must be at least REQUEST_HEADERS_TIMEOUT_SECONDS (${requestHeadersTimeoutSeconds})`,
    );
  }
  const idempotencyTtlSeconds = int('IDEMPOTENCY_TTL_SECONDS', 86_400, 1, 365 * 86_400);
  const handlerTimeoutSeconds = int('HANDLER_TIMEOUT_SECONDS', 25, 1, 3600);
  const idempotencyLockSeconds = int('IDEMPOTENCY_LOCK_SECONDS', handlerTimeoutSeconds + 5, 1, 3600);
  if (idempotencyLockSeconds <= handlerTimeoutSeconds) {
    problems.push(
      `IDEMPOTENCY_LOCK_SECONDS (${idempotencyLockSeconds}) must exceed HANDLER_TIMEOUT_SECONDS (${handlerTimeoutSeconds}), or a slow invocation could run twice`,
    );
  }
  if (idempotencyTtlSeconds <= idempotencyLockSeconds) {
    problems.push(
      `IDEMPOTENCY_TTL_SECONDS (${idempotencyTtlSeconds}) must exceed IDEMPOTENCY_LOCK_SECONDS (${idempotencyLockSeconds}), or a record could expire under a running claim`,
    );
  }
  const storeTimeoutSeconds = int('STORE_TIMEOUT_SECONDS', 5, 1, 300);
  const shutdownTimeoutSeconds = int('SHUTDOWN_TIMEOUT_SECONDS', 30, 1, 3600);
  const logLevel = (env.LOG_LEVEL ?? 'info').toLowerCase();
  if (!Object.hasOwn(LogLevel, logLevel))
    problems.push(`LOG_LEVEL="${env.LOG_LEVEL}" must be one of ${Object.keys(LogLevel).join(', ')}`);
  const mongodbUrl = env.MONGODB_URL || undefined;
  if (mongodbUrl !== undefined && !/^mongodb(\+srv)?:\/\//.test(mongodbUrl)) {
    problems.push('MONGODB_URL must start with mongodb:// or mongodb+srv://');
  }
  const devStoreUrl = env.SLUICE_DEV_STORE_URL || undefined;
  // Loopback only: the dev store has no authentication and is never a production store.
  if (devStoreUrl !== undefined && !/^http:\/\/127\.0\.0\.1:\d{1,5}\/?$/.test(devStoreUrl)) {
    problems.push('SLUICE_DEV_STORE_URL must be http://127.0.0.1:<port> (the local platform sets it)');
  }
  const deadLetterSink = env.SLUICE_DEAD_LETTER_SINK || undefined;
  if (deadLetterSink !== undefined && !URL.canParse(deadLetterSink)) {
    problems.push(`SLUICE_DEAD_LETTER_SINK="${deadLetterSink}" must be an http(s) URL`);
  } else if (deadLetterSink !== undefined && !/^https?:$/.test(new URL(deadLetterSink).protocol)) {
    problems.push(`SLUICE_DEAD_LETTER_SINK="${deadLetterSink}" must be an http(s) URL`);
  }
  const metricsRaw = env.OTEL_SDK_DISABLED;
  if (metricsRaw !== undefined && metricsRaw !== 'true' && metricsRaw !== 'false' && metricsRaw !== '') {
    problems.push(`OTEL_SDK_DISABLED="${metricsRaw}" must be true or false`);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze({
    functionDir,
    serviceName,
    serviceRevision: env.K_REVISION || undefined,
    port,
    host: env.HOST || '0.0.0.0',
    eventSource: env.CE_SOURCE || `/sluice/functions/${serviceName}`,
    maxBodyBytes,
    requestHeadersTimeoutSeconds,
    requestTimeoutSeconds,
    mongodbUrl,
    mongodbDb: env.MONGODB_DB || 'sluice',
    devStoreUrl,
    idempotencyTtlSeconds,
    idempotencyLockSeconds,
    handlerTimeoutSeconds,
    storeTimeoutSeconds,
    shutdownTimeoutSeconds,
    logLevel: logLevel as LogLevelName,
    metricsEnabled: metricsRaw !== 'true',
    deadLetterSink,
  });
}
