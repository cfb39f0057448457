#!/usr/bin/env bash
# Installs the pinned upstream releases (versions.env) in dependency order, each followed by a wait on the
# deployments or CRDs it creates:
#   cert-manager → RabbitMQ cluster-operator → messaging-topology-operator → Knative Serving CRDs, core →
#   net-kourier + config-network → config-deployment → DNS → Knative Eventing CRDs, core →
#   eventing-rabbitmq broker (+ source when WITH_RABBITMQ_SOURCE=1) → KEDA (when WITH_KEDA=1: the manifests hold
#   a ScaledObject, whose CRD must exist before they are applied).
# Idempotent: server-side apply of the same release converges; the ConfigMap patches are merges.
#   PLATFORM_HA=1 (production): 2 activators, webhooks, Kourier gateways; PLATFORM_TLS=1: HTTPS (docs/deploy.md).
# Env: DOMAIN, ACME_EMAIL, WITH_RABBITMQ_SOURCE, WITH_KEDA, PLATFORM_HA, PLATFORM_TLS (0|1), DRY_RUN (0|1).
set -euo pipefail
# shellcheck source=lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

DOMAIN="${DOMAIN:-}"
WITH_RABBITMQ_SOURCE="${WITH_RABBITMQ_SOURCE:-0}"
WITH_KEDA="${WITH_KEDA:-0}"
PLATFORM_HA="${PLATFORM_HA:-0}"
PLATFORM_TLS="${PLATFORM_TLS:-0}"
ACME_EMAIL="${ACME_EMAIL:-}"
[[ "$PLATFORM_TLS" != 1 || -z "$DOMAIN" || "$ACME_EMAIL" =~ ^[^@[:space:]]+@[^@[:space:]]+$ ]] ||
  die "HTTPS with DOMAIN=$DOMAIN needs ACME_EMAIL (Let's Encrypt's account address)"
GH=https://github.com
SERVING="$GH/knative/serving/releases/download/$KNATIVE_SERVING_VERSION"
EVENTING="$GH/knative/eventing/releases/download/$KNATIVE_EVENTING_VERSION"
EVENTING_RABBITMQ="$GH/knative-extensions/eventing-rabbitmq/releases/download/$KNATIVE_EVENTING_RABBITMQ_VERSION"

require "$KUBECTL"

log "1/9 cert-manager $CERT_MANAGER_VERSION"
apply_url "$GH/cert-manager/cert-manager/releases/download/$CERT_MANAGER_VERSION/cert-manager.yaml"
wait_deployments cert-manager cert-manager cert-manager-cainjector cert-manager-webhook

log "2/9 RabbitMQ cluster-operator $RABBITMQ_CLUSTER_OPERATOR_VERSION"
# Its webhook Certificate goes through cert-manager's webhook, which may still be injecting its CA.
apply_url_retrying "$GH/rabbitmq/cluster-operator/releases/download/$RABBITMQ_CLUSTER_OPERATOR_VERSION/cluster-operator.yml"
wait_crds rabbitmqclusters.rabbitmq.com
wait_deployments rabbitmq-system rabbitmq-cluster-operator

log "3/9 RabbitMQ messaging-topology-operator $RABBITMQ_TOPOLOGY_OPERATOR_VERSION (cert-manager flavour)"
apply_url_retrying "$GH/rabbitmq/messaging-topology-operator/releases/download/$RABBITMQ_TOPOLOGY_OPERATOR_VERSION/messaging-topology-operator-with-certmanager.yaml"
wait_crds queues.rabbitmq.com exchanges.rabbitmq.com bindings.rabbitmq.com policies.rabbitmq.com
wait_deployments rabbitmq-system messaging-topology-operator

log "4/9 Knative Serving $KNATIVE_SERVING_VERSION: CRDs, then core"
apply_url "$SERVING/serving-crds.yaml"
wait_crds services.serving.knative.dev configurations.serving.knative.dev revisions.serving.knative.dev routes.serving.knative.dev
apply_url "$SERVING/serving-core.yaml"
wait_deployments knative-serving activator autoscaler controller webhook

log "5/9 net-kourier $KNATIVE_NET_KOURIER_VERSION as the Knative ingress"
apply_url "$GH/knative-extensions/net-kourier/releases/download/$KNATIVE_NET_KOURIER_VERSION/kourier.yaml"
wait_deployments kourier-system 3scale-kourier-gateway
wait_deployments knative-serving net-kourier-controller
kube -n knative-serving patch configmap/config-network --type=merge \
  -p '{"data":{"ingress-class":"kourier.ingress.networking.knative.dev"}}'

log "6/9 config-deployment: images under dev.local are imported into k3s, not pulled; skip digest resolution"
kube -n knative-serving patch configmap/config-deployment --type=merge \
  -p '{"data":{"registries-skipping-tag-resolving":"kind.local,ko.local,dev.local"}}'

