#!/usr/bin/env bash
# Turns a lost primary's data directory into a standby of UPSTREAM; run by
# scripts/rejoin.sh in a one-off container of the node, on its volume,
# while the node is stopped.
#
# pg_rewind first: it copies from UPSTREAM only the blocks that changed
# since the two timelines split (wal_log_hints=on makes that possible), and
# finishes a crashed server's recovery itself. When it cannot (no common
# history, WAL no longer there), the directory is emptied and copied anew
# with pg_basebackup.
set -Eeuo pipefail

: "${PGDATA:=/var/lib/postgresql/data}"
upstream=${UPSTREAM:?UPSTREAM must be set}
# shellcheck source=db/replica/standby.sh
. /etc/bazaar/replica/standby.sh

pgpass=$(mktemp)
trap 'rm -f "$pgpass"' EXIT
pw=$(<"${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE must be set}")
pw=${pw//\\/\\\\}
printf '*:*:*:postgres:%s\n' "${pw//:/\\:}" >"$pgpass"
chmod 600 "$pgpass"

# The node is stopped (scripts/rejoin.sh stopped it): a lock file left by a
# killed server names a process of another container, which may be alive
# here under the same number and stop pg_rewind's recovery run.
rm -f "$PGDATA/postmaster.pid"
rewound=
# pg_rewind first finishes a crashed server's recovery with a server of its
# own, which reads the configuration files but not the node's command line:
# the setting that makes the rewind possible (docker-compose.yml) must be
# in them too, or that run records it as off.
if [ -s "$PGDATA/PG_VERSION" ] && ! grep -q '^wal_log_hints = on$' "$PGDATA/postgresql.auto.conf"; then
	printf 'wal_log_hints = on\n' >>"$PGDATA/postgresql.auto.conf"
fi
if [ -s "$PGDATA/PG_VERSION" ]; then
	echo "rejoin: pg_rewind from $upstream"
	if pg_rewind --target-pgdata="$PGDATA" --progress \
		--source-server="host=$upstream port=5432 user=postgres dbname=postgres passfile=$pgpass connect_timeout=5"; then
		rewound=1
	else
		echo "rejoin: pg_rewind failed; copying $upstream anew"
	fi
fi
if [ -z "$rewound" ]; then
	find "$PGDATA" -mindepth 1 -delete
	base_backup "$upstream"
else
	# A rewound directory has the new primary's files, a backup label and
	# WAL to replay from the split: it follows the primary from there.
	follow "$upstream"
fi
echo "rejoin: $NODE_NAME will follow $upstream"
