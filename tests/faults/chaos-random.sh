#!/bin/bash
# Randomized chaos (issue 3, item 6): several chaos clients at once - both
# implementations - each living through a random sequence of fault modes.
# Every mode appears (one shuffled deck of all modes is dealt round-robin to
# the clients, then another), lives overlap, and a client gets its next mode
# when it dies: by its own fault, killed by the supervisor, or killed (-9)
# by this script at the end of a random lifetime (2-6 s) when its fault is
# one the broker merely contains.  Meanwhile a loop execs /tmp/rf/true and
# times every exec.  Asserted throughout:
#   every exec within exec_deadline_ms + 50 ms and allowed; the broker alive;
#   `rfctl status` answers within 100 ms (polled every ~0.25 s); the broker's
#   RSS and descriptors under fixed bounds and not growing.
# Prints the seed first and a summary last (execs, latency, status, lives and
# deaths by mode).  Reproduce a run's mode sequences with RF_CHAOS_SEED.
#
#   RF_CHAOS_SECONDS   run length (default 60)
#   RF_CHAOS_SEED      seed (default: from the clock)
#   RF_CHAOS_CLIENTS   clients at once (default 6)
# From bench/ it can run for as long as wanted: RF_CHAOS_SECONDS=3600.
#
# max_deaths is raised to 32 (its maximum) here so that a crash loop does not end a
# client's part in the run; quarantine itself is asserted by faults.sh.
# shellcheck disable=SC2034
. "$(dirname "$0")/flib.sh"
rf_enter_ns "$@"
trap 'kill "$EXEC_PID" 2>/dev/null; fl_stop; umount -l "$RF" 2>/dev/null' EXIT

SECS=${RF_CHAOS_SECONDS:-60}
SEED=${RF_CHAOS_SEED:-$(( $(date +%s%N) % 1000000007 ))}
NCLIENTS=${RF_CHAOS_CLIENTS:-6}
MODES=(none oob-read abort hang-auth spin leak fork-bomb fd-exhaust flood-bogus malformed-resp
       oversized-ctl duplicate late foreign escape crash-at-start)
IMPLS=(rf-chaos-client rf-chaos2)
CUR=chaos-random
EXEC_PID=""
echo "chaos-random: seed $SEED (RF_CHAOS_SEED=$SEED to repeat), $SECS s, $NCLIENTS clients, build $B, logs in $ART"
RANDOM=$SEED

