/**
 * A set of compiled data validators, one per CloudEvent type, and what the hot path does with them.
 * Kept free of ajv itself: a bundle carries validators precompiled at build time (ajv standalone
 * code), so a process started from zero never loads the compiler. `validate.ts` compiles at run time
 * for source runs (`node main.ts`) and feeds the same wrapper.
 */
import { isJsonMediaType, mediaType } from './cloudevent/receive.ts';
import { InvalidEventError, type InvalidParam } from './errors.ts';
import type { CloudEvent } from './types.ts';

/** ajv's error shape, the part the runtime reports (a ValidateFunction and standalone code share it). */
export interface ValidatorError {
  readonly instancePath: string;
  readonly schemaPath: string;
  readonly message?: string;
  readonly params?: Readonly<Record<string, unknown>>;
}

/** A compiled validator: ajv's ValidateFunction or its standalone-code equivalent. */
export interface DataValidator {
  (data: unknown): boolean;
  errors?: readonly ValidatorError[] | null;
}

export interface SchemaSet {
  /** Types that have a schema file. */
  readonly types: ReadonlySet<string>;
  /** Throws InvalidEventError naming each failing schema path; no-op for types without a schema. */
  validate(event: CloudEvent): void;
  /** Validates plain data against a type's schema (used for replies in tests and by injectors). */
  check(type: string, data: unknown): readonly InvalidParam[];
}

export function schemaSet(validators: ReadonlyMap<string, DataValidator>): SchemaSet {
  const check = (type: string, data: unknown): readonly InvalidParam[] => {
    const validator = validators.get(type);
    if (validator === undefined || validator(data)) return [];
    return toParams(validator.errors ?? []);
  };
  return {
    types: new Set(validators.keys()),
    check,
    validate(event) {
      if (!validators.has(event.type)) return;
      const media = mediaType(event.datacontenttype);
      if (media !== '' && !isJsonMediaType(media)) {
        throw new InvalidEventError(
          `events of type ${event.type} carry JSON data; got Content-Type "${media}"`,
          [{ name: 'datacontenttype', reason: 'must be application/json' }],
          415,
        );
      }
      const params = check(event.type, event.data);
      if (params.length > 0) {
        throw new InvalidEventError(`data does not match the schema of ${event.type}`, params, 400, 'schema');
      }
    },
  };
}

function toParams(errors: readonly ValidatorError[]): InvalidParam[] {
  return errors.map((e) => {
    // ajv names the offending key of additionalProperties only in its params.
    const extra = e.params?.additionalProperty;
    return {
      name: `data${e.instancePath}${typeof extra === 'string' ? `/${extra}` : ''}`,
      reason: `${e.message ?? 'is invalid'} (schema ${e.schemaPath})`,
    };
  });
}
