/**
 * Replies: a function's 2xx answer that carries a CloudEvent is published back into the broker and
 * routed by the triggers like any event. A trigger whose subscriber replies with an event its own
 * filter matches would feed the function its own output forever, so such wiring is refused at start-up.
 *
 * What a function replies with: `emits` from its handler.ts, else the types of schemas/*.json that it
 * does not accept (the runtime requires a schema per emitted type). Replies carry the runtime's source
 * `/sluice/functions/<name>` (CE_SOURCE overrides it; set that in the manifest env and this check reads it
 * from nowhere, so it is a best-effort guard, like the deploy-time rule in platform/k3s/validate).
 */
import { describeFunction, findFunction } from '../../functions/runtime/src/index.ts';
import type { TriggerManifest } from './manifests.ts';

export class ReplyLoopError extends Error {
  override name = 'ReplyLoopError';
  readonly loops: readonly string[];
  constructor(loops: readonly string[]) {
    super(`reply loops in the trigger wiring (refused):\n${loops.map((l) => `  - ${l}`).join('\n')}`);
    this.loops = loops;
  }
}

export type ReplyTypesOf = (serviceName: string) => Promise<readonly string[] | undefined>;

/** Every trigger → subscriber → reply type that its own filter would match again. */
export async function findReplyLoops(
  triggers: readonly TriggerManifest[],
  replyTypesOf: ReplyTypesOf,
): Promise<string[]> {
  const loops: string[] = [];
  for (const t of triggers) {
    const ref = t.subscriber.ref;
    if (ref === undefined || ref.kind !== 'Service') continue;
    const types = await replyTypesOf(ref.name);
    if (types === undefined) continue;
    const source = `/sluice/functions/${ref.name}`;
    for (const type of types) {
      // A reply carries type and source; any other filter attribute it cannot be shown to carry.
      const matches = Object.entries(t.filter).every(([name, value]) =>
        name === 'type' ? value === type : name === 'source' ? value === source : false,
      );
      if (matches) {
        loops.push(
          `${t.file}: Trigger ${t.name} delivers to ${ref.name}, which replies with ${type}; the trigger's filter ${JSON.stringify(t.filter)} matches that reply`,
        );
      }
    }
  }
  return loops;
}

/** Reply types from the function folders under `functions/` (`functions/<system>/<name>/`). */
export function replyTypesFromFolders(functionsDir: string): ReplyTypesOf {
  return async (name) => {
    const folder = findFunction(functionsDir, name);
    return folder === undefined ? undefined : (await describeFunction(folder.dir))?.emits;
  };
}
