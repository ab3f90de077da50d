#!/bin/bash
# AUTH open: an enforcing client denies opens of matching files (EPERM at
# open(2)), others open; open marks exist only while it subscribes.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
rf_manifest guard "$B/tests/rf-test-client" "--subscribe auth_open --deny *secret*" auth_open enforce
echo "top secret" >"$RF/secret.txt"
echo "hello" >"$RF/public.txt"
rf_start
rf_tail_start --events open
wait_for 10 client_running guard || fail "client not running"
wait_for 5 status_q '.auth.open_marked == true and .auth.exec_marked == false' || fail "open marks not placed (or exec marks placed)"
out=$(cat "$RF/secret.txt" 2>&1) && fail "secret.txt was readable: $out"
echo "$out" | grep -q "Operation not permitted" || fail "want EPERM, got: $out"
[ "$(cat "$RF/public.txt")" = hello ] || fail "public.txt not readable"
ok "open of secret.txt denied, public.txt read"
sleep 0.3
tail_has 'select(.type=="open" and .action=="auth" and .target.path=="'$RF'/secret.txt" and .verdict.result=="deny" and .verdict.by=="guard")' \
	|| fail "tail: no AUTH open deny"
kill -9 "$(rfctl status --json | jq -r '.clients[0].pid')"
wait_for 3 status_q '.auth.open_marked == false' || fail "open marks stay after the only enforcing client died"
[ "$(cat "$RF/secret.txt")" = "top secret" ] || fail "with no client, fail-open policy must allow"
ok "marks removed while the client is down; open allowed"
wait_for 10 client_running guard || fail "client did not come back"
wait_for 5 status_q '.auth.open_marked == true' || fail "open marks not restored"
cat "$RF/secret.txt" >/dev/null 2>&1 && fail "deny not restored after restart"
ok "client back, deny restored"
