#!/bin/bash
# The trial's other two stops, with a client that answers AUTH exec: a
# candidate that answers too slowly (deadline misses on the replayed AUTH
# events) and one that floods alerts are rejected with their reasons, the
# live client keeps answering every exec in time, and the current content
# stays.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

drill_repo
drill_setup
cat >"$RF/clients.d/$FRAGILE.conf" <<MAN
[client]
name = $FRAGILE
exec = $B/tests/rf-fragile-client
args = --auth
subscribe = auth_exec exec
mode = enforce
content = managed
write = $ART
MAN
drill_template "$ART/v1.tmpl" 20
drill_publish 1 "$ART/v1.tmpl"
rf_start
drill_activate_v1
for _ in $(seq 30); do "$RF/bin/true"; done   # AUTH execs for the window
status_q '.auth.by_client > 0' >/dev/null || fail "the live client answered no AUTH exec"

# slow: every replayed AUTH answered after the 1000 ms deadline
{ cat "$ART/v1.tmpl"; echo "slow_ms 1500"; } >"$ART/v2.tmpl"
drill_publish 2 "$ART/v2.tmpl"
rfctl content check >/dev/null
worst=0
for _ in $(seq 40); do
	t0=$(date +%s%N)
	"$RF/bin/true" || fail "exec failed during the trial"
	dt=$((($(date +%s%N) - t0) / 1000000))
	[ "$dt" -gt "$worst" ] && worst=$dt
	[ "$(fq '.rejected | map(select(.version==2)) | length')" = 1 ] && break
	sleep 0.2
done
wait_for 30 eval 'test "$(fq '\''.rejected | map(select(.version==2)) | length'\'')" = 1' ||
	fail "the slow v2 was not rejected: $(fq .outcome)"
fq '.rejected[-1].why' | grep -q "answered late" || fail "the reason should be lateness: $(fq '.rejected[-1].why')"
[ "$(current_version)" = 1 ] || fail "the slow v2 became current"
[ "$worst" -lt 1000 ] || fail "a live exec took $worst ms during the trial"
ok "slow v2 rejected: $(fq '.rejected[-1].why'); slowest live exec ${worst} ms"

# flood: 200 alerts per exec
{ cat "$ART/v1.tmpl"; echo "flood 200"; } >"$ART/v3.tmpl"
drill_publish 3 "$ART/v3.tmpl"
content_check
wait_for 30 eval 'test "$(fq '\''.rejected | map(select(.version==3)) | length'\'')" = 1' ||
	fail "the flooding v3 was not rejected: $(fq .outcome)"
fq '.rejected[-1].why' | grep -q "alert storm" || fail "the reason should be the alert storm: $(fq '.rejected[-1].why')"
[ "$(current_version)" = 1 ] || fail "the flooding v3 became current"
ok "flooding v3 rejected: $(fq '.rejected[-1].why')"
status_q '.counters.alerts == 0' >/dev/null || fail "the trial's alerts reached the live alert stream"
ok "no trial alert reached the live stream"
exit 0
