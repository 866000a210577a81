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
# The set's SHA256SUMS is checked first: it must list MANIFEST and the dump
# of every schema in MANIFEST, and every file it lists must match, before
# MANIFEST is read. A set whose SHA256SUMS does not list MANIFEST (made by an
# older backup.sh, which summed only the dumps) is refused: add MANIFEST's
# sum by hand once you have checked what it says.
#
# Each schema is restored in a psql session logged in AS ITS OWNING ROLE (the
# service's role, named in MANIFEST), never as the superuser: over the
# postgres container's Unix socket, which both the upstream postgres image
# and images/postgres trust, as backup.sh relies on for the superuser. In
# one transaction, that session drops every object in the schema, fills it
# from the archive and updates its planner statistics; the schema itself,
# made by db/init, stays (the roles may not create schemas). So every object
# ends up owned by the service's role, as the services' migrations made it,
# an archive can do nothing its service's role could not, and a failure
# changes nothing. The service containers are stopped meanwhile, the cache is
# flushed (it would serve pre-restore data), then they are started again and
# nginx is reloaded.
#
# A set's media.tar (product images) is added to catalog's media store (the
# media volume, or the bucket of docker-compose.s3.yml) first, through
# catalog's binary, which stores only files whose content matches their name.
# Nothing is deleted: files the store has and the set lacks stay, for pages
# that may still show them, until catalog collects them (MEDIA_RETENTION
# after no row names them; every file of the set counts as written by the
# restore).
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
set_name=$(basename "$set_dir")
[ -f "$set_dir/MANIFEST" ] || die "$set_dir is not a backup set (no MANIFEST)"
[ -f "$set_dir/SHA256SUMS" ] || die "$set_dir is not a backup set (no SHA256SUMS)"

# Nothing in the set is read before its checksums are verified, MANIFEST
# included: MANIFEST says which role restores which schema.
# summed FILE: SHA256SUMS lists FILE (sha256sum writes "SUM  FILE", or "SUM *FILE").
summed() { awk -v f="$1" '$2 == f || $2 == "*" f { found = 1 } END { exit !found }' "$set_dir/SHA256SUMS"; }
summed MANIFEST || die "$set_name: its SHA256SUMS does not list MANIFEST, so MANIFEST cannot be verified" \
	"(sets made before backup.sh summed MANIFEST). If $set_dir/MANIFEST names each schema with its service's role," \
	"add its sum and run the restore again: (cd '$set_dir' && sha256sum MANIFEST >>SHA256SUMS)"
(cd "$set_dir" && sha256sum --check --quiet --strict SHA256SUMS) ||
	die "$set_name is damaged or was altered: its files do not match SHA256SUMS (see above); nothing was restored"

mapfile -t manifest <"$set_dir/MANIFEST"
[ ${#manifest[@]} -gt 0 ] || die "$set_name: MANIFEST lists no schema"
schemas=()
for line in "${manifest[@]}"; do
	# Schema and role names go into commands and SQL: plain identifiers only.
	[[ $line =~ ^([a-z_][a-z0-9_]*)\ ([a-z_][a-z0-9_]*)$ ]] || die "$set_name: MANIFEST line '$line' is not 'schema role'"
	schema=${BASH_REMATCH[1]}
	[[ " ${schemas[*]} " != *" $schema "* ]] || die "$set_name: MANIFEST lists schema $schema twice"
	summed "$schema.dump" || die "$set_name: SHA256SUMS does not list $schema.dump, which MANIFEST names"
	schemas+=("$schema")
done

running=$(docker compose ps --status running --services </dev/null)
grep -qx postgres <<<"$running" ||
	die "postgres is not running in compose project ${COMPOSE_PROJECT_NAME:-(named after this directory)}: start the stack first"

# psql_as ROLE [ARG...]: psql in the postgres container, logged in as ROLE
# over the container's Unix socket (trusted by both postgres images, as for
# the superuser in backup.sh). PGAPPNAME marks the restore's sessions in
# pg_stat_activity and in the server's log.
psql_as() {
	local role=$1
	shift
	docker compose exec -T -e PGAPPNAME=bazaar-restore postgres \
		psql -X -q -At -v ON_ERROR_STOP=1 -U "$role" -d "$db" "$@"
}

# Before anything changes: each schema's role logs in, is no superuser, and
# owns the schema, which db/init made.
for line in "${manifest[@]}"; do
	read -r schema owner <<<"$line"
	found=$(psql_as "$owner" -v schema="$schema" <<<"SELECT rolsuper,
		(SELECT nspowner::regrole FROM pg_namespace WHERE nspname = :'schema') FROM pg_roles WHERE rolname = current_user") ||
		die "cannot log in as role $owner, which restores schema $schema (see above): was the database initialised by db/init?"
	case $found in
	"f|$owner") ;;
	t\|*) die "role $owner is a superuser: a schema is restored only as its service's own role" ;;
	"f|") die "schema $schema does not exist in database $db: was the database initialised by db/init?" ;;
	*) die "schema $schema is owned by role ${found#f|} in database $db, but by $owner in $set_name" ;;
	esac
done

