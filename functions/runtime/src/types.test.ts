/**
 * Type tests of the function contract (types.ts), compiled by `tsc` in `make test`: each `@ts-expect-error`
 * must meet an error, so a contract that stopped rejecting it fails the build.
 */
import { describe, expect, expectTypeOf, it } from 'vitest';
import type { CloudEvent, EventOf, Handler, ReplyEvent, ReplyOf, SluiceFunction } from './types.ts';

/** As a function's events.gen.ts declares it. */
interface Events {
  'dev.sluice.test.opened.v1': { accountId: string; balance: number };
  'dev.sluice.test.closed.v1': { accountId: string; reason?: 'fraud' | 'request' };
  'dev.sluice.test.reported.v1': { accountId: string; lines: number };
}
type Accepted = 'dev.sluice.test.opened.v1' | 'dev.sluice.test.closed.v1';
type Emitted = 'dev.sluice.test.reported.v1';

describe('the function contract (types.ts)', () => {
  describe('Handler', () => {
    it('is the untyped handler without type arguments: any event, any reply', () => {
      expectTypeOf<Handler>().parameter(0).toEqualTypeOf<CloudEvent<unknown, string>>();
      expectTypeOf<ReturnType<Handler>>().toEqualTypeOf<
        Promise<ReplyEvent<unknown, string> | undefined> | ReplyEvent<unknown, string> | undefined
      >();
      expectTypeOf<SluiceFunction['accepts']>().toEqualTypeOf<readonly string[]>();
    });

    it('narrows event.data by event.type over the accepted types', () => {
      const handle: Handler<Events, Accepted, Emitted> = (event) => {
        expectTypeOf(event.type).toEqualTypeOf<Accepted>();
        if (event.type === 'dev.sluice.test.opened.v1') {
          expectTypeOf(event.data).toEqualTypeOf<Events['dev.sluice.test.opened.v1']>();
          return { type: 'dev.sluice.test.reported.v1', data: { accountId: event.data.accountId, lines: 1 } };
        }
        expectTypeOf(event.data.reason).toEqualTypeOf<'fraud' | 'request' | undefined>();
        // @ts-expect-error -- `balance` is a field of opened, not of closed
        return event.data.balance;
      };
      expect(handle).toBeTypeOf('function');
    });

    it('refuses a reply of a type not emitted, or with data that does not match its type', () => {
      const notEmitted: Handler<Events, Accepted, Emitted> = (event) =>
        // @ts-expect-error -- closed is accepted, not emitted
        ({ type: 'dev.sluice.test.closed.v1', data: { accountId: event.data.accountId } });
      const wrongData: Handler<Events, Accepted, Emitted> = (event) =>
        // @ts-expect-error -- `lines` is missing
        ({ type: 'dev.sluice.test.reported.v1', data: { accountId: event.data.accountId } });
      const repliesNothing: Handler<Events, Accepted, never> = (event) =>
        // @ts-expect-error -- no emitted type: the handler replies nothing
        ({ type: 'dev.sluice.test.reported.v1', data: { accountId: event.data.accountId, lines: 1 } });
      // Not caught: a field the reply's type does not have, in an object literal returned from the arrow (tsc
      // 7 checks no excess properties there); the runtime refuses such a reply (500, InvalidReplyError) and
      // every function's unit test checks its replies against the schema. Annotating the data catches it:
      const data: Events['dev.sluice.test.reported.v1'] = {
        accountId: 'a',
        lines: 2,
        // @ts-expect-error -- `total` is not a field of reported
        total: 3,
      };
      expect([notEmitted, wrongData, repliesNothing, data]).toHaveLength(4);
    });

    it('types a typed function module with the same parameters', () => {
      expectTypeOf<SluiceFunction<Events, Accepted, Emitted>['accepts']>().toEqualTypeOf<
        readonly Accepted[]
      >();
      expectTypeOf<SluiceFunction<Events, Accepted, Emitted>['handle']>().toEqualTypeOf<
        Handler<Events, Accepted, Emitted>
      >();
      expectTypeOf<EventOf<Events, Accepted>>().toEqualTypeOf<
        | CloudEvent<Events['dev.sluice.test.opened.v1'], 'dev.sluice.test.opened.v1'>
        | CloudEvent<Events['dev.sluice.test.closed.v1'], 'dev.sluice.test.closed.v1'>
      >();
      expectTypeOf<ReplyOf<Events, never>>().toEqualTypeOf<never>();
    });
  });
});
