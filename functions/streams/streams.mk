# Stream processing (docs/streams.md): sensor readings → window-aggregator → window-closer → results-api.
# `make dev` (with RABBITMQ_URL) runs the functions, the RabbitmqSource and the PingSource; these feed and change them.
SENSORS  ?= 100
RATE     ?= 500
DURATION ?= 60s
SEED     ?= 1
REVISION ?=

.PHONY: stream update rollback
stream: install ## publish sensor readings over AMQP: make stream [SENSORS=100 RATE=500 DURATION=60s SEED=1] (RABBITMQ_URL)
	node functions/streams/reading-generator/cli.ts --sensors $(SENSORS) --rate $(RATE) --duration $(DURATION) --seed $(SEED)

update: ## roll out a new revision on the cluster: make update FN=window-aggregator (DRY_RUN=1 prints)
	platform/k3s/revisions.sh update $(FN)

rollback: ## send traffic back: make rollback FN=window-aggregator [REVISION=<name>] (DRY_RUN=1 prints)
	platform/k3s/revisions.sh rollback $(FN) $(REVISION)
