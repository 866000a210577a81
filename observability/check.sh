#!/usr/bin/env bash
# Checks Prometheus' configuration and rules with promtool, and
# Alertmanager's with amtool, each run inside its image so that the host
# needs only Docker: the configuration and every rule file parse, every
# alert has a unit test, and every unit test in prometheus/tests passes;
# Alertmanager's configuration, rendered with no receiver and with every
# one, passes check-config, routes each severity where it should, and its
# inhibitions mute what they should on a running Alertmanager. Exits
# non-zero on the first failure.
#
# PROMETHEUS_IMAGE and ALERTMANAGER_IMAGE pick the images (default: the
# local stand-ins that images/local.env names; the upstream prom/prometheus
# and prom/alertmanager work the same).
set -euo pipefail

cd "$(dirname "$0")/prometheus"
stand_in() { sed -n "s/^$1=//p" ../../images/local.env | tail -n 1; }
image=${PROMETHEUS_IMAGE:-$(stand_in PROMETHEUS_IMAGE)}
am_image=${ALERTMANAGER_IMAGE:-$(stand_in ALERTMANAGER_IMAGE)}

# The scrape configuration reads the internal token from the secret that
# compose mounts; the development one stands in for it.
promtool() {
	docker run --rm --network none -v "$PWD:/etc/prometheus:ro" -w /etc/prometheus \
		-v "$PWD/../../secrets/development/internal_token:/run/secrets/internal_token:ro" \
		--entrypoint promtool "$image" "$@"
}

echo "==> promtool ($image) check config prometheus.yml"
promtool check config prometheus.yml

echo "==> promtool check rules" rules/*.yml
promtool check rules rules/*.yml

echo "==> every rule file has a test file, every alert a test case"
missing=0
for f in rules/*.yml; do
	t="tests/$(basename "$f" .yml)_test.yml"
	if [[ ! -f $t ]]; then
		echo "$f: no unit tests in $t"
		missing=1
		continue
	fi
	for alert in $(sed -n 's/^ *- alert: *\([A-Za-z0-9_]*\).*/\1/p' "$f"); do
		if grep -Eq "^ *alertname: *$alert *\$" "$t"; then
			echo "  $alert: tested in $t"
		else
			echo "$f: alert $alert has no alert_rule_test in $t"
			missing=1
		fi
	done
done
((missing == 0))

