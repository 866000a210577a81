#!/usr/bin/env bash
# Updates services one at a time without dropping a request: the new
# container starts beside the old one, nginx moves traffic, the old one
# drains and goes.
#
#   scripts/deploy.sh [-p PROJECT] [--no-build] [SERVICE...]
#
# SERVICE is catalog, users or orders; all three, in that order, by default.
# The images are built first (unless --no-build: they are there already).
# Then, for each service running N containers (N is its configured scale):
#  1. start N new containers from the new image beside the old ones;
#  2. wait until they are healthy (their /readyz answers), else remove them
#     and stop here, the old containers still serving;
#  3. reload nginx, which resolves the service name again and now balances
#     over old and new;
#  4. stop the old containers: each fails /readyz, keeps answering for
#     DRAIN_DELAY, then closes its listener and finishes its in-flight
#     requests; nginx sends what they refuse to the new ones;
#  5. once the service name no longer resolves to the old containers, reload
#     nginx again and remove them.
# Every reload returns only when nginx's workers of the previous
# configuration have exited (deploy/reload-nginx.sh says why).
# Migrations run when the new container starts, while the old one still
# serves: they must be expand/contract (docs/runbook.md).
#
# Settings: COMPOSE_PROJECT_NAME and COMPOSE_FILE (which stack; also -p),
# DEPLOY_HEALTH_TIMEOUT (seconds to wait for health, default 120),
# DEPLOY_DNS_TIMEOUT (seconds to wait for the service name to list the new
# containers, and then no longer the old ones, default 30), and those of
# deploy/reload-nginx.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
build=1
services=()
while [ $# -gt 0 ]; do
	case $1 in
	-p) [ $# -ge 2 ] || { usage >&2; exit 2; }; export COMPOSE_PROJECT_NAME=$2; shift 2 ;;
	-p*) export COMPOSE_PROJECT_NAME=${1#-p}; shift ;;
	--no-build) build=; shift ;;
	-h | --help) usage; exit 0 ;;
	-*) usage >&2; exit 2 ;;
	*) services+=("$1"); shift ;;
	esac
done
[ ${#services[@]} -gt 0 ] || services=(catalog users orders)
health_timeout=${DEPLOY_HEALTH_TIMEOUT:-120}
dns_timeout=${DEPLOY_DNS_TIMEOUT:-30}

log() { printf '==> %s\n' "$*"; }
die() { printf 'deploy: %s\n' "$*" >&2; exit 1; }

for svc in "${services[@]}"; do
	case $svc in
	catalog | users | orders) ;;
	*) die "$svc cannot be replaced without downtime (only catalog, users, orders can); use: docker compose up -d $svc" ;;
	esac
done

