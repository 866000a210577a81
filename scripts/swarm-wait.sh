#!/usr/bin/env bash
# swarm-wait.sh STACK [TIMEOUT]: waits until every service of the stack has
# converged (as many running tasks as it wants, no update or rollback under
# way) and every container of the stack on this node is healthy. Swarm counts
# a task with a health check as running only once the check has passed, and
# only then lists its address in DNS. Exits 1 after TIMEOUT seconds (300),
# showing what had not converged.
set -euo pipefail
stack=${1:?usage: swarm-wait.sh STACK [TIMEOUT]}
timeout=${2:-300}
deadline=$(($(date +%s) + timeout))

# pending prints one line for each thing not yet converged; nothing when all is.
pending() {
	local services name replicas id update
	services=$(docker stack services "$stack" --format '{{.ID}} {{.Name}} {{.Replicas}}')
	[ -n "$services" ] || { echo "no services yet"; return; }
	while read -r id name replicas; do
		replicas=${replicas%% *} # "2/2 (max 1 per node)"
		if [ "${replicas%/*}" != "${replicas#*/}" ]; then
			echo "$name: $replicas tasks running"
		elif [ "$replicas" = 0/0 ] && [ "$(docker service inspect --format \
			'{{with .Spec.Mode.Replicated}}{{.Replicas}}{{end}}' "$id")" != 0 ]; then
			# A global service before the scheduler has counted the nodes;
			# a replicated one set to no tasks (Grafana without its image)
			# has converged.
			echo "$name: $replicas tasks running"
		fi
		update=$(docker service inspect --format '{{if .UpdateStatus}}{{.UpdateStatus.State}}{{end}}' "$id")
		case $update in
		'' | completed) ;;
		rollback_completed) echo "$name: update rolled back"; return 2 ;;
		paused | rollback_paused) echo "$name: update $update"; return 2 ;;
		*) echo "$name: update $update" ;;
		esac
	done <<<"$services"
	docker ps --filter "label=com.docker.stack.namespace=$stack" --format '{{.Names}} {{.Status}}' |
		grep -E 'health: starting|unhealthy' || true
}

while :; do
	rc=0
	out=$(pending) || rc=$?
	[ -z "$out" ] && [ "$rc" = 0 ] && exit 0
	if [ "$rc" != 0 ] || [ "$(date +%s)" -ge "$deadline" ]; then
		echo "swarm-wait: stack $stack has not converged:" >&2
		echo "$out" | sed 's/^/  /' >&2
		# The tasks meant to run, and those the node keeps refusing (desired
		# ready: rejected, with the reason, such as a network that overlaps
		# one left by another stack).
		docker stack ps "$stack" --no-trunc --filter desired-state=running --filter desired-state=ready \
			--format '  {{.Name}} {{.CurrentState}} {{.Error}}' >&2 || true
		exit 1
	fi
	sleep 2
done
