# Quotes (docs/quotes.md): users, quotes and search behind api-gateway's API keys and rate limit.
# `make dev` runs the functions (REDIS_URL=redis://127.0.0.1:6379 make dev shares the rate limit through Redis);
# the README's curls use the admin key make dev generates into .tmp/dev/secrets/quotes-admin-key/admin-key.
.PHONY: quotes-reindex
quotes-reindex: install ## drop the search index and rebuild it by replaying every quote event (needs make dev, or MONGODB_URL + BROKER_URL)
	node functions/quotes/quotes-reindex/cli.ts
