#!/usr/bin/env bash
# The replication role a standby copies and follows the primary with
# (db/replica/standby.sh), and the pg_hba.conf line that lets it in: the
# image's "host all all all" line does not cover replication connections.
#
# Runs when PostgreSQL initialises an empty data directory, like every
# script here; for a data directory made before it existed, run it once in
# the running container (docs/database.md, "Add a replica"):
#   docker compose exec postgres /docker-entrypoint-initdb.d/20-replication.sh
# Running it again changes nothing but the role's password.
set -euo pipefail

if [ -n "${REPLICATION_DB_PASSWORD_FILE:-}" ]; then
	replication_pw=$(cat -- "$REPLICATION_DB_PASSWORD_FILE")
else
	replication_pw=${REPLICATION_DB_PASSWORD:?REPLICATION_DB_PASSWORD or REPLICATION_DB_PASSWORD_FILE must be set}
fi

psql -v ON_ERROR_STOP=1 -XAtq --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" \
	-v pw="$replication_pw" <<'SQL'
SELECT NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'replicator') AS missing \gset
\if :missing
CREATE ROLE replicator LOGIN REPLICATION;
\endif
-- At most two copies at once: the standby's stream and a base backup.
ALTER ROLE replicator PASSWORD :'pw' CONNECTION LIMIT 2;
SQL

hba=$PGDATA/pg_hba.conf
line='host replication replicator all scram-sha-256'
if ! grep -qxF "$line" "$hba"; then
	printf '%s\n' "$line" >>"$hba"
	psql -XAtq --username "${POSTGRES_USER:-postgres}" --dbname "${POSTGRES_DB:-postgres}" -c 'SELECT pg_reload_conf()' >/dev/null
fi
echo "db/init: replication role and pg_hba.conf line in place"
