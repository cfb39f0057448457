# Observability (issue 6; docs/observability.md): promtool checks of the Prometheus config and alert rules,
# dashboards as code, and `make observe` (Prometheus from Debian's package scraping `make dev`).
#   make observe              Prometheus on :9090 scraping .tmp/dev/prometheus-targets.json (make dev writes it)
#   make dashboards           regenerate observability/k8s/grafana/generated/*.json from the TypeScript
#   make check-observability  promtool check config / check rules / test rules, dashboards up to date, shellcheck
.PHONY: amtool check-alertmanager promtool observe dashboards check-observability check-prometheus check-dashboards shellcheck-observability

PROMTOOL       ?= promtool
PROMETHEUS_BIN ?= prometheus
OBSERVE_PORT   ?= 9090
PROM_RULES_DIR := observability/k8s/prometheus

TEST_CHECKS += check-observability
# The vitest suites pipe a live exposition and the rules through promtool: install it before they run.
test test-unit test-int: promtool

AMTOOL         ?= amtool
ALERTMANAGER_BIN ?= prometheus-alertmanager
export ALERTMANAGER_BIN
# The mail test (observability/test/alert-mail.int.test.ts) runs Alertmanager: install it first.
test test-int: amtool

# Debian's `prometheus-alertmanager` ships amtool and the alertmanager server (as prometheus-alertmanager).
amtool: ## install amtool and Alertmanager (apt-get install prometheus-alertmanager) when missing
	@command -v $(AMTOOL) >/dev/null && command -v $(ALERTMANAGER_BIN) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus-alertmanager; \
	  else echo "amtool is missing: sudo apt-get install prometheus-alertmanager"; exit 1; fi; }

# Debian's Alertmanager is 0.25, older than the image (v0.28.1): it does not know webhook `url_file` (0.27), so
# that one line is replaced by a `url` before the check; everything else is checked as written.
check-alertmanager: amtool ## amtool check-config of the Alertmanager routing
	@mkdir -p .tmp && sed 's#url_file: .*#url: http://127.0.0.1:9/not-configured#' \
	  observability/k8s/alertmanager/alertmanager.yml > .tmp/alertmanager.check.yml
	$(AMTOOL) check-config .tmp/alertmanager.check.yml

# Debian's `prometheus` package ships both promtool and the prometheus server.
promtool: ## install promtool (apt-get install prometheus) when missing
	@command -v $(PROMTOOL) >/dev/null || { \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null; then \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq prometheus; \
	  else echo "promtool is missing: sudo apt-get install prometheus (or set PROMTOOL=/path/to/promtool)"; exit 1; fi; }

check-prometheus: install promtool ## promtool check config (local + cluster) / check rules / test rules
	$(PROMTOOL) check rules $(PROM_RULES_DIR)/sluice.rules.yml
	cd $(PROM_RULES_DIR) && $(PROMTOOL) test rules sluice.rules.test.yml
	$(PROMTOOL) check config observability/local/prometheus.yml
	node observability/test/prometheus-config.ts

check-dashboards: install ## the checked-in dashboard JSON matches its TypeScript
	node observability/dashboards/build.ts --check

shellcheck-observability: ## shellcheck the observability scripts
	@command -v shellcheck >/dev/null || { echo "shellcheck is missing: sudo apt-get install shellcheck"; exit 1; }
	shellcheck -x observability/k8s/credentials.sh observability/dev/credentials.sh
	shellcheck -s sh observability/k8s/elasticsearch/setup.sh

check-observability: check-prometheus check-alertmanager check-dashboards shellcheck-observability

dashboards: install ## regenerate the Grafana dashboard JSON from observability/dashboards/*.dashboard.ts
	node observability/dashboards/build.ts

observe: promtool ## Prometheus on :$(OBSERVE_PORT) scraping the local platform (run make dev alongside)
	@command -v $(PROMETHEUS_BIN) >/dev/null || { echo "prometheus is missing: sudo apt-get install prometheus"; exit 1; }
	@mkdir -p .tmp/dev .tmp/observe
	@[ -f .tmp/dev/prometheus-targets.json ] || echo '[]' > .tmp/dev/prometheus-targets.json
	@echo "Prometheus: http://127.0.0.1:$(OBSERVE_PORT)  (targets from .tmp/dev/prometheus-targets.json, written by make dev)"
	$(PROMETHEUS_BIN) --config.file=observability/local/prometheus.yml --storage.tsdb.path=.tmp/observe/data \
	  --web.listen-address=127.0.0.1:$(OBSERVE_PORT) --storage.tsdb.retention.time=1d
