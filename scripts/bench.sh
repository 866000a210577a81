#!/usr/bin/env bash
# `make bench`: measures the stack through nginx on this machine, side by
# side with baselines (nginx serving a static file, pgbench -N on the same
# PostgreSQL), prints a table and writes PNG plots (e2e/cmd/bench).
#
#   scripts/bench.sh [BENCH FLAGS...]     e.g. scripts/bench.sh -phase 20s -pprof
#
# It starts a stack of its own (compose project bazaar-bench-PID, host ports
# chosen by Docker, rate limits off so that nginx does not throttle the
# load) and removes it, volumes and all, when it ends, also on failure.
# Output goes to BENCH_OUT (default artifacts/bench): results.txt, *.png
# and, with -pprof, CPU profiles (go tool pprof FILE).
set -euo pipefail
cd "$(dirname "$0")/.."

# The local stand-ins for the upstream images (make images), unless the
# environment names others (the Makefile exports the same file).
while IFS='=' read -r name value; do
	if [[ $name =~ ^[A-Z_]+$ ]] && [ -z "${!name:-}" ]; then export "$name=$value"; fi
done <images/local.env

project=bazaar-bench-$$
out=${BENCH_OUT:-artifacts/bench}
export COMPOSE_PROJECT_NAME=$project COMPOSE_FILE=$PWD/docker-compose.yml
# Every benchmark client registers from this one address: no per-client limits.
export HTTP_PORT=0 HTTPS_PORT=0 PROMETHEUS_PORT=0 ALERTMANAGER_PORT=0 GRAFANA_PORT=0 RATE_LIMITS=off REGISTER_MAX_PER_IP=1000000 \
	ORDERS_MAX_OPEN_PER_USER=0 ORDERS_MAX_RESERVED_UNITS_PER_USER=0
# No optional profiles (Grafana): nothing here looks at dashboards.
export COMPOSE_PROFILES=
export GOPROXY=${GOPROXY:-$(go env GOPROXY)}

services=$(docker compose config --services)

trap 'echo "==> Removing the bench stack"; docker compose down --volumes --remove-orphans >/dev/null 2>&1 || true' EXIT
echo "==> Starting stack $project (rate limits off)"
# shellcheck disable=SC2086 # one word per service
timeout 20m docker compose up --detach --build --wait --wait-timeout 300 $services
# nginx's address on the compose network, where this machine can reach it (a
# Linux Docker host): through the published port, Docker's loopback proxy
# would spend as much CPU per request as nginx itself, on the same cores.
# Elsewhere (Docker Desktop) the published port it is.
addr=$(docker inspect --format "{{(index .NetworkSettings.Networks \"${project}_edge\").IPAddress}}" "$(docker compose ps -q nginx)"):8080
if ! timeout 2 bash -c "exec 3<>/dev/tcp/${addr%:*}/${addr#*:}" 2>/dev/null; then
	addr=$(docker compose port nginx 8080)
	addr=127.0.0.1:${addr##*:}
fi

mkdir -p "$out"
out=$(cd "$out" && pwd)
echo "==> Measuring through nginx at $addr; results in $out"
# The services' metrics and profiles ask for the internal token.
export INTERNAL_TOKEN_FILE=$PWD/${SECRETS_DIR:-secrets/development}/internal_token
cd e2e
timeout 40m go run ./cmd/bench -base "http://$addr" -project "$project" -out "$out" "$@"
