#!/bin/bash
# rf-scan: YARA on AUTH exec through the descriptor the broker passes.
# Enforce mode: an exec of a copy of /bin/true with a marker appended is
# denied (EPERM) and reported as an alert; an unmarked copy runs; a second
# exec of the same unchanged file is answered from rf-scan's cache; a marked
# file over --max-size runs (default verdict) and is counted.  Monitor mode:
# the marked file runs and the alert is reported.  Too slow: a scan over
# --timeout-ms, or one that would run past the event's deadline, is cut by
# rf-scan itself, gets the default verdict and is counted, and later scans
# still decide.
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
stop_broker
mv "$ART/broker.log" "$ART/broker-open.log"

# ---- too slow.  ringfence_test_slow matches a file with SLOW_MARK once its
# condition has run: 256 checks per byte, seconds for the 900 kB "slow"
# (about 6 s unbounded on an idle machine), nothing for the small script
# "slow-small".  rf-scan's bound (--timeout-ms 500) is far below the client's
# deadline (3000 ms) and the broker's (4000 ms): rf-scan answers, not a
# deadline, and the exec runs (default verdict allow) although the rule would
# deny it, had the scan completed.
SLOW_MARK=RINGFENCE-YARA-SLOW-MARKER
cat >"$RULES/slow.yar" <<YAR
rule ringfence_test_marker
{
    strings:
        \$m = "$MARK"
    condition:
        \$m
}
rule ringfence_test_slow
{
    strings:
        \$s = "$SLOW_MARK"
    condition:
        \$s and for all i in (0..filesize - 1) : (for all j in (0..255) : (uint8(i) < 256))
}
YAR
chmod 644 "$RULES/slow.yar"
cp /bin/true "$RF/bin/slow"
printf '%s' "$SLOW_MARK" >>"$RF/bin/slow"
truncate -s 900000 "$RF/bin/slow"
printf '#!/bin/sh\n# %s\nexit 0\n' "$SLOW_MARK" >"$RF/bin/slow-small"
chmod 755 "$RF/bin/slow-small"
"$RF/bin/slow" && "$RF/bin/slow-small" || fail "the slow test files do not run without the broker"

slow_manifest() {   # extra rf-scan args
	rf_manifest scan "$B/bin/rf-scan" "--rules $RULES/slow.yar --max-size 1000000 --enforce $1" "auth_exec" enforce
	echo "read = $RULES" >>"$RF/clients.d/scan.conf"
}

# exec_ms FILE: runs FILE, prints "RC MS"
exec_ms() {
	local t0 rc
	t0=$(now_ms)
	"$1" >/dev/null 2>&1
	rc=$?
	echo "$rc $(( $(now_ms) - t0 ))"
}

EXEC_DEADLINE_MS=4000 rf_config
slow_manifest "--timeout-ms 500"
echo "exec_deadline_ms = 3000" >>"$RF/clients.d/scan.conf"
rf_start
rf_tail_start --events exec
wait_for 10 client_running scan || fail "rf-scan (slow rules) not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
for n in 1 2; do   # not cached: the second exec is scanned (and cut) again
	read -r rc dt < <(exec_ms "$RF/bin/slow")
	[ "$rc" -eq 0 ] || fail "slow, exec $n: a scan over its bound must get the default verdict (allow), got exit $rc after $dt ms"
	[ "$dt" -ge 450 ] || fail "slow, exec $n: ran after $dt ms, before the 500 ms bound: was it scanned?"
	[ "$dt" -lt 2500 ] || fail "slow, exec $n: took $dt ms; the scan's bound is 500 ms, the client's deadline 3000 ms"
	ok "slow, exec $n: cut by rf-scan, default verdict, ran after $dt ms"
