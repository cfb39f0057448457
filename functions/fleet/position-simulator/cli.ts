/**
 * `make simulate VEHICLES=50 RATE=1 DURATION=60s [VIA=amqp|http] [SEED=1]`: drives simulated vehicles along the
 * shipped routes (simulation.ts) and publishes each fix as a `…fleet.position.reported.v1` CloudEvent (subject =
 * vehicle id, time = fix time):
 *   --via amqp (default)  into the exchange `sluice.fleet.positions` (binary mode: ce-* headers), which the
 *                         `positions` RabbitmqSource (eventing/manifests/fleet/sources/positions.yaml) reads into the
 *                         broker. Publishes are confirmed and `mandatory`: an unroutable one is sent again.
 *   --via http            straight to the broker ingress (BROKER_URL, else the running make dev's).
 * DURATION=0 runs until stopped (Ctrl-C): the long-running mode `make dev` users leave on.
 *   node functions/fleet/position-simulator/cli.ts --vehicles 50 --rate 1 --duration 60s [--seed 1]
 *     [--out <file>]   every fix sent, one JSON object a line (what a check compares history with)
 *     [--prefix v]     vehicle ids <prefix>-001, <prefix>-002, … (a second fleet beside the first)
 *     [--exchange …]   another exchange than sluice.fleet.positions (the benchmark's own source)
 *     [--duplicate-ratio 0.01] [--late-ratio 0.01] [--jump-ratio 0.002]
 */
import { createWriteStream } from 'node:fs';
import { parseArgs } from 'node:util';
import {
  connectExchangePublisher,
  parseDuration,
  postUntilStored,
  resolveEndpoint,
  unreadExchange,
} from '../../runtime/src/index.ts';
import { FleetEventType } from '../lib/fleet.ts';
import { loadRoutes } from '../lib/routes.ts';
import { type SimulatedFix, Simulation } from './simulation.ts';

/** The exchange the `positions` RabbitmqSource reads (eventing/manifests/fleet/sources/positions.yaml). */
export const EXCHANGE = 'sluice.fleet.positions';
export const SOURCE = '/sluice/fleet/position-simulator';

const { values } = parseArgs({
  options: {
    vehicles: { type: 'string', default: '50' },
    rate: { type: 'string', default: '1' },
    duration: { type: 'string', default: '60s' },
    seed: { type: 'string', default: String(Date.now() % 100_000) },
    via: { type: 'string', default: 'amqp' },
    prefix: { type: 'string', default: 'v' },
    exchange: { type: 'string', default: EXCHANGE },
    'duplicate-ratio': { type: 'string', default: '0.01' },
    'late-ratio': { type: 'string', default: '0.01' },
    'jump-ratio': { type: 'string', default: '0.002' },
    out: { type: 'string' },
  },
});
const vehicles = Number(values.vehicles);
const rate = Number(values.rate);
const durationMs = values.duration === '0' ? 0 : (parseDuration(values.duration ?? '') ?? Number.NaN);
const faults = {
  duplicate: Number(values['duplicate-ratio']),
  late: Number(values['late-ratio']),
  jump: Number(values['jump-ratio']),
};
if (
  !(vehicles >= 1) ||
  !(rate > 0 && rate <= 10) ||
  !Number.isFinite(durationMs) ||
  !Object.values(faults).every((r) => r >= 0 && r <= 1) ||
  !/^[A-Za-z0-9][A-Za-z0-9_]{0,31}$/.test(values.prefix ?? '') ||
  (values.via !== 'amqp' && values.via !== 'http')
) {
  process.stderr.write(
    'usage: --vehicles N (>= 1) --rate N (fixes/s per vehicle, 0 < N <= 10) --duration 60s|0 (0: until stopped) [--via amqp|http] [--seed N] [--prefix v] [--duplicate-ratio|--late-ratio|--jump-ratio 0..1]\n',
  );
  process.exit(64);
}

interface Sender {
  send(fixes: readonly SimulatedFix[]): Promise<void>;
  close(): Promise<void>;
}

const headersOf = (f: SimulatedFix): Record<string, string> => ({
  'ce-specversion': '1.0',
  'ce-id': f.id,
  'ce-source': SOURCE,
  'ce-type': FleetEventType.positionReported,
  'ce-subject': f.vehicleId,
  'ce-time': new Date(f.fixT).toISOString(),
});
const bodyOf = (f: SimulatedFix): string =>
  JSON.stringify({ latitude: f.lat, longitude: f.lon, accuracyM: f.accuracyM });

