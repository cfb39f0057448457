/**
 * `make lineage ID=<event id>`: the path of one event through a running `make dev` (the console's
 * `GET /v1/lineage/<id>`), printed as a tree — the same tree the console page draws. `ROOT=1` starts from the first
 * event of its flow (following `causationid` back). Exit codes: 0 printed, 1 unknown event, 64 usage, 69 no make dev.
 */
import { parseArgs } from 'node:util';
import { readDevEndpoints } from '../../../../functions/runtime/src/index.ts';
import { type LineageNode, renderLineage } from './lineage.ts';

export class LineageCliError extends Error {
  readonly exitCode: number;
  constructor(message: string, exitCode: number) {
    super(message);
    this.name = 'LineageCliError';
    this.exitCode = exitCode;
  }
}

/** Fetches and renders the path of `id` from the console at `url` (with its token). */
export async function fetchLineage(
  console: { readonly url: string; readonly token: string },
  id: string,
  fromRoot = false,
): Promise<string> {
  const res = await fetch(`${console.url}/v1/lineage/${encodeURIComponent(id)}${fromRoot ? '?root=1' : ''}`, {
    headers: { authorization: `Bearer ${console.token}` },
  });
  if (res.status === 404)
    throw new LineageCliError(
      `make dev has no record of event ${id} (it keeps the last records only: GET /v1/stats)`,
      1,
    );
  if (!res.ok) throw new LineageCliError(`the console answered ${res.status}: ${await res.text()}`, 1);
  const { root } = (await res.json()) as { root: LineageNode };
  return renderLineage(root);
}

async function cli(): Promise<void> {
  const { values } = parseArgs({ options: { id: { type: 'string' }, root: { type: 'boolean' } } });
  if (values.id === undefined || values.id === '')
    throw new LineageCliError('usage: make lineage ID=<event id> [ROOT=1]', 64);
  const dev = readDevEndpoints();
  if (dev?.trailUrl === undefined || dev.trailToken === undefined)
    throw new LineageCliError('no make dev is running (.tmp/dev/endpoints.json): start it with make dev', 69);
  process.stdout.write(
    await fetchLineage({ url: dev.trailUrl, token: dev.trailToken }, values.id, values.root),
  );
}

if (import.meta.main) {
  try {
    await cli();
  } catch (err) {
    process.stderr.write(`lineage: ${(err as Error).message}\n`);
    process.exit(err instanceof LineageCliError ? err.exitCode : 1);
  }
}
