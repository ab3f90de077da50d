#!/bin/bash
# bench/run.sh - ringfence's benchmark harness (method: docs/PERFORMANCE.md).
#
#   bench/run.sh [--build DIR] [--smoke] [--reps N] [--out FILE] [--configs LIST]
#                [--phases LIST]
#
#   --build DIR     build directory with bin/ and bench/ (default: build)
#   --smoke         every workload briefly, one repetition, checks it works (CI, < 60 s)
#   --reps N        repetitions of every configuration (default 5)
#   --out FILE      summary JSON (default DIR/bench.json; the raw samples go next
#                   to it as DIR/bench-raw.jsonl)
#   --configs LIST  AUTH configurations, comma separated, of: none floor floor-cache
#                   rf1 rf1-nocache rf4 rf4-nocache rf1-nosensor fapolicyd auditd
#                   (rf1-nosensor: rf1 with the telemetry sensors off)
#   --phases LIST   of: auth telemetry storm (default all three)
#   --alt [NAME=]DIR  another build (DIR/bin/ringfenced, DIR/bench/rfb-client):
#                   AUTH configurations suffixed @NAME (default NAME: alt; rf1@alt,
#                   rf4-nocache@alt, ...) run it, interleaved with the others
#                   (before/after comparisons in one run); may be repeated
#
# Environment: RF_BENCH_PEERS=1 adds the peers (fapolicyd, auditd): installs
# their Debian packages when missing (service start suppressed), runs them
# only inside the bench's mount namespace, removes what it installed.
#
# Safety: the whole run is one private mount namespace (unshare -m
# --propagation private) with a fresh tmpfs at /tmp/rfb; every fanotify
# permission mark (the floor, ringfenced's watch, fapolicyd's mount marks)
# is on that tmpfs only, every agent runs under timeout, and the namespace
# and its tmpfs vanish when the run ends.  Exit status: 0 ran (targets are
# reported, not enforced), 1 a workload or an agent failed, 77 cannot run here.
set -u

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=build
SMOKE=0
REPS=
OUT=
CONFIGS=
PHASES="auth,telemetry,storm"
declare -A ALTS=()
ARGS=("$@")
while [ $# -gt 0 ]; do
	case "$1" in
	--build) BUILD=$2; shift ;;
	--smoke) SMOKE=1 ;;
	--reps) REPS=$2; shift ;;
	--out) OUT=$2; shift ;;
	--configs) CONFIGS=$2; shift ;;
	--phases) PHASES=$2; shift ;;
	--alt) case "$2" in *=*) ALTS[${2%%=*}]=${2#*=} ;; *) ALTS[alt]=$2 ;; esac; shift ;;
	-h|--help) sed -n '2,30p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: unknown option $1" >&2; exit 2 ;;
	esac
	shift
