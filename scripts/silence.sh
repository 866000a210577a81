#!/usr/bin/env bash
# Silences alerts in the stack's Alertmanager, for maintenance and deploys:
# the alerts still fire and show in Prometheus and in Alertmanager's UI, but
# nobody is notified until the silence ends. amtool runs inside the
# alertmanager container, so the host needs only docker compose.
#
#   scripts/silence.sh [-p PROJECT] add [-d DURATION] [-c COMMENT] [MATCHER...]
#       silence the alerts that match every MATCHER (default: all alerts) for
#       DURATION (default 1h; 30m, 2h, ...) and print the silence's id
#   scripts/silence.sh [-p PROJECT] expire [ID...]
#       end the given silences, by default every active one this script made
#   scripts/silence.sh [-p PROJECT] list
#       the active silences, whoever made them
#   scripts/silence.sh [-p PROJECT] during [-d DURATION] [-c COMMENT] [MATCHER...] -- COMMAND [ARG...]
#       silence, run COMMAND, end the silence and exit with COMMAND's status;
#       DURATION (default 30m) only bounds a silence whose end this script
#       does not live to see. COMMAND runs even when no silence could be
#       made (Alertmanager down): a deploy is not held up by its alerts.
#
# A MATCHER is amtool's: severity="warning", job=~"catalog|users",
# alertname!="TargetDown". Silences made here have the author
# scripts/silence.sh and who ran it in the comment, so `expire` finds them
# and leaves the ones made in the UI alone.
#
# Settings: COMPOSE_PROJECT_NAME and COMPOSE_FILE (which stack; also -p), as
# for scripts/deploy.sh.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
author=scripts/silence.sh
all='alertname=~".+"'

if [ "${1:-}" = -p ]; then
	[ $# -ge 2 ] || { usage >&2; exit 2; }
	export COMPOSE_PROJECT_NAME=$2
	shift 2
fi
[ $# -ge 1 ] || { usage >&2; exit 2; }
cmd=$1
shift

die() { printf 'silence: %s\n' "$*" >&2; exit 1; }

# amtool ARG...: amtool against the running Alertmanager.
amtool() {
	docker compose exec -T alertmanager amtool --alertmanager.url=http://127.0.0.1:9093 "$@"
}

# add DURATION COMMENT MATCHER...: makes a silence and prints its id.
add() {
	local duration=$1 comment=$2
	shift 2
	[ $# -gt 0 ] || set -- "$all"
	amtool silence add --author="$author" --duration="$duration" \
		--comment="$comment (${USER:-$(id -un)}@$(hostname))" "$@"
}

# expire ID...: ends the silences, by default every active one of this script.
expire() {
	local ids=("$@")
	if [ ${#ids[@]} -eq 0 ]; then
		mapfile -t ids < <(amtool silence query --quiet --created-by="$author")
	fi
	if [ ${#ids[@]} -eq 0 ]; then
		echo "silence: no active silence made by $author"
		return
	fi
	amtool silence expire "${ids[@]}"
	printf 'silence: expired %s\n' "${ids[@]}"
}

# options DEFAULT_DURATION ARG...: reads -d and -c into duration and comment,
# the rest into rest.
options() {
	duration=$1 comment="silenced by $author" rest=()
	shift
	while [ $# -gt 0 ]; do
		case $1 in
		-d) [ $# -ge 2 ] || die "-d needs a duration"; duration=$2; shift 2 ;;
		-c) [ $# -ge 2 ] || die "-c needs a comment"; comment=$2; shift 2 ;;
		*) rest+=("$1"); shift ;;
		esac
	done
	[ -n "$comment" ] || die "the comment must not be empty"
}

case $cmd in
add)
	options 1h "$@"
	id=$(add "$duration" "$comment" "${rest[@]}")
	echo "silence: $id for $duration (scripts/silence.sh expire $id ends it)" >&2
	echo "$id"
	;;
expire) expire "$@" ;;
list) amtool silence query ;;
during)
	matchers=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do
		matchers+=("$1")
		shift
	done
	[ "${1:-}" = -- ] && [ $# -ge 2 ] || die "during: no command after --"
	shift
	options 30m "${matchers[@]}"
	if id=$(add "$duration" "$comment" "${rest[@]}"); then
		echo "silence: $id while: $*" >&2
		trap 'expire "$id" >&2' EXIT
	else
		echo "silence: could not silence the alerts (is alertmanager running?); going on without" >&2
	fi
	status=0
	"$@" || status=$?
	exit "$status"
	;;
-h | --help) usage ;;
*) usage >&2; exit 2 ;;
esac
