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
# An environment is two namespaces (docs/deploy.md): NS for the functions and the broker, DATA_NS for RabbitMQ,
# MongoDB, Redis and the observability stack. A pod mounts Secrets of its own namespace only, so each Secret is
# created where its readers run (Redis' password in both).
NS="$(overlay_namespace "$MANIFEST" app)"
DATA_NS="$(overlay_namespace "$MANIFEST" data)"
[[ -n "$NS" && -n "$DATA_NS" ]] || die "$MANIFEST lacks its app or data Namespace (label sluice.dev/namespace-role)"

if [[ "$SKIP_PLATFORM" != 1 ]]; then
  WITH_RABBITMQ_SOURCE=0
  grep -q '^kind: RabbitmqSource$' "$MANIFEST" && WITH_RABBITMQ_SOURCE=1
  WITH_KEDA=0
  grep -q '^kind: ScaledObject$' "$MANIFEST" && WITH_KEDA=1
  # Production (its Namespaces' environment label) must survive a lost node, and serve its gateway over HTTPS.
  PLATFORM_HA=0 PLATFORM_TLS=0
  grep -q '^    sluice.dev/environment: production$' "$MANIFEST" && PLATFORM_HA=1 PLATFORM_TLS=1
  export WITH_RABBITMQ_SOURCE WITH_KEDA PLATFORM_HA PLATFORM_TLS
  "$K3S_DIR/install-platform.sh"
fi

log "application: overlay $OVERLAY, namespaces $NS (functions) and $DATA_NS (data services)"
# The Namespaces first, so the Secrets below can be created before the workloads that read them.
run_stdin "<Namespaces $NS, $DATA_NS>" "$KUBECTL" apply --server-side --field-manager=sluice -f - <<YAML
apiVersion: v1
kind: Namespace
metadata:
  name: $NS
---
apiVersion: v1
kind: Namespace
metadata:
  name: $DATA_NS
YAML

# Credentials are generated here, never committed. MongoDB reads the root and application users from
# mongodb-credentials (data namespace) on its first start; functions get MONGODB_URL from sluice-function-env
# (app namespace), which names MongoDB across namespaces.
if secret_exists "$DATA_NS" mongodb-credentials; then
  log "secret $DATA_NS/mongodb-credentials exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then
    root_password='<root-password>' app_password='<app-password>'
  else
    root_password="$(random_secret)" app_password="$(random_secret)"
  fi
  run_stdin "<generated mongodb-credentials: root-username, root-password, app-username, app-password>" \
    "$KUBECTL" -n "$DATA_NS" create -f - <<YAML
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
# The backups' user (40-backup-user.js: backup and restore roles only), for the CronJob and make restore.
if secret_exists "$DATA_NS" mongodb-backup-credentials; then
  log "secret $DATA_NS/mongodb-backup-credentials exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then backup_password='<backup-password>'; else backup_password="$(random_secret)"; fi
  run_stdin "<generated mongodb-backup-credentials: username, password>" "$KUBECTL" -n "$DATA_NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: mongodb-backup-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  username: mongodb-backup
  password: "$backup_password"
YAML
fi
# A replica set (production: components/high-availability) authenticates its members with a shared keyfile.
if grep -q 'secretName: mongodb-keyfile' "$MANIFEST"; then
  if secret_exists "$DATA_NS" mongodb-keyfile; then
    log "secret $DATA_NS/mongodb-keyfile exists: kept"
  else
    if [[ "$DRY_RUN" == 1 ]]; then keyfile='<keyfile>'; else keyfile="$(head -c 756 /dev/urandom | base64 -w0)"; fi
    run_stdin "<generated mongodb-keyfile: keyfile>" "$KUBECTL" -n "$DATA_NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: mongodb-keyfile
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  keyfile: "$keyfile"
YAML
  fi
