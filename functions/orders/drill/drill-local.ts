/**
 * The drill on a running `make dev`: billing's Trigger paused and resumed, and its queue depth read, through the
 * API of `make dev`'s console (platform/local/src/console/console-server.ts: `POST /v1/triggers/<name>/pause|resume`,
 * `GET /v1/triggers`; its URL and token from the owner-only `.tmp/dev/endpoints.json`); billing's database read through the same store the functions use (MONGODB_URL +
 * the `billing` database, or `make dev`'s shared in-memory store). HTTP and the runtime's index only: a system's
 * code does not import the platform.
 */
import {
  type DevEndpoints,
  type DocumentStore,
  openStore,
  resolveDevStore,
} from '../../runtime/src/index.ts';
import { Collections } from '../lib/orders.ts';
import { BILLING_TRIGGER, type Bill, type DrillPlatform } from './drill.ts';

/** A Trigger as the console's API shows it (platform/local/src/console/records.ts TriggerView). */
interface TriggerView {
  readonly name: string;
  readonly depth?: number;
  readonly paused?: boolean;
}

/** billing's collections: its bills and its invoice numbers. */
const { orders: BILLS, invoices: INVOICES } = Collections;

export async function localPlatform(
  endpoints: DevEndpoints,
  env: Readonly<Record<string, string | undefined>>,
): Promise<{ platform: DrillPlatform; close(): Promise<void> }> {
  const { trailUrl: apiUrl, trailToken: token } = endpoints;
  if (apiUrl === undefined || token === undefined)
    throw new Error('this make dev has no console API (restart it from this checkout)');
  const call = async <T>(method: 'GET' | 'POST', path: string): Promise<T> => {
    const res = await fetch(`${apiUrl}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}` },
      signal: AbortSignal.timeout(30_000),
    });
    const body = (await res.json()) as T & { detail?: string };
    if (!res.ok) throw new Error(`${method} ${path}: ${res.status} ${body.detail ?? ''}`);
    return body;
  };
  const mongodbUrl = env.MONGODB_URL || undefined;
  const devStore = resolveDevStore(env);
  const store: DocumentStore | undefined = await openStore({
    mongodbUrl,
    mongodbDb: env.MONGODB_DB || 'billing',
    devStoreUrl: devStore.url,
    devStoreToken: devStore.token,
    memory: false,
  });
  const where =
    mongodbUrl !== undefined
      ? `MongoDB (database ${env.MONGODB_DB || 'billing'})`
      : store === undefined
        ? ''
        : "make dev's in-memory store";
  return {
    platform: {
      description: `make dev (broker ${endpoints.brokerUrl ?? '?'}${where === '' ? '' : `, billing's database: ${where}`})`,
      pause: async () => {
        await call('POST', `/v1/triggers/${BILLING_TRIGGER}/pause`);
      },
      resume: async () => {
        await call('POST', `/v1/triggers/${BILLING_TRIGGER}/resume`);
      },
      depth: async () => {
        const { triggers } = await call<{ triggers: TriggerView[] }>('GET', '/v1/triggers');
        const depth = triggers.find((t) => t.name === BILLING_TRIGGER)?.depth;
        if (depth === undefined)
          throw new Error(`make dev does not know the depth of ${BILLING_TRIGGER}'s queue`);
        return depth;
      },
      ...(store === undefined
        ? {}
        : {
            billingDb: {
              bills: async (orderIds: readonly string[]): Promise<Bill[]> =>
                (
                  await store
                    .collection<{ _id: string; invoiceNumber: string }>(BILLS)
                    .find({ _id: { $in: [...orderIds] } })
                ).map((b) => ({ orderId: b._id, invoiceNumber: b.invoiceNumber })),
              invoices: async (orderIds: readonly string[]): Promise<Bill[]> =>
                (
                  await store
                    .collection<{ _id: string; orderId: string }>(INVOICES)
                    .find({ orderId: { $in: [...orderIds] } })
                ).map((i) => ({ orderId: i.orderId, invoiceNumber: i._id })),
            },
          }),
    },
    close: async () => {
      await store?.close();
    },
  };
}
