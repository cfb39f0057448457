/**
 * accounts-api's OpenAPI 3.1 document, served at /api/accounts/openapi.json. Written by hand beside the routes
 * (handler.ts); every field an event carries into the view (ids, amounts, currency, balances, versions, the
 * rejection reason) is that field's schema in the event's own JSON Schema (schemas/*.json, imported here, as
 * the runtime validates the events with), so the view cannot be documented wider than what comes in. HEAD is
 * documented beside each GET (express answers it with the GET route, without the body), the document's own route
 * too. The handler's tests check every answer they read against it, that every route of the router is in it (HEAD
 * included) and that every status it documents is answered.
 */
import {
  FAILURE_REFS,
  failureResponses,
  type GetOperation,
  headOf,
  OPENAPI_DOCUMENT_OPERATION,
  type OpenApiObject,
  problemResponse,
  problemSchemas,
} from '../../runtime/src/index.ts';
import opened from './schemas/dev.sluice.banking.account.opened.v1.json' with { type: 'json' };
import processed from './schemas/dev.sluice.banking.transaction.processed.v1.json' with { type: 'json' };
import rejected from './schemas/dev.sluice.banking.transaction.rejected.v1.json' with { type: 'json' };

/** Page bounds of GET /accounts and GET /transactions, shared with the handler. */
export const DEFAULT_PAGE = 100;
export const MAX_PAGE = 1000;
/** `?after` is an id: longer is refused before it reaches a query. */
export const MAX_AFTER_LENGTH = 200;
/** How many of an account's latest transactions GET /accounts/{id} shows. */
export const RECENT_TRANSACTIONS = 20;

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ref = (name: string) => ({ $ref: `#/components/schemas/${name}` });
const response = (name: string) => ({ $ref: `#/components/responses/${name}` });
const nullable = (schema: Record<string, unknown>, type: string) => ({ ...schema, type: [type, 'null'] });

const page = (item: string, key: string, next: Record<string, unknown>) => ({
  type: 'object',
  additionalProperties: false,
  required: [key, 'next'],
  properties: {
    [key]: { type: 'array', maxItems: MAX_PAGE, items: ref(item) },
    next: {
      ...next,
      description: 'Pass as `after` to get the next page; null on the last page',
    },
  },
});

const PAGE_PARAMETERS = [
  {
    name: 'limit',
    in: 'query',
    required: false,
    description: `Page size, 1 to ${MAX_PAGE}, in decimal digits (given once)`,
    schema: { type: 'integer', minimum: 1, maximum: MAX_PAGE, default: DEFAULT_PAGE },
  },
  {
    name: 'after',
    in: 'query',
    required: false,
    description: 'The `next` value of the previous page (given once)',
    schema: { type: 'string', maxLength: MAX_AFTER_LENGTH },
  },
];

/** An account as both the list and the detail show it; `currency` and `openingBalance` null until it is opened. */
const accountProperties = {
  id: opened.properties.accountId,
  currency: nullable(opened.properties.currency, 'string'),
  balance: {
    ...processed.properties.fromBalance,
    description:
      'Its highest recorded version’s balance; the opening balance before any (integer minor units)',
  },
  openingBalance: nullable(opened.properties.openingBalance, 'integer'),
  version: {
    ...processed.properties.fromVersion,
    description: 'The account version the balance is at; 0 is the opening',
  },
};
const ACCOUNT_FIELDS = ['id', 'currency', 'balance', 'openingBalance', 'version'];

/** Every response an operation refers to, by component name. */
const RESPONSES: Readonly<Record<string, OpenApiObject>> = {
  BadRequest: problemResponse(
    400,
    'A malformed account id, or a query parameter not as documented (`invalid-params` names each), or a path ' +
      'that is not valid percent-encoding',
  ),
  NotFound: problemResponse(404, 'No account opened under this id'),
  ...failureResponses(),
};

/** What any route that reads the store answers when that fails (the runtime's route fallbacks). */
const FAILURES = FAILURE_REFS;

const listAccounts: GetOperation = {
  operationId: 'listAccounts',
  summary: 'Every account with its balance, by id',
  parameters: PAGE_PARAMETERS,
  responses: {
    '200': {
      description: 'A page of accounts',
      content: { 'application/json': { schema: ref('AccountPage') } },
    },
    '400': response('BadRequest'),
    ...FAILURES,
  },
};

