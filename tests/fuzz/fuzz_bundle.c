/*
 * fuzz_bundle.c - libFuzzer harness for the content bundle loader
 * (src/content/load.c) and, for what it accepts, the evaluator.
 *
 * Each input is loaded twice: as it is, and "repaired" - the header's total
 * size set to the input's length and the schema hash recomputed over the
 * schema section the section table points at - so that mutations get past
 * the two checks a random change almost always fails and reach the section,
 * record, string, regex and program checks behind them.  A bundle that
 * loads is evaluated on a few fixed events of every type a rule can apply
 * to: whatever the loader accepted must be safe to run.
 *
 * Seeds: tests/fuzz/corpus/bundle/, small bundles compiled by rf-content
 * from tests/fuzz/corpus/bundle-rules/ (`make fuzz-corpus-bundle`).
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <ringfence/message.h>

#include "content/bundle.h"
#include "content/engine.h"

static struct rfe_event events[5];

static void set(struct rfe_event *ev, unsigned f, const char *s)
{
	ev->v[f] = (struct rfe_value){ .s = s, .len = (uint32_t)strlen(s), .present = 1 };
}

static void init_events(void)
{
	static int done;
	if (done)
		return;
	done = 1;
	static const uint32_t types[5] = { RF_EVENT_EXEC, RF_EVENT_CREATE, RF_EVENT_RENAME, RF_EVENT_CONNECT,
					   RF_EVENT_UNLINK };
	for (unsigned i = 0; i < 5; i++) {
		struct rfe_event *ev = &events[i];
		ev->type = types[i];
		set(ev, RFF_IMAGE, "/usr/bin/bash");
		set(ev, RFF_COMMAND_LINE, "bash -c echo ZWNobyBoaQo= | base64 -d | sh");
		set(ev, RFF_PARENT_IMAGE, "/usr/bin/find");
		set(ev, RFF_CWD, "/tmp/x");
		set(ev, RFF_COMM, "bash");
		for (unsigned f = RFF_PID; f <= RFF_AUID; f++)
			ev->v[f] = (struct rfe_value){ .num = 1000 + f, .present = 1 };
		if (i == 1 || i == 2 || i == 4)
			set(ev, RFF_TARGET_PATH, "/etc/cron.d/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA");
		if (i == 2)
			set(ev, RFF_SOURCE_PATH, "/tmp/x.tmp");
		if (i == 3) {
			ev->v[RFF_NET_INITIATED] = (struct rfe_value){ .num = 1, .present = 1 };
			ev->v[RFF_NET_DST_PORT] = (struct rfe_value){ .num = 4444, .present = 1 };
			ev->v[RFF_NET_DST_IP] = (struct rfe_value){ .family = 4, .ip = { 198, 51, 100, 7 }, .present = 1 };
			ev->v[RFF_NET_SRC_IP] = (struct rfe_value){ .family = 6, .ip = { 0xfe, 0x80 }, .present = 1 };
			set(ev, RFF_NET_PROTOCOL, "tcp");
		}
	}
	/* the parent's command line absent in one event, empty in another */
	set(&events[0], RFF_PARENT_COMMAND_LINE, "bash -i");
	set(&events[1], RFF_PARENT_COMMAND_LINE, "");
}

static void try_load(const uint8_t *data, size_t size)
{
	char err[256];
	struct rfe_engine *e = NULL;
	if (rfe_load(data, size, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err) != 0)
		return;
	size_t n = rfe_nrules(e);
	uint32_t *m = malloc((n ? n : 1) * sizeof *m);
	if (m) {
		for (unsigned i = 0; i < 5; i++) {
			unsigned k = rfe_eval(e, &events[i], m, (unsigned)n);
			for (unsigned j = 0; j < k; j++) {
				struct rfe_rule_info ri;
				rfe_rule(e, m[j], &ri);
				if (!ri.id[0] || strlen(ri.tags) > RFE_TEXT_MAX)
					abort();   /* the loader promised non-empty ids and bounded text */
			}
		}
		free(m);
	}
	rfe_free(e);
}

/* Sets the total size and recomputes the schema hash, when the table allows. */
static void repair(uint8_t *b, size_t size)
{
	rfb_put32(b + RFB_HDR_TOTAL, (uint32_t)size);
	uint32_t nsect = rfb_get32(b + RFB_HDR_NSECT), tab = RFB_HDR_SIZE;
	for (uint32_t i = 0; i < nsect && i < RFB_MAX_SECTIONS; i++) {
		size_t e = tab + (size_t)i * RFB_SECT_ENTRY_SIZE;
		if (e + RFB_SECT_ENTRY_SIZE > size)
			return;
		if (rfb_get32(b + e) != RFB_SEC_SCHEMA)
			continue;
		uint64_t off = rfb_get32(b + e + 4);
		if (off + RFB_SHDR_SIZE > size)
			return;
		uint64_t len = (uint64_t)rfb_get32(b + off + 4) * RFS_RECORD_SIZE;
		if (off + RFB_SHDR_SIZE + len > size)
			return;
		rfs_hash(b + off + RFB_SHDR_SIZE, (size_t)len, b + RFB_HDR_SCHEMA_HASH);
		return;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	init_events();
	try_load(data, size);
	if (size < RFB_HDR_SIZE || size > RFB_MAX_SIZE)
		return 0;
	uint8_t *copy = malloc(size);
	if (!copy)
		return 0;
	memcpy(copy, data, size);
	repair(copy, size);
	try_load(copy, size);
	free(copy);
	return 0;
}
