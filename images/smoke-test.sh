#!/usr/bin/env bash
# Smoke test of the infrastructure images: starts each one briefly on a private
# network, checks its contract from another container, and removes everything it
# started (containers carry the label bazaar.smoke=<run id>). Where a stand-in is
# built from the upstream release (images/README.md, "Parity"), it also checks that
# --version and the *_build_info metric name the release of the upstream pin in
# docker-compose.yml.
# usage: images/smoke-test.sh        (needs no registry and no internet access)
# The images are the *_IMAGE variables of the environment (as `make` exports them,
# so the upstream images when those were chosen), else the tags in images/local.env.
set -euo pipefail

HERE=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
tag() { if [[ -n ${!1:-} ]]; then echo "${!1}"; else sed -n "s/^$1=//p" "$HERE/local.env" | tail -n1; fi; }
# pinned KEY: the release of docker-compose.yml's upstream default for KEY
# (${KEY:-name:v1.2.3} -> 1.2.3), or nothing when no service uses KEY yet.
pinned() {
  grep -oE "[$][{]$1:-[^}]*[}]" "$HERE/../docker-compose.yml" | head -n1 | sed -E 's/.*:v?([0-9][^}-]*).*[}]$/\1/'
}
PG=$(tag POSTGRES_IMAGE) REDIS=$(tag REDIS_IMAGE) NGINX=$(tag NGINX_IMAGE)
PROM=$(tag PROMETHEUS_IMAGE) AM=$(tag ALERTMANAGER_IMAGE) PGX=$(tag POSTGRES_EXPORTER_IMAGE)
RDX=$(tag REDIS_EXPORTER_IMAGE) NGX=$(tag NGINX_EXPORTER_IMAGE) GO=$(tag GO_IMAGE)
# The raw HTTP client below needs bash: the PostgreSQL image has it, upstream's too.
BASE=$PG

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
# http_has HOST PORT PATH REGEX: the response matches REGEX (grep reads it all: no
# SIGPIPE for the client, which pipefail would count as a failure)
http_has() { http "$1" "$2" "$3" 2>/dev/null | grep -- "$4" >/dev/null; }
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

# --- redis (and a user for the exporter, as db/redis/redis.sh makes one) -------------
create redis "$REDIS"; start redis
wait_log redis 'Ready to accept connections'
[[ $(retry client "$REDIS" redis-cli -h "$ID-redis" PING) == PONG ]] || fail "redis: no PONG"
[[ $(client "$REDIS" redis-cli -h "$ID-redis" CONFIG GET protected-mode | tail -n1) == no ]] ||
  fail "redis: protected mode is on"
[[ $(client "$REDIS" redis-cli -h "$ID-redis" ACL SETUSER exporter on '>ex-p4ss' '~*' '+@all') == OK ]] ||
  fail "redis: ACL SETUSER"
ok "redis: PING from another container, protected mode off, ACL SETUSER"

