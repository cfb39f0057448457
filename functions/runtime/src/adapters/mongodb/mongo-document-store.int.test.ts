import { describe, expect, inject, it } from 'vitest';
import { StoreUnavailableError } from '../../errors.ts';
import { describeDocumentStoreContract } from '../../ports/document-store.contract.ts';
import { MongoDocumentStore } from './mongo-document-store.ts';

// The test server is FerretDB 1.24 unless MONGODB_URL names a real MongoDB (docs/ferretdb.md).
const ferretdb = inject('mongodbManaged');

describeDocumentStoreContract(
  ferretdb ? 'mongodb adapter on FerretDB 1.24' : 'mongodb adapter on MONGODB_URL',
  async () => {
    const store = await MongoDocumentStore.connect(
      inject('mongodbUrl'),
      `contract_${process.pid}_${Date.now()}`,
    );
    return {
      store,
      close: async () => {
        await store.db.dropDatabase();
        await store.close();
      },
    };
  },
  { atomicConcurrentUpdates: !ferretdb, pushSlice: !ferretdb },
);

describe('MongoDocumentStore', () => {
  it('reports an unreachable server as StoreUnavailableError (transient, retried)', async () => {
    // Port 9 (discard) on localhost: nothing listens, the connection is refused at once.
    const store = await MongoDocumentStore.connect(
      'mongodb://127.0.0.1:9/?serverSelectionTimeoutMS=300',
      'x',
    );
    try {
      await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    } finally {
      await store.close();
    }
  });
});