media=
if [ -f "$set_dir/media.tar" ]; then
	summed media.tar || die "$set_name: SHA256SUMS does not list media.tar"
	grep -qx catalog <<<"$running" || die "$set_name holds product images, which catalog adds to its media store: start catalog first"
	media=1
fi

if [ -z "$assume_yes" ]; then
	[ -t 0 ] || die "refusing to replace data without confirmation: pass -y"
	read -r -p "Replace schemas ${schemas[*]} with $set_name? Type yes: " answer
	[ "$answer" = yes ] || die "cancelled"
fi

start=$(date +%s)
if [ -n "$media" ]; then
	log "Adding the product images of $set_name to catalog's media store"
	docker compose exec -T catalog /service media-import <"$set_dir/media.tar" ||
		die "the product images could not be restored (see above); the database was not touched"
fi
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

# Run by the schema's owner first in each restore's transaction: drops every
# object in the schema (psql variable schema), whatever the set holds, so that
# nothing of a newer migration survives the restore of an older set. Objects
# that belong to another one (an identity or serial column's sequence, a
# partition, a range type's functions) go with it. What the schema's owner
# cannot drop (an extension, say) fails the restore, which then changes
# nothing. The list is taken before the first DROP: CASCADE may drop
# objects further down, which IF EXISTS then skips.
read -r -d '' clear_schema <<'SQL' || true
SELECT pg_catalog.set_config('bazaar.restore_schema', :'schema', true);
DO $clear$
DECLARE
	target regnamespace := current_setting('bazaar.restore_schema')::regnamespace;
	drops text[];
	stmt text;
	left_over text;
BEGIN
	SELECT array_agg(format('DROP %s IF EXISTS %s CASCADE',
			CASE i.type WHEN 'statistics object' THEN 'STATISTICS' ELSE upper(i.type) END, i.identity)
			ORDER BY i.type NOT IN ('table', 'view', 'materialized view', 'foreign table'), i.type, i.identity)
		INTO drops
		FROM pg_depend d, pg_identify_object(d.classid, d.objid, d.objsubid) i
		WHERE d.refclassid = 'pg_namespace'::regclass AND d.refobjid = target AND d.deptype = 'n'
			AND NOT EXISTS (SELECT FROM pg_depend o WHERE o.classid = d.classid AND o.objid = d.objid
				AND o.objsubid = 0 AND o.deptype IN ('a', 'i'));
	FOREACH stmt IN ARRAY coalesce(drops, '{}') LOOP
		EXECUTE stmt;
	END LOOP;
	SELECT string_agg(pg_describe_object(classid, objid, objsubid), ', ') INTO left_over
		FROM pg_depend WHERE refclassid = 'pg_namespace'::regclass AND refobjid = target AND deptype = 'n';
	IF left_over IS NOT NULL THEN
		RAISE EXCEPTION 'schema % still holds what its owner could not drop: %', target, left_over;
	END IF;
END
$clear$;
SQL
# Run last in the transaction: planner statistics of the restored tables
# (the archive sets search_path to '', hence the qualified names).
read -r -d '' analyze_schema <<'SQL' || true
SELECT format('ANALYZE %s', c.oid::regclass) FROM pg_catalog.pg_class c
	WHERE c.relnamespace = :'schema'::regnamespace AND c.relkind IN ('r', 'p', 'm')
\gexec
SQL

for line in "${manifest[@]}"; do
	read -r schema owner <<<"$line"
	log "Restoring schema $schema as role $owner from $set_name/$schema.dump"
	docker compose exec -T postgres sh -c 'cat >"$1"' sh "/tmp/restore-$schema.dump" <"$set_dir/$schema.dump"
	# psql logs in as the owner: the archive runs with the service role's
	# privileges and nothing more. The archive's own CREATE SCHEMA entry is
	# left out: the schema stays. COMMIT is sent only when pg_restore read
	# the whole archive; otherwise psql reaches the end of its input inside
	# the transaction, which rolls back.
	docker compose exec -T -e PGAPPNAME=bazaar-restore postgres bash -c '
		set -euo pipefail
		schema=$1 owner=$2 db=$3 clear=$4 analyze=$5 dump=/tmp/restore-$1.dump
		trap "rm -f $dump $dump.list" EXIT
		pg_restore --list "$dump" | grep -vE "^[0-9]+; [0-9]+ [0-9]+ SCHEMA - " >"$dump.list"
		{
			echo "SET client_min_messages = warning;"
			echo "BEGIN;"
			printf "%s\n" "$clear"
			pg_restore --no-owner --use-list="$dump.list" --file=- "$dump"
			printf "%s\n" "$analyze"
			echo "COMMIT;"
		} | psql -X -q -v ON_ERROR_STOP=1 -v schema="$schema" -U "$owner" -d "$db" >/dev/null
		' bash "$schema" "$owner" "$db" "$clear_schema" "$analyze_schema" </dev/null ||
		die "restore of schema $schema failed; it was left as it was"
done

if grep -qx redis <<<"$running"; then
	log "Flushing the cache"
	docker compose exec -T redis /etc/bazaar/redis.sh cli FLUSHALL </dev/null | grep -qx OK || die "could not flush Redis: flush it by hand before trusting catalogue reads"
fi

trap - EXIT
restart_services
log "Restored $set_name in $(($(date +%s) - start))s"
