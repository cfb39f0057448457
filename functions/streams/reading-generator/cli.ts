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
import { connect } from 'amqplib';
import { unreadExchange } from '../../runtime/src/index.ts';
import { parseDuration, StreamsEventType } from '../lib/streams.ts';
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
// TCP_NODELAY: confirms of publishes made one by one otherwise wait out the server's delayed ACK.
const connection = await connect(url, { noDelay: true });
const channel = await connection.createConfirmChannel();
await channel.assertExchange(exchange, 'headers', { durable: true, autoDelete: false });
const returned = new Set<string>();
channel.on('return', (msg: { properties: { messageId?: string } }) => {
  if (msg.properties.messageId !== undefined) returned.add(msg.properties.messageId);
});

const publish = (r: (typeof plan)[number]): Promise<void> =>
  new Promise((resolve, reject) => {
    channel.publish(
      exchange,
      '',
      Buffer.from(JSON.stringify({ value: r.value, unit: r.unit })),
      {
        persistent: true,
        mandatory: true,
        messageId: r.id,
        contentType: 'application/json',
        headers: {
          'ce-specversion': '1.0',
          'ce-id': r.id,
          'ce-source': SOURCE,
          'ce-type': StreamsEventType.readingRecorded,
          'ce-subject': r.sensorId,
          'ce-time': new Date(r.timeMs).toISOString(),
        },
      },
      (err) => (err ? reject(err) : resolve()),
    );
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
  await Promise.all(batch);
  for (const id of [...returned]) {
    returned.delete(id);
    const r = plan.find((p) => p.id === id);
    if (r !== undefined) await publish(r);
  }
  const next = plan[i]?.sendAtMs;
  if (next !== undefined)
    await new Promise((r) => setTimeout(r, Math.max(0, Math.min(100, next - (Date.now() - runStartMs)))));
}
await channel.waitForConfirms();
await connection.close();
if (out !== undefined) await new Promise<void>((done) => out.end(done));
process.stderr.write(
  `sent ${counts['on-time']} on time (up to 3 s out of order), ${counts.late} held back 90 s (late once later readings moved the watermark past their window), ${counts.duplicate} duplicates, in ${((Date.now() - runStartMs) / 1000).toFixed(1)} s\n`,
);
