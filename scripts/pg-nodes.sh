# Sourced by failover.sh and rejoin.sh: the compose command of the stack
# (-p PROJECT, taken from the caller's arguments), its two PostgreSQL nodes,
# and role NODE, which prints t for a standby, f for a primary, and nothing
# when the node does not answer.
project=()
if [ "${1:-}" = -p ]; then
	project=(-p "$2")
	shift 2
fi
compose=(docker compose "${project[@]}" --profile replica)
nodes=(postgres postgres-replica)

role() {
	timeout 10 "${compose[@]}" exec -T "$1" \
		psql -XAtq -U postgres -d postgres -c 'SELECT pg_is_in_recovery()' 2>/dev/null || :
}
