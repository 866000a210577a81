#!/usr/bin/env bash
# Installs the release this file belongs to as the production shop of this
# VM: writes .env and the secrets (secrets/production, one file each),
# installs the systemd units, starts the stack, obtains the certificate.
# cloud-init runs it as root on first boot (deploy/cloud-init.yaml); it is
# safe to run again (sudo /opt/bazaar/deploy/install.sh): values already in
# .env and secret files already made are kept, and only missing ones added.
# Passwords an older release kept in .env move into the secret files.
#
# Input: /etc/bazaar/bootstrap.env (BAZAAR_BOOTSTRAP overrides the path),
# shell assignments written by cloud-init:
#   DOMAINS        comma-separated names served over HTTPS (empty: self-signed only)
#   ACME_EMAIL     Let's Encrypt's expiry notices
#   ADMIN_EMAIL    the shop's admin account
#   ADMIN_PASSWORD, POSTGRES_PASSWORD, CATALOG_DB_PASSWORD, USERS_DB_PASSWORD,
#   ORDERS_DB_PASSWORD, EXPORTER_DB_PASSWORD, GRAFANA_ADMIN_PASSWORD,
#   JWT_PRIVATE_KEY                optional: made here when absent
#   BACKUP_S3_URI, BACKUP_KEEP, BACKUP_MAX_AGE_DAYS, BAZAAR_REF   optional
# The deploy user (BAZAAR_USER, default deploy) owns the files and runs the stack.
set -euo pipefail

app_dir=$(cd "$(dirname "$0")/.." && pwd)
user=${BAZAAR_USER:-deploy}
bootstrap=${BAZAAR_BOOTSTRAP:-/etc/bazaar/bootstrap.env}
env_file=$app_dir/.env
secrets_dir=$app_dir/secrets/production
backup_dir=/var/backups/bazaar

log() { printf '==> %s\n' "$*"; }
die() { printf 'install: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" -eq 0 ] || die "run as root (sudo $0)"
id -nG "$user" 2>/dev/null | grep -qw docker || die "user $user must exist and be in the docker group"
docker compose version >/dev/null 2>&1 || die "docker compose (Compose v2) is not installed"
if [ -r "$bootstrap" ]; then
	# shellcheck disable=SC1090 # root's own configuration, written by cloud-init
	set -a && . "$bootstrap" && set +a
fi
for name in DOMAINS ACME_EMAIL ADMIN_EMAIL; do
	[[ ${!name:-} != *CHANGE-ME* ]] || die "$name in $bootstrap still holds its CHANGE-ME placeholder"
done
[ -n "${ADMIN_EMAIL:-}" ] || die "set ADMIN_EMAIL in $bootstrap"
[ -z "${DOMAINS:-}" ] || [ -n "${ACME_EMAIL:-}" ] || die "set ACME_EMAIL in $bootstrap (Let's Encrypt needs it with DOMAINS)"

# ---- .env ---------------------------------------------------------------
touch "$env_file"
chmod 600 "$env_file"
chown "$user:" "$env_file"
env_sh() { "$app_dir/deploy/env.sh" -f "$env_file" "$@"; }
ensure() { # ensure NAME VALUE: sets NAME unless .env has it
	env_sh get "$1" >/dev/null 2>&1 || env_sh set "$1" "$2" || die "cannot write $1"
}

log "Writing $env_file (existing values are kept)"
grep -q '^# Bazaar production' "$env_file" ||
	printf '# Bazaar production settings, written by deploy/install.sh. Secrets: docs/runbook.md.\n' >>"$env_file"
ensure COMPOSE_FILE docker-compose.yml:docker-compose.prod.yml
ensure COMPOSE_PROJECT_NAME bazaar
ensure APP_ENV production
# Tags the service images; a git ref may hold characters a tag may not.
ref=${BAZAAR_REF:-prod}
ensure BAZAAR_VERSION "${ref//[^A-Za-z0-9_.-]/-}"
ensure DOMAINS "${DOMAINS:-}"
ensure ACME_EMAIL "${ACME_EMAIL:-}"
ensure ADMIN_EMAIL "$ADMIN_EMAIL"
ensure SECRETS_DIR "$secrets_dir"
log "Writing the secrets into $secrets_dir (existing files are kept)"
# A secret still in .env (an older release) wins over the bootstrap file's;
# scripts/secrets.sh takes either, or makes a new one.
legacy=(ADMIN_PASSWORD POSTGRES_PASSWORD CATALOG_DB_PASSWORD USERS_DB_PASSWORD ORDERS_DB_PASSWORD
	EXPORTER_DB_PASSWORD GRAFANA_ADMIN_PASSWORD JWT_PRIVATE_KEY)
for name in "${legacy[@]}"; do
	if value=$(env_sh get "$name" 2>/dev/null) && [ -n "$value" ]; then export "$name=$value"; fi
done
"$app_dir/scripts/secrets.sh" "$secrets_dir"
for name in "${legacy[@]}"; do env_sh unset "$name"; done
ensure JWT_PREVIOUS_PUBLIC_KEYS ""
ensure BACKUP_DIR "$backup_dir"
ensure BACKUP_KEEP "${BACKUP_KEEP:-14}"
ensure BACKUP_MAX_AGE_DAYS "${BACKUP_MAX_AGE_DAYS:-30}"
ensure BACKUP_S3_URI "${BACKUP_S3_URI:-}"
# Alert delivery; the mail password went into smtp_password above.
for name in ALERT_WEBHOOK_URL ALERT_EMAIL_TO SMTP_SMARTHOST SMTP_FROM SMTP_USERNAME; do
	ensure "$name" "${!name:-}"
done
"$app_dir/deploy/check-env.sh" "$env_file"

install -d -m 700 -o "$user" -g "$user" "$backup_dir"
chown -R "$user:" "$app_dir"

# ---- systemd ------------------------------------------------------------
log "Installing the systemd units"
for unit in "$app_dir"/deploy/systemd/*; do
	sed "s#/opt/bazaar#$app_dir#g; s#^User=deploy\$#User=$user#" "$unit" >"/etc/systemd/system/$(basename "$unit")"
done
systemctl daemon-reload
log "Starting the stack (the first start builds the services: several minutes)"
systemctl enable bazaar.service
systemctl start bazaar.service
systemctl enable --now bazaar-backup.timer bazaar-certs.timer

if [ -n "${DOMAINS:-}" ]; then
	log "Obtaining the certificate for $DOMAINS"
	runuser -u "$user" -- "$app_dir/deploy/certs.sh" ||
		echo "install: no certificate yet (do the DNS records point here?); bazaar-certs.timer retries twice a day, or run: sudo -u $user $app_dir/deploy/certs.sh" >&2
fi

log "Done. The shop answers on https://${DOMAINS%%,*}/ (health: /healthz)"
echo "    Admin account: $ADMIN_EMAIL; its password: sudo cat $secrets_dir/admin_password"
