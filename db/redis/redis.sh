#!/bin/sh
# Redis with an access list of its own, passwords from the Compose secrets:
#
#   redis.sh server [redis-server flags]   start Redis
#   redis.sh cli [redis-cli arguments]     redis-cli as the cache's user
#                                          (health check, FLUSHALL on restore)
#
# Users: `default` is off, so a client without a password gets nothing.
# `catalog` (the cache) may run every command but the administrative and
# dangerous ones, FLUSHALL excepted. `exporter` (redis_exporter) may run only
# the read-only server commands it scrapes, and name its own connection. The access list is written to
# /tmp, a tmpfs, never to a command line, where ps would show the passwords;
# passwords are therefore made of letters, digits and dashes (no spaces).
set -eu

secrets=${SECRETS:-/run/secrets}
catalog=$(cat "$secrets/redis_catalog_password")

case ${1:-} in
server)
	shift
	# redis_exporter reads its password from a JSON map of address to
	# password: the last quoted string is the password.
	exporter=$(sed -n 's/.*"\([^"]*\)"[^"]*$/\1/p' "$secrets/redis_exporter_password.json")
	for pw in "$catalog" "$exporter"; do
		case $pw in
		'' | *[!A-Za-z0-9_-]*)
			echo "redis.sh: a Redis password is empty or holds characters other than letters, digits, - and _" >&2
			exit 1
			;;
		esac
	done
	umask 077
	cat >/tmp/users.acl <<ACL
user default off
user catalog on >$catalog ~* &* +@all -@admin -@dangerous +flushall
user exporter on >$exporter -@all +ping +info +select +dbsize +config|get +client|list +client|setname +slowlog|get +slowlog|len +latency|latest +latency|histogram +memory|stats +cluster|info
ACL
	exec redis-server --aclfile /tmp/users.acl "$@"
	;;
cli)
	shift
	REDISCLI_AUTH=$catalog exec redis-cli --no-auth-warning --user catalog "$@"
	;;
*)
	echo "usage: redis.sh server [flags] | redis.sh cli [arguments]" >&2
	exit 2
	;;
esac
