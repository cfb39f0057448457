/**
 * transaction-injector — opens accounts, then submits transfers into the pipeline, deterministically
 * from a seed; or, with --verify, checks the pipeline's invariants after such a run.
 *
 *   node functions/banking/transaction-injector/cli.ts --count 3000 --rate 300 --accounts 50 --seed 7 \
 *        --invalid-ratio 0.02 --via http|amqp
 *   node functions/banking/transaction-injector/cli.ts --verify --count 3000 --accounts 50 --seed 7 --invalid-ratio 0.02
 *
 * Env: BROKER_URL (http, default http://127.0.0.1:8080/), RABBITMQ_URL (amqp), MONGODB_URL and
 * MONGODB_DB (verify from the store; default db sluice), SLUICE_DEV_STORE_URL (the shared in-memory
 * store of `make dev`), ACCOUNTS_API_URL (verify over HTTP), DEAD_LETTER_URL (dead letters over HTTP).
 * Unset ones come from a running `make dev` (.tmp/dev/endpoints.json), then from the defaults; the
 * output says which was used. See docs/banking.md.
 */
import { parseArgs } from 'node:util';
import { openToolStore, resolveDevStore, resolveEndpoint, unreadExchange } from '../../runtime/src/index.ts';
import { checkInvariants, formatReport } from '../lib/invariants.ts';
import { makePlan, type Plan, type Submission, SubmissionKind } from './plan.ts';
import { AMQP_EXCHANGE, amqpSender, httpSender, type Sender, SendResult } from './send.ts';
import {
  type Gathered,
  gatherDeadLetters,
  gatherFromAccountsApi,
  gatherFromStore,
  toInput,
} from './verify.ts';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '1000' },
    rate: { type: 'string', default: '200' },
    accounts: { type: 'string', default: '20' },
    seed: { type: 'string', default: '1' },
    'invalid-ratio': { type: 'string', default: '0' },
    via: { type: 'string', default: 'http' },
    verify: { type: 'boolean', default: false },
    wait: { type: 'string', default: '120' },
    help: { type: 'boolean', default: false },
  },
});

function num(name: string, raw: string | undefined, min: number, max: number): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || n > max) {
    process.stderr.write(`--${name} must be a number from ${min} to ${max}, got "${raw}"\n`);
    process.exit(64);
  }
  return n;
}

if (values.help) {
  process.stdout.write(
    'usage: cli.ts [--count N] [--rate per-second] [--accounts N] [--seed N] [--invalid-ratio 0..1] [--via http|amqp] [--verify] [--wait seconds]\n',
  );
  process.exit(0);
}
const options = {
  seed: Math.trunc(num('seed', values.seed, 0, 2 ** 32 - 1)),
  count: Math.trunc(num('count', values.count, 0, 10_000_000)),
  accounts: Math.trunc(num('accounts', values.accounts, 2, 100_000)),
  invalidRatio: num('invalid-ratio', values['invalid-ratio'], 0, 1),
};
const rate = num('rate', values.rate, 0.1, 1_000_000);
const via = values.via;
if (via !== 'http' && via !== 'amqp') {
  process.stderr.write(`--via must be http or amqp, got "${via}"\n`);
  process.exit(64);
}
const plan = makePlan(options);
const broker = resolveEndpoint('BROKER_URL', (e) => e.brokerUrl, 'http://127.0.0.1:8080/');
const brokerUrl = broker.url as string;
const accountsApi = resolveEndpoint('ACCOUNTS_API_URL', (e) => e.services['accounts-api']);
const mongodbUrl = process.env.MONGODB_URL || undefined;
// MONGODB_URL first (explicit), then the dev store: explicit SLUICE_DEV_STORE_URL, else make dev's. The store the
// processor writes to is opened the same way (openToolStore).
const devStore = mongodbUrl === undefined ? resolveDevStore() : undefined;

if (values.verify) process.exit(await verify(plan, num('wait', values.wait, 0, 3600)));
else process.exit(await inject(plan));

async function inject(p: Plan): Promise<number> {
  const unread = via === 'amqp' ? unreadExchange(AMQP_EXCHANGE) : undefined;
  if (unread !== undefined) {
    process.stderr.write(`make inject: ${unread}, or send over HTTP (INJECT_VIA=http, the default).\n`);
    return 64;
  }
  const sender: Sender =
    via === 'amqp'
      ? await amqpSender(process.env.RABBITMQ_URL || 'amqp://guest:guest@127.0.0.1:5672')
      : httpSender(brokerUrl);
  const target =
    via === 'amqp' ? 'AMQP exchange sluice.banking.injector' : `${brokerUrl} (from ${broker.from})`;
  process.stdout.write(
    `injecting seed=${options.seed}: ${p.openings.length} accounts, ${p.submissions.length} transfers at ≤${rate}/s via ${via} → ${target}\n`,
  );
  try {
    const opened = await sendAll(sender, p.openings, rate);
    if (opened.failed > 0) throw new Error(`${opened.failed} account openings could not be sent`);
    await waitForAccounts(p);
    const started = performance.now();
    const counts = await sendAll(sender, p.submissions, rate);
    const seconds = (performance.now() - started) / 1000;
    const kinds = Object.values(SubmissionKind).map(
      (k) => `${k}=${p.submissions.filter((s) => s.kind === k).length}`,
    );
    process.stdout.write(
      [
        `sent ${p.submissions.length} submissions (${kinds.join(' ')}) in ${seconds.toFixed(1)} s: ${(p.submissions.length / seconds).toFixed(0)}/s achieved (target ${rate}/s)`,
        `  broker accepted ${counts.accepted}, refused ${counts.refused} (malformed events are refused at the ingress), failed ${counts.failed}`,
        `verify with: node functions/banking/transaction-injector/cli.ts --verify --seed ${options.seed} --count ${options.count} --accounts ${options.accounts} --invalid-ratio ${options.invalidRatio}`,
        '',
      ].join('\n'),
    );
    return counts.failed > 0 ? 1 : 0;
  } finally {
    await sender.close();
  }
}

