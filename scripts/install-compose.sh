#!/usr/bin/env bash
# Makes sure `docker compose` (Compose v2) works, building the plugin from the
# Go module proxy when it is missing. Debian's docker-compose 1.29 does not
# work with current Docker Engines, and machines without a container
# registry often have no other way to get Compose v2.
set -euo pipefail

version=v2.35.0 # newer v2 releases cannot be built with `go install`
plugin_dir="${DOCKER_CONFIG:-$HOME/.docker}/cli-plugins"

if docker compose version >/dev/null 2>&1; then
	exit 0
fi
echo "==> Docker Compose v2 not found: building $version from source (takes a couple of minutes, once)"
command -v go >/dev/null || { echo "Go is needed to build Docker Compose; install Go or Compose v2" >&2; exit 1; }
gobin=$(mktemp -d)
trap 'rm -rf "$gobin"' EXIT
GOBIN="$gobin" GOWORK=off go install \
	-ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
	"github.com/docker/compose/v2/cmd@$version"
mkdir -p "$plugin_dir"
install -m 0755 "$gobin/cmd" "$plugin_dir/docker-compose"
docker compose version
