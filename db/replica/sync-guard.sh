#!/usr/bin/env bash
# Keeps synchronous replication on while a standby streams, and off while
# none does, so that the loss of the only standby cannot stop writes.
#
# With synchronous_standby_names set, a commit returns only once a standby
# has flushed it: an order answered 201 is on both nodes. With one standby,
# its loss would make every commit wait for it forever. So this loop, every
# GUARD_INTERVAL seconds, finds the node that is primary among NODES and
#   - sets synchronous_standby_names to '*' (any standby) when
#     SYNC_REPLICATION=on and a standby is streaming, caught up, and has
#     replied within GUARD_STALE_AFTER seconds;
#   - empties it otherwise: commits stop waiting at once (PostgreSQL
#     releases the waiting backends when the setting is emptied) and the
#     primary goes on alone, asynchronous, until the standby is back and
#     has caught up. The primary also records what is wanted, as the
#     setting bazaar.synchronous_replication of the database (replicated
#     with it), so that the exporter and the alert
#     PostgresSynchronousReplicationOff can tell a degraded primary from
#     one configured without it.
# A killed standby's stream ends at once and is seen within GUARD_INTERVAL;
# one that stops answering is dropped after GUARD_STALE_AFTER seconds: that
# is how long commits may wait. The guard runs beside both nodes, not in
# either, so that it outlives whichever is lost.
set -uo pipefail

nodes=${NODES:-postgres postgres-replica}
interval=${GUARD_INTERVAL:-1}
stale_after=${GUARD_STALE_AFTER:-5}
want=${SYNC_REPLICATION:-on}
database=${POSTGRES_DB:-bazaar}
case $want in on | off) ;; *)
	echo "sync-guard: SYNC_REPLICATION must be on or off, not $want" >&2
	exit 2
	;;
esac
[[ $interval =~ ^[0-9]+$ && $stale_after =~ ^[0-9]+$ ]] || {
	echo "sync-guard: GUARD_INTERVAL and GUARD_STALE_AFTER are whole seconds" >&2
	exit 2
}

PGPASSWORD=$(<"${POSTGRES_PASSWORD_FILE:?POSTGRES_PASSWORD_FILE must be set}")
export PGPASSWORD PGUSER=postgres PGDATABASE=postgres PGCONNECT_TIMEOUT=2 PGAPPNAME=sync-guard
# The guard's own commits never wait for a standby (it may be the one that
# is gone), and no statement of it outlives the loop's timeout.
export PGOPTIONS='-c synchronous_commit=local -c statement_timeout=4s'
trap 'exit 0' TERM INT

psql_on() { timeout 5 psql -h "$1" -XAtq -v ON_ERROR_STOP=1 "${@:2}" 2>/dev/null; }

echo "sync-guard: watching $nodes (synchronous replication $want, a standby lost after ${stale_after}s)"
last=
while :; do
	for node in $nodes; do
		state=$(psql_on "$node" -F '|' -c "
			SELECT pg_is_in_recovery(),
			       current_setting('synchronous_standby_names'),
			       coalesce((SELECT 'on' FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
			                  WHERE d.datname = '$database' AND s.setrole = 0
			                    AND 'bazaar.synchronous_replication=on' = ANY (s.setconfig)), 'off'),
			       (SELECT count(*) FROM pg_stat_replication
			         WHERE state = 'streaming' AND reply_time > now() - make_interval(secs => $stale_after))") || continue
		IFS='|' read -r recovery names recorded streaming <<<"$state"
		[ "$recovery" = f ] || continue
		target=
		if [ "$want" = on ] && ((streaming > 0)); then target='*'; fi
		if [ "$names" != "$target" ] || [ "$recorded" != "$want" ]; then
			if psql_on "$node" \
				-c "ALTER SYSTEM SET synchronous_standby_names = '$target'" \
				-c 'SELECT pg_reload_conf()' \
				-c "ALTER DATABASE \"$database\" SET bazaar.synchronous_replication = '$want'" >/dev/null; then
				echo "sync-guard: $node: synchronous_standby_names '$names' -> '$target' ($streaming standby streaming)"
			fi
		fi
		if [ "$last" != "$node" ]; then
			echo "sync-guard: $node is the primary"
			last=$node
		fi
	done
	sleep "$interval" &
	wait $!
done
