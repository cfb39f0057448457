/**
 * Replies: a function's 2xx answer that carries a CloudEvent goes back into the broker and is routed by the
 * Triggers like any event. A Trigger whose subscriber replies with an event its own filter matches feeds the
 * function its own output forever. One check, used by the local broker at start (it refuses to start) and by
 * the deploy rules (`make check-manifests`).
 *
 * What a reply is known to carry: its type (a function declares what it `emits`; else the types of its
 * schemas/*.json it does not accept) and its source, `/sluice/functions/<name>` (CE_SOURCE overrides it, and this
 * check does not read it: a best-effort guard). A filter on any other attribute cannot be shown to match a
 * reply, so such a Trigger is not reported.
 */
import { describeFunction, findFunction } from '../../functions/runtime/src/index.ts';
import type { Trigger } from './trigger.ts';

export const REPLY_SOURCE_PREFIX = '/sluice/functions/';

export interface ReplyLoop {
  readonly trigger: Trigger;
  /** The Knative Service the Trigger delivers to. */
  readonly subscriber: string;
  readonly replyType: string;
}

/** The types a Knative Service replies with; undefined when it is not a function of this repository. */
export type ReplyTypes = (service: string) => readonly string[] | undefined;

/** Every Trigger → subscriber → reply type that the Trigger's own filter would match again. */
export function findReplyLoops(triggers: readonly Trigger[], replyTypesOf: ReplyTypes): ReplyLoop[] {
  const loops: ReplyLoop[] = [];
  for (const trigger of triggers) {
    const ref = trigger.subscriber.ref;
    if (ref === undefined || ref.kind !== 'Service') continue;
    const source = `${REPLY_SOURCE_PREFIX}${ref.name}`;
    for (const replyType of replyTypesOf(ref.name) ?? []) {
      const matches = Object.entries(trigger.filter).every(([name, value]) =>
        name === 'type' ? value === replyType : name === 'source' ? value === source : false,
      );
      if (matches) loops.push({ trigger, subscriber: ref.name, replyType });
    }
  }
  return loops;
}

/** `<file>: Trigger <name> delivers to <service>, which replies with <type>; the trigger's filter … matches that reply` */
export function describeReplyLoop(loop: ReplyLoop): string {
  const t = loop.trigger;
  return `${t.file}: Trigger ${t.name} delivers to ${loop.subscriber}, which replies with ${loop.replyType}; the trigger's filter ${JSON.stringify(t.filter)} matches that reply`;
}

/**
 * The reply types of the given Knative Services, read from their folders under `functionsDir`
 * (`functions/<system>/<name>/`, through the runtime's loader).
 */
export async function replyTypesFromFolders(
  functionsDir: string,
  services: Iterable<string>,
): Promise<ReadonlyMap<string, readonly string[]>> {
  const found = new Map<string, readonly string[]>();
  for (const name of new Set(services)) {
    const folder = findFunction(functionsDir, name);
    const described = folder === undefined ? undefined : await describeFunction(folder.dir);
    if (described !== undefined) found.set(name, described.emits);
  }
  return found;
}
