import { MongoNetworkError, MongoServerError, MongoServerSelectionError } from 'mongodb';
import { describe, expect, it } from 'vitest';
import { DuplicateKeyError, StoreUnavailableError } from '../../errors.ts';
import { translateMongoError } from './mongo-document-store.ts';

const serverError = (code: number, errorLabels: string[] = []) =>
  new MongoServerError({ ok: 0, code, errmsg: `server error ${code}`, errorLabels });

describe('translateMongoError', () => {
  it('turns a write that failed over (RetryableWriteError label) into StoreUnavailableError: 503, retried', () => {
    expect(translateMongoError(serverError(11602, ['RetryableWriteError']))).toBeInstanceOf(
      StoreUnavailableError,
    );
  });

  it('turns a read answered by a stepped-down primary (a failover code, no label) into StoreUnavailableError', () => {
    expect(translateMongoError(serverError(10107))).toBeInstanceOf(StoreUnavailableError); // NotWritablePrimary
    expect(translateMongoError(serverError(189))).toBeInstanceOf(StoreUnavailableError); // PrimarySteppedDown
  });

  it('turns an overloaded server (SystemOverloadedError label) into StoreUnavailableError', () => {
    expect(translateMongoError(serverError(462, ['SystemOverloadedError']))).toBeInstanceOf(
      StoreUnavailableError,
    );
  });

  it('turns network and server-selection errors into StoreUnavailableError', () => {
    expect(translateMongoError(new MongoNetworkError('connection reset'))).toBeInstanceOf(
      StoreUnavailableError,
    );
    const selection = new MongoServerSelectionError('no primary', { type: 'Unknown' } as never);
    expect(translateMongoError(selection)).toBeInstanceOf(StoreUnavailableError);
  });

  it('turns a duplicate key into DuplicateKeyError', () => {
    expect(translateMongoError(serverError(11000))).toBeInstanceOf(DuplicateKeyError);
  });

  it('passes on an error no retry can fix (a bug: 500)', () => {
    const invalid = serverError(121); // DocumentValidationFailure
    expect(translateMongoError(invalid)).toBe(invalid);
  });
});
