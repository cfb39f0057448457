/**
 * The node flags of `make dev`'s platform process (the Makefile's `dev` recipe passes exactly these; a test
 * holds the two together, and the bench runs its stand-ins for that process with them).
 *
 * `--max-semi-space-size=16`: with no flag, V8 sizes the young generation from the machine's memory — on a
 * 24 GiB host it grew to 128 MB (two 64 MB semi-spaces) under a 20,000-transfer run, more than half of the
 * platform's heap, while the dev store's documents (the old generation) were ~60 MB. 16 MB semi-spaces, as the
 * functions' manifests give them, cut the platform's RSS at the end of that run 289 → 237 MB
 * (docs/performance.md "The platform's young generation").
 */
export const PLATFORM_NODE_FLAGS: readonly string[] = ['--max-semi-space-size=16'];
