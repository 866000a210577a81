#!/usr/bin/env bash
# Reads and writes settings in the production .env without the quoting traps
# of sed: values are stored single-quoted, which docker compose and systemd's
# EnvironmentFile both take verbatim. PEM keys are stored on one line with
# \n for each newline (the users service reads them so).
#
#   deploy/env.sh [-f FILE] get NAME            print the value (exit 1 when NAME is absent)
#   deploy/env.sh [-f FILE] set NAME VALUE      replace NAME's line, or append one
#   deploy/env.sh [-f FILE] get-pem NAME        print a PEM value with real newlines
#   deploy/env.sh [-f FILE] set-pem NAME FILE   store the PEM in FILE as NAME's value
#   deploy/env.sh [-f FILE] unset NAME          remove NAME's lines
#   deploy/env.sh [-f FILE] setting NAME DEFAULT   NAME from the environment, else from
#                                               the file (as for compose), else DEFAULT
#
# FILE defaults to the .env next to docker-compose.yml.
set -euo pipefail

env_file=$(dirname "$0")/../.env
if [ "${1:-}" = -f ]; then
	env_file=$2
	shift 2
fi
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0" >&2; exit 2; }
[ $# -ge 2 ] || usage
cmd=$1 name=$2
[[ $name =~ ^[A-Z][A-Z0-9_]*$ ]] || { echo "env.sh: bad name '$name'" >&2; exit 2; }

get() {
	grep -qs "^$name=" "$env_file" || { echo "env.sh: $name is not in $env_file" >&2; return 1; }
	sed -n "s/^$name=//p" "$env_file" | tail -n 1 | sed -E "s/^'(.*)'\$/\\1/; s/^\"(.*)\"\$/\\1/"
}

# rewrite VALUE: NAME's lines become one NAME=VALUE line, or go when
# unset is 1.
rewrite() {
	local value=$1 unset=${2:-0} tmp
	touch "$env_file"
	tmp=$(mktemp "$env_file.XXXXXX")
	# ENVIRON, unlike awk -v, leaves backslashes alone.
	NAME=$name VALUE=$value UNSET=$unset awk '
		BEGIN { line = ENVIRON["NAME"] "='\''" ENVIRON["VALUE"] "'\''"; if (ENVIRON["UNSET"] == 1) done = 1 }
		index($0, ENVIRON["NAME"] "=") == 1 { if (!done) print line; done = 1; next }
		{ print }
		END { if (!done) print line }
	' "$env_file" >"$tmp"
	chmod --reference="$env_file" "$tmp"
	# Run as root on the deploy user's file, the file stays the deploy user's.
	chown --reference="$env_file" "$tmp" 2>/dev/null || true
	mv "$tmp" "$env_file"
}

set_value() {
	[[ $1 != *"'"* && $1 != *$'\n'* ]] || { echo "env.sh: $name: the value must not contain ' or a newline" >&2; return 1; }
	rewrite "$1"
}

case $cmd in
get) [ $# -eq 2 ] || usage; get ;;
set) [ $# -eq 3 ] || usage; set_value "$3" ;;
unset) [ $# -eq 2 ] || usage; rewrite "" 1 ;;
get-pem) [ $# -eq 2 ] || usage; printf '%s\n' "$(get | sed 's/\\n/\n/g')" ;;
set-pem)
	[ $# -eq 3 ] || usage
	grep -q -- '-----BEGIN ' "$3" || { echo "env.sh: $3 holds no PEM block" >&2; exit 1; }
	set_value "$(awk '{printf "%s\\n", $0}' "$3")"
	;;
setting)
	[ $# -eq 3 ] || usage
	value=${!name:-}
	[ -n "$value" ] || value=$(get 2>/dev/null) || true
	printf '%s\n' "${value:-$3}"
	;;
*) usage ;;
esac
