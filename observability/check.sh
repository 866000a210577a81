#!/usr/bin/env bash
# Checks Prometheus' configuration and rules with promtool, run inside the
# Prometheus image so that the host needs only Docker: the configuration and
# every rule file parse, every alert has a unit test, and every unit test in
# prometheus/tests passes. Exits non-zero on the first failure.
#
# PROMETHEUS_IMAGE picks the image (default: the local stand-in
# bazaar/prometheus:2.42; the upstream prom/prometheus works the same).
set -euo pipefail

cd "$(dirname "$0")/prometheus"
image=${PROMETHEUS_IMAGE:-bazaar/prometheus:2.42}

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

echo "==> observability checks passed"
