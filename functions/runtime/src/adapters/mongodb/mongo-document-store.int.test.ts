import { connect, createServer, type Server, type Socket } from 'node:net';
import { describe, expect, inject, it, onTestFinished } from 'vitest';
import { freePort } from '../../../../../platform/test-servers/ports.ts';
import { openScratchStore } from '../../../test/support.ts';
import { StoreUnavailableError } from '../../errors.ts';
import { describeDocumentStoreContract } from '../../ports/document-store.contract.ts';
import { MongoDocumentStore } from './mongo-document-store.ts';

// The test server is FerretDB 1.24 unless MONGODB_URL names a real MongoDB (docs/ferretdb.md).
const ferretdb = inject('mongodbManaged');

describeDocumentStoreContract(
  ferretdb ? 'mongodb adapter on FerretDB 1.24' : 'mongodb adapter on MONGODB_URL',
  () => openScratchStore(inject('mongodbUrl'), 'contract'),
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

  it('connects once the server is up when it was down at the first ping (a pod started during an outage)', {
    timeout: 20_000,
  }, async () => {
    // The driver closes the topology of a client whose first connect failed, and every later operation
    // then fails with "Topology is closed", even once the server answers: the store must connect again.
    const upstream = new URL(inject('mongodbUrl'));
    const port = await freePort();
    const store = await MongoDocumentStore.connect(`mongodb://127.0.0.1:${port}/`, `late_${process.pid}`);
    onTestFinished(() => store.close());
    // Without a deadline: the driver's own server selection (5 s) fails the first connect.
    await expect(store.ping()).rejects.toBeInstanceOf(StoreUnavailableError);
    const relay = await silentRelay(upstream.hostname, Number(upstream.port || 27017), port);
    onTestFinished(() => relay.close());
    await store.ping({ timeoutMs: 5_000 });
    await store.collection('records').insertOne({ _id: 'a' });
    expect(await store.collection('records').findOne({ _id: 'a' })).toEqual({ _id: 'a' });
  });

  it('gives up on a store that stops answering after the deadline of the handle, as StoreUnavailableError', async () => {
    // A TCP relay to the test server that can go silent: the connection stays open, nothing comes back.
    const upstream = new URL(inject('mongodbUrl'));
    const relay = await silentRelay(upstream.hostname, Number(upstream.port || 27017));
    const store = await MongoDocumentStore.connect(
      `mongodb://127.0.0.1:${relay.port}/`,
      `deadline_${process.pid}`,
    );
    onTestFinished(async () => {
      relay.close();
      await store.close();
    });
    await store.ping({ timeoutMs: 5_000 });
    relay.silence();
    const records = store.collection('records', { timeoutMs: 300 });
    await expect(records.insertOne({ _id: 'a' })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(records.findOne({ _id: 'a' })).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.ping({ timeoutMs: 300 })).rejects.toBeInstanceOf(StoreUnavailableError);
  });
});

async function silentRelay(host: string, port: number, listenPort = 0) {
  let silent = false;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(port, host);
    sockets.add(client).add(upstream);
    client.on('data', (chunk) => {
      if (!silent) upstream.write(chunk);
    });
    upstream.on('data', (chunk) => {
      if (!silent) client.write(chunk);
    });
    client.on('error', () => upstream.destroy());
    upstream.on('error', () => client.destroy());
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
  });
  await new Promise<void>((resolve) => server.listen(listenPort, '127.0.0.1', resolve));
  return {
    port: (server.address() as { port: number }).port,
    silence: () => {
      silent = true;
    },
    close: () => {
      for (const s of sockets) s.destroy();
      server.close();
    },
  };
}
