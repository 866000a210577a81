#!/usr/bin/env bash
# Logical backup of each service's schema: one pg_dump custom-format archive
# (compressed) per schema, all taken from ONE database snapshot so that the
# schemas agree with each other (an order and the stock it reserved are
# either both in the set or both absent). pg_dump runs inside the postgres
# container, so the host needs no PostgreSQL client.
#
#   scripts/backup.sh [-p PROJECT]
#
# A set is a directory BACKUP_DIR/bazaar-<UTC timestamp>/ holding
# <schema>.dump, MANIFEST (schema and owning role per line), media.tar (the
# product images of catalog's media store, the media volume or the bucket of
# docker-compose.s3.yml, when catalog is running) and SHA256SUMS (the sums of
# all the other files, MANIFEST included).
# It is written under a .partial name and renamed when complete, so restore
# and retention never see half a set.
#
# Settings (the environment, else .env):
#   BACKUP_DIR           where sets go (default ./backups, relative to the repository)
#   BACKUP_KEEP          newest sets kept (default 14)
#   BACKUP_MAX_AGE_DAYS  sets older than this are deleted (default 30); the newest set is always kept
#   BACKUP_SCHEMAS       schemas to dump (default "catalog users orders")
#   BACKUP_S3_URI        optional off-site copy: s3://bucket/prefix (aws cli; for S3-compatible storage
#                        put endpoint_url in ~/.aws/config) or remote:bucket/prefix (rclone)
#   COMPOSE_PROJECT_NAME, COMPOSE_FILE  which stack (also -p PROJECT)
set -euo pipefail
cd "$(dirname "$0")/.."
# Dumps hold password hashes and customers' data: owner-only.
umask 077

usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }
while getopts p:h opt; do
	case $opt in
	p) export COMPOSE_PROJECT_NAME=$OPTARG ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done

setting() { deploy/env.sh setting "$@"; }
backup_dir=$(setting BACKUP_DIR ./backups)
keep=$(setting BACKUP_KEEP 14)
max_age_days=$(setting BACKUP_MAX_AGE_DAYS 30)
read -r -a schemas <<<"$(setting BACKUP_SCHEMAS "catalog users orders")"
s3_uri=$(setting BACKUP_S3_URI "")
db=bazaar

log() { printf '==> %s\n' "$*"; }
die() { printf 'backup: %s\n' "$*" >&2; exit 1; }

[[ $keep =~ ^[1-9][0-9]*$ ]] || die "BACKUP_KEEP must be a positive integer, got '$keep'"
[[ $max_age_days =~ ^[1-9][0-9]*$ ]] || die "BACKUP_MAX_AGE_DAYS must be a positive integer, got '$max_age_days'"
docker compose ps --status running --services </dev/null | grep -qx postgres ||
	die "postgres is not running in compose project ${COMPOSE_PROJECT_NAME:-(named after this directory)}: start the stack first"

start=$(date +%s)
name=bazaar-$(date -u +%Y%m%dT%H%M%SZ)
mkdir -p "$backup_dir"
partial=$backup_dir/.$name.partial
mkdir "$partial" || die "cannot create $partial (another backup running?)"
trap 'rm -rf "$partial"' EXIT

# One session holds a REPEATABLE READ transaction open and exports its
# snapshot; every pg_dump below reads exactly that snapshot.
coproc SNAPSHOT { docker compose exec -T postgres psql -X -q -At -v ON_ERROR_STOP=1 -U postgres -d "$db"; }
# shellcheck disable=SC2153 # coproc sets SNAPSHOT_PID
snapshot_pid=$SNAPSHOT_PID
echo "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY; SELECT pg_export_snapshot();" >&"${SNAPSHOT[1]}"
IFS= read -r -t 60 snapshot <&"${SNAPSHOT[0]}" || die "could not export a snapshot from PostgreSQL"
log "Backing up schemas ${schemas[*]} of database $db (snapshot $snapshot) into $backup_dir/$name"

for schema in "${schemas[@]}"; do
	owner=$(docker compose exec -T postgres psql -X -At -v ON_ERROR_STOP=1 -U postgres -d "$db" \
		-v schema="$schema" <<<"SELECT nspowner::regrole FROM pg_namespace WHERE nspname = :'schema'")
	[ -n "$owner" ] || die "schema $schema does not exist in database $db"
	docker compose exec -T postgres pg_dump -U postgres -d "$db" --snapshot="$snapshot" \
		--format=custom --compress=6 --schema="$schema" </dev/null >"$partial/$schema.dump" ||
		die "pg_dump of schema $schema failed"
	printf '%s %s\n' "$schema" "$owner" >>"$partial/MANIFEST"
	log "  $schema (owner $owner): $(du -h "$partial/$schema.dump" | cut -f1)"
done
printf 'COMMIT;\n\\q\n' >&"${SNAPSHOT[1]}"
wait "$snapshot_pid" || die "the snapshot session failed"

# The product images, read by catalog's binary from the store its environment
# names (MEDIA_STORE): the media volume or the bucket. An image's files are
# written before the row that names it and never changed, and are deleted
# only MEDIA_RETENTION (a week) after the last row stopped naming them, so
# this copy, taken after the snapshot, holds every image the dumps name.
if docker compose ps --status running --services </dev/null | grep -qx catalog; then
	docker compose exec -T catalog /service media-export </dev/null >"$partial/media.tar" 2>"$partial/.media.log" ||
		die "export of the product images failed: $(cat "$partial/.media.log")"
	log "  images: $(sed -n 's/^media-export: //p' "$partial/.media.log"), $(du -h "$partial/media.tar" | cut -f1)"
	rm -f "$partial/.media.log"
else
	log "  images: catalog is not running, so this set holds none"
fi

# SHA256SUMS covers every other file of the set, MANIFEST included: restore
# reads nothing of a set before these sums match.
(cd "$partial" && files=(*) && sha256sum -- "${files[@]}" >SHA256SUMS)
mv "$partial" "$backup_dir/$name"
trap - EXIT
log "Backup $name complete: $(du -sh "$backup_dir/$name" | cut -f1) in $(($(date +%s) - start))s"

# Retention: keep the newest $keep sets, and of those only the ones younger
# than $max_age_days days; the set just written always stays.
mapfile -t sets < <(find "$backup_dir" -mindepth 1 -maxdepth 1 -type d -name 'bazaar-*Z' -printf '%f\n' | sort -r)
cutoff=$(date -u -d "$max_age_days days ago" +%Y%m%dT%H%M%SZ)
for i in "${!sets[@]}"; do
	set=${sets[$i]}
	if ((i > 0)) && { ((i >= keep)) || [[ ${set#bazaar-} < $cutoff ]]; }; then
		log "Retention: deleting $set"
		rm -rf -- "${backup_dir:?}/$set"
	fi
done

if [ -n "$s3_uri" ]; then
	dest=${s3_uri%/}/$name
	log "Copying $name to $dest"
	case $s3_uri in
	s3://*)
		command -v aws >/dev/null || die "BACKUP_S3_URI is s3://… but the aws cli is not installed; the local set $name is complete"
		aws s3 cp --recursive --only-show-errors "$backup_dir/$name" "$dest" ;;
	?*:*)
		command -v rclone >/dev/null || die "BACKUP_S3_URI names an rclone remote but rclone is not installed; the local set $name is complete"
		rclone copy "$backup_dir/$name" "$dest" ;;
	*) die "BACKUP_S3_URI must be s3://bucket/prefix (aws cli) or remote:bucket/prefix (rclone), got '$s3_uri'" ;;
	esac || die "copy to $dest failed; the local set $name is complete"
fi
