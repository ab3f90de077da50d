#!/bin/bash
# shellcheck disable=SC2034
# Exec latency under each fault against no fault, measured in one run
# (issue 3, item 7; the table in docs/RESILIENCE.md comes from here).
#
# For each row a fresh broker (exec_deadline_ms=300, the fault suite's
# supervisor settings) and one chaos client in that mode; the first exec
# triggers the fault, then execs of /tmp/rf/true run back to back (10 ms
# apart) for RF_LATENCY_SECONDS (default 5), each timed from fork to wait by
# rf-exectime.  Baselines: no broker at all, the broker without clients (no
# permission marks), and a well-behaved enforcing client (mode none).
# Prints a Markdown table: p50, p99 and max per row.
#
# A measurement, not a test: tests/run.sh skips it unless RF_LATENCY=1.
#   sudo RF_LATENCY=1 tests/run.sh build faults/latency
#   sudo RF_BUILD=$PWD/build RF_LATENCY=1 tests/faults/latency.sh
# RF_LATENCY_IMPL picks the chaos client (default rf-chaos-client),
# RF_LATENCY_MODES a subset of the rows.
if [ -z "${RF_LATENCY:-}" ]; then
	echo "skip: a measurement; run with RF_LATENCY=1 to print the latency table"
	exit 77
fi
. "$(dirname "$0")/flib.sh"
rf_enter_ns "$@"
trap 'fl_stop; umount -l "$RF" 2>/dev/null' EXIT

SECS=${RF_LATENCY_SECONDS:-5}
IMPL=${RF_LATENCY_IMPL:-rf-chaos-client}
MODES=${RF_LATENCY_MODES:-"none oob-read abort hang-auth spin leak fork-bomb fd-exhaust flood-bogus malformed-resp \
oversized-ctl duplicate late foreign escape crash-at-start"}
STATUS_MAX_MS=100000   # measured here, asserted in faults.sh

row() {   # label file note
	local n p50 p99 max
	n=$(wc -l <"$2")
	p50=$(fl_pct "$2" 50); p99=$(fl_pct "$2" 99); max=$(fl_pct "$2" 100)
	printf '| %-22s | %6d | %8.2f | %8.2f | %8.2f | %s |\n' "$1" "$n" \
		"$(echo "$p50 / 1000" | bc -l)" "$(echo "$p99 / 1000" | bc -l)" "$(echo "$max / 1000" | bc -l)" "$3"
}

measure() {   # file: execs for SECS seconds, latencies (us) to file
	"$TIMER" -d "$SECS" -i 10 "$RF/true" | awk '$1 != "#" { print $1 }' >"$1"
}

command -v bc >/dev/null || { echo "skip: bc not installed"; exit 77; }
echo "latency: $(date -u +%FT%TZ), $(uname -sr), $(nproc) CPUs, $(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)"
echo "build $B, client $IMPL, exec_deadline_ms $DL, $SECS s per row, execs 10 ms apart"
echo
echo "| fault                  |  execs |  p50 ms  |  p99 ms  |  max ms  | client afterwards |"
echo "|------------------------|--------|----------|----------|----------|-------------------|"

CUR=baseline
fl_fresh
measure "$ART/lat.nobroker"
row "no broker" "$ART/lat.nobroker" "-"

fl_config
fl_start || exit 1
measure "$ART/lat.noclient"
fl_status
row "broker, no client" "$ART/lat.noclient" "marks: $(jq -r .auth.exec_marked "$ART/status.json" 2>/dev/null || echo ?)"
fl_stop

for mode in $MODES; do
	CUR=$mode
	fl_fresh
	fl_config
	fl_manifest "chaos-$$" "$B/tests/$IMPL" "$mode"
	fl_start || continue
	if [ "$mode" != crash-at-start ]; then
		fl_wait 10 fl_cq "chaos-$$" '.state == "running"' || echo "  ($mode: client not running)"
		fl_wait 5 fl_q '.auth.exec_marked == true' || echo "  ($mode: no marks)"
	fi
	label=$mode
	[ "$mode" = none ] && label="none (healthy client)"
	measure "$ART/lat.$mode"
	fl_status
	note=$(jq -r '.clients[] | select(.name == "chaos-'$$'") | "\(.state), restarts \(.restarts), hung_kills \(.hung_kills // "-")"' "$ART/status.json" 2>/dev/null)
	row "$label" "$ART/lat.$mode" "$note"
	cp "$ART/broker.log" "$ART/broker.$mode.log"
	fl_stop
done
echo
echo "raw latencies (us) in $ART/lat.*, broker logs in $ART/broker.*.log"
