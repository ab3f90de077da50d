# lib.sh - helpers for integration tests that drive the real broker.
#
# Each test re-runs itself in a private mount namespace (unshare -m) with a
# fresh tmpfs at /tmp/rf, so fanotify permission marks (FAN_MARK_FILESYSTEM
# on that tmpfs) can never reach the root filesystem, and everything it
# mounted disappears with it.  tests/run.sh puts a timeout around each test.
# A test exits 0 (pass), 77 (skip, last line says why) or anything else (fail).

set -u
B=${RF_BUILD:?run through tests/run.sh or set RF_BUILD}
RF=/tmp/rf
ART=${RF_ART:-}

rf_enter_ns() {   # call first with "$@"
	if [ "$(id -u)" -ne 0 ]; then
		echo "skip: needs root (fanotify permission events, eBPF)"
		exit 77
	fi
	if [ -z "${RF_IN_NS:-}" ]; then
		export RF_IN_NS=1
		export RF_ART=$(mktemp -d /var/tmp/rf-it.XXXXXX)
		exec unshare -m --propagation private "$0" "$@"
	fi
	mkdir -p "$RF"
	mount -t tmpfs -o size=256m,mode=755 rf-test "$RF" || fail "cannot mount tmpfs at $RF"
	mkdir -p "$RF/run" "$RF/clients.d"
	# clients run as their own uids: let them write their reports here
	chmod 1777 "$ART"
	trap rf_cleanup EXIT
}

BROKER_PID=""
TAIL_PID=""

rf_cleanup() {
	[ -n "$TAIL_PID" ] && kill "$TAIL_PID" 2>/dev/null
	if [ -n "$BROKER_PID" ] && kill -0 "$BROKER_PID" 2>/dev/null; then
		kill -TERM "$BROKER_PID" 2>/dev/null
		for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$BROKER_PID" 2>/dev/null
	fi
	wait 2>/dev/null
	umount -l "$RF" 2>/dev/null
}

fail() {
	echo "FAIL: $*"
	if [ -n "$ART" ]; then
		[ -f "$ART/broker.log" ] && { echo "--- broker log (last 40 lines)"; tail -n 40 "$ART/broker.log"; }
		[ -f "$ART/tail.jsonl" ] && { echo "--- tail (last 20 lines)"; tail -n 20 "$ART/tail.jsonl" | cut -c1-400; }
	fi
	exit 1
}

ok() { echo "ok: $*"; }

# rf_config [extra INI lines...] writes $RF/ringfence.conf (outside the marks' reach: before the broker runs)
rf_config() {
	cat >"$ART/ringfence.conf" <<CONF
[broker]
state_dir = $RF/run          # control socket and runtime files
watch = $RF                  # AUTH marks only on this path's filesystem
clients_dir = $RF/clients.d
[auth]
exec_deadline_ms = ${EXEC_DEADLINE_MS:-1000}
open_deadline_ms = 250
default_verdict = ${DEFAULT_VERDICT:-allow}
CONF
	for l in "$@"; do echo "$l" >>"$ART/ringfence.conf"; done
}

rf_manifest() {   # name exec args subscribe mode
	cat >"$RF/clients.d/$1.conf" <<MAN
[client]
name = $1
exec = $2
args = $3
subscribe = $4
mode = $5
write = $ART
MAN
}

rfctl() { "$B/bin/rfctl" -S "$RF/run" "$@"; }

rf_start() {
	"$B/bin/ringfenced" -f -c "$ART/ringfence.conf" >"$ART/broker.log" 2>&1 &
	BROKER_PID=$!
	for _ in $(seq 100); do
		[ -S "$RF/run/control.sock" ] && rfctl status --json >/dev/null 2>&1 && return 0
		kill -0 "$BROKER_PID" 2>/dev/null || fail "ringfenced exited at start"
		sleep 0.1
	done
	fail "ringfenced did not open its control socket"
}

rf_tail_start() {   # [--events ...]
	rfctl tail "$@" >"$ART/tail.jsonl" 2>"$ART/tail.err" &
	TAIL_PID=$!
	sleep 0.3
}

# wait_for SECONDS CMD...: polls CMD until it succeeds
wait_for() {
	local t=$1
	shift
	local end=$((SECONDS + t))
	while [ $SECONDS -le $end ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
	done
	return 1
}

status_q() { rfctl status --json | jq -e "$1"; }

client_running() { status_q ".clients[] | select(.name==\"$1\") | select(.state==\"running\")"; }

# tail_has JQ-FILTER: some line of the tail matches (e.g. 'select(.type=="exec")')
tail_has() { jq -e -s "map($1) | length > 0" "$ART/tail.jsonl" >/dev/null 2>&1; }

# now_ms
now_ms() { date +%s%3N; }
