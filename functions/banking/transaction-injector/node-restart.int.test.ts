/**
 * The banking pipeline through a RabbitMQ node restarted mid-run (docs/deploy.md, "Failure scenarios"): the
 * broker (eventing/manifests/broker.yaml and the banking Triggers, quorum queues) on a private RabbitMQ node of
 * its own (platform/test-servers/rabbitmq-node.ts; never the shared server), the real function processes on the
 * test MongoDB, `make inject`'s plan sent to the ingress, `rabbitmqctl stop_app` / `start_app` while transfers
 * are in flight, then every `make verify` invariant recomputed from the store. Skipped, with the reason, only when
 * a private node cannot start on the machine.
 * The second test backs the result up (`make backup`), drops the database, restores it (`make restore`) and runs
 * `make verify` again (docs/deploy.md, "Backups").
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, inject, it } from 'vitest';
import { parseEventingManifests, type RunningBroker, startBroker } from '../../../eventing/src/index.ts';
import { freePorts } from '../../../platform/test-servers/ports.ts';
import {
  isSkipped,
  type RabbitmqNode,
  startRabbitmqNode,
} from '../../../platform/test-servers/rabbitmq-node.ts';
import { JsonLogger, MongoDocumentStore } from '../../runtime/src/index.ts';
import { checkInvariants, formatReport } from '../lib/invariants.ts';
import { makePlan, type Submission, SubmissionKind } from './plan.ts';
import { httpSender, SendResult } from './send.ts';
import { gatherFromStore, toInput } from './verify.ts';

const ROOT = join(import.meta.dirname, '..', '..', '..');
const run = `${process.pid}_${Date.now().toString(36)}`;
const dbName = `banking_node_restart_${run}`;
/** The pipeline's functions, as the banking Triggers name them, and the dead-letter sink they keep refusals in. */
const FUNCTIONS = {
  'transaction-processor': 'functions/banking/transaction-processor',
  'transaction-journal': 'functions/banking/transaction-journal',
  'accounts-api': 'functions/banking/accounts-api',
  'dead-letter-sink': 'functions/platform/dead-letter-sink',
} as const;
type FunctionName = keyof typeof FUNCTIONS;

let node: RabbitmqNode | undefined;
/** The plan both tests use; set once the pipeline has run with every invariant holding. */
const PLAN = { seed: 22, count: 150, accounts: 12, invalidRatio: 0.02 } as const;
let pipelineDone = false;
let broker: RunningBroker | undefined;
const children: ChildProcess[] = [];

const backupDir = await mkdtemp(join(tmpdir(), 'sluice-banking-backups-'));

afterAll(async () => {
  await rm(backupDir, { recursive: true, force: true });
  await broker?.stop();
  for (const child of children) if (child.exitCode === null) child.kill('SIGKILL');
  await node?.stop();
  const store = await MongoDocumentStore.connect(inject('mongodbUrl'), dbName);
  await store.db.dropDatabase();
  await store.close();
});

