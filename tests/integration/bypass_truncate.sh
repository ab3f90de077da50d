#!/bin/bash
# Issue 11, attack 3: nothing is truncated silently.  As an unprivileged user
# the test creates: exec the denied binary from a working directory more
# than 4000 bytes deep with a ~7 KiB argv; it must never run (EPERM), and
# the tail shows the AUTH exec with the target path whole (first in the
# message) and the argv flagged cut.  Then a binary whose own path is longer
# than the kernel will name (> 4096 bytes): the deny-exec client allows it
# under unknown_target = default (no pattern can match a path it does not
# have) and denies it under unknown_target = deny; the tail marks the path
# unknown or cut.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

U=rfcut$$
useradd -M -r -s /bin/bash -d /nonexistent "$U" >/dev/null 2>&1 || { echo "skip: cannot create a user"; exit 77; }
trap 'userdel "$U" >/dev/null 2>&1; rf_cleanup' EXIT
as_user() { setpriv --reuid="$U" --regid="$U" --clear-groups --no-new-privs bash -c "$1"; }

mkdir -p "$RF/u" && chown "$U:" "$RF/u"
cp /bin/touch "$RF/evil-touch"
cp /bin/touch "$RF/good-touch"
# a directory chain longer than PATH_MAX, built one relative step at a time
C=$(printf 'd%.0s' $(seq 200))
mkdeep() {   # mkdeep N: $RF/u/deep/C/C/... N components, owned by the user
	as_user "cd '$RF/u' && mkdir -p deep && cd deep && for i in \$(seq $1); do mkdir -p $C && cd $C || exit 1; done && cp /bin/touch ./deep-touch && pwd | wc -c" \
		|| fail "cannot build the deep directory"
}
len=$(mkdeep 24)
[ "$len" -gt 4096 ] || fail "deep directory is only $len bytes"
ok "as $U: working directory of $len bytes"
DEEP_CD="cd '$RF/u/deep' && for i in \$(seq 24); do cd $C || exit 1; done"
ARGV=$(printf 'argument%02d ' $(seq 700))   # ~7.7 KiB

start() {   # start POLICY
	rf_config
	rf_manifest deny "$B/bin/rf-example-deny-exec" "--unknown-target=$1 *evil*" auth_exec enforce
	rf_start
	rf_tail_start
	wait_for 10 client_running deny || fail "deny client not running"
	wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
}
stop() {
	kill "$TAIL_PID" 2>/dev/null; TAIL_PID=""
	kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null; BROKER_PID=""
	mv "$ART/tail.jsonl" "$ART/tail.$1.jsonl"
}

start default
# the attack: deep cwd and a huge argv push everything else; the target stays
rm -f "$RF/u/ran"
# env is exec'd in the deep cwd with the huge argv, so the process that execs
# evil-touch has both in its own record (what used to fill the tail first)
out=$(as_user "$DEEP_CD && exec /usr/bin/env '$RF/evil-touch' '$RF/u/ran' $ARGV" 2>&1); rc=$?
[ ! -e "$RF/u/ran" ] || fail "evil-touch ran from the deep cwd with a 7 KiB argv"
[ $rc -eq 126 ] || fail "evil-touch: want exit 126 (EPERM from env's execve), got $rc: $(echo "$out" | head -c 300)"
ok "evil-touch denied (exit 126) from a $len-byte cwd with a 7 KiB argv"
as_user "$DEEP_CD && exec /usr/bin/env '$RF/good-touch' '$RF/u/good' $ARGV" || fail "good-touch did not run from the deep cwd"
[ -e "$RF/u/good" ] || fail "good-touch left no file"
ok "good-touch runs from the same place"
sleep 1
tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/evil-touch" and .verdict.result=="deny")' \
	|| fail "tail: no AUTH exec deny of evil-touch with its path whole"
if status_q '.sensors[] | select(.name=="ebpf" and .active)' >/dev/null; then
	tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/evil-touch" and .process.args_cut==true and (.cut | index(["args"])))' \
		|| fail "tail: the AUTH exec's argv is not flagged cut"
	ok "tail: target path whole, argv flagged cut"
else
	ok "tail: target path whole (no eBPF sensor: the new argv is not in AUTH events)"
fi
status_q '.counters.messages_cut > 0 and .counters.cut_args > 0 and .counters.cut_target == 0' >/dev/null \
	|| fail "status: cut messages not counted: $(rfctl status --json | jq -c .counters)"
rfctl status | grep -q "messages cut [1-9]" || fail "rfctl status does not show messages cut"
ok "status counts cut messages (target never cut)"

# a target the kernel cannot name whole: default = the no-match answer (allow)
out=$(as_user "$DEEP_CD && exec /usr/bin/env ./deep-touch '$RF/u/deep-default'" 2>&1) || fail "deep-touch denied under unknown_target=default: $out"
[ -e "$RF/u/deep-default" ] || fail "deep-touch did not run under default"
sleep 0.5
tail_has 'select(.type=="exec" and .action=="auth" and (.target.path_unknown==true or .target.path_cut==true) and .verdict.result=="allow")' \
	|| fail "tail: the deep exec is not marked path_unknown/path_cut"
ok "unknown target, policy default: allowed, marked unknown/cut in the tail"
stop default

start deny
out=$(as_user "$DEEP_CD && exec /usr/bin/env ./deep-touch '$RF/u/deep-deny'" 2>&1); rc=$?
[ ! -e "$RF/u/deep-deny" ] || fail "deep-touch ran under unknown_target=deny"
[ $rc -eq 126 ] || fail "deep-touch under deny: want 126, got $rc: $out"
"$RF/good-touch" "$RF/u/short" || fail "good-touch (short path) denied under unknown_target=deny"
sleep 0.5
tail_has 'select(.type=="exec" and .action=="auth" and (.target.path_unknown==true or .target.path_cut==true) and .verdict.result=="deny" and .verdict.by=="deny")' \
	|| fail "tail: no deny of the unknown target by the client"
ok "unknown target, policy deny: denied by the client; a known one still runs"
echo "bypass_truncate: all checks passed"
