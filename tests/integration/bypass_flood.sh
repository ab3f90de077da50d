#!/bin/bash
# Issue 11, attack 4: AUTH events cannot be pushed out of a client's ring.
# An unprivileged user starts 256 execs of a denied file at once, each with
# a ~7 KiB argument vector (messages near RF_MSG_MAX), while flooding
# telemetry (file events), against a client whose ring is the smallest the
# broker allows (64 KiB: eight such messages).  Before the fix 114 of 256
# denied execs got the default verdict (allow).  Now AUTH events that find
# no room wait in the broker for the client to make room (telemetry never
# takes the quarter of the ring kept for AUTH): none of the 256 runs, none
# overflows.  Then with the client stopped from reading (SIGSTOP) and
# [auth] on_overflow = deny, events that can never be delivered are denied,
# counted and alerted, not allowed.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

U=rfflood$$
useradd -M -r -s /bin/bash -d /nonexistent "$U" >/dev/null 2>&1 || { echo "skip: cannot create a user"; exit 77; }
trap 'userdel "$U" >/dev/null 2>&1; rf_cleanup' EXIT
as_user() { setpriv --reuid="$U" --regid="$U" --clear-groups --no-new-privs bash -c "$1"; }

EXEC_DEADLINE_MS=1000 rf_config "on_overflow = deny" "[broker]" "ring_kib = 64" "[supervisor]" "miss_limit = 64"
rf_manifest deny "$B/bin/rf-example-deny-exec" '*evil*' "auth_exec,exec,create,close_write,unlink" enforce
rf_start
wait_for 10 client_running deny || fail "deny client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"

mkdir -p "$RF/u" && chmod 1777 "$RF/u"
cp /bin/true "$RF/evil-true"; cp /bin/true "$RF/good-true"; chmod 755 "$RF"/*-true
"$RF/evil-true" 2>/dev/null && fail "control: evil-true ran"
"$RF/good-true" || fail "control: good-true did not run"
ok "control: evil-true denied, good-true runs"

cat >"$RF/u/flood.sh" <<'SH'
#!/bin/bash
# telemetry flood in the background, then 256 simultaneous denied execs with ~7 KiB argv
d=$1
( for i in $(seq 3000); do : >"$d/t$((i % 50))"; done ) &
big=$(head -c 7000 /dev/zero | tr '\0' 'A')
for i in $(seq 256); do
	( "$d/../evil-true" "$big" 2>/dev/null && echo ran >>"$d/ran" ) &
done
wait
SH
chmod 755 "$RF/u/flood.sh"
as_user "$RF/u/flood.sh $RF/u" || true
ran=$(cat "$RF/u/ran" 2>/dev/null | wc -l)
[ "$ran" -eq 0 ] || fail "$ran of 256 denied execs ran under the flood"
full=$(rfctl status --json | jq '.clients[] | select(.name=="deny") | .auth_ring_full')
waited=$(rfctl status --json | jq '.clients[] | select(.name=="deny") | .auth_waited_for_room')
over=$(rfctl status --json | jq '.auth.overflow')
[ "$full" -eq 0 ] || fail "auth_ring_full = $full: AUTH events were pushed out of the ring"
[ "$over" -eq 0 ] || fail "auth overflow = $over"
ok "256 simultaneous denied execs with 7 KiB argv under a telemetry flood: 0 ran, 0 overflowed ($waited waited in the broker for room)"
[ "$waited" -gt 0 ] || echo "note: the burst never filled the ring this time"

grep -q "killed: hung" "$ART/broker.log" && fail "client killed as hung during the burst"
# the client stops reading: events it can never receive are decided by on_overflow = deny
pid=$(rfctl status --json | jq -r '.clients[] | select(.name=="deny") | .pid')
kill -STOP "$pid"
cat >"$RF/u/flood2.sh" <<'SH'
#!/bin/bash
d=$1
big=$(head -c 7000 /dev/zero | tr '\0' 'A')
for i in $(seq 24); do
	( "$d/../good-true" "$big" 2>/dev/null && echo ran >>"$d/ran2" ) &
done
wait
SH
chmod 755 "$RF/u/flood2.sh"
as_user "$RF/u/flood2.sh $RF/u" || true
kill -CONT "$pid"
ran=$(cat "$RF/u/ran2" 2>/dev/null | wc -l)
full=$(rfctl status --json | jq '.clients[] | select(.name=="deny") | .auth_ring_full')
over=$(rfctl status --json | jq '.auth.overflow')
[ "$full" -gt 0 ] || fail "stopped client: no AUTH event counted as undeliverable (auth_ring_full $full)"
[ "$over" -gt 0 ] || fail "stopped client: auth overflow not counted"
# every undeliverable event was denied: at most the ones that fit in the ring (answered by
# default after the deadline, allow) may have run, and never all of them
[ "$ran" -lt 24 ] || fail "all 24 execs ran although $full could not be delivered (on_overflow = deny)"
rfctl status --json | jq -e '.alerts[]? | select(.kind=="auth-overflow")' >/dev/null ||
	grep -q "auth-overflow" "$ART/broker.log" || fail "no auth-overflow alert"
ok "client not reading: $full undeliverable AUTH events denied by on_overflow=deny ($ran of 24 ran: those that reached its ring got the default at the deadline), counted, alerted"
kill -0 "$BROKER_PID" || fail "broker died"
grep -q "killed: hung" "$ART/broker.log" && fail "the client was killed as hung"
ok "broker up"
