import { describe, expect, it } from 'vitest';
import { metricNames } from './promql.ts';

describe('metricNames', () => {
  it('finds the series of an expression and ignores functions, labels, ranges and grouping', () => {
    expect([
      ...metricNames(
        'histogram_quantile(0.95, sum by (service_name, le) (rate(faas_invoke_duration_seconds_bucket{service_name=~"$service",outcome="success"}[$__rate_interval]))) / on (pod) group_left up',
      ),
    ]).toEqual(['faas_invoke_duration_seconds_bucket', 'up']);
  });

  it('keeps recording rule names with colons and drops keywords', () => {
    expect([...metricNames('sluice:invocations:rate5m > 0 and count(target_info) unless x_total')]).toEqual([
      'sluice:invocations:rate5m',
      'target_info',
      'x_total',
    ]);
  });
});
