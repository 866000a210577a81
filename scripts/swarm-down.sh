#!/usr/bin/env bash
# `make swarm-down`: removes the stack (STACK_NAME, default bazaar) and waits
# until its containers and networks are gone. Its volumes (PostgreSQL's data,
# Prometheus's) are kept unless SWARM_VOLUMES=delete. The swarm itself stays:
# `docker swarm leave --force` undoes what `make swarm-up` initialised.
set -euo pipefail
cd "$(dirname "$0")/.."
stack=${STACK_NAME:-bazaar}
if [ -f .env ] && [ -z "${STACK_NAME:-}" ]; then
	stack=$(sed -n 's/^STACK_NAME=//p' .env | tail -1)
	stack=${stack:-bazaar}
fi

if [ "$(docker info --format '{{.Swarm.LocalNodeState}}')" != active ]; then
	echo "swarm-down: this engine is in no swarm; nothing to remove"
	exit 0
fi
if docker stack ls --format '{{.Name}}' | grep -qx "$stack"; then
	echo "==> Removing stack $stack"
	docker stack rm "$stack"
else
	echo "==> No stack $stack"
fi
# stack rm returns at once; containers stop within their grace periods.
for _ in $(seq 90); do
	left=$(docker ps -aq --filter "label=com.docker.stack.namespace=$stack")
	nets=$(docker network ls -q --filter "label=com.docker.stack.namespace=$stack")
	[ -z "$left$nets" ] && break
	sleep 1
done
[ -z "$left$nets" ] || echo "swarm-down: containers or networks of $stack are still there after 90 s" >&2
case ${SWARM_VOLUMES:-keep} in
delete)
	echo "==> Deleting the volumes of $stack"
	docker volume ls -q --filter "label=com.docker.stack.namespace=$stack" | xargs -r docker volume rm
	;;
keep) echo "==> Volumes of $stack kept (SWARM_VOLUMES=delete removes them)" ;;
*) echo "swarm-down: SWARM_VOLUMES=${SWARM_VOLUMES} is neither keep nor delete" >&2; exit 2 ;;
esac
