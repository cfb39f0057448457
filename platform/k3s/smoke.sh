#!/usr/bin/env bash
# make smoke — sends CloudEvents with curl to the Broker's ingress (through kubectl port-forward) and shows them
# processed: every (event, function) pair the Triggers promise must show up as a COMPLETED idempotency record
# in MongoDB (the runtime writes one per function and event), then prints the functions' last log lines.
# Events: one per subscribed type, from functions/*/examples/<type>.json with a fresh id.
# Env: OVERLAY, BROKER (default), LOCAL_PORT (18080), SMOKE_TIMEOUT seconds (180), DRY_RUN=1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OVERLAY="${OVERLAY:-qualification}"
MANIFEST="${MANIFEST:-$REPO_ROOT/dist/manifests/$OVERLAY.yaml}"
BROKER="${BROKER:-default}"
LOCAL_PORT="${LOCAL_PORT:-18080}"
SMOKE_TIMEOUT="${SMOKE_TIMEOUT:-180}"
[[ -f "$MANIFEST" ]] || die "$MANIFEST is missing: run make manifests"
NS="$(overlay_namespace "$MANIFEST" app)"
DATA_NS="$(overlay_namespace "$MANIFEST" data)"
require "$KUBECTL" curl node

work="$(mktemp -d)"
pf_pid=""
cleanup() {
  [[ -n "$pf_pid" ]] && kill "$pf_pid" 2>/dev/null
  rm -rf "$work"
}
trap cleanup EXIT

node "$K3S_DIR/validate/smoke-events.ts" "$MANIFEST" "$work" "${SMOKE_RUN_ID:-$(date +%s)}" >&2
mapfile -t events < <(find "$work" -name '[0-9]*.json' | sort)
[[ ${#events[@]} -gt 0 ]] || die "no Trigger subscribes to a type with an example event"
ids="$(cut -d' ' -f1 "$work/expected.txt" | sort -u | sed 's/.*/"&"/' | paste -sd, -)"
expected=$(wc -l <"$work/expected.txt")

log "port-forward to the $BROKER broker's ingress"
printf '+ %s &\n' "$(quote "$KUBECTL" -n "$NS" port-forward "svc/$BROKER-broker-ingress" "$LOCAL_PORT:80")"
if [[ "$DRY_RUN" != 1 ]]; then
  "$KUBECTL" -n "$NS" port-forward "svc/$BROKER-broker-ingress" "$LOCAL_PORT:80" >/dev/null &
  pf_pid=$!
  deadline=$((SECONDS + 30))
  until curl -s -o /dev/null "http://127.0.0.1:$LOCAL_PORT/"; do
    ((SECONDS < deadline)) || die "port-forward to svc/$BROKER-broker-ingress did not open"
    sleep 0.5
  done
fi

log "sending ${#events[@]} CloudEvents (structured mode)"
for file in "${events[@]}"; do
  printf '  %s\n' "$(head -c 300 "$file")" >&2
  if [[ "$DRY_RUN" == 1 ]]; then
    run curl -sS -X POST "http://127.0.0.1:$LOCAL_PORT/" -H 'content-type: application/cloudevents+json' --data-binary "@$file"
    continue
  fi
  post=(curl -sS -o /dev/null -w '%{http_code}' -X POST "http://127.0.0.1:$LOCAL_PORT/"
    -H 'content-type: application/cloudevents+json' --data-binary "@$file")
  printf '+ %s\n' "$(quote "${post[@]}")"
  code="$("${post[@]}")"
  [[ "$code" == 202 || "$code" == 200 ]] || die "broker ingress answered $code for $file"
  log "accepted ($code)"
done

log "waiting for $expected deliveries to be processed (COMPLETED records in MongoDB, ${SMOKE_TIMEOUT}s at most)"
query="const r = db.getSiblingDB('sluice').sluice_idempotency.find({ eventId: { \$in: [$ids] }, status: 'COMPLETED' }, { _id: 0, functionName: 1, eventId: 1 }).toArray(); print(r.length); r.forEach((x) => print(x.functionName + ' processed ' + x.eventId));"
mongo_eval() {
  # shellcheck disable=SC2016 # the credentials expand inside the pod, from its own environment
  run "$KUBECTL" -n "$DATA_NS" exec mongodb-0 -c mongodb -- sh -c \
    'exec mongosh --quiet -u "$MONGO_INITDB_ROOT_USERNAME" -p "$MONGO_INITDB_ROOT_PASSWORD" --authenticationDatabase admin --eval "$0"' "$query"
}
if [[ "$DRY_RUN" == 1 ]]; then
  mongo_eval
else
  deadline=$((SECONDS + SMOKE_TIMEOUT))
  while :; do
    out="$(mongo_eval 2>/dev/null | tail -n +2 || true)"
    done_count="$(head -1 <<<"$out")"
    [[ "$done_count" =~ ^[0-9]+$ && "$done_count" -ge "$expected" ]] && break
    ((SECONDS < deadline)) || die "only ${done_count:-0} of $expected deliveries processed; see kubectl -n $NS get triggers and the dispatcher logs"
    sleep 2
  done
  tail -n +2 <<<"$out"
fi

while read -r fn; do
  kube -n "$NS" logs -l "serving.knative.dev/service=$fn" -c function --tail=3 --prefix
done < <(cut -d' ' -f2 "$work/expected.txt" | sort -u)
if [[ "$DRY_RUN" == 1 ]]; then log "dry run: $expected deliveries would be awaited"; else log "smoke passed: $expected deliveries processed"; fi
