/**
 * Event fidelity with an independent implementation: the official CloudEvents Go SDK (sdk-go v2.16.1,
 * the version eventing-rabbitmq knative-v1.22.1 vendors; `platform/tools/ce-probe`, built by `make
 * ce-probe`) sends every case of `testing/fidelity-cases.ts` to the local broker in binary and structured
 * mode, and receives it behind a Trigger; each case also comes back as an sdk-go reply in both modes. What
 * the sdk-go receiver reads must equal what the sdk-go producer sent: attributes and extensions by their
 * canonical strings, data byte for byte (a `time` stamped on an event without one aside: the default,
 * upstream, data plane does that as eventing-rabbitmq's dispatcher does). On the in-process backend and on
 * RabbitMQ.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { DATA_PLANES, type RunningBroker, startBroker } from './index.ts';
import {
  dataBytes,
  FIDELITY_CASES,
  type FidelityCase,
  withoutStampedTime,
} from './testing/fidelity-cases.ts';
import { contractManifests, quietLog } from './testing/manifests.ts';
import { waitFor } from './testing/test-sink.ts';

interface Canonical {
  readonly attributes: Record<string, string>;
  readonly extensions: Record<string, string>;
  readonly data_base64: string | null;
  readonly headers?: Record<string, string>;
}

const TYPE = {
  direct: 'dev.sluice.fidelity.direct',
  ask: 'dev.sluice.fidelity.ask',
} as const;
const MODES = ['binary', 'structured'] as const;

function probeBinary(): string {
  const bin = process.env.CE_PROBE_BIN;
  if (bin === undefined || bin === '') {
    throw new Error(
      'CE_PROBE_BIN is not set: run the tests through `make test` (it builds ce-probe: `make ce-probe`)',
    );
  }
  return bin;
}

/** A case as the probe's producer reads it (`EventSpec` in platform/tools/ce-probe/main.go). */
function eventSpec(c: FidelityCase, id: string, type: string, reply?: string): Record<string, unknown> {
  const extensions: Record<string, unknown> = { ...c.extensions };
  if (reply !== undefined) extensions.probereply = { type: 'String', value: reply };
  return {
    id,
    source: c.source,
    type,
    subject: c.subject,
    time: c.time,
    dataschema: c.dataschema,
    datacontenttype: c.datacontenttype,
    extensions,
    data_base64: c.data === undefined ? undefined : dataBytes(c.data).toString('base64'),
    // sdk-go writes data_base64 in structured mode only when told the data are bytes.
    base64: c.data?.kind === 'bytes',
  };
}

/** What sdk-go read, without the raw headers, and without the `time` the upstream data plane stamps. */
function asRead(c: Canonical, sent: Canonical | null | undefined): Omit<Canonical, 'headers'> {
  const { headers: _headers, ...rest } = c;
  const header = withoutStampedTime(
    rest.attributes.time === undefined ? {} : { 'ce-time': rest.attributes.time },
    sent?.attributes.time,
    DATA_PLANES.upstream.stampTime,
  );
  if (header['ce-time'] !== undefined) return rest;
  const { time: _time, ...attributes } = rest.attributes;
  return { ...rest, attributes };
}

describe.each([
  ['in-process backend', () => undefined],
  ['RabbitMQ backend', () => inject('rabbitmqUrl')],
])('sdk-go producer → local broker (%s) → sdk-go receiver', (backend, rabbitmqUrl) => {
  const run = `${process.pid}x${Date.now().toString(36)}`;
  const received: { received: Canonical; replied: Canonical | null }[] = [];
  const sent: { status: number; sent: Canonical }[] = [];
  let receiver: ChildProcess | undefined;
  let broker: RunningBroker | undefined;

  beforeAll(async () => {
    const bin = probeBinary();
    const serve = spawn(bin, ['serve'], { stdio: ['ignore', 'pipe', 'inherit'] });
    receiver = serve;
    const lines = createInterface({ input: serve.stdout });
    const url = await new Promise<string>((resolve, reject) => {
      serve.once('error', reject);
      serve.once('exit', (code) => reject(new Error(`ce-probe serve exited (${code})`)));
      lines.once('line', (line) => resolve(line.replace(/^listening /, '')));
    });
    lines.on('line', (line) => received.push(JSON.parse(line)));
    broker = await startBroker({
      manifests: contractManifests([
        { name: 'direct', filter: { type: TYPE.direct } },
        { name: 'ask', filter: { type: TYPE.ask } },
        { name: 'replied', filter: { type: 'dev.sluice.fidelity.reply' } },
      ]),
      resolveSubscriber: () => url,
      replyTypesOf: async () => undefined,
      port: 0,
      rabbitmqUrl: rabbitmqUrl(),
      instance: `gofid${run}${backend.length}`,
      log: quietLog,
    });
    const input = FIDELITY_CASES.flatMap((c) =>
      MODES.flatMap((mode) => [
        JSON.stringify({ mode, event: eventSpec(c, `${c.name}-${mode}-${run}`, TYPE.direct) }),
        JSON.stringify({ mode, event: eventSpec(c, `ask-${c.name}-${mode}-${run}`, TYPE.ask, mode) }),
      ]),
    );
    const send = spawn(bin, ['send', '-target', broker.url], { stdio: ['pipe', 'pipe', 'inherit'] });
    createInterface({ input: send.stdout }).on('line', (line) => sent.push(JSON.parse(line)));
    send.stdin.end(`${input.join('\n')}\n`);
    const code = await new Promise<number | null>((resolve) => send.once('exit', resolve));
    expect(code, 'ce-probe send exit code').toBe(0);
    // Per case and mode: the direct event, the ask, and the reply to the ask.
    const expected = 3 * FIDELITY_CASES.length * MODES.length;
    // Not thrown here: a missing event then fails its own case below, which names it.
    await waitFor(
      'every event and reply at the sdk-go receiver',
      () => received.length >= expected,
      20_000,
    ).catch(() => {});
  });

  afterAll(async () => {
    await broker?.destroy();
    receiver?.kill('SIGTERM');
  });

  const table = FIDELITY_CASES.flatMap((c) => MODES.map((mode) => [c.name, mode] as const));

  it.each(table)('%s sent by sdk-go in %s mode is read by sdk-go as it was sent', (name, mode) => {
    const id = `${name}-${mode}-${run}`;
    const out = sent.find((s) => s.sent.attributes.id === id);
    expect(out?.status, `broker answer to ${id}`).toBe(202);
    const got = received.find((r) => r.received.attributes.id === id);
    expect(got, `${id} at the receiver`).toBeDefined();
    expect(asRead(got?.received as Canonical, out?.sent), JSON.stringify(got?.received.headers)).toEqual(
      out?.sent,
    );
  });

  it.each(table)('%s replied by sdk-go in %s mode is read by sdk-go as it was replied', (name, mode) => {
    const ask = `ask-${name}-${mode}-${run}`;
    const replied = received.find((r) => r.received.attributes.id === ask)?.replied;
    expect(replied, `the reply to ${ask}`).toBeTruthy();
    const got = received.find((r) => r.received.attributes.id === `${ask}-reply`);
    expect(got, `${ask}-reply at the receiver`).toBeDefined();
    expect(asRead(got?.received as Canonical, replied), JSON.stringify(got?.received.headers)).toEqual(
      replied,
    );
  });
});