# quietly CMD...: runs CMD, showing its output only when it fails.
quietly() {
	local out
	out=$("$@" </dev/null 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

# wait_until TIMEOUT WHAT CMD...: retries CMD every half second until it
# succeeds; fails naming WHAT after TIMEOUT seconds.
wait_until() {
	local deadline=$((SECONDS + $1)) what=$2
	shift 2
	until "$@"; do
		((SECONDS < deadline)) || { echo "deploy: timed out waiting until $what" >&2; return 1; }
		sleep 0.5
	done
}

# in_nginx CMD...: runs CMD in the nginx container.
in_nginx() {
	docker compose exec -T nginx "$@" </dev/null
}

reload_nginx() {
	deploy/reload-nginx.sh || die "$svc: reloading nginx failed"
}

# ips ID: the container's address on the edge network, where nginx looks
# it up.
ips() {
	docker inspect --format '{{range $name, $n := .NetworkSettings.Networks}}{{println $name $n.IPAddress}}{{end}}' "$1" |
		awk '$1 ~ /_edge$/ && $2 != "" { print $2 }' | grep .
}

# resolves SERVICE yes|no IP...: whether SERVICE, looked up from nginx's
# container, resolves to each IP (yes) or to none of them (no).
resolves() {
	local got ip
	got=$(in_nginx getent ahostsv4 "$1" | awk '{print $1}')
	for ip in "${@:3}"; do
		if grep -qxF "$ip" <<<"$got"; then [ "$2" = yes ] || return 1; else [ "$2" = no ] || return 1; fi
	done
}

# desired_replicas SERVICE: how many containers the configuration asks for
# (deploy.replicas; docker-compose.prod.yml takes it from <SERVICE>_REPLICAS).
desired_replicas() {
	local n
	n=$(docker compose config --format json "$1" </dev/null | sed -n 's/.*"replicas": *\([0-9]*\).*/\1/p' | head -n 1)
	echo "${n:-1}"
}

# container_ids SERVICE: the running containers of SERVICE, one id a line.
container_ids() {
	docker compose ps --quiet --status running "$1" </dev/null
}

# wait_healthy ID: until the container's healthcheck passes; fails when it
# reports unhealthy, exits, or health_timeout passes.
wait_healthy() {
	local deadline=$((SECONDS + health_timeout)) state
	while :; do
		state=$(docker inspect --format '{{.State.Status}}/{{if .State.Health}}{{.State.Health.Status}}{{end}}' "$1")
		case $state in
		running/healthy) return 0 ;;
		running/unhealthy | exited/* | dead/*) echo "container is $state" >&2; return 1 ;;
		running/) echo "container has no healthcheck" >&2; return 1 ;;
		esac
		((SECONDS < deadline)) || { echo "not healthy after ${health_timeout}s" >&2; return 1; }
		sleep 1
	done
}

docker compose ps --status running --services </dev/null | grep -qx nginx ||
	die "nginx is not running in compose project ${COMPOSE_PROJECT_NAME:-(named after this directory)}: start the stack first"

if [ -n "$build" ]; then
	log "Building ${services[*]}"
	docker compose build "${services[@]}" </dev/null
fi

for svc in "${services[@]}"; do
	start=$SECONDS
	mapfile -t old < <(container_ids "$svc")
	n=$(desired_replicas "$svc")
	[ ${#old[@]} -eq "$n" ] ||
		die "$svc has ${#old[@]} running containers, its configuration asks for $n (an interrupted deploy? see docker compose ps $svc)"

	log "$svc: starting $n new container(s) beside $(printf '%.12s ' "${old[@]}")"
	quietly docker compose up --detach --no-deps --no-build --no-recreate --scale "$svc=$((2 * n))" "$svc" ||
		die "$svc: could not start new containers"
	mapfile -t new < <(container_ids "$svc" | grep -vxF -f <(printf '%s\n' "${old[@]}"))
	if [ ${#new[@]} -ne "$n" ]; then
		[ ${#new[@]} -eq 0 ] || docker rm --force "${new[@]}" >/dev/null
		die "$svc: expected $n new containers, found ${#new[@]}; the old ones still serve"
	fi
	for id in "${new[@]}"; do
		wait_healthy "$id" && continue
		docker logs --tail 30 "$id" >&2 || true
		docker rm --force "${new[@]}" >/dev/null
		die "$svc: new container ${id:0:12} did not become healthy; removed the new ones, the old ones still serve"
	done

	mapfile -t new_ips < <(for id in "${new[@]}"; do ips "$id"; done)
	mapfile -t old_ips < <(for id in "${old[@]}"; do ips "$id"; done)
	wait_until "$dns_timeout" "$svc resolves to the new containers" resolves "$svc" yes "${new_ips[@]}" ||
		die "$svc: DNS never listed the new containers"
	log "$svc: healthy; reloading nginx to send them traffic"
	reload_nginx
	log "$svc: stopping the old container(s) (they drain in-flight requests)"
	docker stop "${old[@]}" >/dev/null
	wait_until "$dns_timeout" "$svc no longer resolves to the old containers" resolves "$svc" no "${old_ips[@]}" ||
		die "$svc: DNS still lists stopped containers"
	reload_nginx
	docker rm "${old[@]}" >/dev/null
	# Only the new containers remain: back to the configured scale.
	quietly docker compose up --detach --no-deps --no-build --no-recreate --scale "$svc=$n" "$svc" ||
		die "$svc: could not settle the scale back to $n"
	log "$svc: deployed in $((SECONDS - start))s ($(docker inspect --format '{{.Config.Image}}' "${new[0]}"))"
done
