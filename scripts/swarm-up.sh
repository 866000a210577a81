#!/usr/bin/env bash
# `make swarm-up`: deploys swarm/stack.yml to Docker Swarm and waits until
# every service has converged and every task is healthy.
#
# When this engine is in no swarm, it starts a single-node one first
# (`docker swarm init` on 127.0.0.1: nothing else can join it; docs/scale-out.md
# says how to make one of several nodes). Nodes labelled for PostgreSQL,
# Redis and Prometheus (node.labels.bazaar.<name>=true) are left as they are;
# when no node has a label, this node gets it.
#
# The Makefile has already chosen the images (images/choose.sh) and exported
# their names. Settings, from the environment or else .env, as for `make up`:
#   STACK_NAME         the stack (default bazaar)
#   HTTP_PORT/HTTPS_PORT  nginx's ports on each node (8080, 8443)
#   SECRETS_DIR        the secret set (secrets/development); swarm-up adds a
#                      JWT signing key and a self-signed TLS pair when the set
#                      has none, in a copy under SWARM_SECRETS_WORKDIR
#                      (secrets/swarm-$STACK_NAME), which later runs reuse
#   SWARM_BUILD        0: use the service images as they are, build nothing
#   SWARM_WAIT_TIMEOUT seconds to wait for convergence (default 300)
#   COMPOSE_PROFILES   Grafana runs when it names grafana, as for `make up`,
#                      unless the images are the local stand-ins (Grafana has
#                      none); GRAFANA_REPLICAS=0|1 decides instead when set
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

# .env's values for the settings the environment leaves unset.
if [ -f .env ]; then
	while IFS='=' read -r key value; do
		[[ $key =~ ^[A-Za-z_][A-Za-z0-9_]*$ ]] || continue
		[ -n "${!key+set}" ] || export "$key=$value"
	done <.env
fi

export STACK_NAME=${STACK_NAME:-bazaar}
export BAZAAR_VERSION=${BAZAAR_VERSION:-dev}
timeout=${SWARM_WAIT_TIMEOUT:-300}
for switch in RATE_LIMITS HTTPS_REDIRECT; do
	case ${!switch:-} in
	'' | on | off) ;;
	*) echo "swarm-up: $switch=${!switch} is neither on nor off" >&2; exit 2 ;;
	esac
done

# --- The swarm and its node labels ---------------------------------------
state=$(docker info --format '{{.Swarm.LocalNodeState}}')
case $state in
inactive)
	echo "==> No swarm here: initialising a single-node swarm (undo with: docker swarm leave --force)"
	docker swarm init --advertise-addr 127.0.0.1 >/dev/null
	;;
active) ;;
*)
	echo "swarm-up: this engine's swarm state is '$state'; want active or inactive" >&2
	exit 1
	;;
esac
if [ "$(docker info --format '{{.Swarm.ControlAvailable}}')" != true ]; then
	echo "swarm-up: this node is a worker; run it on a manager" >&2
	exit 1
fi
self=$(docker info --format '{{.Swarm.NodeID}}')
for role in postgres redis prometheus; do
	labelled=$(docker node ls -q | xargs docker node inspect \
		--format "{{index .Spec.Labels \"bazaar.$role\"}}" | grep -cx true || true)
	if [ "$labelled" = 0 ]; then
		echo "==> No node is labelled bazaar.$role=true: labelling this one"
		docker node update --label-add "bazaar.$role=true" "$self" >/dev/null
	fi
done

# --- Images --------------------------------------------------------------
if [ "${SWARM_BUILD:-1}" != 0 ]; then
	echo "==> Building the service images"
	docker compose build catalog users orders
fi
echo "==> Building bazaar/edge:$BAZAAR_VERSION (nginx with the storefront)"
docker build --quiet -f swarm/edge/Dockerfile \
	--build-arg "NGINX_IMAGE=${NGINX_IMAGE:-nginx:1.30.4-trixie}" \
	-t "bazaar/edge:$BAZAAR_VERSION" web >/dev/null
# The ids go into the tasks' labels: an image rebuilt under the same tag
# rolls out as an update.
for svc in catalog users orders edge; do
	id=$(docker image inspect --format '{{.Id}}' "bazaar/$svc:$BAZAAR_VERSION")
	export "${svc^^}_IMAGE_ID=$id"
done

