/**
 * hello — the smallest complete function: accepts a greeting request, counts greetings per name in
 * the store (a side effect that must happen once per event), and replies with a greeting event.
 */
import { type Counter, metrics } from '@opentelemetry/api';
import { PermanentError, type SluiceFunction } from '../../runtime/src/index.ts';
import type { Handle } from './events.gen.ts';

export const REQUESTED = 'dev.sluice.hello.requested.v1' as const;
export const GREETED = 'dev.sluice.hello.greeted.v1' as const;

export const accepts = [REQUESTED] as const;
export const emits = [GREETED] as const;

const GREETINGS = { en: 'Hello', fr: 'Bonjour', de: 'Hallo' } as const;

/** A function's own metric, the OpenTelemetry way: exported on the runtime's /metrics as hello_greetings_total. */
let greetings: Counter | undefined;

export const init: SluiceFunction['init'] = async ({ store }) => {
  greetings = metrics.getMeter('hello').createCounter('hello.greetings', {
    description: 'Greetings sent, by language',
  });
  await store.collection('greetings').createIndex({ keys: { count: -1 }, name: 'count' });
};

// event.data is HelloRequestedV1 (events.gen.ts, from schemas/); the reply's data is checked against HelloGreetedV1.
export const handle: Handle<typeof accepts, typeof emits> = async (event, { store }) => {
  const { name, language = 'en' } = event.data;
  if (name.trim().toLowerCase() === 'nobody') {
    throw new PermanentError('no-such-person', 'cannot greet nobody');
  }
  const counter = await store
    .collection<{ _id: string; count: number }>('greetings')
    .findOneAndUpdate({ _id: name }, { $inc: { count: 1 } }, { upsert: true });
  greetings?.add(1, { 'hello.language': language });
  return {
    type: GREETED,
    subject: name,
    data: { greeting: `${GREETINGS[language]}, ${name}!`, timesGreeted: counter?.count ?? 1 },
  };
};