done
case "$BUILD" in /*) B=$BUILD ;; *) B=$ROOT/$BUILD ;; esac
BB=$B/bench
for a in "${!ALTS[@]}"; do
	case "${ALTS[$a]}" in /*) ;; *) ALTS[$a]=$ROOT/${ALTS[$a]} ;; esac
done
OUT=${OUT:-$B/bench.json}
case "$OUT" in /*) ;; *) OUT=$PWD/$OUT ;; esac
RAW=${OUT%.json}-raw.jsonl
RFB=/tmp/rfb

if [ "$(id -u)" -ne 0 ]; then
	echo "bench: skipped: needs root (fanotify permission events, eBPF, mount namespaces)"
	exit 77
fi
for t in unshare timeout jq; do
	command -v $t >/dev/null || { echo "bench: skipped: $t not found"; exit 77; }
done
for f in "$B/bin/ringfenced" "$B/bin/rfctl" "$BB/rfb-load" "$BB/rfb-floor" "$BB/rfb-client" "$BB/rfb-nop"; do
	[ -x "$f" ] || { echo "bench: $f missing: run make bench (or make bench-build)" >&2; exit 1; }
done
for a in "${!ALTS[@]}"; do
	for f in "${ALTS[$a]}/bin/ringfenced" "${ALTS[$a]}/bench/rfb-client"; do
		[ -x "$f" ] || { echo "bench: --alt $a: $f missing" >&2; exit 1; }
	done
done
RFD=$B/bin/ringfenced     # the broker and client of the configuration being run
RFC=$BB/rfb-client

# ---- enter the private mount namespace (everything below runs in it) ----
if [ -z "${RFB_IN_NS:-}" ]; then
	export RFB_IN_NS=1
	limit=3600
	[ "$SMOKE" = 1 ] && limit=120
	exec timeout -k 10 $limit unshare -m --propagation private "$0" "${ARGS[@]}"
fi

# ---- parameters ----
if [ "$SMOKE" = 1 ] && [ "$PHASES" = "auth,telemetry,storm" ]; then
	REPS=${REPS:-1}
	SPAWN_MAX=100 SPAWN_SECS=0.3
	HOT_MAX=20000 HOT_SECS=0.2
	COLD_N=600 COLD_SECS=0.3
	TELE_EVENTS=50000 STORM_SECS=0.5 RECORD_SECS=1
	DEFAULT_CONFIGS="none floor floor-cache rf1 rf1-nocache rf4"
else
	REPS=${REPS:-5}
	SPAWN_MAX=3000 SPAWN_SECS=1.5
	HOT_MAX=300000 HOT_SECS=0.6
	COLD_N=6000 COLD_SECS=1.0
	TELE_EVENTS=3000000 STORM_SECS=2 RECORD_SECS=3
	DEFAULT_CONFIGS="none floor floor-cache rf1 rf1-nocache rf4 rf4-nocache"
fi
CONFIGS=${CONFIGS:-$DEFAULT_CONFIGS}
CONFIGS=${CONFIGS//,/ }
if [ "${RF_BENCH_PEERS:-0}" = 1 ]; then
	case " $CONFIGS " in *" fapolicyd "*) ;; *) CONFIGS="$CONFIGS fapolicyd" ;; esac
	case " $CONFIGS " in *" auditd "*) ;; *) CONFIGS="$CONFIGS auditd" ;; esac
fi
AGENT_LIMIT=600   # seconds any one agent may live

mkdir -p "$RFB" "$(dirname "$OUT")"
mount -t tmpfs -o size=2g,mode=755 rfb-bench "$RFB" || { echo "bench: cannot mount a tmpfs at $RFB"; exit 1; }
mkdir -p "$RFB/bin" "$RFB/hot" "$RFB/ctl" "$RFB/churn"
# artifacts (configs, logs, the recording) live outside the watched tmpfs
ART=$(mktemp -d /var/tmp/rfb-run.XXXXXX)
: >"$RAW"

AGENT_WAIT=""     # pid to wait for (the timeout wrapper)
AGENT_PID=""      # the agent's own pid (for /proc)
STATE="$ART/run"
PEERS_INSTALLED=""
AUDIT_RULE_SET=0
AUDIT_ENABLED0=""
FAILED=0

log() { printf '%s bench: %s\n' "$(date +%T)" "$*" >&2; }
fail() { log "FAIL: $*"; FAILED=1; }

stop_agent() {
	[ -n "$AGENT_PID" ] && kill -TERM "$AGENT_PID" 2>/dev/null
	if [ -n "$AGENT_WAIT" ]; then
		for _ in $(seq 100); do kill -0 "$AGENT_WAIT" 2>/dev/null || break; sleep 0.05; done
		kill -KILL "$AGENT_WAIT" 2>/dev/null
		wait "$AGENT_WAIT" 2>/dev/null
	fi
	AGENT_WAIT="" AGENT_PID=""
}

cleanup() {
	stop_agent
	peers_teardown
	umount -l "$RFB" 2>/dev/null
	[ "${RFB_KEEP_ART:-0}" = 1 ] && log "artifacts kept in $ART" || rm -rf "$ART"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

# ---- measuring ----

# cpu_ns PID: CPU time of every thread of PID, ns (schedstat; utime+stime ticks as fallback)
cpu_ns() {
	local p=$1 s=0 v t
	for t in /proc/$p/task/*/schedstat; do
		read -r v _ <"$t" 2>/dev/null && s=$((s + v))
	done
	if [ "$s" = 0 ] && [ -r /proc/$p/stat ]; then
		local st
		st=$(sed 's/.*) //' /proc/$p/stat)
		set -- $st
		s=$(( (${12} + ${13}) * 1000000000 / $(getconf CLK_TCK) ))
	fi
	echo "$s"
}
# cpu_ticks PID: utime+stime from /proc/PID/stat, clock ticks
cpu_ticks() {
	local st
	st=$(sed 's/.*) //' /proc/$1/stat 2>/dev/null) || { echo 0; return; }
	set -- $st
	echo $(( ${12} + ${13} ))
}
mem_kib() {   # PID FIELD (VmRSS, VmHWM)
	awk -v f="$2:" '$1 == f { print $2 }' /proc/$1/status 2>/dev/null || echo 0
}
rfstatus() { "$B/bin/rfctl" -S "$STATE" status --json 2>/dev/null; }

# emit JSON: adds one raw sample
emit() { echo "$1" >>"$RAW"; }

# ---- agents ----

