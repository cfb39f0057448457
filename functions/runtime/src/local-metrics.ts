/**
 * The runtime's own instruments, aggregated in the process: a counter is one number per attribute set,
 * a histogram one bucket array per attribute set, found by the identity of the attribute object (the
 * recorder memoises one object per label combination). Recording is a map lookup and an increment; the
 * OpenTelemetry SDK instead hashes the attribute set (sort + JSON) and walks its storage on every call,
 * three times per event (~4 % of the function path's CPU, docs/performance.md).
 *
 * The SDK still exports them: `producer()` is a MetricProducer handed to the Prometheus reader, so
 * /metrics shows them as the SDK would (cumulative sums and explicit-bucket histograms, same names,
 * units and descriptions). It has no SDK import of its own, so recording works before the SDK loads.
 */
import type { Attributes, HrTime } from '@opentelemetry/api';
import type {
  CollectionResult,
  DataPoint,
  HistogramMetricData,
  MetricData,
  MetricProducer,
  ScopeMetrics,
  SumMetricData,
} from '@opentelemetry/sdk-metrics';

export interface InstrumentInfo {
  readonly name: string;
  readonly unit: string;
  readonly description: string;
}

/** The SDK's enum values the exported data needs (passed in once the SDK is loaded). */
export interface SdkConstants {
  readonly sumType: SumMetricData['dataPointType'];
  readonly histogramType: HistogramMetricData['dataPointType'];
  readonly cumulative: MetricData['aggregationTemporality'];
  readonly double: MetricData['descriptor']['valueType'];
}

interface HistogramPoint {
  readonly counts: number[];
  sum: number;
  count: number;
  min: number;
  max: number;
}

export class LocalCounter {
  readonly info: InstrumentInfo;
  readonly #points = new Map<Attributes, number>();

  constructor(info: InstrumentInfo) {
    this.info = info;
  }

  /** `attributes` must be the same object for the same labels (memoised by the caller). */
  add(value: number, attributes: Attributes): void {
    this.#points.set(attributes, (this.#points.get(attributes) ?? 0) + value);
  }

  data(sdk: SdkConstants, start: HrTime, end: HrTime): SumMetricData {
    const dataPoints: DataPoint<number>[] = [];
    for (const [attributes, value] of this.#points) {
      dataPoints.push({ startTime: start, endTime: end, attributes, value });
    }
    return {
      descriptor: { ...this.info, valueType: sdk.double },
      aggregationTemporality: sdk.cumulative,
      dataPointType: sdk.sumType,
      isMonotonic: true,
      dataPoints,
    };
  }
}

export class LocalHistogram {
  readonly info: InstrumentInfo;
  readonly #boundaries: readonly number[];
  readonly #points = new Map<Attributes, HistogramPoint>();

  constructor(info: InstrumentInfo, boundaries: readonly number[]) {
    this.info = info;
    this.#boundaries = boundaries;
  }

  /** Buckets hold values ≤ their upper boundary, as the SDK's explicit-bucket histogram. */
  record(value: number, attributes: Attributes): void {
    if (Number.isNaN(value)) return;
    let point = this.#points.get(attributes);
    if (point === undefined) {
      point = {
        counts: new Array<number>(this.#boundaries.length + 1).fill(0),
        sum: 0,
        count: 0,
        min: Number.POSITIVE_INFINITY,
        max: Number.NEGATIVE_INFINITY,
      };
      this.#points.set(attributes, point);
    }
    const bounds = this.#boundaries;
    let i = 0;
    while (i < bounds.length && (bounds[i] as number) < value) i++;
    point.counts[i] = (point.counts[i] as number) + 1;
    point.sum += value;
    point.count++;
    if (value < point.min) point.min = value;
    if (value > point.max) point.max = value;
  }

  data(sdk: SdkConstants, start: HrTime, end: HrTime): HistogramMetricData {
    const dataPoints: HistogramMetricData['dataPoints'] = [];
    for (const [attributes, p] of this.#points) {
      dataPoints.push({
        startTime: start,
        endTime: end,
        attributes,
        value: {
          buckets: { boundaries: [...this.#boundaries], counts: [...p.counts] },
          sum: p.sum,
          count: p.count,
          min: p.min,
          max: p.max,
        },
      });
    }
    return {
      descriptor: { ...this.info, valueType: sdk.double },
      aggregationTemporality: sdk.cumulative,
      dataPointType: sdk.histogramType,
      dataPoints,
    };
  }
}

/**
 * A MetricProducer for the Prometheus reader: each collection reads every instrument's points. Only its
 * scope metrics are used (the reader keeps the SDK's resource), so the resource given is the provider's.
 */
export function localProducer(
  instruments: readonly (LocalCounter | LocalHistogram)[],
  sdk: SdkConstants,
  resource: CollectionResult['resourceMetrics']['resource'],
  scopeName: string,
  /** When recording began (epoch ms): the start time of every cumulative point. */
  startedMs: number,
): MetricProducer {
  const start = hrTime(startedMs);
  return {
    async collect(): Promise<CollectionResult> {
      const end = hrTime(Date.now());
      const scope: ScopeMetrics = {
        scope: { name: scopeName },
        // An instrument with no points yet is left out, as the SDK leaves out one never recorded.
        metrics: instruments.map((i) => i.data(sdk, start, end)).filter((m) => m.dataPoints.length > 0),
      };
      return { resourceMetrics: { resource, scopeMetrics: [scope] }, errors: [] };
    },
  };
}

function hrTime(ms: number): HrTime {
  const seconds = Math.floor(ms / 1000);
  return [seconds, Math.round((ms - seconds * 1000) * 1e6)];
}
