#!/bin/bash
# Monitor mode never blocks: a monitor client subscribed to auth_exec places no
# permission marks and receives exec as NOTIFY; nothing is denied.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
REPORT="$ART/report.txt"
rf_manifest mon "$B/tests/rf-test-client" "--deny *evil* --report $REPORT" auth_exec monitor
rf_start
wait_for 10 client_running mon || fail "client not running"
status_q '.auth.exec_marked == false and .auth.open_marked == false' >/dev/null || fail "monitor client caused permission marks"
cp /bin/true "$RF/evil-true"
"$RF/evil-true" || fail "monitor mode denied an exec"
wait_for 3 grep -q "notify exec .* $RF/evil-true" "$REPORT" || fail "monitor client did not get the exec as NOTIFY"
grep -q "^auth " "$REPORT" && fail "monitor client received an AUTH event"
ok "monitor mode: no marks, exec delivered as NOTIFY, nothing denied"
