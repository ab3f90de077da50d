#!/bin/bash
# A client that never answers: every exec still completes at the deadline with
# the policy's default verdict (allow, then deny when configured), the miss is
# charged to the client, and the tail says the default decided.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

EXEC_DEADLINE_MS=300 rf_config
rf_manifest hang "$B/tests/rf-test-client" '--hang' auth_exec enforce
rf_start
rf_tail_start --events exec
wait_for 10 client_running hang || fail "hang client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
cp /bin/true "$RF/t1"
t0=$(now_ms); "$RF/t1" || fail "t1 failed"; dt=$(( $(now_ms) - t0 ))
[ $dt -ge 280 ] || fail "exec returned in ${dt} ms, before the 300 ms deadline: nobody should have answered"
[ $dt -le 900 ] || fail "exec took ${dt} ms, deadline 300 ms"
ok "exec completed at the deadline (${dt} ms)"
sleep 0.3
status_q '.clients[] | select(.name=="hang") | .auth_missed >= 1' >/dev/null || fail "miss not counted"
status_q '.auth.by_default >= 1' >/dev/null || fail "by_default not counted"
tail_has 'select(.action=="auth" and .target.path=="'$RF'/t1" and .verdict.by=="default" and .verdict.result=="allow")' \
	|| fail "tail: no default verdict for t1"
ok "miss counted, tail says default"
rf_cleanup; BROKER_PID=""; TAIL_PID=""
mount -t tmpfs rf-test "$RF"; mkdir -p "$RF/run" "$RF/clients.d"

# fail-closed policy
EXEC_DEADLINE_MS=200 DEFAULT_VERDICT=deny rf_config
rf_manifest hang "$B/tests/rf-test-client" '--hang' auth_exec enforce
rf_start
wait_for 10 client_running hang || fail "hang client not running (deny policy)"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
cp /bin/true "$RF/t2"
t0=$(now_ms); "$RF/t2" 2>/dev/null; rc=$?; dt=$(( $(now_ms) - t0 ))
[ $rc -eq 126 ] || fail "with default_verdict=deny a silent client must mean EPERM, got exit $rc"
[ $dt -le 800 ] || fail "deny at deadline took ${dt} ms"
ok "default_verdict=deny denies at the deadline (${dt} ms)"
