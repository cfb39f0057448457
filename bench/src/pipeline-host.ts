/**
 * The pipeline section of `make bench`: banking transfers end to end — ingress → transaction-processor
 * → its reply → the broker → transaction-journal and accounts-api — on real RabbitMQ, on one store:
 * MongoDB/FerretDB at `mongodbUrl`, or `make dev`'s in-memory dev store served by this process. Processes:
 * - this one (pinned to the load core by pipeline.ts): the poster, the reply observer (a queue of its own
 *   bound to the broker's exchange, read with amqplib: `observeEvents`), the dead-letter sink,
 *   and the dev store when there is no `mongodbUrl`;
 * - the broker (broker-child.ts, the project's banking Triggers) and the three functions from source,
 *   all pinned to the server core.
 * 100 accounts are opened, then `inFlight` loops each submit a transfer and wait until the observer sees
 * its reply before the next (a closed loop: the rate is the pipeline's, not the ingress's): first
 * `warmupTransfers` not counted, then until `transfers` replies came or `maxSeconds` passed. Then it waits
 * until the journal and accounts-api hold every transfer (the end of the pipeline), and checks: no dead
 * letter, no refused POST, one journal document and one accounts-api outcome per transfer, money conserved
 * in accounts-api's view. Each function's `sluice_store_calls_total` gives the store round trips per transfer.
 * Prints `BENCHJSON {"rate", "tenths", "flat", "calls", "rssMb", …}`.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { openSync } from 'node:fs';
import { Agent } from 'node:http';
import { join } from 'node:path';
import { type DocumentStore, openStore } from '../../functions/runtime/src/index.ts';
import { type DevStoreServer, startDevStoreServer } from '../../platform/local/src/dev-store-server.ts';
import { freePort } from '../../platform/test-servers/ports.ts';
import {
  type BrokerChild,
  closeServer,
  containerNodeArgs,
  countingSink,
  cpuSeconds,
  type Outgoing,
  observeEvents,
  post,
  rssMbOf,
  startBrokerChild,
  stopBrokerChild,
  stopProcess,
} from './bench-processes.ts';
import { BANKING, BENCH_DEAD_LETTER, PIPELINE_FUNCTIONS, type PipelineFunction } from './broker-bench.ts';
import {
  endProgress,
  handledCount,
  lastOverFirst,
  type PipelineArgs,
  parsePipelineArgs,
  storeCallsByCollection,
  tenthRates,
  tenthRatesFromProgress,
  Workload,
} from './pipeline-bench.ts';
import { ROOT } from './servers.ts';
import { percentile } from './stats.ts';

const ACCOUNTS = 100;
const OPENING = 1_000_000_000;
const account = (i: number): string => `bench-acc-${i % ACCOUNTS}`;
const JOURNAL = 'banking_journal';
const VIEW_TRANSACTIONS = 'accounts_view_transactions';
const ENTRIES = 'banking_entries';

interface RunningFunction {
  readonly name: PipelineFunction;
  readonly child: ChildProcess;
  readonly url: string;
}

async function startFunction(
  name: PipelineFunction,
  cpu: string,
  storeEnv: Record<string, string>,
): Promise<RunningFunction> {
  const port = await freePort();
  const {
    MONGODB_URL: _m,
    MONGODB_DB: _d,
    SLUICE_DEV_STORE_URL: _u,
    SLUICE_DEV_STORE_TOKEN: _t,
    ...env
  } = process.env;
  // The bundle, as the image runs it (pipeline.ts builds it): dist/functions/<name>/main.mjs.
  // BENCH_PROFILE_DIR=<dir>: each function writes a --cpu-prof there when it stops (docs/performance.md).
  const profile = process.env.BENCH_PROFILE_DIR;
  const flags =
    profile === undefined
      ? []
      : ['--cpu-prof', `--cpu-prof-dir=${profile}`, `--cpu-prof-name=${name}.cpuprofile`];
  // The heap the function's container gives it, as make dev does; BENCH_FUNCTION_NODE_FLAGS: node flags for the
  // functions only (a --max-old-space-size there replaces the container's; later flags win).
  const extra = process.env.BENCH_FUNCTION_NODE_FLAGS ?? '';
  flags.push(...(await containerNodeArgs(join(ROOT, 'functions/banking', name), extra)));
  flags.push(...extra.split(' ').filter((f) => f !== ''));
  const child = spawn(
    'taskset',
    ['-c', cpu, process.execPath, ...flags, join(ROOT, 'dist/functions', name, 'main.mjs')],
    {
      env: {
        ...env,
        ...storeEnv,
        PORT: String(port),
        HOST: '127.0.0.1',
        K_SERVICE: name,
        LOG_LEVEL: 'info',
      },
      // Log lines go to /dev/null like the function path (formatting cost kept); BENCH_FUNCTION_LOG=<dir> keeps them.
      stdio: [
        'ignore',
        process.env.BENCH_FUNCTION_LOG === undefined
          ? 'ignore'
          : openSync(join(process.env.BENCH_FUNCTION_LOG, `${name}.log`), 'w'),
        'inherit',
      ],
    },
  );
  const url = `http://127.0.0.1:${port}/`;
  const deadline = performance.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${name} exited with ${child.exitCode}`);
    const ok = await fetch(`${url}health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ok) return { name, child, url };
    if (performance.now() > deadline) throw new Error(`${name} not ready within 60 s`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** The result fields both workloads print: the tenths and their flatness, the costs, the checks and their verdict. */
