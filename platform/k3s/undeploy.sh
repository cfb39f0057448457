#!/usr/bin/env bash
# make undeploy — removes what `make deploy` created for one overlay: Triggers and sources first (their
# RabbitMQ queues are deleted while the broker and RabbitMQ still run), then the Broker, the functions, and
# finally everything else in dist/manifests/$OVERLAY.yaml with its two Namespaces (the generated Secrets and the
# MongoDB/RabbitMQ volumes of the data namespace go with it). Leaves the platform: k3s, cert-manager, the RabbitMQ operators,
# Knative Serving/Eventing, Kourier, eventing-rabbitmq and their CRDs (shared by every overlay).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OVERLAY="${OVERLAY:-qualification}"
MANIFEST="${MANIFEST:-$REPO_ROOT/dist/manifests/$OVERLAY.yaml}"
[[ -f "$MANIFEST" ]] || die "$MANIFEST is missing: run make manifests"
NS="$(overlay_namespace "$MANIFEST" app)"
DATA_NS="$(overlay_namespace "$MANIFEST" data)"
require "$KUBECTL"

log "removing overlay $OVERLAY (namespaces $NS and $DATA_NS)"
kube -n "$NS" delete triggers.eventing.knative.dev --all --ignore-not-found --wait --timeout="$WAIT_TIMEOUT"
if grep -q '^kind: RabbitmqSource$' "$MANIFEST"; then
  kube -n "$NS" delete rabbitmqsources.sources.knative.dev --all --ignore-not-found --wait --timeout="$WAIT_TIMEOUT"
fi
kube -n "$NS" delete brokers.eventing.knative.dev --all --ignore-not-found --wait --timeout="$WAIT_TIMEOUT"
kube -n "$NS" delete services.serving.knative.dev --all --ignore-not-found --wait --timeout="$WAIT_TIMEOUT"
kube delete -f "$MANIFEST" --ignore-not-found --wait --timeout="$WAIT_TIMEOUT"
cat <<MSG
Removed namespace $NS with its functions, broker, triggers and generated Secrets, and namespace $DATA_NS with
RabbitMQ, MongoDB, Redis, the observability stack, their Secrets and volumes.
Left in place (shared platform, remove by hand if wanted): cert-manager $CERT_MANAGER_VERSION, RabbitMQ
cluster-operator $RABBITMQ_CLUSTER_OPERATOR_VERSION and messaging-topology-operator $RABBITMQ_TOPOLOGY_OPERATOR_VERSION,
Knative Serving $KNATIVE_SERVING_VERSION + Kourier, Knative Eventing $KNATIVE_EVENTING_VERSION + eventing-rabbitmq,
their CRDs and namespaces, the images imported into k3s, and k3s itself (/usr/local/bin/k3s-uninstall.sh).
MSG
