/**
 * window-closer — fired by a PingSource (eventing/manifests/streams/sources/window-closer.yaml) on its cron
 * schedule. Reads the watermark at the tick's time, makes every open window it has passed final
 * (lib/window-store.ts `closeWindow`: the same seal-then-summary any aggregator may also run) and publishes
 * one `…window.closed.v1` per window to the broker. A handler replies with at most one event, so these go to
 * the broker ingress (BROKER_URL) directly. Each has a deterministic id (the window), so a tick repeated after
 * a crash publishes the same events again, which consumers' idempotency guard absorbs; a window leaves the
 * work list only once its event was accepted.
 */
import { type Counter, metrics } from '@opentelemetry/api';
import {
  ConfigError,
  notStoredReason,
  postToIngress,
  type SluiceFunction,
  storedByBroker,
  TransientError,
} from '../../runtime/src/index.ts';
import { StreamsEventType, streamsConfig } from '../lib/streams.ts';
import { toWindowClosed, WindowStore } from '../lib/window-store.ts';
import type { Handle } from './events.gen.ts';

export const accepts = [StreamsEventType.ping] as const;
export const emits = [] as const;

/** Windows closed per tick at most; the rest wait for the next tick (a bounded handler run). */
export const MAX_PER_TICK = 2000;
const SOURCE = '/sluice/functions/window-closer';

let windows: WindowStore | undefined;
let brokerUrl: string | undefined;
let closed: Counter | undefined;

export const init: SluiceFunction['init'] = async ({ store }) => {
  const config = streamsConfig(process.env);
  brokerUrl = process.env.BROKER_URL;
  if (brokerUrl === undefined || !/^https?:\/\//.test(brokerUrl)) {
    throw new ConfigError([
      'BROKER_URL must be the broker ingress (http(s) URL): window.closed events are published there',
    ]);
  }
  windows = new WindowStore(store, { config });
  await windows.createIndexes();
  closed = metrics.getMeter('window-closer').createCounter('streams.windows.closed', {
    description: 'Windows made final and published as window.closed',
  });
};

/** POSTs one event in binary mode; the broker answers 202 once it is stored. */
async function publish(
  url: string,
  id: string,
  subject: string,
  data: unknown,
  signal: AbortSignal,
): Promise<void> {
  const answer = await postToIngress(
    url,
    {
      headers: {
        'ce-specversion': '1.0',
        'ce-id': id,
        'ce-source': SOURCE,
        'ce-type': StreamsEventType.windowClosed,
        'ce-subject': subject,
        'ce-time': new Date().toISOString(),
        'content-type': 'application/json',
      },
      body: JSON.stringify(data),
    },
    { signal },
  );
  if (!storedByBroker(answer))
    throw new TransientError(`window ${id} not stored: ${notStoredReason(answer)}`);
}

export const handle: Handle<typeof accepts> = async (event, { store, signal, log }) => {
  windows ??= new WindowStore(store, { config: streamsConfig(process.env) });
  const url = brokerUrl ?? process.env.BROKER_URL ?? '';
  // The tick's own time (the PingSource stamps it): a redelivered tick decides as the first did.
  const nowMs = event.time === undefined ? Date.now() : Date.parse(event.time);
  const { watermarkMs, windows: passed } = await windows.passedWindows(nowMs, MAX_PER_TICK);
  let published = 0;
  for (const w of passed) {
    signal.throwIfAborted();
    const summary = await windows.closeWindow(w._id, {
      sensorId: w.sensorId,
      startMs: w.windowStartMs,
      endMs: w.windowEndMs,
    });
    if (summary.count > 0) {
      await publish(
        url,
        `window-closed-${w._id.replace('|', '-')}`,
        w.sensorId,
        toWindowClosed(summary),
        signal,
      );
      published++;
    }
    await windows.forget(w._id);
  }
  closed?.add(published);
  if (passed.length > 0) {
    log.info(`closed ${passed.length} window(s), published ${published}`, {
      'streams.watermark': watermarkMs === undefined ? null : new Date(watermarkMs).toISOString(),
      'streams.windows_closed': published,
    });
  }
  return undefined;
};
