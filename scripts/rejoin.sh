#!/usr/bin/env bash
# Brings the node lost in a failover back as a standby of the new primary
# (make rejoin).
#
#   scripts/rejoin.sh [-p PROJECT]
#
# 1. Finds the primary among the nodes postgres and postgres-replica; the
#    other node, stopped, is the one to rejoin. (Refuses when both answer
#    as primaries, or when the other is already a running standby.)
# 2. Makes a replication slot for it on the primary, so that the WAL it
#    needs is kept from now on.
# 3. In a one-off container on its volume (db/replica/rejoin.sh): pg_rewind
#    from the primary, which copies only the blocks that changed since the
#    timelines split; when that cannot be done, a fresh pg_basebackup. Then
#    the data directory is configured to follow the primary.
# 4. Starts the node, which comes up as a standby, and waits until it
#    streams. The sync guard then turns synchronous replication back on.
#
# What the lost primary had written and the standby never received (nothing
# that was acknowledged, with synchronous replication on) is discarded by
# the rewind.
#
# Settings: COMPOSE_PROJECT_NAME and COMPOSE_FILE (also -p), REJOIN_TIMEOUT
# (seconds to wait for the node to stream, default 300).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/pg-nodes.sh
timeout_s=${REJOIN_TIMEOUT:-300}
start=$(date +%s)

sql() { timeout 30 "${compose[@]}" exec -T "$1" psql -XAtq -v ON_ERROR_STOP=1 -U postgres -d postgres "${@:2}"; }

primary= standby=
for node in "${nodes[@]}"; do
	case $(role "$node") in
		f)
			if [ -n "$primary" ]; then
				echo "rejoin: both $primary and $node are primaries; stop the one whose writes are to be discarded, then run this again" >&2
				exit 1
			fi
			primary=$node
			;;
		t) standby=$node ;;
	esac
done
[ -n "$primary" ] || { echo "rejoin: no primary answers" >&2; exit 1; }
node=${nodes[0]}
[ "$primary" != "$node" ] || node=${nodes[1]}
if [ "$standby" = "$node" ]; then
	echo "rejoin: $node is already a standby of $primary; nothing to do"
	exit 0
fi
slot=${node//-/_}

"${compose[@]}" stop -t 30 "$node" >/dev/null 2>&1 || :
echo "rejoin: making $node a standby of $primary (slot $slot)"
sql "$primary" -c "SELECT pg_create_physical_replication_slot('$slot', true)
	WHERE NOT EXISTS (SELECT FROM pg_replication_slots WHERE slot_name = '$slot')" >/dev/null
# pg_rewind reads the primary's timeline from its control file, which a
# promotion updates only at its next checkpoint.
sql "$primary" -c CHECKPOINT >/dev/null
"${compose[@]}" run --rm --no-deps -T -e UPSTREAM="$primary" -e NODE_NAME="$node" \
	--entrypoint /etc/bazaar/replica/rejoin.sh "$node"
"${compose[@]}" up -d --no-deps "$node"

deadline=$((start + timeout_s))
until [ "$(sql "$primary" -c "SELECT count(*) FROM pg_stat_replication WHERE application_name = '$node' AND state = 'streaming'" 2>/dev/null)" = 1 ]; do
	if (($(date +%s) > deadline)); then
		echo "rejoin: $node does not stream from $primary after ${timeout_s}s; see \`docker compose --profile replica logs $node\`" >&2
		exit 1
	fi
	sleep 1
done
echo "rejoin: $node streams from $primary ($(($(date +%s) - start))s)"
