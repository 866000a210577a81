#!/bin/sh
# Runs inside the certbot container (docker-compose.prod.yml), started by
# deploy/certs.sh: obtains the certificate for DOMAINS, or renews it when it
# is due, then installs it for nginx (the tls volume) if nginx does not serve
# it yet. Idempotent: twice a day it usually does nothing.
#
# Environment: DOMAINS (comma-separated; the first one names the site),
# ACME_EMAIL (expiry notices), ACME_STAGING=1 (Let's Encrypt's staging CA,
# for trying things out without hitting the production rate limits),
# TLS_OWNER (uid:gid that nginx runs as, which must read the key).
set -eu

if [ -z "${DOMAINS:-}" ]; then
	echo "certbot: DOMAINS is empty in .env: nginx keeps its self-signed certificate"
	exit 0
fi
[ -n "${ACME_EMAIL:-}" ] || { echo "certbot: set ACME_EMAIL in .env" >&2; exit 1; }

set --
for domain in $(echo "$DOMAINS" | tr ',' ' '); do
	set -- "$@" --domain "$domain"
done
if [ "${ACME_STAGING:-0}" = 1 ]; then
	set -- "$@" --test-cert
fi

# One lineage named "bazaar", whatever the domains, so that its path is
# fixed; --keep-until-expiring makes this a renewal when one is due (30 days
# before expiry) and a no-op otherwise. Changing DOMAINS reissues it.
certbot certonly --non-interactive --agree-tos --no-eff-email --email "$ACME_EMAIL" \
	--webroot --webroot-path /var/www/acme --cert-name bazaar --keep-until-expiring "$@"

live=/etc/letsencrypt/live/bazaar
if cmp -s "$live/fullchain.pem" /tls/cert.pem && cmp -s "$live/privkey.pem" /tls/key.pem; then
	# Mends a key left unreadable for nginx by hand or by an older release.
	chown "${TLS_OWNER:?}" /tls/key.pem
	chmod 600 /tls/key.pem
	echo "certbot: nginx already has the current certificate"
	exit 0
fi
# The key first, then the certificate, each replaced atomically (nginx reads
# them only when certs.sh reloads it). nginx runs unprivileged: the key is
# its user's, readable by nobody else.
umask 077
cp "$live/privkey.pem" /tls/key.pem.new
chown "${TLS_OWNER:?}" /tls/key.pem.new
mv /tls/key.pem.new /tls/key.pem
cp "$live/fullchain.pem" /tls/cert.pem.new
chmod 644 /tls/cert.pem.new
mv /tls/cert.pem.new /tls/cert.pem
echo "certbot: installed the certificate for $DOMAINS"
