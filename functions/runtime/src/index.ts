/**
 * The public surface for function authors: what a `functions/<name>/handler.ts` imports. Everything
 * else under `src/` is the runtime's own and may change without notice.
 */

export {
  DuplicateKeyError,
  InvalidEventError,
  type InvalidParam,
  PermanentError,
  StoreUnavailableError,
  TransientError,
} from './errors.ts';
export type {
  Collection,
  Doc,
  DocumentStore,
  Filter,
  FindOptions,
  IndexSpec,
  SortSpec,
  Update,
  UpdateResult,
} from './ports/document-store.ts';
export type {
  CloudEvent,
  Context,
  ExtensionValue,
  Handler,
  InitContext,
  LogFields,
  Logger,
  ReplyEvent,
  SluiceFunction,
} from './types.ts';
