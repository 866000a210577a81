#!/usr/bin/env bash
# Runs every Go fuzz target of the service modules for a bounded time each.
#
#   scripts/fuzz.sh             every target, FUZZTIME (default 10s) each
#   scripts/fuzz.sh Cursor      only targets whose name matches the regex
#   FUZZTIME=2m scripts/fuzz.sh
#
# `go test -fuzz` takes one target per run, so each target of each package
# runs on its own. The first finding stops the script with a failure; Go has
# written the failing input to <package>/testdata/fuzz/<target>/, where it
# becomes a regression case once committed with the fix.
set -euo pipefail

cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10s}
filter=${1:-.}
modules=(services/platform services/catalog services/users services/orders)

# Lines of "module<TAB>package dir<TAB>target", found in the test sources.
targets=()
for module in "${modules[@]}"; do
	while IFS=: read -r file name; do
		dir=$(dirname "${file#"$module"/}")
		targets+=("$module	./$dir	$name")
	done < <(grep -rHoE --include='*_test.go' '^func Fuzz[A-Za-z0-9_]+\(f \*testing\.F\)' "$module" |
		sed -E 's/^([^:]+):func (Fuzz[A-Za-z0-9_]+).*/\1:\2/' | sort -u)
done

selected=()
for t in "${targets[@]}"; do
	if [[ ${t##*	} =~ $filter ]]; then
		selected+=("$t")
	fi
done
if [ ${#selected[@]} -eq 0 ]; then
	echo "fuzz: no fuzz target matches '$filter'" >&2
	exit 1
fi

# fuzz_one fuzzes one target. Go 1.26's fuzzing coordinator can end a clean
# run with a bare "context deadline exceeded" when -fuzztime runs out while a
# worker is busy (golang/go#75804, fixed in Go 1.27): a run that fails that
# way and wrote no failing input runs once more. A real finding writes its
# input, which the second run replays and fails on again.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
fuzz_one() {
	local module=$1 dir=$2 name=$3
	for _ in 1 2; do
		if (cd "$module" && go test -run '^$' -fuzz "^$name\$" -fuzztime "$fuzztime" "$dir") 2>&1 | tee "$log"; then
			return 0
		fi
		if grep -q "Failing input written to" "$log" || ! grep -q "context deadline exceeded" "$log"; then
			return 1
		fi
		echo "fuzz: $name ended on the fuzztime deadline race with no failing input; running it once more" >&2
	done
	return 1
}

echo "fuzz: ${#selected[@]} targets, $fuzztime each"
start=$SECONDS
i=0
for t in "${selected[@]}"; do
	IFS=$'\t' read -r module dir name <<<"$t"
	i=$((i + 1))
	echo "==> [$i/${#selected[@]}] $module/${dir#./} $name"
	if ! fuzz_one "$module" "$dir" "$name"; then
		echo "fuzz: $name in $module/${dir#./} failed; the input is in $module/${dir#./}/testdata/fuzz/$name/" >&2
		exit 1
	fi
done
echo "fuzz: all ${#selected[@]} targets ran clean for $fuzztime each ($((SECONDS - start))s)"
