#!/bin/bash
# Issue 11: a slow drip of deadline misses is caught.  The short limit (2 in
# 500 ms) never trips for one miss every ~0.7 s; the long window (4 in 60 s)
# demotes the client at the fourth miss, with an alert of kind demoted.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

cq() { status_q ".clients[] | select(.name==\"hang\") | $1"; }
EXEC_DEADLINE_MS=200 rf_config '[supervisor]' 'miss_limit = 2' 'miss_window_ms = 500' \
	'miss_long_limit = 4' 'miss_long_window_ms = 60000' 'on_miss_limit = demote'
rf_manifest hang "$B/tests/rf-test-client" '--hang' auth_exec enforce
rf_start
wait_for 10 client_running hang || fail "hang client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
cp /bin/true "$RF/t"
for i in 1 2 3; do "$RF/t" || fail "exec $i failed"; sleep 0.5; done
cq '.auth_missed == 3 and .demoted == false' >/dev/null || fail "after 3 spaced misses: $(rfctl status --json | jq -c '.clients[0] | {auth_missed, demoted}')"
ok "3 misses ~0.7 s apart: under the short limit, not demoted"
"$RF/t" || fail "exec 4 failed"
wait_for 3 cq '.demoted == true' || fail "not demoted at the 4th miss in the long window: $(rfctl status --json | jq -c '.clients[0] | {auth_missed, demoted}')"
grep -q "4 AUTH deadline misses within 60000 ms" "$ART/broker.log" || fail "no long-window reason in the log"
status_q '(.alerts // []) | any(.client == "hang" and .kind == "demoted")' >/dev/null || fail "no demoted alert"
ok "4th miss in the long window: demoted, alert, reason logged"
echo "miss_drip: slow drip demoted"
