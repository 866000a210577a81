#!/usr/bin/env bash
# Runs once, when PostgreSQL initialises an empty data directory (the
# postgres image's /docker-entrypoint-initdb.d contract).
#
# Each service gets a login role that owns one schema and nothing else, with
# its search_path pinned there; no role but the superuser can reach another
# service's schema. A read-only monitoring role serves the exporter.
set -euo pipefail

# password NAME: the contents of the file NAME_FILE names (a Compose
# secret), else the variable NAME.
password() {
	local file=${1}_FILE
	if [ -n "${!file:-}" ]; then
		cat -- "${!file}"
	else
		printf '%s' "${!1:?$1 or $file must be set}"
	fi
}

catalog_pw=$(password CATALOG_DB_PASSWORD)
users_pw=$(password USERS_DB_PASSWORD)
orders_pw=$(password ORDERS_DB_PASSWORD)
exporter_pw=$(password EXPORTER_DB_PASSWORD)

# Connection limits, from the server's own max_connections (the postgres
# command in docker-compose*.yml): its reserved slots stay the superuser's,
# 2 more are kept for a backup (scripts/backup.sh holds a snapshot session
# open and runs one pg_dump at a time), the exporter may open 3, and the
# three services share the rest equally. So with every role at its limit a
# backup and an operator's psql still get in, and no service can take
# another's connections. Only a new data directory gets them: docs/runbook.md
# ("Scale a service") says how to change those of an existing one.
exporter_limit=3
backup_connections=2
settings=$(psql -XAtq --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-c 'SHOW max_connections' -c 'SHOW superuser_reserved_connections')
{ read -r max_connections; read -r reserved; } <<<"$settings"
service_limit=$(((max_connections - reserved - backup_connections - exporter_limit) / 3))
if ((service_limit < 1)); then
	echo "db/init: max_connections=$max_connections leaves no connections for the services" >&2
	exit 1
fi
echo "db/init: connection limits: $service_limit per service role, $exporter_limit for the exporter" \
	"(max_connections $max_connections, $reserved reserved, $backup_connections for a backup)"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v db="$POSTGRES_DB" \
	-v service_limit="$service_limit" \
	-v exporter_limit="$exporter_limit" \
	-v catalog_pw="$catalog_pw" \
	-v users_pw="$users_pw" \
	-v orders_pw="$orders_pw" \
	-v exporter_pw="$exporter_pw" <<'SQL'
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE ROLE catalog LOGIN PASSWORD :'catalog_pw' CONNECTION LIMIT :service_limit;
CREATE ROLE users   LOGIN PASSWORD :'users_pw'   CONNECTION LIMIT :service_limit;
CREATE ROLE orders  LOGIN PASSWORD :'orders_pw'  CONNECTION LIMIT :service_limit;
CREATE ROLE exporter LOGIN PASSWORD :'exporter_pw' CONNECTION LIMIT :exporter_limit IN ROLE pg_monitor;

GRANT CONNECT ON DATABASE :"db" TO catalog, users, orders, exporter;

CREATE SCHEMA catalog AUTHORIZATION catalog;
CREATE SCHEMA users   AUTHORIZATION users;
CREATE SCHEMA orders  AUTHORIZATION orders;

ALTER ROLE catalog SET search_path = catalog;
ALTER ROLE users   SET search_path = users;
ALTER ROLE orders  SET search_path = orders;
SQL