start_floor() {   # [--cache]
	rm -f "$ART/floor.ready"
	timeout -s KILL $AGENT_LIMIT "$BB/rfb-floor" --watch "$RFB" "$@" --ready "$ART/floor.ready" \
		2>>"$ART/floor.log" &
	AGENT_WAIT=$!
	for _ in $(seq 100); do [ -s "$ART/floor.ready" ] && break; sleep 0.02; done
	[ -s "$ART/floor.ready" ] || { fail "floor did not start: $(tail -n 3 "$ART/floor.log")"; return 1; }
	AGENT_PID=$(cat "$ART/floor.ready")
}

# rf_conf FILE [extra lines...]
rf_conf() {
	local f=$1
	shift
	cat >"$f" <<CONF
[broker]
state_dir = $STATE
watch = $RFB
clients_dir = $ART/clients.d
[auth]
exec_deadline_ms = 1000
open_deadline_ms = 250
default_verdict = allow
CONF
	for l in "$@"; do echo "$l" >>"$f"; done
}

# rf_clients N ARGS SUBSCRIBE MODE: N manifests of rfb-client
rf_clients() {
	rm -rf "$ART/clients.d"
	mkdir -p "$ART/clients.d"
	local i
	for i in $(seq "$1"); do
		cat >"$ART/clients.d/c$i.conf" <<MAN
[client]
name = c$i
exec = $RFC
args = $2
subscribe = $3
mode = $4
MAN
	done
}

# start_rf LOG NCLIENTS WANT_MARKS(0/1)
start_rf() {
	local logf=$1 n=$2 marks=$3
	rm -rf "$STATE"
	timeout -s KILL $AGENT_LIMIT "$RFD" -f -c "$ART/rf.conf" >"$logf" 2>&1 &
	AGENT_WAIT=$!
	local want="(.clients | length == $n and all(.[]; .state == \"running\"))"
	[ "$marks" = 1 ] && want="$want and .auth.exec_marked and .auth.open_marked"
	local st
	for _ in $(seq 200); do
		st=$(rfstatus) && echo "$st" | jq -e "$want" >/dev/null 2>&1 && break
		kill -0 "$AGENT_WAIT" 2>/dev/null || break
		st=""
		sleep 0.05
	done
	if [ -z "$st" ]; then
		fail "ringfenced did not become ready ($n clients): $(tail -n 5 "$logf")"
		stop_agent
		return 1
	fi
	AGENT_PID=$(echo "$st" | jq -r .pid)
}

# client_reports LOG TAG N: waits for N client reports tagged TAG, prints them (one per line)
client_reports() {
	local logf=$1 tag=$2 n=$3 got
	for _ in $(seq 200); do
		got=$(grep -a '^RFB-CLIENT ' "$logf" | sed 's/^RFB-CLIENT //' | jq -c --arg t "$tag" 'select(.tag == $t)' 2>/dev/null)
		[ -n "$got" ] && [ "$(echo "$got" | wc -l)" -ge "$n" ] && { echo "$got"; return 0; }
		sleep 0.05
	done
	[ -n "$got" ] && echo "$got"
	return 1
}

# ---- peers (RF_BENCH_PEERS=1) ----

peer_install() {   # PACKAGE: installs it with service start suppressed; records it for removal
	local pkg=$1
	dpkg -s "$pkg" >/dev/null 2>&1 && return 0
	log "installing $pkg (removed again at the end)"
	local prc=/usr/sbin/policy-rc.d made=0
	if [ ! -e $prc ]; then
		printf '#!/bin/sh\nexit 101\n' >$prc && chmod 755 $prc && made=1
	fi
	DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "$pkg" >"$ART/apt-$pkg.log" 2>&1
	local rc=$?
	[ $made = 1 ] && rm -f $prc
	[ $rc = 0 ] || { log "cannot install $pkg: $(tail -n 2 "$ART/apt-$pkg.log")"; return 1; }
	PEERS_INSTALLED="$PEERS_INSTALLED $pkg"
	# a packaged service must not be running outside the bench: it would watch the real disks
	local p
	for p in $(pidof "${pkg}" 2>/dev/null); do
		log "stopping $pkg pid $p started by the package"
		kill -TERM "$p"
	done
}

