#!/usr/bin/env bash
# Build Bazaar's local infrastructure images, for machines that cannot pull from a
# container registry: from Debian packages, and Prometheus, Alertmanager and the
# Redis and nginx exporters from their upstream source at the pinned release (Go
# module proxy). Tags come from images/local.env.
#
# usage: images/build.sh [--no-cache] [-v] [IMAGE...]
#   IMAGE: debian golang postgres redis nginx prometheus alertmanager postgres-exporter
#          redis-exporter nginx-exporter (default: all). The base image "debian" is
#          built first whenever it is missing, whatever is asked for, and "golang"
#          whenever it is missing and a Go-built image is asked for.
#   --no-cache  re-create the base rootfs and build without Docker's layer cache
#               (picks up Debian security updates)
#   -v          stream the build output instead of keeping it in a log file
# env BAZAAR_CA_CERTS=FILE.pem: CAs the golang image trusts besides Debian's; default:
#   this machine's bundle /etc/ssl/certs/ca-certificates.crt, so module downloads work
#   wherever they work on the host (also behind HTTPS-intercepting proxies);
#   BAZAAR_CA_CERTS= (empty) keeps Debian's CAs only.
# env GOPROXY, GOSUMDB: passed to the Go builds (default: this machine's `go env`);
#   prometheus, alertmanager, redis-exporter and nginx-exporter are built from their
#   upstream source at the pinned release, downloaded through GOPROXY.
#
# Idempotent: the base image is only re-created when it is missing or
# images/debian/rootfs.sh changed; Dockerfile images rely on Docker's layer cache;
# golang is skipped when its label matches (Dockerfile, Go version, CA bundle, base image).
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
ENV_FILE=$HERE/local.env
BASE_IMAGE=bazaar/debian:bookworm
ALL=(debian golang postgres redis nginx prometheus alertmanager postgres-exporter redis-exporter nginx-exporter)
# Built with Go from upstream source, in a bazaar/golang build stage.
FROM_SOURCE=(prometheus alertmanager redis-exporter nginx-exporter)
declare -A KEY=(
  [postgres]=POSTGRES_IMAGE [redis]=REDIS_IMAGE [nginx]=NGINX_IMAGE
  [prometheus]=PROMETHEUS_IMAGE [alertmanager]=ALERTMANAGER_IMAGE
  [postgres-exporter]=POSTGRES_EXPORTER_IMAGE
  [redis-exporter]=REDIS_EXPORTER_IMAGE [nginx-exporter]=NGINX_EXPORTER_IMAGE
  [golang]=GO_IMAGE
)

export DOCKER_BUILDKIT=0
NO_CACHE=() VERBOSE=0 WANT=()

die() { echo "build.sh: error: $*" >&2; exit 1; }
ts() { date +%H:%M:%S; }

while (($#)); do
  case $1 in
    --no-cache) NO_CACHE=(--no-cache) ;;
    -v|--verbose) VERBOSE=1 ;;
    -h|--help) sed -n '2,25s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
    -*) die "unknown option $1 (see --help)" ;;
    *) [[ " ${ALL[*]} " == *" $1 "* ]] || die "unknown image '$1' (known: ${ALL[*]})"; WANT+=("$1") ;;
  esac
  shift
