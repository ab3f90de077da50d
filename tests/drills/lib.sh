# lib.sh - what the drills share (tests/drills/*.sh): a signed repository in
# $ART/repo made with `rfctl content`, the fragile client managed from it,
# and waits on the broker's content status.  Sources the integration
# helpers (private mount namespace, tmpfs at /tmp/rf, broker start/stop).
. "$(dirname "$0")/../integration/lib.sh"

REPO=""
KEYS=""
FRAGILE=fragile

# Keys for every role and an empty repository, signed by the root key.
drill_repo() {
	KEYS=$ART/keys
	REPO=$ART/repo
	mkdir -p "$KEYS"
	for k in root targets snapshot timestamp; do
		rfctl content keygen "$k" --dir "$KEYS" >/dev/null || fail "keygen $k"
	done
	rfctl content init "$REPO" --root-key "$KEYS/root.key" --targets-key "$KEYS/targets.pub" \
		--snapshot-key "$KEYS/snapshot.pub" --timestamp-key "$KEYS/timestamp.pub" >/dev/null ||
		fail "content init"
	cp "$REPO/1.root.json" "$ART/trusted-root.json"   # the trust anchor, shipped out of band
}

# drill_template FILE FIELDS [CRASH_ON]: the fragile client's content
drill_template() {
	{
		echo "ringfence-drill-template 1"
		echo "fields $2"
		echo "match drill-marker"
		[ -n "${3:-}" ] && echo "crash_on $3"
	} >"$1"
}

# drill_publish VERSION FILE [REPO]: publishes for the fragile client, signed with the real keys
drill_publish() {
	rfctl content publish "${3:-$REPO}" "$2" --client "$FRAGILE" --version "$1" --content-version "v$1" \
		--targets-key "$KEYS/targets.key" --snapshot-key "$KEYS/snapshot.key" \
		--timestamp-key "$KEYS/timestamp.key" >/dev/null || fail "publish v$1"
}

# The broker's configuration and the fragile client's manifest.
drill_setup() {
	rf_config "[content]" "repository = $REPO" "root = $ART/trusted-root.json" "store = $RF/store" \
		"interval_s = 0" "healthy_s = ${HEALTHY_S:-4}" "trial_settle_ms = 500" "trial_timeout_ms = 20000" \
		"revert_deaths = 2"
	cat >"$RF/clients.d/$FRAGILE.conf" <<MAN
[client]
name = $FRAGILE
exec = $B/tests/rf-fragile-client
subscribe = exec
mode = monitor
content = managed
write = $ART
MAN
	mkdir -p "$RF/bin"
	cp /bin/true "$RF/bin/true"
	cp /bin/true "$RF/bin/drill-marker"
	cp /bin/true "$RF/bin/drill-live-trigger"
}

cq() { rfctl status --json | jq -r ".content$1"; }                # content status query
fq() { cq ".clients[\"$FRAGILE\"]$1"; }                           # the fragile client's store
checks() { cq .checks; }

# content_check: asks for a check and waits until it is done; prints nothing
content_check() {
	local before
	before=$(checks)
	rfctl content check >/dev/null || fail "rfctl content check"
	wait_for 20 eval 'test "$(checks)" -gt "$before"' || fail "the check did not finish"
}

current_version() { fq .current.version; }

# drill_activate_v1: the first check installs the published v1 and starts the client on it
drill_activate_v1() {
	content_check
	wait_for 20 eval 'test "$(current_version)" = 1' || fail "v1 was not activated: $(fq .outcome)"
	wait_for 10 client_running "$FRAGILE" || fail "the client did not start with v1"
}

# marker_alerts: how many drill.match alerts the tail has seen from the live client
marker_alerts() {
	jq -s "map(select(.type==\"alert\" and .rule.id==\"drill.match\" and .client==\"$FRAGILE\")) | length" \
		"$ART/tail.jsonl" 2>/dev/null || echo 0
}

# expect_detecting: a run of the marker raises one more alert by the live client
expect_detecting() {
	local n
	n=$(marker_alerts)
	"$RF/bin/drill-marker"
	wait_for 10 eval 'test "$(marker_alerts)" -gt "$n"' || fail "the live client did not detect the marker ($1)"
}
