#!/bin/bash
# bench/profile.sh - profiles ringfenced under one AUTH workload, so a missed
# target can be traced to functions and system calls.
#
#   bench/profile.sh [--build DIR] [--clients N] [--cache] [--workload open-cold|open-hot|spawn|storm]
#                    [--tool perf|trace|sched|callgrind|strace|smaps] [--secs S]
#
# perf: `perf record -g` of the broker (software cpu-clock event, so it works
# in VMs without hardware counters), report on stdout.  callgrind: the broker
# runs under valgrind --tool=callgrind (instruction counts; slow, so the
# workload is short), callgrind_annotate on stdout.  strace: syscall counts
# and times (strace -c -f) of the broker.  trace: `perf trace -s` of the
# broker and its clients (system calls per event with their real latency:
# far less overhead than strace).  sched: `perf sched` of the whole machine
# (where the opener, the broker and the clients ran, and who woke whom).
# Same safety as run.sh: private mount namespace, tmpfs at /tmp/rfb, timeouts.
set -u
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build N=1 CACHE="" WL=open-cold TOOL=perf SECS=5
ARGS=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift ;;
	--clients) N=$2; shift ;;
	--cache) CACHE="--cache" ;;
	--workload) WL=$2; shift ;;
	--tool) TOOL=$2; shift ;;
	--secs) SECS=$2; shift ;;
	*) echo "profile: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
case "$BUILD" in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
BB=$B/bench
RFB=/tmp/rfb
[ "$(id -u)" -eq 0 ] || { echo "profile: needs root"; exit 77; }
if [ -z "${RFB_IN_NS:-}" ]; then
	export RFB_IN_NS=1
	exec timeout -k 10 900 unshare -m --propagation private "$0" "${ARGS[@]}"
fi
mkdir -p "$RFB"
mount -t tmpfs -o size=2g,mode=755 rfb-prof "$RFB" || exit 1
ART=$(mktemp -d /var/tmp/rfb-prof.XXXXXX)
BW=""
trap '[ -n "$BW" ] && kill -TERM $BPID 2>/dev/null; sleep 1; kill -KILL $BW 2>/dev/null; wait; umount -l $RFB; [ -n "${RFB_KEEP_ART:-}" ] || rm -rf $ART' EXIT
mkdir -p "$RFB/bin" "$RFB/hot" "$RFB/cold" "$ART/clients.d"
cp "$BB/rfb-nop" "$RFB/bin/"
head -c 4096 /dev/zero >"$RFB/hot/data"
COLD=200000
[ "$TOOL" = callgrind ] && COLD=20000
"$BB/rfb-load" mkfiles --dir "$RFB/cold" --count $COLD >/dev/null
cat >"$ART/rf.conf" <<CONF
[broker]
state_dir = $ART/run
watch = $RFB
clients_dir = $ART/clients.d
[auth]
open_deadline_ms = 5000
exec_deadline_ms = 5000
CONF
for i in $(seq "$N"); do
	if [ "$WL" = storm ]; then   # telemetry only: a monitor client of process events
		printf '[client]\nname = c%s\nexec = %s\nargs = --notify exec,fork,exit\nsubscribe = exec,fork,exit\nmode = monitor\n' \
			"$i" "$BB/rfb-client" >"$ART/clients.d/c$i.conf"
	else
		printf '[client]\nname = c%s\nexec = %s\nargs = --auth exec,open %s\nsubscribe = auth_exec,auth_open\nmode = enforce\n' \
			"$i" "$BB/rfb-client" "$CACHE" >"$ART/clients.d/c$i.conf"
	fi
done
PRE=()
if [ "$TOOL" = callgrind ]; then
	PRE=(valgrind --tool=callgrind --callgrind-out-file="$ART/cg.out")
	# loading the eBPF programs under valgrind takes minutes; the AUTH path does not need them
	printf '[sensors]\nebpf = no\nproc_connector = no\n' >>"$ART/rf.conf"
fi
timeout -s KILL 600 "${PRE[@]}" "$B/bin/ringfenced" -f -c "$ART/rf.conf" >"$ART/broker.log" 2>&1 &
BW=$!
for _ in $(seq 1200); do
	"$B/bin/rfctl" -S "$ART/run" status --json 2>/dev/null |
		jq -e "(.auth.open_marked or \"$WL\" == \"storm\") and (.clients | all(.[]; .state == \"running\"))" >/dev/null 2>&1 && break
	sleep 0.1
