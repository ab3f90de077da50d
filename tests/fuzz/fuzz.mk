# tests/fuzz/fuzz.mk - libFuzzer harnesses, one per parser of untrusted bytes.
# Included from the top-level Makefile (after B, CLANG, Q and tests.mk).
#
#   make fuzz          builds $(B)/fuzz/fuzz_NAME for every harness
#   make fuzz-smoke    builds them and runs tests/fuzz/run-smoke.sh (20 s each)
#   make fuzz-corpus   regenerates the committed seeds in tests/fuzz/corpus/
#
# Harnesses and the sources they test are compiled by clang with
# -fsanitize=fuzzer-no-link,address,undefined into $(B)/fuzz-obj, apart from
# the normal objects, so no sanitizer or coverage flag reaches the normal
# build.  Each harness links only the sources it needs; -ffunction-sections
# with --gc-sections drops the parts of those files it does not reach (say,
# the rest of bclient.c around rf_ctl_validate), so their other dependencies
# need not be linked.  -z start-stop-gc (GNU ld >= 2.37, lld) lets the
# coverage tables of dropped functions go with them.

FUZZ_NAMES  := msg ctl ops_req recfile config respring bundle
FUZZ_BINS   := $(patsubst %,$(B)/fuzz/fuzz_%,$(FUZZ_NAMES))
FUZZ_OBJDIR := $(B)/fuzz-obj
FUZZ_CFLAGS := -std=gnu11 -D_GNU_SOURCE -O1 -g -fno-omit-frame-pointer \
	-fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
	-ffunction-sections -fdata-sections \
	-Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-Iinclude -Isrc
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined -Wl,--gc-sections -Wl,-z,start-stop-gc

fuzz_obj = $(patsubst %.c,$(FUZZ_OBJDIR)/%.o,$(1))

# What each harness tests, besides its own tests/fuzz/fuzz_NAME.c.
FUZZ_SRCS_msg      := src/lib/msg.c src/ctl/render.c
FUZZ_LIBS_msg      := -ljson-c
FUZZ_SRCS_ctl      := src/broker/bclient.c src/lib/msg.c
FUZZ_SRCS_ops_req  := src/broker/ops.c src/lib/msg.c
FUZZ_SRCS_recfile  := src/common/recfile.c src/lib/msg.c
FUZZ_SRCS_config   := src/broker/config.c src/lib/msg.c
FUZZ_LIBS_config   := -linih
FUZZ_SRCS_respring := src/common/ring.c src/common/msgbuild.c src/lib/msg.c
# the content bundle loader and evaluator (src/content/content.mk; seeds: make fuzz-corpus-bundle)
FUZZ_SRCS_bundle   := src/content/load.c src/content/eval.c src/content/schema.c
FUZZ_LIBS_bundle   := -lpcre2-8 -lsodium

.PHONY: fuzz fuzz-smoke fuzz-corpus
fuzz: $(FUZZ_BINS)

fuzz-smoke: fuzz
	$(Q)tests/fuzz/run-smoke.sh $(B)

$(FUZZ_OBJDIR)/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

define fuzz_link_rule
$(B)/fuzz/fuzz_$(1): $(call fuzz_obj,tests/fuzz/fuzz_$(1).c $(FUZZ_SRCS_$(1)))
	@mkdir -p $$(dir $$@)
	$$(Q)$$(CLANG) $$(FUZZ_LDFLAGS) -o $$@ $$^ $$(FUZZ_LIBS_$(1))
endef
$(foreach n,$(FUZZ_NAMES),$(eval $(call fuzz_link_rule,$(n))))

# The seed generator is an ordinary program on libringfence (msgbuild, ring).
$(B)/fuzz/gen_corpus: tests/fuzz/gen_corpus.c $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) $(LDFLAGS_SAN) -o $@ $< $(B)/lib/libringfence.a -lpthread

fuzz-corpus: $(B)/fuzz/gen_corpus
	$(Q)$< tests/fuzz/corpus

-include $(shell find $(FUZZ_OBJDIR) -name '*.d' 2>/dev/null)
