/** The benchmark event: binary-mode CloudEvent, ~300-byte JSON order, a fresh `ce-id` per request. */
import { readFileSync } from 'node:fs';

export const EVENT_TYPE = 'dev.sluice.bench.order.placed.v1';
const EXAMPLE = new URL(`../fixtures/order-sink/examples/${EVENT_TYPE}.json`, import.meta.url);

/** The data as the load generator sends it (compact JSON). */
export const EVENT_BODY: string = JSON.stringify(
  (JSON.parse(readFileSync(EXAMPLE, 'utf8')) as { data: unknown }).data,
);

/** Every header except `ce-id`, which the load generator makes unique per request. */
export const EVENT_HEADERS: Readonly<Record<string, string>> = {
  'content-type': 'application/json',
  'ce-specversion': '1.0',
  'ce-source': '/bench/loadgen',
  'ce-type': EVENT_TYPE,
  'ce-time': '2026-01-15T10:30:00Z',
  'ce-traceparent': '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01',
};
