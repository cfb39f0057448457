# Local platform (platform/local, docs/local-platform.md): `make dev` runs it.
# The Makefile exports a default RABBITMQ_URL for the integration tests; `make dev` uses RabbitMQ only
# when the caller set RABBITMQ_URL (environment or command line), so a fresh clone needs no service.
DEV_RABBITMQ_URL := $(if $(filter file,$(origin RABBITMQ_URL)),,$(RABBITMQ_URL))

.PHONY: check-local-services
check-local-services: install ## validate every functions/*/service.yaml as `make dev` reads it
	node platform/local/src/check-services.ts

TEST_CHECKS += check-local-services

.PHONY: console
console: install ## print the running make dev's console URL, with its per-run token (docs/console.md)
	@node platform/local/src/console/console-url.ts

.PHONY: lineage
lineage: install ## the path of one event through make dev, as a tree: make lineage ID=<event id> [ROOT=1]
	@node platform/local/src/console/lineage-cli.ts --id '$(ID)' $(if $(ROOT),--root)

.PHONY: try
try: install ## post a function's examples and show what became of each: make try FN=<name> (through make dev when it runs)
	@node platform/local/src/try.ts --fn '$(FN)'

.PHONY: triggers trigger-pause trigger-resume
triggers: install ## each Trigger of the running make dev: active or paused, dispatcher replicas, queue depth
	@node platform/local/src/triggers-cli.ts list
trigger-pause: install ## stop delivering a Trigger's events, keeping them in its queue: make trigger-pause TRIGGER=<name>
	@node platform/local/src/triggers-cli.ts pause '$(TRIGGER)'
trigger-resume: install ## deliver a paused Trigger's events again: make trigger-resume TRIGGER=<name>
	@node platform/local/src/triggers-cli.ts resume '$(TRIGGER)'
