#!/bin/bash
# No client can corrupt or crash the broker: for each way a client can lie
# (forged, duplicate and late responses, impossible ring indices, garbage and
# oversized control messages) execs in scope keep completing within the
# deadline, the broker stays up and answers status, the lie is counted or the
# client is killed with a reason, and the client is restarted.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

check_mode() {   # mode, jq condition on the client or a log pattern
	local mode=$1 cond=$2 logpat=$3
	rf_config
	rm -f "$RF/clients.d/"*.conf
	rf_manifest hostile "$B/tests/rf-hostile-client" "$mode" auth_exec enforce
	rf_start
	wait_for 10 client_running hostile || fail "$mode: client not running"
	wait_for 5 status_q '.auth.exec_marked == true' || fail "$mode: no exec marks"
	cp /bin/true "$RF/t-$mode"
	for i in 1 2 3 4 5; do
		t0=$(now_ms)
		"$RF/t-$mode" || fail "$mode: exec $i failed"
		dt=$(( $(now_ms) - t0 ))
		[ $dt -le 1050 ] || fail "$mode: exec $i took ${dt} ms (deadline 1000)"
	done
	kill -0 "$BROKER_PID" || fail "$mode: broker died"
	t0=$(now_ms); rfctl status --json >/dev/null || fail "$mode: status failed"; dt=$(( $(now_ms) - t0 ))
	[ $dt -le 100 ] || fail "$mode: status took ${dt} ms"
	if [ -n "$cond" ]; then
		wait_for 3 status_q ".clients[] | select(.name==\"hostile\") | $cond" || \
			fail "$mode: want $cond; got $(rfctl status --json | jq -c '.clients[0]')"
	fi
	if [ -n "$logpat" ]; then
		wait_for 3 grep -q "$logpat" "$ART/broker.log" || fail "$mode: no '$logpat' in the log"
		wait_for 10 status_q '.clients[] | select(.name=="hostile") | select(.restarts >= 1)' || fail "$mode: not restarted"
	fi
	ok "$mode: contained"
	rf_cleanup; BROKER_PID=""; TAIL_PID=""
	mount -t tmpfs rf-test "$RF"; mkdir -p "$RF/run" "$RF/clients.d"
}

check_mode bogus-responses '.foreign + .late >= 50' ''
check_mode duplicate '.late + .duplicate >= 1' ''
check_mode corrupt-ring '' 'killed: corrupt event ring'
check_mode corrupt-resp '' 'killed: corrupt response ring'
check_mode garbage-ctl '' 'killed: malformed control message'
check_mode oversized-ctl '' 'killed: oversized control message'
check_mode bad-alert '' 'killed: malformed control message'
echo "hostile: all modes contained"
