# shellcheck shell=bash disable=SC2034
# flib.sh - helpers shared by the fault-injection scripts (faults.sh,
# chaos-random.sh, latency.sh).  Builds on tests/integration/lib.sh: the
# private mount namespace, the tmpfs at /tmp/rf, starting the broker.
#
# Unlike the integration tests, a fault script does not stop at the first
# failed assertion: it records it (fl_bad), carries on with the next mode,
# and prints every failure at the end, so one run tells which outcomes the
# broker gets right and which not.

. "$(dirname "${BASH_SOURCE[0]}")/../integration/lib.sh"

DL=${RF_FAULT_DEADLINE_MS:-300}         # exec_deadline_ms the scripts configure
SLACK_MS=50                             # (a) an exec completes within DL + SLACK_MS
STATUS_MAX_MS=${RF_STATUS_MAX_MS:-100}  # (b)
FD_MAX=256                              # (c) broker descriptors
FD_GROWTH=4
RSS_GROWTH_KIB=8192
CONTENT_VERSION=chaos-2024.07.19-c291
TIMER="$B/tests/rf-exectime"
for _f in "$TIMER" "$B/tests/rf-chaos-client" "$B/tests/rf-chaos2" "$B/bin/ringfenced" "$B/bin/rfctl"; do
	[ -x "$_f" ] || { echo "FAIL: $_f not built (make -j2)"; exit 1; }
done
command -v jq >/dev/null || { echo "skip: jq not installed"; exit 77; }
# An ASan broker maps a large shadow: give it a larger, still fixed, budget.
# (ASan also keeps freed memory in quarantine, so allow more growth.)
if ldd "$B/bin/ringfenced" 2>/dev/null | grep -q libasan; then
	RSS_MAX_KIB=${RF_RSS_MAX_KIB:-262144}
	RSS_GROWTH_KIB=65536
	CLIENT_MEMORY_MB=${RF_FAULT_MEMORY_MB:-256}   # an ASan client needs more than 64 MiB to run
else
	RSS_MAX_KIB=${RF_RSS_MAX_KIB:-65536}
fi

FAILS=()          # "label: assertion: detail"
CUR=""            # label of the current mode, for fl_bad
STATUS_MAX_SEEN=0 # slowest status answer in the current mode, ms

fl_bad() { FAILS+=("$CUR: $*"); echo "  FAIL $CUR: $*"; }
fl_ok() { echo "  ok   $CUR: $*"; }

# fl_config [extra lines]: the broker config with the fault suite's small limits.
fl_config() {
	EXEC_DEADLINE_MS=$DL rf_config "[supervisor]" \
		"hang_timeout_ms = ${RF_HANG_MS:-1000}" \
		"max_deaths = ${RF_MAX_DEATHS:-3}" \
		"death_window_ms = 30000" \
		"miss_limit = 3" "$@"
}

# fl_manifest NAME BINARY MODE-ARG [extra lines]
fl_manifest() {
	local name=$1 bin=$2 arg=$3
	shift 3
	{
		echo "[client]"
		echo "name = $name"
		echo "exec = $bin"
		echo "args = $arg"
		echo "subscribe = auth_exec"
		echo "mode = enforce"
		echo "memory_mb = ${CLIENT_MEMORY_MB:-${RF_FAULT_MEMORY_MB:-64}}"
		echo "max_files = 64"
		echo "max_procs = 8"
		echo "cpu_percent = 50"
		echo "content_version = $CONTENT_VERSION"
		for l in "$@"; do echo "$l"; done
	} >"$RF/clients.d/$name.conf"
}

# fl_status: fetches `rfctl status --json` into $ART/status.json, timed (b).
# Returns non-zero when rfctl failed.  Every status poll of a script goes
# through here, so every one of them is a sample of the status latency.
fl_status() {
	local out us ms rc
	out=$("$TIMER" -q -n 1 -O "$ART/status.tmp" "$B/bin/rfctl" -S "$RF/run" status --json)
	rc=$?
	us=$(echo "$out" | awk '/^# runs/ { print $13 }')
	ms=$(( (${us:-0} + 999) / 1000 ))
	[ "$ms" -gt "$STATUS_MAX_SEEN" ] && STATUS_MAX_SEEN=$ms
	if [ "$ms" -gt "$STATUS_MAX_MS" ]; then
		fl_bad "(b) rfctl status took ${ms} ms (limit ${STATUS_MAX_MS} ms)"
	fi
	[ $rc -eq 0 ] && mv "$ART/status.tmp" "$ART/status.json"
	return $rc
}

