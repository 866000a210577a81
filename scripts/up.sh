#!/usr/bin/env bash
# `make up`: starts the stack and waits until every container is healthy.
# The Makefile has already built the local images and exported their names.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .env ]; then
	cp .env.example .env
	echo "==> Created .env from .env.example (development defaults; edit it for anything real)"
fi

services=$(docker compose config --services)
grafana_image=$(docker compose config --images grafana 2>/dev/null || true)
if ! docker image inspect "$grafana_image" >/dev/null 2>&1 && ! docker pull -q "$grafana_image" >/dev/null 2>&1; then
	echo "==> Grafana image $grafana_image is not available (no registry reachable): running without Grafana"
	services=$(grep -vx grafana <<<"$services")
fi

start=$(date +%s)
echo "==> Building the services and starting the stack"
# shellcheck disable=SC2086 # one word per service
docker compose up --detach --build --wait --wait-timeout 300 --remove-orphans $services
echo "==> Stack healthy in $(( $(date +%s) - start ))s"

set -a; . ./.env; set +a
cat <<MSG

  Storefront   http://localhost:${HTTP_PORT:-8080}/
  API          http://localhost:${HTTP_PORT:-8080}/api/catalog/products
  Prometheus   http://127.0.0.1:${PROMETHEUS_PORT:-9090}/
MSG
if grep -qx grafana <<<"$services"; then
	echo "  Grafana      http://127.0.0.1:${GRAFANA_PORT:-3000}/  (admin / GRAFANA_ADMIN_PASSWORD from .env)"
fi
echo
echo "  make logs    follow the logs      make down   stop (data kept)      make clean   stop and delete the data"
