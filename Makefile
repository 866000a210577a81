# Bazaar — run `make help` for the targets.
SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

MODULES := services/platform services/catalog services/users services/orders observability lint e2e
SERVICE_MODULES := services/platform services/catalog services/users services/orders

# Which infrastructure images (images/README.md): the pinned upstream ones when
# Docker can pull them, else local stand-ins built from Debian packages;
# BAZAAR_IMAGES=upstream|local overrides. images/choose.sh decides once per make
# run, for every goal but these, and says so in one line. It exports BAZAAR_IMAGES
# and each *_IMAGE (over the same names in the environment and .env; a command-line
# `make up POSTGRES_IMAGE=...` still wins).
NO_IMAGE_GOALS := help check fmt tidy fuzz fuzz-short seed compose down clean logs ps backup admin-password swarm-down silence unsilence lambda failover
ifneq ($(filter-out $(NO_IMAGE_GOALS),$(or $(MAKECMDGOALS),$(.DEFAULT_GOAL))),)
IMAGES_ENV := $(shell BAZAAR_IMAGES='$(BAZAAR_IMAGES)' images/choose.sh)
ifeq ($(filter BAZAAR_IMAGES=%,$(IMAGES_ENV)),)
$(error No images chosen: see images/choose.sh's message above)
endif
$(foreach kv,$(IMAGES_ENV),$(eval export $(kv)))
endif
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
seed: ## Load the demo catalogue into the running stack (as ADMIN_EMAIL, with the admin_password secret)
	@set -a; . ./.env; set +a; \
	export ADMIN_PASSWORD="$${ADMIN_PASSWORD:-$$(cat "$${SECRETS_DIR:-./secrets/development}/admin_password")}"; \
	cd services/catalog && go run ./cmd/seed

.PHONY: backup
backup: compose ## Back up every service's schema into BACKUP_DIR (default ./backups)
	scripts/backup.sh

.PHONY: restore
restore: compose ## Restore a backup set, REPLACING the data (BACKUP=<set>, default the newest)
	scripts/restore.sh $(BACKUP)

.PHONY: deploy
deploy: compose ## Replace services without downtime (SERVICE=catalog; default all three), their alerts silenced meanwhile
	scripts/silence.sh during -c "make deploy $(SERVICE)" 'job=~"catalog|users|orders"' -- scripts/deploy.sh $(SERVICE)

.PHONY: failover rejoin
failover: compose ## With the primary lost, promote the standby (profile replica); the services follow by themselves (docs/database.md)
	scripts/failover.sh

rejoin: compose ## After a failover, bring the lost primary back as the new primary's standby (pg_rewind, else a fresh copy)
	scripts/rejoin.sh

.PHONY: silence unsilence
silence: compose ## Silence alerts for DURATION (default 1h): all, or MATCH='job="redis"'; COMMENT says why
	scripts/silence.sh add -d '$(or $(DURATION),1h)' -c '$(or $(COMMENT),make silence)' $(if $(MATCH),'$(MATCH)')

unsilence: compose ## End the silences that make silence made
	scripts/silence.sh expire

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

.PHONY: swarm-up swarm-down
swarm-up: images compose ## The stack on Docker Swarm on the ports of make up (a single-node swarm when none); waits until healthy
	@scripts/swarm-up.sh

swarm-down: ## Remove the Swarm stack; volumes kept (SWARM_VOLUMES=delete removes them)
	@scripts/swarm-down.sh

.PHONY: test
test: check obs smoke unit fuzz-short e2e ## Everything CI runs: checks, image smoke tests, unit and store tests, end-to-end tests

.PHONY: check
check: compose ## gofmt, go vet, each module built on its own (GOWORK=off), both compose configurations rendered
	@echo "==> gofmt"; unformatted=$$(gofmt -l $(MODULES)); [ -z "$$unformatted" ] || { echo "$$unformatted"; exit 1; }
	@for m in $(MODULES); do echo "==> go vet $$m"; (cd $$m && go vet ./...); done
	@for m in $(SERVICE_MODULES); do echo "==> GOWORK=off go build $$m"; (cd $$m && GOWORK=off go build ./...); done
	@# The files as shipped, not this checkout's .env: development's defaults, and
	@# production over them with the .env deploy/install.sh writes and a new set of secrets.
	@echo "==> docker compose config: development, production"; \
	tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	scripts/secrets.sh "$$tmp/secrets" >/dev/null; \
	printf '%s\n' APP_ENV=production BAZAAR_VERSION=check DOMAINS=shop.example.com ACME_EMAIL=ops@example.com \
		ADMIN_EMAIL=admin@example.com "SECRETS_DIR=$$tmp/secrets" >"$$tmp/prod.env"; \
	docker compose --env-file /dev/null -f docker-compose.yml config --quiet; \
	docker compose --env-file "$$tmp/prod.env" -f docker-compose.yml -f docker-compose.prod.yml config --quiet

.PHONY: obs
obs: images ## Prometheus config and alert rules (promtool checks and unit tests), dashboard, rule and document lints
	@observability/check.sh
	@echo "==> dashboard and rule lints"; cd observability && go test -count=1 ./...
	@echo "==> document lints: configuration table, API reference, connection budget"; cd lint && go test -count=1 ./...
	@echo "==> the end-to-end suite's own lints, the storefront's asset fingerprint"; cd e2e && go test -short -count=1 -run 'Lint|TestBrowserAssetsFingerprinted' ./...

.PHONY: smoke
smoke: images ## Start each infrastructure image once and check its contract and pinned release
	@images/smoke-test.sh

.PHONY: unit
unit: images ## Unit and store tests of every service module (real PostgreSQL, Redis and an S3-compatible store)
	@echo "==> SeaweedFS, the S3 tests' server: built from source once per machine (minutes the first time)"
	@cd services/catalog && go run ./internal/catalogtest/weed
	@for m in $(SERVICE_MODULES); do echo "==> go test $$m"; (cd $$m && go test -count=1 -timeout 15m ./...); done

.PHONY: fuzz fuzz-short
fuzz: ## Fuzz every request decoder, cursor codec and the token parser (FUZZTIME each, default 1m)
	FUZZTIME=$(or $(FUZZTIME),1m) scripts/fuzz.sh

fuzz-short: ## The fuzz targets for 3 s each (part of make test)
	FUZZTIME=3s scripts/fuzz.sh

.PHONY: e2e
e2e: images compose ## End-to-end tests: the whole stack through nginx, via Testcontainers
	@echo "==> go test e2e (builds and starts the whole stack)"
	@# -p 1: one package's stacks at a time (the root package's, then Swarm's).
	cd e2e && go test -p 1 -count=1 -timeout 40m -v ./... 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'

.PHONY: lambda lambda-test
lambda: ## Build the services as AWS Lambda functions: build/lambda/{catalog,users,orders}.zip
	scripts/lambda.sh

lambda-test: images ## The shop on AWS Lambda under the Runtime Interface Emulator, and the SAM template's consistency (part of make e2e)
	@echo "==> go test e2e/lambda (builds the functions, starts PostgreSQL and Redis)"
	cd e2e && go test -count=1 -timeout 15m -v ./lambda/ 2>&1 | grep -vE '^=== (RUN|PAUSE|CONT)'

.PHONY: bench
bench: images compose ## Benchmarks through nginx on a stack of their own: prints a table, writes PNG plots
	scripts/bench.sh

.PHONY: images
images: ## Pull the upstream infrastructure images, or build local stand-ins (no registry)
	@case "$$BAZAAR_IMAGES" in local) images/build.sh ;; upstream) images/choose.sh --pull ;; \
		*) echo "make images: BAZAAR_IMAGES='$$BAZAAR_IMAGES': no image choice was made" >&2; exit 1 ;; esac

.PHONY: compose
compose:
	@scripts/install-compose.sh

.PHONY: fmt
fmt: ## Format the Go code
	gofmt -w $(MODULES)

.PHONY: tidy
tidy: ## go mod tidy in every module
	@for m in $(MODULES); do (cd $$m && go mod tidy); done
