# Bazaar — run `make help` for the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

MODULES := services/platform services/catalog services/users services/orders e2e
SERVICE_MODULES := services/platform services/catalog services/users services/orders

# Local stand-ins for the upstream images (see images/README.md); the shell
# environment wins over .env, so docker compose uses them.
include images/local.env
export $(shell sed -n 's/^\([A-Z_]*\)=.*/\1/p' images/local.env)
# testcontainers' reaper image cannot be pulled here; tests clean up after themselves.
export TESTCONTAINERS_RYUK_DISABLED := true
# Inside a container (/.dockerenv), testcontainers would look for the Docker
# host on the default gateway; published ports are on loopback.
export TESTCONTAINERS_HOST_OVERRIDE ?= 127.0.0.1
# The Go builder inside `docker build` uses the host's module proxy.
export GOPROXY := $(shell go env GOPROXY)

.PHONY: help
help: ## Show the targets
	@grep -hE '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-8s %s\n", $$1, $$2}'

.PHONY: up
up: images compose ## Build everything and start the stack (waits until healthy)
	@scripts/up.sh

.PHONY: down
down: compose ## Stop the stack; data volumes are kept
	docker compose down --remove-orphans

.PHONY: clean
clean: compose ## Stop the stack and DELETE its data volumes
	docker compose down --remove-orphans --volumes

.PHONY: logs
logs: compose ## Follow the logs of every container
	docker compose logs --follow --tail 100

.PHONY: ps
ps: compose ## Show the containers and their health
	docker compose ps

.PHONY: seed
seed: ## Load the demo catalogue into the running stack
	set -a; . ./.env; set +a; cd services/catalog && go run ./cmd/seed

.PHONY: backup
backup: compose ## Back up every service's schema into BACKUP_DIR (default ./backups)
	scripts/backup.sh

.PHONY: restore
restore: compose ## Restore a backup set, REPLACING the data (BACKUP=<set>, default the newest)
	scripts/restore.sh $(BACKUP)

.PHONY: deploy
deploy: compose ## Replace services without downtime (SERVICE=catalog; default all three)
	scripts/deploy.sh $(SERVICE)

# The password goes to the users binary on standard input only: never an
# argument, never echoed.
.PHONY: admin-password
admin-password: compose ## Change the admin password in the running stack (asks for it, or ADMIN_PASSWORD_FILE=path)
	@if [ -n "$${ADMIN_PASSWORD_FILE:-}" ]; then \
		IFS= read -r password <"$$ADMIN_PASSWORD_FILE" || [ -n "$$password" ]; \
	else \
		IFS= read -rsp 'New admin password: ' password; echo; \
		IFS= read -rsp 'Again: ' again; echo; \
		[ "$$password" = "$$again" ] || { echo 'The two passwords differ; nothing changed.' >&2; exit 1; }; \
	fi; \
	printf '%s\n' "$$password" | docker compose exec -T users /service admin-password

.PHONY: test
test: check obs unit fuzz-short e2e ## Everything CI runs: checks, unit and store tests, end-to-end tests

.PHONY: check
check: ## gofmt, go vet, and each module built on its own (GOWORK=off)
	@echo "==> gofmt"; unformatted=$$(gofmt -l $(MODULES)); [ -z "$$unformatted" ] || { echo "$$unformatted"; exit 1; }
	@for m in $(MODULES); do echo "==> go vet $$m"; (cd $$m && go vet ./...); done
	@for m in $(SERVICE_MODULES); do echo "==> GOWORK=off go build $$m"; (cd $$m && GOWORK=off go build ./...); done

.PHONY: obs
obs: images ## Prometheus config and alert rules (promtool checks and unit tests), dashboard lints
	@observability/check.sh
	@echo "==> dashboard and rule lints"; cd e2e && go test -short -count=1 -run 'Lint' ./...

.PHONY: unit
unit: images ## Unit and store tests of every service module (real PostgreSQL and Redis)
	@for m in $(SERVICE_MODULES); do echo "==> go test $$m"; (cd $$m && go test -count=1 -timeout 15m ./...); done

.PHONY: fuzz fuzz-short
fuzz: ## Fuzz every request decoder, cursor codec and the token parser (FUZZTIME each, default 1m)
	FUZZTIME=$(or $(FUZZTIME),1m) scripts/fuzz.sh

fuzz-short: ## The fuzz targets for 3 s each (part of make test)
	FUZZTIME=3s scripts/fuzz.sh

.PHONY: e2e
e2e: images compose ## End-to-end tests: the whole stack through nginx, via Testcontainers
	@echo "==> go test e2e (builds and starts the whole stack)"
	cd e2e && go test -count=1 -timeout 40m -v ./... 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'

.PHONY: bench
bench: images compose ## Benchmarks through nginx on a stack of their own: prints a table, writes PNG plots
	scripts/bench.sh

.PHONY: images
images: ## Build the local infrastructure images (no registry needed)
	@images/build.sh

.PHONY: compose
compose:
	@scripts/install-compose.sh

.PHONY: fmt
fmt: ## Format the Go code
	gofmt -w $(MODULES)

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && go mod tidy); done
