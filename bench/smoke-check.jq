# bench/smoke-check.jq - true when a smoke run produced numbers for every
# AUTH workload under every configuration it ran, for both replay runs and
# for the storm.
(.auth | length > 0) and
(.auth | all(.ns_per_op != null and .ns_per_op > 0)) and
((.auth | map(.wl) | unique) == ["open-cold", "open-hot", "spawn"]) and
(.auth | map(select(.cfg | startswith("rf"))) | length > 0) and
(.auth | map(select(.cfg | startswith("rf"))) | all(.client_resp_p50_ns != null)) and
(.telemetry | length == 2) and (.telemetry | all(.per_client_events_per_s != null and .per_client_events_per_s > 0)) and
(.storm.none.spawns_per_s > 0) and (.storm.rf.spawns_per_s > 0) and (.storm.rf.client_events != null)
