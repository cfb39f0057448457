# Fleet tracking (docs/fleet.md): position-simulator → position-tracker → vehicles-api, and the map at the gateway.
# `make dev` (with RABBITMQ_URL) runs the functions and the `positions` RabbitmqSource; these feed and rebuild them.
VEHICLES ?= 50
VEHICLE  ?=
VIA      ?= amqp
# RATE, DURATION and SEED are shared with streams.mk (`make stream`'s RATE defaults to 500 readings/s): here RATE
# is fixes per second per vehicle, 1 unless given on the command line or in the environment.
FLEET_RATE = $(if $(filter command line environment%,$(origin RATE)),$(RATE),1)

.PHONY: simulate
simulate: install ## drive simulated vehicles: make simulate [VEHICLES=50 RATE=1 DURATION=60s (0: until stopped) VIA=amqp|http SEED=1 PREFIX=v]
	node functions/fleet/position-simulator/cli.ts --vehicles $(VEHICLES) --rate $(FLEET_RATE) --duration $(or $(DURATION),60s) --seed $(or $(SEED),1) --via $(VIA) --prefix $(or $(PREFIX),v)

# fleet-web serves its built page (functions/fleet/fleet-web/static/, not committed): make dev builds every page first.
dev: pages

.PHONY: fleet-recompute
fleet-recompute: install ## rebuild speeds, trips and stops from the raw fixes (FLEET_* thresholds): make fleet-recompute [VEHICLE=v-001]
	VEHICLE='$(VEHICLE)' node functions/fleet/fleet-recompute/cli.ts
