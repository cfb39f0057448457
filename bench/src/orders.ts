/**
 * The orders section of `make bench` (docs/orders.md, "Load"): rounds of orders-host.ts, the order of the two
 * paths alternating. Orders/s accepted through the gateway (client → api-gateway → orders-api → broker, 202 after
 * RabbitMQ's confirm) as a ratio to the broker path (the same event straight at the broker ingress, 202 after the
 * confirm), paired within each round; orders/s billed from billing's queue into a MongoDB-wire store; nothing lost
 * (every order one bill, one distinct invoice number). A round that lost an order is not a valid sample.
 */
import { join } from 'node:path';
import { marked } from './broker.ts';
import { ROOT } from './servers.ts';
import { median, pairedRatio } from './stats.ts';

export interface OrdersOptions {
  readonly rounds: number;
  readonly orders: number;
  readonly inFlight: number;
  readonly url: string;
  readonly cpus: string;
  readonly log: (line: string) => void;
}

export interface OrdersSection {
  readonly gatewayRate: number | undefined;
  readonly brokerRate: number | undefined;
  readonly ratio: number | undefined;
  readonly billedRate: number | undefined;
  /** Every measured round billed each order once. */
  readonly nothingLost: boolean;
  readonly orders: number | undefined;
  readonly store: string | undefined;
  readonly note?: string;
}

export async function runOrdersSection(o: OrdersOptions): Promise<OrdersSection> {
  const gateway: number[] = [];
  const broker: number[] = [];
  const billed: number[] = [];
  const errors: string[] = [];
  let store: string | undefined;
  let orders: number | undefined;
  let nothingLost = true;
  for (let round = 0; round < o.rounds; round++) {
    const args = JSON.stringify({
      url: o.url,
      orders: o.orders,
      inFlight: o.inFlight,
      first: round % 2 === 0 ? 'gateway' : 'broker',
    });
    try {
      const r = (await marked([join(ROOT, 'bench/src/orders-host.ts'), args], o.cpus, {
        timeoutMs: 900_000,
      })) as unknown as {
        gatewayRate: number;
        brokerRate: number;
        billedRate: number;
        orders: number;
        billed: number;
        invoices: number;
        lost: number;
        store: string;
      };
      store = r.store;
      orders = r.orders;
      if (r.lost !== 0 || r.billed !== r.orders || r.invoices !== r.orders) {
        nothingLost = false;
        throw new Error(`orders: ${r.orders} placed, ${r.billed} billed, ${r.invoices} invoice numbers`);
      }
      gateway[round] = r.gatewayRate;
      broker[round] = r.brokerRate;
      billed.push(r.billedRate);
      o.log(
        `  round ${round + 1} orders: gateway ${r.gatewayRate.toFixed(0)}/s, broker ${r.brokerRate.toFixed(0)}/s, billed ${r.billedRate.toFixed(0)}/s (${r.orders} each once, ${r.store})`,
      );
    } catch (err) {
      gateway[round] = Number.NaN;
      broker[round] = Number.NaN;
      errors.push((err as Error).message.slice(0, 300));
      o.log(`  round ${round + 1}: ${(err as Error).message.slice(0, 300)}`);
    }
  }
  return {
    gatewayRate: median(gateway),
    brokerRate: median(broker),
    ratio: pairedRatio(gateway, broker),
    billedRate: median(billed),
    nothingLost: nothingLost && billed.length > 0,
    orders,
    store,
    ...(errors.length === 0 ? {} : { note: `${errors.length} round(s) failed: ${errors[0]}` }),
  };
}

/** The section's rows in the printed table. */
export function ordersTable(s: OrdersSection): string[] {
  const r = (v: number | undefined, d = 0): string => (v === undefined ? 'n/a' : v.toFixed(d));
  return [
    '',
    `| orders (RabbitMQ; store: ${s.store ?? 'n/a'}) | orders/s | ratio to the broker path | each billed once |`,
    '|---|---:|---:|---:|',
    `| broker path: order.placed straight at the ingress, 202 after the confirm | ${r(s.brokerRate)} | 1.00 | |`,
    `| accepted by the gateway: POST /api/billing → orders-api → broker, 202 after the confirm | ${r(s.gatewayRate)} | ${r(s.ratio, 2)} | |`,
    `| billed: billing's queue → billing → store (invoice numbers, insert-only) | ${r(s.billedRate)} | | ${s.nothingLost ? `yes (${r(s.orders)})` : 'NO'} |`,
    ...(s.note === undefined ? [] : [`note: orders: ${s.note}`]),
  ];
}
