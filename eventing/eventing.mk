# Eventing (eventing/, docs/eventing.md): the broker's data plane and the dead letters.
#   make dlq                list dead letters (MONGODB_URL or SLUICE_DEV_STORE_URL; ALL=1 lists replayed too)
#   make replay ID=<id>     replay one into the broker ingress (BROKER_URL, default :$(BROKER_PORT)); ID=all for every one
#   make ce-probe           the CloudEvents Go SDK producer/receiver of the fidelity test (platform/tools/ce-probe)
BROKER_PORT ?= 8080
ID ?=
ALL ?=

# ce-probe: sdk-go (what Knative's and eventing-rabbitmq's data planes are built on) as an independent producer and
# receiver for eventing/src/sdk-go-fidelity.int.test.ts; built once per machine from the Go module proxy, like FerretDB.
CE_PROBE_SDK := $(shell sed -n 's|^require github.com/cloudevents/sdk-go/v2 v||p' platform/tools/ce-probe/go.mod)
CE_PROBE_SUM := $(shell cat platform/tools/ce-probe/go.sum platform/tools/ce-probe/main.go 2>/dev/null | sha256sum | cut -c1-12)
export CE_PROBE_BIN ?= $(CACHE)/bin/ce-probe-sdk-go-$(CE_PROBE_SDK)-$(CE_PROBE_SUM)

test test-int: $(CE_PROBE_BIN)

$(CE_PROBE_BIN):
	@command -v go >/dev/null || { echo "Go is needed to build ce-probe (sdk-go v$(CE_PROBE_SDK)) for the tests (Debian: apt-get install golang)"; exit 1; }
	@echo "building ce-probe with sdk-go v$(CE_PROBE_SDK) from the Go module proxy (once per machine) -> $@"
	@mkdir -p $(dir $@)
	cd platform/tools/ce-probe && go build -trimpath -o $@ .

.PHONY: dlq replay ce-probe
ce-probe: $(CE_PROBE_BIN) ## build the sdk-go probe of the fidelity test into the per-machine cache

dlq: install ## list dead letters: id, type, reason, code, dest, time [ALL=1]
	BROKER_PORT=$(BROKER_PORT) node eventing/src/cli/dlq.ts list $(if $(ALL),--all)

replay: install ## replay dead letters into the broker: make replay ID=<id>|all
	@test -n "$(ID)" || { echo "usage: make replay ID=<id> (or ID=all)"; exit 64; }
	BROKER_PORT=$(BROKER_PORT) node eventing/src/cli/dlq.ts replay $(if $(filter all,$(ID)),--all,$(ID))
