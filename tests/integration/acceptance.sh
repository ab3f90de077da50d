#!/bin/bash
# The platform-core acceptance scenario (issue 2): ringfenced with the deny
# client in enforce mode on a tmpfs at /tmp/rf; rfctl tail records; then an
# exec of evil-true is denied (EPERM) by the client, good-true runs, the tail
# shows the AUTH deny with who decided, the exec with args and parent, fork,
# exit, close_write and a TCP connect; after kill -9 of the client an exec
# still completes within the deadline, the broker stays up and the client
# comes back.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
rf_manifest deny "$B/bin/rf-example-deny-exec" '*evil*' auth_exec enforce
rf_start
rf_tail_start
wait_for 10 client_running deny || fail "deny client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
ok "broker up, deny client running, exec marks placed"

cp /bin/true "$RF/evil-true"
cp /bin/true "$RF/good-true"

out=$("$RF/evil-true" 2>&1); rc=$?
[ $rc -eq 126 ] || fail "evil-true: want exit 126 (EPERM from execve), got $rc: $out"
echo "$out" | grep -q "Operation not permitted" || fail "evil-true: want 'Operation not permitted', got: $out"
ok "evil-true denied with EPERM"

"$RF/good-true" --flag rf-arg-1 || fail "good-true did not run"
ok "good-true ran"

# a TCP connect to 127.0.0.1 (refused is fine: the SYN is what is seen)
(exec 3<>/dev/tcp/127.0.0.1/9) 2>/dev/null
ok "tcp connect attempted"

sleep 1
tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/evil-true" and .verdict.result=="deny" and .verdict.by=="deny")' \
	|| fail "tail: no AUTH exec deny of evil-true decided by client deny"
tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/good-true" and .verdict.result=="allow")' \
	|| fail "tail: no AUTH exec allow of good-true"
tail_has 'select(.type=="exec" and .action=="notify" and .process.exe=="'$RF'/good-true" and (.process.args | index("rf-arg-1")) and .parent.pid > 0 and (.parent.exe | length) > 0)' \
	|| fail "tail: no exec of good-true with args and parent"
tail_has 'select(.type=="fork" and .child.pid > 0)' || fail "tail: no fork event"
tail_has 'select(.type=="exit" and .process.exe=="'$RF'/good-true" and .exit.code==0)' || fail "tail: no exit of good-true"
tail_has 'select(.type=="close_write" and .target.path=="'$RF'/evil-true")' || fail "tail: no close_write of evil-true"
tail_has 'select(.type=="close_write" and .target.path=="'$RF'/good-true")' || fail "tail: no close_write of good-true"
tail_has 'select(.type=="connect" and .net.daddr=="127.0.0.1" and .net.dport==9)' || fail "tail: no TCP connect to 127.0.0.1:9"
tail_has 'select(.schema_version==1 and (.time|type)=="string" and .seq > 0)' || fail "tail: header fields missing"
ok "tail shows deny, exec with args and parent, fork, exit, close_write, connect"

# kill -9 the client: execs keep completing within the deadline, broker stays up, client returns
old=$(rfctl status --json | jq -r '.clients[] | select(.name=="deny") | .pid')
[ -n "$old" ] && [ "$old" -gt 0 ] || fail "no pid for the deny client"
kill -9 "$old"
t0=$(now_ms)
"$RF/good-true" || fail "good-true failed while the client was dead"
dt=$(( $(now_ms) - t0 ))
[ $dt -le 1100 ] || fail "exec took ${dt} ms with the client dead (deadline 1000 ms)"
ok "exec completed in ${dt} ms with the client killed"
kill -0 "$BROKER_PID" || fail "broker died"
s0=$(now_ms); rfctl status --json >/dev/null || fail "status failed"; sdt=$(( $(now_ms) - s0 ))
ok "broker up, status in ${sdt} ms"
wait_for 10 status_q '.clients[] | select(.name=="deny") | select(.state=="running" and .restarts >= 1 and .pid != '"$old"')' \
	|| fail "deny client did not come back"
ok "deny client restarted"
out=$("$RF/evil-true" 2>&1); rc=$?
[ $rc -eq 126 ] || fail "evil-true after restart: want 126, got $rc"
ok "evil-true denied again after the restart"

rfctl status --json | jq -e '.clients[0].last_exit == "signal 9"' >/dev/null || fail "last_exit not recorded"
echo "acceptance: all checks passed"
