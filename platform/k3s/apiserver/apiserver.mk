# make test-deploy (issue 21; docs/deploy.md "What is verified where"): both overlays applied to a real
# kube-apiserver on loopback, with etcd and kube-controller-manager, started once and torn down by PID.
# etcd, kube-apiserver, kube-controller-manager and kubectl are built once per machine from the Go module proxy
# (platform/tools/kubernetes) into the per-machine cache, like FerretDB and kustomize; the folder's name changes
# when the tools module does. The first build takes about 10 minutes of CPU (~20 on 2 busy cores), none after.
.PHONY: kube-tools test-deploy

KUBE_VERSION   := $(shell sed -n 's|^[[:space:]]*k8s.io/kubernetes v||p' platform/tools/kubernetes/go.mod)
KUBE_TOOLS_SUM := $(shell cat platform/tools/kubernetes/go.sum platform/tools/kubernetes/tools.go 2>/dev/null | sha256sum | cut -c1-12)
export KUBE_TOOLS_DIR ?= $(CACHE)/bin/kubernetes-$(KUBE_VERSION)-$(KUBE_TOOLS_SUM)
# What `kubectl version` and the apiserver's /version report (the Kubernetes build scripts set the same).
KUBE_LDFLAGS := -s -w -X k8s.io/component-base/version.gitVersion=v$(KUBE_VERSION) \
  -X k8s.io/component-base/version.gitMajor=$(word 1,$(subst ., ,$(KUBE_VERSION))) \
  -X k8s.io/component-base/version.gitMinor=$(word 2,$(subst ., ,$(KUBE_VERSION))) \
  -X k8s.io/component-base/version.gitTreeState=clean

TEST_CHECKS += test-deploy

$(KUBE_TOOLS_DIR)/kubectl:
	@command -v go >/dev/null || { echo "Go is needed to build the Kubernetes control plane for make test-deploy (Debian: apt-get install golang)"; exit 1; }
	@echo "building etcd, kube-apiserver, kube-controller-manager, kubectl v$(KUBE_VERSION) from the Go module proxy (once per machine, ~10 min of CPU) -> $(KUBE_TOOLS_DIR)"
	@rm -rf $(KUBE_TOOLS_DIR).tmp && mkdir -p $(KUBE_TOOLS_DIR).tmp
	cd platform/tools/kubernetes && go build -trimpath -ldflags '$(KUBE_LDFLAGS)' -o $(KUBE_TOOLS_DIR).tmp/ \
	  go.etcd.io/etcd/server/v3 k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
	  k8s.io/kubernetes/cmd/kubectl
	@# etcd's main package is its server module's root, so go build names the binary after it.
	@mv $(KUBE_TOOLS_DIR).tmp/server $(KUBE_TOOLS_DIR).tmp/etcd
	@rm -rf $(KUBE_TOOLS_DIR) && mv $(KUBE_TOOLS_DIR).tmp $(KUBE_TOOLS_DIR)

kube-tools: $(KUBE_TOOLS_DIR)/kubectl ## build etcd, kube-apiserver, kube-controller-manager, kubectl into the per-machine cache

test-deploy: install kube-tools $(KUSTOMIZE_BIN) ## both overlays through a real kube-apiserver on loopback (prints accepted/rejected)
	npx vitest run --project deploy
