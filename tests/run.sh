#!/bin/bash
# Runs every test: unit tests (cmocka binaries) and integration tests (shell
# scripts that drive the real broker on the real kernel, each in a private
# mount namespace with a tmpfs, under a timeout).  Prints one line per test
# and a closing "N passed, N failed, N skipped" line.  Exit status 1 when
# anything failed.
#   tests/run.sh BUILD_DIR [FILTER]
set -u
B=$(cd "${1:-build}" && pwd)
FILTER=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
export RF_BUILD="$B" RF_ROOT="$ROOT"
OUT=$(mktemp -d /var/tmp/rf-tests.XXXXXX)
pass=0 fail=0 skip=0
failed=()

run_one() {   # name timeout command...
	local name=$1 t=$2
	shift 2
	[ -n "$FILTER" ] && [[ "$name" != *"$FILTER"* ]] && return
	local log="$OUT/${name//\//_}.log"
	local start=$SECONDS
	timeout --kill-after=10 "$t" "$@" >"$log" 2>&1
	local rc=$?
	local dt=$((SECONDS - start))
	if [ $rc -eq 0 ]; then
		pass=$((pass + 1)); echo "PASS  $name (${dt}s)"
	elif [ $rc -eq 77 ]; then
		skip=$((skip + 1)); echo "SKIP  $name: $(tail -n 1 "$log")"
	else
		fail=$((fail + 1)); failed+=("$name")
		[ $rc -eq 124 ] && echo "FAIL  $name (timeout after ${t}s)" || echo "FAIL  $name (exit $rc)"
		sed 's/^/      | /' "$log" | tail -n 60
	fi
}

for t in "$B"/tests/test_*; do
	[ -x "$t" ] || continue
	name="unit/$(basename "$t")"
	# cmocka: a skipped group exits 0; failures exit non-zero
	run_one "$name" 120 "$t"
done

for t in "$ROOT"/tests/integration/*.sh; do
	[ -x "$t" ] || continue
	run_one "integration/$(basename "$t" .sh)" 240 "$t"
done

for t in "$ROOT"/tests/drills/*.sh; do
	[ -x "$t" ] || continue
	run_one "drills/$(basename "$t" .sh)" 300 "$t"
done

for t in "$ROOT"/tests/faults/*.sh; do
	[ -x "$t" ] || continue
	run_one "faults/$(basename "$t" .sh)" 900 "$t"
done

for t in "$ROOT"/tests/fuzz/run-smoke.sh; do
	[ -x "$t" ] || continue
	[ -n "${RF_SKIP_FUZZ:-}" ] && continue
	run_one "fuzz/smoke" 600 "$t"
done

echo
echo "logs in $OUT"
[ ${#failed[@]} -gt 0 ] && echo "failed: ${failed[*]}"
echo "$pass passed, $fail failed, $skip skipped"
[ $fail -eq 0 ]
