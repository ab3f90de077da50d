#!/bin/bash
# Without eBPF the broker falls back to the proc connector for fork/exec/exit,
# says so in its log and in status, and exec events still flow.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config "[sensors]" "ebpf = no"
rf_start
rf_tail_start --events exec,exit
grep -q "proc connector" "$ART/broker.log" || fail "no log line naming the fallback"
status_q '[.sensors[] | select(.name=="proc_connector" and .active)] | length == 1' >/dev/null || fail "status does not show the proc connector"
# the proc connector names only the pid: the broker reads /proc while the process lives
cp /bin/sleep "$RF/fb-sleep"
"$RF/fb-sleep" 0.5 || fail "exec failed"
sleep 0.5
tail_has 'select(.type=="exec" and .process.exe=="'$RF'/fb-sleep" and (.process.args | index("0.5")))' || fail "no exec event from the proc connector"
tail_has 'select(.type=="exit" and .process.exe=="'$RF'/fb-sleep")' || fail "no exit event from the proc connector"
ok "proc connector fallback delivers exec"
