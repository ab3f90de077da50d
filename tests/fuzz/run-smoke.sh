#!/bin/bash
# run-smoke.sh - a short run of every libFuzzer harness (tests/fuzz/fuzz.mk)
# on a scratch copy of its seed corpus.  Builds nothing: `make fuzz` first.
# Prints one line per harness; exits 1 when any harness crashed, leaked,
# timed out or hit a sanitizer report (the reproducer is kept and named),
# 77 (skip, for tests/run.sh) when the harnesses are not built.
#   tests/fuzz/run-smoke.sh BUILD_DIR
# Environment: RF_FUZZ_SECONDS per harness (default 20), RF_FUZZ_JOBS
# harnesses at a time (default: the number of CPUs, at most 2).
set -u
B=$(cd "${1:-build}" && pwd)
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
SECS=${RF_FUZZ_SECONDS:-20}
JOBS=${RF_FUZZ_JOBS:-$(nproc 2>/dev/null || echo 1)}
[ "$JOBS" -gt 2 ] && JOBS=2
NAMES=(msg ctl ops_req recfile config respring bundle tuf)

for n in "${NAMES[@]}"; do
	if [ ! -x "$B/fuzz/fuzz_$n" ]; then
		echo "skip: fuzz harnesses not built in $B/fuzz (run: make fuzz)"
		exit 77
	fi
done

WORK=$(mktemp -d /var/tmp/rf-fuzz.XXXXXX)
trap 'rm -rf "$WORK/corpus"' EXIT

run_one() {   # name -> writes $WORK/NAME.rc
	local n=$1
	mkdir -p "$WORK/corpus/$n" "$WORK/artifacts/$n"
	cp "$ROOT/tests/fuzz/corpus/$n/"* "$WORK/corpus/$n/" 2>/dev/null
	# the largest input each parser takes, a little over (else libFuzzer's 4096)
	local max=4096
	case $n in
	msg) max=8256 ;;           # RF_MSG_MAX + 64
	ctl) max=4184 ;;           # RF_CTL_MAX_SIZE + 64
	recfile) max=24576 ;;      # a few maximal records
	respring) max=22080 ;;     # a whole image (the seeds) + a script
	bundle) max=16384 ;;       # a few compiled rules (the seeds are 1-3 KiB)
	tuf) max=8192 ;;           # the files of a small repository (the seeds are up to 4 KiB)
	esac
	# no -jobs: one process per harness keeps the wall time predictable
	"$B/fuzz/fuzz_$n" -max_total_time="$SECS" -max_len=$max -rss_limit_mb=2048 -timeout=10 \
		-error_exitcode=1 -timeout_exitcode=1 -print_final_stats=1 \
		-artifact_prefix="$WORK/artifacts/$n/" "$WORK/corpus/$n" >"$WORK/$n.log" 2>&1
	echo $? >"$WORK/$n.rc"
}

start=$SECONDS
running=0
for n in "${NAMES[@]}"; do
	run_one "$n" &
	running=$((running + 1))
	if [ "$running" -ge "$JOBS" ]; then
		wait -n
		running=$((running - 1))
	fi
done
wait

failed=0
for n in "${NAMES[@]}"; do
	rc=$(cat "$WORK/$n.rc" 2>/dev/null || echo 1)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$WORK/$n.log" | tail -n 1)
	cov=$(grep -o 'cov: [0-9]*' "$WORK/$n.log" | tail -n 1)
	if [ "$rc" -eq 0 ]; then
		printf 'ok    fuzz_%-9s %8s runs  %s\n' "$n" "${execs:-?}" "${cov:-}"
	else
		failed=1
		art=$(ls "$WORK/artifacts/$n/" 2>/dev/null | head -n 1)
		printf 'FAIL  fuzz_%-9s exit %s  reproducer: %s\n' "$n" "$rc" \
			"${art:+$WORK/artifacts/$n/$art}"
		grep -E 'ERROR|SUMMARY|runtime error|deadly signal' "$WORK/$n.log" | head -n 5 | sed 's/^/      | /'
		echo "      | log: $WORK/$n.log"
	fi
done
echo "fuzz smoke: $((SECONDS - start)) s, logs in $WORK"
exit $failed
