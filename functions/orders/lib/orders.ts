/**
 * The orders system's vocabulary (docs/orders.md): its event types, the order a client places, read from the
 * body the original clients send (`{"user_id":"22","number_of_items":"10","total_amount":"50"}`, numbers as
 * strings, or the same with numbers), amounts in integer cents, and the order id an `Idempotency-Key` stands for.
 * Pure: no I/O.
 */
import { createHash } from 'node:crypto';

export const OrdersEventType = {
  orderPlaced: 'dev.sluice.orders.order.placed.v1',
  orderBilled: 'dev.sluice.orders.order.billed.v1',
} as const;

/** Each function's collections. Distinct names, so they never meet in `make dev`'s one shared dev store. */
export const Collections = {
  /** inventory (database `inventory`) */
  movies: 'movies',
  /** orders-api (database `orders`): what was accepted at the gateway, and what billing said about it */
  placedOrders: 'placed_orders',
  acceptedOrders: 'accepted_orders',
  billedOrders: 'billed_orders',
  /** billing (database `billing`) */
  orders: 'orders',
  invoices: 'invoices',
} as const;

/** The data of `dev.sluice.orders.order.placed.v1` (schemas/…order.placed.v1.json). */
export type PlacedOrder = {
  readonly orderId: string;
  readonly userId: string;
  readonly numberOfItems: number;
  readonly totalAmountCents: number;
  readonly placedAt: string;
};

/** The data of `dev.sluice.orders.order.billed.v1`. */
export type BilledOrder = {
  readonly orderId: string;
  readonly invoiceNumber: string;
  readonly userId: string;
  readonly totalAmountCents: number;
  readonly billedAt: string;
};

export const MAX_ITEMS = 10_000;
/** 10 million in the currency: beyond any order this system takes, and far inside a safe integer. */
export const MAX_AMOUNT_CENTS = 1_000_000_000;
const USER_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const WHOLE = /^(0|[1-9][0-9]{0,8})$/;
/** A plain decimal with at most two places: `50`, `50.5`, `49.99`; no sign, exponent, or spaces. */
const AMOUNT = /^(0|[1-9][0-9]{0,8})(\.[0-9]{1,2})?$/;

export interface InvalidParam {
  readonly name: string;
  readonly reason: string;
}

export type OrderRequest = Omit<PlacedOrder, 'orderId' | 'placedAt'>;

/** A JSON number as its shortest decimal text (how it was most likely written); no exponent forms. */
function numberText(value: number): string | undefined {
  if (!Number.isFinite(value)) return undefined;
  const text = String(value);
  return /e/i.test(text) ? undefined : text;
}

function asText(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (typeof value === 'number') return numberText(value);
  return undefined;
}

/** `"50"` → 5000, `"49.99"` → 4999, `19.9` → 1990; exact (decimal text, never float arithmetic). */
export function toCents(text: string): number | undefined {
  const m = AMOUNT.exec(text);
  if (m === null) return undefined;
  const whole = Number(m[1]);
  const fraction = (m[2] ?? '.').slice(1).padEnd(2, '0');
  return whole * 100 + Number(fraction);
}

/** The body of `POST /api/billing` → an order, or every problem with it (the 400's `invalid-params`). */
export function readOrderRequest(body: unknown): OrderRequest | InvalidParam[] {
  if (body === null || typeof body !== 'object' || Array.isArray(body))
    return [{ name: '(body)', reason: 'must be a JSON object with user_id, number_of_items, total_amount' }];
  const { user_id, number_of_items, total_amount, ...rest } = body as Record<string, unknown>;
  const problems: InvalidParam[] = Object.keys(rest)
    .slice(0, 5)
    .map((name) => ({ name: name.slice(0, 64), reason: 'unknown field' }));
  const userId = asText(user_id);
  if (userId === undefined || !USER_ID.test(userId))
    problems.push({
      name: 'user_id',
      reason: 'required: 1-64 letters, digits, ".", "_" or "-" (a string, or a whole number)',
    });
  const itemsText = asText(number_of_items);
  const numberOfItems = itemsText !== undefined && WHOLE.test(itemsText) ? Number(itemsText) : Number.NaN;
  if (!(numberOfItems >= 1 && numberOfItems <= MAX_ITEMS))
    problems.push({
      name: 'number_of_items',
      reason: `required: a whole number from 1 to ${MAX_ITEMS} (a number, or its digits as a string)`,
    });
  const amountText = asText(total_amount);
  const totalAmountCents = amountText === undefined ? undefined : toCents(amountText);
  if (totalAmountCents === undefined || totalAmountCents > MAX_AMOUNT_CENTS)
    problems.push({
      name: 'total_amount',
      reason: `required: an amount from 0 to ${MAX_AMOUNT_CENTS / 100} with at most two decimals, e.g. "49.99" or 50`,
    });
  if (problems.length > 0 || userId === undefined || totalAmountCents === undefined) return problems;
  return { userId, numberOfItems, totalAmountCents };
}

/** `Idempotency-Key`: what the gateway also accepts (≤ 255 visible ASCII characters). */
export const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/**
 * The order id a client's `Idempotency-Key` stands for, scoped by who is calling: a UUID-shaped SHA-256 of
 * (principal, key), so a retried POST names the same order on every instance without a lookup first.
 */
export function orderIdFor(principal: string, key: string): string {
  const h = createHash('sha256').update(`orders\0${principal}\0${key}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${((Number.parseInt(h[16] ?? '0', 16) & 0x3) | 0x8).toString(16)}${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** Whether a stored order is the one a retried request asks for (same key, same content). */
export function sameRequest(a: OrderRequest, b: OrderRequest): boolean {
  return (
    a.userId === b.userId && a.numberOfItems === b.numberOfItems && a.totalAmountCents === b.totalAmountCents
  );
}

export const ORDER_ID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
