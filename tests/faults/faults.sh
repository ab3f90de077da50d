#!/bin/bash
# The fault-injection suite (issue 3, item 6): for every way a client can
# fail - crash, hang, spin, leak, fork, exhaust, flood, lie, escape, crash
# loop - and for both independent chaos clients (rf-chaos-client, rf-chaos2),
# start the broker with one chaos client in that mode, trigger the fault with
# execs of /tmp/rf/true (the fault fires at the client's first AUTH event,
# so while an exec waits), and assert:
#   (a) every exec in scope completes within the deadline + 50 ms and is
#       allowed (fail-open; no forged or duplicate DENY reaches the kernel);
#   (b) `rfctl status --json` answers within 100 ms (every status poll of
#       the script is timed);
#   (c) the broker's RSS and descriptor count stay under fixed bounds and do
#       not grow across the mode;
#   (d) the fault is reported and attributed to the client (status counters,
#       death_log with the binary's hash and content version, kill reasons
#       and alerts);
#   (e) the supervisor takes the action the policy names: restart after a
#       crash, a hung kill, demotion for repeated misses, quarantine and an
#       alert for a crash loop, nothing for contained misbehaviour.
# Finally the two clients' supervisor outcomes are compared mode by mode.
#
# Config: exec_deadline_ms=300; [supervisor] hang_timeout_ms=1000,
# max_deaths=3, death_window_ms=30000, miss_limit=3; manifests with
# memory_mb=64, max_files=64, max_procs=8, cpu_percent=50.
# RF_FAULT_MODES / RF_FAULT_IMPLS select a subset (space separated).
# Failures do not stop the run: all are listed at the end (exit 1).
# shellcheck disable=SC2034
. "$(dirname "$0")/flib.sh"
rf_enter_ns "$@"
trap 'fl_stop; umount -l "$RF" 2>/dev/null' EXIT

ALL_MODES="none oob-read abort hang-auth spin leak fork-bomb fd-exhaust flood-bogus malformed-resp \
oversized-ctl duplicate late foreign escape crash-at-start"
MODES=${RF_FAULT_MODES:-$ALL_MODES}
IMPLS=${RF_FAULT_IMPLS:-"rf-chaos-client rf-chaos2"}
# The client's name in every manifest; unique per run, because the broker
# names client cgroups after clients and a run beside this one (another
# checkout's test suite) must not share them.
C=chaos-$$

# ---- expectations shared by several modes

# the client crashed with SIG: death_log entry with hash and content version, log line
want_death() {   # SIGNALS (alternatives, e.g. "9|6")
	local sigs=$1
	if ! fl_wait 10 fl_cq $C "(.death_log // []) | any(.status | test(\"^signal ($sigs)\$\"))"; then
		fl_bad "(d) no death with status signal $sigs in death_log: $(fl_client_json $C)"
		return 1
	fi
	fl_cq $C "(.death_log // []) | map(select(.binary_sha256 | test(\"^[0-9a-f]{64}$\"))) | length >= 1" ||
		fl_bad "(d) death_log entry without a binary_sha256: $(fl_cget $C .death_log)"
	fl_cq $C "(.death_log // []) | map(select(.content_version == \"$CONTENT_VERSION\")) | length >= 1" ||
		fl_bad "(d) death_log entry without content_version $CONTENT_VERSION: $(fl_cget $C .death_log)"
	fl_log_has "client $C \(pid [0-9]+\) died: signal ($sigs)" ||
		fl_bad "(d) no 'client $C (pid N) died: signal $sigs' in the broker log"
	fl_ok "died with signal $sigs, attributed ($(fl_cget $C '.death_log[0] | [.status, .reason, .content_version] | join(" / ")'))"
}

# restarted after its death(s): new pid, running again
want_restart() {
	if fl_wait 10 fl_cq $C ".restarts >= 1 and .pid > 0 and .pid != $PID0 and (.state == \"running\" or .state == \"connected\")"; then
		fl_ok "restarted (restarts $(fl_cget $C .restarts), pid $(fl_cget $C .pid))"
	else
		fl_bad "(e) not restarted: $(fl_client_json $C)"
	fi
}

