/**
 * Every Trigger's queue depth and paused state as Prometheus text, on the broker's GET /metrics beside the KEDA
 * scalers' series: `sluice_trigger_queue_depth` (messages ready + unacknowledged, read at the scrape; RabbitMQ's
 * `messages`, what a cluster's rabbitmq exporter reports per queue) and `sluice_trigger_paused` (1 while `make
 * trigger-pause`, `make drill` or the console holds the dispatcher at 0 replicas). Hand-written: two gauges.
 */

export interface TriggerGauge {
  readonly name: string;
  /** undefined when the backend could not say: the series is left out for this scrape. */
  readonly depth: number | undefined;
  readonly paused: boolean;
}

const label = (value: string): string =>
  value.replaceAll('\\', '\\\\').replaceAll('"', '\\"').replaceAll('\n', '\\n');

export function triggerMetrics(triggers: readonly TriggerGauge[]): string {
  const lines = [
    "# HELP sluice_trigger_queue_depth Messages in a trigger's queue (ready + unacknowledged), at the scrape.",
    '# TYPE sluice_trigger_queue_depth gauge',
    ...triggers
      .filter((t) => t.depth !== undefined)
      .map((t) => `sluice_trigger_queue_depth{trigger="${label(t.name)}"} ${t.depth}`),
    "# HELP sluice_trigger_paused 1 while a trigger's dispatcher is paused (its queue keeps the events).",
    '# TYPE sluice_trigger_paused gauge',
    ...triggers.map((t) => `sluice_trigger_paused{trigger="${label(t.name)}"} ${t.paused ? 1 : 0}`),
  ];
  return `${lines.join('\n')}\n`;
}
