#!/usr/bin/env bash
# Runs once, when PostgreSQL initialises an empty data directory (the
# postgres image's /docker-entrypoint-initdb.d contract).
#
# Each service gets a login role that owns one schema and nothing else, with
# its search_path pinned there; no role but the superuser can reach another
# service's schema. A read-only monitoring role serves the exporter.
set -euo pipefail

: "${CATALOG_DB_PASSWORD:?}" "${USERS_DB_PASSWORD:?}" "${ORDERS_DB_PASSWORD:?}" "${EXPORTER_DB_PASSWORD:?}"

psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
	-v db="$POSTGRES_DB" \
	-v catalog_pw="$CATALOG_DB_PASSWORD" \
	-v users_pw="$USERS_DB_PASSWORD" \
	-v orders_pw="$ORDERS_DB_PASSWORD" \
	-v exporter_pw="$EXPORTER_DB_PASSWORD" <<'SQL'
REVOKE ALL ON DATABASE :"db" FROM PUBLIC;
REVOKE ALL ON SCHEMA public FROM PUBLIC;

CREATE ROLE catalog LOGIN PASSWORD :'catalog_pw' CONNECTION LIMIT 60;
CREATE ROLE users   LOGIN PASSWORD :'users_pw'   CONNECTION LIMIT 60;
CREATE ROLE orders  LOGIN PASSWORD :'orders_pw'  CONNECTION LIMIT 60;
CREATE ROLE exporter LOGIN PASSWORD :'exporter_pw' CONNECTION LIMIT 3 IN ROLE pg_monitor;

GRANT CONNECT ON DATABASE :"db" TO catalog, users, orders, exporter;

CREATE SCHEMA catalog AUTHORIZATION catalog;
CREATE SCHEMA users   AUTHORIZATION users;
CREATE SCHEMA orders  AUTHORIZATION orders;

ALTER ROLE catalog SET search_path = catalog;
ALTER ROLE users   SET search_path = users;
ALTER ROLE orders  SET search_path = orders;
SQL
