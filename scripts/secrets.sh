#!/usr/bin/env bash
# Makes a set of secrets for docker-compose.yml: one file each, in DIR
# (default ./secrets/production), which .env then names as SECRETS_DIR.
#
#   scripts/secrets.sh [DIR]
#
# A file that exists is kept, so running it again only adds what is missing.
# A missing one takes the value of its variable in the environment when set
# (CATALOG_DB_PASSWORD for catalog_db_password, ADMIN_PASSWORD, ...: how the
# passwords of an older .env move into files), else a new random one. The
# folder is readable by its owner alone; the files in it by the containers'
# users, which Compose mounts them for.
set -euo pipefail
dir=${1:-secrets/production}

random() { od -An -N24 -tx1 /dev/urandom | tr -d ' \n'; }

# put NAME VALUE: writes the secret NAME unless it exists.
put() {
	[ -s "$dir/$1" ] && return
	printf '%s\n' "$2" >"$dir/$1.tmp"
	chmod 644 "$dir/$1.tmp"
	mv "$dir/$1.tmp" "$dir/$1"
	echo "secrets: made $dir/$1"
}

mkdir -p "$dir"
chmod 700 "$dir"
# smtp_password is the mail server's, which Alertmanager uses only with
# SMTP_USERNAME set: a random one stands in until SMTP_PASSWORD is given or
# the file is overwritten (docs/runbook.md, "Alert delivery").
for name in postgres_password catalog_db_password users_db_password orders_db_password exporter_db_password replication_db_password \
	redis_catalog_password internal_token admin_password grafana_admin_password smtp_password; do
	var=${name^^}
	put "$name" "${!var:-$(random)}"
done
# redis_exporter reads a JSON map of Redis address to password.
put redis_exporter_password.json "{\"redis://redis:6379\": \"${REDIS_EXPORTER_PASSWORD:-$(random)}\"}"
if [ ! -s "$dir/jwt_private_key" ]; then
	if [ -n "${JWT_PRIVATE_KEY:-}" ]; then
		put jwt_private_key "${JWT_PRIVATE_KEY//\\n/$'\n'}"
	else
		command -v openssl >/dev/null || { echo "secrets: openssl is needed to make jwt_private_key" >&2; exit 1; }
		put jwt_private_key "$(openssl genpkey -algorithm ed25519)"
	fi
fi
