#!/bin/bash
# Bad updates the metadata and the store must stop before anything runs:
# a forged bundle, a replayed older repository, an expired timestamp, a
# truncated download and an oversized one.  Each is refused with a clear
# error (its class in `rfctl content status`, an alert), and nothing
# changes on the host: the same content is current, the store's slots
# (current, candidate, last-known-good) are the same, the client keeps running.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

drill_repo
HEALTHY_S=2
drill_setup
drill_template "$ART/v1.tmpl" 20
drill_publish 1 "$ART/v1.tmpl"
rf_start
rf_tail_start
drill_activate_v1
wait_for 15 eval 'test "$(fq .blessed)" = true' || fail "v1 not blessed"
cp -a "$REPO" "$ART/repo-v1"           # what an attacker could replay later
good=$ART/repo-good

# the content slots (seen_version and the outcome text may change: they are bookkeeping)
slots() { jq -c '{current, candidate, last_known_good, blessed, rejected}' "$RF/store/$FRAGILE/slots.json"; }
pid() { rfctl status --json | jq ".clients[] | select(.name==\"$FRAGILE\") | .pid"; }

# snapshot_good: keeps a copy of the genuine repository as it is now
snapshot_good() { rm -rf "$good" && cp -a "$REPO" "$good"; }

# serve DIR: the repository the broker reads now has DIR's contents
serve() { rm -rf "$REPO" && cp -a "$1" "$REPO"; }

# refused CASE CLASS metadata|download: a check refuses the update with CLASS
# (the metadata refresh's result, or the bundle download's outcome) and changes nothing
refused() {
	local s0 p0 v0 got
	s0=$(slots)
	p0=$(pid)
	v0=$(current_version)
	content_check
	sleep 1   # a fetch, had one been started, would be done
	got=$(cq .last_result)
	if [ "$3" = metadata ]; then
		[ "$got" = "$2" ] || fail "$1: expected a refusal of class $2, got $got: $(cq .last_error)"
	else
		fq .outcome | grep -q -- "refused: $2" ||
			fail "$1: expected a download refused with $2, got last_result=$got outcome=$(fq .outcome)"
	fi
	[ "$(current_version)" = "$v0" ] || fail "$1: current content changed to $(current_version)"
	[ "$(fq .candidate)" = null ] || fail "$1: a candidate was installed"
	[ "$(slots)" = "$s0" ] || fail "$1: the store's slots changed"
	[ "$(pid)" = "$p0" ] || fail "$1: the client was restarted"
	ok "$1: refused ($2): $(cq .last_error)$(fq .outcome | grep -- "$2" | sed 's/^/ /')"
}

# 1. Forged: metadata and a bundle signed by keys the trusted root does not name.
rfctl content keygen attacker --dir "$KEYS" >/dev/null
snapshot_good
rfctl content init "$ART/evil" --root-key "$KEYS/attacker.key" --targets-key "$KEYS/attacker.pub" \
	--snapshot-key "$KEYS/attacker.pub" --timestamp-key "$KEYS/attacker.pub" >/dev/null || fail "attacker init"
drill_template "$ART/evil.tmpl" 21
rfctl content publish "$ART/evil" "$ART/evil.tmpl" --client "$FRAGILE" --version 9 \
	--targets-key "$KEYS/attacker.key" --snapshot-key "$KEYS/attacker.key" \
	--timestamp-key "$KEYS/attacker.key" >/dev/null || fail "attacker publish"
cp -a "$ART/evil/timestamp.json" "$ART/evil/snapshot.json" "$ART/evil/targets.json" "$REPO/"
cp -a "$ART/evil/targets/." "$REPO/targets/"
refused "forged metadata" signature metadata
status_q '.alerts | map(select(.kind=="content-refused")) | length > 0' >/dev/null || fail "no content-refused alert"
serve "$good"

# 2. Forged bundle bytes: the listed hash no longer matches (same length).
drill_template "$ART/v2.tmpl" 20
drill_publish 2 "$ART/v2.tmpl"
snapshot_good
f=$(ls "$REPO/targets/$FRAGILE"/2-* 2>/dev/null | head -n 1)   # publish names it V-<hash>.<ext>
[ -n "$f" ] || fail "cannot find the published v2 bundle"
sed -i 's/fields 20/fields 21/' "$f"
refused "altered bundle" hash download
serve "$good"

# v2 itself is fine: it goes through; metadata versions move on.
content_check
wait_for 20 eval 'test "$(current_version)" = 2' || fail "v2 was not activated: $(fq .outcome)"
wait_for 15 eval 'test "$(fq .blessed)" = true' || fail "v2 not blessed"
snapshot_good

# 3. Replayed: the older repository (timestamp, snapshot, targets all older).
serve "$ART/repo-v1"
refused "replayed repository" rollback metadata
serve "$good"

# 4. Expired timestamp (freeze): signed correctly, expired an hour ago.
rfctl content timestamp "$REPO" --timestamp-key "$KEYS/timestamp.key" --expires -1h >/dev/null ||
	fail "timestamp --expires -1h"
refused "expired timestamp" expired metadata
status_q '.alerts | map(select(.kind=="content-freeze")) | length > 0' >/dev/null || fail "no content-freeze alert"
ok "expired timestamp: refused (expired) and raised as content-freeze"
serve "$good"
rfctl content timestamp "$REPO" --timestamp-key "$KEYS/timestamp.key" >/dev/null || fail "fresh timestamp"
snapshot_good

# 5. Truncated download: the listed bundle is cut short.
drill_template "$ART/v3.tmpl" 20
drill_publish 3 "$ART/v3.tmpl"
snapshot_good
f=$(ls "$REPO/targets/$FRAGILE"/3-* 2>/dev/null | head -n 1)
truncate -s 10 "$f"
refused "truncated download" hash download

# 6. Oversized download: endless data behind a listed length.
serve "$good"
f=$(ls "$REPO/targets/$FRAGILE"/3-* 2>/dev/null | head -n 1)
head -c 5000000 /dev/zero >>"$f"
refused "oversized download" too-big download
# an oversized timestamp.json is cut at its cap too
serve "$good"
head -c 2000000 /dev/zero | tr '\0' ' ' >>"$REPO/timestamp.json"
refused "oversized timestamp.json" too-big metadata

# And the good repository still works: v3 goes through.
serve "$good"
content_check
wait_for 20 eval 'test "$(current_version)" = 3' || fail "v3 was not activated after the refusals: $(fq .outcome)"
ok "the genuine v3 is activated after all the refusals"
exit 0
