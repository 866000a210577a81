#!/usr/bin/env bash
# Entrypoint of a PostgreSQL standby, for the upstream image and the local
# stand-in alike: on first start (an empty data directory) it copies the
# primary with pg_basebackup over a replication connection, through a
# physical replication slot of its own that it creates in the same step,
# and configures the copy to follow the primary; then it hands over to the
# image's entrypoint, which starts PostgreSQL on the existing data.
#
# NODE_NAME     this node's compose service name (the slot and the
#               application_name the primary sees are derived from it)
# PRIMARY_HOST  the node to copy and follow
# REPLICATION_DB_PASSWORD_FILE  the replication role's password (a secret)
#
# db/replica/rejoin.sh uses follow() for a node that was a primary.
set -Eeuo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
node=${NODE_NAME:?NODE_NAME must be set}
slot=${node//-/_}
pw_file=${REPLICATION_DB_PASSWORD_FILE:?REPLICATION_DB_PASSWORD_FILE must be set}

# follow UPSTREAM: makes the data directory a standby of UPSTREAM through
# this node's slot. The password goes into a pgpass file in the data
# directory (mode 0600, like the rest of it), not into the configuration.
follow() {
	local upstream=$1 pw
	pw=$(<"$pw_file")
	pw=${pw//\\/\\\\}
	pw=${pw//:/\\:}
	(umask 077 && printf '*:*:*:replicator:%s\n' "$pw" >"$PGDATA/replication.pgpass")
	sed -i -e '/^primary_conninfo[[:space:]]*=/d' -e '/^primary_slot_name[[:space:]]*=/d' "$PGDATA/postgresql.auto.conf"
	cat >>"$PGDATA/postgresql.auto.conf" <<CONF
primary_conninfo = 'host=$upstream port=5432 user=replicator passfile=$PGDATA/replication.pgpass application_name=$node connect_timeout=2'
primary_slot_name = '$slot'
CONF
	touch "$PGDATA/standby.signal"
}

# base_backup UPSTREAM: copies UPSTREAM into the empty data directory.
base_backup() {
	local upstream=$1
	export PGPASSWORD
	PGPASSWORD=$(<"$pw_file")
	echo "standby: waiting for $upstream"
	until pg_isready -q -h "$upstream" -p 5432 -t 2; do sleep 1; done
	# A slot left by an earlier copy of this node would hold WAL for a
	# stream that will never come back; the new copy makes its own.
	pg_receivewal -h "$upstream" -p 5432 -U replicator --no-password --drop-slot --slot="$slot" 2>/dev/null || :
	echo "standby: copying $upstream into $PGDATA (pg_basebackup, slot $slot)"
	pg_basebackup -h "$upstream" -p 5432 -U replicator --no-password -D "$PGDATA" \
		--wal-method=stream --create-slot --slot="$slot" --checkpoint=fast
	unset PGPASSWORD
	chmod 0700 "$PGDATA"
	follow "$upstream"
	echo "standby: copied; following $upstream"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	if [ ! -s "$PGDATA/PG_VERSION" ]; then
		base_backup "${PRIMARY_HOST:?PRIMARY_HOST must be set}"
	fi
	exec docker-entrypoint.sh "$@"
fi
