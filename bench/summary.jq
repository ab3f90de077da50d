# bench/summary.jq - turns the raw samples of bench/run.sh (jq -s) into the
# summary: medians over repetitions, ratios against the baselines measured
# in the same run, and the targets of issue 4 with met / missed.

def median: map(select(. != null)) | sort
	| if length == 0 then null
	  elif length % 2 == 1 then .[(length - 1) / 2]
	  else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def rnd(d): if . == null then null else (. * d | round) / d end;
def ratio(a; b): if a == null or b == null or b == 0 then null else a / b end;

. as $all
| ($all | map(select(.phase == "meta")) | .[0]) as $meta
| ($all | map(select(.phase == "meta_end")) | .[0]) as $meta_end
| ($all | map(select(.phase == "auth"))) as $auth
| ($all | map(select(.phase == "client"))) as $client
| ($all | map(select(.phase == "mem"))) as $mem
| ($all | map(select(.phase == "telemetry"))) as $tele
| ($all | map(select(.phase == "storm"))) as $storm
| ($all | map(select(.phase == "machine")) | group_by([.op, .cpus]) | map({
	op: .[0].op, cpus: .[0].cpus, reps: length,
	ns_per_op: (map(.ns_per_op) | median), p50_ns: (map(.p50_ns) | median), p99_ns: (map(.p99_ns) | median)
  })) as $machine

# client-side AUTH round trip: per repetition the slowest client (an event is
# decided when every asked client answered), then the median over repetitions
| ($client | group_by([.wl, .cfg]) | map({
	key: "\(.[0].wl)/\(.[0].cfg)",
	value: (group_by(.rep) | map({
		recv_p50: (map(.recv_p50_ns) | max), resp_p50: (map(.resp_p50_ns) | max),
		resp_p99: (map(.resp_p99_ns) | max), resp_p999: (map(.resp_p999_ns) | max),
		auth: (map(.auth_exec + .auth_open) | max),
		cpu_per_auth: (map(if .cpu_ns != null and (.auth_exec + .auth_open) > 0
			then .cpu_ns / (.auth_exec + .auth_open) else null end) | max)})
	  | {client_recv_p50_ns: (map(.recv_p50) | median), client_resp_p50_ns: (map(.resp_p50) | median),
	     client_resp_p99_ns: (map(.resp_p99) | median), client_resp_p999_ns: (map(.resp_p999) | median),
	     client_auth_events: (map(.auth) | median),
	     client_cpu_ns_per_event: (map(.cpu_per_auth) | median)})
  }) | from_entries) as $crt

| ($auth | group_by([.wl, .cfg]) | map({
	wl: .[0].wl, cfg: .[0].cfg, reps: length,
	ns_per_op: (map(.ns_per_op) | median),
	p50_ns: (map(.p50_ns) | median), p99_ns: (map(.p99_ns) | median), p999_ns: (map(.p999_ns) | median),
	ops: (map(.n) | median),
	agent_cpu_ns_per_op: (map(.agent_cpu_ns_per_op) | median),
	auth_events_per_op: (map(if .n > 0 and .auth_events > 0 then .auth_events / .n else null end) | median),
	# per AUTH event only where the workload raised about one per operation (not when cached)
	cpu_ns_per_event: (map(if .auth_events > .n / 2 then .cpu_ns_per_event else null end) | median),
	by_default: (map(.by_default) | add)
  })) as $rows0