const getAccount: GetOperation = {
  operationId: 'getAccount',
  summary: 'One account: balance, currency and its most recent transactions, newest first',
  parameters: [{ name: 'id', in: 'path', required: true, schema: opened.properties.accountId }],
  responses: {
    '200': {
      description: 'The account',
      content: { 'application/json': { schema: ref('AccountDetail') } },
    },
    '400': response('BadRequest'),
    '404': response('NotFound'),
    ...FAILURES,
  },
};

const listTransactions: GetOperation = {
  operationId: 'listTransactions',
  summary: 'Every transfer’s outcome, processed or rejected, one per submission, by submission id',
  parameters: PAGE_PARAMETERS,
  responses: {
    '200': {
      description: 'A page of outcomes',
      content: { 'application/json': { schema: ref('TransactionPage') } },
    },
    '400': response('BadRequest'),
    ...FAILURES,
  },
};

/** GET of the document itself: served from memory, it reads no store. */
const getDocument: GetOperation = OPENAPI_DOCUMENT_OPERATION;

export function openApiDocument(): Record<string, Json> {
  const doc = {
    openapi: '3.1.0',
    info: {
      title: 'sluice banking accounts',
      version: '1.0.0',
      description:
        'The banking pipeline’s read side (docs/banking.md): accounts with their balances and latest transactions, ' +
        'and every transfer’s outcome, one per submission. Built by accounts-api from the pipeline’s events, so it ' +
        'follows the processor by the time those take. Amounts are integer minor units (cents). HEAD answers as GET, ' +
        'without the body. Errors are RFC 9457 problem details.',
    },
    servers: [{ url: '/api' }],
    paths: {
      '/accounts': { get: listAccounts, head: headOf(listAccounts, RESPONSES) },
      // Before /accounts/{id} for readers; a literal segment wins over a parameter either way.
      '/accounts/openapi.json': { get: getDocument, head: headOf(getDocument, RESPONSES) },
      '/accounts/{id}': { get: getAccount, head: headOf(getAccount, RESPONSES) },
      '/transactions': { get: listTransactions, head: headOf(listTransactions, RESPONSES) },
    },
    components: {
      schemas: {
        Account: {
          type: 'object',
          additionalProperties: false,
          required: ACCOUNT_FIELDS,
          properties: accountProperties,
        },
        AccountDetail: {
          type: 'object',
          additionalProperties: false,
          required: [...ACCOUNT_FIELDS, 'recentTransactions'],
          properties: {
            ...accountProperties,
            // An account not opened yet is a 404, so here it has its currency.
            currency: opened.properties.currency,
            recentTransactions: {
              type: 'array',
              maxItems: RECENT_TRANSACTIONS,
              items: ref('Transaction'),
              description: `Its latest ${RECENT_TRANSACTIONS} transactions, sent or received, newest first`,
            },
          },
        },
        Transaction: {
          type: 'object',
          description:
            'A transfer’s outcome: processed (applied) or rejected (nothing applied, with the reason)',
          additionalProperties: false,
          required: ['submissionId', 'transactionId', 'status', 'from', 'to', 'amount', 'currency', 'time'],
          properties: {
            submissionId: processed.properties.submissionId,
            transactionId: processed.properties.transactionId,
            status: { enum: ['processed', 'rejected'] },
            from: processed.properties.from,
            to: processed.properties.to,
            amount: processed.properties.amount,
            currency: processed.properties.currency,
            reason: rejected.properties.reason,
            time: { type: 'string', format: 'date-time', description: 'The outcome event’s time' },
          },
          // A rejection says why; a processed transfer has no reason. (`reason: true` beside `required`: strict
          // JSON Schema wants a required property named where it is required.)
          oneOf: [
            { properties: { status: { const: 'processed' }, reason: false } },
            { properties: { status: { const: 'rejected' }, reason: true }, required: ['reason'] },
          ],
        },
        AccountPage: page('Account', 'accounts', nullable(opened.properties.accountId, 'string')),
        TransactionPage: page(
          'Transaction',
          'transactions',
          nullable(processed.properties.submissionId, 'string'),
        ),
        ...problemSchemas(),
      },
      responses: RESPONSES,
    },
  };
  // A plain JSON copy: what is served, and nothing shared with the imported schemas.
  return JSON.parse(JSON.stringify(doc)) as Record<string, Json>;
}