async function amqpSender(url: string, exchange: string): Promise<Sender> {
  // Declares the exchange as the source does; reconnects and publishes again what a lost connection left unconfirmed.
  const publisher = await connectExchangePublisher(url, exchange, {
    onRetry: (reason) => process.stderr.write(`make simulate: ${reason}\n`),
  });
  return {
    async send(fixes) {
      await Promise.all(
        fixes.map((f) =>
          publisher.publish({
            id: f.id,
            body: Buffer.from(bodyOf(f)),
            headers: headersOf(f),
            contentType: 'application/json',
          }),
        ),
      );
    },
    close: () => publisher.close(),
  };
}

/** Each fix until the broker takes it, retried for up to a minute while it cannot (as `make inject`); a refusal ends. */
function httpSender(url: string): Sender {
  const post = async (f: SimulatedFix): Promise<void> => {
    const message = { headers: { ...headersOf(f), 'content-type': 'application/json' }, body: bodyOf(f) };
    const outcome = await postUntilStored(url, message, { retryForMs: 60_000 });
    if (outcome.kind === 'refused')
      throw new Error(
        `the broker refused ${f.id}: it answered ${outcome.status} ${outcome.text.slice(0, 300)}`,
      );
    if (outcome.kind === 'failed') throw new Error(`${f.id} not taken within a minute: ${outcome.reason}`);
  };
  return {
    async send(fixes) {
      await Promise.all(fixes.map(post));
    },
    async close() {},
  };
}

let sender: Sender;
let target: string;
if (values.via === 'amqp') {
  const url = process.env.RABBITMQ_URL;
  if (!url) {
    process.stderr.write('make simulate needs RABBITMQ_URL (the RabbitMQ `make dev` uses), or VIA=http\n');
    process.exit(64);
  }
  const exchange = values.exchange ?? EXCHANGE;
  // Another --exchange is a test's or a bench's own source: only make simulate's own is checked.
  const unread = exchange === EXCHANGE ? unreadExchange(exchange) : undefined;
  if (unread !== undefined) {
    process.stderr.write(`make simulate: ${unread}, or post to its broker with VIA=http.\n`);
    process.exit(64);
  }
  sender = await amqpSender(url, exchange);
  target = `AMQP exchange ${exchange}`;
} else {
  const broker = resolveEndpoint('BROKER_URL', (e) => e.brokerUrl, 'http://127.0.0.1:8080/');
  sender = httpSender(broker.url ?? '');
  target = `${broker.url} (from ${broker.from})`;
}

const startMs = Date.now();
const sim = new Simulation({
  vehicles,
  routes: loadRoutes(),
  seed: Number(values.seed),
  startMs,
  intervalS: 1 / rate,
  faults,
  prefix: values.prefix ?? 'v',
});
const out = values.out === undefined ? undefined : createWriteStream(values.out);
process.stderr.write(
  `simulating ${vehicles} vehicles at ${rate} fix/s for ${durationMs === 0 ? 'ever (Ctrl-C stops)' : values.duration} (seed ${values.seed}) → ${target}\n`,
);
let stopping = false;
process.once('SIGINT', () => {
  stopping = true;
});
process.once('SIGTERM', () => {
  stopping = true;
});
const counts: Record<string, number> = { fix: 0, duplicate: 0, late: 0, jump: 0 };
let queue: SimulatedFix[] = [];
let nextTick = startMs;
const endMs = durationMs === 0 ? Number.POSITIVE_INFINITY : startMs + durationMs;
while (!stopping && (nextTick < endMs || queue.length > 0)) {
  const now = Date.now();
  while (nextTick <= now && nextTick < endMs) {
    queue.push(...sim.tick());
    nextTick += 1000 / rate;
  }
  const due = queue.filter((f) => f.sendAt <= now || nextTick >= endMs);
  queue = queue.filter((f) => !due.includes(f));
  if (due.length > 0) {
    await sender.send(due).catch((err: unknown) => {
      // No queue ever took them, or RabbitMQ stayed unreachable: said in one line, not a stack.
      process.stderr.write(`make simulate: ${err instanceof Error ? err.message : String(err)}\n`);
      process.exit(1);
    });
    for (const f of due) {
      counts[f.kind] = (counts[f.kind] ?? 0) + 1;
      out?.write(`${JSON.stringify(f)}\n`);
    }
  }
  await new Promise((r) => setTimeout(r, Math.max(0, Math.min(100, nextTick - Date.now()))));
}
await sender.close();
if (out !== undefined) await new Promise<void>((done) => out.end(done));
process.stderr.write(
  `sent ${counts.fix} fixes, ${counts.duplicate} resent, ${counts.late} late (2-8 s out of order), ${counts.jump} impossible jumps, in ${((Date.now() - startMs) / 1000).toFixed(1)} s\n`,
);
