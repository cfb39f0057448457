import { describe, expect, it } from 'vitest';
import { ORDER_ID, orderIdFor, readOrderRequest, sameRequest, toCents } from './orders.ts';

describe('readOrderRequest', () => {
  it('reads the reference payload, numbers as strings, with the amount in cents', () => {
    expect(readOrderRequest({ user_id: '22', number_of_items: '10', total_amount: '50' })).toEqual({
      userId: '22',
      numberOfItems: 10,
      totalAmountCents: 5000,
    });
  });

  it('reads the same with numbers', () => {
    expect(readOrderRequest({ user_id: 22, number_of_items: 10, total_amount: 49.99 })).toEqual({
      userId: '22',
      numberOfItems: 10,
      totalAmountCents: 4999,
    });
  });

  it.each([
    [null, '(body)'],
    [[], '(body)'],
    [{ number_of_items: '1', total_amount: '1' }, 'user_id'],
    [{ user_id: 'a b', number_of_items: '1', total_amount: '1' }, 'user_id'],
    [{ user_id: '1', number_of_items: '0', total_amount: '1' }, 'number_of_items'],
    [{ user_id: '1', number_of_items: '1.5', total_amount: '1' }, 'number_of_items'],
    [{ user_id: '1', number_of_items: '10001', total_amount: '1' }, 'number_of_items'],
    [{ user_id: '1', number_of_items: 2, total_amount: '-1' }, 'total_amount'],
    [{ user_id: '1', number_of_items: 2, total_amount: '1.999' }, 'total_amount'],
    [{ user_id: '1', number_of_items: 2, total_amount: 1e21 }, 'total_amount'],
    [{ user_id: '1', number_of_items: 2, total_amount: 'fifty' }, 'total_amount'],
    [{ user_id: '1', number_of_items: 2, total_amount: true }, 'total_amount'],
    [{ user_id: '1', number_of_items: 2, total_amount: '1', coupon: 'x' }, 'coupon'],
  ])('refuses %j, naming %s', (body, name) => {
    const result = readOrderRequest(body);
    expect(Array.isArray(result)).toBe(true);
    expect((result as { name: string }[]).map((p) => p.name)).toContain(name);
  });

  it('names every problem at once', () => {
    expect(readOrderRequest({})).toHaveLength(3);
  });
});

describe('toCents', () => {
  it.each([
    ['0', 0],
    ['50', 5000],
    ['50.5', 5050],
    ['0.07', 7],
    ['19.99', 1999],
  ])('%s → %d, exactly', (text, cents) => expect(toCents(text)).toBe(cents));

  it.each(['', '050', '1.', '.5', '1e3', ' 1', '+1'])('refuses %j', (text) =>
    expect(toCents(text)).toBeUndefined(),
  );
});

describe('orderIdFor', () => {
  it('is a UUID, the same for the same (principal, key), different across principals and keys', () => {
    const id = orderIdFor('anonymous', 'k-1');
    expect(id).toMatch(ORDER_ID);
    expect(orderIdFor('anonymous', 'k-1')).toBe(id);
    expect(orderIdFor('ada', 'k-1')).not.toBe(id);
    expect(orderIdFor('anonymous', 'k-2')).not.toBe(id);
  });
});

describe('sameRequest', () => {
  it('compares what an order is made of', () => {
    const a = { userId: '22', numberOfItems: 10, totalAmountCents: 5000 };
    expect(sameRequest(a, { ...a })).toBe(true);
    expect(sameRequest(a, { ...a, totalAmountCents: 5001 })).toBe(false);
  });
});
