import { describe, expect, it } from 'vitest';
import { ordersTable } from './orders.ts';

describe('ordersTable', () => {
  it('prints the broker path as the floor, the gateway as its ratio, and whether every order was billed once', () => {
    const rows = ordersTable({
      gatewayRate: 26,
      brokerRate: 885,
      ratio: 0.03,
      billedRate: 14.4,
      nothingLost: true,
      orders: 700,
      store: 'ferretdb',
    });
    expect(rows.join('\n')).toContain('| orders (RabbitMQ; store: ferretdb) |');
    expect(rows.find((r) => r.includes('accepted by the gateway'))).toMatch(/\| 26 \| 0\.03 \|/);
    expect(rows.find((r) => r.startsWith('| billed'))).toMatch(/\| 14 \| \| yes \(700\) \|$/);
  });

  it('says NO when a round lost an order, and why', () => {
    const rows = ordersTable({
      gatewayRate: undefined,
      brokerRate: undefined,
      ratio: undefined,
      billedRate: undefined,
      nothingLost: false,
      orders: 700,
      store: 'ferretdb',
      note: '1 round(s) failed: orders: 700 placed, 699 billed',
    });
    expect(rows.find((r) => r.startsWith('| billed'))).toMatch(/NO \|$/);
    expect(rows.at(-1)).toBe('note: orders: 1 round(s) failed: orders: 700 placed, 699 billed');
  });
});