/** Sends in order, paced to `perSecond`, with a bounded number in flight. */
async function sendAll(
  sender: Sender,
  items: readonly Submission[],
  perSecond: number,
): Promise<Record<SendResult, number>> {
  const counts: Record<SendResult, number> = { accepted: 0, refused: 0, failed: 0 };
  const started = performance.now();
  const inFlight = new Set<Promise<void>>();
  for (let i = 0; i < items.length; i++) {
    const due = started + (i * 1000) / perSecond;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    while (inFlight.size >= 64) await Promise.race(inFlight);
    const item = items[i] as Submission;
    const promise = sender.send(item).then((result) => {
      counts[result]++;
      if (result === SendResult.failed) process.stderr.write(`could not send ${item.id}\n`);
    });
    const tracked = promise.finally(() => inFlight.delete(tracked));
    inFlight.add(tracked);
  }
  await Promise.all(inFlight);
  return counts;
}

/** Transfers to accounts not opened yet would be rejected as unknown-account: wait for the last one. */
async function waitForAccounts(p: Plan): Promise<void> {
  const last = p.accounts.at(-1)?.accountId;
  if (last === undefined) return;
  const deadline = Date.now() + 30_000;
  const probe = async (): Promise<boolean> => {
    const opened = await openToolStore();
    if (opened !== undefined) {
      try {
        const ids = p.accounts.map((a) => a.accountId);
        return (
          (await opened.store.collection('banking_accounts').countDocuments({ _id: { $in: ids } })) ===
          ids.length
        );
      } finally {
        await opened.store.close();
      }
    }
    if (accountsApi.url !== undefined) return (await fetch(new URL(`/accounts/${last}`, accountsApi.url))).ok;
    return true;
  };
  if (mongodbUrl === undefined && devStore?.url === undefined && accountsApi.url === undefined) {
    process.stdout.write('(no store or accounts-api known: giving the openings 3 s to be processed)\n');
    await new Promise((r) => setTimeout(r, 3000));
    return;
  }
  while (!(await probe().catch(() => false))) {
    if (Date.now() > deadline) {
      process.stdout.write(
        'accounts not all visible after 30 s; sending anyway (expect unknown-account rejections)\n',
      );
      return;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  process.stdout.write(`all ${p.accounts.length} accounts are open\n`);
}

async function verify(p: Plan, waitSeconds: number): Promise<number> {
  const valid = p.submissions.filter((s) => s.kind === SubmissionKind.valid).map((s) => s.id);
  const invalid = p.submissions.filter((s) => s.kind === SubmissionKind.schemaInvalid).map((s) => s.id);
  const opened = await openToolStore();
  if (opened === undefined && accountsApi.url === undefined) {
    process.stderr.write(
      'verify: no store known: start make dev, or set MONGODB_URL (the store) or ACCOUNTS_API_URL (accounts-api)\n',
    );
    return 69;
  }
  const gather = (): Promise<Gathered> =>
    opened !== undefined
      ? gatherFromStore(opened.store, opened.where)
      : gatherFromAccountsApi(accountsApi.url as string, accountsApi.from);
  // The pipeline is asynchronous: poll until every valid submission has its outcome, or the deadline.
  const deadline = Date.now() + waitSeconds * 1000;
  let gathered: Gathered;
  try {
    gathered = await gather();
  } catch (err) {
    await opened?.store.close();
    throw err;
  }
  for (;;) {
    const seen = new Set(gathered.outcomes.map((o) => o.submissionId));
    const missing = valid.filter((id) => !seen.has(id)).length;
    if (missing === 0 || Date.now() > deadline) break;
    process.stdout.write(`waiting for ${missing} outcomes…\n`);
    await new Promise((r) => setTimeout(r, 1000));
    gathered = await gather();
  }
  await opened?.store.close();
  // The store holds the dead-letter sink's records too; DEAD_LETTER_URL reads them over HTTP instead.
  let dead = gathered.deadLetters;
  const deadLetterUrl = process.env.DEAD_LETTER_URL;
  if (deadLetterUrl) {
    dead = await gatherDeadLetters(deadLetterUrl).catch((err: unknown) => {
      process.stdout.write(
        `dead-letter sink not readable (${(err as Error).message}); skipping that check\n`,
      );
      return undefined;
    });
  }
  const report = checkInvariants(toInput(gathered, valid, invalid, dead));
  const all = { ...report, checks: [...report.checks, ...gathered.extraChecks] };
  const ok = all.checks.every((c) => c.ok);
  process.stdout.write(
    `verify seed=${options.seed} from ${gathered.source}\n  expected: ${valid.length} valid submissions, ${invalid.length} schema-invalid (dead-letter), ${p.submissions.length - valid.length - invalid.length} malformed (refused at ingress)\n`,
  );
  process.stdout.write(formatReport({ ...all, ok }));
  return ok ? 0 : 1;
}
