# Banking pipeline (docs/banking.md): transaction-processor, transaction-journal, accounts-api and the
# injector. `make dev` runs the functions; these targets feed and check them.
INJECT_COUNT    ?= 3000
INJECT_RATE     ?= 300
INJECT_ACCOUNTS ?= 50
INJECT_SEED     ?= 1
INJECT_INVALID  ?= 0.02
INJECT_VIA      ?= http
INJECT_ARGS      = --count $(INJECT_COUNT) --accounts $(INJECT_ACCOUNTS) --seed $(INJECT_SEED) --invalid-ratio $(INJECT_INVALID)
BANKING_MONGO_PORT ?= 27017
BANKING_MONGO_DIR  ?= .tmp/banking-ferretdb

.PHONY: inject verify banking-mongo
inject: install ## submit transfers: make inject [INJECT_COUNT=3000 INJECT_RATE=300 INJECT_VIA=http|amqp INJECT_SEED=1 INJECT_INVALID=0.02]
	node functions/banking/transaction-injector/cli.ts $(INJECT_ARGS) --rate $(INJECT_RATE) --via $(INJECT_VIA)

verify: install ## recompute the banking invariants for the same INJECT_* (MONGODB_URL, or ACCOUNTS_API_URL)
	node functions/banking/transaction-injector/cli.ts --verify $(INJECT_ARGS)

banking-mongo: install ferretdb ## a MongoDB (FerretDB) for `make dev MONGODB_URL=mongodb://127.0.0.1:27017/`
	@mkdir -p $(BANKING_MONGO_DIR)
	@echo "FerretDB on mongodb://127.0.0.1:$(BANKING_MONGO_PORT)/ (data in $(BANKING_MONGO_DIR)); Ctrl-C stops it"
	$(FERRETDB_BIN) -listen 127.0.0.1:$(BANKING_MONGO_PORT) -handler sqlite -sqlite-url file:$(abspath $(BANKING_MONGO_DIR))/ -log-level warn
