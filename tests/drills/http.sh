#!/bin/bash
# Updates over HTTP (libcurl): the repository served by a plain web server
# on loopback; a genuine update goes through, endless data behind a listed
# length is cut at that length (too-big), a missing file is "missing".
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"
command -v python3 >/dev/null || { echo "skip: python3 (the test's web server) is not installed"; exit 77; }

drill_repo
port=$((20000 + RANDOM % 20000))
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$REPO" >"$ART/http.log" 2>&1 &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null; rf_cleanup' EXIT
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || fail "the web server did not start"
URL=http://127.0.0.1:$port
drill_setup
sed -i "s|^repository = .*|repository = $URL|" "$ART/ringfence.conf"
drill_template "$ART/v1.tmpl" 20
drill_publish 1 "$ART/v1.tmpl"
rfctl content verify "$URL" --root "$ART/trusted-root.json" >"$ART/verify.out" || fail "verify over HTTP: $(cat "$ART/verify.out")"
rf_start
content_check
wait_for 20 eval 'test "$(current_version)" = 1' || fail "v1 over HTTP was not activated: $(fq .outcome) $(cq .last_error)"
ok "v1 fetched over HTTP and activated"

# endless data: the served bundle is far longer than targets.json lists
drill_template "$ART/v2.tmpl" 20
drill_publish 2 "$ART/v2.tmpl"
f=$(find "$REPO/targets" -type f -newer "$ART/v2.tmpl" | head -n 1)
head -c 50000000 /dev/zero >>"$f"
content_check
sleep 1
wait_for 10 eval 'fq .outcome | grep -q "refused: too-big"' || fail "endless data over HTTP: $(fq .outcome)"
[ "$(current_version)" = 1 ] || fail "the oversized download changed the content"
ok "endless data over HTTP cut at the listed length: $(fq .outcome)"

# a repository without timestamp.json: a clear error, nothing changes
mv "$REPO/timestamp.json" "$ART/ts.json"
content_check
[ "$(cq .last_result)" = missing ] || fail "missing timestamp over HTTP: $(cq .last_result): $(cq .last_error)"
[ "$(current_version)" = 1 ] || fail "the content changed"
ok "missing timestamp.json: $(cq .last_error)"
exit 0
