#!/usr/bin/env bash
# Which infrastructure images `make` uses: the pinned upstream ones (the
# defaults in docker-compose.yml, ${POSTGRES_IMAGE:-postgres:15.19-bookworm})
# when Docker can pull them, else the local stand-ins that images/build.sh
# builds (the tags in images/local.env).
#
# usage: images/choose.sh          decide; print the choice as KEY=VALUE lines
#                                  (BAZAAR_IMAGES, then every *_IMAGE of local.env)
#                                  and one "==> Images: ..." line on stderr
#        images/choose.sh --pull   pull the images named by the *_IMAGE variables
#                                  (default: upstream) and Grafana's, those that
#                                  are not on this machine yet
#
# The probe is one `docker pull` of a small pinned upstream image, bounded by
# BAZAAR_IMAGE_PROBE_TIMEOUT seconds (default 20). It goes through the Docker
# daemon, so the daemon's proxy and mirror settings count, and needs no login.
# When it fails but every upstream image is already on this machine, the
# choice is still upstream (an offline laptop keeps the images it has).
#
# env BAZAAR_IMAGES=upstream  the upstream images; fails when they can be neither
#                             pulled nor found on this machine (nothing is built)
#     BAZAAR_IMAGES=local     the local stand-ins, without probing
#     unset or empty          detect as above; any other value is refused
# Needs bash 3.2+ and POSIX tools only (macOS as well as Linux).
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
LOCAL_ENV=$HERE/local.env
COMPOSE=$HERE/../docker-compose.yml
PROBE_KEY=REDIS_EXPORTER_IMAGE # one static binary, a few MB, on Docker Hub
TIMEOUT=${BAZAAR_IMAGE_PROBE_TIMEOUT:-20}

die() { echo "images/choose.sh: error: $*" >&2; exit 1; }

[ -r "$LOCAL_ENV" ] || die "$LOCAL_ENV is missing"
[ -r "$COMPOSE" ] || die "$COMPOSE is missing"

# KEYS: the image variables, those local.env sets, in its order; LOCAL and
# UPSTREAM: KEY=TAG lines of local.env and of the ${KEY:-TAG} defaults in
# docker-compose.yml. Read once: bash 3.2 (macOS) has no associative arrays.
LOCAL=$(grep -E '^[A-Z_]+_IMAGE=' "$LOCAL_ENV" || true)
KEYS=$(printf '%s\n' "$LOCAL" | sed 's/=.*//')
UPSTREAM=$(grep -oE '[$][{][A-Z_]+_IMAGE:-[^}]*[}]' "$COMPOSE" | sed 's/^..//; s/:-/=/; s/.$//' | sort -u || true)
[ -n "$KEYS" ] || die "$LOCAL_ENV sets no *_IMAGE variable"

# tag_in LINES KEY: KEY's tag in the KEY=TAG lines; two, or an empty one, is an
# error (status 1); none prints nothing.
tag_in() {
	local line tag='' n=0
	while IFS= read -r line; do
		case $line in "$2="*) tag=${line#*=} n=$((n + 1)) ;; esac
	done <<<"$1"
	[ "$n" -eq 0 ] && return 0
	[ "$n" -eq 1 ] && [ -n "$tag" ] && { printf '%s\n' "$tag"; return; }
	return 1
}
local_tag() {
	local tag
	tag=$(tag_in "$LOCAL" "$1") && [ -n "$tag" ] || die "$LOCAL_ENV must set $1 exactly once, to an image"
	printf '%s\n' "$tag"
}
# upstream_tag KEY: its default in docker-compose.yml; nothing when no service
# uses KEY (yet): a stand-in may be built before the compose file runs it.
upstream_tag() { tag_in "$UPSTREAM" "$1" || die "docker-compose.yml must give $1 one default (\${$1:-image}), the same wherever it is used"; }
# emit CHOICE: print the assignments the Makefile exports, all or none.
emit() {
	local key tag lines="BAZAAR_IMAGES=$1"
	for key in $KEYS; do
		if [ "$1" = upstream ]; then
			tag=$(upstream_tag "$key")
			[ -n "$tag" ] || continue
		else
			tag=$(local_tag "$key")
		fi
		case $tag in
		'' | *[!A-Za-z0-9._/:@-]*) die "$key: '$tag' is not an image name" ;;
		esac
		lines="$lines