fi
# MONGODB_URL is derived (the app password and the store's shape), so it is written on every deploy: against a
# replica set the driver finds the members from the seed, and every write waits for a majority (w=majority), so
# an acknowledged write survives the loss of the primary.
mongodb_options='authSource=admin'
grep -q -- '- --replSet' "$MANIFEST" && mongodb_options+='&replicaSet=rs0&w=majority'
if [[ "$DRY_RUN" == 1 ]]; then
  app_password='<app-password>'
else
  app_password="${app_password:-$("$KUBECTL" -n "$DATA_NS" get secret mongodb-credentials -o jsonpath='{.data.app-password}' | base64 -d)}"
fi
run_stdin "<generated sluice-function-env: MONGODB_URL>" "$KUBECTL" -n "$NS" apply --server-side --force-conflicts \
  --field-manager=sluice-deploy -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: sluice-function-env
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  MONGODB_URL: "mongodb://sluice:$app_password@mongodb.$DATA_NS.svc.cluster.local:27017/?$mongodb_options"
YAML

# The orders system's functions each have a MongoDB user limited to their own database (docs/orders.md): the
# passwords are generated once (data namespace, read by MongoDB's 30-orders-users.js), and each function's
# MONGODB_URL is derived on every deploy into a Secret of its own in the app namespace (its service.yaml names it).
if secret_exists "$DATA_NS" orders-mongodb-credentials; then
  log "secret $DATA_NS/orders-mongodb-credentials exists: kept"
  orders_passwords_new=0
else
  orders_passwords_new=1
  if [[ "$DRY_RUN" == 1 ]]; then
    inventory_password='<inventory-password>' orders_api_password='<orders-api-password>' billing_password='<billing-password>'
  else
    inventory_password="$(random_secret)" orders_api_password="$(random_secret)" billing_password="$(random_secret)"
  fi
  run_stdin "<generated orders-mongodb-credentials: inventory-password, orders-api-password, billing-password>" \
    "$KUBECTL" -n "$DATA_NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: orders-mongodb-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  inventory-password: "$inventory_password"
  orders-api-password: "$orders_api_password"
  billing-password: "$billing_password"
YAML
fi
for fn in inventory:orders-inventory:inventory-password:inventory orders-api:orders-api:orders-api-password:orders \
  billing:orders-billing:billing-password:billing; do
  IFS=: read -r service user key database <<<"$fn"
  if [[ "$DRY_RUN" == 1 ]]; then
    password="<$key>"
  elif [[ "$orders_passwords_new" == 1 ]]; then
    case "$key" in
      inventory-password) password="$inventory_password" ;;
      orders-api-password) password="$orders_api_password" ;;
      *) password="$billing_password" ;;
    esac
  else
    password="$("$KUBECTL" -n "$DATA_NS" get secret orders-mongodb-credentials -o jsonpath="{.data.$key}" | base64 -d)"
  fi
  run_stdin "<generated $service-mongodb: MONGODB_URL>" "$KUBECTL" -n "$NS" apply --server-side --force-conflicts \
    --field-manager=sluice-deploy -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: $service-mongodb
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  MONGODB_URL: "mongodb://$user:$password@mongodb.$DATA_NS.svc.cluster.local:27017/$database?$mongodb_options"
YAML
done

# The quotes system's admin key (docs/quotes.md) and the gateway's Redis password: one per environment, so
# qualification and production never share a key. The password is generated once into redis-credentials, in the
# data namespace (Redis) and the app namespace (the gateway reads its URL): the same value, written to both.
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
redis_secret() { # NS PASSWORD
  run_stdin "<generated redis-credentials: password, url>" "$KUBECTL" -n "$1" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: redis-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  password: "$2"
  url: "redis://:$2@redis.$DATA_NS.svc.cluster.local:6379/0"
YAML
}
if secret_exists "$DATA_NS" redis-credentials; then
  log "secret $DATA_NS/redis-credentials exists: kept"
  if [[ "$DRY_RUN" == 1 ]]; then redis_password='<redis-password>'; else
    redis_password="$("$KUBECTL" -n "$DATA_NS" get secret redis-credentials -o jsonpath='{.data.password}' | base64 -d)"
  fi
