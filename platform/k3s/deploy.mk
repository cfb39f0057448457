# Deploy on k3s (issue 5; docs/deploy.md): pinned upstream releases (platform/k3s/versions.env), kustomize
# overlays rendered to dist/manifests/<overlay>.yaml, scripts with DRY_RUN=1 that print every command.
#   make cluster                      k3s >= v1.34 with --disable=traefik (Linux host, sudo)
#   make images [FN=<name>]           build function images; import into k3s, or push with REGISTRY=<host/path>
#   make deploy [OVERLAY=production]  platform + credentials + dist/manifests/$(OVERLAY).yaml, then endpoints
#   make smoke                        curl CloudEvents at the broker, show them processed (MongoDB records)
#   make undeploy                     remove the overlay's two namespaces; says what stays
#   make budget                       the app and data namespaces' quotas by system, with the headroom
# kustomize v5 is built once per machine from the Go module proxy (platform/tools/kustomize), like FerretDB.
.PHONY: kustomize manifests check-manifests shellcheck cluster deploy undeploy smoke images endpoints budget

OVERLAY   ?= qualification
REGISTRY  ?=
DRY_RUN   ?= 0
export OVERLAY REGISTRY DRY_RUN

KUSTOMIZE_VERSION := $(shell sed -n 's|^require sigs.k8s.io/kustomize/kustomize/v5 v||p' platform/tools/kustomize/go.mod)
KUSTOMIZE_SUM     := $(shell cat platform/tools/kustomize/go.sum platform/tools/kustomize/tools.go 2>/dev/null | sha256sum | cut -c1-12)
export KUSTOMIZE_BIN ?= $(CACHE)/bin/kustomize-$(KUSTOMIZE_VERSION)-$(KUSTOMIZE_SUM)
K3S_OVERLAYS      := $(notdir $(wildcard platform/k3s/kustomize/overlays/*))

TEST_CHECKS += check-manifests
# The unit tests render every overlay with the pinned kustomize and shellcheck the scripts.
test test-unit: $(KUSTOMIZE_BIN) shellcheck

$(KUSTOMIZE_BIN):
	@command -v go >/dev/null || { echo "Go is needed to build kustomize v$(KUSTOMIZE_VERSION) (Debian: apt-get install golang)"; exit 1; }
	@echo "building kustomize v$(KUSTOMIZE_VERSION) from the Go module proxy (once per machine) -> $@"
	@mkdir -p $(dir $@)
	cd platform/tools/kustomize && go build -trimpath -o $@ sigs.k8s.io/kustomize/kustomize/v5

kustomize: $(KUSTOMIZE_BIN) ## build the pinned kustomize v5 into the per-machine cache

manifests: $(KUSTOMIZE_BIN) ## render each overlay to dist/manifests/<overlay>.yaml (what deploy applies)
	@mkdir -p dist/manifests
	@set -euo pipefail; for o in $(K3S_OVERLAYS); do \
	  $(KUSTOMIZE_BIN) build platform/k3s/kustomize/overlays/$$o \
	    $(if $(REGISTRY),| sed 's#image: dev.local/sluice/#image: $(REGISTRY)/sluice/#') > dist/manifests/$$o.yaml.tmp; \
	  mv dist/manifests/$$o.yaml.tmp dist/manifests/$$o.yaml; echo "dist/manifests/$$o.yaml"; \
	done

budget: install manifests ## what each system holds of OVERLAY's namespaces' quotas at its largest, and the headroom
	node platform/k3s/validate/budget.ts dist/manifests/$(OVERLAY).yaml

check-manifests: install manifests shellcheck ## validate rendered overlays (schemas + project rules), shellcheck
	node platform/k3s/validate/cli.ts $(addprefix dist/manifests/,$(addsuffix .yaml,$(K3S_OVERLAYS)))

shellcheck: ## shellcheck every script under platform/k3s (installs it with apt-get when root and missing)
	@command -v shellcheck >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then apt-get update -qq && apt-get install -y -qq shellcheck; \
	  else echo "shellcheck is missing: sudo apt-get install shellcheck"; exit 1; fi; }
	find platform/k3s -name '*.sh' -print0 | xargs -0 shellcheck -x

cluster: ## install k3s (>= v1.34, --disable=traefik) on this Linux host
	platform/k3s/install-k3s.sh

images: ## build the function images and import them into k3s (or push to REGISTRY)
	platform/k3s/images.sh

deploy: install manifests ## install the platform and deploy OVERLAY (needs KUBECONFIG); DRY_RUN=1 prints
	platform/k3s/deploy.sh

endpoints: install manifests ## print where each endpoint and UI of OVERLAY is
	platform/k3s/endpoints.sh

smoke: install manifests ## send CloudEvents to the broker and show them processed
	platform/k3s/smoke.sh

undeploy: manifests ## remove OVERLAY's namespace and everything in it (keeps the platform)
	platform/k3s/undeploy.sh