# killed by the supervisor for a reason matching ERE, logged with its pid
want_kill() {   # ERE
	if fl_wait 8 fl_log_has "client $C \(pid $PID0\): killed: .*($1)"; then
		fl_ok "killed: $(grep -oE "client $C \(pid $PID0\): killed: .*" "$ART/broker.log" | head -n 1 | sed 's/.*killed: //')"
	else
		fl_bad "(d) no 'client $C (pid $PID0): killed: ...$1...' in the broker log$(grep -oE "client $C .*killed: .*" "$ART/broker.log" | head -n 1 | sed 's/^/; saw: /')"
	fi
}

# contained misbehaviour: the supervisor does nothing
want_contained() {
	if fl_cq $C '.state == "running" and .restarts == 0 and .deaths == 0 and (.hung_kills // 0) == 0'; then
		fl_ok "contained: still running, not restarted"
	else
		fl_bad "(e) contained misbehaviour, but the client was acted on: $(fl_client_json $C)"
	fi
}

# the client still answers: auth_answered grows with N more execs
want_serving() {
	local a0 a1
	fl_status
	a0=$(fl_cget $C '.auth_answered // 0')
	fl_execs 3 20
	fl_status
	a1=$(fl_cget $C '.auth_answered // 0')
	if [ "${a1:-0}" -ge $(( ${a0:-0} + 3 )) ]; then
		fl_ok "still answering (auth_answered $a0 -> $a1)"
	else
		fl_bad "(e) client stopped answering: auth_answered $a0 -> $a1"
	fi
}

no_safety_net() {
	if fl_log_has "SAFETY NET"; then
		fl_bad "(e) the limit did not hold: $(grep -m1 -o 'SAFETY NET.*' "$ART/broker.log")"
		return 1
	fi
}

# ---- one function per mode

m_none() {
	fl_execs 5 20
	fl_wait 3 fl_cq $C '.auth_answered >= 5' || fl_bad "(d) the well-behaved client answered $(fl_cget $C .auth_answered) of 5"
	fl_q '.auth.by_client >= 5' || fl_bad "(d) by_client $(jq .auth.by_client "$ART/status.json") < 5"
	want_contained
}

m_crash() {   # SIGNAL
	fl_execs 1                 # the fault: the client crashes holding this exec
	fl_execs 3 20              # while it is dead / restarting
	want_death "$1"
	want_restart
	fl_execs 2 20              # the restarted client crashes again at its first event
}
m_oob_read() { m_crash 11; }
m_abort() { m_crash 6; }

m_stuck() {   # hang-auth and spin: not draining with events waiting = hung
	fl_execs 1                 # held
	fl_execs 1                 # waits in the ring, tail does not move
	# two misses only (miss_limit 3): the hang must be caught as a hang
	if fl_wait 6 fl_cq $C '(.hung_kills // 0) >= 1'; then
		fl_ok "hung_kills $(fl_cget $C .hung_kills)"
	else
		fl_bad "(d)(e) no hung kill within hang_timeout_ms + 5 s: $(fl_client_json $C)"
	fi
	want_kill "hung|hang|drain|stuck|not reading|liveness"
	fl_q "(.alerts // []) | any(.client == \"$C\" and .kind == \"hung\")" ||
		echo "  info $CUR: no alert of kind hung (the contract lists it; not required)"
	want_restart
	fl_execs 2 20
}
m_hang_auth() { m_stuck; }
m_spin() { m_stuck; }

m_leak() {
	fl_execs 1
	fl_execs 4 100
	fl_wait 15 eval 'fl_log_has "SAFETY NET" || fl_cq $C "(.deaths // 0) >= 1"'
	no_safety_net
	want_death "9|6"
	want_restart
}

