#!/bin/bash
# Updates over HTTP, through rf-fetch: the repository served by a small web
# server on loopback.  A genuine update goes through, and the broker never
# maps libcurl or a TLS library (only rf-fetch links them); endless data,
# behind a listed length or streamed without one, is cut at that length
# (too-big) while the store and the client stay as they were, and the same
# update goes through once it is served right; a server that accepts and
# never answers fails the check within its deadline while the broker keeps
# answering, and the rf-fetch doing it runs as nobody under no_new_privs,
# seccomp and limits; a missing file is "missing" (HTTP 404); a client that
# denies everything cannot stop rf-fetch.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"
command -v python3 >/dev/null || { echo "skip: python3 (the test's web server) is not installed"; exit 77; }

# A transfer's limit, lowered from 60 s so that the silent server below
# fails in seconds (fetch.c reads it; docs/CONTENT-DELIVERY.md).
export RF_FETCH_TIMEOUT_S=3

drill_repo
# The web server: REPO as it is, but while $ART/hang exists it accepts and
# never answers, and while $ART/endless exists it streams zeros without a
# Content-Length for every bundle.
cat >"$ART/server.py" <<'PY'
import http.server, os, sys, time
port, root, flags = int(sys.argv[1]), sys.argv[2], sys.argv[3]
class Handler(http.server.SimpleHTTPRequestHandler):
    def __init__(self, *a, **k):
        super().__init__(*a, directory=root, **k)
    def do_GET(self):
        if os.path.exists(os.path.join(flags, "hang")):
            time.sleep(3600)
            return
        if self.path.startswith("/targets/") and os.path.exists(os.path.join(flags, "endless")):
            self.send_response(200)
            self.end_headers()
            try:
                while True:
                    self.wfile.write(b"\0" * 65536)
            except OSError:
                return
        super().do_GET()
http.server.ThreadingHTTPServer.daemon_threads = True
http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler).serve_forever()
PY
port=$((20000 + RANDOM % 20000))
python3 "$ART/server.py" "$port" "$REPO" "$ART" >"$ART/http.log" 2>&1 &
HTTP_PID=$!
trap 'kill $HTTP_PID 2>/dev/null; rf_cleanup' EXIT
wait_for 10 bash -c "exec 3<>/dev/tcp/127.0.0.1/$port" || fail "the web server did not start"
URL=http://127.0.0.1:$port

# Only rf-fetch links libcurl and TLS.
TLS_LIBS='libcurl|libssl|libcrypto|libgnutls|libkrb5|libp11-kit|libnghttp2'
for b in ringfenced rfctl; do
	ldd "$B/bin/$b" | grep -E "$TLS_LIBS" && fail "$b links libcurl or a TLS library"
done
ldd "$B/bin/rf-fetch" | grep -q libcurl || fail "rf-fetch does not link libcurl"
ok "ringfenced and rfctl link no libcurl or TLS library; rf-fetch does"

drill_setup
sed -i "s|^repository = .*|repository = $URL|" "$ART/ringfence.conf"
drill_template "$ART/v1.tmpl" 20
drill_publish 1 "$ART/v1.tmpl"
rfctl content verify "$URL" --root "$ART/trusted-root.json" >"$ART/verify.out" || fail "verify over HTTP: $(cat "$ART/verify.out")"
rf_start
content_check
wait_for 20 eval 'test "$(current_version)" = 1' || fail "v1 over HTTP was not activated: $(fq .outcome) $(cq .last_error)"
grep -q '"GET /targets/' "$ART/http.log" || fail "the bundle did not come from the web server"
ok "v1 fetched over HTTP and activated"

# The broker fetched, and holds none of it.
if grep -E "$TLS_LIBS" "/proc/$BROKER_PID/maps" >"$ART/maps.tls"; then
	fail "the broker maps libcurl or TLS: $(head -n 3 "$ART/maps.tls")"
fi
ok "/proc/$BROKER_PID/maps: no libcurl, no TLS library in the broker"

