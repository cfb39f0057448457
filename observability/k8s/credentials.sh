#!/usr/bin/env bash
# Creates the observability Secrets in namespace $1 when absent (never committed; a second run keeps them):
#   observability-credentials: elastic-password, kibana-password, fluent-bit-password, grafana-es-password,
#                              grafana-admin-password (random)
#   alertmanager-webhook:      url (ALERT_WEBHOOK_URL, default a placeholder that drops notifications)
#   mongodb-exporter-credentials: username, password (random) of the exporter's least-privilege MongoDB user,
#                              which MongoDB's init script creates (platform/k3s/kustomize/base/mongodb.yaml)
# Called by `make deploy` before the manifests are applied; DRY_RUN=1 prints instead.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=../../platform/k3s/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../platform/k3s/lib.sh"

NS="${1:?usage: credentials.sh <namespace>}"

if secret_exists "$NS" observability-credentials; then
  log "secret $NS/observability-credentials exists: kept"
else
  p() { if [[ "$DRY_RUN" == 1 ]]; then echo "<$1>"; else random_secret; fi; }
  run_stdin "<generated observability-credentials>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: observability-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  elastic-password: "$(p elastic-password)"
  kibana-password: "$(p kibana-password)"
  fluent-bit-password: "$(p fluent-bit-password)"
  grafana-es-password: "$(p grafana-es-password)"
  grafana-admin-password: "$(p grafana-admin-password)"
YAML
fi

if secret_exists "$NS" alertmanager-webhook; then
  log "secret $NS/alertmanager-webhook exists: kept (delete it to change the URL)"
else
  url="${ALERT_WEBHOOK_URL:-http://localhost:9/not-configured}"
  run_stdin "<alertmanager-webhook url=$url>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: alertmanager-webhook
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  url: "$url"
YAML
fi

if secret_exists "$NS" alertmanager-smtp; then
  log "secret $NS/alertmanager-smtp exists: kept (delete it to change the SMTP password)"
else
  # The SMTP relay's password for the on-call mail (alertmanager.yml global.smtp_*); ALERT_SMTP_PASSWORD, or a
  # placeholder until you set yours.
  if [[ "$DRY_RUN" == 1 ]]; then smtp_password='<smtp-password>'; else smtp_password="${ALERT_SMTP_PASSWORD:-not-configured}"; fi
  run_stdin "<alertmanager-smtp password>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: alertmanager-smtp
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  password: "$smtp_password"
YAML
fi

if secret_exists "$NS" mongodb-exporter-credentials; then
  log "secret $NS/mongodb-exporter-credentials exists: kept"
else
  if [[ "$DRY_RUN" == 1 ]]; then exporter_password='<exporter-password>'; else exporter_password="$(random_secret)"; fi
  run_stdin "<generated mongodb-exporter-credentials: username, password>" "$KUBECTL" -n "$NS" create -f - <<YAML
apiVersion: v1
kind: Secret
metadata:
  name: mongodb-exporter-credentials
  labels: { app.kubernetes.io/part-of: sluice, app.kubernetes.io/managed-by: sluice-deploy }
type: Opaque
stringData:
  username: mongodb-exporter
  password: "$exporter_password"
YAML
fi
