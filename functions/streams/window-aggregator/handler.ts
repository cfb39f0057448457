/**
 * window-aggregator — puts each sensor reading in its tumbling window by event time (the CloudEvent `time`,
 * per sensor = `subject`), or, once the watermark has passed that window, answers with a
 * `…reading.late.v1` reply and keeps the reading in `streams_late`. Every write is a unique insert, so a
 * redelivery, a crash between two steps or two instances racing count a reading once (lib/window-store.ts).
 */
import { type Counter, metrics } from '@opentelemetry/api';
import { PermanentError, type SluiceFunction } from '../../runtime/src/index.ts';
import { SENSOR_ID_PATTERN, StreamsEventType, streamsConfig } from '../lib/streams.ts';
import { WindowStore } from '../lib/window-store.ts';
import { readingKey } from '../lib/windows.ts';
import type { Handle } from './events.gen.ts';

export const accepts = [StreamsEventType.readingRecorded] as const;
export const emits = [StreamsEventType.readingLate] as const;

let windows: WindowStore | undefined;
let readings: Counter | undefined;

export const init: SluiceFunction['init'] = async ({ store, log }) => {
  const config = streamsConfig(process.env);
  windows = new WindowStore(store, { config });
  await windows.createIndexes();
  readings = metrics.getMeter('window-aggregator').createCounter('streams.readings', {
    description: 'Readings decided, by outcome (on-time: counted in their window; late: kept apart)',
  });
  log.info(
    `windows of ${config.windowMs} ms, allowed lateness ${config.allowedLatenessMs} ms (STREAMS_WINDOW, STREAMS_ALLOWED_LATENESS)`,
  );
};

export const handle: Handle<typeof accepts, typeof emits> = async (event, { store, signal }) => {
  const sensorId = event.subject;
  if (sensorId === undefined || !SENSOR_ID_PATTERN.test(sensorId)) {
    throw new PermanentError(
      'invalid-sensor',
      'a reading needs its sensor id as subject: 1-64 letters, digits, _ or -',
    );
  }
  const timeMs = event.time === undefined ? Number.NaN : Date.parse(event.time);
  if (!Number.isFinite(timeMs))
    throw new PermanentError('no-event-time', 'a reading needs its measurement time as time');
  const { value, unit } = event.data;
  windows ??= new WindowStore(store, { config: streamsConfig(process.env) });
  const fate = await windows.accept(
    { key: readingKey(event.source, event.id), sensorId, timeMs, value, unit },
    { id: event.id, source: event.source },
    signal,
  );
  readings?.add(1, { 'streams.outcome': fate.kind });
  if (fate.kind === 'on-time') return undefined;
  return { type: StreamsEventType.readingLate, subject: sensorId, data: fate.late };
};
