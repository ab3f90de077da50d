#!/bin/bash
# `make run`: starts ringfenced in the foreground on the built-in default
# configuration (monitor mode: nothing is ever denied, no permission marks)
# with the default clients (the deny-exec example and rf-detect with the Sigma
# rules, both monitoring), and shows live events as JSON Lines until Ctrl-C.
# State and the client manifest live under BUILD/run.
set -u
B=$(cd "${1:-build}" && pwd)
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null; then exec sudo "$0" "$@"; fi
	echo "make run: ringfenced needs root (fanotify, eBPF)" >&2
	exit 1
fi
RUN="$B/run"
mkdir -p "$RUN/state" "$RUN/clients.d"
cat >"$RUN/clients.d/deny-exec.conf" <<MAN
# The example client in monitor mode: reports the execs it would deny.
[client]
name = deny-exec
exec = $B/bin/rf-example-deny-exec
args = */evil* */malware*
subscribe = auth_exec
mode = monitor
MAN
# rf-detect with the Sigma rules beside the project (../shared/sigma), when present
SIGMA="$(cd "$(dirname "$0")/.." && pwd)/../shared/sigma"
rm -f "$RUN/clients.d/rf-detect.conf"
if [ -d "$SIGMA" ] && [ -x "$B/bin/rf-detect" ]; then
	mkdir -p "$RUN/content"
	if "$B/bin/rf-content" compile -q --content-version "make-run" -o "$RUN/content/sigma.rfb" "$SIGMA" \
		>"$RUN/content/compile.txt" 2>&1; then
		chmod 755 "$RUN/content"; chmod 644 "$RUN/content/sigma.rfb"
		cat >"$RUN/clients.d/rf-detect.conf" <<MAN
# Sigma behaviour rules, monitor mode: alerts only.
[client]
name = rf-detect
exec = $B/bin/rf-detect
args = --bundle $RUN/content/sigma.rfb
subscribe = exec fork exit create close_write unlink rename connect accept
mode = monitor
read = $RUN/content
MAN
	fi
fi
"$B/bin/ringfenced" -f -S "$RUN/state" -C "$RUN/clients.d" 2>"$RUN/ringfenced.log" &
BROKER=$!
trap 'kill -TERM $BROKER 2>/dev/null; wait $BROKER 2>/dev/null; echo; echo "ringfenced stopped; its log: $RUN/ringfenced.log"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 100); do
	"$B/bin/rfctl" -S "$RUN/state" status >/dev/null 2>&1 && break
	kill -0 $BROKER 2>/dev/null || { cat "$RUN/ringfenced.log"; exit 1; }
	sleep 0.1
done
"$B/bin/rfctl" -S "$RUN/state" status
echo "== live events (JSON Lines); try: cp /bin/true /tmp/evil-true && /tmp/evil-true ; Ctrl-C stops"
"$B/bin/rfctl" -S "$RUN/state" tail
