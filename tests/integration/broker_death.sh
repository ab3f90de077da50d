#!/bin/bash
# When ringfenced dies (kill -9) with an AUTH event pending, the kernel
# answers it (the fanotify group closes: pending events are allowed), the
# clients notice their broker is gone and exit, and a restarted broker
# re-attaches everything: marks, clients, the deny.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

EXEC_DEADLINE_MS=8000 rf_config
rf_manifest deny "$B/bin/rf-example-deny-exec" '*evil*' auth_exec enforce
rf_manifest hang "$B/tests/rf-test-client" '--hang' auth_exec enforce
rf_start
wait_for 10 client_running deny || fail "deny not running"
wait_for 10 client_running hang || fail "hang not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no marks"
pids=$(rfctl status --json | jq -r '.clients[].pid')
cp /bin/true "$RF/t"; cp /bin/true "$RF/evil-true"

# an exec that waits on the hanging client (8 s deadline) ...
( t0=$(now_ms); "$RF/t"; echo "$? $(( $(now_ms) - t0 ))" >"$ART/pending.out" ) &
sleep 0.5
[ -s "$ART/pending.out" ] && fail "the exec did not wait on the hanging client"
# ... is released when the broker dies
kill -9 "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
BROKER_PID=""
wait_for 2 test -s "$ART/pending.out" || fail "pending exec still blocked 2 s after the broker died"
read -r rc dt <"$ART/pending.out"
[ "$rc" -eq 0 ] || fail "pending exec failed ($rc) after broker death: the kernel must allow"
[ "$dt" -lt 2500 ] || fail "pending exec took $dt ms"
ok "pending exec released by the kernel when the broker died (${dt} ms in all)"

for p in $pids; do
	wait_for 3 bash -c "! kill -0 $p 2>/dev/null" || fail "client pid $p did not exit after the broker died"
done
ok "clients exited on their own"
"$RF/evil-true" || fail "with no broker nothing may be denied"
ok "no broker, no marks: exec allowed"

rf_start
wait_for 10 client_running deny || fail "deny not back after broker restart"
wait_for 5 status_q '.auth.exec_marked == true' || fail "marks not back after restart"
out=$("$RF/evil-true" 2>&1); rc=$?
[ $rc -eq 126 ] || fail "deny not restored after broker restart (exit $rc)"
ok "restarted broker re-attached marks and clients; deny restored"
