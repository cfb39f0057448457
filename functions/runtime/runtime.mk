# Function runtime (functions/runtime): targets beside the top-level run/invoke/test.
# The examples check is a vitest unit test, so `make test` (npx vitest run) already runs it;
# this target runs it alone.
.PHONY: check-examples
check-examples: install ## every functions/*/examples/*.json is a valid CloudEvent passing its schema
	npx vitest run --project unit functions/examples.test.ts
