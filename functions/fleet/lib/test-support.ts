/** Test helpers shared by the fleet tests: example events typed by a function's schemas, a stub context. */
import { readFileSync } from 'node:fs';
import {
  type CloudEvent,
  type Context,
  type DocumentStore,
  JsonLogger,
  receive,
  STRUCTURED_CONTENT_TYPE,
} from '../../runtime/src/index.ts';
import { FleetEventType, type PositionReported } from './fleet.ts';

/** A function's example event (`<function dir>/examples/<type>.json`), parsed as the runtime parses it. */
export function exampleEvent<E extends object, K extends keyof E & string>(
  functionDir: string,
  type: K,
): CloudEvent<E[K], K> {
  const { event } = receive(
    { 'content-type': STRUCTURED_CONTENT_TYPE },
    readFileSync(`${functionDir}/examples/${type}.json`),
  );
  if (event.type !== type) throw new Error(`examples/${type}.json is a ${event.type}`);
  return event as CloudEvent<E[K], K>;
}

/** `…position.reported.v1` as a device sends it: the vehicle as subject, the fix time as time. */
export function positionEvent(
  id: string,
  vehicleId: string | undefined,
  time: string | undefined,
  data: PositionReported,
): CloudEvent<PositionReported, typeof FleetEventType.positionReported> {
  return {
    specversion: '1.0',
    id,
    source: '/tests/fleet',
    type: FleetEventType.positionReported,
    ...(vehicleId === undefined ? {} : { subject: vehicleId }),
    ...(time === undefined ? {} : { time }),
    datacontenttype: 'application/json',
    data,
    extensions: {},
  };
}

/** A handler's context on `store`, with a logger that writes nowhere. */
export function stubContext(store: DocumentStore, signal = new AbortController().signal): Context {
  return {
    log: new JsonLogger({ serviceName: 'test', sink: { write: () => true } }),
    store,
    functionName: 'test',
    signal,
    traceId: '0af7651916cd43dd8448eb211c80319c',
  };
}