peers_teardown() {
	if [ "$AUDIT_RULE_SET" = 1 ]; then
		auditctl -D -k rfb-bench >/dev/null 2>&1
		AUDIT_RULE_SET=0
	fi
	umount /etc/fapolicyd/fapolicyd.conf 2>/dev/null
	if [ -n "$AUDIT_ENABLED0" ] && command -v auditctl >/dev/null; then
		auditctl -e "$AUDIT_ENABLED0" >/dev/null 2>&1
		AUDIT_ENABLED0=""
	fi
	if [ -n "$PEERS_INSTALLED" ]; then
		log "removing$PEERS_INSTALLED"
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -q $PEERS_INSTALLED >"$ART/apt-purge.log" 2>&1 ||
			log "apt-get purge failed: $(tail -n 2 "$ART/apt-purge.log")"
		# what the daemons made at run time (fagenrules' compiled.rules, the trust db, logs)
		case " $PEERS_INSTALLED " in *" fapolicyd "*) rm -rf /etc/fapolicyd /var/lib/fapolicyd /run/fapolicyd ;; esac
		case " $PEERS_INSTALLED " in *" auditd "*) rm -rf /var/log/audit ;; esac
		PEERS_INSTALLED=""
	fi
}

FAPOLICYD_OK=0
AUDITD_OK=0
peers_setup() {
	local c
	for c in $CONFIGS; do
		case $c in
		fapolicyd)
			if [ "$(findmnt -n -o FSTYPE /)" = tmpfs ]; then
				log "fapolicyd skipped: / is a tmpfs here, and watch_fs = tmpfs would mark it"
				emit '{"phase":"skip","cfg":"fapolicyd","why":"root filesystem is a tmpfs"}'
				continue
			fi
			peer_install fapolicyd || { emit '{"phase":"skip","cfg":"fapolicyd","why":"cannot install"}'; continue; }
			# our configuration, seen only inside this mount namespace: permissive,
			# tmpfs only, mount marks (FAN_MARK_MOUNT on this namespace's private mounts),
			# running as root (dropping to its own uid fails in this sandbox)
			sed -e 's/^permissive.*/permissive = 1/' -e 's/^watch_fs.*/watch_fs = tmpfs/' \
			    -e 's/^trust.*/trust = file/' -e 's/^allow_filesystem_mark.*/allow_filesystem_mark = 0/' \
			    -e 's/^do_stat_report.*/do_stat_report = 0/' -e 's/^uid.*/uid = root/' -e 's/^gid.*/gid = root/' \
			    /etc/fapolicyd/fapolicyd.conf >"$ART/fapolicyd.conf"
			grep -q '^allow_filesystem_mark' "$ART/fapolicyd.conf" || echo "allow_filesystem_mark = 0" >>"$ART/fapolicyd.conf"
			mount --bind "$ART/fapolicyd.conf" /etc/fapolicyd/fapolicyd.conf
			mkdir -p /run/fapolicyd /var/lib/fapolicyd
			chown fapolicyd:fapolicyd /run/fapolicyd /var/lib/fapolicyd 2>/dev/null
			/usr/sbin/fagenrules >/dev/null 2>&1 || true
			FAPOLICYD_OK=1
			;;
		auditd)
			peer_install auditd || { emit '{"phase":"skip","cfg":"auditd","why":"cannot install"}'; continue; }
			local apid
			apid=$(auditctl -s 2>/dev/null | awk '$1 == "pid" { print $2 }')
			if [ -z "$apid" ]; then
				log "auditd skipped: the kernel's audit interface does not answer here"
				emit '{"phase":"skip","cfg":"auditd","why":"no kernel audit"}'
				continue
			fi
			if [ "$apid" != 0 ]; then
				log "auditd skipped: another audit daemon (pid $apid) is registered"
				emit '{"phase":"skip","cfg":"auditd","why":"another audit daemon registered"}'
				continue
			fi
			AUDIT_ENABLED0=$(auditctl -s 2>/dev/null | awk '$1 == "enabled" { print $2 }')
			log "auditd: kernel audit state before the bench: $(auditctl -s 2>/dev/null | tr '\n' ' '); rules: $(auditctl -l 2>/dev/null | tr '\n' ';')"
			AUDITD_OK=1
			;;
		esac
	done
}

start_fapolicyd() {
	timeout -s KILL $AGENT_LIMIT /usr/sbin/fapolicyd --debug-deny --permissive >"$ART/fapolicyd.log" 2>&1 &
	AGENT_WAIT=$!
	# ready when it reports listening, or after its first answered access
	for _ in $(seq 300); do
		grep -q "Starting to listen" "$ART/fapolicyd.log" 2>/dev/null && break
		kill -0 "$AGENT_WAIT" 2>/dev/null || { fail "fapolicyd exited: $(tail -n 3 "$ART/fapolicyd.log")"; return 1; }
		sleep 0.1
	done
	AGENT_PID=$(pgrep -P "$AGENT_WAIT" -x fapolicyd || echo "$AGENT_WAIT")
	sleep 0.3
}

