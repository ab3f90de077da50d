# src/content/content.mk - detection content: the Sigma compiler (rf-content),
# the bundle loader and rule engine, and the rf-detect client.  Included from
# the top-level Makefile after tests/tests.mk (uses B, CC, ALL_CFLAGS,
# LDFLAGS_SAN, Q and the obj helper):
#
#   $(CONTENT_BINS)    build/bin/rf-content, build/bin/rf-detect (the lead adds them to `all`)
#   make content-tests the unit tests test_sigma*, test_bundle*, test_engine*
#   make detect-bench  compiles ../shared/sigma and measures the engine per exec
#
# The engine (schema, loader, evaluator, message view) is what clients link;
# the compiler adds libyaml and the bundle writer.  rf-detect is a client: it
# links libringfence and nothing of the broker.

CONTENT_ENGINE_SRCS   := src/content/schema.c src/content/load.c src/content/eval.c src/content/view.c
CONTENT_COMPILER_SRCS := src/content/bundle_write.c src/content/sigma.c
CONTENT_ENGINE_OBJS   := $(call obj,$(CONTENT_ENGINE_SRCS))
CONTENT_COMPILER_OBJS := $(call obj,$(CONTENT_COMPILER_SRCS))
LDLIBS_ENGINE   := -lpcre2-8 -lsodium
LDLIBS_COMPILER := -lyaml $(LDLIBS_ENGINE)

DETECT_SRCS := $(wildcard src/clients/rf-detect/*.c)
DETECT_OBJS := $(call obj,$(DETECT_SRCS))

CONTENT_BINS := $(B)/bin/rf-content $(B)/bin/rf-detect

$(B)/bin/rf-content: $(call obj,src/content/rf-content.c) $(CONTENT_COMPILER_OBJS) $(CONTENT_ENGINE_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_COMPILER)

$(B)/bin/rf-detect: $(DETECT_OBJS) $(CONTENT_ENGINE_OBJS) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $(DETECT_OBJS) $(CONTENT_ENGINE_OBJS) $(B)/lib/libringfence.a \
		$(LDLIBS_ENGINE) -lpthread

# Unit tests of this fragment link the content objects instead of the broker's
# (a static pattern rule: it takes precedence over tests.mk's test_% rule).
# The rf-detect objects but main.o are linked too, for the process cache.
CONTENT_TEST_SRCS := $(wildcard tests/unit/test_sigma*.c tests/unit/test_bundle*.c tests/unit/test_engine*.c)
CONTENT_TEST_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(CONTENT_TEST_SRCS))
DETECT_LIB_OBJS   := $(filter-out $(B)/obj/src/clients/rf-detect/main.o,$(DETECT_OBJS))

$(CONTENT_TEST_BINS): $(B)/tests/%: $(B)/obj/tests/unit/%.o $(CONTENT_COMPILER_OBJS) $(CONTENT_ENGINE_OBJS) \
		$(DETECT_LIB_OBJS) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(CONTENT_COMPILER_OBJS) $(CONTENT_ENGINE_OBJS) $(DETECT_LIB_OBJS) \
		$(B)/lib/libringfence.a $(LDLIBS_COMPILER) -lcmocka -lpthread

.PHONY: content-tests detect-bench
content-tests: $(CONTENT_TEST_BINS)

# The benchmark: every rule of ../shared/sigma, synthetic and corpus-derived
# exec events; prints microseconds per exec event (docs/CONTENT.md).
RF_SIGMA_DIR ?= ../shared/sigma
$(B)/bench/rf-detect-bench: $(call obj,bench/detect-bench.c) $(DETECT_LIB_OBJS) $(CONTENT_ENGINE_OBJS) \
		$(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_ENGINE) -lpthread

detect-bench: $(B)/bench/rf-detect-bench $(B)/bin/rf-content
	$(Q)$(B)/bin/rf-content compile -q -o $(B)/bench/sigma.rfb $(RF_SIGMA_DIR) >/dev/null
	$(Q)$(B)/bench/rf-detect-bench $(B)/bench/sigma.rfb

# Seeds of tests/fuzz/fuzz_bundle.c: small bundles compiled from ringfence's
# own rules in tests/fuzz/corpus/bundle-rules (committed; rerun after a
# format change).
FUZZ_BUNDLE_RULES := tests/fuzz/corpus/bundle-rules
.PHONY: fuzz-corpus-bundle
fuzz-corpus-bundle: $(B)/bin/rf-content
	$(Q)mkdir -p tests/fuzz/corpus/bundle
	$(Q)$(B)/bin/rf-content compile -q --strict -V seed-all -o tests/fuzz/corpus/bundle/all.rfb $(FUZZ_BUNDLE_RULES)
	$(Q)$(B)/bin/rf-content compile -q --strict -V seed-exec -o tests/fuzz/corpus/bundle/exec.rfb \
		$(FUZZ_BUNDLE_RULES)/shell-pipe.yml
	$(Q)$(B)/bin/rf-content compile -q --strict -V seed-file -o tests/fuzz/corpus/bundle/file.rfb \
		$(FUZZ_BUNDLE_RULES)/cron-write.yml
	$(Q)$(B)/bin/rf-content compile -q --strict -V seed-net -o tests/fuzz/corpus/bundle/net.rfb \
		$(FUZZ_BUNDLE_RULES)/callback.yml
	$(Q)$(B)/bin/rf-content compile -q --strict -V seed-parent -o tests/fuzz/corpus/bundle/parent.rfb \
		$(FUZZ_BUNDLE_RULES)/parent.yml
