#!/bin/bash
# A spawned client is sandboxed: rf-probe-client tries each escape (network,
# files outside its grants, fork, exec, ptrace, mount, bpf, setuid, ...) and
# reports one line per attempt; every one fails, threads and its own write
# grant work, it runs as its own uid in its own cgroup and network namespace,
# the broker counts each denied syscall by name in `rfctl status`, a restart
# gets a fresh sandbox, and the client's cgroup is gone once the broker stops.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

CUID=61234
REPORT="$RF/probe/report.txt"
mkdir -p "$RF/probe" "$RF/outside"
chown "$CUID:$CUID" "$RF/probe"
chmod 1777 "$RF/outside"            # file permissions allow this; only the sandbox stops it

rf_config
cat >"$RF/clients.d/probe.conf" <<MAN
[client]
name = probe
exec = $B/tests/rf-probe-client
args = --outside $RF/outside $REPORT
subscribe = exec
mode = monitor
user = $CUID
write = $RF/probe
memory_mb = 128
max_files = 64
max_procs = 16
cpu_percent = 50
MAN
rf_start
probe() { rfctl status --json | jq -c '.clients[] | select(.name=="probe")'; }
probe | jq -e 'has("sandbox")' >/dev/null || fail "the broker reports no .sandbox for its clients"
wait_for 10 client_running probe || fail "probe client not running"

wait_for 10 grep -q '^done ok$' "$REPORT" || { cat "$REPORT" 2>/dev/null; fail "probe did not finish its report"; }
line() { sed -n "s/^$1 //p" "$REPORT"; }
want() {   # attempt expected-result
	[ "$(line "$1")" = "$2" ] || fail "$1: want '$2', got '$(line "$1")'"
}
for a in socket_inet socket_unix connect fork setuid_root unshare_user ptrace mount bpf \
	 io_uring perf_event keyctl finit_module chroot kill_init process_vm exec; do
	want "$a" "denied EPERM"
done
want uid "ok $CUID"
want nofile "ok 64"
want thread ok
want write_inside ok
want open_shadow "denied EACCES"
LANDLOCK=$(probe | jq -r '.sandbox.landlock')
if [ "$LANDLOCK" != false ]; then
	want open_passwd "denied EACCES"
	want write_outside "denied EACCES"
else
	echo "note: Landlock unavailable on this kernel: file confinement is the uid's only"
fi
ok "every escape attempt failed; threads and the write grant work"

# The broker's view: the sandbox report and the denials, by syscall name.
S=$(probe)
echo "$S" | jq -e --argjson u "$CUID" '.sandbox.uid == $u and .sandbox.seccomp == true and .sandbox.netns == true' >/dev/null ||
	fail "sandbox report: $(echo "$S" | jq -c .sandbox)"
echo "$S" | jq -e '.sandbox.landlock == false or (.sandbox.landlock | type == "number" and . >= 1)' >/dev/null ||
	fail "sandbox.landlock: $(echo "$S" | jq -c .sandbox.landlock)"
CG=$(echo "$S" | jq -r '.sandbox.cgroup')
case "$CG" in v1|v2|unavailable) ;; *) fail "sandbox.cgroup: $CG" ;; esac
echo "$S" | jq -e '.seccomp_denied >= 17' >/dev/null || fail "seccomp_denied: $(echo "$S" | jq .seccomp_denied)"
echo "$S" | jq -e '.seccomp_denied_by_syscall | .socket == 2 and .connect == 1 and .execve == 1 and
	.ptrace == 1 and .mount == 1 and .bpf == 1 and .clone >= 1 and .io_uring_setup == 1' >/dev/null ||
	fail "seccomp_denied_by_syscall: $(echo "$S" | jq -c .seccomp_denied_by_syscall)"
ok "status: sandbox $(echo "$S" | jq -c .sandbox), $(echo "$S" | jq .seccomp_denied) denials counted by name"

# The process itself, seen from outside.
check_process() {   # pid
	local pid=$1
	[ "$(stat -c %u "/proc/$pid")" = "$CUID" ] || fail "client pid $pid does not run as uid $CUID"
	[ "$(readlink "/proc/$pid/ns/net")" != "$(readlink /proc/self/ns/net)" ] || fail "client shares our network namespace"
	if [ "$CG" != unavailable ]; then
		grep -q '/ringfence-[0-9a-f]*/probe$' "/proc/$pid/cgroup" || fail "client not in its cgroup: $(cat "/proc/$pid/cgroup")"
	fi
}
PID=$(probe | jq -r .pid)
check_process "$PID"
ok "uid $CUID, own network namespace, cgroup $CG"

# A restart gets a fresh sandbox (the old cgroup released, a new one made).
rm -f "$REPORT"
kill -KILL "$PID"
wait_for 15 status_q '.clients[] | select(.name=="probe") | select(.restarts >= 1 and .state == "running")' ||
	fail "probe not restarted: $(probe)"
wait_for 10 grep -q '^done ok$' "$REPORT" || fail "restarted probe did not report"
want socket_inet "denied EPERM"
NEWPID=$(probe | jq -r .pid)
[ "$NEWPID" != "$PID" ] || fail "same pid after restart"
check_process "$NEWPID"
ok "restarted client is sandboxed again"

# Stopping the broker stops the client and removes its cgroup.
kill -TERM "$BROKER_PID"
for _ in $(seq 100); do kill -0 "$BROKER_PID" 2>/dev/null || break; sleep 0.1; done
kill -0 "$BROKER_PID" 2>/dev/null && fail "broker did not exit on SIGTERM"
BROKER_PID=""
if [ "$CG" != unavailable ]; then
	left=$(find /sys/fs/cgroup -type d -path '*/ringfence-*/probe' 2>/dev/null)
	[ -z "$left" ] || fail "client cgroup left behind: $left"
fi
ok "sandbox: contained, counted, released"
