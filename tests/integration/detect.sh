#!/bin/bash
# rf-detect end to end (monitor mode): the SigmaHQ Linux corpus
# (../shared/sigma) compiled by rf-content, loaded by rf-detect running in the
# client sandbox, and command lines that specific rules describe, run as a
# user would type them.  Each scenario must make exactly its expected rule
# ids fire - counted over the alerts whose triggering process descends from
# the scenario (the tail's fork events give the tree) - and a benign
# workload, including near misses of those rules, must fire nothing.
# Expected sets include every corpus rule that the commands genuinely match
# (e.g. any `find` is "File and Directory Discovery").
#
# Nothing here touches the machine: crontab is a copy of /bin/true on a
# tmpfs mounted over /usr/local/bin inside the test's mount namespace, the
# network callback goes to a TEST-NET address on the loopback of a private
# network namespace, files are created on the test tmpfs.
. "$(dirname "$0")/lib.sh"
REPO=${RF_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SIGMA=${RF_SIGMA_DIR:-$REPO/../shared/sigma}
if [ ! -x "$B/bin/rf-detect" ] || [ ! -x "$B/bin/rf-content" ]; then
	echo "skip: rf-detect / rf-content not built in $B (src/content/content.mk)"
	exit 77
fi
[ -d "$SIGMA/rules" ] || { echo "skip: no Sigma corpus at $SIGMA (set RF_SIGMA_DIR)"; exit 77; }
rf_enter_ns "$@"

CONTENT="$ART/content"
mkdir -p "$CONTENT"
"$B/bin/rf-content" compile -q --content-version it-1 -o "$CONTENT/sigma.rfb" "$SIGMA" >"$ART/compile.txt" \
	|| fail "rf-content compile failed: $(tail -n 3 "$ART/compile.txt")"
chmod 755 "$CONTENT"
chmod 644 "$CONTENT/sigma.rfb"
ok "corpus compiled: $("$B/bin/rf-content" info "$CONTENT/sigma.rfb" | sed -n 's/^rules: //p') rules"

# A refused bundle stops rf-detect before it connects (exit 3), never half-loaded.
head -c 1000 "$CONTENT/sigma.rfb" >"$ART/truncated.rfb"
"$B/bin/rf-detect" --bundle "$ART/truncated.rfb" 2>"$ART/refused.txt"
rc=$?
[ $rc -eq 3 ] && grep -q "bundle refused" "$ART/refused.txt" || fail "truncated bundle: want exit 3 and 'bundle refused', got $rc: $(cat "$ART/refused.txt")"
ok "a truncated bundle is refused (exit 3)"

# Fake tools where a real one would do harm or is missing (private mount namespace).
mount -t tmpfs -o size=8m,mode=755 rf-fakebin /usr/local/bin || fail "cannot mount a tmpfs on /usr/local/bin"
cp /bin/true /usr/local/bin/crontab

rf_config
rf_manifest detect "$B/bin/rf-detect" "--bundle $CONTENT/sigma.rfb" \
	"exec fork exit create close_write unlink rename connect accept" monitor
echo "read = $CONTENT" >>"$RF/clients.d/detect.conf"
rf_start
rf_tail_start
wait_for 10 client_running detect || fail "rf-detect not running"
sleep 0.5

# pids in the tree rooted at $1, from the tail's fork events
descendants() {
	local set=" $1 " prev=""
	while [ "$set" != "$prev" ]; do
		prev=$set
		for c in $(jq -r --arg s "$set" 'select(.type=="fork") |
				.process.pid as $p | select($s | contains(" \($p) ")) | .child.pid' "$ART/tail.jsonl" 2>/dev/null); do
			case "$set" in *" $c "*) ;; *) set="$set$c " ;; esac
		done
	done
	echo "$set"
}

# rule ids of alerts raised by processes of the tree rooted at $1, sorted, one line
alerts_of() {
	local pids
	pids=$(descendants "$1")
	jq -r --arg s "$pids" 'select(.type=="alert") | .process.pid as $p |
		select($s | contains(" \($p) ")) | .rule.id' \
		"$ART/tail.jsonl" 2>/dev/null | sort -u | tr '\n' ' ' | sed 's/ $//'
}

# start CMD...: runs CMD in $SCN in the background, waits; ROOT is its pid
start() {
	(cd "$SCN" && "$@") >/dev/null 2>&1 &
	ROOT=$!
	wait $ROOT
}

# expect NAME "EXPECTED IDS (sorted)": the alerts of ROOT's tree are exactly those
expect() {
	local name=$1 want=$2 got=""
	for _ in $(seq 50); do
		got=$(alerts_of $ROOT)
		[ "$got" = "$want" ] && break
		sleep 0.1
	done
	sleep 1   # late or extra alerts
	got=$(alerts_of $ROOT)
	[ "$got" = "$want" ] || fail "$name: want rules [$want], got [$got]"
	ok "$name: [$got]"
}

# scenario NAME "EXPECTED IDS (sorted)" CMD...
scenario() {
	local name=$1 want=$2
	shift 2
	start "$@"
	expect "$name" "$want"
}

SCN="$RF/scn"
mkdir -p "$SCN"

