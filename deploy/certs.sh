#!/usr/bin/env bash
# Obtains or renews the Let's Encrypt certificate (the certbot service of
# docker-compose.prod.yml, answering HTTP-01 through nginx), then reloads
# nginx. The reload is unconditional: it costs nothing (graceful), and an
# earlier run whose reload failed is mended by the next. Run twice a day by
# bazaar-certs.timer, once by deploy/install.sh, and by hand whenever
# (docs/runbook.md): sudo -u deploy /opt/bazaar/deploy/certs.sh
#
# Settings come from .env: DOMAINS, ACME_EMAIL, ACME_STAGING.
set -euo pipefail
cd "$(dirname "$0")/.."

serving() {
	docker compose exec -T nginx sha256sum /etc/nginx/tls/cert.pem </dev/null
}

before=$(serving) || { echo "certs: nginx is not running: start the stack first (systemctl start bazaar)" >&2; exit 1; }
docker compose run --rm --no-deps certbot </dev/null
deploy/reload-nginx.sh || { echo "certs: nginx still serves its previous certificate" >&2; exit 1; }
if [ "$(serving)" != "$before" ]; then
	echo "certs: nginx reloaded with the new certificate"
fi
