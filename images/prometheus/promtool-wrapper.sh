#!/bin/bash
# /usr/bin/promtool (= /bin/promtool) in bazaar/prometheus. Debian's promtool 2.42
# predates `promtool check healthy` and `promtool check ready`, which healthchecks
# written for newer Prometheus use; those two are emulated here with an HTTP GET of
# /-/healthy or /-/ready (http:// URLs only). Everything else runs the real promtool.
if [ "${1:-}" = check ] && { [ "${2:-}" = healthy ] || [ "${2:-}" = ready ]; }; then
	what=$2 url=http://localhost:9090
	shift 2
	while [ $# -gt 0 ]; do
		case $1 in
			--url=*) url=${1#--url=} ;;
			--url) url=${2:-}; shift ;;
			*) echo "promtool check $what: unsupported argument $1" >&2; exit 2 ;;
		esac
		shift
	done
	hostport=${url#http://}; hostport=${hostport%%/*}
	[ "$hostport" != "$url" ] || { echo "promtool check $what: only http:// URLs are supported" >&2; exit 2; }
	host=${hostport%:*} port=${hostport##*:}
	[ "$port" != "$hostport" ] || port=80
	status='' body=''
	if { exec 3<>"/dev/tcp/$host/$port"; } 2>/dev/null; then
		printf 'GET /-/%s HTTP/1.0\r\nHost: %s\r\n\r\n' "$what" "$hostport" >&3
		IFS=$' \r' read -r _ status _ <&3 || :
		body=$(sed '1,/^\r\{0,1\}$/d' <&3)
	fi
	if [ "$status" = 200 ]; then echo "$body"; exit 0; fi
	echo "Prometheus is not $what (GET $url/-/$what: ${status:-no response})" >&2
	exit 1
fi
exec /usr/bin/promtool.debian "$@"
