/**
 * The node flags of `make dev`'s platform process (the Makefile's `dev` recipe passes exactly these; a test
 * holds the two together, and the bench runs its stand-ins for that process with them).
 *
 * `--max-semi-space-size=16`: with no flag, V8 sizes the young generation from the machine's memory — on a
 * 24 GiB host it grew to 128 MB (two 64 MB semi-spaces) under a 20,000-transfer run, more than half of the
 * platform's heap, while the dev store's documents (the old generation) were ~60 MB. 16 MB semi-spaces, as the
 * functions' manifests give them, cut the platform's RSS at the end of that run 289 → 237 MB
 * (docs/performance.md "The platform's young generation").
 *
 * `--heap-growing-percent=50`: the old generation may grow to 1.5 × what the last full collection left
 * alive before the next one, instead of up to 4 × by V8's own heuristic. Under a backlog (`make inject` at
 * 1,000/s) the events held for delivery are promoted, then die there: the platform peaked at 448–471 MB with
 * 67 MB alive; with this flag 291–294 MB, at the same CPU (docs/performance.md "The platform's old generation").
 * It cannot be given in NODE_OPTIONS, only on the command line.
 */
export const PLATFORM_NODE_FLAGS: readonly string[] = [
  '--max-semi-space-size=16',
  '--heap-growing-percent=50',
];
