// Peer: express 5 + the cloudevents SDK + ajv, as the SDK's README shows it. BENCH_OTEL=1 adds what a
// user adds for metrics: OpenTelemetry sdk-node with the Prometheus exporter on GET /metrics, and a
// counter and a histogram recorded per event.
import { compileValidator } from './peer-validator.mjs';

let record = () => {};
let metricsHandler;
if (process.env.BENCH_OTEL === '1') {
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
  const { metrics } = await import('@opentelemetry/api');
  const exporter = new PrometheusExporter({ preventServerStart: true });
  new NodeSDK({ serviceName: 'express-sdk-otel', metricReaders: [exporter], instrumentations: [] }).start();
  const meter = metrics.getMeter('bench');
  const count = meter.createCounter('events_total');
  const duration = meter.createHistogram('event_duration_seconds', { unit: 's' });
  record = (type, ok, seconds) => {
    const attributes = { 'cloudevents.event_type': type, outcome: ok ? 'success' : 'invalid' };
    count.add(1, attributes);
    duration.record(seconds, attributes);
  };
  metricsHandler = (req, res) => exporter.getMetricsRequestHandler(req, res);
}

const { default: express } = await import('express');
const { HTTP } = await import('cloudevents');
const validate = compileValidator();
const app = express();
app.use(express.json({ type: ['application/json', 'application/cloudevents+json'] }));
if (metricsHandler !== undefined) app.get('/metrics', metricsHandler);
app.post('/', (req, res) => {
  const started = performance.now();
  try {
    const event = HTTP.toEvent({ headers: req.headers, body: req.body });
    const ok = validate(event.data);
    record(event.type, ok, (performance.now() - started) / 1000);
    res.status(ok ? 202 : 400).end();
  } catch {
    res.status(400).end();
  }
});
app.listen(Number(process.env.PORT ?? 8080), process.env.HOST ?? '127.0.0.1');