start_auditd() {
	timeout -s KILL $AGENT_LIMIT /sbin/auditd -n -s enable >"$ART/auditd.log" 2>&1 &
	AGENT_WAIT=$!
	for _ in $(seq 100); do
		[ "$(auditctl -s 2>/dev/null | awk '$1 == "pid" { print $2 }')" != 0 ] && break
		sleep 0.05
	done
	AGENT_PID=$(pgrep -P "$AGENT_WAIT" -x auditd || echo "$AGENT_WAIT")
	auditctl -a always,exit -F arch=b64 -S execve,openat -F dir=$RFB -k rfb-bench >/dev/null &&
		AUDIT_RULE_SET=1
}

stop_auditd() {
	auditctl -D -k rfb-bench >/dev/null 2>&1
	AUDIT_RULE_SET=0
	stop_agent
}

# ---- phase 1: AUTH workloads ----

run_workload() {   # CFG REP WL LOGF NCLIENTS
	local cfg=$1 rep=$2 wl=$3 logf=$4 n=$5 res cpu0=0 cpu1=0 tk0=0 tk1=0 ev0=0 ev1=0 bd0=0 bd1=0 st
	if [ -n "$AGENT_PID" ]; then
		cpu0=$(cpu_ns "$AGENT_PID"); tk0=$(cpu_ticks "$AGENT_PID")
	fi
	if [ "$n" -gt 0 ]; then
		st=$(rfstatus); ev0=$(echo "$st" | jq .auth.events); bd0=$(echo "$st" | jq .auth.by_default)
	fi
	case $wl in
	spawn) res=$(timeout 120 "$BB/rfb-load" spawn --path "$RFB/bin/rfb-nop" --max $SPAWN_MAX --secs $SPAWN_SECS) ;;
	open-hot) res=$(timeout 120 "$BB/rfb-load" open-hot --path "$RFB/hot/data" --max $HOT_MAX --secs $HOT_SECS) ;;
	open-cold) res=$(timeout 120 "$BB/rfb-load" open-cold --dir "$RFB/cold" --count $COLD_N --secs $COLD_SECS) ;;
	esac
	[ -n "$res" ] || { fail "$wl under $cfg produced nothing"; return 1; }
	if [ -n "$AGENT_PID" ]; then
		cpu1=$(cpu_ns "$AGENT_PID"); tk1=$(cpu_ticks "$AGENT_PID")
	fi
	if [ "$n" -gt 0 ]; then
		st=$(rfstatus); ev1=$(echo "$st" | jq .auth.events); bd1=$(echo "$st" | jq .auth.by_default)
	fi
	emit "$(echo "$res" | jq -c --arg cfg "$cfg" --argjson rep "$rep" --arg wl "$wl" \
		--argjson cpu $((cpu1 - cpu0)) --argjson ticks $((tk1 - tk0)) --argjson ev $((ev1 - ev0)) \
		--argjson bd $((bd1 - bd0)) \
		'{phase:"auth", cfg:$cfg, rep:$rep, wl:$wl} + . + {agent_cpu_ns:$cpu, agent_cpu_ticks:$ticks,
		  agent_cpu_ns_per_op:($cpu / .n), auth_events:$ev, by_default:$bd,
		  cpu_ns_per_event:(if $ev > 0 then $cpu / $ev else null end)}')"
	if [ "$n" -gt 0 ]; then
		"$BB/rfb-load" touch --path "$RFB/ctl/.rfb-report-$wl"
		local reps
		reps=$(client_reports "$logf" "$wl" "$n") || fail "$cfg: client reports for $wl missing"
		echo "$reps" | while read -r line; do
			[ -n "$line" ] && emit "$(echo "$line" | jq -c --arg cfg "$cfg" --argjson rep "$rep" --arg wl "$wl" \
				'{phase:"client", cfg:$cfg, rep:$rep, wl:$wl} + .')"
		done
	fi
}

