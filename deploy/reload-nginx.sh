#!/usr/bin/env bash
# Makes nginx read its configuration again, which resolves the service
# names anew, and returns once every worker of the previous configuration
# has finished its requests and exited.
#
# Waiting matters: `nginx -s reload` only signals the master, and until the
# old workers are gone they keep the addresses they resolved. Docker hands a
# freed address to the next container it starts, so a stopped or restarted
# container's address may already belong to another service, which would
# then get requests meant for this one. scripts/deploy.sh, scripts/restore.sh
# and deploy/certs.sh reload through here.
#
# Settings: COMPOSE_PROJECT_NAME and COMPOSE_FILE (which stack), NGINX_CONF
# (nginx's configuration inside its container, default
# /etc/nginx/bazaar/nginx.conf), NGINX_RELOAD_TIMEOUT (seconds, default 120).
set -euo pipefail
cd "$(dirname "$0")/.."
nginx_conf=${NGINX_CONF:-/etc/nginx/bazaar/nginx.conf}
timeout=${NGINX_RELOAD_TIMEOUT:-120}

in_nginx() {
	docker compose exec -T nginx "$@" </dev/null
}

read -r -a previous < <(in_nginx sh -c 'grep -l "^nginx: worker process" /proc/[0-9]*/cmdline 2>/dev/null | cut -d/ -f3' | xargs)
# nginx -s reload parses the whole configuration first, resolving every
# upstream name, and signals the master only if that succeeds.
if ! out=$(in_nginx nginx -c "$nginx_conf" -s reload 2>&1); then
	printf '%s\n' "$out" >&2
	echo "reload-nginx: nginx refused its configuration and keeps running the previous one" >&2
	exit 1
fi
deadline=$((SECONDS + timeout))
# shellcheck disable=SC2016 # expanded by the container's shell
until in_nginx sh -c 'for p; do [ ! -e "/proc/$p" ] || exit 1; done' sh "${previous[@]}" >/dev/null 2>&1; do
	((SECONDS < deadline)) || { echo "reload-nginx: workers of the previous configuration still run after ${timeout}s" >&2; exit 1; }
	sleep 0.5
done
