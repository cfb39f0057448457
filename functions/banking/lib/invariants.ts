/**
 * The pipeline's invariants, recomputed from what the stores hold after a run. Pure: the caller
 * gathers accounts and outcomes (from MongoDB, or from accounts-api over HTTP) and prints the
 * report. Used by `--verify` and by the tests.
 */

export interface AccountSnapshot {
  readonly id: string;
  readonly balance: number;
  readonly openingBalance: number;
}

export interface OutcomeRecord {
  /** The CloudEvent id of the submitted event this outcome answers. */
  readonly submissionId: string;
  readonly transactionId: string;
  readonly status: 'processed' | 'rejected';
  readonly from: string;
  readonly to: string;
  readonly amount: number;
  readonly reason?: string;
}

export interface InvariantInput {
  readonly accounts: readonly AccountSnapshot[];
  /** Every outcome recorded, one per outcome event (duplicates are what the check looks for). */
  readonly outcomes: readonly OutcomeRecord[];
  /** Submissions that must end processed or rejected exactly once. */
  readonly expectedSubmissions?: readonly string[];
  /** Submissions that must not be processed (schema-invalid): they belong in the dead-letter sink. */
  readonly expectedInvalid?: readonly string[];
  /** CloudEvent id → the reason the dead-letter sink recorded; undefined when it could not be read. */
  readonly deadLettered?: ReadonlyMap<string, string>;
  /** Transfers the store still holds in an intermediate state (MongoDB mode only). */
  readonly unfinishedTransfers?: readonly string[];
}

export interface InvariantCheck {
  readonly name: string;
  readonly ok: boolean;
  readonly detail: string;
}

export interface InvariantReport {
  readonly ok: boolean;
  readonly checks: readonly InvariantCheck[];
  readonly totals: Readonly<Record<string, number>>;
}

const sample = (items: readonly string[]): string =>
  items.length === 0 ? '' : `: ${items.slice(0, 5).join(', ')}${items.length > 5 ? ', …' : ''}`;

export function checkInvariants(input: InvariantInput): InvariantReport {
  const checks: InvariantCheck[] = [];
  const sumBalance = input.accounts.reduce((s, a) => s + a.balance, 0);
  const sumOpening = input.accounts.reduce((s, a) => s + a.openingBalance, 0);
  checks.push({
    name: 'money conserved (sum of balances == sum of opening balances)',
    ok: sumBalance === sumOpening,
    detail: `${sumBalance} == ${sumOpening} over ${input.accounts.length} accounts`,
  });

  const negative = input.accounts.filter((a) => a.balance < 0).map((a) => `${a.id}=${a.balance}`);
  checks.push({
    name: 'no negative balance',
    ok: negative.length === 0,
    detail: `${negative.length} negative${sample(negative)}`,
  });

  // Each transaction's effect counted once (a same-content resubmission answers "processed" again).
  const applied = new Map<string, OutcomeRecord>();
  for (const o of input.outcomes) if (o.status === 'processed') applied.set(o.transactionId, o);
  const expectedBalance = new Map(input.accounts.map((a) => [a.id, a.openingBalance]));
  for (const o of applied.values()) {
    expectedBalance.set(o.from, (expectedBalance.get(o.from) ?? 0) - o.amount);
    expectedBalance.set(o.to, (expectedBalance.get(o.to) ?? 0) + o.amount);
  }
  const drift = input.accounts
    .filter((a) => expectedBalance.get(a.id) !== a.balance)
    .map((a) => `${a.id} holds ${a.balance}, outcomes say ${expectedBalance.get(a.id)}`);
  checks.push({
    name: 'every processed transfer applied exactly once (balances == opening + processed transfers)',
    ok: drift.length === 0,
    detail: `${applied.size} distinct transfers applied; ${drift.length} accounts drift${sample(drift)}`,
  });

  const perSubmission = new Map<string, number>();
  for (const o of input.outcomes)
    perSubmission.set(o.submissionId, (perSubmission.get(o.submissionId) ?? 0) + 1);
  const twice = [...perSubmission].filter(([, n]) => n > 1).map(([id, n]) => `${id}×${n}`);
  checks.push({
    name: 'no submission has two outcomes',
    ok: twice.length === 0,
    detail: `${twice.length} duplicated${sample(twice)}`,
  });

  if (input.expectedSubmissions !== undefined) {
    const missing = input.expectedSubmissions.filter((id) => !perSubmission.has(id));
    checks.push({
      name: 'every valid submission ended processed or rejected',
      ok: missing.length === 0,
      detail: `${input.expectedSubmissions.length - missing.length}/${input.expectedSubmissions.length}; missing ${missing.length}${sample(missing)}`,
    });
  }
  if (input.expectedInvalid !== undefined) {
    const leaked = input.expectedInvalid.filter((id) => perSubmission.has(id));
    checks.push({
      name: 'no invalid submission was processed',
      ok: leaked.length === 0,
      detail: `${leaked.length} of ${input.expectedInvalid.length} leaked${sample(leaked)}`,
    });
    if (input.deadLettered !== undefined) {
      const dead = input.deadLettered;
      const absent = input.expectedInvalid.filter((id) => !dead.get(id));
      checks.push({
        name: 'every schema-invalid submission is in the dead-letter sink with its reason',
        ok: absent.length === 0,
        detail: `${input.expectedInvalid.length - absent.length}/${input.expectedInvalid.length}${sample(absent)}`,
      });
    }
  }
  if (input.unfinishedTransfers !== undefined) {
    const u = input.unfinishedTransfers;
    checks.push({
      name: 'no transfer left half-applied',
      ok: u.length === 0,
      detail: `${u.length} unfinished${sample(u)}`,
    });
  }

  const processed = input.outcomes.filter((o) => o.status === 'processed').length;
  return {
    ok: checks.every((c) => c.ok),
    checks,
    totals: {
      accounts: input.accounts.length,
      outcomes: input.outcomes.length,
      processed,
      rejected: input.outcomes.length - processed,
      sumBalance,
      sumOpening,
    },
  };
}

export function formatReport(report: InvariantReport): string {
  const lines = report.checks.map((c) => `  ${c.ok ? 'OK  ' : 'FAIL'} ${c.name} — ${c.detail}`);
  const totals = Object.entries(report.totals)
    .map(([k, v]) => `${k}=${v}`)
    .join(' ');
  return `invariants: ${report.ok ? 'ALL HOLD' : 'VIOLATED'}\n${lines.join('\n')}\n  totals: ${totals}\n`;
}
