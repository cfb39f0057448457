/**
 * transaction-processor as its image runs it (bench/bench.mk "BUNDLE CONTRACT"): `make bundle`, the folder
 * copied outside the repository, `node main.mjs` with MONGODB_URL. The bundle loads the MongoDB driver from
 * its own chunk (CommonJS behind esbuild's `default`), connects, and applies an account opening and a
 * transfer to the store.
 */
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type BundledFunction, startBundledFunction } from '../../runtime/test/support.ts';

const ROOT = resolve(import.meta.dirname, '../../..');
const DB = `bundle_${process.pid}`;
let bundled: BundledFunction | undefined;
let url: string;

beforeAll(async () => {
  bundled = await startBundledFunction(join(ROOT, 'functions/banking/transaction-processor'), {
    env: { MONGODB_URL: inject('mongodbUrl'), MONGODB_DB: DB },
    stderr: 'inherit',
  });
  url = bundled.url;
}, 90_000);

afterAll(async () => {
  await bundled?.stop();
});

const post = (id: string, type: string, data: object): Promise<Response> =>
  fetch(url, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/test/bundle',
      'ce-type': type,
    },
    body: JSON.stringify(data),
  });

describe('transaction-processor bundle on MongoDB', () => {
  it('opens accounts and processes a transfer through the bundled driver', async () => {
    for (const accountId of ['bundle-a', 'bundle-b']) {
      const res = await post(`open-${accountId}`, 'dev.sluice.banking.account.opened.v1', {
        accountId,
        currency: 'EUR',
        openingBalance: 100,
      });
      expect(res.status).toBeLessThan(300);
    }
    const res = await post('submit-1', 'dev.sluice.banking.transaction.submitted.v1', {
      transactionId: 'bundle-t1',
      from: 'bundle-a',
      to: 'bundle-b',
      amount: 30,
      currency: 'EUR',
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('ce-type')).toBe('dev.sluice.banking.transaction.processed.v1');
    expect(await res.json()).toMatchObject({ fromBalance: 70, toBalance: 130 });
  });
});
