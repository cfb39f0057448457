/**
 * `make triggers`, `make trigger-pause TRIGGER=<name>`, `make trigger-resume TRIGGER=<name>` on the running
 * `make dev`, through its console's API (console/console-server.ts: `GET /v1/triggers`, `POST
 * /v1/triggers/<name>/pause|resume`): a Trigger's delivery stopped with its events kept in its queue, and started
 * again; each Trigger's state and queue depth. The URL and token come from the owner-only endpoints file; the token is
 * never printed. On a cluster the same is `kubectl scale deployment/<trigger>-dispatcher --replicas=0|1`.
 *
 *   node platform/local/src/triggers-cli.ts list | pause <trigger> | resume <trigger>
 */
import { endpointsFilePath, readDevEndpoints } from '../../../functions/runtime/src/index.ts';
import type { TriggerView } from './console/records.ts';

const [command, name, ...rest] = process.argv.slice(2);
if (
  rest.length > 0 ||
  (command === 'list' ? name !== undefined : !(command === 'pause' || command === 'resume') || !name)
) {
  process.stderr.write('usage: triggers-cli.ts list | pause <trigger> | resume <trigger>\n');
  process.exit(64);
}
const endpoints = readDevEndpoints(endpointsFilePath());
if (endpoints?.trailUrl === undefined || endpoints.trailToken === undefined) {
  process.stderr.write('no make dev runs here (start `make dev`)\n');
  process.exit(69);
}
const { trailUrl: url, trailToken: token } = endpoints;
const call = async <T>(method: 'GET' | 'POST', path: string): Promise<T> => {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}` },
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as T & { detail?: string };
  if (!res.ok) throw new Error(`${res.status} ${body.detail ?? ''}`.trim());
  return body;
};
try {
  if (command !== 'list') await call('POST', `/v1/triggers/${encodeURIComponent(name as string)}/${command}`);
  const { triggers } = await call<{ triggers: TriggerView[] }>('GET', '/v1/triggers');
  for (const t of triggers.filter((x) => command === 'list' || x.name === name))
    process.stdout.write(
      `${t.name.padEnd(32)} ${t.paused === true ? 'paused ' : 'active '} replicas ${t.replicas ?? '?'}  queue ${String(t.depth ?? '?').padStart(6)}  → ${t.subscriber}\n`,
    );
} catch (err) {
  process.stderr.write(`make trigger-${command}: ${(err as Error).message}\n`);
  process.exit(1);
}
