# The capacity model (docs/capacity.md): replicas, parallelism, RabbitMQ, MongoDB and nodes for a target rate.
SYSTEM ?= banking

.PHONY: capacity
capacity: install ## the plan for a target rate: make capacity RATE=<events/s> [SYSTEM=banking|streams]
	@RATE='$(RATE)' SYSTEM='$(SYSTEM)' node platform/capacity/cli.ts
