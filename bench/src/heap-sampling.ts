/**
 * Bytes allocated per request, by function: V8's sampling heap profiler over the inspector protocol
 * (`HeapProfiler.startSampling` with the objects the young and old collections freed kept in the profile),
 * read from a server started with `--inspect`. What `make bench-profile --alloc` prints: where the
 * garbage a request leaves comes from (docs/performance.md). Node's own `--heap-prof` keeps only what is
 * still alive at exit, which for a request path is almost nothing.
 */

interface SamplingNode {
  callFrame: { functionName: string; url: string; lineNumber: number };
  selfSize: number;
  children: SamplingNode[];
}

/** Builtins whose allocations mean little without their caller (a regex match, a join, a nextTick). */
const SHOW_CALLER = new Set(['exec', 'join', 'split', 'keys', 'nextTick', 'bind', '(V8 API)']);

export interface AllocationSummary {
  readonly bytesPerRequest: number;
  /** [function (and its caller for a builtin), bytes per request], largest first. */
  readonly top: ReadonlyArray<readonly [string, number]>;
}

/** Bytes per request by function from a sampling heap profile taken over `requests` requests. */
export function summariseAllocations(head: SamplingNode, requests: number, root = ''): AllocationSummary {
  const bytes = new Map<string, number>();
  let total = 0;
  const name = (f: SamplingNode['callFrame']): string => {
    const where = f.url.replace(/^file:\/\//, '').replace(root === '' ? /^$/ : `${root}/`, '');
    return `${f.functionName || '(anonymous)'}${where === '' ? '' : ` ${where}:${f.lineNumber + 1}`}`;
  };
  const walk = (node: SamplingNode, caller: string): void => {
    const own = name(node.callFrame);
    const key = SHOW_CALLER.has(node.callFrame.functionName) ? `${own} < ${caller}` : own;
    if (node.selfSize > 0) bytes.set(key, (bytes.get(key) ?? 0) + node.selfSize);
    total += node.selfSize;
    for (const child of node.children) walk(child, own);
  };
  walk(head, '(root)');
  return {
    bytesPerRequest: total / requests,
    top: [...bytes].sort((a, b) => b[1] - a[1]).map(([k, b]) => [k, b / requests] as const),
  };
}

/** A minimal inspector-protocol client on Node's global WebSocket: one call at a time is all this needs. */
async function connect(inspectPort: number): Promise<{
  call(method: string, params?: object): Promise<unknown>;
  close(): void;
}> {
  const targets = (await (await fetch(`http://127.0.0.1:${inspectPort}/json/list`)).json()) as {
    webSocketDebuggerUrl: string;
  }[];
  const url = targets[0]?.webSocketDebuggerUrl;
  if (url === undefined) throw new Error(`no inspector target on port ${inspectPort}`);
  const ws = new WebSocket(url);
  await new Promise((ok, fail) => {
    ws.addEventListener('open', ok, { once: true });
    ws.addEventListener('error', fail, { once: true });
  });
  let id = 0;
  const pending = new Map<number, { ok: (v: unknown) => void; fail: (e: Error) => void }>();
  ws.addEventListener('message', (e) => {
    const m = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = m.id === undefined ? undefined : pending.get(m.id);
    if (p === undefined || m.id === undefined) return;
    pending.delete(m.id);
    if (m.error !== undefined) p.fail(new Error(m.error.message));
    else p.ok(m.result);
  });
  return {
    call: (method, params = {}) =>
      new Promise((ok, fail) => {
        const callId = ++id;
        pending.set(callId, { ok, fail });
        ws.send(JSON.stringify({ id: callId, method, params }));
      }),
    close: () => ws.close(),
  };
}

/** Samples the allocations of the process behind `inspectPort` while `load` runs; `load` returns its requests. */
export async function sampleAllocations(
  inspectPort: number,
  load: () => Promise<number>,
  root = '',
): Promise<AllocationSummary> {
  const session = await connect(inspectPort);
  try {
    await session.call('HeapProfiler.enable');
    await session.call('HeapProfiler.startSampling', {
      samplingInterval: 1024,
      includeObjectsCollectedByMajorGC: true,
      includeObjectsCollectedByMinorGC: true,
    });
    const requests = await load();
    const { profile } = (await session.call('HeapProfiler.stopSampling')) as {
      profile: { head: SamplingNode };
    };
    return summariseAllocations(profile.head, requests, root);
  } finally {
    session.close();
  }
}