/** A function as its container runs it, on the test MongoDB; resolves once it is ready. */
async function startFunction(name: FunctionName, port: number, deadLetterSink: string): Promise<void> {
  const proc = spawn(process.execPath, [join(ROOT, 'functions/runtime/src/main.ts')], {
    env: {
      ...process.env,
      FUNCTION_DIR: join(ROOT, FUNCTIONS[name]),
      PORT: String(port),
      HOST: '127.0.0.1',
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: dbName,
      SLUICE_DEAD_LETTER_SINK: name === 'dead-letter-sink' ? '' : deadLetterSink,
      OTEL_SDK_DISABLED: 'true',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  children.push(proc);
  const deadline = Date.now() + 30_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`${name} exited with ${proc.exitCode}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/readiness`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`${name} not ready within 30 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** broker.yaml and the banking Triggers, as `make dev` and the cluster read them. */
async function bankingManifests() {
  const dir = join(ROOT, 'eventing/manifests');
  const files = [
    'broker.yaml',
    ...(await readdir(join(dir, 'banking/triggers'))).map((f) => `banking/triggers/${f}`),
  ];
  return parseEventingManifests(
    await Promise.all(files.map(async (file) => ({ file, text: await readFile(join(dir, file), 'utf8') }))),
  );
}

describe('the banking pipeline on a RabbitMQ node restarted mid-run', () => {
  it('keeps every make verify invariant: nothing lost, nothing twice, money conserved', async (ctx) => {
    const started = await startRabbitmqNode();
    if (isSkipped(started)) {
      process.stderr.write(`skipping the RabbitMQ node restart test: ${started.skipped}\n`);
      ctx.skip(started.skipped);
      return;
    }
    node = started;
    const names = Object.keys(FUNCTIONS);
    const free = await freePorts(names.length);
    const ports = Object.fromEntries(names.map((n, i) => [n, free[i]])) as Record<FunctionName, number>;
    const urlOf = (name: string) => `http://127.0.0.1:${ports[name as FunctionName]}`;
    await Promise.all(
      (Object.keys(FUNCTIONS) as FunctionName[]).map((n) =>
        startFunction(n, ports[n], `${urlOf('dead-letter-sink')}/`),
      ),
    );
    broker = await startBroker({
      root: ROOT,
      manifests: await bankingManifests(),
      resolveSubscriber: (ref, uri) => `${urlOf(ref.name)}${uri ?? '/'}`,
      rabbitmqUrl: node.url,
      port: 0,
      instance: `restart-${run}`,
      log: new JsonLogger({ serviceName: 'broker', sink: { write: () => true } }),
    });

    const plan = makePlan(PLAN);
    // Retried long enough to outlast the restarts (each ~7 s here): a send fails only if the broker never takes it.
    const sender = httpSender(broker.url, 90_000);
    const store = await MongoDocumentStore.connect(inject('mongodbUrl'), dbName);
    try {
      for (const o of plan.openings) expect(await sender.send(o)).toBe(SendResult.accepted);
      const accountIds = plan.accounts.map((a) => a.accountId);
      const deadline = Date.now() + 60_000;
      while (
        (await store.collection('banking_accounts').countDocuments({ _id: { $in: accountIds } })) <
        accountIds.length
      ) {
        expect(Date.now() < deadline, 'accounts opened within 60 s').toBe(true);
        await new Promise((r) => setTimeout(r, 200));
      }

      // Submissions at ~100/s, 32 in flight; the node restarts once a third of them is sent.
      const results = new Map<string, SendResult>();
      let restart: Promise<void> | undefined;
      // Sends begun while the node was down or starting: the restart must meet traffic, not an idle broker.
      let down = false;
      let sentWhileDown = 0;
      const t0 = performance.now();
      const timings: string[] = [];
      let cursor = 0;
      const worker = async (): Promise<void> => {
        for (let s = plan.submissions[cursor++]; s !== undefined; s = plan.submissions[cursor++]) {
          if (cursor === Math.floor(plan.submissions.length / 3) && restart === undefined) {
            const n = node as RabbitmqNode;
            down = true;
            timings.push(`restart begun at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
            restart = n
              .stopApp()
              .then(() => n.startApp())
              .finally(() => {
                down = false;
                timings.push(`node back at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
              });
          }
          const submission: Submission = s;
          if (down) sentWhileDown++;
          results.set(submission.id, await sender.send(submission));
          await new Promise((r) => setTimeout(r, 300));
        }
      };
      await Promise.all(Array.from({ length: 32 }, worker));
      expect(restart, 'the node was restarted mid-run').toBeDefined();
      await restart;
      timings.push(`all sent at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      expect(sentWhileDown, 'submissions sent while the node was down').toBeGreaterThan(10);
      const counts = Object.groupBy([...results.values()], (r) => r);
      expect(counts.failed ?? [], 'every submission taken or refused by the ingress').toEqual([]);

      // The pipeline is asynchronous: wait until every valid submission has its outcome, failing only when a
      // minute passes without one more (a stall), then check every invariant.
      const valid = plan.submissions.filter((s) => s.kind === SubmissionKind.valid).map((s) => s.id);
      const invalid = plan.submissions
        .filter((s) => s.kind === SubmissionKind.schemaInvalid)
        .map((s) => s.id);
      let gathered = await gatherFromStore(store, `MongoDB ${dbName}`);
      let missing = Number.POSITIVE_INFINITY;
      let lastProgress = Date.now();
      for (;;) {
        const seen = new Set(gathered.outcomes.map((o) => o.submissionId));
        const dead = gathered.deadLetters ?? new Map();
        const left =
          valid.filter((id) => !seen.has(id)).length + invalid.filter((id) => !dead.has(id)).length;
        if (left === 0) break;
        if (left < missing) {
          missing = left;
          lastProgress = Date.now();
        }
        expect(Date.now() - lastProgress < 60_000, `${left} outcomes missing, no progress for 60 s`).toBe(
          true,
        );
        await new Promise((r) => setTimeout(r, 500));
        gathered = await gatherFromStore(store, `MongoDB ${dbName}`);
      }
      timings.push(`every outcome recorded at ${((performance.now() - t0) / 1000).toFixed(1)} s`);
      process.stderr.write(`node restart: ${timings.join(', ')}; ${sentWhileDown} sent while down\n`);
      // A moment more: a duplicate outcome (the invariant's failure) would arrive after the last missing one.
      await new Promise((r) => setTimeout(r, 2000));
      gathered = await gatherFromStore(store, `MongoDB ${dbName}`);
      const report = checkInvariants(toInput(gathered, valid, invalid, gathered.deadLetters));
      const checks = [...report.checks, ...gathered.extraChecks];
      const ok = checks.every((c) => c.ok);
      expect(ok, formatReport({ ...report, checks, ok })).toBe(true);
      expect(report.totals.processed ?? 0).toBeGreaterThan(30);
      pipelineDone = true;
    } finally {
      await sender.close();
      await store.close();
    }
  }, 600_000);

  it('holds every make verify invariant again after a backup, the database dropped, and a restore', async (ctx) => {
    if (!pipelineDone) {
      ctx.skip('the pipeline run above did not complete: nothing to back up');
      return;
    }
    const env = {
      ...process.env,
      MONGODB_URL: inject('mongodbUrl'),
      MONGODB_DB: dbName,
      BACKUP_DIR: backupDir,
    };
    const script = (args: string[]) =>
      spawnSync(process.execPath, args, { cwd: ROOT, env, encoding: 'utf8' });
    // `make verify` and `make backup` / `make restore`, as their targets run them.
    const verify = () =>
      script([
        'functions/banking/transaction-injector/cli.ts',
        '--verify',
        '--seed',
        String(PLAN.seed),
        '--count',
        String(PLAN.count),
        '--accounts',
        String(PLAN.accounts),
        '--invalid-ratio',
        String(PLAN.invalidRatio),
        '--wait',
        '0',
      ]);
    const before = verify();
    expect(before.status, before.stdout + before.stderr).toBe(0);
    const dump = script(['platform/backup/cli.ts', 'dump', '--keep', '2']);
    expect(dump.status, dump.stderr).toBe(0);
    const store = await MongoDocumentStore.connect(inject('mongodbUrl'), dbName);
    try {
      await store.db.dropDatabase();
      const wiped = verify();
      expect(wiped.status, 'make verify fails on the wiped database').not.toBe(0);
    } finally {
      await store.close();
    }
    const restore = script(['platform/backup/cli.ts', 'restore']);
    expect(restore.status, restore.stderr).toBe(0);
    const after = verify();
    expect(after.status, after.stdout + after.stderr).toBe(0);
    expect(after.stdout).toContain('invariants: ALL HOLD');
  }, 300_000);
});
