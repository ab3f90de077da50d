#!/bin/bash
# Path mutes: a target-prefix mute keeps those execs away from the client (the
# broker answers them by policy); inversion delivers only the muted paths;
# a manifest without auth_open cannot subscribe to it.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
REPORT="$ART/report.txt"
rf_manifest m1 "$B/tests/rf-test-client" "--deny *deny-me* --mute-target $RF/quiet/ --report $REPORT" auth_exec enforce
rf_start
rf_tail_start --events exec
wait_for 10 client_running m1 || fail "client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
mkdir -p "$RF/quiet"
cp /bin/true "$RF/quiet/deny-me"; cp /bin/true "$RF/deny-me"
"$RF/quiet/deny-me" || fail "a muted exec was denied"
"$RF/deny-me" 2>/dev/null && fail "an unmuted exec matching the deny pattern ran"
sleep 0.3
grep -q "auth exec .* $RF/quiet/deny-me" "$REPORT" && fail "client received a muted exec"
tail_has 'select(.action=="auth" and .target.path=="'$RF'/quiet/deny-me" and .verdict.by=="policy")' || fail "muted exec not answered by policy"
ok "target prefix mute"
rf_cleanup; BROKER_PID=""; TAIL_PID=""
mount -t tmpfs rf-test "$RF"; mkdir -p "$RF/run" "$RF/clients.d" "$RF/only"

rf_config
: >"$REPORT"
rf_manifest m2 "$B/tests/rf-test-client" "--deny * --mute-target $RF/only/ --invert-target --report $REPORT" auth_exec enforce
rf_start
wait_for 10 client_running m2 || fail "inverted client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
cp /bin/true "$RF/only/x"; cp /bin/true "$RF/y"
"$RF/y" || fail "inverted mute: an exec outside the inverted set was denied"
"$RF/only/x" 2>/dev/null && fail "inverted mute: the exec inside the set was not delivered and denied"
ok "inverted target mute"

rf_manifest m3 "$B/tests/rf-test-client" "--subscribe auth_open" auth_exec enforce
rf_cleanup; BROKER_PID=""; TAIL_PID=""
mount -t tmpfs rf-test "$RF"; mkdir -p "$RF/run" "$RF/clients.d"
rf_config
rf_manifest m3 "$B/tests/rf-test-client" "--subscribe auth_open" auth_exec enforce
rf_start
sleep 1.5
grep -q "auth_open: not permitted by the client manifest" "$ART/broker.log" || fail "subscribing beyond the manifest was not refused with RF_E_PERM"
status_q '.auth.open_marked == false' >/dev/null || fail "open marks placed for a refused subscription"
ok "subscription beyond the manifest refused"