# the store as it is: nothing below may change it
slots() { jq -c '{current, candidate, last_known_good, blessed, rejected}' "$RF/store/$FRAGILE/slots.json"; }
pid() { rfctl status --json | jq ".clients[] | select(.name==\"$FRAGILE\") | .pid"; }
unchanged() {   # WHAT: the content, the slots and the client are as they were
	[ "$(current_version)" = 1 ] || fail "$1 changed the content to $(current_version)"
	[ "$(fq .candidate)" = null ] || fail "$1 installed a candidate"
	[ "$(slots)" = "$s0" ] || fail "$1 changed the store's slots"
	[ "$(pid)" = "$p0" ] || fail "$1 restarted the client"
}
wait_for 10 client_running "$FRAGILE" || fail "the client is not running on v1"
s0=$(slots)
p0=$(pid)

# Endless data behind a listed length: the served bundle is far longer than targets.json lists.
drill_template "$ART/v2.tmpl" 20
drill_publish 2 "$ART/v2.tmpl"
f=$(ls "$REPO/targets/$FRAGILE"/2-* 2>/dev/null | head -n 1)   # publish names it V-<hash>.<ext>
[ -n "$f" ] || fail "cannot find the published v2 bundle"
head -c 50000000 /dev/zero >>"$f"
content_check
wait_for 10 eval 'fq .outcome | grep -q "^version 2 refused: too-big"' || fail "endless data over HTTP: $(fq .outcome)"
unchanged "the oversized download"
ok "endless data over HTTP cut at the listed length: $(fq .outcome)"

# Endless data without a length: rf-fetch counts while receiving.
drill_template "$ART/v3.tmpl" 20
drill_publish 3 "$ART/v3.tmpl"
touch "$ART/endless"
content_check
wait_for 10 eval 'fq .outcome | grep -q "^version 3 refused: too-big: .*more than"' ||
	fail "streamed endless data: $(fq .outcome)"
unchanged "the streamed endless download"
ok "endless data without a length cut while receiving: $(fq .outcome)"

# Nothing was lost: served right, the same update goes through.
rm -f "$ART/endless"
content_check
wait_for 20 eval 'test "$(current_version)" = 3' || fail "v3 served right was not activated: $(fq .outcome)"
ok "v3 served right afterwards: activated"

# A server that accepts and never answers.
wait_for 10 client_running "$FRAGILE" || fail "the client is not running on v3"
touch "$ART/hang"
before=$(checks)
t0=$(now_ms)
rfctl content check >/dev/null || fail "rfctl content check"
# meanwhile: the rf-fetch the broker started (its parent is the broker's reaper child) ...
helper=""
for _ in $(seq 40); do
	for p in $(pgrep -x rf-fetch); do
		r=$(ps -o ppid= -p "$p" | tr -d ' ')
		[ -n "$r" ] && [ "$(ps -o ppid= -p "$r" | tr -d ' ')" = "$BROKER_PID" ] && helper=$p
	done
	[ -n "$helper" ] && break
	sleep 0.05
done
[ -n "$helper" ] || fail "no rf-fetch child of the broker during the check"
st=$(cat "/proc/$helper/status")
lim=$(cat "/proc/$helper/limits")
[ "$(readlink "/proc/$helper/exe")" = "$B/bin/rf-fetch" ] || fail "the helper is $(readlink "/proc/$helper/exe")"
echo "$st" | grep -qP '^Uid:\t65534\t65534\t65534\t65534$' || fail "rf-fetch is not nobody: $(echo "$st" | grep Uid)"
echo "$st" | grep -qP '^Gid:\t65534\t65534\t65534\t65534$' || fail "rf-fetch's group: $(echo "$st" | grep Gid)"
echo "$st" | grep -qP '^Groups:\s*$' || fail "rf-fetch keeps groups: $(echo "$st" | grep Groups)"
echo "$st" | grep -qP '^CapEff:\t0+$' || fail "rf-fetch keeps capabilities"
echo "$st" | grep -qP '^NoNewPrivs:\t1$' || fail "rf-fetch lacks no_new_privs"
if ldd "$B/bin/rf-fetch" | grep -q libasan; then
	note="(sanitizer build: no seccomp filter)"
