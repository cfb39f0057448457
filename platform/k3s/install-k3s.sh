#!/usr/bin/env bash
# make cluster — installs a single-node k3s on this Linux host, ready for Knative:
#   --disable=traefik   Kourier is the ingress; with Traefik holding ports 80/443 Kourier's LoadBalancer
#                       Service stays <pending> (ServiceLB can place only one service per host port).
#   ServiceLB (klipper) stays enabled: it gives Kourier's LoadBalancer the node IP, which the sslip.io
#                       default domain then uses.
#   --write-kubeconfig-mode=0644  so `make deploy` can read /etc/rancher/k3s/k3s.yaml without sudo.
# Needs root (sudo) and internet access to get.k3s.io. DRY_RUN=1 prints the commands only.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require curl
log "installing k3s $K3S_VERSION (Kubernetes >= v1.34 is required by Knative 1.22)"
SUDO=()
[[ "$(id -u)" == 0 ]] || SUDO=(sudo)
run curl -sfL -o /tmp/k3s-install.sh https://get.k3s.io
run "${SUDO[@]}" env INSTALL_K3S_VERSION="$K3S_VERSION" \
  INSTALL_K3S_EXEC="server --disable=traefik --write-kubeconfig-mode=0644" sh /tmp/k3s-install.sh
run "${SUDO[@]}" k3s kubectl wait --for=condition=Ready node --all --timeout="$WAIT_TIMEOUT"
run "${SUDO[@]}" k3s kubectl -n kube-system rollout status deployment/coredns --timeout="$WAIT_TIMEOUT"
run "${SUDO[@]}" k3s kubectl -n kube-system rollout status deployment/local-path-provisioner --timeout="$WAIT_TIMEOUT"
cat >&2 <<MSG
k3s $K3S_VERSION is running. Use it with:
  export KUBECONFIG=/etc/rancher/k3s/k3s.yaml
MSG
