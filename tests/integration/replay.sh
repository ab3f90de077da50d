#!/bin/bash
# rfctl record writes what the tail sees; the replay sensor plays it back to
# clients and tail readers, marked replayed.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
rf_start
REC="$ART/events.rec"
rfctl record "$REC" --events exec,exit --duration 3 2>"$ART/record.err" &
RECP=$!
sleep 0.5
cp /bin/true "$RF/rec-true"
for i in 1 2 3 4 5; do "$RF/rec-true" "rec-$i"; done
wait $RECP || fail "rfctl record failed: $(cat "$ART/record.err")"
[ -s "$REC" ] || fail "empty recording"
rf_cleanup; BROKER_PID=""; TAIL_PID=""
mount -t tmpfs rf-test "$RF"; mkdir -p "$RF/run" "$RF/clients.d"

REPORT="$ART/report.txt"
rf_config "[sensors]" "ebpf = no" "proc_connector = no" "file_events = no" "replay = $REC"
rf_manifest rep "$B/tests/rf-test-client" "--subscribe exec,exit --report $REPORT" exec,exit monitor
rf_start
rf_tail_start
wait_for 10 grep -q "replay .*: done" "$ART/broker.log" || fail "replay did not finish"
sleep 0.5
n=$(grep -c "notify exec .* $RF/rec-true" "$REPORT" 2>/dev/null)
[ "$n" -ge 5 ] || fail "client got $n replayed execs of rec-true, want >= 5"
ok "client received the replayed execs"
# corrupt recording: refused with a clear error, broker keeps running
printf 'not a recording at all' >"$ART/bad.rec"
rf_cleanup; BROKER_PID=""; TAIL_PID=""
mount -t tmpfs rf-test "$RF"; mkdir -p "$RF/run" "$RF/clients.d"
rf_config "[sensors]" "ebpf = no" "replay = $ART/bad.rec"
rf_start
grep -q "replay" "$ART/broker.log" || fail "no error for a bad recording"
kill -0 "$BROKER_PID" || fail "broker died on a bad recording"
ok "bad recording refused, broker up"