m_fork_bomb() {
	fl_execs 1
	fl_wait 5 fl_log_has "(fork|clone) failed after|SAFETY NET"
	fl_execs 3 20
	no_safety_net
	local line err n pid
	line=$(grep -m1 -E "(fork|clone) failed after [0-9]+ children" "$ART/broker.log")
	if [ -z "$line" ]; then
		fl_bad "(d) the client never reported a failed fork"
	else
		fl_ok "${line#*: }"
		err=${line##*: }
		if [ "$err" = "Operation not permitted" ]; then
			fl_cq $C '[(.seccomp_denied_by_syscall // {}) | to_entries[] | select(.key | test("^(clone|clone3|fork|vfork)$")) | .value] | add // 0 | . >= 1' ||
				fl_bad "(d) fork failed with EPERM but seccomp_denied_by_syscall has no clone/fork: $(fl_cget $C .seccomp_denied_by_syscall)"
		fi
	fi
	fl_status
	pid=$(fl_cget $C .pid)
	if [ "${pid:-0}" -gt 0 ]; then
		n=$(fl_descendants "$pid" | wc -l)
		[ "$n" -le 8 ] && fl_ok "client has $n processes (max_procs 8)" ||
			fl_bad "(e) client has $n processes, max_procs = 8"
	fi
	want_contained
	want_serving
}

m_fd_exhaust() {
	fl_execs 1
	fl_wait 5 fl_log_has "(exhausted|out of descriptors) after|SAFETY NET"
	fl_execs 3 20
	no_safety_net
	local line n pid nfd
	line=$(grep -m1 -E "(exhausted|out of descriptors) after [0-9]+" "$ART/broker.log")
	if [ -z "$line" ]; then
		fl_bad "(d) the client never ran out of descriptors"
	else
		n=$(echo "$line" | grep -oE 'after [0-9]+' | grep -oE '[0-9]+')
		[ "$n" -lt 64 ] && fl_ok "descriptors ran out after $n opens (max_files 64)" ||
			fl_bad "(e) the client opened $n descriptors, max_files = 64"
	fi
	fl_status
	pid=$(fl_cget $C .pid)
	if [ "${pid:-0}" -gt 0 ]; then
		nfd=$(ls "/proc/$pid/fd" 2>/dev/null | wc -l)
		[ "$nfd" -le 64 ] || fl_bad "(e) client holds $nfd descriptors, max_files = 64"
	fi
	want_contained
	want_serving
}

m_flood_bogus() {
	fl_execs 6 50
	if fl_wait 5 fl_cq $C '((.foreign // 0) + (.late // 0)) >= 1000'; then
		fl_ok "forged responses counted: foreign $(fl_cget $C .foreign), late $(fl_cget $C .late)"
	else
		fl_bad "(d) foreign + late < 1000: $(fl_client_json $C)"
	fi
	want_contained
	want_serving
}

m_malformed_resp() {
	fl_execs 4 50
	fl_log_has "shared memory not found|cannot find the shared memory" &&
		fl_bad "(setup) the chaos client did not find its shared memory"
	if fl_wait 5 eval 'fl_cq $C "(.invalid // 0) >= 1" || fl_log_has "client $C \(pid $PID0\): killed: corrupt response ring"'; then
		if fl_log_has "client $C \(pid $PID0\): killed: corrupt response ring"; then
			fl_ok "killed: corrupt response ring"
			want_restart
		else
			fl_ok "invalid responses counted: $(fl_cget $C .invalid)"
			want_contained
		fi
	else
		fl_bad "(d) neither invalid >= 1 nor a 'corrupt response ring' kill: $(fl_client_json $C)"
	fi
}

m_oversized_ctl() {
	fl_execs 3 50
	want_kill "oversized|control message"
	want_restart
}

m_duplicate() {
	fl_execs 4 50
	if fl_wait 5 fl_cq $C '((.duplicate // 0) + (.late // 0)) >= 1'; then
		fl_ok "duplicates counted: duplicate $(fl_cget $C .duplicate), late $(fl_cget $C .late)"
	else
		fl_bad "(d) duplicate + late = 0: $(fl_client_json $C)"
	fi
	want_contained
}

m_late() {
	fl_execs 5 20
	fl_wait 3 fl_cq $C '(.late // 0) >= 1 and (.auth_missed // 0) >= 3' &&
		fl_ok "late $(fl_cget $C .late), missed $(fl_cget $C .auth_missed)" ||
		fl_bad "(d) want late >= 1 and auth_missed >= 3: $(fl_client_json $C)"
	if fl_wait 5 fl_cq $C '.state == "demoted"'; then
		fl_ok "demoted after repeated misses"
	else
		fl_bad "(e) not demoted after $(fl_cget $C .auth_missed) misses (miss_limit 3): $(fl_client_json $C)"
	fi
	fl_q "(.alerts // []) | any(.client == \"$C\" and .kind == \"demoted\")" ||
		fl_bad "(d) no alert of kind demoted for $C: $(jq -c '.alerts' "$ART/status.json")"
	fl_cq $C '.restarts == 0' || fl_bad "(e) on_miss_limit = demote, but the client was restarted"
	fl_execs 3 20
}

m_foreign() {
	fl_execs 4 50
	if fl_wait 5 fl_cq $C '(.foreign // 0) >= 1'; then
		fl_ok "foreign answers counted: $(fl_cget $C .foreign)"
	else
		fl_bad "(d) foreign = 0: $(fl_client_json $C)"
	fi
	want_contained
}

m_escape() {
	fl_execs 1
	fl_wait 5 fl_log_has "escape: [0-9]+ (of [0-9]+ )?attempts blocked" || fl_bad "(d) the escape attempts did not finish"
	fl_execs 2 20
	grep -E "escape: .*: (ESCAPED|SKIPPED)" "$ART/broker.log" | while read -r l; do echo "       $l"; done
	local esc
	esc=$(grep -cE "escape: .*: ESCAPED" "$ART/broker.log")
	[ "$esc" -eq 0 ] || fl_bad "(e) $esc escape attempt(s) succeeded: $(grep -E 'escape: .*: ESCAPED' "$ART/broker.log" | sed 's/.*escape: //' | tr '\n' ';')"
	fl_log_has "escape: .*: SKIPPED: running as root" && fl_bad "(e) the client runs as root: no uid drop"
	[ -e /etc/rf-escape ] && { fl_bad "(e) /etc/rf-escape was written"; rm -f /etc/rf-escape; }
	if fl_wait 3 fl_cq $C '(.seccomp_denied_by_syscall.socket // 0) >= 1'; then
		fl_ok "seccomp_denied_by_syscall: $(fl_cget $C .seccomp_denied_by_syscall)"
	else
		fl_bad "(d) seccomp_denied_by_syscall.socket < 1: $(fl_cget $C '{seccomp_denied, seccomp_denied_by_syscall, sandbox}')"
	fi
	want_contained
}

m_crash_at_start() {
	fl_execs 3 200
	if fl_wait 15 fl_cq $C '.state == "quarantined" and .deaths >= 3'; then
		fl_ok "quarantined after $(fl_cget $C .deaths) deaths"
	else
		fl_bad "(e) not quarantined after a crash loop (max_deaths 3): $(fl_client_json $C)"
	fi
	fl_q "(.alerts // []) | any(.client == \"$C\" and .kind == \"quarantined\")" &&
		fl_ok "alert: $(jq -c "[.alerts[] | select(.client == \"$C\")][0]" "$ART/status.json")" ||
		fl_bad "(d) no alert of kind quarantined: $(jq -c '.alerts' "$ART/status.json")"
	fl_cq $C '(.death_log // []) | any(.status == "exit 1")' ||
		fl_bad "(d) no death with status 'exit 1' in death_log: $(fl_cget $C .death_log)"
	local r0 r1
	r0=$(fl_cget $C .restarts)
	sleep 3
	fl_status
	r1=$(fl_cget $C .restarts)
	[ "$r0" = "$r1" ] && fl_cq $C '.state == "quarantined"' || fl_bad "(e) restarted while quarantined ($r0 -> $r1)"
}

# "death status / kill reason / alert kinds / final state class": the supervisor's outcome
outcome() {
	local d k a s
	d=$(jq -r ".clients[] | select(.name==\"$C\") | (.death_log // [])[0].status // \"none\"" "$ART/status.json" 2>/dev/null)
	k=$(grep -oE "client $C \(pid [0-9]+\): killed: .*" "$ART/broker.log" | head -n 1 | sed 's/.*killed: //; s/[0-9][0-9]*/N/g')
	a=$(jq -r "[(.alerts // [])[] | select(.client==\"$C\") | .kind] | unique | join(\",\")" "$ART/status.json" 2>/dev/null)
	s=$(jq -r ".clients[] | select(.name==\"$C\") | .state" "$ART/status.json" 2>/dev/null)
	case "$s" in demoted|quarantined) ;; *) s=live ;; esac
	echo "death=${d:-none} kill=${k:-none} alerts=${a:-none} state=$s"
}

