#!/usr/bin/env bash
# Builds each service as an AWS Lambda function for the provided.al2023
# runtime: a static executable named bootstrap, zipped on its own.
#
#   scripts/lambda.sh            writes build/lambda/{catalog,users,orders}.zip
#   scripts/lambda.sh DIR        writes them into DIR
#   LAMBDA_ARCH=arm64 scripts/lambda.sh   for Graviton functions (Architectures: arm64)
#
# The bootstrap is the service's own command (cmd/<service>): it notices the
# Lambda runtime API and answers invocations instead of listening
# (services/platform/lambda). lambda.norpc leaves out aws-lambda-go's RPC
# mode, which only the retired go1.x runtime used. The zips are
# reproducible: fixed timestamps, no extra attributes.
set -euo pipefail

cd "$(dirname "$0")/.."
out=$(realpath -m "${1:-build/lambda}")
arch=${LAMBDA_ARCH:-amd64}
max_bytes=$((20 << 20)) # 20 MiB per bootstrap

mkdir -p "$out"
for svc in catalog users orders; do
	dir="$out/$svc"
	rm -rf "$dir" "$out/$svc.zip"
	mkdir -p "$dir"
	(cd "services/$svc" && CGO_ENABLED=0 GOOS=linux GOARCH="$arch" \
		go build -trimpath -tags lambda.norpc -ldflags='-s -w -buildid=' -o "$dir/bootstrap" "./cmd/$svc")
	size=$(stat -c %s "$dir/bootstrap")
	if ((size > max_bytes)); then
		echo "lambda: $svc's bootstrap is $size bytes, over the 20 MiB budget" >&2
		exit 1
	fi
	touch -d '2000-01-01T00:00:00Z' "$dir/bootstrap"
	(cd "$dir" && zip -q -X -9 "$out/$svc.zip" bootstrap)
	printf 'lambda: %-8s bootstrap %5.1f MiB, zip %5.1f MiB  %s\n' "$svc" \
		"$(awk "BEGIN{print $size/1048576}")" "$(awk "BEGIN{print $(stat -c %s "$out/$svc.zip")/1048576}")" "$out/$svc.zip"
done
