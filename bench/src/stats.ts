/**
 * The arithmetic of the benchmark, kept pure so it is unit-tested: medians, paired ratios, targets,
 * and the one table `make bench` prints.
 */

export const Op = { atLeast: '>=', atMost: '<=' } as const;
export type OpSymbol = (typeof Op)[keyof typeof Op];

export function median(values: readonly number[]): number | undefined {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const mid = Math.floor(xs.length / 2);
  return xs.length % 2 === 1 ? (xs[mid] as number) : ((xs[mid - 1] as number) + (xs[mid] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number | undefined {
  const xs = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (xs.length === 0) return undefined;
  const rank = Math.min(xs.length - 1, Math.max(0, Math.ceil((p / 100) * xs.length) - 1));
  return xs[rank];
}

/**
 * Median of per-round ratios a[i] / b[i]. Rounds alternate the servers, so pairing each sample with
 * the floor's sample of the same round cancels slow drifts of a shared machine better than a ratio
 * of two medians does.
 */
export function pairedRatio(a: readonly number[], b: readonly number[]): number | undefined {
  const ratios: number[] = [];
  for (let i = 0; i < Math.min(a.length, b.length); i++) {
    const x = a[i] as number;
    const y = b[i] as number;
    if (Number.isFinite(x) && Number.isFinite(y) && y > 0) ratios.push(x / y);
  }
  return median(ratios);
}

export interface TargetResult {
  readonly name: string;
  readonly ratio: number | undefined;
  readonly op: OpSymbol;
  readonly goal: number;
  readonly met: boolean;
  /** Context printed after the verdict (absolute values, why a value is missing). */
  readonly note?: string;
}

export function evaluateTarget(
  name: string,
  ratio: number | undefined,
  op: OpSymbol,
  goal: number,
  note?: string,
  /** Further conditions of the same goal (named in `note`): met only when they hold too. */
  alsoMet = true,
): TargetResult {
  const met = alsoMet && ratio !== undefined && (op === Op.atLeast ? ratio >= goal : ratio <= goal);
  return { name, ratio, op, goal, met, ...(note === undefined ? {} : { note }) };
}

/**
 * A ratio with two decimals, or three when two would print the goal itself for a value on either side of it
 * (0.298 against 0.3 is "0.298", not a "0.30" that reads as met).
 */
export function ratioText(value: number, goal: number): string {
  const two = value.toFixed(2);
  return Number(two) === goal && value !== goal ? value.toFixed(3) : two;
}

export function targetLine(t: TargetResult): string {
  const ratio = t.ratio === undefined ? 'n/a' : ratioText(t.ratio, t.goal);
  return `target ${t.name}: ratio ${ratio} (goal ${t.op} ${t.goal}) ${t.met ? 'met' : 'missed'}${t.note === undefined ? '' : ` — ${t.note}`}`;
}

export interface TableRow {
  readonly label: string;
  readonly rps: number | undefined;
  readonly rpsRatio: number | undefined;
  readonly coldMs: number | undefined;
  readonly coldRatio: number | undefined;
  readonly rssMb: number | undefined;
  /**
   * CPU of the server process (every thread: GC helpers included) per request answered in the measure
   * window, µs: steadier than req/s on a shared machine, where the load generator's core is contended too.
   */
  readonly cpuUsPerRequest?: number | undefined;
}

const fmt = (v: number | undefined, digits: number, suffix = ''): string =>
  v === undefined
    ? 'n/a'
    : `${v.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits })}${suffix}`;

/** A Markdown table, pasteable into docs/performance.md. */
export function formatTable(rows: readonly TableRow[]): string {
  const lines = [
    '| server | req/s | ratio to bare node:http | CPU per request | cold start (spawn → first 2xx) | ratio | RSS at ready |',
    '|---|---:|---:|---:|---:|---:|---:|',
  ];
  for (const r of rows) {
    lines.push(
      `| ${r.label} | ${fmt(r.rps, 0)} | ${fmt(r.rpsRatio, 2)} | ${fmt(r.cpuUsPerRequest, 0, ' µs')} | ${fmt(r.coldMs, 0, ' ms')} | ${fmt(r.coldRatio, 2)} | ${fmt(r.rssMb, 0, ' MB')} |`,
    );
  }
  return lines.join('\n');
}
