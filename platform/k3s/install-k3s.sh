#!/usr/bin/env bash
# make cluster — installs a single-node k3s on this Linux host, ready for Knative:
#   --disable=traefik   Kourier is the ingress; with Traefik holding ports 80/443 Kourier's LoadBalancer
#                       Service stays <pending> (ServiceLB can place only one service per host port).
#   ServiceLB (klipper) stays enabled: it gives Kourier's LoadBalancer the node IP, which the sslip.io
#                       default domain then uses.
#   --write-kubeconfig-mode=0600  /etc/rancher/k3s/k3s.yaml holds cluster-admin credentials: root only (k3s'
#                       own default is 0600 too; 0644 would hand the cluster to every local user). A copy owned
#                       by the invoking user, mode 0600, goes to KUBECONFIG_OUT (default ~/.kube/k3s-sluice.yaml),
#                       so `make deploy` runs without sudo.
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
  INSTALL_K3S_EXEC="server --disable=traefik --write-kubeconfig-mode=0600" sh /tmp/k3s-install.sh
run "${SUDO[@]}" k3s kubectl wait --for=condition=Ready node --all --timeout="$WAIT_TIMEOUT"
run "${SUDO[@]}" k3s kubectl -n kube-system rollout status deployment/coredns --timeout="$WAIT_TIMEOUT"
run "${SUDO[@]}" k3s kubectl -n kube-system rollout status deployment/local-path-provisioner --timeout="$WAIT_TIMEOUT"

# The user who ran `make cluster` (through sudo or not) gets their own copy, readable by them only.
OWNER_UID="${SUDO_UID:-$(id -u)}"
OWNER_GID="${SUDO_GID:-$(id -g)}"
OWNER_HOME="$HOME"
if [[ -n "${SUDO_USER:-}" && "${SUDO_USER}" != root ]]; then
  OWNER_HOME="$(getent passwd "$SUDO_USER" | cut -d: -f6)"
fi
KUBECONFIG_OUT="${KUBECONFIG_OUT:-$OWNER_HOME/.kube/k3s-sluice.yaml}"
run "${SUDO[@]}" install -d -m 0700 -o "$OWNER_UID" -g "$OWNER_GID" "$(dirname "$KUBECONFIG_OUT")"
run "${SUDO[@]}" install -m 0600 -o "$OWNER_UID" -g "$OWNER_GID" /etc/rancher/k3s/k3s.yaml "$KUBECONFIG_OUT"
cat >&2 <<MSG
k3s $K3S_VERSION is running. Use it with (the file is yours alone, mode 0600):
  export KUBECONFIG=$KUBECONFIG_OUT
MSG