# version_is NAME IMAGE KEY [ARGS...]: the version the image prints (ARGS, default
# --version) names the release of KEY's upstream pin in docker-compose.yml.
version_is() {
  local name=$1 image=$2 want out; want=$(pinned "$3"); shift 3
  out=$(docker run --rm --network none "$image" "${@:---version}" 2>&1) || fail "$name: ${*:---version} failed: $out"
  out=${out%%$'\n'*}
  [[ -z $want || $out =~ (^|[^0-9.])v?${want//./\\.}([^0-9.]|$) ]] || fail "$name: '$out' is not the upstream pin's release $want"
  echo "${out:0:100}"
}
# build_info NAME HOST PORT METRIC KEY LABEL: METRIC has LABEL="<pinned release>" on /metrics.
build_info() {
  local want; want=$(pinned "$5")
  [[ -n $want ]] || want='[^"]*'
  retry http_has "$2" "$3" /metrics "^$4{.*$6=\"v\{0,1\}$want\"" || fail "$1: no $4 with $6=\"$want\""
}

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
v=$(version_is nginx-exporter "$NGX" NGINX_EXPORTER_IMAGE)
create ngx "$NGX" -- --nginx.scrape-uri="http://$ID-nginx:8080/stub_status"; start ngx
retry http_has "$ID-ngx" 9113 /metrics '^nginx_up 1' ||
  fail "nginx-exporter: no nginx_up 1"
retry http_has "$ID-ngx" 9113 /metrics '^nginx_connections_active ' || fail "nginx-exporter: no nginx_connections_active"
build_info nginx-exporter "$ID-ngx" 9113 nginx_exporter_build_info NGINX_EXPORTER_IMAGE version
ok "nginx-exporter: --nginx.scrape-uri=URL; nginx_up 1, nginx_connections_*, build info of the pinned release ($v)"

# --- prometheus --------------------------------------------------------------------
v=$(version_is prometheus "$PROM" PROMETHEUS_IMAGE)
create prom "$PROM"; start prom
retry http_has "$ID-prom" 9090 /-/ready '200 OK' ||
  fail "prometheus: /-/ready"
docker exec "$ID-prom" /bin/promtool check ready >/dev/null 2>&1 || fail "prometheus: promtool check ready"
docker exec "$ID-prom" /bin/promtool check healthy >/dev/null 2>&1 || fail "prometheus: promtool check healthy"
build_info prometheus "$ID-prom" 9090 prometheus_build_info PROMETHEUS_IMAGE version
retry http_has "$ID-prom" 9090 '/api/v1/query?query=up' '"status":"success"' || fail "prometheus: /api/v1/query"
http_has "$ID-prom" 9090 /consoles/prometheus.html '200 OK' || fail "prometheus: console templates"
ok "prometheus: /-/ready; promtool check ready|healthy (healthcheck); API; consoles; build info of the pinned release ($v)"

# --- alertmanager (a stand-in may exist before a compose service runs it) -------------
if [[ -n $(pinned ALERTMANAGER_IMAGE) ]] || docker image inspect "$AM" >/dev/null 2>&1; then
  v=$(version_is alertmanager "$AM" ALERTMANAGER_IMAGE)
  printf 'route:\n  receiver: "null"\nreceivers:\n  - name: "null"\n' >"$TMP/alertmanager.yml"
  create am "$AM"
  docker cp "$TMP/alertmanager.yml" "$ID-am:/etc/alertmanager/alertmanager.yml"
  start am
  retry http_has "$ID-am" 9093 /-/ready '200 OK' || fail "alertmanager: /-/ready"
  docker exec "$ID-am" /bin/amtool check-config /etc/alertmanager/alertmanager.yml >/dev/null ||
    fail "alertmanager: amtool check-config"
  build_info alertmanager "$ID-am" 9093 alertmanager_build_info ALERTMANAGER_IMAGE version
  ok "alertmanager: /-/ready with a minimal configuration; /bin/amtool; build info of the pinned release ($v)"
else
  echo "skip alertmanager: $AM is not here and no compose service uses ALERTMANAGER_IMAGE"
fi

# --- postgres and redis exporters, configured as docker-compose.yml does ---------------
create pgx "$PGX" -e DATA_SOURCE_URI="$ID-pg:5432/bazaar?sslmode=disable" -e DATA_SOURCE_USER=shop \
  -e DATA_SOURCE_PASS_FILE=/pgpw
docker cp "$TMP/pgpw" "$ID-pgx:/pgpw"; start pgx
retry http_has "$ID-pgx" 9187 /metrics '^pg_up 1' ||
  fail "postgres-exporter: no pg_up 1"
metrics=$(http "$ID-pgx" 9187 /metrics)
for m in pg_settings_max_connections pg_stat_activity_count pg_database_size_bytes pg_stat_database_xact_commit \
  pg_stat_bgwriter_checkpoints_timed_total pg_locks_count; do
  grep -- "^$m[{ ]" <<<"$metrics" >/dev/null || fail "postgres-exporter: no $m"
done
ok "postgres-exporter: DATA_SOURCE_URI/USER/PASS_FILE; pg_up 1 and the pg_* metrics the rules use"
v=$(version_is redis-exporter "$RDX" REDIS_EXPORTER_IMAGE -version)
printf '{"redis://%s:6379": "ex-p4ss"}\n' "$ID-redis" >"$TMP/redis-pw.json"
create rdx "$RDX" -e REDIS_ADDR="redis://$ID-redis:6379" -e REDIS_USER=exporter \
  -e REDIS_PASSWORD_FILE=/redis-pw.json
docker cp "$TMP/redis-pw.json" "$ID-rdx:/redis-pw.json"; start rdx
retry http_has "$ID-rdx" 9121 /metrics '^redis_up 1' ||
  fail "redis-exporter: no redis_up 1"
http_has "$ID-rdx" 9121 /metrics '^redis_memory_used_bytes ' || fail "redis-exporter: no redis_memory_used_bytes"
build_info redis-exporter "$ID-rdx" 9121 redis_exporter_build_info REDIS_EXPORTER_IMAGE version
ok "redis-exporter: REDIS_USER + REDIS_PASSWORD_FILE (JSON map); redis_up 1; build info of the pinned release ($v)"

# --- golang (offline: toolchain only; module downloads need a reachable GOPROXY) -------
out=$(docker run --rm "$GO" bash -c 'set -e; go version; cd "$(mktemp -d)"; go mod init example.com/smoke >/dev/null 2>&1
  printf "package main\nimport \"fmt\"\nfunc main() { fmt.Println(\"built\") }\n" >main.go
  CGO_ENABLED=0 go build -o app . && ./app') || fail "golang: go build failed"
[[ $out == *"go version go1.26"*built ]] || fail "golang: unexpected output: $out"
ok "golang: $(head -n1 <<<"$out"), CGO_ENABLED=0 go build works"

echo "all smoke tests passed"
