/**
 * The files `make new-function` writes for one function (new-function.ts decides where and whether): pure
 * functions of the names, so the same arguments always give the same bytes (which is what makes the
 * command idempotent). The shapes are the project's own: functions/demo/hello is the model.
 */

export interface FunctionSpec {
  /** `functions/<system>/` */
  readonly system: string;
  /** The folder and Knative Service name. */
  readonly fn: string;
  /** The CloudEvent type it accepts. */
  readonly type: string;
  /** The CloudEvent type it replies with. */
  readonly reply: string;
  /**
   * The accepted type's schema and example when another function already has them (its producer, or
   * another consumer): copied, so one type has one contract. Otherwise the template's own are written.
   */
  readonly existing?: { readonly schema: string; readonly example: string; readonly from: string };
}

/** The reply type a new function emits unless told otherwise: `dev.sluice.<system>.<fn>.handled.v1`. */
export const defaultReplyType = (system: string, fn: string): string =>
  `dev.sluice.${system}.${fn.replaceAll('-', '.')}.handled.v1`;

const json = (value: unknown): string => `${JSON.stringify(value, null, 2)}\n`;

const SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

function acceptedSchema(s: FunctionSpec): string {
  return json({
    $schema: SCHEMA_DIALECT,
    $id: `https://sluice.dev/schemas/${s.type}.json`,
    title: `${s.type}: what happened, in one sentence`,
    type: 'object',
    additionalProperties: false,
    required: ['name'],
    properties: {
      name: { type: 'string', minLength: 1, maxLength: 100, description: 'who or what the event is about' },
    },
  });
}

function replySchema(s: FunctionSpec): string {
  return json({
    $schema: SCHEMA_DIALECT,
    $id: `https://sluice.dev/schemas/${s.reply}.json`,
    title: `${s.fn} handled an event`,
    type: 'object',
    additionalProperties: false,
    required: ['eventId', 'message'],
    properties: {
      eventId: { type: 'string', minLength: 1, description: 'the id of the event handled' },
      message: { type: 'string' },
    },
  });
}

function acceptedExample(s: FunctionSpec): string {
  return json({
    specversion: '1.0',
    id: `${s.fn}-0001`,
    source: '/examples/curl',
    type: s.type,
    datacontenttype: 'application/json',
    data: { name: 'Ada' },
  });
}

function replyExample(s: FunctionSpec): string {
  return json({
    specversion: '1.0',
    id: `${s.fn}-reply-0001`,
    source: `/sluice/functions/${s.fn}`,
    type: s.reply,
    datacontenttype: 'application/json',
    data: {
      eventId: `${s.fn}-0001`,
      message: s.existing === undefined ? `${s.fn} received Ada` : 'received',
    },
  });
}

function handler(s: FunctionSpec): string {
  // With a schema of its own the handler reads its field; with a copied one it reads none (it cannot know them).
  const message =
    s.existing === undefined
      ? `\`\${FUNCTION} received \${event.data.name}\``
      : `\`\${FUNCTION} received \${event.type}\``;
  return `/**
 * ${s.fn} — accepts ${s.type}, keeps one record per event in its store,
 * and replies ${s.reply}.
 * Scaffolded by \`make new-function\` (docs/write-a-function.md): change schemas/, run \`make types\`, and
 * \`event.data\` and the reply's \`data\` follow (events.gen.ts).
 */
import { DuplicateKeyError } from '../../runtime/src/index.ts';
import type { Handle } from './events.gen.ts';

export const FUNCTION = '${s.fn}';
export const ACCEPTED = '${s.type}' as const;
export const REPLY = '${s.reply}' as const;

export const accepts = [ACCEPTED] as const;
export const emits = [REPLY] as const;

/** The record kept per event (a type, not an interface: store documents are index-signature types). */
export type Received = { readonly _id: string; readonly type: string; readonly time: string };

export const handle: Handle<typeof accepts, typeof emits> = async (event, { store }) => {
  // The side effect is keyed by the event id: a redelivery after a crash finds it and writes nothing twice
  // (the runtime's idempotency guard replays the answer of a completed event by itself).
  try {
    await store.collection<Received>('received').insertOne({
      _id: event.id,
      type: event.type,
      time: event.time ?? new Date().toISOString(),
    });
  } catch (err) {
    if (!(err instanceof DuplicateKeyError)) throw err;
  }
  return { type: REPLY, subject: event.subject ?? event.id, data: { eventId: event.id, message: ${message} } };
};
`;
}

