/**
 * The resilience drill (`make drill [ORDERS=20]`, docs/orders.md): pause billing's Trigger, place N orders through
 * the gateway (all 202), show that none is billed and that the Trigger's queue holds N, resume, wait until all are
 * billed, and check each was billed exactly once (one bill and one invoice number per order, N distinct numbers).
 * Prints each step; the last line is `drill: N orders queued while billing was paused, N billed exactly once after
 * resume`, or `drill: FAILED: …` and a non-zero exit. The platform (make dev, or a cluster) is a port: drill-local.ts
 * and drill-cluster.ts. Billing is resumed whatever happens.
 */

export const BILLING_TRIGGER = 'billing';

export interface Bill {
  readonly orderId: string;
  readonly invoiceNumber: string;
}

export interface DrillPlatform {
  /** One line for the start: where the drill runs. */
  readonly description: string;
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Messages in billing's Trigger queue. */
  depth(): Promise<number>;
  /** billing's own database, when the drill can read it (make dev; on a cluster it is not exposed). */
  readonly billingDb?: {
    /** Its bills (`orders`) of these orders. */
    bills(orderIds: readonly string[]): Promise<Bill[]>;
    /** Its invoice numbers (`invoices`) taken for these orders. */
    invoices(orderIds: readonly string[]): Promise<Bill[]>;
  };
}

export interface DrillOptions {
  readonly orders: number;
  readonly gatewayUrl: string;
  readonly platform: DrillPlatform;
  readonly out: (line: string) => void;
  /** Prefix of the orders' Idempotency-Keys (a retried POST stays one order). @default drill-<time> */
  readonly run?: string;
  /** How long the queue may take to show N, and billing to bill N after resume. @default 120 000 */
  readonly timeoutMs?: number;
  readonly pollMs?: number;
}

export class DrillFailure extends Error {
  override name = 'DrillFailure';
}

interface OrderState {
  readonly orderId: string;
  readonly status: string;
  readonly invoice?: { readonly number: string };
}

export const finalLine = (n: number): string =>
  `drill: ${n} orders queued while billing was paused, ${n} billed exactly once after resume`;

async function poll<T>(
  what: string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
  everyMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const found = await check();
      if (found !== undefined) return found;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new DrillFailure(
        `${what} did not happen within ${timeoutMs / 1000} s${last === undefined ? '' : ` (${String(last)})`}`,
      );
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** Runs the drill; resolves with the final line, rejects with DrillFailure (after resuming billing). */
export async function runDrill(o: DrillOptions): Promise<string> {
  const n = o.orders;
  const timeoutMs = o.timeoutMs ?? 120_000;
  const every = o.pollMs ?? 250;
  const run = o.run ?? `drill-${Date.now().toString(36)}`;
  const api = `${o.gatewayUrl.replace(/\/$/, '')}/api/billing`;
  o.out(`drill: ${n} orders on ${o.platform.description}, through the gateway ${o.gatewayUrl}`);

  const startDepth = await o.platform.depth();
  if (startDepth !== 0)
    throw new DrillFailure(
      `billing's queue already holds ${startDepth} messages: let them drain (or purge them) first`,
    );
  o.out(`drill: 1. pausing billing's trigger (${BILLING_TRIGGER})`);
  await o.platform.pause();
  let resumed = false;
  try {
    o.out(`drill: 2. placing ${n} orders through POST /api/billing`);
    const ids: string[] = [];
    for (let i = 0; i < n; i++) {
      const body = {
        user_id: `drill-${(i % 7) + 1}`,
        number_of_items: String((i % 5) + 1),
        total_amount: `${10 + i}.50`,
      };
      const res = await fetch(api, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': `${run}-${i}` },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(30_000),
      });
      const answer = (await res.json()) as Partial<OrderState> & { detail?: string };
      if (res.status !== 202 || answer.orderId === undefined)
        throw new DrillFailure(
          `order ${i + 1} was answered ${res.status}: ${answer.detail ?? JSON.stringify(answer)}`,
        );
      ids.push(answer.orderId);
    }
    o.out(`drill:    ${n}/${n} accepted (202), each with its order id`);

    const state = async (id: string): Promise<OrderState> =>
      (await (await fetch(`${api}/${id}`, { signal: AbortSignal.timeout(30_000) })).json()) as OrderState;
    const queued = (await Promise.all(ids.map(state))).filter((s) => s.status === 'queued').length;
    if (queued !== n)
      throw new DrillFailure(`${n - queued} of ${n} orders are not "queued" at GET /api/billing/{id}`);
    const db = o.platform.billingDb;
    if (db !== undefined) {
      const bills = await db.bills(ids);
      if (bills.length > 0)
        throw new DrillFailure(`${bills.length} orders were billed while billing was paused`);
      o.out(`drill: 3. none in billing's database; all ${n} "queued" at GET /api/billing/{orderId}`);
    } else o.out(`drill: 3. none billed: all ${n} "queued" at GET /api/billing/{orderId}`);
    const depth = await poll(
      `billing's queue to hold ${n}`,
      async () => {
        const d = await o.platform.depth();
        if (d > n) throw new DrillFailure(`billing's queue holds ${d}, more than the ${n} orders placed`);
        return d === n ? d : undefined;
      },
      timeoutMs,
      every,
    );
    o.out(`drill:    billing's queue holds ${depth} messages`);

    o.out(`drill: 4. resuming billing's trigger`);
    await o.platform.resume();
    resumed = true;
    const states = await poll(
      `all ${n} orders billed`,
      async () => {
        const all = await Promise.all(ids.map(state));
        return all.every((s) => s.status === 'billed') ? all : undefined;
      },
      timeoutMs,
      every,
    );
    o.out(`drill: 5. all ${n} billed at GET /api/billing/{orderId}`);

    const numbers = new Set(states.map((s) => s.invoice?.number));
    if (numbers.size !== n || numbers.has(undefined))
      throw new DrillFailure(`${n} orders carry ${numbers.size} distinct invoice numbers`);
    if (db !== undefined) {
      const bills = await db.bills(ids);
      const invoices = await db.invoices(ids);
      const perOrder = new Map<string, Set<string>>();
      for (const b of [...bills, ...invoices])
        perOrder.set(b.orderId, (perOrder.get(b.orderId) ?? new Set()).add(b.invoiceNumber));
      const twice = [...perOrder].filter(([, s]) => s.size !== 1).map(([id]) => id);
      if (bills.length !== n || invoices.length !== n || perOrder.size !== n || twice.length > 0)
        throw new DrillFailure(
          `billing's database holds ${bills.length} bills and ${invoices.length} invoice numbers for ${perOrder.size} of the ${n} orders${twice.length > 0 ? `; more than one invoice for ${twice.slice(0, 5).join(', ')}` : ''}`,
        );
      const shown = new Map(states.map((s) => [s.orderId, s.invoice?.number]));
      const mismatched = bills.filter((b) => shown.get(b.orderId) !== b.invoiceNumber).length;
      if (mismatched > 0)
        throw new DrillFailure(`${mismatched} orders show another invoice than billing's database`);
      o.out(`drill: 6. billing's database: ${n} bills and ${n} invoice numbers, one per order, all distinct`);
    } else o.out(`drill: 6. ${n} orders, one invoice each, ${numbers.size} distinct numbers`);
    const line = finalLine(n);
    o.out(line);
    return line;
  } finally {
    if (!resumed) {
      o.out(`drill: resuming billing's trigger (the drill stopped early)`);
      await o.platform
        .resume()
        .catch((err: unknown) => o.out(`drill: could not resume billing: ${String(err)}`));
    }
  }
}