# the deck: shuffled copies of all modes, dealt round-robin; DECK[i*LIVES + k] is client i's life k
LIVES=64
DECK=()
deal=()
while [ ${#deal[@]} -lt $((NCLIENTS * LIVES)) ]; do
	d=("${MODES[@]}")
	for ((i = ${#d[@]} - 1; i > 0; i--)); do
		j=$((RANDOM % (i + 1))); t=${d[i]}; d[i]=${d[j]}; d[j]=$t
	done
	deal+=("${d[@]}")
done
for ((n = 0; n < NCLIENTS * LIVES; n++)); do
	DECK[$(( (n % NCLIENTS) * LIVES + n / NCLIENTS ))]=${deal[n]}
done
LIFE_MS=()   # a random lifetime per (client, life), 2000-6000 ms
for ((n = 0; n < NCLIENTS * LIVES; n++)); do LIFE_MS[n]=$((2000 + RANDOM % 4001)); done

fl_fresh
RF_MAX_DEATHS=32 fl_config
mkdir -p "$RF/chaos"
chmod 755 "$RF/chaos"
for ((i = 0; i < NCLIENTS; i++)); do
	name=c$i-$$
	echo "${DECK[i * LIVES]}" >"$RF/chaos/c$i.mode"
	chmod 644 "$RF/chaos/c$i.mode"
	fl_manifest "$name" "$B/tests/${IMPLS[i % 2]}" "@$RF/chaos/c$i.mode" "read = $RF/chaos"
done
fl_start || { printf '%s\n' "${FAILS[@]}"; exit 1; }
fl_wait 10 fl_q "[.clients[] | select(.state == \"running\" or .state == \"backoff\" or .state == \"quarantined\")] | length == $NCLIENTS" ||
	echo "  info: not every client up after 10 s: $(jq -c '[.clients[] | {name, state}]' "$ART/status.json")"
fl_wait 5 fl_q '.auth.exec_marked == true' || fl_bad "no exec permission marks"
RES0=$(fl_res)
read -r RSS_MAX FDS_MAX <<<"$RES0"

"$TIMER" -t -d "$SECS" -i 10 -l $((DL + SLACK_MS)) "$RF/true" >"$ART/execs.txt" &
EXEC_PID=$!

# Lives are counted by the client's death counter, not by pids seen: a
# crash at start can live and die between two polls.  Life k of client i
# runs DECK[i*LIVES + k]; the next mode is written into the client's mode
# file as soon as a death is seen, which is before the restart (backoff >= 1 s).
declare -A DEATHS KILL_AT KILLED_LIFE ALIVE_PID LIVES_BY_MODE ENDS_BY
now_ms() { date +%s%3N; }
mode_of() { echo "${DECK[$1 * LIVES + ($2 % LIVES)]}"; }
for ((i = 0; i < NCLIENTS; i++)); do DEATHS[$i]=0; KILL_AT[$i]=0; KILLED_LIFE[$i]=-1; ALIVE_PID[$i]=0; done
end=$((SECONDS + SECS))
polls=0
while [ $SECONDS -lt $end ]; do
	polls=$((polls + 1))
	if ! fl_alive; then
		fl_bad "broker died: $(tail -n 5 "$ART/broker.log" | tr '\n' ' ')"
		break
	fi
	read -r rss fds <<<"$(fl_res)"
	[ "$rss" -gt "$RSS_MAX" ] && RSS_MAX=$rss
	[ "$fds" -gt "$FDS_MAX" ] && FDS_MAX=$fds
	if ! fl_status; then
		fl_bad "(b) rfctl status failed"
		sleep 0.25
		continue
	fi
	t=$(now_ms)
	for ((i = 0; i < NCLIENTS; i++)); do
		read -r st pid deaths cause <<<"$(jq -r ".clients[] | select(.name == \"c$i-$$\") |
			\"\(.state) \(.pid) \(.deaths) \((.last_exit // \"?\") | gsub(\" \"; \"_\"))\(
			(.death_log // [])[-1].reason // \"\" | sub(\"^killed: \"; \"/\") | split(\" \")[0])\"" "$ART/status.json")"
		pid=${pid:-0}; deaths=${deaths:-0}
		k=${DEATHS[$i]}
		if [ "$deaths" -gt "$k" ]; then
			# life k ended (and possibly more, counted with the last cause)
			while [ "$k" -lt "$deaths" ]; do
				m=$(mode_of $i $k)
				c=$cause
				[ "${KILLED_LIFE[$i]}" = "$k" ] && c="driver-kill"
				ENDS_BY[$m/$c]=$(( ${ENDS_BY[$m/$c]:-0} + 1 ))
				LIVES_BY_MODE[$m]=$(( ${LIVES_BY_MODE[$m]:-0} + 1 ))
				k=$((k + 1))
			done
			DEATHS[$i]=$k
			ALIVE_PID[$i]=0
			echo "$(mode_of $i $k)" >"$RF/chaos/c$i.mode.new" && mv "$RF/chaos/c$i.mode.new" "$RF/chaos/c$i.mode"
		fi
		case "$st" in running|connected|demoted) ;; *) continue ;; esac
		if [ "$pid" -gt 0 ] && [ "${ALIVE_PID[$i]}" != "$pid" ]; then
			ALIVE_PID[$i]=$pid
			KILL_AT[$i]=$((t + LIFE_MS[i * LIVES + (k % LIVES)]))
			echo "  $(date +%T) c$i (${IMPLS[i % 2]#rf-}) life $k, pid $pid: $(mode_of $i $k)"
		fi
		if [ "$pid" -gt 0 ] && [ "$t" -gt "${KILL_AT[$i]}" ] && [ "${KILLED_LIFE[$i]}" != "$k" ]; then
			# end of its lifetime: kill -9 by pid (a child of our broker)
			KILLED_LIFE[$i]=$k
			kill -KILL "$pid" 2>/dev/null
		fi
	done
	sleep 0.25
done
wait "$EXEC_PID"
EXEC_PID=""

# ---- assertions on the whole run
fl_alive || fl_bad "broker not alive at the end"
fl_res_check "start $RES0, end" "$RES0"
[ "$RSS_MAX" -lt "$RSS_MAX_KIB" ] || fl_bad "(c) broker RSS reached ${RSS_MAX} KiB (bound ${RSS_MAX_KIB})"
[ "$FDS_MAX" -lt "$FD_MAX" ] || fl_bad "(c) broker descriptors reached ${FDS_MAX} (bound ${FD_MAX})"
nexec=$(grep -vc '^#' "$ART/execs.txt")
bad_exit=$(awk '$1 != "#" && $2 != "0"' "$ART/execs.txt" | wc -l)
over=$(awk -v l=$(((DL + SLACK_MS) * 1000)) '$1 != "#" && $1 > l' "$ART/execs.txt" | wc -l)
grep -v '^#' "$ART/execs.txt" | awk '{ print $1 }' >"$ART/lat.txt"
[ "$nexec" -gt 0 ] || fl_bad "(a) no exec completed"
[ "$bad_exit" -eq 0 ] || fl_bad "(a) $bad_exit execs did not exit 0 (denied or killed)"
[ "$over" -eq 0 ] || fl_bad "(a) $over execs took longer than ${DL} + ${SLACK_MS} ms (max $(( $(fl_pct "$ART/lat.txt" 100) / 1000 )) ms)"
if [ "$over" -gt 0 ]; then
	# when each slow exec started, and what the broker logged around it
	awk -v l=$(((DL + SLACK_MS) * 1000)) '$1 != "#" && $1 > l' "$ART/execs.txt" | head -n 3 | while read -r us st at; do
		echo "  slow exec: $((us / 1000)) ms, started $at; broker log from 1 s before:"
		awk -v from="$(date -d "$at 1 second ago" +%T.%3N 2>/dev/null || echo "$at")" -v to="$(date -d "$at $((us / 1000000 + 1)) seconds" +%T.%3N 2>/dev/null || echo "$at")" \
			'$1 ~ /^[0-9][0-9]:/ && $1 >= from && $1 <= to' "$ART/broker.log" | grep -v "info: client c[0-9]: started\|: ready$" | head -n 15 | sed 's/^/      /'
	done
fi
grep -q "SAFETY NET" "$ART/broker.log" && fl_bad "(e) a limit did not hold: $(grep -m1 -o 'SAFETY NET.*' "$ART/broker.log")"
grep -qE "escape: .*: ESCAPED" "$ART/broker.log" && fl_bad "(e) an escape succeeded: $(grep -m1 -oE 'escape: .*: ESCAPED.*' "$ART/broker.log")"
fl_status
for ((i = 0; i < NCLIENTS; i++)); do   # lives still going at the end
	st=$(jq -r ".clients[] | select(.name == \"c$i-$$\") | .state" "$ART/status.json")
	case "$st" in running|connected|demoted)
		m=$(mode_of $i ${DEATHS[$i]})
		LIVES_BY_MODE[$m]=$(( ${LIVES_BY_MODE[$m]:-0} + 1 ))
		ENDS_BY[$m/alive-at-end]=$(( ${ENDS_BY[$m/alive-at-end]:-0} + 1 )) ;;
	esac
done
seen=0
for m in "${MODES[@]}"; do [ -n "${LIVES_BY_MODE[$m]:-}" ] && seen=$((seen + 1)); done

echo
echo "== summary (seed $SEED)"
echo "execs: $nexec, not allowed: $bad_exit, over ${DL}+${SLACK_MS} ms: $over; latency p50 $(( $(fl_pct "$ART/lat.txt" 50) / 1000 )) ms, p99 $(( $(fl_pct "$ART/lat.txt" 99) / 1000 )) ms, max $(( $(fl_pct "$ART/lat.txt" 100) / 1000 )) ms"
echo "status polls: $polls, slowest ${STATUS_MAX_SEEN} ms; broker RSS max ${RSS_MAX} KiB, descriptors max ${FDS_MAX}"
echo "modes run: $seen of ${#MODES[@]}"
[ "$SECS" -lt 60 ] || [ "$seen" -eq ${#MODES[@]} ] || fl_bad "only $seen of ${#MODES[@]} modes ran in $SECS s"
printf '%-16s %5s  %s\n' mode lives "ends of life (cause: count)"
for m in "${MODES[@]}"; do
	ends=""
	for key in "${!ENDS_BY[@]}"; do
		[ "${key%%/*}" = "$m" ] && ends="$ends ${key#*/}: ${ENDS_BY[$key]},"
	done
	printf '%-16s %5s %s\n' "$m" "${LIVES_BY_MODE[$m]:-0}" "${ends%,}"
done
echo "clients at the end: $(jq -c '[.clients[] | {name, state, restarts, deaths, hung_kills}]' "$ART/status.json" | cut -c1-600)"
echo "alerts: $(jq -c '[(.alerts // [])[] | .kind] | group_by(.) | map({(.[0]): length}) | add' "$ART/status.json")"
if [ ${#FAILS[@]} -gt 0 ]; then
	echo
	echo "${#FAILS[@]} failed assertions (seed $SEED):"
	printf '%s\n' "${FAILS[@]}" | awk '!seen[$0]++' | head -n 50
	exit 1
fi
echo "chaos-random: passed (seed $SEED)"