auth_session() {   # CFG REP
	local cfg=$1 rep=$2 n=0 logf="$ART/session.log"
	# fresh files for open-cold, made before any agent exists: nothing has seen them
	rm -rf "$RFB/cold"
	mkdir -p "$RFB/cold"
	"$BB/rfb-load" mkfiles --dir "$RFB/cold" --count $COLD_N >/dev/null || { fail "mkfiles"; return 1; }
	: >"$logf"
	case $cfg in
	none) ;;
	floor) start_floor || return 1 ;;
	floor-cache) start_floor --cache || return 1 ;;
	rf1|rf1-nocache|rf4|rf4-nocache|rf1-nosensor|rf1@*|rf1-nocache@*|rf4@*|rf4-nocache@*|rf1-nosensor@*)
		local base=${cfg%@*} alt=""
		[ "$base" != "$cfg" ] && alt=${cfg##*@}
		n=${base#rf}; n=${n%%-*}
		local args="--auth exec,open"
		case $base in *-nocache) ;; *) args="$args --cache" ;; esac
		RFD=$B/bin/ringfenced RFC=$BB/rfb-client
		if [ -n "$alt" ]; then
			[ -n "${ALTS[$alt]:-}" ] || { fail "$cfg needs --alt $alt=DIR"; return 1; }
			RFD=${ALTS[$alt]}/bin/ringfenced RFC=${ALTS[$alt]}/bench/rfb-client
		fi
		case $base in
		# AUTH only: no telemetry sensor (what the sensors cost the AUTH workloads)
		*-nosensor) rf_conf "$ART/rf.conf" "[sensors]" "ebpf = no" "proc_connector = no" "file_events = no" ;;
		*) rf_conf "$ART/rf.conf" ;;
		esac
		rf_clients "$n" "$args" "auth_exec,auth_open" enforce
		start_rf "$logf" "$n" 1
		local ok=$?
		RFD=$B/bin/ringfenced RFC=$BB/rfb-client
		[ $ok = 0 ] || return 1
		;;
	fapolicyd) [ $FAPOLICYD_OK = 1 ] || return 0; start_fapolicyd || return 1 ;;
	auditd) [ $AUDITD_OK = 1 ] || return 0; start_auditd ;;
	esac
	local wl
	for wl in spawn open-hot open-cold; do
		run_workload "$cfg" "$rep" "$wl" "$logf" "$n"
	done
	if [ -n "$AGENT_PID" ]; then
		emit "$(jq -nc --arg cfg "$cfg" --argjson rep "$rep" --argjson rss "$(mem_kib "$AGENT_PID" VmRSS)" \
			--argjson hwm "$(mem_kib "$AGENT_PID" VmHWM)" \
			'{phase:"mem", cfg:$cfg, rep:$rep, rss_kib:$rss, hwm_kib:$hwm}')"
	fi
	if [ "$n" -gt 0 ]; then
		local st
		st=$(rfstatus)
		emit "$(echo "$st" | jq -c --arg cfg "$cfg" --argjson rep "$rep" \
			'{phase:"rfstatus", cfg:$cfg, rep:$rep, auth:.auth, counters:.counters,
			  clients:[.clients[] | {name, delivered, dropped, auth_asked, auth_answered, auth_missed, auth_ring_full, late}]}')"
	fi
	case $cfg in auditd) stop_auditd ;; *) stop_agent ;; esac
	[ -n "$(grep -a 'RFB-CLIENT' "$logf" | head -1)" ] || [ "$n" = 0 ] || fail "$cfg: no client output"
}

phase_auth() {
	cp "$BB/rfb-nop" "$RFB/bin/rfb-nop"
	head -c 4096 /dev/zero >"$RFB/hot/data"
	local w
	# the clients' report markers (made before any agent runs)
	for w in spawn open-hot open-cold; do : >"$RFB/ctl/.rfb-report-$w"; done
	peers_setup
	local cfgs ncfg rep i k
	read -r -a cfgs <<<"$CONFIGS"
	ncfg=${#cfgs[@]}
	for rep in $(seq "$REPS"); do
		# the machine's price of a hand-off between two processes, for the record
		local mc op cpus max hops
		# (wake-rtt over a ring of 4 on one CPU: the least an AUTH event costs when
		# the opener, the broker and a client share a CPU)
		for mc in "wake-rtt 0,0 2000 2" "wake-rtt 0,1 2000 2" "spin-rtt 0,1 20000 2" "wake-rtt 0,0 2000 4"; do
			read -r op cpus max hops <<<"$mc"
			emit "$(timeout 60 "$BB/rfb-load" "$op" --cpus "$cpus" --max "$max" --hops "$hops" |
				jq -c --argjson rep "$rep" --arg cpus "$cpus" '{phase:"machine", rep:$rep, cpus:$cpus} + .')"
		done
		# interleaved, and the order rotates from one repetition to the next
		for i in $(seq 0 $((ncfg - 1))); do
			k=$(( (i + rep - 1) % ncfg ))
			log "auth: rep $rep/$REPS ${cfgs[$k]}"
			auth_session "${cfgs[$k]}" "$rep"
		done
	done
}

# ---- phase 2: telemetry (replay into 1 and 4 clients) ----

ALL_NOTIFY="exec,fork,exit,create,close_write,unlink,rename,connect,accept,listen,setuid,setgid,ptrace,kmod_load,bpf_load,memfd_exec"