function unitTest(s: FunctionSpec): string {
  const fieldCheck =
    s.existing === undefined
      ? `    const reads: Handle<typeof accepts, typeof emits> = (event) => {
      expectTypeOf(event.data.name).toEqualTypeOf<string>();
      // @ts-expect-error -- \`nickname\` is not in schemas/${s.type}.json
      return event.data.nickname;
    };`
      : `    const reads: Handle<typeof accepts, typeof emits> = (event) => {
      // @ts-expect-error -- \`notInTheSchema\` is not in schemas/${s.type}.json
      return event.data.notInTheSchema;
    };`;
  return `import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { Context, EventOf } from '../../runtime/src/index.ts';
import { loadSchemas, MemoryDocumentStore } from '../../runtime/src/index.ts';
import { readExample } from '../../runtime/test/support.ts';
import type { Events, Handle } from './events.gen.ts';
import { ACCEPTED, accepts, emits, handle, REPLY, type Received } from './handler.ts';

const EXAMPLES = join(import.meta.dirname, 'examples');
const silent = { debug() {}, info() {}, warn() {}, error() {} };

function stubContext(store = new MemoryDocumentStore()): Context {
  return { log: silent, store, functionName: '${s.fn}', signal: new AbortController().signal, traceId: '0'.repeat(32) };
}

const accepted = readdirSync(EXAMPLES)
  .filter((f) => (accepts as readonly string[]).includes(f.replace(/\\.json$/, '')))
  .map((f) => [f, readExample<EventOf<Events, typeof ACCEPTED>>(join(EXAMPLES, f))] as const);

describe('${s.fn} handler', () => {
  it('is typed by its schemas: a field they do not define, or a reply that does not match, does not compile', () => {
    expectTypeOf(handle).toEqualTypeOf<Handle<typeof accepts, typeof emits>>();
${fieldCheck}
    const wrongData: Handle<typeof accepts, typeof emits> = (event) =>
      // @ts-expect-error -- \`message\` is a string (schemas/${s.reply}.json)
      ({ type: REPLY, data: { eventId: event.id, message: 42 } });
    const wrongType: Handle<typeof accepts, typeof emits> = (event) =>
      // @ts-expect-error -- a reply is of a type in \`emits\`
      ({ type: ACCEPTED, data: event.data });
    expect([reads, wrongData, wrongType]).toHaveLength(3);
  });

  it('has an example for every accepted type', () => {
    expect(accepted.map(([, e]) => e.type).sort()).toEqual([...accepts].sort());
  });

  it.each(accepted)('answers the example %s with a reply that passes its schema', async (_file, event) => {
    const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
    const reply = await handle(event, stubContext());
    expect(reply?.type).toBe(REPLY);
    expect(reply?.data?.eventId).toBe(event.id);
    expect(schemas.check(REPLY, reply?.data)).toEqual([]);
    expect(emits).toContain(reply?.type);
  });

  it('keeps one record per event, however often it is delivered', async () => {
    const store = new MemoryDocumentStore();
    const event = accepted[0]?.[1];
    if (event === undefined) throw new Error('no example');
    await handle(event, stubContext(store));
    await handle(event, stubContext(store));
    expect(await store.collection<Received>('received').find({})).toHaveLength(1);
  });
});
`;
}

function integrationTest(s: FunctionSpec): string {
  return `import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { MongoDocumentStore } from '../../runtime/src/index.ts';
import { loadSchemas, receive } from '../../runtime/src/index.ts';
import { postBinary, readExample, type StartedFunction, startInProcess } from '../../runtime/test/support.ts';

const EXAMPLE = readExample(join(import.meta.dirname, 'examples/${s.type}.json'));

describe('${s.fn} on the runtime, with MongoDB (FerretDB unless MONGODB_URL)', () => {
  let fn: StartedFunction;
  let store: MongoDocumentStore;

  beforeAll(async () => {
    fn = await startInProcess(import.meta.dirname, {
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: \`${s.fn.replaceAll('-', '_')}_\${process.pid}_\${Date.now()}\`,
      K_SERVICE: '${s.fn}',
    });
    store = fn.running.store as MongoDocumentStore;
  });
  afterAll(async () => {
    await store?.db.dropDatabase();
    await fn?.running.stop();
  });

  it('answers the binary-mode example with its reply in binary mode, and replays it on redelivery', async () => {
    const event = { ...EXAMPLE, id: \`int-\${Date.now()}\` };
    const first = await postBinary(fn.url, event);
    const body = await first.text();
    expect(first.status).toBe(200);
    expect(first.headers.get('ce-type')).toBe('${s.reply}');
    expect(first.headers.get('ce-source')).toBe('/sluice/functions/${s.fn}');
    const headers = Object.fromEntries(first.headers);
    const reply = receive(headers, Buffer.from(body)).event;
    const schemas = await loadSchemas(join(import.meta.dirname, 'schemas'));
    expect(schemas.check(reply.type, reply.data)).toEqual([]);

    const again = await postBinary(fn.url, event);
    expect(again.status).toBe(200);
    expect(await again.text()).toBe(body);
    expect(await store.collection('received').find({ _id: event.id })).toHaveLength(1);
  });
});
`;
}

