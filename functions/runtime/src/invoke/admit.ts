/**
 * Step 2, validate: is this event for this function (its `accepts`), and does its data pass the
 * schema of its type. Runs before the idempotency claim, so an invalid event leaves no record.
 */
import { InvalidEventError } from '../errors.ts';
import type { SchemaSet } from '../schema-set.ts';
import type { CloudEvent, SluiceFunction } from '../types.ts';

export type Admit = (event: CloudEvent) => void;

/** The admission check of one function; throws InvalidEventError (400/415) naming what is wrong. */
export function admission(fn: SluiceFunction, schemas: SchemaSet, serviceName: string): Admit {
  const accepts: ReadonlySet<string> = new Set(fn.accepts);
  const any = fn.acceptsAny === true;
  return (event) => {
    if (!any && !accepts.has(event.type)) {
      throw new InvalidEventError(
        `${serviceName} does not accept events of type ${event.type}; it accepts ${[...accepts].join(', ')}`,
        [{ name: 'type', reason: 'not accepted by this function (check the Trigger filter)' }],
        400,
        'unaccepted-type',
      );
    }
    schemas.validate(event);
  };
}
