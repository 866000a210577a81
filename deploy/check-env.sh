#!/usr/bin/env bash
# Refuses to start production with a secret missing, left at a development
# default, or too short. bazaar.service runs it before every start; compose
# itself only stops on missing values, and the services check only their own.
#
#   deploy/check-env.sh [ENV_FILE]     (default: .env next to docker-compose.yml)
set -euo pipefail
env_file=${1:-$(dirname "$0")/../.env}
[ -r "$env_file" ] || { echo "check-env: cannot read $env_file" >&2; exit 1; }

# value NAME: NAME's value, empty when it is not set.
value() {
	"$(dirname "$0")/env.sh" -f "$env_file" get "$1" 2>/dev/null || true
}

problems=()
for name in POSTGRES_PASSWORD CATALOG_DB_PASSWORD USERS_DB_PASSWORD ORDERS_DB_PASSWORD \
	EXPORTER_DB_PASSWORD ADMIN_PASSWORD GRAFANA_ADMIN_PASSWORD; do
	v=$(value "$name")
	if [ -z "$v" ]; then
		problems+=("$name is empty")
	elif [[ $v == *-dev-password || $v == change-me* ]]; then
		problems+=("$name is a development default")
	elif [ ${#v} -lt 12 ]; then
		problems+=("$name is shorter than 12 characters")
	fi
done
[ -n "$(value ADMIN_EMAIL)" ] || problems+=("ADMIN_EMAIL is empty")
[[ $(value JWT_PRIVATE_KEY) == *"BEGIN PRIVATE KEY"* ]] ||
	problems+=("JWT_PRIVATE_KEY is not a PEM private key (openssl genpkey -algorithm ed25519)")
[ -n "$(value DOMAINS)" ] || echo "check-env: DOMAINS is empty: nginx will serve a self-signed certificate" >&2

if [ ${#problems[@]} -gt 0 ]; then
	for p in "${problems[@]}"; do echo "check-env: $env_file: $p"; done >&2
	echo "check-env: fix these in $env_file (docs/runbook.md, \"Rotate secrets\"), then start again" >&2
	exit 1
fi
