# src/clients/rf-scan/scan.mk - the rf-scan client (YARA, libyara-dev).
# Included from the top-level Makefile after tests/tests.mk:
#
#   include src/clients/rf-scan/scan.mk
#   all: $(SCAN_BINS)
#
# rf-scan is a client: it links libringfence and libyara, nothing of the broker.

SCAN_SRCS := $(wildcard src/clients/rf-scan/*.c)
SCAN_OBJS := $(call obj,$(SCAN_SRCS))
LDLIBS_SCAN := $(shell pkg-config --libs yara 2>/dev/null || echo -lyara)

SCAN_BINS := $(B)/bin/rf-scan

$(B)/bin/rf-scan: $(SCAN_OBJS) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $(SCAN_OBJS) $(B)/lib/libringfence.a $(LDLIBS_SCAN) -lpthread
