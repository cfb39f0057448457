# Writing a function (docs/write-a-function.md): scaffold one, its event types from its schemas, its tests alone.
#   make new-function SYSTEM=<system> FN=<name> TYPE=<ce-type> [REPLY=<ce-type>]
#   make types                   functions/<system>/<fn>/events.gen.ts from each function's schemas/
#   make check-types             fails, naming `make types`, when one is stale (run before tsc by make test)
#   make test-function FN=<name> one function's type check, tests, examples and manifest checks
#   make pages                   every page/ folder bundled by esbuild into the static/ beside it
# (make try FN=<name> is the local platform's: platform/local/local.mk.)
SYSTEM ?=
TYPE   ?=
REPLY  ?=

.PHONY: new-function types check-types test-function pages
pages: install ## build every page (<owner>/page/ → <owner>/static/, esbuild; platform/build/pages.ts)
	@node platform/build/pages.ts

new-function: install ## scaffold a function: make new-function SYSTEM=<system> FN=<name> TYPE=<ce-type> [REPLY=<ce-type>]
	@test "$(origin FN)" != file || { echo "usage: make new-function SYSTEM=<system> FN=<name> TYPE=<ce-type> [REPLY=<ce-type>]"; exit 64; }
	@node platform/build/new-function.ts --system '$(SYSTEM)' --fn '$(FN)' --type '$(TYPE)' $(if $(REPLY),--reply '$(REPLY)')

types: install ## generate each function's events.gen.ts from its schemas (json-schema-to-typescript)
	@node platform/build/event-types.ts

check-types: install ## fail when an events.gen.ts does not match its schemas (make types rewrites them)
	@node platform/build/event-types.ts --check

# Before tsc: a stale events.gen.ts would show up as type errors far from their cause.
test typecheck: check-types

test-function: install ferretdb $(KUSTOMIZE_BIN) ## one function's checks and tests: make test-function FN=<name>
	@test -n "$(FN_DIR)" || { echo "no function named $(FN) (functions/<system>/$(FN)/handler.ts)"; exit 2; }
	node platform/build/event-types.ts --check $(FN)
	npx tsc -p tsconfig.json
	npx biome ci $(FN_DIR) eventing/manifests
	npx vitest run $(FN_DIR) functions/examples.test.ts eventing/src/manifests.test.ts platform/k3s/manifests.test.ts
	node platform/local/src/check-services.ts
