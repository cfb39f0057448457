#!/usr/bin/env bash
# make deploy — installs the platform (install-platform.sh), creates the generated credentials, applies
# dist/manifests/$OVERLAY.yaml (what `make manifests` rendered, byte for byte) and waits for it to be ready.
# Assumes KUBECONFIG points at the cluster. Idempotent: server-side apply converges, Secrets are created only
# when absent (a second run keeps the passwords MongoDB was initialised with).
# Env: OVERLAY (qualification|production), SKIP_PLATFORM=1 (application only), DRY_RUN=1.
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

OVERLAY="${OVERLAY:-qualification}"
MANIFEST="${MANIFEST:-$REPO_ROOT/dist/manifests/$OVERLAY.yaml}"
SKIP_PLATFORM="${SKIP_PLATFORM:-0}"

[[ -f "$MANIFEST" ]] || die "$MANIFEST is missing: run make manifests"
NS="$(overlay_namespace "$MANIFEST")"
[[ -n "$NS" ]] || die "$MANIFEST has no Namespace object"

if [[ "$SKIP_PLATFORM" != 1 ]]; then
  WITH_RABBITMQ_SOURCE=0
  grep -q '^kind: RabbitmqSource$' "$MANIFEST" && WITH_RABBITMQ_SOURCE=1
  WITH_KEDA=0
  grep -q '^kind: ScaledObject$' "$MANIFEST" && WITH_KEDA=1
  export WITH_RABBITMQ_SOURCE WITH_KEDA
  "$K3S_DIR/install-platform.sh"
fi

log "application: overlay $OVERLAY, namespace $NS"
# The Namespace first, so the Secrets below can be created before the workloads that read them.
run_stdin "<Namespace $NS>" "$KUBECTL" apply --server-side --field-manager=sluice -f - <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
YAML

# Credentials are generated here, never committed. MongoDB reads the root and application users from
# mongodb-credentials on its first start; functions get MONGODB_URL from sluice-function-env.
if secret_exists "$NS" mongodb-credentials; then
  log "secret $NS/mongodb-credentials exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then
    root_password='<root-password>' app_password='<app-password>'
  else
    root_password="$(random_secret)" app_password="$(random_secret)"
  fi
  run_stdin "<generated mongodb-credentials: root-username, root-password, app-username, app-password>" \
    "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: mongodb-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  root-username: root
  root-password: "$root_password"
  app-username: sluice
  app-password: "$app_password"
YAML
fi
if secret_exists "$NS" sluice-function-env; then
  log "secret $NS/sluice-function-env exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then
    app_password='<app-password>'
  else
    app_password="${app_password:-$("$KUBECTL" -n "$NS" get secret mongodb-credentials -o jsonpath='{.data.app-password}' | base64 -d)}"
  fi
  run_stdin "<generated sluice-function-env: MONGODB_URL>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: sluice-function-env
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  MONGODB_URL: "mongodb://sluice:$app_password@mongodb.$NS.svc.cluster.local:27017/?authSource=admin"
YAML
fi

# The quotes system's admin key (docs/quotes.md) and the gateway's Redis password: one per namespace, so
# qualification and production never share a key.
if secret_exists "$NS" quotes-admin-key; then
  log "secret $NS/quotes-admin-key exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then admin_key='<admin-key>'; else admin_key="$(random_secret)"; fi
  run_stdin "<generated quotes-admin-key: admin-key>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: quotes-admin-key
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  admin-key: "$admin_key"
YAML
fi
if secret_exists "$NS" redis-credentials; then
  log "secret $NS/redis-credentials exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then redis_password='<redis-password>'; else redis_password="$(random_secret)"; fi
  run_stdin "<generated redis-credentials: password, url>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: redis-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  password: "$redis_password"
  url: "redis://:$redis_password@redis.$NS.svc.cluster.local:6379/0"
YAML
fi

# KEDA reads queue depths from the RabbitMQ management API (useRegex needs it): its URL, with the RabbitmqCluster's
# generated default user, in a Secret the TriggerAuthentication names. Written once the cluster has made that user.
if grep -q '^kind: ScaledObject$' "$MANIFEST"; then
  if secret_exists "$NS" keda-rabbitmq-management; then
    log "secret $NS/keda-rabbitmq-management exists: kept"
  else
    if [[ "$DRY_RUN" == 1 ]]; then
      mq_user='<rabbitmq-user>' mq_password='<rabbitmq-password>'
    else
      kube apply --server-side --force-conflicts --field-manager=sluice -f "$MANIFEST" >/dev/null 2>&1 || true
      kube -n "$NS" wait --for=condition=AllReplicasReady --timeout="$WAIT_TIMEOUT" rabbitmqcluster/rabbitmq
      mq_user="$("$KUBECTL" -n "$NS" get secret rabbitmq-default-user -o jsonpath='{.data.username}' | base64 -d)"
      mq_password="$("$KUBECTL" -n "$NS" get secret rabbitmq-default-user -o jsonpath='{.data.password}' | base64 -d)"
    fi
    run_stdin "<generated keda-rabbitmq-management: host>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: keda-rabbitmq-management
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  host: "http://$mq_user:$mq_password@rabbitmq.$NS.svc.cluster.local:15672/"
YAML
  fi
fi

# Observability Secrets (Elasticsearch, Kibana, Fluent Bit, Grafana, Alertmanager webhook): generated when absent.
"$REPO_ROOT/observability/k8s/credentials.sh" "$NS"

kube apply --server-side --force-conflicts --field-manager=sluice -f "$MANIFEST"

# In dependency order: the functions (the dead-letter sink among them) must have an address before the
# Broker's and Triggers' dead-letter dispatchers can resolve it.
log "waiting for the data services, the functions, the broker and the triggers"
kube -n "$NS" rollout status statefulset/mongodb --timeout="$WAIT_TIMEOUT"
# The exporter's least-privilege user, also on a database initialised before it existed (idempotent; the script
# reads every credential from the container's env, so none is on a command line).
kube -n "$NS" exec statefulset/mongodb -c mongodb -- mongosh --quiet /docker-entrypoint-initdb.d/20-exporter-user.js
kube -n "$NS" wait --for=condition=AllReplicasReady --timeout="$WAIT_TIMEOUT" rabbitmqcluster/rabbitmq
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" ksvc --all
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" broker --all
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" trigger --all

MANIFEST="$MANIFEST" "$K3S_DIR/endpoints.sh"
