/**
 * `make stream SENSORS=100 RATE=500 DURATION=60s`: publishes `…reading.recorded.v1` CloudEvents (AMQP binary
 * mode: attributes as headers, as the RabbitmqSource reads them) into the exchange `sluice.streams.readings`,
 * which the `readings` RabbitmqSource (eventing/manifests/streams/sources/readings.yaml) consumes into the
 * broker. The plan (plan.ts) adds out-of-order, late and duplicate readings and bursts. Publishes are
 * confirmed and `mandatory`: an unroutable one (the source's queue not bound yet) is sent again.
 *   node functions/streams/reading-generator/cli.ts --sensors 100 --rate 500 --duration 60s [--seed 1]
 *     [--start <ISO date-time>]   event times from there instead of now (readings of a past window: all late)
 *     [--out <file>]              every reading sent, one JSON object a line (what a check compares results with)
 *     [--late-ratio 0.01] [--duplicate-ratio 0.01]
 *     [--exchange …]              another exchange than sluice.streams.readings (a test run's own source)
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import { connectExchangePublisher, parseDuration, unreadExchange } from '../../runtime/src/index.ts';
import { StreamsEventType } from '../lib/streams.ts';
import { planReadings } from './plan.ts';

export const EXCHANGE = 'sluice.streams.readings';
export const SOURCE = '/sluice/streams/reading-generator';

const { values } = parseArgs({
  options: {
    sensors: { type: 'string', default: '100' },
    rate: { type: 'string', default: '500' },
    duration: { type: 'string', default: '60s' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    'late-ratio': { type: 'string', default: '0.01' },
    'duplicate-ratio': { type: 'string', default: '0.01' },
    start: { type: 'string' },
    out: { type: 'string' },
    exchange: { type: 'string', default: EXCHANGE },
  },
});
const exchange = values.exchange ?? EXCHANGE;
// Another --exchange is a test's or a bench's own source: only make stream's own is checked.
const unread = exchange === EXCHANGE ? unreadExchange(exchange) : undefined;
if (unread !== undefined) {
  process.stderr.write(`make stream: ${unread}.\n`);
  process.exit(64);
}
const url = process.env.RABBITMQ_URL;
if (!url) {
  process.stderr.write(
    'make stream needs RABBITMQ_URL (the RabbitMQ that `make dev` uses: RABBITMQ_URL=… make dev)\n',
  );
  process.exit(64);
}
const durationMs = parseDuration(values.duration ?? '') ?? Number.NaN;
const sensors = Number(values.sensors);
const rate = Number(values.rate);
const runStartMs = Date.now();
const startMs = values.start === undefined ? runStartMs : Date.parse(values.start);
const ratios = [Number(values['late-ratio']), Number(values['duplicate-ratio'])];
if (
  !Number.isFinite(durationMs) ||
  !(sensors >= 1) ||
  !(rate > 0) ||
  !Number.isFinite(startMs) ||
  !ratios.every((r) => r >= 0 && r <= 1)
) {
  process.stderr.write(
    'usage: --sensors N (>= 1) --rate N (> 0, readings/s) --duration 60s [--start ISO] [--late-ratio 0..1] [--duplicate-ratio 0..1]\n',
  );
  process.exit(64);
}
const plan = planReadings({
  sensors,
  rate,
  durationMs,
  seed: Number(values.seed),
  startMs,
  lateRatio: Number(values['late-ratio']),
  duplicateRatio: Number(values['duplicate-ratio']),
});
const out = values.out === undefined ? undefined : createWriteStream(values.out);
// Declares the exchange as the source does; an unroutable reading (the source's queue not bound yet) is published
// again, and so is what a lost connection left unconfirmed.
const publisher = await connectExchangePublisher(url, exchange, {
  onRetry: (reason) => process.stderr.write(`make stream: ${reason}\n`),
});
const publish = (r: (typeof plan)[number]): Promise<void> =>
  publisher.publish({
    id: r.id,
    body: Buffer.from(JSON.stringify({ value: r.value, unit: r.unit })),
    contentType: 'application/json',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': r.id,
      'ce-source': SOURCE,
      'ce-type': StreamsEventType.readingRecorded,
      'ce-subject': r.sensorId,
      'ce-time': new Date(r.timeMs).toISOString(),
    },
  });

process.stderr.write(
  `streaming ${plan.length} readings of ${sensors} sensors for ${values.duration} (seed ${values.seed}) into ${exchange}\n`,
);
const counts = { 'on-time': 0, late: 0, duplicate: 0 };
let i = 0;
while (i < plan.length) {
  // Sends follow the run's clock; event times may be elsewhere (--start).
  const due = Date.now() - runStartMs;
  const batch: Promise<void>[] = [];
  while (i < plan.length && (plan[i]?.sendAtMs ?? 0) <= due && batch.length < 1000) {
    const r = plan[i++] as (typeof plan)[number];
    counts[r.kind]++;
    batch.push(publish(r));
    out?.write(
      `${JSON.stringify({ id: r.id, source: SOURCE, sensorId: r.sensorId, time: new Date(r.timeMs).toISOString(), value: r.value, unit: r.unit, kind: r.kind })}\n`,
    );
  }
  await Promise.all(batch).catch((err: unknown) => {
    // No queue ever took them, or RabbitMQ stayed unreachable: said in one line, not a stack.
    process.stderr.write(`make stream: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
  const next = plan[i]?.sendAtMs;
  if (next !== undefined)
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(100, next - (Date.now() - runStartMs)))));
}
await publisher.close();
if (out !== undefined) await new Promise<void>((done) => out.end(done));
process.stderr.write(
  `sent ${counts['on-time']} on time (up to 3 s out of order), ${counts.late} held back 90 s (late once later readings moved the watermark past their window), ${counts.duplicate} duplicates, in ${((Date.now() - runStartMs) / 1000).toFixed(1)} s\n`,
);
