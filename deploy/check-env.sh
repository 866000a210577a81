#!/usr/bin/env bash
# Refuses to start production with a secret missing, left at a development
# default, or too short, or still in .env rather than in a file of
# SECRETS_DIR. bazaar.service runs it before every start; compose itself only
# stops on missing files, and the services check only their own.
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
dir=$(value SECRETS_DIR)
if [ -z "$dir" ]; then
	problems+=("SECRETS_DIR is empty (scripts/secrets.sh makes a set)")
else
	[[ $dir == /* ]] || dir=$(dirname "$env_file")/$dir
	for name in postgres_password catalog_db_password users_db_password orders_db_password exporter_db_password \
		replication_db_password redis_catalog_password redis_exporter_password.json internal_token admin_password \
		grafana_admin_password; do
		v=$(cat "$dir/$name" 2>/dev/null) || { problems+=("$dir/$name is missing"); continue; }
		# redis_exporter's is a JSON map: its last quoted string is the password.
		[[ $name != *.json ]] || v=$(sed -n 's/.*"\([^"]*\)"[^"]*$/\1/p' <<<"$v")
		if [[ $v == *-dev-password* || $v == change-me* ]]; then
			problems+=("$name is a development default")
		elif [ ${#v} -lt 12 ]; then
			problems+=("$name is shorter than 12 characters")
		fi
	done
	# The mail server's password is not ours to choose (its length included);
	# the file must exist, and hold a real one once SMTP_USERNAME is set.
	if ! v=$(cat "$dir/smtp_password" 2>/dev/null); then
		problems+=("$dir/smtp_password is missing (scripts/secrets.sh makes a stand-in)")
	elif [ -n "$(value SMTP_USERNAME)" ] && [[ $v == *-dev-password* ]]; then
		problems+=("smtp_password is a development default, and SMTP_USERNAME is set")
	fi
	grep -qs "BEGIN PRIVATE KEY" "$dir/jwt_private_key" ||
		problems+=("$dir/jwt_private_key is not a PEM private key (openssl genpkey -algorithm ed25519)")
fi
for name in POSTGRES_PASSWORD CATALOG_DB_PASSWORD USERS_DB_PASSWORD ORDERS_DB_PASSWORD \
	EXPORTER_DB_PASSWORD REPLICATION_DB_PASSWORD ADMIN_PASSWORD GRAFANA_ADMIN_PASSWORD SMTP_PASSWORD JWT_PRIVATE_KEY; do
	[ -z "$(value "$name")" ] || problems+=("$name is in $env_file: secrets are files now (sudo deploy/install.sh moves it)")
done
[ -n "$(value ADMIN_EMAIL)" ] || problems+=("ADMIN_EMAIL is empty")
[ -n "$(value DOMAINS)" ] || echo "check-env: DOMAINS is empty: nginx will serve a self-signed certificate" >&2

if [ ${#problems[@]} -gt 0 ]; then
	for p in "${problems[@]}"; do echo "check-env: $env_file: $p"; done >&2
	echo "check-env: fix these (docs/runbook.md, \"Rotate secrets\"), then start again" >&2
	exit 1
fi
