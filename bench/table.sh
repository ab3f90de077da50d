#!/bin/bash
# bench/table.sh SUMMARY.json - prints bench/run.sh's summary as tables.
set -u
S=${1:?usage: table.sh SUMMARY.json}
tab() { column -t -s $'\t'; }
jq -r '"ringfence bench  \(.meta.date)  kernel \(.meta.kernel)  \(.meta.cpus) CPUs  reps \(.meta.reps)  load \(.meta.loadavg_start) -> \(.meta.loadavg_end)\(if .meta.smoke then "  (SMOKE: not a measurement)" else "" end)"' "$S"
echo
echo "Machine: one round trip between two processes, or round a ring of four (wake-ring4) (median of reps, us)"
jq -r '
def us: if . == null then "-" else (. / 1000 * 100 | round / 100 | tostring) end;
(["hand-off", "cpus", "mean", "p50", "p99"] | @tsv),
(.machine[] | [.op, .cpus, (.ns_per_op | us), (.p50_ns | us), (.p99_ns | us)] | @tsv)' "$S" | tab
echo
echo "AUTH workloads (median of reps; us per operation; ratios against baselines of the same run)"
jq -r '
def f(d): if . == null then "-" else (. * d | round / d | tostring) end;
def us: if . == null then "-" else (. / 1000 * 10 | round / 10 | tostring) end;
(["workload", "config", "us/op", "x none", "x floor", "p50", "p99", "p999", "client p99", "agent us/op", "agent ns/event", "client ns/event"] | @tsv),
(.auth | sort_by(.wl, .cfg)[] |
  [.wl, .cfg, (.ns_per_op | us), (.vs_none | f(100)), (.vs_floor | f(100)), (.p50_ns | us), (.p99_ns | us), (.p999_ns | us),
   (.client_resp_p99_ns | us), (.agent_cpu_ns_per_op | us), (.cpu_ns_per_event | f(1)),
   # the client CPU per AUTH event, where it saw enough of them to mean something
   (if (.client_auth_events // 0) >= 100 then .client_cpu_ns_per_event else null end | f(1))] | @tsv)' "$S" | tab
echo
echo "Telemetry (replay at full speed; rate of the slowest client, median of reps)"
jq -r '
def f(d): if . == null then "-" else (. * d | round / d | tostring) end;
(["config", "events/s per client", "drops", "broker ns/event", "broker RSS KiB", "HWM KiB"] | @tsv),
(.telemetry[] | [.cfg, (.per_client_events_per_s | f(1)), .drops, (.broker_cpu_ns_per_event | f(1)), .broker_rss_kib, .broker_hwm_kib] | @tsv)' "$S" | tab
echo
echo "Exec storm (2 workers, posix_spawn+wait of a static binary; median of reps)"
jq -r '
def f(d): if . == null then "-" else (. * d | round / d | tostring) end;
(["config", "spawns/s", "drops", "sensor", "broker ns/event"] | @tsv),
(.storm | to_entries[] | select(.value | type == "object") |
  [.key, (.value.spawns_per_s | f(1)), (.value.drops // "-"), (.value.sensor // "-"), (.value.broker_cpu_ns_per_event | f(1))] | @tsv)' "$S" | tab
echo
echo "Targets (issue 4)"
jq -r '
(["target", "value", "limit", "met"] | @tsv),
(.targets[] | [.target, (.value // "-" | tostring), "\(.op) \(.limit)",
  (if .met == null then "n/a" elif .met then "MET" else "MISSED" end)] | @tsv)' "$S" | tab
jq -r 'if (.skipped | length) > 0 then "skipped: " + (.skipped | map("\(.cfg) (\(.why))") | join(", ")) else empty end' "$S"
