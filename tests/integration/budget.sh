#!/bin/bash
# Issue 11: a client cannot make the broker pay.  A hostile client whose 16
# threads make a system call its sandbox denies (each one answered by the
# broker through seccomp notification) costs the broker far more than its
# budget when unchecked; with the budget (5 % of a core) the supervisor
# throttles it at the source, then restarts it, and the broker's own CPU
# over the flood stays bounded.  Same for a response flood.  Figures go in
# docs/RESILIENCE.md.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
HZ=$(getconf CLK_TCK)

PCT=0
run_flood() {   # mode budget_percent -> PCT: broker CPU, percent of a core, over 6 s
	rf_config "[supervisor]" "budget_cpu_percent = $2" "budget_kill_after_s = 4"
	rm -f "$RF/clients.d/"*.conf
	rf_manifest hostile "$B/tests/rf-hostile-client" "$1" auth_exec enforce
	rf_start
	wait_for 10 client_running hostile || fail "$1: client not running"
	sleep 1
	local t0 c0 t1 c1
	t0=$(now_ms); c0=$(cpu_ticks "$BROKER_PID")
	sleep 6
	t1=$(now_ms); c1=$(cpu_ticks "$BROKER_PID")
	PCT=$(( (c1 - c0) * 1000 * 100 / HZ / (t1 - t0) ))
}

stop_broker() {
	kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""
}

# unchecked: what the flood costs with no budget
run_flood syscall-flood 0; free_pct=$PCT
stop_broker
echo "syscall flood, no budget: broker at ${free_pct}% of a core"

# budgeted
run_flood syscall-flood 5; pct=$PCT
echo "syscall flood, budget 5%: broker at ${pct}% of a core"
st=$(rfctl status --json | jq '.clients[] | select(.name=="hostile")')
echo "$st" | jq -c '{budget, restarts, deaths, last_exit}'
throttles=$(echo "$st" | jq '.budget.throttles + .budget.kills + .restarts')
[ "$throttles" -gt 0 ] || fail "syscall flood: the supervisor never acted (throttles, kills, restarts all 0)"
grep -q "budget" "$ART/broker.log" || fail "no budget alert in the log"
[ "$pct" -le 15 ] || fail "syscall flood: broker spent ${pct}% of a core (bound 15%; unchecked: ${free_pct}%)"
[ "$free_pct" -gt "$pct" ] || echo "note: the unchecked flood cost no more (${free_pct}% vs ${pct}%)"
ok "syscall flood: broker ${pct}% of a core with the budget, ${free_pct}% without; supervisor acted"
kill -0 "$BROKER_PID" || fail "broker died"
stop_broker

run_flood response-flood 5; pct=$PCT
echo "response flood, budget 5%: broker at ${pct}% of a core"
rfctl status --json | jq -c '.clients[] | select(.name=="hostile") | {budget, restarts, foreign, invalid}'
[ "$pct" -le 15 ] || fail "response flood: broker spent ${pct}% of a core (bound 15%)"
ok "response flood: broker ${pct}% of a core"
kill -0 "$BROKER_PID" || fail "broker died"
