#!/usr/bin/env bash
# make update / make rollback (docs/streams.md, "Update and rollback") — Knative revisions and spec.traffic, with
# plain kubectl (no kn):
#   revisions.sh update FN             a new revision (the template's sluice.dev/rollout annotation changes, so
#                                      Serving cuts one), then all traffic to the latest ready revision
#   revisions.sh rollback FN [REV]     all traffic to REV, or to the revision before the one serving now; the
#                                      latest stays reachable under the tag `latest` with 0 %
# Env: OVERLAY (the namespace comes from dist/manifests/$OVERLAY.yaml), DRY_RUN=1 prints the commands only.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

ACTION="${1:-}"
FN="${2:-}"
REVISION="${3:-}"
OVERLAY="${OVERLAY:-qualification}"
MANIFEST="${MANIFEST:-$REPO_ROOT/dist/manifests/$OVERLAY.yaml}"
[[ "$ACTION" == update || "$ACTION" == rollback ]] || die "usage: revisions.sh update|rollback FN [REVISION]"
[[ "$FN" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "FN must be a Knative Service name (got '$FN')"
[[ -z "$REVISION" || "$REVISION" =~ ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$ ]] || die "REVISION must be a revision name"
if [[ -f "$MANIFEST" ]]; then NS="$(overlay_namespace "$MANIFEST")"; else NS="sluice-$OVERLAY"; fi
require "$KUBECTL"

if [[ "$ACTION" == update ]]; then
  stamp="$(date -u +%Y%m%dT%H%M%SZ)"
  log "update $NS/$FN: a new revision (rollout $stamp), then 100 % to the latest"
  kube -n "$NS" patch ksvc "$FN" --type=merge \
    -p "{\"spec\":{\"template\":{\"metadata\":{\"annotations\":{\"sluice.dev/rollout\":\"$stamp\"}}}}}"
  kube -n "$NS" patch ksvc "$FN" --type=merge -p '{"spec":{"traffic":[{"latestRevision":true,"percent":100}]}}'
  kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" "ksvc/$FN"
  kube -n "$NS" get revisions -l "serving.knative.dev/service=$FN" --sort-by=.metadata.creationTimestamp
  exit 0
fi

if [[ -z "$REVISION" ]]; then
  if [[ "$DRY_RUN" == 1 ]]; then
    printf '+ %s\n' "$(quote "$KUBECTL" -n "$NS" get revisions -l "serving.knative.dev/service=$FN" --sort-by=.metadata.creationTimestamp -o name) # the one before the serving revision"
    REVISION='<previous-revision>'
  else
    serving="$("$KUBECTL" -n "$NS" get ksvc "$FN" -o jsonpath='{.status.traffic[?(@.percent==100)].revisionName}')"
    mapfile -t revisions < <("$KUBECTL" -n "$NS" get revisions -l "serving.knative.dev/service=$FN" \
      --sort-by=.metadata.creationTimestamp -o jsonpath='{range .items[*]}{.metadata.name}{"\n"}{end}')
    for i in "${!revisions[@]}"; do
      if [[ "${revisions[$i]}" == "$serving" && "$i" -gt 0 ]]; then REVISION="${revisions[$((i - 1))]}"; fi
    done
    [[ -n "$REVISION" ]] || die "$FN has no revision before ${serving:-the serving one}: nothing to roll back to"
  fi
fi
log "rollback $NS/$FN: 100 % to $REVISION (the latest keeps the tag 'latest' at 0 %)"
kube -n "$NS" patch ksvc "$FN" --type=merge \
  -p "{\"spec\":{\"traffic\":[{\"revisionName\":\"$REVISION\",\"percent\":100},{\"latestRevision\":true,\"percent\":0,\"tag\":\"latest\"}]}}"
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" "ksvc/$FN"
