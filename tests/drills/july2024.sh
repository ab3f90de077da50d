#!/bin/bash
# The July 2024 drill: a well-formed, validly signed content update that
# makes the client read out of bounds (its template declares 21 input
# fields, the sensor supplies 20).  Asserts: execs in scope keep completing
# within the deadline while it is tried; the candidate never becomes
# current; the previous content keeps detecting; the incident is in
# `rfctl status` and in the log.  Then the second way it can go: content
# that passes its trial and crashes on the live machine, reverted to
# last-known-good automatically, without the network.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

drill_repo
drill_setup
drill_template "$ART/v1.tmpl" 20
drill_publish 1 "$ART/v1.tmpl"
rf_start
rf_tail_start

# First content: no content yet, so the client waits for it.
status_q ".clients[] | select(.name==\"$FRAGILE\") | select(.state==\"backoff\")" >/dev/null ||
	fail "a managed client with no content should not start"
drill_activate_v1
ok "v1 activated after its trial: $(fq .outcome)"
for _ in $(seq 20); do "$RF/bin/true"; done
expect_detecting "v1"
wait_for 15 eval 'test "$(fq .blessed)" = true' || fail "v1 was not blessed after the healthy period"
[ "$(fq .last_known_good.version)" = 1 ] || fail "v1 should be last-known-good"
ok "v1 blessed, last-known-good"

pid_before=$(rfctl status --json | jq ".clients[] | select(.name==\"$FRAGILE\") | .pid")
restarts_before=$(rfctl status --json | jq ".clients[] | select(.name==\"$FRAGILE\") | .restarts")

# The bad update: signed with the real keys, well-formed, fatal.
drill_template "$ART/v2.tmpl" 21
drill_publish 2 "$ART/v2.tmpl"
rfctl content verify "$REPO" --root "$ART/trusted-root.json" >"$ART/verify.out" || fail "v2 should verify: it is validly signed"
rfctl content check >/dev/null || fail "rfctl content check"
# execs in scope while the candidate is tried: every one within the deadline
worst=0
start=$(now_ms)
while [ $(($(now_ms) - start)) -lt 6000 ]; do
	t0=$(date +%s%N)
	"$RF/bin/true" || fail "exec failed during the trial"
	dt=$((($(date +%s%N) - t0) / 1000000))
	[ "$dt" -gt "$worst" ] && worst=$dt
	[ "$(fq '.rejected | map(select(.version==2)) | length')" = 1 ] && break
done
[ "$worst" -lt 1000 ] || fail "an exec took $worst ms during the trial (deadline 1000 ms)"
wait_for 30 eval 'test "$(fq '\''.rejected | map(select(.version==2)) | length'\'')" = 1' ||
	fail "v2 was not rejected within 30 s: $(fq .outcome)"
ok "v2 rejected in its trial; slowest exec meanwhile ${worst} ms: $(fq '.rejected[-1].why')"
[ "$(current_version)" = 1 ] || fail "v2 must never become current (current $(current_version))"
[ "$(fq .candidate)" = null ] || fail "the candidate slot should be empty after the rejection"
# SIGSEGV; a sanitizer build's client reports it and exits 1 or aborts instead
fq '.rejected[-1].why' | grep -Eq "died \((signal (11|6)|exit 1)" || fail "the reason should name the crash: $(fq '.rejected[-1].why')"
pid_after=$(rfctl status --json | jq ".clients[] | select(.name==\"$FRAGILE\") | .pid")
restarts_after=$(rfctl status --json | jq ".clients[] | select(.name==\"$FRAGILE\") | .restarts")
[ "$pid_before" = "$pid_after" ] && [ "$restarts_before" = "$restarts_after" ] ||
	fail "the live client was disturbed by the trial (pid $pid_before -> $pid_after)"
status_q '.alerts | map(select(.kind=="content-rejected")) | length > 0' >/dev/null ||
	fail "no content-rejected alert in rfctl status"
grep -q "content-rejected" "$ART/broker.log" || fail "no content-rejected line in the log"
expect_detecting "v1 after v2 was rejected"
# the rejected version is not tried again at the next check
content_check
[ "$(current_version)" = 1 ] && [ "$(fq .trial.state)" = none ] || fail "v2 was tried again"
ok "v1 still current and detecting; incident in status and log"

# Content that passes its trial (the recent events never ran the trigger) and crashes live.
drill_template "$ART/v3.tmpl" 20 drill-live-trigger
drill_publish 3 "$ART/v3.tmpl"
content_check
wait_for 20 eval 'test "$(current_version)" = 3' || fail "v3 should pass its trial: $(fq .outcome)"
wait_for 10 client_running "$FRAGILE" || fail "the client did not restart with v3"
[ "$(fq .blessed)" = false ] || fail "v3 must not be blessed yet"
ok "v3 activated (not blessed)"
t_crash=$(now_ms)
for _ in 1 2 3 4 5; do
	"$RF/bin/drill-live-trigger"
	wait_for 1 eval 'test "$(current_version)" = 1' && break
	wait_for 5 client_running "$FRAGILE"
done
wait_for 30 eval 'test "$(current_version)" = 1' || fail "v3 was not reverted: $(fq .outcome)"
dt=$(($(now_ms) - t_crash))
[ "$dt" -lt 30000 ] || fail "the revert took $dt ms"
ok "v3 reverted to last-known-good in $dt ms: $(fq .outcome)"
[ "$(fq '.rejected | map(select(.version==3)) | length')" = 1 ] || fail "v3 should be listed as rejected"
status_q '.alerts | map(select(.kind=="content-reverted")) | length > 0' >/dev/null || fail "no content-reverted alert"
status_q ".clients[] | select(.name==\"$FRAGILE\") | .death_log | map(select(.content_version==\"v3\")) | length > 0" \
	>/dev/null || fail "the deaths were not attributed to v3"
status_q ".clients[] | select(.name==\"$FRAGILE\") | select(.state!=\"quarantined\")" >/dev/null ||
	fail "the client was quarantined instead of its content reverted"
wait_for 10 client_running "$FRAGILE" || fail "the client is not running on last-known-good"
expect_detecting "v1 after the revert"
ok "deaths attributed to v3; client running v1 and detecting"
exit 0
