#!/bin/sh
# Run by the elasticsearch-setup Job (POSIX sh in the curl image). Idempotent: every call is a PUT or an
# import with overwrite. With security off (dev overlay) the password calls are skipped.
set -eu
ES_URL="${ES_URL:-http://elasticsearch:9200}"
KIBANA_URL="${KIBANA_URL:-http://kibana:5601}"
AUTH="elastic:${ELASTIC_PASSWORD:-}"
HERE="$(dirname "$0")"

es() { # es METHOD PATH [FILE|-]
  if [ "$#" -ge 3 ]; then
    curl -fsS -u "$AUTH" -X "$1" "$ES_URL$2" -H 'content-type: application/json' --data-binary "@$3"
  else
    curl -fsS -u "$AUTH" -X "$1" "$ES_URL$2"
  fi
  echo
}

until curl -fsS -u "$AUTH" "$ES_URL/_cluster/health?wait_for_status=yellow&timeout=10s" >/dev/null; do
  echo "waiting for Elasticsearch"; sleep 5
done

security="$(curl -fsS -u "$AUTH" "$ES_URL/_xpack?categories=features" | grep -o '"security":{[^}]*"enabled":[a-z]*' | grep -o '[a-z]*$' || true)"
if [ "$security" = true ]; then
  printf '{"password":"%s"}' "$KIBANA_PASSWORD" | es POST /_security/user/kibana_system/_password -
  printf '%s' '{"cluster":["monitor"],"indices":[{"names":["sluice-logs-*"],"privileges":["create_index","create_doc","auto_configure"]}]}' \
    | es PUT /_security/role/sluice_logs_writer -
  printf '%s' '{"indices":[{"names":["sluice-logs-*"],"privileges":["read","view_index_metadata"]}]}' \
    | es PUT /_security/role/sluice_logs_reader -
  printf '{"password":"%s","roles":["sluice_logs_writer"]}' "$FLUENT_BIT_PASSWORD" | es PUT /_security/user/fluent-bit -
  printf '{"password":"%s","roles":["sluice_logs_reader"]}' "$GRAFANA_ES_PASSWORD" | es PUT /_security/user/grafana -
else
  echo "Elasticsearch security is off (dev overlay): no users to set"
fi

es PUT /_ingest/pipeline/sluice-logs "$HERE/ingest-pipeline.json"
es PUT /_index_template/sluice-logs "$HERE/index-template.json"

until curl -fsS -u "$AUTH" "$KIBANA_URL/api/status" >/dev/null; do
  echo "waiting for Kibana"; sleep 5
done
curl -fsS -u "$AUTH" -X POST "$KIBANA_URL/api/saved_objects/_import?overwrite=true" \
  -H 'kbn-xsrf: true' -F "file=@$HERE/saved-objects.ndjson"
echo
echo "Elasticsearch and Kibana are set up"