# Grafana (the grafana profile of Compose) has no local stand-in: with the
# stand-ins the stack keeps the service, at no tasks.
if [ -z "${GRAFANA_REPLICAS:-}" ]; then
	GRAFANA_REPLICAS=0
	if [[ ,${COMPOSE_PROFILES:-}, == *,grafana,* ]]; then
		if [ "${BAZAAR_IMAGES:-}" = local ]; then
			echo "==> Grafana has no local stand-in: running without it"
		else
			GRAFANA_REPLICAS=1
		fi
	fi
fi
case $GRAFANA_REPLICAS in
0 | 1) export GRAFANA_REPLICAS ;;
*) echo "swarm-up: GRAFANA_REPLICAS=$GRAFANA_REPLICAS is neither 0 nor 1" >&2; exit 2 ;;
esac

# --- Secrets and configs -------------------------------------------------
src=$(cd "${SECRETS_DIR:-secrets/development}" && pwd)
work=${SWARM_SECRETS_WORKDIR:-secrets/swarm-$STACK_NAME}
mkdir -p "$work"
chmod 700 "$work"
work=$(cd "$work" && pwd)
(umask 077 && cp "$src"/* "$work"/)
if [ ! -s "$work/jwt_private_key" ]; then
	echo "==> $src has no jwt_private_key: making one in $work"
	(umask 077 && openssl genpkey -algorithm ed25519 -out "$work/jwt_private_key")
fi
if [ ! -s "$work/tls_cert.pem" ] || [ ! -s "$work/tls_key.pem" ]; then
	echo "==> $src has no TLS pair: making a self-signed one in $work"
	(umask 077 && openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 825 \
		-subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
		-keyout "$work/tls_key.pem" -out "$work/tls_cert.pem" 2>/dev/null)
fi
export SECRETS_DIR=$work

# digest FILE...: a short digest of the files' contents, the version in the
# names of the configs and secrets made from them.
digest() { cat "$@" | sha256sum | cut -c1-12; }
export NGINX_CONFIG_VERSION PROMETHEUS_CONFIG_VERSION DATA_CONFIG_VERSION SECRETS_VERSION \
	ALERTMANAGER_CONFIG_VERSION GRAFANA_CONFIG_VERSION
NGINX_CONFIG_VERSION=$(digest nginx/nginx.conf nginx/swarm/*.conf nginx/snippets/*.conf \
	"nginx/modes/limits-${RATE_LIMITS:-on}.conf" "nginx/modes/http-${HTTPS_REDIRECT:-off}.conf")
PROMETHEUS_CONFIG_VERSION=$(digest swarm/prometheus.yml observability/prometheus/rules/*.yml)
DATA_CONFIG_VERSION=$(digest db/init/* db/redis/redis.sh db/replica/exporter-queries.yaml)
ALERTMANAGER_CONFIG_VERSION=$(digest observability/alertmanager/alertmanager.yml \
	observability/alertmanager/entrypoint.sh observability/alertmanager/templates/*)
GRAFANA_CONFIG_VERSION=$(digest observability/grafana/provisioning/*/*.yml observability/grafana/dashboards/*.json)
SECRETS_VERSION=$(digest "$work"/*)

# --- Deploy and wait -----------------------------------------------------
start=$(date +%s)
echo "==> Deploying stack $STACK_NAME"
docker stack deploy --detach=true --resolve-image never --prune -c swarm/stack.yml "$STACK_NAME"
"$root/scripts/swarm-wait.sh" "$STACK_NAME" "$timeout"
echo "==> Stack $STACK_NAME converged and healthy in $(($(date +%s) - start))s"

# Configs and secrets of earlier versions that no service uses any more
# (Swarm refuses to remove the ones in use).
for kind in config secret; do
	docker "$kind" ls --filter "label=com.docker.stack.namespace=$STACK_NAME" --format '{{.Name}}' |
		xargs -r docker "$kind" rm >/dev/null 2>&1 || true
done

cat <<MSG

  Storefront   http://localhost:${HTTP_PORT:-8080}/   https://localhost:${HTTPS_PORT:-8443}/
  API          http://localhost:${HTTP_PORT:-8080}/api/catalog/products
  Prometheus   docker exec \$(docker ps -qf label=com.docker.swarm.service.name=${STACK_NAME}_prometheus) promtool query instant http://127.0.0.1:9090 up
  Alertmanager docker exec \$(docker ps -qf label=com.docker.swarm.service.name=${STACK_NAME}_alertmanager) amtool --alertmanager.url=http://127.0.0.1:9093 alert query

  docker stack services $STACK_NAME    the services      make swarm-down   remove the stack (data kept)
MSG
