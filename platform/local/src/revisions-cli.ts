/**
 * `make update` / `make rollback` on the running `make dev` (revisions.ts, control-server.ts); on the cluster
 * they are platform/k3s/revisions.sh. The make targets ask `running` first to choose.
 *
 *   node platform/local/src/revisions-cli.ts running               exit 0 when a make dev of this checkout runs
 *   node platform/local/src/revisions-cli.ts list FN
 *   node platform/local/src/revisions-cli.ts update FN             the working tree as FN's next revision, routed
 *   node platform/local/src/revisions-cli.ts rollback FN [REV]     all traffic to REV, or the revision before
 *
 * DRY_RUN=1 prints the request instead of sending it. The control URL and token come from the running make
 * dev's endpoints file (owner-only); the token is never printed.
 */
import { endpointsFilePath, readDevEndpoints } from '../../../functions/runtime/src/index.ts';

export const EXIT = { ok: 0, usage: 64, unavailable: 69, failed: 1 } as const;

export interface ControlRequest {
  readonly method: 'GET' | 'POST' | 'PUT';
  readonly path: string;
  readonly body?: Record<string, string>;
}

const NAME = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;

/** The control API request for a command, or a usage message. */
export function requestFor(args: readonly string[]): ControlRequest | string {
  const [command, fn, revision, ...rest] = args;
  const usage = 'usage: revisions-cli.ts list|update|rollback FN [REVISION]';
  if (fn === undefined || !NAME.test(fn) || rest.length > 0) return usage;
  if (revision !== undefined && (command !== 'rollback' || !NAME.test(revision))) return usage;
  const base = `/v1/services/${fn}`;
  switch (command) {
    case 'list':
      return { method: 'GET', path: `${base}/revisions` };
    case 'update':
      return { method: 'POST', path: `${base}/revisions`, body: {} };
    case 'rollback':
      return { method: 'PUT', path: `${base}/traffic`, body: revision === undefined ? {} : { revision } };
    default:
      return usage;
  }
}

interface Answer {
  readonly service?: string;
  readonly routed?: string;
  readonly previous?: string;
  readonly revisions?: readonly { name: string; createdAt: string; routed: boolean }[];
  readonly detail?: string;
}

/** One line per outcome, for people. */
export function describeAnswer(command: string, status: number, answer: Answer): string {
  if (status >= 400) return `make ${command}: ${answer.detail ?? `the platform answered ${status}`}`;
  if (answer.revisions !== undefined)
    return answer.revisions
      .map((r) => `${r.routed ? '*' : ' '} ${r.name}  ${r.createdAt}${r.routed ? '  (100 %)' : ''}`)
      .join('\n');
  const verb = command === 'update' ? 'new revision' : 'traffic back to';
  return `${answer.service}: ${verb} ${answer.routed} (100 %); ${answer.previous} kept`;
}

async function main(args: readonly string[], env: NodeJS.ProcessEnv): Promise<number> {
  const endpoints = readDevEndpoints(endpointsFilePath(env));
  if (args[0] === 'running') return endpoints?.controlUrl === undefined ? EXIT.unavailable : EXIT.ok;
  const request = requestFor(args);
  if (typeof request === 'string') {
    process.stderr.write(`${request}\n`);
    return EXIT.usage;
  }
  // What the person typed: make update / make rollback / make revisions (the list).
  const command = args[0] === 'list' ? 'revisions' : (args[0] as string);
  if (endpoints?.controlUrl === undefined || endpoints.controlToken === undefined) {
    process.stderr.write(`make ${command}: no make dev is running here (${endpointsFilePath(env)})\n`);
    return EXIT.unavailable;
  }
  const url = `${endpoints.controlUrl}${request.path}`;
  process.stderr.write(`make ${command}: the local platform (make dev, pid ${endpoints.pid})\n`);
  if (env.DRY_RUN === '1') {
    const body = request.body === undefined ? '' : ` ${JSON.stringify(request.body)}`;
    process.stdout.write(`+ ${request.method} ${url}${body}\n`);
    return EXIT.ok;
  }
  const res = await fetch(url, {
    method: request.method,
    headers: {
      authorization: `Bearer ${endpoints.controlToken}`,
      ...(request.body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    ...(request.body === undefined ? {} : { body: JSON.stringify(request.body) }),
  });
  const answer = (await res.json().catch(() => ({}))) as Answer;
  process.stdout.write(`${describeAnswer(command, res.status, answer)}\n`);
  return res.ok ? EXIT.ok : EXIT.failed;
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2), process.env);
