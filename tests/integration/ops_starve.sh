#!/bin/bash
# Issue 11: the control socket cannot be starved.  An unprivileged user the
# test creates opens 32 control connections (refused: the socket is root's
# and the broker takes only uid 0); a root process then opens 32 and keeps
# them idle.  rfctl status as root still answers at once (a full table
# closes its oldest idle request connection), a tail reader keeps its slot,
# and every idle connection is closed by the broker after the 10 s timeout.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

U=rfops$$
useradd -M -r -s /bin/bash -d /nonexistent "$U" >/dev/null 2>&1 || { echo "skip: cannot create a user"; exit 77; }
trap 'userdel "$U" >/dev/null 2>&1; rf_cleanup' EXIT

# hold N SEQPACKET connections for S seconds; print "connected closed"
cat >"$ART/hold.py" <<'PY'
import socket, sys, time, select
path, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
socks = []
for _ in range(n):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        s.connect(path)
        socks.append(s)
    except OSError:
        s.close()
print("connected", len(socks), flush=True)
time.sleep(secs)
closed = 0
for s in socks:
    r, _, _ = select.select([s], [], [], 0)
    if r and s.recv(16) == b"":
        closed += 1
print("closed", closed, flush=True)
PY
chmod 644 "$ART/hold.py"

rf_config
rf_start
rf_tail_start

# 1. unprivileged: nothing gets a slot
out=$(setpriv --reuid="$U" --regid="$U" --clear-groups --no-new-privs /usr/bin/python3 "$ART/hold.py" "$RF/run/control.sock" 32 1)
uc=$(echo "$out" | awk '/^connected/{print $2}'); ucl=$(echo "$out" | awk '/^closed/{print $2}')
[ -n "$uc" ] && [ "$uc" = "$ucl" ] || fail "as $U: $uc connections, only $ucl closed by the broker"
t0=$(now_ms); rfctl status --json >/dev/null || fail "status failed after the unprivileged flood"
ok "as $U: $uc of 32 connected, all closed at once; status in $(( $(now_ms) - t0 )) ms"

# 2. root: 32 idle connections held for 13 s
/usr/bin/python3 "$ART/hold.py" "$RF/run/control.sock" 32 13 >"$ART/hold.out" &
HOLD=$!
wait_for 5 grep -q '^connected' "$ART/hold.out" || fail "holder did not connect"
grep -q '^connected 32' "$ART/hold.out" || fail "root holder: $(cat "$ART/hold.out")"
sleep 0.5
for i in 1 2 3; do
	t0=$(now_ms); rfctl status --json >"$ART/st.json" || fail "status $i failed with 32 idle connections"
	dt=$(( $(now_ms) - t0 ))
	[ $dt -le 200 ] || fail "status $i took ${dt} ms with 32 idle connections"
done
ev=$(jq '.counters.ops_evicted' "$ART/st.json")
[ "$ev" -ge 16 ] || fail "ops_evicted $ev, want >= 16"
ok "root: 32 idle connections, status answers in ${dt} ms (evicted $ev)"

wait "$HOLD"
grep -q '^closed 32' "$ART/hold.out" || fail "idle connections not all closed after 13 s: $(cat "$ART/hold.out")"
idle=$(rfctl status --json | jq '.counters.ops_idle_closed')
[ "$idle" -ge 1 ] || fail "ops_idle_closed $idle"
kill -0 "$TAIL_PID" 2>/dev/null || fail "the tail reader was closed"
ok "all 32 idle connections closed by the broker (idle timeout $idle, evicted $ev); tail kept"
echo "ops_starve: control socket not starved"