declare -A OUTCOME RESULT
run_mode() {   # IMPL MODE
	local impl=$1 mode=$2 n0=${#FAILS[@]} t0=$SECONDS
	CUR="$mode/${impl#rf-}"
	STATUS_MAX_SEEN=0
	echo "== $CUR"
	fl_fresh
	fl_config
	fl_manifest $C "$B/tests/$impl" "$mode"
	if fl_start; then
		local ready=1
		if [ "$mode" != crash-at-start ]; then
			if ! fl_wait 10 fl_cq $C '.state == "running"'; then
				fl_bad "client never running: $(fl_client_json $C); log: $(tail -n 3 "$ART/broker.log" | tr '\n' ' ')"
				ready=0
			elif ! fl_wait 5 fl_q '.auth.exec_marked == true'; then
				fl_bad "no exec permission marks"
				ready=0
			fi
		fi
		if [ $ready = 1 ]; then
			fl_status
			PID0=$(fl_cget $C .pid)
			PID0=${PID0:-0}
			local res0
			res0=$(fl_res)
			"m_${mode//-/_}"
			if fl_alive; then
				fl_res_check "start $res0, end" "$res0"
				fl_status || fl_bad "(b) rfctl status failed"
				OUTCOME[$mode/$impl]=$(outcome)
			else
				fl_bad "broker died: $(tail -n 5 "$ART/broker.log" | tr '\n' ' ')"
			fi
		fi
	fi
	echo "       status max ${STATUS_MAX_SEEN} ms; broker ${RES_LAST:-?}; outcome: ${OUTCOME[$mode/$impl]:-?}; $((SECONDS - t0)) s"
	cp "$ART/broker.log" "$ART/broker.${CUR//\//_}.log" 2>/dev/null
	fl_stop
	[ ${#FAILS[@]} -eq "$n0" ] && RESULT[$mode/$impl]=pass || RESULT[$mode/$impl]=FAIL
}

echo "faults: build $B, deadline ${DL} ms, RSS bound ${RSS_MAX_KIB} KiB, logs in $ART"
for mode in $MODES; do
	for impl in $IMPLS; do
		run_mode "$impl" "$mode"
	done
	set -- $IMPLS
	if [ $# -eq 2 ] && [ -n "${OUTCOME[$mode/$1]:-}" ] && [ -n "${OUTCOME[$mode/$2]:-}" ] &&
	   [ "${OUTCOME[$mode/$1]}" != "${OUTCOME[$mode/$2]}" ]; then
		CUR=$mode
		fl_bad "the two clients got different outcomes: $1: ${OUTCOME[$mode/$1]} | $2: ${OUTCOME[$mode/$2]}"
		RESULT[$mode/$1]=FAIL
	fi
done

echo
echo "faults: $SECONDS s"
printf '%-16s' mode; for impl in $IMPLS; do printf '%-18s' "$impl"; done; echo "outcome"
for mode in $MODES; do
	printf '%-16s' "$mode"
	for impl in $IMPLS; do printf '%-18s' "${RESULT[$mode/$impl]:-?}"; done
	set -- $IMPLS
	echo "${OUTCOME[$mode/$1]:-}"
done
if [ ${#FAILS[@]} -gt 0 ]; then
	echo
	echo "${#FAILS[@]} failed assertions:"
	printf '%s\n' "${FAILS[@]}" | awk '!seen[$0]++'
	exit 1
fi
echo "faults: every mode contained, for every client"
