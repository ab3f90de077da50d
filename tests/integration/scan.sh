#!/bin/bash
# rf-scan: YARA on AUTH exec through the descriptor the broker passes.
# Enforce mode: an exec of a copy of /bin/true with a marker appended is
# denied (EPERM) and reported as an alert; an unmarked copy runs; a second
# exec of the same unchanged file is answered from rf-scan's cache; a marked
# file over --max-size runs (default verdict) and is counted.  Monitor mode:
# the marked file runs and the alert is reported.
. "$(dirname "$0")/lib.sh"
if [ ! -x "$B/bin/rf-scan" ]; then
	echo "skip: rf-scan not built in $B (src/clients/rf-scan/scan.mk)"
	exit 77
fi
rf_enter_ns "$@"

MARK=RINGFENCE-YARA-TEST-MARKER
RULES="$ART/rules"
mkdir -p "$RULES"
cat >"$RULES/test.yar" <<YAR
rule ringfence_test_marker
{
    strings:
        \$m = "$MARK"
    condition:
        \$m
}
YAR
chmod 755 "$RULES"
chmod 644 "$RULES/test.yar"

scan_manifest() {   # extra rf-scan args
	rf_manifest scan "$B/bin/rf-scan" "--rules $RULES/test.yar --max-size 1000000 $1" "auth_exec" enforce
	echo "read = $RULES" >>"$RF/clients.d/scan.conf"
}

stop_broker() {
	kill -TERM "$BROKER_PID"
	for _ in $(seq 50); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
	wait "$BROKER_PID" 2>/dev/null
	BROKER_PID=""
	[ -n "$TAIL_PID" ] && { kill "$TAIL_PID" 2>/dev/null; wait "$TAIL_PID" 2>/dev/null; TAIL_PID=""; }
}

mkdir -p "$RF/bin"
cp /bin/true "$RF/bin/marked"
printf '%s' "$MARK" >>"$RF/bin/marked"
cp /bin/true "$RF/bin/clean"
cp /bin/true "$RF/bin/big"
printf '%s' "$MARK" >>"$RF/bin/big"
truncate -s 2000000 "$RF/bin/big"
"$RF/bin/marked" && "$RF/bin/big" || fail "the test binaries do not run without the broker"

# ---- enforce mode
rf_config
scan_manifest --enforce
rf_start
rf_tail_start
wait_for 10 client_running scan || fail "rf-scan not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
ok "rf-scan enforcing, exec marks placed"

out=$("$RF/bin/marked" 2>&1); rc=$?
[ $rc -eq 126 ] || fail "marked: want exit 126 (EPERM from execve), got $rc: $out"
out=$("$RF/bin/marked" 2>&1); rc=$?
[ $rc -eq 126 ] || fail "marked, second exec: want exit 126, got $rc: $out"
ok "marked file denied (twice)"
"$RF/bin/clean" || fail "clean copy did not run"
ok "clean copy runs"
"$RF/bin/big" || fail "marked file over --max-size did not run"
ok "file over --max-size runs"

sleep 1.5
tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/bin/marked" and .verdict.result=="deny" and .verdict.by=="scan")' \
	|| fail "tail: no AUTH exec deny of marked decided by scan"
tail_has 'select(.type=="alert" and .rule.id=="ringfence_test_marker" and .rule.title=="YARA match: ringfence_test_marker" and .rule.level=="high" and .trigger.action=="auth")' \
	|| fail "tail: no YARA alert on the AUTH exec"
status_q '.clients[] | select(.name=="scan") | select(.fd_sent >= 3 and .fd_failed == 0)' >/dev/null \
	|| fail "status: descriptors not passed: $(rfctl status --json | jq -c '.clients[] | select(.name=="scan") | {fd_sent, fd_failed}')"
ok "tail: deny by scan and the alert; descriptors passed"
stop_broker
grep -q "rf-scan: .*big: .*over --max-size: default verdict" "$ART/broker.log" || fail "oversized file not reported"
line=$(grep "rf-scan: .* auth, " "$ART/broker.log" | tail -n 1)
echo "$line" | grep -Eq " [1-9][0-9]* cached, " || fail "second exec of marked was not served from the cache: $line"
echo "$line" | grep -Eq " 1 too large, " || fail "oversized file not counted: $line"
echo "$line" | grep -Eq " 0 without descriptor, " || fail "events without descriptor: $line"
grep -q "sandbox denied" "$ART/broker.log" && fail "the sandbox denied rf-scan a system call"
ok "counters: $line"
mv "$ART/tail.jsonl" "$ART/tail-enforce.jsonl"
mv "$ART/broker.log" "$ART/broker-enforce.log"

# ---- monitor mode (rf-scan without --enforce: the manifest still asks for AUTH, for the descriptor)
touch "$RF/bin/marked"   # a new ctime: nothing cached anywhere
scan_manifest ""
rf_start
rf_tail_start
wait_for 10 client_running scan || fail "rf-scan (monitor) not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
"$RF/bin/marked" || fail "monitor mode: marked file did not run"
ok "monitor mode: marked file runs"
sleep 1.5
tail_has 'select(.type=="alert" and .rule.id=="ringfence_test_marker" and .trigger.action=="auth" and .trigger.target=="'$RF'/bin/marked")' \
	|| fail "monitor mode: no YARA alert"
tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/bin/marked" and .verdict.result=="allow")' \
	|| fail "monitor mode: no allowed AUTH exec of marked"
ok "monitor mode: alert reported"
kill -0 "$BROKER_PID" || fail "broker died"
stop_broker
mv "$ART/tail.jsonl" "$ART/tail-monitor.jsonl"
mv "$ART/broker.log" "$ART/broker-monitor.log"

# ---- --open: opens of executable files are scanned too (AUTH open), enforce mode
cp /bin/true "$RF/bin/marked-open"
printf '%s' "$MARK" >>"$RF/bin/marked-open"
printf 'plain data %s\n' "$MARK" >"$RF/bin/data.txt"   # no execute bit: not scanned
rf_config
rf_manifest scan "$B/bin/rf-scan" "--rules $RULES/test.yar --max-size 1000000 --enforce --open" "auth_exec auth_open" enforce
echo "read = $RULES" >>"$RF/clients.d/scan.conf"
rf_start
wait_for 10 client_running scan || fail "rf-scan --open not running"
wait_for 5 status_q '.auth.open_marked == true' || fail "open permission marks not placed"
out=$(cat "$RF/bin/marked-open" 2>&1 >/dev/null); rc=$?
[ $rc -ne 0 ] && echo "$out" | grep -q "Operation not permitted" || fail "--open: reading a marked executable was not denied (rc $rc: $out)"
grep -q "$MARK" "$RF/bin/data.txt" || fail "--open: a non-executable file with the marker was denied"
ok "--open: open of a marked executable denied, non-executable data readable"
kill -0 "$BROKER_PID" || fail "broker died"
echo "scan: all checks passed"
