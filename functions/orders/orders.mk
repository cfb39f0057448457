# Movies inventory, orders and billing (docs/orders.md). `make dev` runs the functions; the drill exercises them.
ORDERS ?= 20

.PHONY: drill
# On a cluster the drill reads the overlay's namespaces from its rendered manifest (make manifests).
drill: install $(if $(KUBECONFIG),manifests) ## pause billing, place ORDERS orders (all 202, none billed, all queued), resume, check each billed once: make drill [ORDERS=20] (KUBECONFIG: on the cluster; DRY_RUN=1 prints its commands)
	@node functions/orders/drill/cli.ts --orders '$(ORDERS)'