function measured(
  tenths: readonly number[],
  costs: Awaited<ReturnType<typeof runCosts>>,
  checks: Record<string, boolean>,
) {
  return {
    tenths,
    flat: lastOverFirst(tenths),
    ...costs,
    checks,
    ok: Object.values(checks).every(Boolean),
  };
}

/**
 * Polls (every 250 ms) until the journal and accounts-api's view each hold `expected` documents, or the deadline;
 * their counts. Called once the transfers are known to be through (counters, replies): each count is a scan on FerretDB.
 */
async function untilStored(
  store: DocumentStore,
  expected: number,
  deadline: number,
): Promise<{ journaled: number; viewed: number }> {
  const counts = async () => ({
    journaled: await store.collection(JOURNAL).countDocuments({}),
    viewed: await store.collection(VIEW_TRANSACTIONS).countDocuments({}),
  });
  let now = await counts();
  while ((now.journaled < expected || now.viewed < expected) && performance.now() < deadline) {
    await sleep(250);
    now = await counts();
  }
  return now;
}

/**
 * Reads how many events each of `fns` has handled (`handledCount` of its /metrics) every `intervalMs` until
 * stopped: where the end of the pipeline is, without asking the store (a count is a scan on FerretDB).
 */
function sampleHandled(fns: readonly RunningFunction[], intervalMs: number) {
  const samples: { at: number; counts: number[] }[] = [];
  const read = async () => {
    const asked = performance.now();
    const counts = await Promise.all(
      fns.map((f) =>
        fetch(`${f.url}metrics`)
          .then((r) => r.text())
          .then(handledCount),
      ),
    ).catch(() => undefined); // a reading missed (a function gone: the run's checks say so), not the run
    if (counts !== undefined) samples.push({ at: (asked + performance.now()) / 2, counts });
  };
  let stopped = false;
  const loop = (async () => {
    while (!stopped) {
      await read();
      await sleep(intervalMs);
    }
  })();
  return {
    /**
     * Resolves once every function's latest reading is at least `expected`, or no reading moved for
     * `stallMs`, or at the deadline: the drain waits on the counters before it counts the store, whose counts
     * are scans on FerretDB that slow the writes still arriving. A gate only: the store's counts decide.
     */
    async reached(expected: number, deadline: number, stallMs = 5_000): Promise<void> {
      let seen = '';
      let moved = performance.now();
      while (performance.now() < deadline && performance.now() - moved < stallMs) {
        const counts = samples.at(-1)?.counts ?? [];
        if (counts.length > 0 && counts.every((n) => n >= expected)) return;
        const now = counts.join();
        if (now !== seen) {
          seen = now;
          moved = performance.now();
        }
        await sleep(intervalMs);
      }
    },
    /**
     * The readings, a last one taken an interval after the end (a function counts an event just after its
     * write, which the end of the pipeline was read from): `counts[i]` is `fns[i]`'s.
     */
    async stop() {
      stopped = true;
      await loop;
      await sleep(intervalMs);
      await read();
      return samples;
    },
  };
}