$key=$tag"
	done
	printf '%s\n' "$lines"
}
say() { echo "==> Images: $*" >&2; }
present() { docker image inspect "$1" >/dev/null 2>&1; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bazaar-choose.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# probe IMAGE: pull it within TIMEOUT seconds; on failure the reason, one
# line, is in $reason. (Polls instead of timeout(1), which macOS lacks.)
reason=
probe() {
	local out=$WORK/probe.out pid rc=0 deadline=$((SECONDS + TIMEOUT))
	docker pull -q "$1" >"$out" 2>&1 </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		if [ "$SECONDS" -ge "$deadline" ]; then
			kill "$pid" 2>/dev/null || true
			wait "$pid" 2>/dev/null || true
			reason="docker pull $1 timed out after ${TIMEOUT}s"
			return 1
		fi
		sleep 0.1
	done
	wait "$pid" || rc=$?
	((rc == 0)) && return 0
	reason=$(tr -s '\r\n\t' '   ' <"$out" | sed 's/^ *//; s/ *$//; s/^Error response from daemon: //' | cut -c1-300)
	[ -n "$reason" ] || reason="docker pull $1 exited with status $rc"
	return 1
}

# ---- --pull: the upstream images (or whatever the *_IMAGE variables name) ----
if [ "${1:-}" = --pull ]; then
	pulled=0 had=0
	for key in $KEYS GRAFANA_IMAGE; do
		tag=${!key:-}
		[ -n "$tag" ] || tag=$(upstream_tag "$key")
		[ -n "$tag" ] || continue
		if present "$tag"; then had=$((had + 1)); continue; fi
		echo "==> docker pull $tag"
		if docker pull -q "$tag" >/dev/null; then
			pulled=$((pulled + 1))
		elif [ "$key" = GRAFANA_IMAGE ]; then
			echo "==> Grafana image $tag could not be pulled: the stack runs without Grafana"
		else
			die "could not pull $tag ($key); BAZAAR_IMAGES=local builds local stand-ins instead"
		fi
	done
	echo "==> Upstream images: $had already here, $pulled pulled"
	exit 0
elif [ $# -gt 0 ]; then
	die "unknown argument '$1' (usage: images/choose.sh [--pull])"
fi

# ---- decide ------------------------------------------------------------------
choice=${BAZAAR_IMAGES:-}
case $choice in
'' | upstream | local) ;;
*) die "BAZAAR_IMAGES='$choice' is not a choice: use BAZAAR_IMAGES=upstream (the pinned upstream images; needs a registry), BAZAAR_IMAGES=local (stand-ins built here by images/build.sh), or leave it unset to detect" ;;
esac
case $TIMEOUT in
'' | *[!0-9]* | 0) die "BAZAAR_IMAGE_PROBE_TIMEOUT='$TIMEOUT' is not a positive number of seconds" ;;
esac

if [ "$choice" = local ]; then
	emit local
	say "local stand-ins, built from Debian packages (BAZAAR_IMAGES=local)"
	exit 0
fi

command -v docker >/dev/null || die "docker is not installed"
probe_image=$(upstream_tag "$PROBE_KEY")
why=${choice:+BAZAAR_IMAGES=upstream; }
if probe "$probe_image"; then
	emit upstream
	say "upstream (${why}registry reachable: pulled $probe_image)"
	exit 0
fi
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is it running, may this user use it?): $reason"

all_here=1
for key in $KEYS; do
	tag=$(upstream_tag "$key")
	[ -z "$tag" ] || present "$tag" || { all_here=0; break; }
done
if ((all_here)); then
	emit upstream
	say "upstream (${why}no registry: $reason; but every upstream image is on this machine)"
elif [ "$choice" = upstream ]; then
	die "BAZAAR_IMAGES=upstream, but Docker cannot pull the upstream images ($reason), and they are not on this machine. Nothing was built. Unset BAZAAR_IMAGES (or set BAZAAR_IMAGES=local) to build local stand-ins from Debian packages instead."
else
	emit local
	say "local stand-ins, built from Debian packages (no registry: $reason)"
fi