make_recording() {
	REC="$ART/tele.rec"
	rf_conf "$ART/rf.conf"
	rf_clients 0 "" "" monitor
	start_rf "$ART/record.log" 0 0 || return 1
	"$B/bin/rfctl" -S "$STATE" record "$REC" --duration $RECORD_SECS 2>"$ART/record.err" &
	local recp=$!
	sleep 0.3
	# a mix: process churn (fork, exec, exit) and file churn (create, close_write, rename, unlink)
	timeout 60 "$BB/rfb-load" storm --path "$RFB/bin/rfb-nop" --secs "$(awk -v s=$RECORD_SECS 'BEGIN { print s - 0.8 }')" --workers 1 >/dev/null &
	local stormp=$! i=0 end=$((SECONDS + RECORD_SECS))
	while [ $SECONDS -lt $end ] && [ $i -lt 3000 ]; do
		echo x >"$RFB/churn/a$i"; mv "$RFB/churn/a$i" "$RFB/churn/b$i"; rm -f "$RFB/churn/b$i"
		i=$((i + 1))
	done
	wait $recp || { fail "rfctl record: $(cat "$ART/record.err")"; stop_agent; return 1; }
	wait $stormp
	stop_agent
	REC_EVENTS=$(tail -n 5 "$ART/record.err" | grep -o '[0-9]\+ events' | grep -o '[0-9]\+' | tail -n 1)
	[ -s "$REC" ] || { fail "empty recording"; return 1; }
	log "telemetry: recording of ${REC_EVENTS:-?} events, $(stat -c %s "$REC") bytes"
}

tele_session() {   # NCLIENTS REP
	local n=$1 rep=$2 logf="$ART/tele.log" per=${REC_EVENTS:-1000}
	[ "$per" -gt 0 ] || per=1000
	local loops=$(( (TELE_EVENTS + per - 1) / per - 1 ))
	[ $loops -lt 0 ] && loops=0
	rf_conf "$ART/rf.conf" "[sensors]" "ebpf = no" "proc_connector = no" "file_events = no" \
		"replay = $REC" "replay_loops = $loops"
	rf_clients "$n" "--notify $ALL_NOTIFY --idle-ms 400" "$ALL_NOTIFY" monitor
	: >"$logf"
	start_rf "$logf" "$n" 0 || return 1
	local cpu0 hwm
	cpu0=$(cpu_ns "$AGENT_PID")
	for _ in $(seq 1200); do
		grep -q "replay .*: done" "$logf" && break
		sleep 0.05
	done
	local cpu1 reps st
	cpu1=$(cpu_ns "$AGENT_PID")
	reps=$(client_reports "$logf" idle "$n") || fail "telemetry: $n clients: reports missing"
	st=$(rfstatus)
	hwm=$(mem_kib "$AGENT_PID" VmHWM)
	local rss
	rss=$(mem_kib "$AGENT_PID" VmRSS)
	local replayed
	replayed=$(echo "$st" | jq '[.sensors[] | select(.name == "replay") | .events] | add // 0')
	echo "$reps" | while read -r line; do
		[ -n "$line" ] && emit "$(echo "$line" | jq -c --arg cfg "replay-$n" --argjson rep "$rep" \
			--argjson replayed "$replayed" --argjson cpu $((cpu1 - cpu0)) --argjson hwm "$hwm" --argjson rss "$rss" \
			--argjson st "$st" \
			'{phase:"telemetry", cfg:$cfg, rep:$rep} + . + {replayed:$replayed, broker_cpu_ns:$cpu,
			  broker_cpu_ns_per_event:(if $replayed > 0 then $cpu / $replayed else null end),
			  broker_hwm_kib:$hwm, broker_rss_kib:$rss,
			  status_dropped:([$st.clients[].dropped] | add),
			  status_delivered:([$st.clients[].delivered] | add)}')"
	done
	stop_agent
}

phase_telemetry() {
	cp "$BB/rfb-nop" "$RFB/bin/rfb-nop"
	make_recording || return 1
	local rep n
	for rep in $(seq "$REPS"); do
		for n in 1 4; do
			log "telemetry: rep $rep/$REPS replay into $n client(s)"
			tele_session "$n" "$rep"
		done
	done
}

# ---- phase 3: exec storm ----

