# bench/bench.mk - the benchmark harness (docs/PERFORMANCE.md).  Included
# from the top-level Makefile:
#
#   make bench         full run: table on stdout, JSON in $(B)/bench.json
#   make bench-smoke   every workload briefly (< 60 s), checks that it works (CI)
#
# Needs root (fanotify permission events, eBPF); everything that places a
# permission mark runs in a private mount namespace on its own tmpfs, under
# timeouts.  Peers (fapolicyd, auditd) only with RF_BENCH_PEERS=1.
# BENCH_ARGS passes options to bench/run.sh (e.g. BENCH_ARGS="--reps 7").

BENCH_BINS := $(B)/bench/rfb-load $(B)/bench/rfb-floor $(B)/bench/rfb-client $(B)/bench/rfb-nop
BENCH_ARGS ?=

.PHONY: bench bench-smoke bench-build

bench-build: $(BENCH_BINS)

# The workload driver and the floor are not sanitized even in sanitizer
# builds: they are the measuring instruments.
BENCH_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Iinclude

$(B)/bench/rfb-load: bench/rfb-load.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

$(B)/bench/rfb-floor: bench/rfb-floor.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BENCH_CFLAGS) -o $@ $<

# A static binary: its exec opens nothing else (no loader, no libraries).
$(B)/bench/rfb-nop: bench/rfb-nop.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(BENCH_CFLAGS) -static -o $@ $<

# The client uses the public API only, like any third-party product.
$(B)/bench/rfb-client: $(B)/obj/bench/rfb-client.o $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(B)/lib/libringfence.a -lpthread

bench: $(BINS) $(BENCH_BINS)
	$(Q)bench/run.sh --build $(B) $(BENCH_ARGS)

# exit status 77 (not root, no unshare/jq) is a skip, not a failure
bench-smoke: $(BINS) $(BENCH_BINS)
	$(Q)bench/run.sh --build $(B) --smoke $(BENCH_ARGS) || [ $$? -eq 77 ]