done
BPID=$("$B/bin/rfctl" -S "$ART/run" status --json | jq .pid)
[ -n "$BPID" ] || { echo "profile: the broker did not start:"; tail -n 20 "$ART/broker.log"; exit 1; }
echo "profile: broker pid $BPID, $N client(s) ${CACHE:-without cache}, workload $WL, tool $TOOL" >&2
run_wl() {
	case $WL in
	spawn) "$BB/rfb-load" spawn --path "$RFB/bin/rfb-nop" --max 100000 --secs "$SECS" ;;
	open-hot) "$BB/rfb-load" open-hot --path "$RFB/hot/data" --max 100000000 --secs "$SECS" ;;
	open-cold) "$BB/rfb-load" open-cold --dir "$RFB/cold" --count $COLD --secs "$SECS" ;;
	storm) "$BB/rfb-load" storm --path "$RFB/bin/rfb-nop" --secs "$SECS" --workers 2 ;;
	esac
}
case $TOOL in
perf)
	perf record -q -e cpu-clock -F 4000 -g -p "$BPID" -o "$ART/perf.data" -- sleep "$SECS" 2>/dev/null &
	PP=$!
	sleep 0.2
	run_wl
	wait $PP
	perf report -i "$ART/perf.data" --stdio --no-children --percent-limit 1.5 -g none 2>/dev/null | grep -v '^$' | head -60
	echo "--- by caller (children) ---"
	perf report -i "$ART/perf.data" --stdio --children --percent-limit 4 -g none 2>/dev/null | grep -v '^#' | grep -v '^$' | head -40
	;;
trace)
	CP=$("$B/bin/rfctl" -S "$ART/run" status --json | jq -r '[.clients[].pid] | join(",")')
	perf trace -s -p "$BPID,$CP" -o "$ART/trace.txt" -- sleep "$SECS" 2>/dev/null &
	PP=$!
	sleep 0.3
	run_wl
	wait $PP
	grep -v '^$' "$ART/trace.txt" | head -60
	;;
sched)
	perf sched record -a -o "$ART/sched.data" -- sleep "$SECS" >/dev/null 2>&1 &
	PP=$!
	sleep 0.3
	run_wl
	wait $PP
	echo "--- latency by task ---"
	perf sched latency -i "$ART/sched.data" --sort max 2>/dev/null | grep -E 'Task|ringfenced|rfb-' | head -12
	echo "--- CPU of each switch-in, by task (CPU: count) ---"
	perf sched timehist -i "$ART/sched.data" 2>/dev/null | awk '$3 ~ /ringfenced|rfb-/ { sub(/\[[0-9]+\]$/, "", $3); n[$3 " " $2]++ }
		END { for (k in n) print n[k], k }' | sort -k2 | head -20
	echo "--- a stretch in the middle, with wake-ups ---"
	perf sched timehist -w -i "$ART/sched.data" 2>/dev/null | grep -E 'ringfenced|rfb-' | awk 'NR > 2000 && NR <= 2040'
	;;
strace)
	# STRACE_WHO=client traces the first client instead of the broker
	TPID=$BPID
	[ "${STRACE_WHO:-broker}" = client ] && TPID=$("$B/bin/rfctl" -S "$ART/run" status --json | jq '.clients[0].pid')
	timeout $((SECS + 5)) strace ${STRACE_OPTS:--c} -f -p "$TPID" -o "$ART/strace.txt" &
	SP=$!
	sleep 0.5
	run_wl
	kill -INT $SP; wait $SP
	[ -n "${STRACE_OPTS:-}" ] && sed -n "2000,2060p" "$ART/strace.txt" || cat "$ART/strace.txt"
	;;
smaps)
	# where the broker's resident memory is, after the workload
	run_wl >/dev/null
	grep -E 'VmRSS|VmHWM|RssAnon|RssFile|RssShmem' /proc/$BPID/status
	awk '/^[0-9a-f]+-[0-9a-f]+ / { name = $6 ? $6 : "[anon]" } /^Rss:/ { rss[name] += $2 }
	     END { for (n in rss) if (rss[n] >= 256) printf "%8d KiB  %s\n", rss[n], n }' /proc/$BPID/smaps | sort -rn | head -20
	;;
callgrind)
	run_wl
	"$B/bin/rfctl" -S "$ART/run" status --json | jq -c .auth >&2
	kill -TERM "$BPID"
	for _ in $(seq 100); do kill -0 "$BPID" 2>/dev/null || break; sleep 0.1; done
	wait $BW 2>/dev/null
	BW=""
	callgrind_annotate --inclusive=yes "$ART/cg.out" 2>/dev/null | head -70
	;;
esac
"$B/bin/rfctl" -S "$ART/run" status --json 2>/dev/null | jq -c '{auth: (.auth | {events, by_client, by_default}), sensors: [.sensors[] | del(.detail)]}' >&2
