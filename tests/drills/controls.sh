#!/bin/bash
# The operator's controls over managed content, from rfctl and the
# configuration: pause/resume, delay, pin/unpin, kept across a restart of
# the broker; a root rotation followed by the endpoint; rfctl content status.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

drill_repo
HEALTHY_S=2
drill_setup
drill_template "$ART/v1.tmpl" 20
drill_publish 1 "$ART/v1.tmpl"
rf_start
drill_activate_v1

# pause: no checks, and asking for one says why
rfctl content pause >/dev/null || fail "pause"
[ "$(cq .paused)" = true ] || fail "status does not say paused"
rfctl content check 2>"$ART/err" && fail "a check was accepted while paused"
grep -q "paused" "$ART/err" || fail "the refusal does not say paused: $(cat "$ART/err")"
ok "pause: $(cat "$ART/err")"

# the pause outlives a restart of the broker (kept in the store)
kill -TERM "$BROKER_PID"; wait "$BROKER_PID" 2>/dev/null
rf_start
[ "$(cq .paused)" = true ] || fail "the pause was lost across a restart"
[ "$(current_version)" = 1 ] || fail "current content lost across a restart"
wait_for 10 client_running "$FRAGILE" || fail "the client did not start on v1 after the restart"
rfctl content resume >/dev/null || fail "resume"
ok "pause kept across a restart; resumed"

# delay: a new version waits
rfctl content delay 1 >/dev/null || fail "delay 1"
drill_template "$ART/v2.tmpl" 20
drill_publish 2 "$ART/v2.tmpl"
content_check
sleep 1
[ "$(current_version)" = 1 ] || fail "v2 was activated despite the delay"
fq .outcome | grep -q "version 2 waits until" || fail "the outcome does not say v2 waits: $(fq .outcome)"
ok "delay: $(fq .outcome)"
rfctl content delay 0 >/dev/null || fail "delay 0"
content_check
wait_for 20 eval 'test "$(current_version)" = 2' || fail "v2 not activated without the delay: $(fq .outcome)"
ok "delay 0: v2 activated"

# pin: stays on 2 while 3 is listed; a pin cannot go back
rfctl content pin "$FRAGILE" >/dev/null || fail "pin"
[ "$(fq .pin)" = 2 ] || fail "pin should be the current version 2, is $(fq .pin)"
rfctl content pin "$FRAGILE" 1 2>"$ART/err" && fail "a pin to an older version was accepted"
grep -q "never go back" "$ART/err" || fail "the refusal does not explain: $(cat "$ART/err")"
rfctl content pin nosuchclient 2>/dev/null && fail "a pin of an unknown client was accepted"
drill_template "$ART/v3.tmpl" 20
drill_publish 3 "$ART/v3.tmpl"
content_check
sleep 1
[ "$(current_version)" = 2 ] || fail "v3 was activated despite the pin"
rfctl content unpin "$FRAGILE" >/dev/null || fail "unpin"
content_check
wait_for 20 eval 'test "$(current_version)" = 3' || fail "v3 not activated after unpin: $(fq .outcome)"
ok "pin held v2 while v3 was listed; unpin let v3 in"

# root rotation: root 2 with a new root key, signed by the old and the new
rfctl content keygen root2 --dir "$KEYS" >/dev/null
rfctl content root "$REPO" --version 2 --root-key "$KEYS/root2.pub" --targets-key "$KEYS/targets.pub" \
	--snapshot-key "$KEYS/snapshot.pub" --timestamp-key "$KEYS/timestamp.pub" \
	--sign "$KEYS/root.key" --sign "$KEYS/root2.key" >/dev/null || fail "root 2"
drill_template "$ART/v4.tmpl" 20
drill_publish 4 "$ART/v4.tmpl"
content_check
[ "$(cq .trusted.root.version)" = 2 ] || fail "the endpoint did not follow the rotation: root $(cq .trusted.root.version), $(cq .last_error)"
wait_for 20 eval 'test "$(current_version)" = 4' || fail "v4 under root 2 not activated: $(fq .outcome)"
# a root 3 signed only by the new key (not by root 2's threshold... which is root2 alone) is fine;
# one signed only by the old, retired key is refused
rfctl content root "$REPO" --version 3 --root-key "$KEYS/root2.pub" --targets-key "$KEYS/targets.pub" \
	--snapshot-key "$KEYS/snapshot.pub" --timestamp-key "$KEYS/timestamp.pub" \
	--sign "$KEYS/root.key" >/dev/null 2>&1
content_check
[ "$(cq .last_result)" = signature ] || fail "a root signed by a retired key: got $(cq .last_result): $(cq .last_error)"
[ "$(cq .trusted.root.version)" = 2 ] || fail "the trusted root moved to $(cq .trusted.root.version)"
ok "root rotated to 2; a root 3 signed by the retired key refused: $(cq .last_error)"
rm -f "$REPO/3.root.json"

# after its healthy period v4 is blessed: last-known-good
wait_for 15 eval 'test "$(fq .blessed)" = true' || fail "v4 not blessed"
[ "$(fq .last_known_good.version)" = 4 ] || fail "last-known-good should be v4: $(cat "$RF/store/$FRAGILE/slots.json")"

# the human-readable status
rfctl content status >"$ART/status.txt" || fail "content status"
grep -q "client $FRAGILE" "$ART/status.txt" && grep -q "current *4 (v4)" "$ART/status.txt" &&
	grep -q "last-known-good *4 (v4)" "$ART/status.txt" ||
	fail "content status: $(cat "$ART/status.txt")"
ok "rfctl content status:"
sed 's/^/    /' "$ART/status.txt"
exit 0