echo "==> promtool test rules" tests/*.yml
promtool test rules tests/*.yml

cd ../alertmanager
tmp=$(mktemp -d)
am=
trap 'rm -rf "$tmp"; [ -z "$am" ] || docker rm --force "$am" >/dev/null' EXIT

# Every container here runs as this user, who owns $tmp and what is in it.
user=$(id -u):$(id -g)

# render NAME VAR=VALUE...: entrypoint.sh's rendering with these settings,
# into $tmp/NAME.yml, as the container's user would write it.
render() {
	local name=$1
	shift
	docker run --rm --network none --user "$user" -v "$PWD:/etc/alertmanager:ro" -v "$tmp:/out" \
		-e ALERTMANAGER_RENDER_ONLY=1 -e "ALERTMANAGER_RENDERED=/out/$name.yml" "${@/#/--env=}" \
		--entrypoint /bin/sh "$am_image" /etc/alertmanager/entrypoint.sh
}
amtool() {
	docker run --rm --network none --user "$user" -v "$PWD:/etc/alertmanager:ro" -v "$tmp:/out:ro" \
		--entrypoint amtool "$am_image" "$@"
}

echo "==> amtool ($am_image) check-config: no receiver configured, then webhook and e-mail"
render none
amtool check-config /out/none.yml
render all ALERT_WEBHOOK_URL=http://receiver.example:8080/alerts ALERT_EMAIL_TO=ops@example.com \
	SMTP_SMARTHOST=smtp.example.com:587 SMTP_FROM=alertmanager@example.com SMTP_USERNAME=alertmanager
amtool check-config /out/all.yml
grep -q 'smtp_auth_password_file: /run/secrets/smtp_password' "$tmp/all.yml"
[ "$(cat "$tmp/all.webhook-url")" = http://receiver.example:8080/alerts ]
if render bad ALERT_EMAIL_TO=ops@example.com 2>"$tmp/bad.err"; then
	echo "entrypoint.sh accepted ALERT_EMAIL_TO without SMTP_SMARTHOST"
	exit 1
fi
echo "  refused e-mail without a mail server: $(cat "$tmp/bad.err")"

echo "==> amtool config routes test: by severity"
route() {
	local want=$1
	shift
	amtool config routes test --config.file=/out/all.yml --verify.receivers="$want" "$@" >/dev/null ||
		{ echo "labels $* do not route to $want"; exit 1; }
	echo "  $* -> $want"
}
route critical alertname=PostgresDown job=postgres severity=critical
route critical alertname=ServiceMissing job=catalog severity=critical
route warning alertname=RedisDown job=redis severity=warning
route warning alertname=SomethingNew job=catalog

echo "==> amtool template render: the e-mail of a firing alert"
cat >"$tmp/firing.json" <<'JSON'
{"receiver": "critical", "status": "firing",
 "alerts": [{"status": "firing", "labels": {"alertname": "ServiceMissing", "job": "catalog", "severity": "critical"},
   "annotations": {"summary": "No catalog instance is running", "description": "Docker's DNS returns no container for catalog.",
     "runbook": "docker compose ps -a catalog"},
   "startsAt": "2026-12-07T14:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "http://prometheus:9090/graph"}],
 "groupLabels": {"alertname": "ServiceMissing", "job": "catalog"},
 "commonLabels": {"alertname": "ServiceMissing", "job": "catalog", "severity": "critical"},
 "commonAnnotations": {}, "externalURL": "http://127.0.0.1:9093"}
JSON
email() {
	amtool template render --template.glob='/etc/alertmanager/templates/*.tmpl' --template.data=/out/firing.json \
		--template.text="{{ template \"bazaar.email.$1\" . }}"
}
subject=$(email subject)
[ "$subject" = "[Bazaar CRITICAL] ServiceMissing (catalog)" ] || { echo "subject: $subject"; exit 1; }
text=$(email text)
grep -q '^  First steps: docker compose ps -a catalog$' <<<"$text" || { echo "$text"; echo "the e-mail has no first steps"; exit 1; }
echo "  $subject"

echo "==> inhibitions, on a running Alertmanager"
am=$(docker run --detach --network none --user "$user" -v "$PWD:/etc/alertmanager:ro" -v "$tmp:/out:ro" \
	--entrypoint /bin/alertmanager "$am_image" --config.file=/out/none.yml --storage.path=/tmp \
	--cluster.listen-address=)
amctl() { docker exec "$am" amtool --alertmanager.url=http://127.0.0.1:9093 "$@"; }
for _ in $(seq 50); do amctl config routes >/dev/null 2>&1 && break; sleep 0.2; done
# alert NAME JOB SEVERITY: one firing alert.
alert() { amctl alert add "alertname=$1" "job=$2" "severity=$3" >/dev/null; }
# inhibited NAME JOB yes|no: whether the alert is muted by another, which
# Alertmanager works out when it is asked.
inhibited() {
	local got=no
	for _ in $(seq 25); do
		got=no
		amctl -o extended alert query --inhibited | grep -q "alertname=\"$1\" job=\"$2\"" && got=yes
		[ "$got" = "$3" ] && break
		sleep 0.2
	done
	[ "$got" = "$3" ] || { echo "$1 of $2 inhibited: $got, want $3"; exit 1; }
	echo "  $1 of $2 inhibited: $got"
}
alert ServiceMissing users critical
alert TargetDown users critical
alert TargetDown redis critical
alert LatencySLOFastBurn orders critical
alert LatencySLOSlowBurn orders warning
alert LatencySLOSlowBurn catalog warning
alert HighErrorRatio catalog critical
alert DBPoolSaturated orders warning
alert RedisDown redis warning
inhibited TargetDown users yes
inhibited TargetDown redis no
inhibited LatencySLOSlowBurn orders yes
inhibited LatencySLOSlowBurn catalog no
inhibited HighErrorRatio catalog no
echo "  PostgresDown fires:"
alert PostgresDown postgres critical
inhibited HighErrorRatio catalog yes
inhibited DBPoolSaturated orders yes
inhibited LatencySLOSlowBurn catalog yes
inhibited LatencySLOFastBurn orders yes
inhibited RedisDown redis no
inhibited TargetDown redis no
inhibited PostgresDown postgres no

echo "==> observability checks passed"
