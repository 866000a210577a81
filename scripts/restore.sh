#!/usr/bin/env bash
# Restores a backup set made by scripts/backup.sh into the running stack's
# database, fresh or not. THE CURRENT DATA OF EVERY SCHEMA IN THE SET IS
# REPLACED.
#
#   scripts/restore.sh [-p PROJECT] [-y] [SET]
#
# SET is a set's name under BACKUP_DIR (bazaar-20250101T031700Z) or a path to
# one; the newest set by default. -y skips the confirmation.
#
# Each schema is dropped, recreated owned by its service's role, and filled
# from the archive while acting AS that role (SET ROLE), all in one
# transaction: every object ends up owned by the service's role, as the
# services' migrations made it, and a failure changes nothing. The service
# containers are stopped meanwhile, the cache is flushed (it would serve
# pre-restore data), then they are started again and nginx is reloaded.
#
# Settings (the environment, else .env): BACKUP_DIR (default ./backups);
# COMPOSE_PROJECT_NAME and COMPOSE_FILE (which stack; also -p PROJECT).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
assume_yes=
while getopts p:yh opt; do
	case $opt in
	p) export COMPOSE_PROJECT_NAME=$OPTARG ;;
	y) assume_yes=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -le 1 ] || { usage >&2; exit 2; }

setting() { deploy/env.sh setting "$@"; }
backup_dir=$(setting BACKUP_DIR ./backups)
db=bazaar
app_services=(catalog users orders)

log() { printf '==> %s\n' "$*"; }
die() { printf 'restore: %s\n' "$*" >&2; exit 1; }

if [ $# -eq 1 ]; then
	set_dir=$1
	[ -d "$set_dir" ] || set_dir=$backup_dir/$1
else
	set_dir=$(find "$backup_dir" -mindepth 1 -maxdepth 1 -type d -name 'bazaar-*Z' 2>/dev/null | sort | tail -n 1)
	[ -n "$set_dir" ] || die "no backup set in $backup_dir"
fi
[ -f "$set_dir/MANIFEST" ] || die "$set_dir is not a backup set (no MANIFEST)"
(cd "$set_dir" && sha256sum --check --quiet SHA256SUMS) || die "$set_dir is damaged: checksums do not match"
mapfile -t manifest <"$set_dir/MANIFEST"

running=$(docker compose ps --status running --services </dev/null)
grep -qx postgres <<<"$running" ||
	die "postgres is not running in compose project ${COMPOSE_PROJECT_NAME:-(named after this directory)}: start the stack first"

if [ -z "$assume_yes" ]; then
	[ -t 0 ] || die "refusing to replace data without confirmation: pass -y"
	read -r -p "Replace schemas $(cut -d' ' -f1 "$set_dir/MANIFEST" | xargs) with $(basename "$set_dir")? Type yes: " answer
	[ "$answer" = yes ] || die "cancelled"
fi

start=$(date +%s)
# Only the services that run are stopped, and they are started again however
# the restore ends: after a failure the old data is still there (one
# transaction per schema).
mapfile -t stopped < <(grep -xF -f <(printf '%s\n' "${app_services[@]}") <<<"$running" || true)
restart_services() {
	[ ${#stopped[@]} -gt 0 ] || return 0
	log "Starting ${stopped[*]}"
	docker compose up --detach --wait --no-deps --no-build --no-recreate "${stopped[@]}" </dev/null
	if grep -qx nginx <<<"$running"; then
		# nginx resolved the services' addresses when it loaded its
		# configuration; restarted containers may have new ones.
		log "Reloading nginx"
		deploy/reload-nginx.sh
	fi
}
trap 'restart_services || echo "restore: could not restart ${stopped[*]}" >&2' EXIT
if [ ${#stopped[@]} -gt 0 ]; then
	log "Stopping ${stopped[*]}"
	docker compose stop "${stopped[@]}" </dev/null
fi

for line in "${manifest[@]}"; do
	read -r schema owner <<<"$line"
	log "Restoring schema $schema as role $owner from $(basename "$set_dir")/$schema.dump"
	role=$(docker compose exec -T postgres psql -X -At -U postgres -d "$db" -v owner="$owner" \
		<<<"SELECT count(*) FROM pg_roles WHERE rolname = :'owner'")
	[ "$role" = 1 ] || die "role $owner does not exist: was the database initialised by db/init?"
	docker compose exec -T postgres sh -c 'cat >"$1"' sh "/tmp/restore-$schema.dump" <"$set_dir/$schema.dump"
	# The archive's own CREATE SCHEMA entry is left out: the superuser creates
	# the schema for its owner (who may not create schemas). COMMIT is sent
	# only when pg_restore read the whole archive; otherwise psql reaches the
	# end of its input inside the transaction, which rolls back.
	docker compose exec -T postgres bash -c '
		set -euo pipefail
		schema=$1 owner=$2 db=$3 dump=/tmp/restore-$1.dump
		trap "rm -f $dump $dump.list" EXIT
		pg_restore --list "$dump" | grep -vE "^[0-9]+; [0-9]+ [0-9]+ SCHEMA - " >"$dump.list"
		{
			echo "SET client_min_messages = warning;"
			echo "BEGIN;"
			echo "DROP SCHEMA IF EXISTS \"$schema\" CASCADE;"
			echo "CREATE SCHEMA \"$schema\" AUTHORIZATION \"$owner\";"
			echo "SET ROLE \"$owner\";"
			pg_restore --no-owner --use-list="$dump.list" --file=- "$dump"
			echo "COMMIT;"
		} | psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$db" >/dev/null
		' bash "$schema" "$owner" "$db" </dev/null || die "restore of schema $schema failed; it was left as it was"
done
log "Updating planner statistics"
docker compose exec -T postgres psql -X -q -v ON_ERROR_STOP=1 -U postgres -d "$db" -c ANALYZE </dev/null

if grep -qx redis <<<"$running"; then
	log "Flushing the cache"
	docker compose exec -T redis redis-cli FLUSHALL </dev/null | grep -qx OK || die "could not flush Redis: flush it by hand before trusting catalogue reads"
fi

trap - EXIT
restart_services
log "Restored $(basename "$set_dir") in $(($(date +%s) - start))s"