if [[ -n "$DOMAIN" ]]; then
  log "7/9 DNS: config-domain $DOMAIN (point a wildcard *.$DOMAIN at the node)"
  kube -n knative-serving patch configmap/config-domain --type=merge -p "{\"data\":{\"$DOMAIN\":\"\"}}"
else
  log "7/9 DNS: sslip.io default domain (<service>.<namespace>.<node-ip>.sslip.io)"
  apply_url "$SERVING/serving-default-domain.yaml"
  kube -n knative-serving wait --for=condition=Complete --timeout="$WAIT_TIMEOUT" job/default-domain
fi

log "8/9 Knative Eventing $KNATIVE_EVENTING_VERSION: CRDs, then core"
apply_url "$EVENTING/eventing-crds.yaml"
wait_crds brokers.eventing.knative.dev triggers.eventing.knative.dev
apply_url "$EVENTING/eventing-core.yaml"
wait_deployments knative-eventing eventing-controller eventing-webhook

log "9/9 eventing-rabbitmq $KNATIVE_EVENTING_RABBITMQ_VERSION: RabbitMQ broker"
apply_url "$EVENTING_RABBITMQ/rabbitmq-broker.yaml"
wait_crds rabbitmqbrokerconfigs.eventing.knative.dev
wait_deployments knative-eventing rabbitmq-broker-controller rabbitmq-broker-webhook
if [[ "$WITH_RABBITMQ_SOURCE" == 1 ]]; then
  log "9/9 eventing-rabbitmq: RabbitmqSource (the manifests use one)"
  apply_url "$EVENTING_RABBITMQ/rabbitmq-source.yaml"
  wait_crds rabbitmqsources.sources.knative.dev
  wait_deployments knative-sources rabbitmq-controller-manager rabbitmq-webhook
fi
if [[ "$WITH_KEDA" == 1 ]]; then
  log "10/10 KEDA $KEDA_VERSION (the manifests scale a trigger dispatcher on queue depth)"
  apply_url "$GH/kedacore/keda/releases/download/$KEDA_VERSION/keda-${KEDA_VERSION#v}.yaml"
  wait_crds scaledobjects.keda.sh triggerauthentications.keda.sh
  wait_deployments keda keda-operator keda-operator-metrics-apiserver keda-admission-webhooks
fi
# Knative's high-availability guidance: the activator's and webhook's HPA minReplicas (serving-core ships their
# PodDisruptionBudgets); Kourier's gateway is the public data path in front of api-gateway.
if [[ "$PLATFORM_HA" == 1 ]]; then
  log "high availability: 2 activators, 2 Serving webhooks, 2 Kourier gateways"
  kube -n knative-serving patch hpa activator --type=merge -p '{"spec":{"minReplicas":2}}'
  kube -n knative-serving patch hpa webhook --type=merge -p '{"spec":{"minReplicas":2}}'
  kube -n kourier-system scale deployment 3scale-kourier-gateway --replicas=2
  wait_deployments knative-serving activator webhook
  wait_deployments kourier-system 3scale-kourier-gateway
fi
# HTTPS on the external domain (the public gateway; cluster-local Services are not on it), HTTP redirected:
# Knative's cert-manager integration (in the Serving controller) asks cert-manager for a certificate per Service.
if [[ "$PLATFORM_TLS" == 1 ]]; then
  if [[ -n "$DOMAIN" ]]; then
    log "HTTPS: Let's Encrypt (HTTP-01 through Kourier) for *.$DOMAIN, account $ACME_EMAIL"
    run_stdin "<ClusterIssuer sluice-acme, email $ACME_EMAIL>" "$KUBECTL" apply --server-side --force-conflicts -f - \
      < <(sed "s|email: ACME_EMAIL|email: $ACME_EMAIL|" "$K3S_DIR/tls/acme-issuer.yaml")
    issuer=sluice-acme
  else
    log "HTTPS: no DOMAIN, so a CA of this cluster (cert-manager, self-signed root)"
    kube apply --server-side --force-conflicts -f "$K3S_DIR/tls/selfsigned-ca.yaml"
    kube -n cert-manager wait --for=condition=Ready --timeout="$WAIT_TIMEOUT" certificate/sluice-ca
    issuer=sluice-ca
  fi
  kube -n knative-serving patch configmap/config-certmanager --type=merge \
    -p "{\"data\":{\"issuerRef\":\"kind: ClusterIssuer\\nname: $issuer\\n\"}}"
  kube -n knative-serving patch configmap/config-network --type=merge \
    -p '{"data":{"external-domain-tls":"Enabled","http-protocol":"Redirected"}}'
  # The integration reads its config at start (Knative's docs restart the controller after enabling it).
  kube -n knative-serving rollout restart deployment/controller
  wait_deployments knative-serving controller
fi
log "platform ready"