function service(s: FunctionSpec): string {
  return `# Knative Service of ${s.fn} (scaffolded by make new-function). The local platform (\`make dev\`) reads this same
# file: autoscaling annotations, containerConcurrency, timeoutSeconds and env apply there too.
apiVersion: serving.knative.dev/v1
kind: Service
metadata:
  name: ${s.fn}
  namespace: sluice
  labels:
    # Reached only inside the cluster (the broker, or api-gateway's routes): never on Kourier's public gateway.
    networking.knative.dev/visibility: cluster-local
    app.kubernetes.io/name: ${s.fn}
    app.kubernetes.io/part-of: sluice
spec:
  template:
    metadata:
      annotations:
        autoscaling.knative.dev/min-scale: "0"
        autoscaling.knative.dev/max-scale: "3"
        autoscaling.knative.dev/target: "50"
        autoscaling.knative.dev/scale-to-zero-pod-retention-period: "30s"
    spec:
      containerConcurrency: 100
      timeoutSeconds: 30
      containers:
        - name: function
          image: dev.local/sluice/${s.fn}:0.1.0
          ports:
            - name: http1
              containerPort: 8080
          env:
            # V8 sizes its young generation from the container's memory, too small for a function's
            # allocation rate: limit ÷ 16, at most 16 MB (docs/performance.md, "The functions' heap").
            - name: NODE_OPTIONS
              value: --max-semi-space-size=16
            - name: LOG_LEVEL
              value: info
            - name: HANDLER_TIMEOUT_SECONDS
              value: "25"
          readinessProbe:
            httpGet:
              path: /health/readiness
            periodSeconds: 1
          livenessProbe:
            httpGet:
              path: /health/liveness
          resources:
            requests:
              cpu: 50m
              memory: 64Mi
            limits:
              memory: 256Mi
          securityContext:
            runAsNonRoot: true
            readOnlyRootFilesystem: true
            allowPrivilegeEscalation: false
            capabilities:
              drop: ["ALL"]
`;
}

function trigger(s: FunctionSpec): string {
  return `# Trigger of ${s.fn} (functions/${s.system}/${s.fn}, scaffolded by make new-function): ${s.type}.
# Its reply, ${s.reply}, is published back into the broker.
apiVersion: eventing.knative.dev/v1
kind: Trigger
metadata:
  name: ${s.fn}
  namespace: sluice
  labels:
    app.kubernetes.io/part-of: sluice
    app.kubernetes.io/component: ${s.fn}
  annotations:
    rabbitmq.eventing.knative.dev/parallelism: "10"
spec:
  broker: default
  filter:
    attributes:
      type: ${s.type}
  subscriber:
    ref:
      apiVersion: serving.knative.dev/v1
      kind: Service
      name: ${s.fn}
  delivery:
    # 7 retries wait 50.8 s in all: longer than the function's idempotency lock (HANDLER_TIMEOUT_SECONDS + 5 =
    # 30 s), so an attempt that crashed is retried once its claim expires (make check-manifests, retryOutlastsLock).
    retry: 7
    backoffPolicy: exponential
    backoffDelay: PT0.2S
    timeout: PT30S
    deadLetterSink:
      ref:
        apiVersion: serving.knative.dev/v1
        kind: Service
        name: dead-letter-sink
`;
}

function systemReadme(s: FunctionSpec): string {
  return `# ${s.system}

What this system does, in a sentence or two. Scaffolded by \`make new-function\` (docs/write-a-function.md).

## Events

| type | producer | consumers |
|---|---|---|
| \`${s.type}\` | anyone (\`make try FN=${s.fn}\`, \`curl\` to the broker) | ${s.fn} |
| \`${s.reply}\` | ${s.fn} (reply) | — |

Routing: \`eventing/manifests/${s.system}/triggers/\`. Every function is cluster-local; a public route goes in
\`routes.yaml\` (docs/gateway.md).

## Make targets

\`\`\`sh
make try FN=${s.fn}          # its examples through a running make dev, or through the function alone
make test-function FN=${s.fn}  # its checks and tests only
\`\`\`
`;
}

/** Repository-relative path → content of every file a new function consists of. */
export function functionFiles(s: FunctionSpec): Map<string, string> {
  const dir = `functions/${s.system}/${s.fn}`;
  const files = new Map<string, string>();
  files.set(`${dir}/handler.ts`, handler(s));
  files.set(`${dir}/schemas/${s.type}.json`, s.existing?.schema ?? acceptedSchema(s));
  files.set(`${dir}/schemas/${s.reply}.json`, replySchema(s));
  files.set(`${dir}/examples/${s.type}.json`, s.existing?.example ?? acceptedExample(s));
  files.set(`${dir}/examples/${s.reply}.json`, replyExample(s));
  files.set(`${dir}/service.yaml`, service(s));
  files.set(`${dir}/handler.test.ts`, unitTest(s));
  files.set(`${dir}/handler.int.test.ts`, integrationTest(s));
  files.set(`eventing/manifests/${s.system}/triggers/${s.fn}.yaml`, trigger(s));
  return files;
}

/** The files a new system folder starts with (only written when the system does not exist yet). */
export function systemFiles(s: FunctionSpec): Map<string, string> {
  return new Map([[`functions/${s.system}/README.md`, systemReadme(s)]]);
}
