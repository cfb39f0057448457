/**
 * The gateway's problems against the runtime's GATEWAY_PROBLEM_TYPES, which the documents of the APIs behind the
 * gateway read (functions/quotes/lib/openapi.ts): what sendProblem writes is the shared vocabulary's, every reason
 * the gateway's code answers with has an entry and every entry is answered, and each entry's route kind (`on`) is
 * where the code answers it. The answers themselves, through a real gateway: handler.int.test.ts, publish.int.test.ts.
 */
import { readFileSync } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  GATEWAY_PROBLEM_TYPES,
  type GatewayProblem,
  PROBLEM_CONTENT_TYPE,
  PROBLEM_TYPE_BASE,
} from '../../runtime/src/index.ts';
import { sendProblem } from './problem.ts';

const REASONS = Object.keys(GATEWAY_PROBLEM_TYPES) as GatewayProblem[];

/** Just the parts of ServerResponse sendProblem uses, recording what it was told. */
function recordingResponse(started = false) {
  const sent = {
    status: 0,
    headers: {} as Record<string, string | number>,
    body: undefined as string | undefined,
    destroyed: false,
  };
  const res = {
    headersSent: started,
    destroyed: false,
    writeHead(status: number, headers: Record<string, string | number>) {
      sent.status = status;
      sent.headers = headers;
    },
    end(body: string) {
      sent.body = body;
    },
    destroy() {
      sent.destroyed = true;
    },
  };
  return { res: res as unknown as ServerResponse, sent };
}

describe('sendProblem', () => {
  it.each(REASONS)('answers %s with the shared vocabulary’s type, title and status', (reason) => {
    const { status, title, slug } = GATEWAY_PROBLEM_TYPES[reason];
    const { res, sent } = recordingResponse();

    expect(sendProblem(res, reason, 'why', { requestId: 'r-1', path: '/p' })).toBe(status);
    expect(sent.status).toBe(status);
    expect(JSON.parse(sent.body ?? '')).toEqual({
      type: `${PROBLEM_TYPE_BASE}${slug}`,
      title,
      status,
      detail: 'why',
      instance: '/p',
      'request-id': 'r-1',
    });
  });

  it('writes the body and headers byte for byte: the route last, the caller’s headers under the content ones', () => {
    const { res, sent } = recordingResponse();

    sendProblem(res, 'rateLimited', 'retry in 3 s', {
      requestId: 'r-2',
      path: '/quotes',
      route: '/quotes',
      headers: { 'retry-after': '3', 'content-type': 'text/plain' },
    });

    const body =
      '{"type":"https://sluice.dev/problems/rate-limited","title":"Too Many Requests","status":429,' +
      '"detail":"retry in 3 s","instance":"/quotes","request-id":"r-2","route":"/quotes"}';
    expect(sent.body).toBe(body);
    expect(sent.headers).toEqual({
      'retry-after': '3',
      'content-type': PROBLEM_CONTENT_TYPE,
      'content-length': Buffer.byteLength(body),
    });
  });

  it('closes a response that has already started instead of writing, and still returns the status', () => {
    const { res, sent } = recordingResponse(true);

    expect(sendProblem(res, 'upstreamFailed', 'cut', { requestId: 'r-3', path: '/p' })).toBe(502);
    expect(sent).toMatchObject({ destroyed: true, status: 0, body: undefined });
  });
});

describe('the gateway’s problem vocabulary (GATEWAY_PROBLEM_TYPES)', () => {
  /** The reasons each file of the gateway passes to `problem(…)` / `x.problem(…)` (a ternary's both arms too). */
  const answeredIn = (file: string): Set<string> => {
    const source = readFileSync(join(import.meta.dirname, file), 'utf8');
    const reasons = new Set<string>();
    for (const call of source.matchAll(/\bproblem\(\s*([^,]+),/g))
      for (const literal of (call[1] ?? '').matchAll(/'([A-Za-z]+)'/g)) reasons.add(literal[1] ?? '');
    return reasons;
  };
  const flow = answeredIn('gateway.ts');
  const proxied = answeredIn('proxy.ts');
  const published = answeredIn('publish.ts');

  it('names each type after its reason in kebab case, once, as the Problem schema’s pattern allows', () => {
    const slugs = REASONS.map((reason) => GATEWAY_PROBLEM_TYPES[reason].slug);

    for (const reason of REASONS)
      expect(GATEWAY_PROBLEM_TYPES[reason].slug).toBe(reason.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`));
    expect(new Set(slugs).size).toBe(slugs.length);
    for (const slug of slugs) expect(slug).toMatch(/^[a-z]+(-[a-z]+)*$/);
  });

  it('has an entry for every reason the gateway answers with, and answers every entry', () => {
    const answered = new Set([...flow, ...proxied, ...published]);

    expect([...answered].sort()).toEqual([...REASONS].sort());
  });

  it('says on which routes each reason comes, as the code answers it', () => {
    for (const reason of REASONS) {
      const { on } = GATEWAY_PROBLEM_TYPES[reason];
      const where = {
        reason,
        flow: flow.has(reason),
        proxy: proxied.has(reason),
        publish: published.has(reason),
      };
      if (on === 'any') expect(where.flow || (where.proxy && where.publish), reason).toBe(true);
      if (on === 'proxy') expect(where, reason).toMatchObject({ publish: false });
      if (on === 'publish') expect(where, reason).toMatchObject({ flow: false, proxy: false, publish: true });
    }
  });
});
