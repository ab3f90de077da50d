#!/bin/bash
# Cacheable allows become kernel ignore marks: the second exec of an unchanged
# file raises no AUTH event; modifying the file drops the mark.
. "$(dirname "$0")/lib.sh"
rf_enter_ns "$@"

rf_config
REPORT="$ART/report.txt"
rf_manifest cacher "$B/tests/rf-test-client" "--cache --report $REPORT" auth_exec enforce
rf_start
wait_for 10 client_running cacher || fail "client not running"
wait_for 5 status_q '.auth.exec_marked == true' || fail "no exec marks"
printf '#!/bin/sh\nexit 0\n' >"$RF/script.sh"; chmod +x "$RF/script.sh"
"$RF/script.sh" || fail "first run"
sleep 0.2
n1=$(grep -c "auth exec .* $RF/script.sh" "$REPORT")
[ "$n1" -eq 1 ] || fail "first exec: want 1 AUTH event, client saw $n1"
status_q '.auth.cache_marks >= 1' >/dev/null || fail "no cache mark placed"
for _ in 1 2 3; do "$RF/script.sh" || fail "cached run"; done
sleep 0.2
n2=$(grep -c "auth exec .* $RF/script.sh" "$REPORT")
[ "$n2" -eq 1 ] || fail "cached execs still raised AUTH events ($n2)"
ok "repeated exec of an unchanged file answered by the kernel cache"
echo "# changed" >>"$RF/script.sh"
"$RF/script.sh" || fail "run after change"
sleep 0.2
n3=$(grep -c "auth exec .* $RF/script.sh" "$REPORT")
[ "$n3" -eq 2 ] || fail "exec after modification must be asked again (saw $n3 events)"
ok "modifying the file dropped the cached verdict"
