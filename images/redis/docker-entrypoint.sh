#!/usr/bin/env bash
# Entrypoint of bazaar/redis, following the official redis image:
#  - `IMAGE --port 7000` or `IMAGE /path/redis.conf` run redis-server with those arguments;
#  - started as root, it chowns /data and re-runs itself as user redis (setpriv);
#  - protected mode is off, as in the official image (which compiles it off; Debian's
#    binary defaults to on): `--protected-mode no` is added unless a config file given
#    as first argument sets protected-mode itself. Later arguments still override it.
set -eo pipefail

if [ "${1#-}" != "$1" ] || [ "${1%.conf}" != "$1" ]; then set -- redis-server "$@"; fi

if [ "$1" = redis-server ]; then
	if [ "$(id -u)" = 0 ]; then
		find . \! -user redis -exec chown redis '{}' +
		exec setpriv --reuid=redis --regid=redis --init-groups "$0" "$@"
	fi
	shift
	conf=()
	# redis-server takes a config file only as its first argument ("-" = stdin)
	if [ $# -gt 0 ] && { [ "$1" = - ] || [ "${1#-}" = "$1" ]; }; then conf=("$1"); shift; fi
	if [ ${#conf[@]} = 0 ] || [ "${conf[0]}" = - ] || ! grep -qiE '^[[:space:]]*protected-mode[[:space:]]' "${conf[0]}" 2>/dev/null; then
		set -- --protected-mode no "$@"
	fi
	set -- redis-server "${conf[@]}" "$@"
	# like upstream: files written by redis are private unless a umask was chosen
	[ "$(umask)" != 0022 ] || umask 0077
fi

exec "$@"