/** The CPU used so far by the broker, each function and this host: where a run's costs are counted from. */
function cpuMark(brokerPid: number | undefined, functions: readonly RunningFunction[]) {
  return {
    broker: cpuSeconds(brokerPid),
    fns: functions.map((f) => cpuSeconds(f.child.pid)),
    host: process.cpuUsage(),
  };
}

/**
 * What a run cost: each process's share of a core since `mark` over `elapsed` seconds, the RSS now, and the
 * store round trips of each function per transfer (`sluice_store_calls_total` from its /metrics).
 */
async function runCosts(
  mark: ReturnType<typeof cpuMark>,
  brokerPid: number | undefined,
  functions: readonly RunningFunction[],
  elapsed: number,
  transfers: number,
) {
  const share = (a: number | undefined, b: number | undefined): number | undefined =>
    a === undefined || b === undefined ? undefined : (b - a) / elapsed;
  const host = process.cpuUsage(mark.host);
  const cpu = {
    broker: share(mark.broker, cpuSeconds(brokerPid)),
    host: (host.user + host.system) / 1e6 / elapsed,
    ...Object.fromEntries(functions.map((f, i) => [f.name, share(mark.fns[i], cpuSeconds(f.child.pid))])),
  };
  const rssMb = {
    host: rssMbOf(process.pid),
    ...Object.fromEntries(functions.map((f) => [f.name, rssMbOf(f.child.pid)])),
  };
  const calls: Record<string, Record<string, number>> = {};
  for (const f of functions) {
    const text = await fetch(`${f.url}metrics`).then((r) => r.text());
    calls[f.name] = Object.fromEntries(
      Object.entries(storeCallsByCollection(text)).map(([c, n]) => [c, n / Math.max(1, transfers)]),
    );
  }
  return { cpu, rssMb, calls };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function run(args: PipelineArgs): Promise<void> {
  let devStore: DevStoreServer | undefined;
  let store: DocumentStore | undefined;
  let brokerChild: BrokerChild | undefined;
  const functions: RunningFunction[] = [];
  const agent = new Agent({ keepAlive: true, maxSockets: args.inFlight });
  // Transfer id → the poster waiting for its reply; the reply's subject is the transaction id.
  const waiting = new Map<string, (type: string) => void>();
  let rejected = 0;
  let repliesTotal = 0;
  /** When the observer saw each reply (the injected workload's completions: it waits for none). */
  const replyTimes: number[] = [];
  const onReply = (type: string, subject: string | undefined): void => {
    repliesTotal++;
    replyTimes.push(performance.now());
    if (type === BANKING.rejected) rejected++;
    if (subject !== undefined) {
      waiting.get(subject)?.(type);
      waiting.delete(subject);
    }
  };
  let replies: { close(): Promise<void> } | undefined;
  const deadLetter = await countingSink();
  try {
    let storeEnv: Record<string, string>;
    if (args.mongodbUrl === undefined) {
      devStore = await startDevStoreServer();
      store = devStore.store;
      storeEnv = { SLUICE_DEV_STORE_URL: devStore.url, SLUICE_DEV_STORE_TOKEN: devStore.token };
    } else {
      store = await openStore({ mongodbUrl: args.mongodbUrl, mongodbDb: args.db, memory: false });
      storeEnv = { MONGODB_URL: args.mongodbUrl, MONGODB_DB: args.db };
    }
    for (const name of PIPELINE_FUNCTIONS)
      functions.push(await startFunction(name, args.serverCpu, storeEnv));
    const urlOf = (name: PipelineFunction): string =>
      (functions.find((f) => f.name === name) as RunningFunction).url;
    brokerChild = await startBrokerChild(
      {
        url: args.url,
        manifests: { kind: 'pipeline', queueType: args.queueType },
        subscribers: {
          ...Object.fromEntries(PIPELINE_FUNCTIONS.map((n) => [n, urlOf(n)])),
          [BENCH_DEAD_LETTER]: deadLetter.url,
        },
      },
      args.serverCpu,
    );
    // The broker's exchange is the first of its topology (eventing/src/broker.ts planBroker).
    const exchange = brokerChild.names.exchanges[0] as string;
    replies = await observeEvents(args.url, exchange, [BANKING.processed, BANKING.rejected], onReply);
    const ingress = new URL(brokerChild.url);
    if (args.workload === Workload.inject) {
      await runInjected(args, {
        ingress,
        storeEnv,
        store: store as DocumentStore,
        functions,
        brokerPid: brokerChild.child.pid,
        replyTimes,
        deadLetters: deadLetter.count,
      });
      return;
    }
    const event = (type: string, id: string, data: object): Outgoing => ({
      headers: {
        'content-type': 'application/json',
        'ce-specversion': '1.0',
        'ce-source': '/bench/pipeline',
        'ce-type': type,
        'ce-id': id,
      },
      body: Buffer.from(JSON.stringify(data)),
    });
    let postFailures = 0;
    let sent = 0;
    /** Submits transfer `n` and resolves with its reply's type ('' when none came within 30 s). */
    const transfer = async (n: number): Promise<string> => {
      const id = `bench-tx-${process.pid}-${n}`;
      const reply = new Promise<string>((resolve) => {
        const timer = setTimeout(() => {
          waiting.delete(id);
          resolve('');
        }, 30_000);
        waiting.set(id, (type) => {
          clearTimeout(timer);
          resolve(type);
        });
      });
      // Neighbouring accounts: writes spread over every account; the amounts never overdraw.
      const submit = (): Promise<number> =>
        post(
          agent,
          ingress,
          event(BANKING.submitted, `submit-${id}`, {
            transactionId: id,
            from: account(n),
            to: account(n + 1),
            amount: 1,
            currency: 'EUR',
          }),
        );
      // A kept-alive socket the ingress closed as it was reused fails at once (status 0): send again, as
      // any client would; the same event id makes a repeat harmless (the functions' idempotency).
      let status = await submit();
      if (status === 0) status = await submit();
      if (status !== 202) {
        postFailures++;
        waiting.delete(id);
        return '';
      }
      sent++;
      return reply;
    };

    for (let i = 0; i < ACCOUNTS; i++) {
      const status = await post(
        agent,
        ingress,
        event(BANKING.accountOpened, `open-${process.pid}-${i}`, {
          accountId: account(i),
          currency: 'EUR',
          openingBalance: OPENING,
        }),
      );
      if (status !== 202) throw new Error(`account open answered ${status}`);
    }
    // Accounts are applied in order (parallelism 1): a transfer from the last one processed means all are open.
    const openDeadline = performance.now() + 60_000;
    for (let probe = 1; ; probe++) {
      if ((await transfer(ACCOUNTS - 1 + ACCOUNTS * probe * 1_000_000)) === BANKING.processed) break;
      if (performance.now() > openDeadline) throw new Error('accounts not open within 60 s');
      await sleep(200);
    }
    /** `inFlight` posters submit transfers `first`…`first + count − 1`, each the next once its reply came. */
    const closedLoop = async (first: number, count: number, maxSeconds: number) => {
      const started = performance.now();
      const completions: number[] = [];
      const latencies: number[] = [];
      let sequence = first - 1;
      const poster = async (): Promise<void> => {
        for (;;) {
          const n = ++sequence;
          if (n >= first + count || (performance.now() - started) / 1000 > maxSeconds) return;
          const t = performance.now();
          const type = await transfer(n);
          if (type !== '') {
            const now = performance.now();
            completions.push(now);
            latencies.push(now - t);
          }
        }
      };
      await Promise.all(Array.from({ length: args.inFlight }, poster));
      return { started, completions, latencies, looped: performance.now() };
    };
    const rejectedBefore = rejected;
    // Warm-up, as every other section and the store floor have: transfers through the same loop, not counted,
    // so that the first measured tenth is not the JIT's and last ÷ first tells how the rate holds as data grows.
    // A tenth of the time cap at most, so the host's own deadline (pipeline.ts) still covers the whole run.
    const warm = await closedLoop(1, args.warmupTransfers, args.maxSeconds / 10);
    const warmupRate = warm.completions.length / Math.max((warm.looped - warm.started) / 1000, 1e-3);

    const cpu0 = cpuMark(brokerChild.child.pid, functions);
    // The end of the pipeline: the journal's and accounts-api's counters, read four times a second (a scrape
    // costs a function ~1.6 ms: ~1 % of the pinned core; docs/performance.md).
    const ends = functions.filter((f) => f.name !== 'transaction-processor');
    const progress = sampleHandled(ends, 250);
    const sentBefore = sent;
    const { started, completions, latencies, looped } = await closedLoop(
      args.warmupTransfers + 1,
      args.transfers,
      args.maxSeconds,
    );
    // The end of the pipeline: the journal and accounts-api hold every transfer (probes and warm-up included).
    const expected = sent;
    const drainDeadline = looped + args.drainSeconds * 1000;
    await progress.reached(expected, drainDeadline);
    const { journaled, viewed } = await untilStored(store as DocumentStore, expected, drainDeadline);
    const drained = performance.now();
    const readings = await progress.stop();
    const elapsed = (drained - started) / 1000;
    // Round trips: every call each function made to the store, per transfer that went through.
    const costs = await runCosts(cpu0, brokerChild.child.pid, functions, elapsed, expected);
    // Money is conserved in the truth, the processor's chains: each account's last entry is its balance.
    const heads = new Map<string, { seq: number; balanceAfter: number }>();
    for (const e of await (store as DocumentStore)
      .collection<{ account: string; seq?: number; balanceAfter: number }>(ENTRIES)
      .find({})) {
      if (e.seq === undefined) continue;
      const known = heads.get(e.account);
      if (known === undefined || known.seq < e.seq)
        heads.set(e.account, { seq: e.seq, balanceAfter: e.balanceAfter });
    }
    const total = [...heads.values()].reduce((sum, h) => sum + h.balanceAfter, 0);
    const checks = {
      deadLetters: deadLetter.count() === 0,
      postFailures: postFailures === 0,
      rejected: rejected === rejectedBefore,
      journal: journaled === expected,
      view: viewed === expected,
      moneyConserved: heads.size === ACCOUNTS && total === ACCOUNTS * OPENING,
    };
    // Flatness of the whole pipeline, as the rate: the tenths of the transfers reaching the journal and the view.
    const measuredCount = sent - sentBefore;
    const tenths = tenthRatesFromProgress(endProgress(readings, measuredCount), measuredCount, started);
    const replyTenths = tenthRates(completions, started);
    process.stdout.write(
      `BENCHJSON ${JSON.stringify({
        store: args.mongodbUrl === undefined ? 'memory' : 'mongodb',
        replyFlat: lastOverFirst(replyTenths),
        transfers: completions.length,
        asked: args.transfers,
        warmup: warm.completions.length,
        warmupRate,
        rate: completions.length / elapsed,
        loopRate: completions.length / ((looped - started) / 1000),
        seconds: elapsed,
        drainSeconds: (drained - looped) / 1000,
        p50Ms: percentile(latencies, 50),
        p99Ms: percentile(latencies, 99),
        ...measured(tenths, costs, checks),
        deadLetters: deadLetter.count(),
        postFailures,
        journaled,
        viewed,
        expected,
        repliesTotal,
      })}\n`,
    );
  } finally {
    agent.destroy();
    if (brokerChild !== undefined) await stopBrokerChild(brokerChild, args.url);
    for (const f of functions) await stopProcess(f.child);
    await replies?.close();
    await closeServer(deadLetter.server);
    if (devStore !== undefined) await devStore.close();
    else await store?.close();
  }
}

interface InjectedContext {
  readonly ingress: URL;
  readonly storeEnv: Record<string, string>;
  readonly store: DocumentStore;
  readonly functions: readonly RunningFunction[];
  readonly brokerPid: number | undefined;
  readonly replyTimes: number[];
  readonly deadLetters: () => number;
}

const INJECTOR = join(ROOT, 'functions/banking/transaction-injector/cli.ts');
const INJECT_ACCOUNTS = 50;

/**
 * `make inject`'s workload instead of the neighbours' loop: the injector itself (its plan: 50 accounts,
 * amounts up to a third of an opening balance, USD and EUR accounts, unknown accounts, resubmitted ids — more
 * than half refused), sent as fast as the ingress takes it (an open loop, as `make inject` at a high rate),
 * then its own `--verify` for the invariants. The rate: replies observed ÷ the time from the first
 * transfer (after the openings) to the journal and accounts-api holding every one.
 */
async function runInjected(args: PipelineArgs, ctx: InjectedContext): Promise<void> {
  const count = args.transfers;
  const plan = ['--count', String(count), '--accounts', String(INJECT_ACCOUNTS), '--seed', '1'];
  const env = {
    ...process.env,
    ...ctx.storeEnv,
    BROKER_URL: ctx.ingress.href,
    // No make dev around: the injector must not read .tmp/dev/endpoints.json.
    ACCOUNTS_API_URL: '',
    DEAD_LETTER_URL: '',
  };
  const cpu0 = cpuMark(ctx.brokerPid, ctx.functions);
  let started = 0;
  const injector = spawn(
    'taskset',
    ['-c', args.loadCpu, process.execPath, INJECTOR, ...plan, '--invalid-ratio', '0', '--rate', '5000'],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let out = '';
  injector.stdout?.setEncoding('utf8').on('data', (c: string) => {
    out += c;
    if (started === 0 && out.includes('accounts are open')) {
      started = performance.now();
      ctx.replyTimes.length = 0; // the openings' replies are not transfers
    }
  });
  const code = await new Promise<number | null>((ok) => injector.once('exit', ok));
  if (code !== 0 || started === 0) throw new Error(`the injector exited with ${code}: ${out.slice(-400)}`);
  const accepted = Number(/broker accepted (\d+)/.exec(out)?.[1] ?? Number.NaN);
  const sentDone = performance.now();
  const drainDeadline = sentDone + args.drainSeconds * 1000;
  // Count the store only once every transfer's reply was observed: a count is a scan on FerretDB's
  // SQLite backend, and polling it through the whole run would slow the store it measures.
  while (ctx.replyTimes.length < accepted && performance.now() < drainDeadline) await sleep(100);
  const { journaled, viewed } = await untilStored(ctx.store, accepted, drainDeadline);
  const drained = performance.now();
  const elapsed = (drained - started) / 1000;
  const costs = await runCosts(cpu0, ctx.brokerPid, ctx.functions, elapsed, accepted);
  // The injector's own invariants (money conserved, each submission one outcome, exactly once, …).
  const verify = spawn(
    process.execPath,
    [INJECTOR, '--verify', ...plan, '--invalid-ratio', '0', '--wait', '10'],
    { env, stdio: ['ignore', 'pipe', 'inherit'] },
  );
  let report = '';
  verify.stdout?.setEncoding('utf8').on('data', (c: string) => {
    report += c;
  });
  const verified = (await new Promise<number | null>((ok) => verify.once('exit', ok))) === 0;
  const checks = {
    deadLetters: ctx.deadLetters() === 0,
    journal: journaled === accepted,
    view: viewed === accepted,
    verify: verified,
  };
  if (!verified) process.stderr.write(report.slice(-2000));
  const tenths = tenthRates(ctx.replyTimes, started);
  process.stdout.write(
    `BENCHJSON ${JSON.stringify({
      store: args.mongodbUrl === undefined ? 'memory' : 'mongodb',
      transfers: viewed,
      asked: count,
      rate: viewed / elapsed,
      seconds: elapsed,
      drainSeconds: (drained - sentDone) / 1000,
      ...measured(tenths, costs, checks),
      accepted,
      journaled,
      viewed,
    })}\n`,
  );
}

await run(parsePipelineArgs(process.argv[2]));
