# Stream processing (docs/streams.md): sensor readings → window-aggregator → window-closer → results-api.
# `make dev` (with RABBITMQ_URL) runs the functions, the RabbitmqSource and the PingSource; these feed and change them.
SENSORS  ?= 100
RATE     ?= 500
DURATION ?= 60s
SEED     ?= 1
REVISION ?=
# make update / make rollback act on the running make dev of this checkout when there is one, else on the cluster
# (OVERLAY, kubectl); ON=dev or ON=cluster says which.
ON ?=
REVISIONS_LOCAL = [ "$(ON)" = dev ] || { [ "$(ON)" != cluster ] && node platform/local/src/revisions-cli.ts running; }

.PHONY: stream update rollback revisions
stream: install ## publish sensor readings over AMQP: make stream [SENSORS=100 RATE=500 DURATION=60s SEED=1] (RABBITMQ_URL)
	node functions/streams/reading-generator/cli.ts --sensors $(SENSORS) --rate $(RATE) --duration $(DURATION) --seed $(SEED)

update: install ## a new revision, all traffic to it: make update FN=<name> [ON=dev|cluster] (DRY_RUN=1 prints)
	@if $(REVISIONS_LOCAL); then node platform/local/src/revisions-cli.ts update $(FN); \
	else platform/k3s/revisions.sh update $(FN); fi

rollback: install ## traffic back to the previous revision: make rollback FN=<name> [REVISION=<name>] [ON=dev|cluster]
	@if $(REVISIONS_LOCAL); then node platform/local/src/revisions-cli.ts rollback $(FN) $(REVISION); \
	else platform/k3s/revisions.sh rollback $(FN) $(REVISION); fi

revisions: install ## list a function's revisions on the running make dev: make revisions FN=<name>
	node platform/local/src/revisions-cli.ts list $(FN)