# fl_q JQ: true when the jq expression holds on a fresh status
fl_q() { fl_status && jq -e "$1" "$ART/status.json" >/dev/null 2>&1; }
# fl_cq NAME JQ: same, on client NAME's object
fl_cq() { fl_q ".clients[] | select(.name==\"$1\") | $2"; }
# fl_cget NAME JQ: prints a value of client NAME from the last status
fl_cget() { jq -c ".clients[] | select(.name==\"$1\") | $2" "$ART/status.json" 2>/dev/null; }
fl_client_json() {
	jq -c ".clients[] | select(.name==\"$1\") | {state, pid, restarts, deaths, last_exit, hung_kills,
		auth_asked, auth_answered, auth_missed, late, duplicate, foreign, invalid, seccomp_denied_by_syscall,
		death_log: [(.death_log // [])[] | {status, reason}]}" "$ART/status.json" 2>/dev/null | cut -c1-600
}

# fl_wait SECONDS CMD...: polls CMD every 0.1 s (bounded)
fl_wait() { wait_for "$@"; }

# fl_res: "RSS_KIB FDS" of the broker, from /proc
fl_res() {
	local rss fds
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$BROKER_PID/status" 2>/dev/null)
	fds=$(ls "/proc/$BROKER_PID/fd" 2>/dev/null | wc -l)
	echo "${rss:-0} ${fds:-0}"
}

# fl_res_check LABEL START_RES: (c) bounds now, and no growth since START_RES
fl_res_check() {
	local label=$1 rss0 fds0 rss fds
	read -r rss0 fds0 <<<"$2"
	read -r rss fds <<<"$(fl_res)"
	[ "$rss" -gt 0 ] || { fl_bad "(c) broker gone: no /proc/$BROKER_PID/status"; return; }
	[ "$rss" -lt "$RSS_MAX_KIB" ] || fl_bad "(c) broker RSS ${rss} KiB >= ${RSS_MAX_KIB} KiB ($label)"
	[ "$fds" -lt "$FD_MAX" ] || fl_bad "(c) broker has ${fds} descriptors >= ${FD_MAX} ($label)"
	[ "$rss" -le $((rss0 + RSS_GROWTH_KIB)) ] || fl_bad "(c) broker RSS grew ${rss0} -> ${rss} KiB ($label)"
	[ "$fds" -le $((fds0 + FD_GROWTH)) ] || fl_bad "(c) broker descriptors grew ${fds0} -> ${fds} ($label)"
	RES_LAST="$rss KiB, $fds fds"
}

# fl_execs N [INTERVAL_MS]: N execs of $RF/true, each timed; (a) each within
# DL + SLACK_MS and exits 0 (no forged DENY may reach the kernel).
# Latencies (us) are appended to $ART/lat.$CUR.
fl_execs() {
	local n=$1 iv=${2:-0} out line
	out=$("$TIMER" -n "$n" -i "$iv" -l $((DL + SLACK_MS)) "$RF/true")
	while read -r us st; do
		[ "$us" = "#" ] && continue
		echo "$us" >>"$ART/lat.${CUR//\//_}"
		[ "$st" = 0 ] || fl_bad "(a) exec of $RF/true ended with status $st (want 0: allowed)"
		[ "$us" -le $(((DL + SLACK_MS) * 1000)) ] || \
			fl_bad "(a) exec took $((us / 1000)) ms (deadline ${DL} + ${SLACK_MS} ms)"
	done <<<"$out"
	line=$(echo "$out" | tail -n 1)
	echo "       execs: $line"
}

# fl_descendants PID: PID and every process below it
fl_descendants() {
	ps -e -o pid=,ppid= | awk -v root="$1" '
		{ kids[$2] = kids[$2] " " $1 }
		END { q[1] = root; n = 1; for (i = 1; i <= n; i++) { print q[i];
			c = split(kids[q[i]], a, " "); for (j = 1; j <= c; j++) q[++n] = a[j] } }'
}

# fl_stop: stops the broker and then, by pid, whatever it had started that
# outlived it (a chaos client that ignored the broker's exit, fork-bomb children).
fl_stop() {
	local left=() p exe
	if [ -n "$BROKER_PID" ]; then
		for p in $(fl_descendants "$BROKER_PID"); do
			[ "$p" = "$BROKER_PID" ] && continue
			exe=$(readlink "/proc/$p/exe" 2>/dev/null)
			case "$exe" in "$B"/tests/rf-chaos*) left+=("$p:$exe") ;; esac
		done
	fi
	rf_cleanup
	for e in "${left[@]}"; do
		p=${e%%:*}
		[ "$(readlink "/proc/$p/exe" 2>/dev/null)" = "${e#*:}" ] && kill -KILL "$p" 2>/dev/null
	done
	BROKER_PID=""
	TAIL_PID=""
}

# fl_fresh: a fresh tmpfs at /tmp/rf (after fl_stop), with a copy of true
fl_fresh() {
	mountpoint -q "$RF" && umount -l "$RF" 2>/dev/null
	mount -t tmpfs -o size=256m,mode=755 rf-test "$RF" || { echo "FAIL: cannot mount tmpfs at $RF"; exit 1; }
	mkdir -p "$RF/run" "$RF/clients.d"
	cp /bin/true "$RF/true"
}

# fl_start: starts the broker; returns non-zero (recorded) instead of exiting
fl_start() {
	"$B/bin/ringfenced" -f -c "$ART/ringfence.conf" >"$ART/broker.log" 2>&1 &
	BROKER_PID=$!
	local i
	for _ in $(seq 100); do
		[ -S "$RF/run/control.sock" ] && "$B/bin/rfctl" -S "$RF/run" status --json >/dev/null 2>&1 && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || { fl_bad "ringfenced exited at start: $(tail -n 3 "$ART/broker.log")"; return 1; }
		sleep 0.1
	done
	fl_bad "ringfenced did not open its control socket"
	return 1
}

fl_alive() { kill -0 "$BROKER_PID" 2>/dev/null; }

# fl_pct FILE P: the P-th percentile (nearest rank) of the numbers in FILE
fl_pct() {
	sort -n "$1" | awk -v p="$2" '{ a[NR] = $1 } END { if (!NR) { print 0; exit }
		i = int((NR * p + 99) / 100); if (i < 1) i = 1; print a[i] }'
}

# fl_log_has ERE: the broker log (client stderr included) matches
fl_log_has() { grep -Eq "$1" "$ART/broker.log"; }
