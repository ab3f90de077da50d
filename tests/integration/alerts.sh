#!/bin/bash
# A client's detection (rf_emit_alert) reaches rfctl tail as a type "alert"
# line naming the rule, the client and the triggering event, with the
# triggering process; malformed alerts kill the client, the broker stays up.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
rf_manifest det "$B/tests/rf-test-client" "--subscribe exec --alert-on *alarm*" exec monitor
rf_start
rf_tail_start --events alert,exec
wait_for 10 client_running det || fail "client not running"
cp /bin/true "$RF/alarm-true"; cp /bin/true "$RF/quiet-true"
"$RF/alarm-true" --now || fail "exec failed"
"$RF/quiet-true" || fail "exec failed"
wait_for 3 tail_has 'select(.type=="alert")' || fail "no alert in the tail"
tail_has 'select(.type=="alert" and .rule.id=="test-001" and .rule.level=="high" and (.rule.tags|index("attack.execution")) and .client=="det" and .trigger.type=="exec" and .trigger.target=="'$RF'/alarm-true" and .process.exe=="'$RF'/alarm-true" and (.process.args|index("--now")))' \
	|| fail "alert line lacks rule, client or trigger"
tail_has 'select(.type=="alert" and .trigger.target=="'$RF'/quiet-true")' && fail "alert for a non-matching exec"
status_q '.clients[] | select(.name=="det") | .alerts == 1' >/dev/null || fail "alert not counted"
ok "alert streamed with rule, client, trigger and process"
