# Eventing (eventing/, docs/eventing.md): the broker's data plane and the dead letters.
#   make dlq                list dead letters (MONGODB_URL or SLUICE_DEV_STORE_URL; ALL=1 lists replayed too)
#   make replay ID=<id>     replay one into the broker ingress (BROKER_URL, default :$(BROKER_PORT)); ID=all for every one
BROKER_PORT ?= 8080
ID ?=
ALL ?=

.PHONY: dlq replay
dlq: install ## list dead letters: id, type, reason, code, dest, time [ALL=1]
	BROKER_PORT=$(BROKER_PORT) node eventing/src/cli/dlq.ts list $(if $(ALL),--all)

replay: install ## replay dead letters into the broker: make replay ID=<id>|all
	@test -n "$(ID)" || { echo "usage: make replay ID=<id> (or ID=all)"; exit 64; }
	BROKER_PORT=$(BROKER_PORT) node eventing/src/cli/dlq.ts replay $(if $(filter all,$(ID)),--all,$(ID))