| ($rows0 | map({key: "\(.wl)/\(.cfg)", value: .ns_per_op}) | from_entries) as $m
| ($rows0 | map(. + {
	vs_none: ratio(.ns_per_op; $m["\(.wl)/none"]),
	vs_floor: ratio(.ns_per_op; $m["\(.wl)/floor"]),
	vs_floor_cache: ratio(.ns_per_op; $m["\(.wl)/floor-cache"])
  } + ($crt["\(.wl)/\(.cfg)"] // {}))) as $rows

| ($tele | group_by(.cfg) | map({
	cfg: .[0].cfg, clients: (.[0].cfg | ltrimstr("replay-") | tonumber),
	reps: (map(.rep) | unique | length),
	replayed: (map(.replayed) | median),
	# per repetition: the slowest client's rate, the drops of all clients
	per_client_events_per_s: (group_by(.rep) | map(map(.notify_per_s) | min) | median),
	drops: (group_by(.rep) | map(
		([.[0].status_dropped // 0] + [map(.replayed - .notify) | add]) | max) | add),
	seq_gaps: (map(.gaps) | add),
	broker_cpu_ns_per_event: (group_by(.rep) | map(.[0].broker_cpu_ns_per_event) | median),
	broker_hwm_kib: (map(.broker_hwm_kib) | max),
	broker_rss_kib: (map(.broker_rss_kib) | max)
  })) as $telerows

| ($storm | group_by(.cfg) | map({key: .[0].cfg, value: {
	reps: length, spawns_per_s: (map(.per_s) | median),
	drops: (map((.client_gaps // 0) + (.broker_dropped // 0) + (.sensor_lost // 0)) | add),
	sensor: (map(.sensor) | .[0]),
	sensor_events_per_spawn: (map(if .n > 0 and .sensor_events != null then .sensor_events / .n else null end) | median),
	client_events: (map(.client_events) | median),
	broker_cpu_ns_per_event: (map(.broker_cpu_ns_per_event) | median)
  }}) | from_entries) as $stormrows

| ([$mem[] | select(.cfg | startswith("rf4") and (contains("@") | not)) | .hwm_kib] + [$tele[] | select(.cfg == "replay-4") | .broker_hwm_kib]
   | max) as $hwm4
| ([$mem[] | select(.cfg | startswith("rf4") and (contains("@") | not)) | .rss_kib] + [$tele[] | select(.cfg == "replay-4") | .broker_rss_kib]
   | max) as $rss4

| def row(wl; cfg): $rows | map(select(.wl == wl and .cfg == cfg)) | .[0];
  def tele(n): $telerows | map(select(.clients == n)) | .[0];
  def target(id; desc; value; op; limit; extra):
	{id: id, target: desc, value: (value | rnd(1000)), limit: limit, op: op,
	 met: (if value == null then null elif op == "<=" then value <= limit else value >= limit end)} + extra;

{
  meta: ($meta + {loadavg_end: $meta_end.loadavg_end, seconds: $meta_end.seconds} | del(.phase)),
  skipped: ($all | map(select(.phase == "skip")) | map(del(.phase))),
  machine: $machine,
  auth: ($rows | map(with_entries(.value |= (if type == "number" then rnd(1000) else . end)))),
  telemetry: $telerows,
  storm: ($stormrows + {rf_vs_none: (ratio($stormrows.rf.spawns_per_s; $stormrows.none.spawns_per_s) | rnd(1000))}),
  memory: {broker_rss_kib_4_clients: $rss4, broker_hwm_kib_4_clients: $hwm4,
	   by_config: ($mem | group_by(.cfg) | map({key: .[0].cfg, value: {rss_kib: (map(.rss_kib) | max), hwm_kib: (map(.hwm_kib) | max)}}) | from_entries)},
  targets: [
	target("spawn"; "spawn (exec+open AUTH, 1 client, cache on) / none"; row("spawn"; "rf1").vs_none; "<="; 1.05; {}),
	target("open-hot"; "open-hot, 1 client / none"; row("open-hot"; "rf1").vs_none; "<="; 1.15; {}),
	target("open-cold"; "open-cold, 1 client / floor"; row("open-cold"; "rf1").vs_floor; "<="; 1.25; {}),
	target("auth-p99-e2e"; "AUTH round trip p99, us (open() latency, open-cold, 1 client)";
		(row("open-cold"; "rf1").p99_ns // null | if . == null then null else . / 1000 end); "<="; 100; {}),
	target("auth-p99-client"; "AUTH round trip p99, us (broker receipt -> client answered, open-cold, 1 client)";
		(row("open-cold"; "rf1").client_resp_p99_ns // null | if . == null then null else . / 1000 end); "<="; 100; {}),
	target("open-cold-4"; "open-cold, 4 clients / floor"; row("open-cold"; "rf4").vs_floor; "<="; 1.5; {}),
	target("fapolicyd-open-hot"; "open-hot: fapolicyd / ringfence (1 client)";
		ratio(row("open-hot"; "fapolicyd").ns_per_op; row("open-hot"; "rf1").ns_per_op); ">="; 10; {}),
	target("fapolicyd-spawn"; "spawn: fapolicyd / ringfence (1 client)";
		ratio(row("spawn"; "fapolicyd").ns_per_op; row("spawn"; "rf1").ns_per_op); ">="; 1.5; {}),
	target("replay-1"; "replay to 1 client, events/s (zero drops)"; tele(1).per_client_events_per_s; ">="; 1000000;
		{drops: tele(1).drops}),
	target("replay-4"; "replay to each of 4 clients, events/s (zero drops)"; tele(4).per_client_events_per_s; ">="; 500000;
		{drops: tele(4).drops}),
	target("storm-drops"; "exec storm at full speed: events dropped"; $stormrows.rf.drops; "<="; 0;
		{rate_vs_none: ratio($stormrows.rf.spawns_per_s; $stormrows.none.spawns_per_s)}),
	target("rss-4"; "broker resident memory (VmRSS after the load), MiB, 4 clients"; ($rss4 // null | if . == null then null else . / 1024 end); "<="; 32;
		{peak_hwm_mib: ($hwm4 // null | if . == null then null else . / 1024 end)})
  ]
  | map(if (.id == "replay-1" or .id == "replay-4") and .met == true and (.drops // 0) > 0 then .met = false else . end)
}
