# Writing a function (docs/write-a-function.md): its event types from its schemas.
#   make types                   functions/<system>/<fn>/events.gen.ts from each function's schemas/
#   make check-types             fails, naming `make types`, when one is stale (run before tsc by make test)

.PHONY: types check-types
types: install ## generate each function's events.gen.ts from its schemas (json-schema-to-typescript)
	@node platform/build/event-types.ts

check-types: install ## fail when an events.gen.ts does not match its schemas (make types rewrites them)
	@node platform/build/event-types.ts --check

# Before tsc: a stale events.gen.ts would show up as type errors far from their cause.
test typecheck: check-types