else
	echo "$st" | grep -qP '^Seccomp:\t2$' || fail "rf-fetch has no seccomp filter"
	note="seccomp filter"
fi
echo "$lim" | grep -qE '^Max open files +64 +64 ' || fail "rf-fetch's RLIMIT_NOFILE: $(echo "$lim" | grep 'open files')"
echo "$lim" | grep -qE '^Max core file size +0 +0 ' || fail "rf-fetch's RLIMIT_CORE"
echo "$lim" | grep -qE '^Max cpu time +[0-9]+ +[0-9]+ ' || fail "rf-fetch's RLIMIT_CPU is unlimited"
ok "rf-fetch (pid $helper) runs as nobody, no groups or capabilities, no_new_privs, $note, limits"
# ... and the broker keeps answering while it waits
for _ in 1 2 3; do
	t1=$(now_ms)
	rfctl status --json >/dev/null || fail "rfctl status during the hung fetch"
	[ $(($(now_ms) - t1)) -lt 1000 ] || fail "the broker took $(($(now_ms) - t1)) ms to answer during the hung fetch"
	sleep 0.3
done
wait_for 20 eval 'test "$(checks)" -gt "$before"' || fail "the check did not finish"
dt=$(($(now_ms) - t0))
# rf-fetch's own limit (RF_FETCH_TIMEOUT_S) ends it; fetch.c's deadline is 5 s later
[ "$dt" -lt $(( (RF_FETCH_TIMEOUT_S + 5) * 1000 + 1000 )) ] || fail "the silent server held the check for $dt ms"
[ "$(cq .last_result)" = io ] || fail "silent server: $(cq .last_result): $(cq .last_error)"
cq .last_error | grep -qi "timed out\|no answer" || fail "silent server: $(cq .last_error)"
[ "$(current_version)" = 3 ] || fail "the silent server changed the content"
wait_for 5 eval '! ps -o ppid= -p "$helper" >/dev/null' || fail "rf-fetch $helper outlived its check"
ok "silent server: the check failed after $dt ms: $(cq .last_error)"
rm -f "$ART/hang"

# A repository without timestamp.json: HTTP 404 is "missing", nothing changes.
mv "$REPO/timestamp.json" "$ART/ts.json"
content_check
[ "$(cq .last_result)" = missing ] || fail "missing timestamp over HTTP: $(cq .last_result): $(cq .last_error)"
cq .last_error | grep -q "timestamp.json: not found (HTTP 404)" || fail "missing timestamp: $(cq .last_error)"
[ "$(current_version)" = 3 ] || fail "the content changed"
ok "missing timestamp.json: $(cq .last_error)"
mv "$ART/ts.json" "$REPO/timestamp.json"

# A client that denies every exec and open under the watch cannot stop an
# update: rf-fetch, here on the watched file system, and the broker's reaper
# that runs it are the agent's own (muted), not clients' to judge.
kill "$BROKER_PID"
wait "$BROKER_PID" 2>/dev/null
cp "$B/bin/rf-fetch" "$RF/rf-fetch"
rf_manifest denyall "$B/tests/rf-test-client" "--deny *" auth_exec,auth_open enforce
RF_FETCH="$RF/rf-fetch" rf_start
wait_for 10 client_running denyall || fail "the deny-all client is not running"
cp /bin/true "$RF/other-true"
"$RF/other-true" 2>/dev/null && fail "the deny-all client did not deny an exec under the watch"
drill_template "$ART/v4.tmpl" 20
drill_publish 4 "$ART/v4.tmpl"
content_check
wait_for 20 eval 'test "$(current_version)" = 4' ||
	fail "v4 not activated with a deny-all client: $(fq .outcome) $(cq .last_error)"
ok "a deny-all client denies other execs, not rf-fetch's: v4 fetched and activated"
exit 0
