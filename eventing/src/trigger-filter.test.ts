import { describe, expect, it } from 'vitest';
import type { CloudEvent } from '../../functions/runtime/src/index.ts';
import { matchesFilter } from './trigger-filter.ts';

const event: CloudEvent = {
  specversion: '1.0',
  id: 'e1',
  source: '/orders',
  type: 'dev.sluice.order.placed.v1',
  subject: 'o-1',
  datacontenttype: 'application/json',
  data: {},
  extensions: { tenant: 'acme', priority: 3, urgent: true },
};

describe('trigger-filter', () => {
  it('matches when every filter attribute equals the event attribute or extension', () => {
    expect(matchesFilter({}, event)).toBe(true);
    expect(matchesFilter({ type: 'dev.sluice.order.placed.v1' }, event)).toBe(true);
    expect(
      matchesFilter({ type: 'dev.sluice.order.placed.v1', source: '/orders', tenant: 'acme' }, event),
    ).toBe(true);
    expect(matchesFilter({ subject: 'o-1', priority: '3', urgent: 'true' }, event)).toBe(true);
  });

  it('does not match on prefixes, case differences or missing attributes', () => {
    expect(matchesFilter({ type: 'dev.sluice.order' }, event)).toBe(false);
    expect(matchesFilter({ type: 'DEV.SLUICE.ORDER.PLACED.V1' }, event)).toBe(false);
    expect(matchesFilter({ region: 'eu' }, event)).toBe(false);
    expect(matchesFilter({ type: 'dev.sluice.order.placed.v1', tenant: 'other' }, event)).toBe(false);
  });

  it('matches the content type under the header name content-type, as RabbitMQ sees it', () => {
    expect(matchesFilter({ 'content-type': 'application/json' }, event)).toBe(true);
    expect(matchesFilter({ datacontenttype: 'application/json' }, event)).toBe(false);
  });

  it('ignores x- arguments, as RabbitMQ headers exchanges do', () => {
    expect(matchesFilter({ 'x-knative-trigger': 'anything', type: event.type }, event)).toBe(true);
  });
});