storm_session() {   # CFG REP
	local cfg=$1 rep=$2 logf="$ART/storm.log" st0 st1 res
	: >"$logf"
	if [ "$cfg" = rf ]; then
		rf_conf "$ART/rf.conf"
		rf_clients 1 "--notify exec,fork,exit --idle-ms 100000" "exec,fork,exit" monitor
		start_rf "$logf" 1 0 || return 1
		sleep 1   # let the sensors settle
		st0=$(rfstatus)
	fi
	local cpu0=0 cpu1=0
	[ -n "$AGENT_PID" ] && cpu0=$(cpu_ns "$AGENT_PID")
	res=$(timeout 120 "$BB/rfb-load" storm --path "$RFB/bin/rfb-nop" --secs $STORM_SECS --workers 2)
	[ -n "$AGENT_PID" ] && cpu1=$(cpu_ns "$AGENT_PID")
	local extra='{}'
	if [ "$cfg" = rf ]; then
		# the marker's exec can be missed while the broker settles: repeat it until reported
		local rep_line="" k
		for k in $(seq 20); do
			"$RFB/bin/.rfb-report-storm"
			rep_line=$(grep -a '^RFB-CLIENT ' "$logf" | sed 's/^RFB-CLIENT //' | jq -c 'select(.tag == "storm")' | head -n 1)
			[ -n "$rep_line" ] && break
			sleep 0.5
			rep_line=$(grep -a '^RFB-CLIENT ' "$logf" | sed 's/^RFB-CLIENT //' | jq -c 'select(.tag == "storm")' | head -n 1)
			[ -n "$rep_line" ] && break
		done
		[ -n "$rep_line" ] || fail "storm: client report missing"
		st1=$(rfstatus)
		extra=$(jq -nc --argjson a "$st0" --argjson b "$st1" --argjson c "${rep_line:-null}" \
			--argjson cpu $((cpu1 - cpu0)) \
			'def sens(s; n): [s.sensors[] | select(.name == n)][0] // {events:0, lost:0};
			 {client_events:($c.notify // null), client_gaps:($c.gaps // null),
			  broker_dropped:(($b.counters.dropped) - ($a.counters.dropped)),
			  sensor:(sens($b; "ebpf").name // sens($b; "proc_connector").name // null),
			  sensor_events:((sens($b; "ebpf").events + sens($b; "proc_connector").events) - (sens($a; "ebpf").events + sens($a; "proc_connector").events)),
			  sensor_lost:((sens($b; "ebpf").lost + sens($b; "proc_connector").lost) - (sens($a; "ebpf").lost + sens($a; "proc_connector").lost)),
			  broker_cpu_ns:$cpu,
			  broker_cpu_ns_per_event:(if ($b.counters.events - $a.counters.events) > 0
			     then $cpu / ($b.counters.events - $a.counters.events) else null end)}')
		stop_agent
	fi
	emit "$(echo "$res" | jq -c --arg cfg "$cfg" --argjson rep "$rep" --argjson x "$extra" \
		'{phase:"storm", cfg:$cfg, rep:$rep} + . + $x')"
}

phase_storm() {
	cp "$BB/rfb-nop" "$RFB/bin/rfb-nop"
	cp "$BB/rfb-nop" "$RFB/bin/.rfb-report-storm"
	local rep cfg
	for rep in $(seq "$REPS"); do
		for cfg in none rf; do
			log "storm: rep $rep/$REPS $cfg"
			storm_session "$cfg" "$rep"
		done
	done
}

# ---- run ----

T0=$SECONDS
emit "$(jq -nc --arg kernel "$(uname -r)" --arg cpus "$(nproc)" --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" \
	--arg cpu "$(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)" --argjson smoke "$SMOKE" \
	--argjson reps "$REPS" --arg configs "$CONFIGS" --arg date "$(date -u +%FT%TZ)" \
	--arg cmd "bench/run.sh ${ARGS[*]}" \
	'{phase:"meta", kernel:$kernel, cpus:($cpus|tonumber), cpu:$cpu, loadavg_start:$load, smoke:($smoke == 1),
	  reps:$reps, configs:$configs, date:$date, command:$cmd}')"
case ",$PHASES," in *,auth,*) phase_auth ;; esac
case ",$PHASES," in *,telemetry,*) phase_telemetry ;; esac
case ",$PHASES," in *,storm,*) phase_storm ;; esac
emit "$(jq -nc --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" --argjson secs $((SECONDS - T0)) \
	'{phase:"meta_end", loadavg_end:$load, seconds:$secs}')"

jq -s -f "$ROOT/bench/summary.jq" "$RAW" >"$OUT" || { fail "summary"; exit 1; }
"$ROOT/bench/table.sh" "$OUT"
log "summary: $OUT; raw samples: $RAW ($((SECONDS - T0)) s)"

if [ "$SMOKE" = 1 ] && [ "$PHASES" = "auth,telemetry,storm" ]; then
	# the smoke check: every workload produced numbers under every configuration
	jq -e -f "$ROOT/bench/smoke-check.jq" "$OUT" >/dev/null || fail "smoke check: some workload did not produce results"
fi
[ $FAILED = 0 ] || exit 1
exit 0