done
((${#WANT[@]})) || WANT=("${ALL[@]}")

command -v docker >/dev/null || die "docker is not installed"
docker info >/dev/null 2>&1 || die "cannot talk to the Docker daemon (is it running, may this user use it?)"
[[ -r $ENV_FILE ]] || die "$ENV_FILE is missing"

# tag_of NAME: the image tag, read from local.env (written there once).
tag_of() {
  [[ $1 == debian ]] && { echo "$BASE_IMAGE"; return; }
  local tag
  tag=$(sed -n "s/^${KEY[$1]}=//p" "$ENV_FILE" | tail -n1)
  [[ -n $tag ]] || die "${KEY[$1]} is not set in $ENV_FILE"
  echo "$tag"
}
image_id() { docker image inspect -f '{{.Id}}' "$1" 2>/dev/null || true; }
label_of() { docker image inspect -f "{{index .Config.Labels \"$2\"}}" "$1" 2>/dev/null || true; }

WORK=$(mktemp -d "${TMPDIR:-/tmp}/bazaar-images.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# run_logged NAME CMD...: run CMD, output to a log file (or the terminal with -v);
# on failure show the end of the log and stop.
run_logged() {
  local name=$1; shift
  local log=$WORK/$name.log
  if ((VERBOSE)); then
    "$@" 2>&1 | tee "$log" || { echo "$(ts) FAIL  $name" >&2; die "building $name failed (see output above)"; }
  elif ! "$@" >"$log" 2>&1; then
    echo "$(ts) FAIL  $name — last lines of its build log:" >&2
    tail -n 30 "$log" | sed 's/\x1b\[[0-9;]*m//g; s/^/    /' >&2
    die "building $name failed"
  fi
}

# ---- base image: mmdebstrap rootfs -> docker import -------------------------
build_debian() {
  local recipe=$HERE/debian/rootfs.sh hash sources=""
  hash=$(sha256sum "$recipe" | cut -c1-16)
  if [[ -z ${NO_CACHE[*]} && -n $(image_id "$BASE_IMAGE") && $(label_of "$BASE_IMAGE" bazaar.recipe) == "$hash" ]]; then
    SKIPPED=1; return 0
  fi
  if ! command -v mmdebstrap >/dev/null; then
    ((EUID == 0)) || die "mmdebstrap is missing; run: sudo apt-get install -y mmdebstrap"
    echo "$(ts)       installing mmdebstrap with apt-get"
    run_logged apt-mmdebstrap bash -c 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends mmdebstrap'
  fi
  # The host's own apt sources (never a mirror name in this project).
  for f in /etc/apt/sources.list.d/debian.sources /etc/apt/sources.list; do
    if [[ -s $f ]] && grep -qvE '^[[:space:]]*(#|$)' "$f"; then sources=$f; break; fi
  done
  [[ -n $sources ]] || die "no apt sources found (/etc/apt/sources.list.d/debian.sources or /etc/apt/sources.list)"
  run_logged debian-rootfs bash "$recipe" "$WORK/rootfs.tar" "$sources"
  run_logged debian-import docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'CMD ["bash"]' \
    --change "LABEL bazaar.recipe=$hash org.opencontainers.image.description=\"Debian bookworm minbase built locally with mmdebstrap\"" \
    "$WORK/rootfs.tar" "$BASE_IMAGE"
  rm -f "$WORK/rootfs.tar"
}

# ---- Dockerfile images ------------------------------------------------------
build_dockerfile() {
  local name=$1 tag=$2 args=(--build-arg "BASE_IMAGE=$BASE_IMAGE")
  if [[ " ${FROM_SOURCE[*]} " == *" $name "* ]]; then
    args+=(--build-arg "GO_IMAGE=$(tag_of golang)" --build-arg "GOPROXY=$GO_PROXY" --build-arg "GOSUMDB=$GO_SUMDB")
  fi
  run_logged "$name" docker build --force-rm "${NO_CACHE[@]}" "${args[@]}" -t "$tag" "$HERE/$name"
}

# golang: this machine's Go toolchain on top of the base image.
build_golang() {
  local tag=$1 goroot gover hash ctx=$WORK/golang-context
  command -v go >/dev/null || die "golang: no 'go' on PATH (the image ships this machine's Go toolchain)"
  goroot=$(go env GOROOT) gover=$(go env GOVERSION)
  [[ $gover == go1.26 || $gover == go1.26.* ]] || die "golang: local Go is $gover, $tag needs go1.26.x"
  [[ -x $goroot/bin/go ]] || die "golang: GOROOT $goroot has no bin/go"
  local extra_ca=${BAZAAR_CA_CERTS-/etc/ssl/certs/ca-certificates.crt}
  if [[ -n $extra_ca && ! -r $extra_ca ]]; then
    [[ -v BAZAAR_CA_CERTS ]] && die "golang: BAZAAR_CA_CERTS=$extra_ca is not readable"
    extra_ca=   # default bundle absent (not a Debian-like host): Debian's CAs only
  fi
  hash=$( { cat "$HERE/golang/Dockerfile" ${extra_ca:+"$extra_ca"}; echo "$gover $goroot"; image_id "$BASE_IMAGE"; } |
          sha256sum | cut -c1-16)
  if [[ -z ${NO_CACHE[*]} && $(label_of "$tag" bazaar.recipe) == "$hash" ]]; then
    SKIPPED=1; return 0
  fi
  mkdir -p "$ctx/ca-certificates"
  cp "$HERE/golang/Dockerfile" "$ctx/"
  [[ -z $extra_ca ]] || cp "$extra_ca" "$ctx/ca-certificates/bazaar-host.crt"
  # Uncompressed, name-sorted tar with fixed owners: identical bytes for an unchanged
  # GOROOT, so Docker's ADD cache also hits. pkg/obj (build cache) and test/ (the
  # compiler's own regression suite) are left out.
  tar -C "$goroot" --sort=name --owner=0 --group=0 --numeric-owner --format=gnu \
      --exclude=./pkg/obj --exclude=./test \
      --transform='s,^\.,go,S' -cf "$ctx/go.tar" .
  run_logged golang docker build --force-rm "${NO_CACHE[@]}" --build-arg "BASE_IMAGE=$BASE_IMAGE" \
    --build-arg "GO_VERSION=${gover#go}" --label "bazaar.recipe=$hash" -t "$tag" "$ctx"
  rm -rf "$ctx"
}

# Always make sure the base exists first: every other image is built on it; and the
# Go image before the images built from source (ALL gives the order).
[[ " ${WANT[*]} " == *" debian "* ]] || [[ -n $(image_id "$BASE_IMAGE") ]] || WANT=(debian "${WANT[@]}")
for name in "${FROM_SOURCE[@]}"; do
  [[ " ${WANT[*]} " == *" $name "* ]] || continue
  [[ " ${WANT[*]} " == *" golang "* ]] || [[ -n $(image_id "$(tag_of golang)") ]] || WANT+=(golang)
  # The module proxy this machine's Go uses (never written into the project).
  GO_PROXY=${GOPROXY-$(go env GOPROXY 2>/dev/null || true)}
  GO_SUMDB=${GOSUMDB-$(go env GOSUMDB 2>/dev/null || true)}
  break
done

total_start=$SECONDS
for name in "${ALL[@]}"; do
  [[ " ${WANT[*]} " == *" $name "* ]] || continue
  tag=$(tag_of "$name")
  before=$(image_id "$tag")
  start=$SECONDS
  echo "$(ts) start $name ($tag)"
  SKIPPED=0
  case $name in
    debian) build_debian ;;
    golang) build_golang "$tag" ;;
    *) build_dockerfile "$name" "$tag" ;;
  esac
  after=$(image_id "$tag")
  [[ -n $after ]] || die "$name: image $tag does not exist after its build"
  status=built
  if ((SKIPPED)) || [[ $before == "$after" ]]; then status="up to date"; fi
  size=$(docker image inspect -f '{{.Size}}' "$tag" | awk '{printf "%.0f MB", $1/1e6}')
  echo "$(ts) done  $name ($tag): $status, $size, $((SECONDS - start))s"
done
echo "$(ts) all done in $((SECONDS - total_start))s"
