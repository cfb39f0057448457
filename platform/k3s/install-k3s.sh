#!/usr/bin/env bash
# make cluster — installs k3s on this Linux host, ready for Knative: a server (the first host), or with K3S_URL an
# agent that joins it (docs/deploy.md, "Three hosts"); `make deploy` is the same whatever the node count.
# Env: K3S_URL (https://<server>:6443: join as an agent), K3S_TOKEN_FILE (the agent's copy of the server's token),
# KUBECONFIG_OUT, K3S_TOKEN_OUT. Needs root (sudo) and internet access to get.k3s.io. DRY_RUN=1 prints only.
set -euo pipefail
# The server's flags:
#   --disable=traefik   Kourier is the ingress; with Traefik holding ports 80/443 Kourier's LoadBalancer
#                       Service stays <pending> (ServiceLB can place only one service per host port).
#   ServiceLB (klipper) stays enabled: it gives Kourier's LoadBalancer the node IP, which the sslip.io
#                       default domain then uses.
#   --write-kubeconfig-mode=0600  /etc/rancher/k3s/k3s.yaml holds cluster-admin credentials: root only (k3s'
#                       own default is 0600 too; 0644 would hand the cluster to every local user). A copy owned
#                       by the invoking user, mode 0600, goes to KUBECONFIG_OUT (default ~/.kube/k3s-sluice.yaml),
#                       so `make deploy` runs without sudo.
#   The cluster token (what an agent shows to join) is generated on the server into /etc/rancher/k3s/sluice-token
#   (root, 0600), given to k3s with --token-file so it is never on a command line, and copied for the invoking
#   user to K3S_TOKEN_OUT (default ~/.kube/k3s-sluice.token, 0600) to carry to the agents; never in git.
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

require curl
K3S_URL="${K3S_URL:-}"
TOKEN=/etc/rancher/k3s/sluice-token
SUDO=()
[[ "$(id -u)" == 0 ]] || SUDO=(sudo)
run "${SUDO[@]}" install -d -m 0700 /etc/rancher/k3s

if [[ -n "$K3S_URL" ]]; then
  [[ "$K3S_URL" =~ ^https://[^/]+:6443$ ]] || die "K3S_URL must be the server's https://<host>:6443"
  K3S_TOKEN_FILE="${K3S_TOKEN_FILE:-}"
  [[ "$DRY_RUN" == 1 || -r "$K3S_TOKEN_FILE" ]] ||
    die "K3S_TOKEN_FILE must name the server's token (its ~/.kube/k3s-sluice.token, copied here)"
  log "joining $K3S_URL as an agent (k3s $K3S_VERSION)"
  run "${SUDO[@]}" install -m 0600 "${K3S_TOKEN_FILE:-<token file>}" "$TOKEN"
  run curl -sfL -o /tmp/k3s-install.sh https://get.k3s.io
  run "${SUDO[@]}" env INSTALL_K3S_VERSION="$K3S_VERSION" K3S_URL="$K3S_URL" \
    INSTALL_K3S_EXEC="agent --token-file $TOKEN" sh /tmp/k3s-install.sh
  run "${SUDO[@]}" systemctl is-active --quiet k3s-agent
  cat >&2 <<MSG
k3s agent $K3S_VERSION is running and joining $K3S_URL. On the server: kubectl get nodes (Ready within a minute).
MSG
  exit 0
fi

log "installing k3s $K3S_VERSION as a server (Kubernetes >= v1.34 is required by Knative 1.22)"
# The cluster token: generated once (a second run keeps it, so joined agents stay joined).
if [[ "$DRY_RUN" == 1 ]] || ! "${SUDO[@]}" test -s "$TOKEN"; then
  run_stdin "<generated cluster token>" "${SUDO[@]}" install -m 0600 /dev/stdin "$TOKEN" \
    < <(if [[ "$DRY_RUN" == 1 ]]; then echo '<token>'; else random_secret; fi)
fi
run curl -sfL -o /tmp/k3s-install.sh https://get.k3s.io
run "${SUDO[@]}" env INSTALL_K3S_VERSION="$K3S_VERSION" \
  INSTALL_K3S_EXEC="server --disable=traefik --write-kubeconfig-mode=0600 --token-file $TOKEN" sh /tmp/k3s-install.sh
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
K3S_TOKEN_OUT="${K3S_TOKEN_OUT:-$OWNER_HOME/.kube/k3s-sluice.token}"
run "${SUDO[@]}" install -m 0600 -o "$OWNER_UID" -g "$OWNER_GID" "$TOKEN" "$K3S_TOKEN_OUT"
cat >&2 <<MSG
k3s $K3S_VERSION is running. Use it with (the file is yours alone, mode 0600):
  export KUBECONFIG=$KUBECONFIG_OUT
To add an agent: copy $K3S_TOKEN_OUT to it (scp, mode 0600), then on the agent:
  make cluster K3S_URL=https://<this host>:6443 K3S_TOKEN_FILE=<the copy>
MSG
