# Unit tests: each tests/unit/test_X.c becomes $(B)/tests/test_X, linked with
# every broker object except main.o, rfctl's renderer, and libringfence.
TEST_SRCS := $(wildcard tests/unit/test_*.c)
TEST_BINS := $(patsubst tests/unit/%.c,$(B)/tests/%,$(TEST_SRCS))
BROKER_LIB_OBJS := $(filter-out $(B)/obj/src/broker/main.o,$(BROKER_OBJS))
CTL_LIB_OBJS := $(B)/obj/src/ctl/render.o

# Helper programs the integration tests run (test clients on the public API).
TEST_CLIENT_SRCS := $(wildcard tests/clients/*.c)
TEST_CLIENT_BINS := $(patsubst tests/clients/%.c,$(B)/tests/%,$(TEST_CLIENT_SRCS))
# Fault-injection clients (tests/faults/*.c), public API only.
FAULT_CLIENT_SRCS := $(wildcard tests/faults/*.c)
TEST_CLIENT_BINS += $(patsubst tests/faults/%.c,$(B)/tests/%,$(FAULT_CLIENT_SRCS))

.PHONY: tests-build
tests-build: $(TEST_BINS) $(TEST_CLIENT_BINS)

$(B)/tests/test_%: $(B)/obj/tests/unit/test_%.o $(BROKER_LIB_OBJS) $(CTL_LIB_OBJS) $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(BROKER_LIB_OBJS) $(CTL_LIB_OBJS) $(B)/lib/libringfence.a $(LDLIBS_BROKER) -lcmocka

$(B)/tests/%: $(B)/obj/tests/faults/%.o $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(B)/lib/libringfence.a -lpthread

$(B)/tests/%: $(B)/obj/tests/clients/%.o $(B)/lib/libringfence.a
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(LDFLAGS_SAN) -o $@ $< $(B)/lib/libringfence.a -lpthread
