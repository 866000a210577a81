#!/usr/bin/env bash
# Entrypoint of bazaar/postgres: the contract of the official postgres image, compactly.
#  - first start (empty $PGDATA): initdb with POSTGRES_USER/POSTGRES_PASSWORD (or the
#    file POSTGRES_PASSWORD_FILE names), create
#    POSTGRES_DB, run /docker-entrypoint-initdb.d/* (*.sh executed if executable, else
#    sourced; *.sql and *.sql.gz through psql) against a temporary server that listens
#    on the unix socket only, stop it, then exec the real server.
#  - started as root: fix ownership of $PGDATA, then re-run itself as postgres (setpriv).
# Also honoured: POSTGRES_INITDB_ARGS, POSTGRES_HOST_AUTH_METHOD (default scram-sha-256).
set -Eeo pipefail

# `docker run IMAGE -c fsync=off` means `postgres -c fsync=off`; other commands run as given.
if [ "${1:0:1}" = - ]; then set -- postgres "$@"; fi
[ "$1" = postgres ] || exec "$@"

export PGDATA="${PGDATA:-/var/lib/postgresql/data}"

if [ "$(id -u)" = 0 ]; then
	mkdir -p "$PGDATA" /var/run/postgresql
	find "$PGDATA" /var/run/postgresql \! -user postgres -exec chown postgres:postgres '{}' +
	chmod 00700 "$PGDATA"
	exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi

if [ ! -s "$PGDATA/PG_VERSION" ]; then
	if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then POSTGRES_PASSWORD=$(<"$POSTGRES_PASSWORD_FILE"); fi
	: "${POSTGRES_USER:=postgres}" "${POSTGRES_DB:=$POSTGRES_USER}"
	auth="${POSTGRES_HOST_AUTH_METHOD:-scram-sha-256}"
	if [ -z "$POSTGRES_PASSWORD" ] && [ "$auth" != trust ]; then
		echo >&2 "error: database is uninitialized and POSTGRES_PASSWORD is not set" \
			"(set it, or POSTGRES_HOST_AUTH_METHOD=trust to allow connections without a password)"
		exit 1
	fi
	mkdir -p "$PGDATA"
	chmod 00700 "$PGDATA" 2>/dev/null || :

	# trust on the unix socket, $auth (scram-sha-256) for every TCP connection
	initdb_args=(--username="$POSTGRES_USER" --auth-local=trust --auth-host="$auth")
	# shellcheck disable=SC2086  # POSTGRES_INITDB_ARGS is a list of words, as upstream
	if [ -n "$POSTGRES_PASSWORD" ]; then
		printf '%s\n' "$POSTGRES_PASSWORD" | initdb "${initdb_args[@]}" --pwfile=/dev/stdin $POSTGRES_INITDB_ARGS
	else
		initdb "${initdb_args[@]}" $POSTGRES_INITDB_ARGS
	fi
	printf '\nhost all all all %s\n' "$auth" >>"$PGDATA/pg_hba.conf"

	# Temporary server: the user's -c options, but no TCP listener. Its log goes to
	# stderr too, so "ready to accept connections" is printed twice on first start.
	opts=
	[ $# -lt 2 ] || opts=$(printf '%q ' "${@:2}")
	pg_ctl -D "$PGDATA" -w -o "$opts -c listen_addresses='' -p ${PGPORT:-5432}" start >&2

	psql=(psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --no-password --no-psqlrc)
	if [ "$POSTGRES_DB" != postgres ]; then
		"${psql[@]}" --dbname postgres --set db="$POSTGRES_DB" <<<'CREATE DATABASE :"db";'
	fi
	psql+=(--dbname "$POSTGRES_DB")
	# for sourced scripts written against the official image
	docker_process_sql() { "${psql[@]}" "$@"; }
	export PGPASSWORD="${PGPASSWORD:-$POSTGRES_PASSWORD}"

	# shellcheck disable=SC1090  # init scripts are only known at run time
	for f in /docker-entrypoint-initdb.d/*; do
		[ -e "$f" ] || continue
		case "$f" in
			*.sh)
				if [ -x "$f" ]; then echo "$0: running $f"; "$f"
				else echo "$0: sourcing $f"; . "$f"; fi ;;
			*.sql) echo "$0: running $f"; "${psql[@]}" -f "$f" ;;
			*.sql.gz) echo "$0: running $f"; gunzip -c "$f" | "${psql[@]}" ;;
			*) echo "$0: ignoring $f" ;;
		esac
	done

	pg_ctl -D "$PGDATA" -m fast -w stop
	unset PGPASSWORD
	echo "PostgreSQL init process complete; ready for start up."
fi

exec "$@"
