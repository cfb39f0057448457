import { inject } from 'vitest';
import { MongoDocumentStore } from '../adapters/mongodb/mongo-document-store.ts';
import { describeIdempotencyGuard } from './idempotency-guard.contract.ts';
import { ExpiryMode } from './idempotency-store.ts';

// FerretDB 1.24 unless MONGODB_URL names a real MongoDB (docs/ferretdb.md): FerretDB has no TTL
// indexes, so its records are purged; MongoDB's TTL monitor removes them.
const ferretdb = inject('mongodbManaged');

describeIdempotencyGuard(
  ferretdb ? 'FerretDB 1.24' : 'MONGODB_URL',
  async () => {
    const store = await MongoDocumentStore.connect(inject('mongodbUrl'), `idem_${process.pid}_${Date.now()}`);
    await store.ping();
    return {
      store,
      close: async () => {
        await store.db.dropDatabase();
        await store.close();
      },
    };
  },
  { expiry: ferretdb ? ExpiryMode.purge : ExpiryMode.ttlIndex },
);
