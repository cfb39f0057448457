/**
 * Helpers shared by the local platform's integration tests and the systems' end-to-end tests: poll with a deadline,
 * post a CloudEvent, read what the hello function counted in the platform's dev store.
 */
import { HttpDocumentStore } from '../../../../functions/runtime/test/support.ts';

/**
 * Resolves with the first value of `check` other than undefined or false, polling every `everyMs` (longer where each
 * check reads a store or the gateway of a whole platform); throws after `ms`.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 20_000,
  everyMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await check();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, everyMs));
  }
}

/** POSTs a binary-mode CloudEvent with JSON data; the caller reads the Response. */
export function postEvent(
  url: string,
  type: string,
  data: unknown,
  id: string = crypto.randomUUID(),
): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: {
      'ce-specversion': '1.0',
      'ce-id': id,
      'ce-source': '/tests/local-platform',
      'ce-type': type,
      'content-type': 'application/json',
    },
    body: JSON.stringify(data),
  });
}

/** How many times hello has greeted `name`, read from the running platform's dev store (undefined: not yet). */
export function helloGreetings(platform: {
  readonly devStoreUrl?: string | undefined;
  readonly devStoreToken?: string | undefined;
}): (name: string) => Promise<number | undefined> {
  const store = new HttpDocumentStore(platform.devStoreUrl as string, {
    token: platform.devStoreToken as string,
  });
  const greetings = store.collection<{ _id: string; count: number }>('greetings');
  return async (name) => (await greetings.findOne({ _id: name }))?.count;
}
