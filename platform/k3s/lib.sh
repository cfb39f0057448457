# shellcheck shell=bash
# Shared helpers for the platform/k3s scripts (sourced, not run). Every command that touches the host or the
# cluster goes through `run`, so DRY_RUN=1 prints the exact, ordered command list without needing a cluster.

K3S_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
# shellcheck disable=SC2034 # used by the scripts that source this file
REPO_ROOT="$(cd "$K3S_DIR/../.." && pwd)"
# shellcheck source=versions.env
source "$K3S_DIR/versions.env"

DRY_RUN="${DRY_RUN:-0}"
KUBECTL="${KUBECTL:-kubectl}"
# Upper bound for every wait: a failing install stops with the object that did not become ready.
WAIT_TIMEOUT="${WAIT_TIMEOUT:-600s}"

log() { printf '==> %s\n' "$*" >&2; }
die() {
  printf 'error: %s\n' "$*" >&2
  exit 1
}

# run CMD [ARGS...]: print the command (shell-quoted, so it can be copied), then run it unless DRY_RUN=1.
run() {
  printf '+ %s\n' "$(quote "$@")"
  [[ "$DRY_RUN" == 1 ]] && return 0
  "$@"
}

# run_stdin DESCRIPTION CMD [ARGS...]: like run, with stdin fed to the command. A real run prints only
# DESCRIPTION (stdin may hold generated credentials); DRY_RUN=1 also prints stdin, which callers fill with
# placeholders in that mode.
run_stdin() {
  local description="$1"
  shift
  printf '+ %s <<< %s\n' "$(quote "$@")" "$description"
  if [[ "$DRY_RUN" == 1 ]]; then
    sed 's/^/    /'
    return 0
  fi
  "$@"
}

quote() {
  local out="" arg
  for arg in "$@"; do
    if [[ "$arg" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
      out+="$arg "
    elif [[ "$arg" != *"'"* ]]; then
      out+="'$arg' "
    else
      out+="$(printf '%q' "$arg") "
    fi
  done
  printf '%s' "${out% }"
}

kube() { run "$KUBECTL" "$@"; }

# apply_url URL: server-side apply of an upstream release manifest. Server-side because the large CRDs
# (RabbitmqCluster, cert-manager) exceed the client-side last-applied annotation limit; --force-conflicts
# so a re-run takes back fields someone edited by hand (running deploy twice converges to the same state).
apply_url() { kube apply --server-side --force-conflicts -f "$1"; }

# apply_url_retrying URL: for manifests whose objects go through a webhook that has just started (cert-manager
# must inject its CA first). Bounded: a few attempts with growing back-off, then the error is shown.
apply_url_retrying() {
  local url="$1" attempt
  printf '+ %s\n' "$(quote "$KUBECTL" apply --server-side --force-conflicts -f "$url") # retried up to 5 times while webhooks start"
  [[ "$DRY_RUN" == 1 ]] && return 0
  for attempt in 1 2 3 4 5; do
    if "$KUBECTL" apply --server-side --force-conflicts -f "$url"; then return 0; fi
    [[ $attempt == 5 ]] && return 1
    log "apply failed (attempt $attempt), webhooks may still be starting; retrying"
    sleep $((attempt * 5))
  done
}

wait_deployments() {
  local ns="$1"
  shift
  kube -n "$ns" wait --for=condition=Available --timeout="$WAIT_TIMEOUT" "${@/#/deployment/}"
}

wait_crds() { kube wait --for=condition=Established --timeout="$WAIT_TIMEOUT" "${@/#/crd/}"; }

# random_secret: 32 hex characters from the kernel CSPRNG (URL-safe, so it can sit in a connection string).
random_secret() { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; }

secret_exists() {
  [[ "$DRY_RUN" == 1 ]] && return 1
  "$KUBECTL" -n "$1" get secret "$2" -o name >/dev/null 2>&1
}

require() {
  local tool
  for tool in "$@"; do
    [[ "$DRY_RUN" == 1 ]] || command -v "$tool" >/dev/null || die "$tool is required on PATH"
  done
}

# overlay_namespace FILE [ROLE]: the name of the rendered overlay's Namespace labelled
# sluice.dev/namespace-role ROLE: app (default; the functions, the broker) or data (RabbitMQ, MongoDB, Redis, the
# observability stack). An overlay is one environment in these two namespaces (docs/deploy.md).
overlay_namespace() {
  awk -v role="${2:-app}" '
    /^---$/ { if (ns && match_role && name != "") { print name; found = 1; exit } ns = 0; match_role = 0; name = ""; next }
    /^kind: Namespace$/ { ns = 1 }
    $0 == "    sluice.dev/namespace-role: " role { match_role = 1 }
    /^  name: / { name = $2 }
    END { if (!found && ns && match_role && name != "") print name }
  ' "$1"
}
