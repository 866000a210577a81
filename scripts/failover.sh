#!/usr/bin/env bash
# Promotes the standby when the primary is lost (make failover).
#
#   scripts/failover.sh [-p PROJECT]
#
# 1. Finds the standby among the nodes postgres and postgres-replica (the
#    running one in recovery); the other node is the lost primary.
# 2. Refuses when the primary still answers, unless FORCE=1: promoting
#    beside a live primary would make two. With FORCE=1 (a planned
#    switchover) the primary is stopped first, which hands the standby all
#    its WAL.
# 3. Fences the lost primary: `docker compose stop`, so that its restart
#    policy cannot bring it back as a second primary. It rejoins as a
#    standby with scripts/rejoin.sh (make rejoin), never by a plain start.
# 4. Promotes the standby (pg_promote) and waits until it takes writes.
#    Commits stop waiting for a standby: db/replica/sync-guard.sh turns
#    synchronous replication back on once the rejoined node streams.
#
# The services need no restart: their DATABASE_URL lists both nodes with
# target_session_attrs=read-write, and each new connection goes to the one
# that takes writes. Until then they answer 503 problem+json.
#
# Settings: COMPOSE_PROJECT_NAME and COMPOSE_FILE (which stack; also -p),
# FAILOVER_TIMEOUT (seconds to wait for the promotion, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."

. scripts/pg-nodes.sh
timeout_s=${FAILOVER_TIMEOUT:-120}
start=$(date +%s%N)
say() { printf 'failover: %s (%.1fs)\n' "$*" "$((($(date +%s%N) - start) / 1000000))e-3"; }

standby= primary=
for node in "${nodes[@]}"; do
	case $(role "$node") in
		t) standby=$node ;;
		f) primary=$node ;;
	esac
done
if [ -z "$standby" ]; then
	echo "failover: no running standby to promote (is the profile replica on? \`docker compose --profile replica ps\`)" >&2
	exit 1
fi
lost=${nodes[0]}
[ "$standby" != "$lost" ] || lost=${nodes[1]}
if [ -n "$primary" ]; then
	if [ "${FORCE:-}" != 1 ]; then
		echo "failover: the primary $primary still answers; promoting $standby beside it would make two primaries." >&2
		echo "failover: for a planned switchover run FORCE=1 make failover (it stops $primary first)." >&2
		exit 1
	fi
	say "stopping the primary $primary first (FORCE=1)"
fi

# The lost primary must not come back by itself as a second primary.
"${compose[@]}" stop -t 30 "$lost" >/dev/null 2>&1 || :
say "fenced $lost (stopped; make rejoin brings it back as a standby)"

# No standby will follow the new primary until the rejoin: commits must not
# wait for one (sync-guard.sh would clear this within a second anyway).
timeout 30 "${compose[@]}" exec -T "$standby" psql -XAtq -U postgres -d postgres \
	-c "ALTER SYSTEM SET synchronous_standby_names = ''" -c 'SELECT pg_reload_conf()' >/dev/null 2>&1 || :
timeout "$timeout_s" "${compose[@]}" exec -T "$standby" psql -XAtq -U postgres -d postgres \
	-c "SELECT pg_promote(true, $timeout_s)" >/dev/null
deadline=$(($(date +%s) + timeout_s))
until [ "$(role "$standby")" = f ]; do
	if (($(date +%s) > deadline)); then
		echo "failover: $standby was asked to promote but still is in recovery after ${timeout_s}s" >&2
		exit 1
	fi
	sleep 0.2
done
say "$standby is the primary and takes writes; the services follow by themselves"
echo "failover: next, bring $lost back as its standby: make rejoin"
