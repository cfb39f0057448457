import { inject } from 'vitest';
import { openScratchStore } from '../../test/support.ts';
import { describeIdempotencyGuard, type GuardSubject } from './idempotency-guard.contract.ts';
import { ExpiryMode } from './idempotency-store.ts';

// FerretDB 1.24 unless MONGODB_URL names a real MongoDB (docs/ferretdb.md): FerretDB has no TTL
// indexes, so its records are purged; MongoDB's TTL monitor removes them.
const ferretdb = inject('mongodbManaged');
const name = ferretdb ? 'FerretDB 1.24' : 'MONGODB_URL';
const expected = { expiry: ferretdb ? ExpiryMode.purge : ExpiryMode.ttlIndex };

async function open(): Promise<GuardSubject> {
  const opened = await openScratchStore(inject('mongodbUrl'), 'idem');
  await opened.store.ping();
  return opened;
}

describeIdempotencyGuard(name, open, expected);
// As the runtime runs it on a store across the network: the inserts of one turn in one bulkWrite.
describeIdempotencyGuard(name, open, expected, { batchInserts: true });