else
  if [[ "$DRY_RUN" == 1 ]]; then redis_password='<redis-password>'; else redis_password="$(random_secret)"; fi
  redis_secret "$DATA_NS" "$redis_password"
fi
if secret_exists "$NS" redis-credentials; then
  log "secret $NS/redis-credentials exists: kept"
else
  redis_secret "$NS" "$redis_password"
fi
# Redis reads the password from a config file (redis-config, mounted by redis.yaml), never from its command line
# or env. Derived like MONGODB_URL, so it is written on every deploy: an environment deployed before it existed
# gets it from its kept password before the manifests that mount it are applied.
run_stdin "<generated redis-config: redis.conf>" "$KUBECTL" -n "$DATA_NS" apply --server-side --force-conflicts \
  --field-manager=sluice-deploy -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: redis-config
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  redis.conf: "requirepass $redis_password"
YAML

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
      kube -n "$DATA_NS" wait --for=condition=AllReplicasReady --timeout="$WAIT_TIMEOUT" rabbitmqcluster/rabbitmq
      mq_user="$("$KUBECTL" -n "$DATA_NS" get secret rabbitmq-default-user -o jsonpath='{.data.username}' | base64 -d)"
      mq_password="$("$KUBECTL" -n "$DATA_NS" get secret rabbitmq-default-user -o jsonpath='{.data.password}' | base64 -d)"
    fi
    run_stdin "<generated keda-rabbitmq-management: host>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: keda-rabbitmq-management
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  host: "http://$mq_user:$mq_password@rabbitmq.$DATA_NS.svc.cluster.local:15672/"
YAML
  fi
fi

# Observability Secrets (Elasticsearch, Kibana, Fluent Bit, Grafana, Alertmanager webhook, the MongoDB
# exporter's user), in the data namespace with the stack: generated when absent.
"$REPO_ROOT/observability/k8s/credentials.sh" "$DATA_NS"

kube apply --server-side --force-conflicts --field-manager=sluice -f "$MANIFEST"

# In dependency order: the functions (the dead-letter sink among them) must have an address before the
# Broker's and Triggers' dead-letter dispatchers can resolve it.
log "waiting for the data services, the functions, the broker and the triggers"
kube -n "$DATA_NS" rollout status statefulset/mongodb --timeout="$WAIT_TIMEOUT"
if grep -q '^  name: mongodb-replica-set-init$' "$MANIFEST"; then
  kube -n "$DATA_NS" wait --for=condition=Complete --timeout="$WAIT_TIMEOUT" job/mongodb-replica-set-init
fi
# The exporter's and the backups' least-privilege users, also on a database initialised before they existed
# (idempotent; the scripts read every credential from the container's env, so none is on a command line).
kube -n "$DATA_NS" exec statefulset/mongodb -c mongodb -- mongosh --quiet /docker-entrypoint-initdb.d/20-exporter-user.js
# The orders functions' users, each limited to its own database (idempotent, like the exporter's). The passwords are
# in MongoDB's env from the Secret created above; the deploy that added those env entries rolled the StatefulSet.
kube -n "$DATA_NS" exec statefulset/mongodb -c mongodb -- mongosh --quiet /docker-entrypoint-initdb.d/30-orders-users.js
kube -n "$DATA_NS" exec statefulset/mongodb -c mongodb -- mongosh --quiet /docker-entrypoint-initdb.d/40-backup-user.js
kube -n "$DATA_NS" wait --for=condition=AllReplicasReady --timeout="$WAIT_TIMEOUT" rabbitmqcluster/rabbitmq
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" ksvc --all
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" broker --all
kube -n "$NS" wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" trigger --all

MANIFEST="$MANIFEST" "$K3S_DIR/endpoints.sh"
