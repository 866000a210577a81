#!/usr/bin/env bash
# `make up`: starts the stack and waits until every container is healthy.
# The Makefile has already chosen the images (images/choose.sh), pulled or
# built them, and exported BAZAAR_IMAGES and their names.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -f .env ]; then
	cp .env.example .env
	echo "==> Created .env from .env.example (development defaults; edit it for anything real)"
fi

# Switches whose value names a file of nginx/modes: refused before anything starts.
for switch in RATE_LIMITS HTTPS_REDIRECT; do
	value=$(deploy/env.sh setting "$switch" "")
	case $value in
	'' | on | off) ;;
	*) echo "up: $switch=$value is neither on nor off (the environment or .env)" >&2; exit 2 ;;
	esac
done

# Grafana (the grafana profile) has no local stand-in: with the stand-ins
# (no registry to pull it from) the stack runs without it.
profiles=$(deploy/env.sh setting COMPOSE_PROFILES "")
if [ "${BAZAAR_IMAGES:-}" = local ] && [[ ,$profiles, == *,grafana,* ]]; then
	echo "==> Grafana has no local stand-in: running without it"
	profiles=$(tr ',' '\n' <<<"$profiles" | grep -vx grafana | paste -sd, -) || true
fi
export COMPOSE_PROFILES=$profiles
services=$(docker compose config --services)

start=$(date +%s)
echo "==> Building the services and starting the stack"
# shellcheck disable=SC2086 # one word per service
docker compose up --detach --build --wait --wait-timeout 300 --remove-orphans $services
echo "==> Stack healthy in $(( $(date +%s) - start ))s"

set -a; . ./.env; set +a
notify="${ALERT_WEBHOOK_URL:+the webhook, }${ALERT_EMAIL_TO:+$ALERT_EMAIL_TO, }"
notify=${notify%, }
notify=${notify:-nobody, until .env sets ALERT_WEBHOOK_URL or ALERT_EMAIL_TO}
cat <<MSG

  Storefront   http://localhost:${HTTP_PORT:-8080}/
  API          http://localhost:${HTTP_PORT:-8080}/api/catalog/products
  Prometheus   http://127.0.0.1:${PROMETHEUS_PORT:-9090}/
  Alertmanager http://127.0.0.1:${ALERTMANAGER_PORT:-9093}/  (alerts sent to: $notify)
MSG
if grep -qx grafana <<<"$services"; then
	echo "  Grafana      http://127.0.0.1:${GRAFANA_PORT:-3000}/  (admin / the password in ${SECRETS_DIR:-secrets/development}/grafana_admin_password)"
fi
echo
echo "  make logs    follow the logs      make down   stop (data kept)      make clean   stop and delete the data"