done
read -r rc dt < <(exec_ms "$RF/bin/slow-small")
[ "$rc" -eq 126 ] || fail "slow-small: the slow rule, completed, must deny (exit 126), got $rc"
read -r rc dt < <(exec_ms "$RF/bin/marked")
[ "$rc" -eq 126 ] || fail "marked after the timeouts: want exit 126, got $rc"
"$RF/bin/clean" || fail "clean copy did not run after the timeouts"
ok "later scans still decide: slow-small and marked denied, clean runs"
sleep 1.5
tail_has 'select(.action=="auth" and .target.path=="'$RF'/bin/slow" and .verdict.result=="allow" and .verdict.by=="scan")' \
	|| fail "tail: the AUTH exec of slow was not allowed by scan"
tail_has 'select(.action=="auth" and .target.path=="'$RF'/bin/slow-small" and .verdict.result=="deny" and .verdict.by=="scan")' \
	|| fail "tail: slow-small was not denied by scan"
status_q '.clients[] | select(.name=="scan") | select(.auth_missed == 0 and .late == 0 and .demoted == false and .state == "running")' >/dev/null \
	|| fail "status: rf-scan missed a deadline: $(rfctl status --json | jq -c '.clients[] | select(.name=="scan") | {auth_missed, late, demoted, state}')"
status_q '.auth.by_default == 0' >/dev/null || fail "status: a deadline decided: $(rfctl status --json | jq -c .auth)"
ok "tail and status: allowed by scan, no deadline missed"
stop_broker
n=$(grep -c "rf-scan: $RF/bin/slow: scan timed out after [0-9]* ms (bound 500 ms): default verdict" "$ART/broker.log")
[ "$n" -eq 2 ] || fail "want 2 timed-out scans of slow in the log, got $n"
line=$(grep "rf-scan: .* auth, " "$ART/broker.log" | tail -n 1)
echo "$line" | grep -Eq " 2 timeouts, " || fail "timed-out scans not counted: $line"
echo "$line" | grep -Eq " 2 denied, " || fail "later scans: want 2 denied: $line"
grep -q "sandbox denied" "$ART/broker.log" && fail "the sandbox denied rf-scan a system call"
ok "counters: $line"
mv "$ART/tail.jsonl" "$ART/tail-slow.jsonl"
mv "$ART/broker.log" "$ART/broker-slow.log"

# ---- a --timeout-ms beyond the event's deadline: rf-scan cuts the scan to
# end before the broker's deadline (1000 ms), so the default verdict is still
# its own answer, in time, not a deadline miss charged to it.
touch "$RF/bin/slow"
EXEC_DEADLINE_MS=1000 rf_config
slow_manifest "--timeout-ms 5000"
rf_start
rf_tail_start --events exec
wait_for 10 client_running scan || fail "rf-scan (--timeout-ms 5000) not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
read -r rc dt < <(exec_ms "$RF/bin/slow")
[ "$rc" -eq 0 ] || fail "slow, 1000 ms deadline: want the default verdict (allow), got exit $rc"
[ "$dt" -lt 1500 ] || fail "slow, 1000 ms deadline: took $dt ms"
sleep 1
tail_has 'select(.action=="auth" and .target.path=="'$RF'/bin/slow" and .verdict.result=="allow" and .verdict.by=="scan")' \
	|| fail "tail: the AUTH exec of slow was not allowed by scan (the deadline answered?)"
status_q '.clients[] | select(.name=="scan") | select(.auth_missed == 0 and .late == 0)' >/dev/null \
	|| fail "status: rf-scan missed the deadline: $(rfctl status --json | jq -c '.clients[] | select(.name=="scan") | {auth_missed, late}')"
stop_broker
grep -Eq "rf-scan: $RF/bin/slow: scan timed out after [0-9]+ ms \(bound [5-9][0-9]{2} ms\)" "$ART/broker.log" \
	|| fail "the scan was not cut to the deadline: $(grep 'rf-scan: .*slow' "$ART/broker.log")"
ok "--timeout-ms 5000 under a 1000 ms deadline: cut by rf-scan after $dt ms, $(grep -o 'bound [0-9]* ms' "$ART/broker.log")"
echo "scan: all checks passed"
