#!/bin/bash
# Issue 11: exiting is no way out of a demotion.  A client that never answers
# is demoted after miss_limit deadline misses; killed (as a client that exits
# once demoted would), it is restarted and comes back still demoted within
# the death window: its AUTH subscription is taken as telemetry, the exec
# marks stay off, execs run without waiting for a deadline.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

cq() { status_q ".clients[] | select(.name==\"hang\") | $1"; }
EXEC_DEADLINE_MS=200 rf_config '[supervisor]' 'miss_limit = 3' 'miss_window_ms = 10000' 'on_miss_limit = demote'
rf_manifest hang "$B/tests/rf-test-client" '--hang' auth_exec enforce
rf_start
wait_for 10 client_running hang || fail "hang client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
cp /bin/true "$RF/t"
for i in 1 2 3 4; do "$RF/t" || fail "exec $i failed"; done
wait_for 3 cq '.demoted == true' || fail "not demoted: $(rfctl status --json | jq -c '.clients[0]')"
wait_for 3 status_q '.auth.exec_marked == false' || fail "exec marks kept after demotion"
ok "demoted after 3 misses"

pid=$(rfctl status --json | jq '.clients[] | select(.name=="hang") | .pid')
[ "$pid" -gt 0 ] || fail "no client pid"
kill -KILL "$pid"
wait_for 10 cq '.restarts >= 1 and .pid != '"$pid"' and .state == "running"' || \
	fail "not restarted: $(rfctl status --json | jq -c '.clients[0]')"
sleep 0.5
cq '.demoted == true' >/dev/null || fail "restarted client came back with AUTH: $(rfctl status --json | jq -c '.clients[0]')"
status_q '.auth.exec_marked == false' >/dev/null || fail "exec marks back after the restart"
t0=$(now_ms); "$RF/t" || fail "exec after restart failed"; dt=$(( $(now_ms) - t0 ))
[ $dt -lt 150 ] || fail "exec after restart took ${dt} ms: waited for the demoted client"
ok "restarted within the death window: still demoted, no marks, exec in ${dt} ms"
echo "demote_restart: demotion survives a restart"
