# src/content/delivery.mk - signed content delivery (tuf.h): the metadata
# library and the repository fetchers, linked into ringfenced and rfctl,
# and rf-fetch, the helper that does their http(s) transfers.
# Included from the top-level Makefile after content.mk (uses B, CC, CLANG,
# ALL_CFLAGS, LDFLAGS_SAN, Q, the obj helper and fuzz.mk's rules):
#
#   $(TUF_OBJS), $(LDLIBS_TUF)   what ringfenced and rfctl link
#   $(FETCH_BINS)                build/bin/rf-fetch (the top-level Makefile adds it to `all`)
#   make fuzz                    also builds $(B)/fuzz/fuzz_tuf
#   make fuzz-corpus-tuf         regenerates tests/fuzz/corpus/tuf/ (committed)
#
# rfctl's `content publish` reads bundles with the engine's loader, so rfctl
# links the engine objects too.

TUF_SRCS   := src/content/tuf.c src/content/fetch.c
TUF_OBJS   := $(call obj,$(TUF_SRCS))
LDLIBS_TUF := -lsodium -ljson-c

# Only rf-fetch links libcurl (and, through it, a TLS library): the broker
# and rfctl run it as a child process (fetch.c), found next to themselves.
FETCH_BINS := $(B)/bin/rf-fetch
$(B)/bin/rf-fetch: $(call obj,src/content/rf-fetch.c)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ -lcurl -lseccomp

RFCTL_CONTENT_OBJS   := $(TUF_OBJS) $(CONTENT_ENGINE_OBJS)
LDLIBS_RFCTL_CONTENT := $(LDLIBS_TUF) $(LDLIBS_ENGINE)

# The link lines are in the top-level Makefile; these are their extra inputs.
$(B)/bin/ringfenced: $(TUF_OBJS)
$(B)/bin/rfctl: $(RFCTL_CONTENT_OBJS)

# tests.mk's unit tests link every broker object but main.o, and the
# broker calls rf_tuf_*: they link the library too.
TUF_BROKER_TESTS := $(filter-out $(B)/tests/test_tuf $(B)/tests/test_fetch $(CONTENT_TEST_BINS),$(TEST_BINS))
$(TUF_BROKER_TESTS): $(TUF_OBJS)
$(TUF_BROKER_TESTS): LDLIBS_BROKER += $(TUF_OBJS) $(LDLIBS_TUF)

# test_tuf needs neither the broker nor the engine (an explicit rule wins
# over tests.mk's test_% pattern).
$(B)/tests/test_tuf: $(B)/obj/tests/unit/test_tuf.o $(TUF_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_TUF) -lcmocka

# test_fetch runs fetch.c against fake helpers (RF_FETCH): the same link.
$(B)/tests/test_fetch: $(B)/obj/tests/unit/test_fetch.o $(TUF_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $^ $(LDLIBS_TUF) -lcmocka

# The fuzz harness serves its input from memory: no fetch.c, no libcurl.
FUZZ_SRCS_tuf := src/content/tuf.c
FUZZ_LIBS_tuf := -lsodium -ljson-c
$(eval $(call fuzz_link_rule,tuf))
fuzz: $(B)/fuzz/fuzz_tuf

# The seeds: the harness's own fixture, written out by the same file built
# as a program (-DFUZZ_TUF_GEN).
$(B)/fuzz/gen_tuf_corpus: tests/fuzz/fuzz_tuf.c src/content/tuf.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -DFUZZ_TUF_GEN $(LDFLAGS_SAN) -o $@ $^ -lsodium -ljson-c

.PHONY: fuzz-corpus-tuf
fuzz-corpus-tuf: $(B)/fuzz/gen_tuf_corpus
	$(Q)mkdir -p tests/fuzz/corpus/tuf
	$(Q)$< tests/fuzz/corpus/tuf
