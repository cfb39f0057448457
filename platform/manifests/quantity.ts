/**
 * Kubernetes resource quantities (`120m`, `1`, `0.5`, `144Mi`, `1Gi`, `1e3`), as the budget check and the local
 * platform read them. Hand-written: the two suffix families (binary `Ki…Ti`, decimal `k…T` and milli `m`) of
 * apimachinery's `resource.Quantity`, without its exact-decimal arithmetic, which nothing here needs.
 */
const BINARY: Record<string, number> = { Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40 };
const DECIMAL: Record<string, number> = { k: 1e3, M: 1e6, G: 1e9, T: 1e12, m: 1e-3, '': 1 };

/** A quantity as a number of base units (cores, bytes); undefined when it is not one. */
export function quantity(value: unknown): number | undefined {
  const text = typeof value === 'number' ? String(value) : typeof value === 'string' ? value : undefined;
  const m = text === undefined ? null : /^([0-9.]+(?:e[0-9]+)?)([KMGT]i|[kMGTm]?)$/.exec(text);
  if (m === null) return undefined;
  const factor = BINARY[m[2] ?? ''] ?? DECIMAL[m[2] ?? ''];
  return factor === undefined ? undefined : Number(m[1]) * factor;
}
