#!/usr/bin/env bash
# Prints where each endpoint and UI of a deployed overlay is (the end of `make deploy`; also `make endpoints`).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OVERLAY="${OVERLAY:-qualification}"
MANIFEST="${MANIFEST:-$REPO_ROOT/dist/manifests/$OVERLAY.yaml}"
[[ -f "$MANIFEST" ]] || die "$MANIFEST is missing: run make manifests"
NS="$(overlay_namespace "$MANIFEST" app)"

log "endpoints of $NS"
kube -n "$NS" get ksvc
kube -n kourier-system get svc kourier
node "$K3S_DIR/validate/endpoints.ts" "$MANIFEST"
