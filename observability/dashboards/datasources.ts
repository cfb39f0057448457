/**
 * The Grafana datasources the dashboards use, by uid. Provisioned by
 * observability/k8s/grafana/provisioning/datasources.yaml (a test checks both agree).
 */
export const PROMETHEUS = { type: 'prometheus', uid: 'prometheus' } as const;
export const ELASTICSEARCH = { type: 'elasticsearch', uid: 'elasticsearch-logs' } as const;

/** The Elasticsearch index pattern and time field of the functions' logs (Fluent Bit → Logstash_Prefix). */
export const LOG_INDEX_PATTERN = 'sluice-logs-*';
export const LOG_TIME_FIELD = '@timestamp';
/** Kibana's external URL as Grafana users reach it; a dashboard constant, change it per installation. */
export const KIBANA_URL_DEFAULT = 'http://localhost:5601';
/** Saved objects in observability/k8s/kibana/saved-objects.ndjson that the dashboards link to. */
export const KIBANA_DATA_VIEW_ID = 'sluice-logs';
