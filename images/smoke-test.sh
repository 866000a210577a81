#!/usr/bin/env bash
# Smoke test of the images built by build.sh: starts each one briefly on a private
# network, checks its contract from another container, and removes everything it
# started (containers carry the label bazaar.smoke=<run id>).
# usage: images/smoke-test.sh        (needs no registry and no internet access)
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
tag() { sed -n "s/^$1=//p" "$HERE/local.env" | tail -n1; }
BASE=bazaar/debian:bookworm
PG=$(tag POSTGRES_IMAGE) REDIS=$(tag REDIS_IMAGE) NGINX=$(tag NGINX_IMAGE)
PROM=$(tag PROMETHEUS_IMAGE) PGX=$(tag POSTGRES_EXPORTER_IMAGE)
RDX=$(tag REDIS_EXPORTER_IMAGE) NGX=$(tag NGINX_EXPORTER_IMAGE) GO=$(tag GO_IMAGE)

ID=bzsmoke$$ NET=bzsmoke$$
TMP=$(mktemp -d "${TMPDIR:-/tmp}/bazaar-smoke.XXXXXX")
cleanup() {
  local c; mapfile -t c < <(docker ps -aq --filter "label=bazaar.smoke=$ID")
  ((${#c[@]} == 0)) || docker rm -f "${c[@]}" >/dev/null
  docker network rm "$NET" >/dev/null 2>&1 || true
  rm -rf "$TMP"
}
trap cleanup EXIT

ok() { echo "ok   $*"; }
fail() { echo "FAIL $*" >&2; exit 1; }
# create NAME IMAGE [docker create options...] [-- command...]: a container on the test network
create() {
  local name=$1 image=$2 opts=(); shift 2
  while (($#)) && [[ $1 != -- ]]; do opts+=("$1"); shift; done
  (($#)) && shift
  docker create --label "bazaar.smoke=$ID" --network "$NET" --name "$ID-$name" "${opts[@]}" "$image" "$@" >/dev/null
}
start() { docker start "$ID-$1" >/dev/null; }
# client IMAGE CMD...: a throwaway container on the network
client() { docker run --rm --network "$NET" "$@"; }
# http HOST PORT PATH: raw HTTP/1.0 GET from a base-image container (bash /dev/tcp)
http() { client "$BASE" bash -c "exec 3<>/dev/tcp/$1/$2 && printf 'GET $3 HTTP/1.0\r\nHost: $1\r\n\r\n' >&3 && cat <&3"; }
# http_has HOST PORT PATH REGEX: the response matches REGEX
http_has() { http "$1" "$2" "$3" 2>/dev/null | grep -q -- "$4"; }
# wait_log NAME PATTERN [COUNT] [SECONDS]
wait_log() {
  local n=0 want=${3:-1} t=${4:-60}
  while ((t-- > 0)); do
    n=$(docker logs "$ID-$1" 2>&1 | grep -c -- "$2" || true)
    ((n >= want)) && return 0
    [[ $(docker inspect -f '{{.State.Running}}' "$ID-$1") == true ]] || break
    sleep 1
  done
  docker logs "$ID-$1" 2>&1 | tail -n 20 >&2
  fail "$1: saw '$2' $n time(s), wanted $want"
}
# retry CMD...: up to 20 tries, 1 s apart (exporters and servers need a moment)
retry() { local _; for _ in $(seq 20); do "$@" && return 0; sleep 1; done; return 1; }

docker network create "$NET" >/dev/null

# --- postgres: init scripts, two "ready" lines, password over TCP -------------------
mkdir "$TMP/init"
cat >"$TMP/init/01-schema.sql" <<'EOF'
CREATE TABLE products (id serial PRIMARY KEY, name text NOT NULL);
INSERT INTO products (name) VALUES ('teapot'), ('kettle');
EOF
# shellcheck disable=SC2016  # expanded by the script inside the container
printf '#!/bin/bash\nset -e\npsql -v ON_ERROR_STOP=1 -U "$POSTGRES_USER" -d "$POSTGRES_DB" -c "CREATE TABLE from_exec (who text); INSERT INTO from_exec VALUES (current_user)"\n' >"$TMP/init/02-exec.sh"
printf 'docker_process_sql <<<"CREATE TABLE from_sourced (n int)"\n' >"$TMP/init/03-sourced.sh"
printf 'CREATE TABLE from_gz (x int);\n' | gzip >"$TMP/init/04-gz.sql.gz"
chmod 755 "$TMP/init/02-exec.sh"; chmod 644 "$TMP/init/03-sourced.sh"
# The password from a file, as Compose secrets give it.
printf 's3cr3t!\n' >"$TMP/pgpw"; chmod 644 "$TMP/pgpw"
create pg "$PG" -e POSTGRES_USER=shop -e POSTGRES_PASSWORD_FILE=/tmp/pgpw -e POSTGRES_DB=bazaar -- \
  postgres -c max_connections=200 -c fsync=off
docker cp "$TMP/init/." "$ID-pg:/docker-entrypoint-initdb.d/"
docker cp "$TMP/pgpw" "$ID-pg:/tmp/pgpw"
start pg
wait_log pg 'database system is ready to accept connections' 2
ok "postgres: 'ready to accept connections' logged twice (temporary + real server)"
dsn="postgres://shop:s3cr3t%21@$ID-pg:5432/bazaar"
out=$(retry client "$PG" psql "$dsn" -tA -c "SELECT string_agg(name, ',' ORDER BY id) FROM products" \
  -c "SELECT who FROM from_exec" -c "SELECT count(*) FROM pg_tables WHERE tablename IN ('from_sourced','from_gz')" \
  -c "SHOW max_connections") || fail "postgres: psql over TCP with the password failed"
[[ $out == $'teapot,kettle\nshop\n2\n200' ]] || fail "postgres: unexpected init objects/settings: $out"
ok "postgres: TCP login with the password from POSTGRES_PASSWORD_FILE; .sql, executable .sh, sourced .sh, .sql.gz ran; -c args applied"
! client "$PG" psql "postgres://shop:wrong@$ID-pg:5432/bazaar" -c 'SELECT 1' >/dev/null 2>&1 ||
  fail "postgres: a wrong password was accepted"
docker exec "$ID-pg" pg_isready -q || fail "postgres: pg_isready"
ok "postgres: wrong password refused (scram-sha-256); pg_isready"

# --- redis ------------------------------------------------------------------------
create redis "$REDIS"; start redis
wait_log redis 'Ready to accept connections'
[[ $(retry client "$REDIS" redis-cli -h "$ID-redis" PING) == PONG ]] || fail "redis: no PONG"
[[ $(client "$REDIS" redis-cli -h "$ID-redis" CONFIG GET protected-mode | tail -n1) == no ]] ||
  fail "redis: protected mode is on"
ok "redis: PING from another container, protected mode off"

# --- nginx + nginx exporter ------------------------------------------------------
echo 'hello from bazaar' >"$TMP/hello.txt"
printf 'server {\n    listen 8080;\n    location = /stub_status { stub_status; }\n}\n' >"$TMP/status.conf"
create nginx "$NGINX"
docker cp "$TMP/hello.txt" "$ID-nginx:/usr/share/nginx/html/hello.txt"
docker cp "$TMP/status.conf" "$ID-nginx:/etc/nginx/conf.d/status.conf"
start nginx
retry http_has "$ID-nginx" 80 /hello.txt 'hello from bazaar' || fail "nginx: /hello.txt not served"
docker exec "$ID-nginx" curl -fsS -o /dev/null http://127.0.0.1/hello.txt || fail "nginx: curl healthcheck"
ok "nginx: serves a file from /usr/share/nginx/html; curl inside works (healthcheck)"
create ngx "$NGX" -- --nginx.scrape-uri="http://$ID-nginx:8080/stub_status"; start ngx
retry http_has "$ID-ngx" 9113 /metrics '^nginx_up 1' ||
  fail "nginx-exporter: no nginx_up 1"
ok "nginx-exporter: /metrics has nginx_up 1"

# --- prometheus --------------------------------------------------------------------
create prom "$PROM"; start prom
retry http_has "$ID-prom" 9090 /-/ready '200 OK' ||
  fail "prometheus: /-/ready"
docker exec "$ID-prom" /bin/promtool check ready >/dev/null || fail "prometheus: promtool check ready"
ok "prometheus: /-/ready is 200; /bin/promtool check ready works (healthcheck)"

# --- postgres and redis exporters ----------------------------------------------------
create pgx "$PGX" -e DATA_SOURCE_NAME="postgresql://shop:s3cr3t%21@$ID-pg:5432/bazaar?sslmode=disable"; start pgx
retry http_has "$ID-pgx" 9187 /metrics '^pg_up 1' ||
  fail "postgres-exporter: no pg_up 1"
ok "postgres-exporter: /metrics has pg_up 1"
create rdx "$RDX" -e REDIS_ADDR="redis://$ID-redis:6379"; start rdx
retry http_has "$ID-rdx" 9121 /metrics '^redis_up 1' ||
  fail "redis-exporter: no redis_up 1"
ok "redis-exporter: /metrics has redis_up 1"

# --- golang (offline: toolchain only; module downloads need a reachable GOPROXY) -------
out=$(docker run --rm "$GO" bash -c 'set -e; go version; cd "$(mktemp -d)"; go mod init example.com/smoke >/dev/null 2>&1
  printf "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"built\") }\n" >main.go
  CGO_ENABLED=0 go build -o app . && ./app') || fail "golang: go build failed"
[[ $out == *"go version go1.26"*built ]] || fail "golang: unexpected output: $out"
ok "golang: $(head -n1 <<<"$out"), CGO_ENABLED=0 go build works"

echo "all smoke tests passed"