# proc_creation_lnx_base64_execution (ba592c6d), proc_creation_lnx_susp_pipe_shell (880973f3)
# on the shell; proc_creation_lnx_base64_decode (e2072cab) on `base64 -d`
scenario "base64 payload piped to a shell" \
	"880973f3-9708-491c-a77b-2a35a1921158 ba592c6d-6888-43c3-b8c6-689b8fe47337 e2072cab-8c9a-459b-b63c-40ae79e27031" \
	bash -c 'echo ZWNobyBoZWxsbwo= | base64 -d | sh'

# proc_creation_lnx_crontab_removal (c2e234de)
scenario "crontab removed" "c2e234de-03a3-41e1-b39a-1e56dc17ba67" \
	env PATH=/usr/local/bin:/usr/bin:/bin crontab -r

# proc_creation_lnx_find_shell_execution (6adfbf8f); any find is also
# proc_creation_lnx_file_and_directory_discovery (d3feb4ee)
scenario "shell spawned through find -exec" \
	"6adfbf8f-52be-4444-9bac-81b539624146 d3feb4ee-ff1d-4d3d-bd10-5b28a238cc72" \
	find . -maxdepth 0 -exec /bin/sh -c true \;

# proc_creation_lnx_susp_interactive_bash (ea3ecad2): whoami whose parent's
# command line is exactly `bash -i` - which rf-detect's process cache supplies
interactive_whoami() { echo whoami | env HOME="$SCN" bash -i; }
scenario "whoami from an interactive bash" "ea3ecad2-db86-4a89-ad0b-132a10d2db55" interactive_whoami

# file_event_lnx_triple_cross_rootkit_persistence (1a2ea919): created, written, closed: one alert
scenario "rootkit persistence file" "1a2ea919-d11d-4d1e-8535-06cda13be20f" \
	bash -c 'echo x > ebpfbackdoor'

# file_event_lnx_susp_filename_with_embedded_base64_command (179b3686)
scenario "file name with an embedded base64 command" "179b3686-6271-4d87-807d-17d843a8af73" \
	touch '{echo,aGVsbG8K}|{base64,-d}|bash'

# net_connection_lnx_back_connect_shell_dev (83dcd9f6) and
# net_connection_lnx_susp_malware_callback_port (dbfc7c98): bash connects out
# to port 4444 of a public (TEST-NET-2) address, here on a private loopback
# (the namespace is set up by this script, outside the scenario's process
# tree).  bash runs its last command, sleep, in its own place right after the
# connect: the broker must still name bash (not sleep, not nothing) as the
# connecting process however late it reads the connect.  83dcd9f6 tests
# Image, so it fires only when it does.
unshare -n sleep 60 &
NETNS_PID=$!
sleep 0.2
if nsenter -t $NETNS_PID -n ip link set lo up 2>/dev/null &&
   nsenter -t $NETNS_PID -n ip addr add 198.51.100.7/32 dev lo 2>/dev/null; then
	start nsenter -t $NETNS_PID -n bash -c 'sleep 0.3; : 3<>/dev/tcp/198.51.100.7/4444; sleep 1'
	kill $NETNS_PID 2>/dev/null
	conn='select(.type=="connect" and .net.daddr=="198.51.100.7" and .net.dport==4444)'
	wait_for 5 jq -e -s "map($conn) | length > 0" "$ART/tail.jsonl" || fail "no connect event to 198.51.100.7:4444"
	who=$(jq -c "$conn | [.process.pid, .process.exe, .process.comm]" "$ART/tail.jsonl" | tail -n 1)
	pid=$(jq -r "$conn | .process.pid" "$ART/tail.jsonl" | tail -n 1)
	case " $(descendants $ROOT) " in *" $pid "*) ;; *) fail "the connect's pid $pid is not of the scenario: $who" ;; esac
	jq -e -s "map($conn | select(((.process.exe // \"\") | endswith(\"/bin/bash\")) and .process.comm == \"bash\"))
		| length == 1" "$ART/tail.jsonl" >/dev/null \
		|| fail "the connect must name bash as the connecting process, got [pid, exe, comm] $who"
	ok "the connect names bash: $who"
	expect "bash reverse shell to a callback port" \
		"83dcd9f6-9ca8-4af7-a16e-a1c7a6b51871 dbfc7c98-04ab-4ab7-aa94-c74d22aa7376"
else
	echo "note: no network namespaces here: reverse-shell scenario skipped"
fi

# A benign workload, with near misses of the rules above: nothing fires.
benign() {
	echo "hello world" >notes.txt
	base64 notes.txt >notes.b64              # encoding, not decoding
	cat notes.b64 | sort | uniq >/dev/null
	bash -c 'echo hi | cat >/dev/null'       # a pipe, not into a shell
	sh -c true
	env PATH=/usr/local/bin:/usr/bin:/bin crontab -V
	tar -czf notes.tgz notes.txt
	gzip -dc notes.tgz >/dev/null
	sha256sum notes.txt >/dev/null
	cp notes.txt notes.bak && mv notes.bak notes.old
	mkdir -p sub/dir
	grep -c hello notes.txt >/dev/null
	sed -e 's/hello/bye/' notes.txt >/dev/null
	date >/dev/null
}
scenario "benign workload" "" benign

rfctl status --json | jq -e '.clients[] | select(.name=="detect") | .state=="running" and .restarts==0' >/dev/null \
	|| fail "rf-detect restarted or stopped"
tail_has 'select(.type=="alert" and .rule.title and .rule.level and (.rule.tags|type)=="array" and .trigger.type)' \
	|| fail "alerts lack rule title, level, tags or trigger"
echo "detect: all checks passed"
