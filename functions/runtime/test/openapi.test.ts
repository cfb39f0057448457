import { describe, expect, it } from 'vitest';
import { answerProblems, openApiProblems } from './openapi.ts';

/** A small valid document: one path with a parameter, a component, a shared problem response. */
const doc = () => ({
  openapi: '3.1.0',
  info: { title: 'items', version: '1.0.0' },
  paths: {
    '/items/{id}': {
      get: {
        parameters: [{ name: 'id', in: 'path', required: true, schema: { type: 'string', pattern: '^i-' } }],
        responses: {
          '200': {
            description: 'The item',
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Item' } } },
          },
          '404': { $ref: '#/components/responses/Problem' },
        },
      },
    },
    '/items/count': {
      get: {
        responses: {
          '200': {
            description: 'How many',
            content: { 'application/json': { schema: { type: 'integer', minimum: 0 } } },
          },
        },
      },
    },
  },
  components: {
    schemas: {
      Item: {
        type: 'object',
        additionalProperties: false,
        required: ['id', 'at'],
        properties: { id: { type: 'string' }, at: { type: 'string', format: 'date-time' } },
      },
    },
    responses: {
      Problem: {
        description: 'RFC 9457 problem details',
        content: {
          'application/problem+json': {
            schema: { type: 'object', required: ['status'], properties: { status: { type: 'integer' } } },
          },
        },
      },
    },
  },
});

describe('openApiProblems', () => {
  it('passes a valid OpenAPI 3.1 document', () => {
    expect(openApiProblems(doc())).toEqual([]);
  });

  it('names what breaks the OpenAPI 3.1 schema: a missing info, a parameter without `in`, a response without description', () => {
    const { info: _, ...noInfo } = doc();
    expect(openApiProblems(noInfo).join()).toContain("must have required property 'info'");
    const noIn = doc();
    noIn.paths['/items/{id}'].get.parameters = [
      { name: 'id', required: true, schema: { type: 'string' } } as never,
    ];
    expect(openApiProblems(noIn).join()).toContain("must have required property 'in'");
    const noDescription = doc();
    delete (noDescription.paths['/items/count'].get.responses['200'] as { description?: string }).description;
    expect(openApiProblems(noDescription).join()).toContain("must have required property 'description'");
    expect(openApiProblems({ ...doc(), openapi: '3.0.3' }).join()).toContain('/openapi');
  });

  it('names a $ref to nothing and a schema that is not JSON Schema 2020-12', () => {
    const dangling = doc();
    dangling.paths['/items/{id}'].get.responses['404'] = { $ref: '#/components/responses/Gone' };
    expect(openApiProblems(dangling)).toEqual([
      '#/paths/~1items~1{id}/get/responses/404: $ref #/components/responses/Gone resolves to nothing',
    ]);
    const typo = doc();
    (typo.components.schemas.Item as Record<string, unknown>).requird = ['id'];
    expect(openApiProblems(typo).join()).toContain('unknown keyword: "requird"');
  });
});

describe('answerProblems', () => {
  const ok = { id: 'i-1', at: '2026-11-30T12:00:00Z' };

  it('passes an answer as documented, through a $ref and a shared response', () => {
    expect(
      answerProblems(doc(), {
        method: 'GET',
        path: '/items/i-1',
        status: 200,
        contentType: 'application/json; charset=utf-8',
        body: ok,
      }),
    ).toEqual([]);
    expect(
      answerProblems(doc(), {
        method: 'GET',
        path: '/items/i-2',
        status: 404,
        contentType: 'application/problem+json',
        body: { status: 404 },
      }),
    ).toEqual([]);
    // A literal segment is the better match than a parameter.
    expect(
      answerProblems(doc(), {
        method: 'GET',
        path: '/items/count',
        status: 200,
        contentType: 'application/json',
        body: 3,
      }),
    ).toEqual([]);
    expect(answerProblems(doc(), { method: 'HEAD', path: '/items/count', status: 200 })).toEqual([
      'HEAD /items/count → 200: /items/count documents no HEAD',
    ]);
  });

  it('names how an answer differs from the document', () => {
    const answer = (over: object) => ({
      method: 'GET',
      path: '/items/i-1',
      status: 200,
      contentType: 'application/json',
      body: ok,
      ...over,
    });
    expect(answerProblems(doc(), answer({ body: { ...ok, extra: 1 } })).join()).toContain(
      'must NOT have additional properties',
    );
    expect(answerProblems(doc(), answer({ body: { ...ok, at: 'yesterday' } })).join()).toContain(
      'must match format "date-time"',
    );
    expect(answerProblems(doc(), answer({ status: 500 }))).toEqual([
      'GET /items/i-1 → 500: GET /items/{id} documents no 500',
    ]);
    expect(answerProblems(doc(), answer({ contentType: 'text/html' }))).toEqual([
      'GET /items/i-1 → 200: answered text/html, documented application/json',
    ]);
    expect(answerProblems(doc(), answer({ path: '/things' }))).toEqual([
      'GET /things → 200: no documented path matches',
    ]);
  });
});
