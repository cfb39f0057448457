# Bundles and benchmarks (issue 7; docs/performance.md).
#
# BUNDLE CONTRACT — what the deploy image is built from:
#   make bundle FN=<name>   → dist/functions/<name>/      (make bundle: every functions/* with a handler)
#   contents   main.mjs            entry (runtime + handler + schema validators precompiled by ajv standalone)
#              chunks/*.mjs        code loaded only when used (MongoDB driver, OpenTelemetry, express);
#                                  *.map / *.LEGAL.txt are optional (source maps, licences)
#              node_modules/<pkg>/<file>  only files (never code) a function serves from a package, listed in
#                                  its bundle.json `packageFiles` (results-api: swagger-ui-dist's Swagger UI)
#   copy       the WHOLE folder dist/functions/<name>/ to e.g. /app — no npm install, no schemas/ folder
#              and no .ts files are needed at run time (optional MongoDB add-ons such as kerberos are external
#              and deliberately absent)
#   run        node /app/main.mjs        (Node 24; no flags; no loader, no type stripping)
#   env        as the runtime (functions/runtime/src/config.ts): PORT (8080), K_SERVICE, K_REVISION, MONGODB_URL,
#              MONGODB_DB, LOG_LEVEL, OTEL_SDK_DISABLED, …; FUNCTION_DIR is optional: it defaults to the folder
#              of main.mjs, so the service name defaults to <name> when K_SERVICE is unset.
#   probes     GET /health/readiness, /health/liveness; metrics GET /metrics — same port.
#
# Benchmarks: `make bench` prints one table and writes bench/results/<timestamp>.json;
# `make bench-quick` ends with one `target <name>: ratio … met|missed` line per goal (docs/performance.md).
# Servers run on cpu 0, the load generator (wrk when installed — `apt-get install -y wrk` —, else
# autocannon) and the harness on cpu 1: BENCH_SERVER_CPU / BENCH_LOAD_CPU / BENCH_LOAD_TOOL override.
.PHONY: bundle bench bench-quick bench-profile bench-work bench-instructions valgrind wrk

BUNDLE_FN = $(if $(filter command line,$(origin FN)),$(FN),--all)

bundle: install ## bundle functions for images: make bundle [FN=<name>] → dist/functions/<name>/main.mjs
	node platform/build/bundle.ts $(BUNDLE_FN)

# The pipeline section needs FerretDB (make ferretdb; FERRETDB_BIN is exported by the Makefile) and a
# PostgreSQL for its PostgreSQL backend: BENCH_POSTGRESQL_URL (default postgres://postgres@127.0.0.1:5432/sluice_bench).
# BENCH_ARGS passes options through: --sections function,broker,pipeline,streams --transfers N --pipeline-seconds S.
# wrk, the load generator the goals were measured with: autocannon (Node) caps bare node:http well below it, which
# flatters every ratio to that floor. Installed like Chromium (apt-get, when root and missing); else autocannon.
wrk: ## install wrk for the benchmarks (apt-get, when root and missing; else autocannon is used)
	@command -v wrk >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk; } || \
	      echo "could not install wrk: the bench falls back to autocannon"; \
	  else echo "wrk is missing (sudo apt-get install wrk): the bench falls back to autocannon"; fi; }

bench: install ferretdb wrk ## full benchmark: one table vs bare node:http and peers, broker path, pipeline on 3 stores, streams
	taskset -c $${BENCH_LOAD_CPU:-1} node bench/src/bench.ts $(BENCH_ARGS)

bench-quick: install ferretdb wrk ## short benchmark ending with one `target` line per goal
	taskset -c $${BENCH_LOAD_CPU:-1} node bench/src/bench.ts --quick $(BENCH_ARGS)

bench-profile: install wrk ## CPU profile of the function path under load → .tmp/profile/*.cpuprofile + summary
	taskset -c $${BENCH_LOAD_CPU:-1} node bench/src/profile.ts

bench-work: install wrk ## bare node:http doing 0/10/20/40 µs of work per request: what a ratio to the floor leaves room for
	taskset -c $${BENCH_LOAD_CPU:-1} node bench/src/work-per-request.ts $(BENCH_ARGS)

valgrind: ## install valgrind for make bench-instructions (apt-get, when root and missing)
	@command -v valgrind >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq valgrind; \
	  else echo "valgrind is missing: sudo apt-get install valgrind"; exit 1; fi; }

bench-instructions: install valgrind ## the function path in instructions per request under callgrind: load-insensitive (~3 min)
	node bench/src/instructions.ts $(BENCH_ARGS)
