# ringfence - top-level build.  `make` builds, `make run` runs, `make test` tests.
# Plain make: the BPF pipeline (vmlinux.h -> .bpf.o -> .skel.h) is easier to
# read here than in a generator.  Out-of-tree variants: `make B=build-asan SAN=address,undefined`.

B        ?= build
CC       ?= cc
CLANG    ?= clang
BPFTOOL  ?= bpftool
SAN      ?=
V        ?= 0

ifeq ($(V),0)
Q := @
else
Q :=
endif

PKGS     := libbpf libseccomp libsodium json-c inih libcap
CFLAGS_BASE := -std=gnu11 -D_GNU_SOURCE -O2 -g -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
	-fno-strict-aliasing -fstack-protector-strong -D_FORTIFY_SOURCE=2 -fPIC \
	-Iinclude -Isrc -I$(B)/bpf
# gcc warns about snprintf truncation that the code bounds on purpose; clang has no such flag
ifeq ($(shell $(CC) --version 2>/dev/null | grep -c clang),0)
CFLAGS_BASE += -Wno-format-truncation
endif
ifneq ($(SAN),)
CFLAGS_BASE += -fsanitize=$(SAN) -fno-omit-frame-pointer -fno-sanitize-recover=all -U_FORTIFY_SOURCE
LDFLAGS_SAN := -fsanitize=$(SAN)
endif
CFLAGS   ?=
ALL_CFLAGS := $(CFLAGS_BASE) $(CFLAGS)
LDLIBS_BROKER := -lbpf -lelf -lz -ljson-c -linih -lseccomp -lcap -lsodium -lsystemd -lpthread
LDLIBS_CTL := -ljson-c -lpthread

ARCH := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')

COMMON_SRCS := $(wildcard src/common/*.c)
LIB_SRCS    := $(wildcard src/lib/*.c)
BROKER_SRCS := $(wildcard src/broker/*.c)
CTL_SRCS    := $(wildcard src/ctl/*.c)
BPF_SRCS    := $(wildcard src/bpf/*.bpf.c)
BPF_SKELS   := $(patsubst src/bpf/%.bpf.c,$(B)/bpf/%.skel.h,$(BPF_SRCS))

obj = $(patsubst %.c,$(B)/obj/%.o,$(1))

LIB_OBJS    := $(call obj,$(LIB_SRCS) $(COMMON_SRCS))
BROKER_OBJS := $(call obj,$(BROKER_SRCS))
CTL_OBJS    := $(call obj,$(CTL_SRCS))

BINS := $(B)/bin/ringfenced $(B)/bin/rfctl $(B)/bin/rf-example-deny-exec

.PHONY: all deps run test unit integration fuzz clean bench
all: $(BINS) $(B)/lib/libringfence.so $(B)/lib/libringfence.a tests-build

deps:
	$(Q)scripts/install-deps.sh

$(B)/bpf/vmlinux.h:
	@mkdir -p $(dir $@)
	$(Q)$(BPFTOOL) btf dump file /sys/kernel/btf/vmlinux format c > $@.tmp && mv $@.tmp $@

$(B)/bpf/%.bpf.o: src/bpf/%.bpf.c $(wildcard src/bpf/*.h) $(B)/bpf/vmlinux.h
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) -g -O2 -target bpf -D__TARGET_ARCH_$(ARCH) -I$(B)/bpf -Isrc/bpf -Isrc -c $< -o $@

$(B)/bpf/%.skel.h: $(B)/bpf/%.bpf.o
	$(Q)$(BPFTOOL) gen skeleton $< name rf_$(subst -,_,$*)_bpf > $@.tmp && mv $@.tmp $@

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# The broker's eBPF sensor includes the skeletons.
$(BROKER_OBJS): | $(BPF_SKELS)

$(B)/lib/libringfence.a: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(B)/lib/libringfence.so: $(LIB_OBJS)
	@mkdir -p $(dir $@)
	$(Q)$(CC) -shared -Wl,-soname,libringfence.so.0 $(LDFLAGS_SAN) -o $@ $^ -lpthread

$(B)/bin/ringfenced: $(BROKER_OBJS) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $(BROKER_OBJS) $(TUF_OBJS) $(B)/lib/libringfence.a $(LDLIBS_BROKER) $(LDLIBS_TUF)

$(B)/bin/rfctl: $(CTL_OBJS) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $(CTL_OBJS) $(RFCTL_CONTENT_OBJS) $(B)/lib/libringfence.a $(LDLIBS_CTL) \
		$(LDLIBS_RFCTL_CONTENT)

$(B)/bin/rf-example-deny-exec: $(call obj,examples/deny-exec/deny-exec.c) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(B)/lib/libringfence.a -lpthread

include tests/tests.mk
include tests/fuzz/fuzz.mk
include src/content/content.mk
all: $(CONTENT_BINS)
include src/content/delivery.mk
all: $(FETCH_BINS)
include src/clients/rf-scan/scan.mk
all: $(SCAN_BINS)
include bench/bench.mk

run: deps
	$(Q)$(MAKE) --no-print-directory all
	$(Q)scripts/run.sh $(B)

test: deps
	$(Q)$(MAKE) --no-print-directory all fuzz
	$(Q)tests/run.sh $(B)

clean:
	rm -rf build build-*

-include $(shell find $(B)/obj -name '*.d' 2>/dev/null)
