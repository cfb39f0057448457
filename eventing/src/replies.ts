/**
 * The local broker refuses to start on a reply loop. The check itself is platform/manifests' `findReplyLoops`
 * (shared with the deploy rules); this is the broker's side: where reply types come from, and the error.
 */
import {
  describeReplyLoop,
  findReplyLoops,
  type ReplyLoop,
  replyTypesFromFolders,
  type Trigger,
} from '../../platform/manifests/index.ts';

export class ReplyLoopError extends Error {
  override name = 'ReplyLoopError';
  readonly loops: readonly string[];
  constructor(loops: readonly ReplyLoop[]) {
    const lines = loops.map(describeReplyLoop);
    super(`reply loops in the trigger wiring (refused):\n${lines.map((l) => `  - ${l}`).join('\n')}`);
    this.loops = lines;
  }
}

/** The types a Knative Service replies with; undefined when it is not known (tests pass their own). */
export type ReplyTypesOf = (serviceName: string) => Promise<readonly string[] | undefined>;

/** Throws ReplyLoopError when a trigger's subscriber replies with what the trigger's filter matches. */
export async function refuseReplyLoops(
  triggers: readonly Trigger[],
  replyTypesOf: ReplyTypesOf | { readonly functionsDir: string },
): Promise<void> {
  const subscribers = triggers.flatMap((t) =>
    t.subscriber.ref?.kind === 'Service' ? [t.subscriber.ref.name] : [],
  );
  let types: ReadonlyMap<string, readonly string[]>;
  if (typeof replyTypesOf === 'function') {
    const found = new Map<string, readonly string[]>();
    for (const name of new Set(subscribers)) {
      const t = await replyTypesOf(name);
      if (t !== undefined) found.set(name, t);
    }
    types = found;
  } else types = await replyTypesFromFolders(replyTypesOf.functionsDir, subscribers);
  const loops = findReplyLoops(triggers, (name) => types.get(name));
  if (loops.length > 0) throw new ReplyLoopError(loops);
}
