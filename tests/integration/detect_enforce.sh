#!/bin/bash
# rf-detect in enforce mode: the corpus compiled with the crontab-removal rule
# (c2e234de) marked blocking.  An AUTH exec matching it is denied (EPERM) by
# rf-detect, and reported once as an alert on the AUTH event; an exec that
# matches only non-blocking rules runs, and its alert is not repeated when
# the NOTIFY exec of the same exec follows the AUTH one.
. "$(dirname "$0")/lib.sh"
REPO=${RF_ROOT:-$(cd "$(dirname "$0")/../.." && pwd)}
SIGMA=${RF_SIGMA_DIR:-$REPO/../shared/sigma}
if [ ! -x "$B/bin/rf-detect" ] || [ ! -x "$B/bin/rf-content" ]; then
	echo "skip: rf-detect / rf-content not built in $B (src/content/content.mk)"
	exit 77
fi
[ -d "$SIGMA/rules" ] || { echo "skip: no Sigma corpus at $SIGMA (set RF_SIGMA_DIR)"; exit 77; }
rf_enter_ns "$@"

BLOCK=c2e234de-03a3-41e1-b39a-1e56dc17ba67     # proc_creation_lnx_crontab_removal
TMPEXEC=312b42b1-bded-4441-8b58-163a3af58775   # proc_creation_lnx_susp_execution_tmp_folder
CONTENT="$ART/content"
mkdir -p "$CONTENT"
"$B/bin/rf-content" compile -q --block "$BLOCK" -o "$CONTENT/sigma.rfb" "$SIGMA" >"$ART/compile.txt" \
	|| fail "rf-content compile failed"
chmod 755 "$CONTENT"
chmod 644 "$CONTENT/sigma.rfb"
"$B/bin/rf-content" info "$CONTENT/sigma.rfb" | grep -q "^rule $BLOCK .* blocking " || fail "rule $BLOCK not marked blocking"

rf_config
rf_manifest detect "$B/bin/rf-detect" "--bundle $CONTENT/sigma.rfb --enforce" "auth_exec exec fork exit create close_write unlink rename connect accept" enforce
echo "read = $CONTENT" >>"$RF/clients.d/detect.conf"
rf_start
rf_tail_start
wait_for 10 client_running detect || fail "rf-detect not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "exec permission marks not placed"
ok "rf-detect enforcing, exec marks placed"

# a harmless stand-in for crontab, on the watched tmpfs (AUTH exec applies there)
mkdir -p "$RF/bin"
cp /bin/true "$RF/bin/crontab"

out=$(cd "$RF" && env PATH="$RF/bin:/usr/bin:/bin" crontab -r 2>&1); rc=$?
[ $rc -eq 126 ] || fail "crontab -r: want exit 126 (EPERM from execve), got $rc: $out"
ok "crontab -r denied"

env PATH="$RF/bin:/usr/bin:/bin" crontab -V &
CPID=$!
wait $CPID || fail "crontab -V (matches only a non-blocking rule) did not run"
ok "crontab -V allowed"

sleep 1.5
tail_has 'select(.type=="exec" and .action=="auth" and .target.path=="'$RF'/bin/crontab" and .verdict.result=="deny" and .verdict.by=="detect")' \
	|| fail "tail: no AUTH exec deny of crontab decided by detect"
tail_has 'select(.type=="alert" and .rule.id=="'$BLOCK'" and .trigger.action=="auth")' \
	|| fail "tail: no alert $BLOCK on the AUTH exec"
n=$(jq -s '[.[] | select(.type=="alert" and .rule.id=="'$TMPEXEC'" and .process.pid=='$CPID')] | length' "$ART/tail.jsonl")
[ "$n" -eq 1 ] || fail "alert $TMPEXEC for crontab -V (pid $CPID): want once, got $n"
ok "alerts: the blocking rule on the AUTH exec, the allowed exec reported once"
kill -0 "$BROKER_PID" || fail "broker died"
echo "detect_enforce: all checks passed"
