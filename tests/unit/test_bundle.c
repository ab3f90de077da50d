/*
 * test_bundle.c - the content bundle loader refuses what it must: the
 * July 2024 case (content built for 21 input fields, an engine with 20),
 * unknown versions, and every malformed count, offset, string, opcode and
 * reference; every truncation and single-byte change of a valid bundle is
 * refused or loads and evaluates safely (run under ASan in CI).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include <ringfence/message.h>

#include "content/bundle_write.h"
#include "content/engine.h"

static char err[256];

/* A small valid bundle: two rules, string, glob, regex, int and CIDR predicates. */
static struct rfb_builder *base_builder(const struct rfs_field *schema, size_t n)
{
	struct rfb_builder *b = rfb_builder_new(schema, n, "test-1");
	assert_non_null(b);
	struct rfb_pred_in p0 = { .field = RFF_IMAGE, .op = RFB_OP_ENDSWITH, .flags = RFB_PF_NOCASE,
				  .str = "/bash", .str_len = 5 };
	struct rfb_pred_in p1 = { .field = RFF_COMMAND_LINE, .op = RFB_OP_GLOB, .flags = RFB_PF_NOCASE,
				  .str = "*-c *|*sh*", .str_len = 10 };
	int re = rfb_add_regex(b, "\\s-[FTd]\\s", 0);
	assert_int_equal(re, 0);
	struct rfb_pred_in p2 = { .field = RFF_COMMAND_LINE, .op = RFB_OP_RE, .regex = (uint32_t)re };
	struct rfb_pred_in p3 = { .field = RFF_NET_DST_PORT, .op = RFB_OP_INT_EQ, .num = 4444 };
	struct rfb_pred_in p4 = { .field = RFF_NET_DST_IP, .op = RFB_OP_CIDR, .family = 4, .prefix = 8,
				  .addr = { 10 } };
	int i0 = rfb_add_pred(b, &p0), i1 = rfb_add_pred(b, &p1), i2 = rfb_add_pred(b, &p2);
	int i3 = rfb_add_pred(b, &p3), i4 = rfb_add_pred(b, &p4);
	assert_true(i0 >= 0 && i1 >= 0 && i2 >= 0 && i3 >= 0 && i4 >= 0);
	/* (p0 and p1) or p2 */
	uint32_t prog_a[] = { RFB_INSN(RFB_I_PRED, i0), RFB_INSN(RFB_I_JF, 3), RFB_INSN(RFB_I_PRED, i1),
			      RFB_INSN(RFB_I_JT, 5), RFB_INSN(RFB_I_PRED, i2), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in ra = { .id = "rule-a", .title = "Shell pipe", .tags = "attack.execution,ringfence.block",
				  .event_mask = 1u << RF_EVENT_EXEC, .flags = RFB_RULE_BLOCKING,
				  .level = RFB_LEVEL_HIGH, .prog = prog_a, .prog_len = 6 };
	assert_int_equal(rfb_add_rule(b, &ra), 0);
	/* p3 and not p4 */
	uint32_t prog_b[] = { RFB_INSN(RFB_I_PRED, i3), RFB_INSN(RFB_I_JF, 4), RFB_INSN(RFB_I_PRED, i4),
			      RFB_INSN(RFB_I_NOT, 0), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in rb = { .id = "rule-b", .title = "Callback port", .event_mask = 1u << RF_EVENT_CONNECT,
				  .level = RFB_LEVEL_MEDIUM, .prog = prog_b, .prog_len = 5 };
	assert_int_equal(rfb_add_rule(b, &rb), 0);
	return b;
}

static uint8_t *build(struct rfb_builder *b, size_t *len)
{
	uint8_t *buf;
	assert_int_equal(rfb_build(b, &buf, len), 0);
	rfb_builder_free(b);
	return buf;
}

static uint8_t *valid_bundle(size_t *len)
{
	return build(base_builder(rfs_engine_schema, RFS_NFIELDS), len);
}

static int load(const uint8_t *buf, size_t len)
{
	struct rfe_engine *e = NULL;
	int r = rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err);
	if (r == 0)
		assert_non_null(e);
	rfe_free(e);
	return r;
}

#define assert_refused(buf, len, what)                                                  \
	do {                                                                            \
		int r_ = load(buf, len);                                                \
		if (r_ != -EINVAL || !strstr(err, what))                                \
			fail_msg("want refusal mentioning '%s', got %d: %s", what, r_, err); \
	} while (0)

/* Where section type t starts (its 16-byte header). */
static size_t sect(const uint8_t *buf, uint32_t type)
{
	uint32_t n = rfb_get32(buf + RFB_HDR_NSECT);
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = buf + RFB_HDR_SIZE + i * RFB_SECT_ENTRY_SIZE;
		if (rfb_get32(e) == type)
			return rfb_get32(e + 4);
	}
	fail_msg("no section %u", type);
	return 0;
}

static size_t sect_entry(const uint8_t *buf, uint32_t type)
{
	uint32_t n = rfb_get32(buf + RFB_HDR_NSECT);
	for (uint32_t i = 0; i < n; i++)
		if (rfb_get32(buf + RFB_HDR_SIZE + i * RFB_SECT_ENTRY_SIZE) == type)
			return RFB_HDR_SIZE + i * RFB_SECT_ENTRY_SIZE;
	fail_msg("no section %u", type);
	return 0;
}

static void test_valid_roundtrip(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	struct rfe_engine *e;
	assert_int_equal(rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err), 0);
	assert_int_equal(rfe_nrules(e), 2);
	assert_string_equal(rfe_content_version(e), "test-1");
	assert_true(rfe_has_blocking(e));
	assert_int_equal(rfe_events_used(e), (1u << RF_EVENT_EXEC) | (1u << RF_EVENT_CONNECT));
	struct rfe_rule_info ri;
	rfe_rule(e, 0, &ri);
	assert_string_equal(ri.id, "rule-a");
	assert_string_equal(ri.level, "high");
	assert_string_equal(ri.tags, "attack.execution,ringfence.block");
	assert_true(ri.blocking);
	rfe_free(e);
	free(buf);
}

/* ---- the July 2024 case ---- */

static struct rfs_field schema21[RFS_NFIELDS + 1];

static void make_schema21(void)
{
	memcpy(schema21, rfs_engine_schema, sizeof rfs_engine_schema);
	schema21[RFS_NFIELDS] = (struct rfs_field){ RFS_NFIELDS, RFS_STRING, "process.future_field" };
}

static void test_july_2024_21_fields_on_a_20_field_engine(void **state)
{
	(void)state;
	make_schema21();
	assert_int_equal(RFS_NFIELDS, 20);
	struct rfb_builder *b = rfb_builder_new(schema21, 21, "future-1");
	assert_non_null(b);
	/* a rule reads the 21st field (id 20) */
	struct rfb_pred_in p = { .field = 20, .op = RFB_OP_EQ, .str = "x", .str_len = 1 };
	int i = rfb_add_pred(b, &p);
	uint32_t prog[] = { RFB_INSN(RFB_I_PRED, i), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in r = { .id = "uses-field-20", .title = "t", .event_mask = 1u << RF_EVENT_EXEC,
				 .prog = prog, .prog_len = 2 };
	assert_int_equal(rfb_add_rule(b, &r), 0);
	size_t len;
	uint8_t *buf = build(b, &len);
	/* this engine supplies 20 fields: refused at load, before any evaluation */
	assert_refused(buf, len, "field 20 'process.future_field'");
	assert_non_null(strstr(err, "20 fields"));
	free(buf);

	/* also when no rule reads it: the bundle was built for another engine */
	b = base_builder(schema21, 21);
	buf = build(b, &len);
	assert_refused(buf, len, "does not exist in this engine");
	free(buf);
}

static void test_field_id_beyond_the_bundle_schema(void **state)
{
	(void)state;
	/* a 20-field schema, but a predicate names field 20 anyway (the
	 * validator bug of 2024: the count was never compared) */
	struct rfb_builder *b = base_builder(rfs_engine_schema, RFS_NFIELDS);
	struct rfb_pred_in p = { .field = 20, .op = RFB_OP_EQ, .str = "x", .str_len = 1 };
	int i = rfb_add_pred(b, &p);
	uint32_t prog[] = { RFB_INSN(RFB_I_PRED, i), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in r = { .id = "bad", .title = "t", .event_mask = 1u << RF_EVENT_EXEC, .prog = prog,
				 .prog_len = 2 };
	assert_int_equal(rfb_add_rule(b, &r), 0);
	size_t len;
	uint8_t *buf = build(b, &len);
	assert_refused(buf, len, "field 20 is not in the bundle's schema (20 fields)");
	free(buf);
}

static void test_older_content_on_newer_engine(void **state)
{
	(void)state;
	/* content built when the engine had 13 fields loads on this one */
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, 13, "old-1");
	struct rfb_pred_in p = { .field = RFF_IMAGE, .op = RFB_OP_ENDSWITH, .str = "/sh", .str_len = 3 };
	int i = rfb_add_pred(b, &p);
	uint32_t prog[] = { RFB_INSN(RFB_I_PRED, i), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in r = { .id = "old", .title = "t", .event_mask = 1u << RF_EVENT_EXEC, .prog = prog,
				 .prog_len = 2 };
	assert_int_equal(rfb_add_rule(b, &r), 0);
	size_t len;
	uint8_t *buf = build(b, &len);
	assert_int_equal(load(buf, len), 0);
	/* ... but an engine that has only 12 fields refuses it */
	struct rfe_engine *e = NULL;
	assert_int_equal(rfe_load(buf, len, rfs_engine_schema, 12, &e, err, sizeof err), -EINVAL);
	assert_null(e);
	assert_non_null(strstr(err, "field 12"));
	free(buf);
}

static void test_schema_mismatch(void **state)
{
	(void)state;
	struct rfs_field s[RFS_NFIELDS];
	memcpy(s, rfs_engine_schema, sizeof s);
	s[RFF_PID].type = RFS_STRING;   /* same id, another type */
	size_t len;
	uint8_t *buf = build(base_builder(s, RFS_NFIELDS), &len);
	assert_refused(buf, len, "bundle field 3 is 'process.pid' (string), this engine's is 'process.pid' (int)");
	free(buf);
	memcpy(s, rfs_engine_schema, sizeof s);
	s[RFF_CWD].name = "process.cwd2";   /* same id, another name */
	buf = build(base_builder(s, RFS_NFIELDS), &len);
	assert_refused(buf, len, "'process.cwd2'");
	free(buf);
}

static void test_schema_hash(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	buf[RFB_HDR_SCHEMA_HASH + 5] ^= 1;
	assert_refused(buf, len, "SHA-256");
	buf[RFB_HDR_SCHEMA_HASH + 5] ^= 1;
	buf[sect(buf, RFB_SEC_SCHEMA) + RFB_SHDR_SIZE + 4] ^= 0x20;   /* a name in the schema */
	assert_refused(buf, len, "SHA-256");
	free(buf);
}

/* ---- header ---- */

static void test_header(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	assert_int_equal(load(buf, len), 0);

	rfb_put16(buf + RFB_HDR_VERSION, 2);
	assert_refused(buf, len, "unknown format version 2");
	rfb_put16(buf + RFB_HDR_VERSION, 0);
	assert_refused(buf, len, "unknown format version 0");
	rfb_put16(buf + RFB_HDR_VERSION, RFB_FORMAT_VERSION);

	buf[3] ^= 0xff;
	assert_refused(buf, len, "bad magic");
	buf[3] ^= 0xff;

	rfb_put16(buf + RFB_HDR_HDRSIZE, 64);
	assert_refused(buf, len, "header size");
	rfb_put16(buf + RFB_HDR_HDRSIZE, RFB_HDR_SIZE);

	rfb_put32(buf + RFB_HDR_FLAGS, 1);
	assert_refused(buf, len, "flags");
	rfb_put32(buf + RFB_HDR_FLAGS, 0);

	buf[RFB_HDR_RESERVED1 + 7] = 1;
	assert_refused(buf, len, "reserved");
	buf[RFB_HDR_RESERVED1 + 7] = 0;

	rfb_put32(buf + RFB_HDR_ABI_MIN, RFE_ABI + 1);
	rfb_put32(buf + RFB_HDR_ABI_MAX, RFE_ABI + 3);
	assert_refused(buf, len, "engine ABI");
	rfb_put32(buf + RFB_HDR_ABI_MIN, RFE_ABI);
	rfb_put32(buf + RFB_HDR_ABI_MAX, RFE_ABI - 1);
	assert_refused(buf, len, "engine ABI");
	rfb_put32(buf + RFB_HDR_ABI_MAX, RFE_ABI);

	rfb_put32(buf + RFB_HDR_TOTAL, (uint32_t)len + 8);
	assert_refused(buf, len, "header says");
	rfb_put32(buf + RFB_HDR_TOTAL, (uint32_t)len);

	memset(buf + RFB_HDR_CONTENT_VER, 0, 32);
	assert_refused(buf, len, "content version");
	memcpy(buf + RFB_HDR_CONTENT_VER, "a\tb", 3);
	assert_refused(buf, len, "content version");
	memcpy(buf + RFB_HDR_CONTENT_VER, "ok\0x", 4);
	assert_refused(buf, len, "NUL padded");
	memcpy(buf + RFB_HDR_CONTENT_VER, "test-1\0\0", 8);

	assert_refused(buf, 100, "shorter than its header");
	assert_refused(buf, len - 8, "header says");
	assert_int_equal(load(buf, len), 0);
	/* bigger than the limit, whatever it holds (refused before a byte is read) */
	struct rfe_engine *e = NULL;
	assert_int_equal(rfe_load(buf, (size_t)RFB_MAX_SIZE + 1, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err),
			 -EINVAL);
	assert_null(e);
	free(buf);
}

/* ---- sections ---- */

static void test_sections(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	uint8_t *orig = malloc(len);
	memcpy(orig, buf, len);
#define RESET() memcpy(buf, orig, len)
	size_t e_str = sect_entry(buf, RFB_SEC_STRINGS), e_pred = sect_entry(buf, RFB_SEC_PRED);

	rfb_put32(buf + RFB_HDR_NSECT, 0);
	assert_refused(buf, len, "0 sections");
	rfb_put32(buf + RFB_HDR_NSECT, 17);
	assert_refused(buf, len, "17 sections");
	rfb_put32(buf + RFB_HDR_NSECT, 5);
	assert_refused(buf, len, "no rules section");
	rfb_put32(buf + RFB_HDR_NSECT, 0x10000000);
	assert_refused(buf, len, "sections");
	RESET();
	rfb_put32(buf + RFB_HDR_SECT_OFF, 136);
	assert_refused(buf, len, "section table at");
	RESET();

	rfb_put32(buf + e_str, 9);
	assert_refused(buf, len, "unknown type 9");
	RESET();
	rfb_put32(buf + e_str, RFB_SEC_SCHEMA);
	assert_refused(buf, len, "second schema section");
	RESET();
	rfb_put32(buf + e_str + 12, 1);
	assert_refused(buf, len, "reserved");
	RESET();
	rfb_put32(buf + e_str + 4, (uint32_t)len);
	assert_refused(buf, len, "outside the bundle");
	RESET();
	rfb_put32(buf + e_str + 4, 0xfffffff8u);
	assert_refused(buf, len, "outside the bundle");
	RESET();
	rfb_put32(buf + e_str + 8, 0xffffffffu);
	assert_refused(buf, len, "outside the bundle");
	RESET();
	rfb_put32(buf + e_str + 4, rfb_get32(buf + e_str + 4) + 4);   /* misaligned */
	assert_refused(buf, len, "outside the bundle");
	RESET();
	rfb_put32(buf + e_str + 4, 16);   /* inside the header and table */
	assert_refused(buf, len, "outside the bundle");
	RESET();
	rfb_put32(buf + e_pred + 4, rfb_get32(buf + e_str + 4));   /* on top of another */
	assert_refused(buf, len, "overlaps");
	RESET();

	/* section headers */
	size_t sp = sect(buf, RFB_SEC_PRED);
	rfb_put32(buf + sp, RFB_SEC_PROG);
	assert_refused(buf, len, "header type");
	RESET();
	rfb_put32(buf + sp + 4, rfb_get32(buf + sp + 4) + 1);
	assert_refused(buf, len, "do not fill");
	RESET();
	rfb_put32(buf + sp + 4, 0x08000000u);   /* count * 32 wraps 32 bits */
	assert_refused(buf, len, "do not fill");
	RESET();
	rfb_put32(buf + sp + 8, 16);
	assert_refused(buf, len, "record size 16");
	RESET();
	rfb_put32(buf + sp + 12, rfb_get32(buf + sp + 12) - 32);
	assert_refused(buf, len, "payload");
	RESET();
	assert_int_equal(load(buf, len), 0);
#undef RESET
	free(orig);
	free(buf);
}

/* ---- records: built with the writer, which does not police semantics ---- */

static uint8_t *with_pred(const struct rfb_pred_in *p, size_t *len)
{
	struct rfb_builder *b = base_builder(rfs_engine_schema, RFS_NFIELDS);
	int i = rfb_add_pred(b, p);
	assert_true(i >= 0);
	uint32_t prog[] = { RFB_INSN(RFB_I_PRED, i), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in r = { .id = "x", .title = "t", .event_mask = 1u << RF_EVENT_EXEC, .prog = prog,
				 .prog_len = 2 };
	assert_int_equal(rfb_add_rule(b, &r), 0);
	return build(b, len);
}

static void pred_refused(struct rfb_pred_in p, const char *what)
{
	size_t len;
	uint8_t *buf = with_pred(&p, &len);
	assert_refused(buf, len, what);
	free(buf);
}

static void test_predicates(void **state)
{
	(void)state;
	pred_refused((struct rfb_pred_in){ .field = RFF_IMAGE, .op = 0 }, "unknown operator 0");
	pred_refused((struct rfb_pred_in){ .field = RFF_IMAGE, .op = RFB_OP_MAX }, "unknown operator");
	pred_refused((struct rfb_pred_in){ .field = RFF_IMAGE, .op = RFB_OP_INT_EQ, .num = 1 }, "does not apply");
	pred_refused((struct rfb_pred_in){ .field = RFF_PID, .op = RFB_OP_CONTAINS, .str = "1", .str_len = 1 },
		     "does not apply");
	pred_refused((struct rfb_pred_in){ .field = RFF_COMMAND_LINE, .op = RFB_OP_CIDR, .family = 4 },
		     "does not apply");
	pred_refused((struct rfb_pred_in){ .field = RFF_PID, .op = RFB_OP_INT_EQ, .flags = RFB_PF_NOCASE },
		     "case-insensitive flag");
	pred_refused((struct rfb_pred_in){ .field = RFF_IMAGE, .op = RFB_OP_EQ, .flags = 0x80, .str = "a", .str_len = 1 },
		     "unknown flags");
	pred_refused((struct rfb_pred_in){ .field = RFF_COMMAND_LINE, .op = RFB_OP_RE, .regex = 1 }, "regex 1 of 1");
	pred_refused((struct rfb_pred_in){ .field = RFF_NET_DST_IP, .op = RFB_OP_CIDR, .family = 4, .prefix = 33 },
		     "malformed CIDR");
	pred_refused((struct rfb_pred_in){ .field = RFF_NET_DST_IP, .op = RFB_OP_CIDR, .family = 5, .prefix = 8 },
		     "malformed CIDR");
	pred_refused((struct rfb_pred_in){ .field = RFF_NET_DST_IP, .op = RFB_OP_CIDR, .family = 4, .prefix = 8,
					   .addr = { 10, 0, 0, 0, 1 } },
		     "malformed CIDR");
	pred_refused((struct rfb_pred_in){ .field = RFF_IMAGE, .op = RFB_OP_GLOB, .str = "ab\\", .str_len = 3 },
		     "glob ends in an escape");
	char big[RFB_MAX_GLOB_LEN + 2];
	memset(big, '*', sizeof big);
	pred_refused((struct rfb_pred_in){ .field = RFF_IMAGE, .op = RFB_OP_GLOB, .str = big, .str_len = sizeof big },
		     "too long");

	/* string references, patched into an otherwise valid record */
	size_t len;
	struct rfb_pred_in p = { .field = RFF_IMAGE, .op = RFB_OP_EQ, .str = "zzz", .str_len = 3 };
	uint8_t *buf = with_pred(&p, &len);
	size_t sp = sect(buf, RFB_SEC_PRED) + RFB_SHDR_SIZE;
	uint32_t npred = rfb_get32(buf + sect(buf, RFB_SEC_PRED) + 4);
	uint8_t *rec = buf + sp + (size_t)(npred - 1) * RFB_PRED_SIZE;
	uint32_t off = rfb_get32(rec + 8);
	rfb_put32(rec + 12, 4);   /* runs over its NUL */
	assert_refused(buf, len, "not NUL terminated");
	rfb_put32(rec + 12, 0xffffffffu);
	assert_refused(buf, len, "outside the string table");
	rfb_put32(rec + 12, 3);
	rfb_put32(rec + 8, 0xfffffffeu);
	assert_refused(buf, len, "outside the string table");
	rfb_put32(rec + 8, off);
	rec[20] = 1;   /* an unused value byte */
	assert_refused(buf, len, "unused value bytes");
	rec[20] = 0;
	rec[5] = 1;
	assert_refused(buf, len, "reserved");
	rec[5] = 0;
	assert_int_equal(load(buf, len), 0);
	free(buf);

	/* a regex PCRE2 refuses */
	struct rfb_builder *b = base_builder(rfs_engine_schema, RFS_NFIELDS);
	assert_int_equal(rfb_add_regex(b, "(unclosed", 0), 1);
	buf = build(b, &len);
	assert_refused(buf, len, "regex 1: missing closing parenthesis");
	free(buf);
	/* a regex nested deeper than the engine allows */
	char deep[200];
	memset(deep, '(', 100);
	memset(deep + 100, ')', 99);
	deep[199] = 0;
	b = base_builder(rfs_engine_schema, RFS_NFIELDS);
	deep[100] = 'a';
	assert_int_equal(rfb_add_regex(b, deep, 0), 1);
	buf = build(b, &len);
	assert_refused(buf, len, "regex 1");
	free(buf);
}

static void rule_refused(const uint32_t *prog, uint32_t n, uint32_t mask, uint8_t level, uint32_t flags,
			 const char *id, const char *what)
{
	struct rfb_builder *b = base_builder(rfs_engine_schema, RFS_NFIELDS);
	struct rfb_rule_in r = { .id = id, .title = "t", .event_mask = mask, .flags = flags, .level = level,
				 .prog = prog, .prog_len = n };
	assert_int_equal(rfb_add_rule(b, &r), 0);
	size_t len;
	uint8_t *buf = build(b, &len);
	assert_refused(buf, len, what);
	free(buf);
}

static void test_rules_and_programs(void **state)
{
	(void)state;
	const uint32_t X = 1u << RF_EVENT_EXEC;
	uint32_t back[] = { RFB_INSN(RFB_I_PRED, 0), RFB_INSN(RFB_I_JF, 0), RFB_INSN(RFB_I_END, 0) };
	rule_refused(back, 3, X, 0, 0, "r", "jump to 0");
	uint32_t self[] = { RFB_INSN(RFB_I_PRED, 0), RFB_INSN(RFB_I_JT, 1), RFB_INSN(RFB_I_END, 0) };
	rule_refused(self, 3, X, 0, 0, "r", "jump to 1");
	uint32_t past[] = { RFB_INSN(RFB_I_PRED, 0), RFB_INSN(RFB_I_JT, 3), RFB_INSN(RFB_I_END, 0) };
	rule_refused(past, 3, X, 0, 0, "r", "jump to 3");
	uint32_t noend[] = { RFB_INSN(RFB_I_PRED, 0), RFB_INSN(RFB_I_NOT, 0) };
	rule_refused(noend, 2, X, 0, 0, "r", "does not end with END");
	uint32_t midend[] = { RFB_INSN(RFB_I_END, 0), RFB_INSN(RFB_I_END, 0) };
	rule_refused(midend, 2, X, 0, 0, "r", "END at 0");
	uint32_t badpred[] = { RFB_INSN(RFB_I_PRED, 999), RFB_INSN(RFB_I_END, 0) };
	rule_refused(badpred, 2, X, 0, 0, "r", "predicate 999");
	uint32_t badop[] = { RFB_INSN(9, 0), RFB_INSN(RFB_I_END, 0) };
	rule_refused(badop, 2, X, 0, 0, "r", "unknown opcode 9");
	uint32_t notarg[] = { RFB_INSN(RFB_I_NOT, 5), RFB_INSN(RFB_I_END, 0) };
	rule_refused(notarg, 2, X, 0, 0, "r", "NOT with an argument");
	uint32_t ok[] = { RFB_INSN(RFB_I_PRED, 0), RFB_INSN(RFB_I_END, 0) };
	rule_refused(ok, 2, 1u << RF_EVENT_FORK, 0, 0, "r", "event mask");
	rule_refused(ok, 2, 0, 0, 0, "r", "event mask");
	rule_refused(ok, 2, X, RFB_LEVEL_MAX, 0, "r", "unknown level");
	rule_refused(ok, 2, X, 0, 0x2, "r", "unknown flags");
	rule_refused(ok, 2, X, 0, 0, "rule-a", "id rule-a appears twice");
	rule_refused(ok, 2, X, 0, 0, "bad\nid", "control characters");

	/* program window outside the program section; empty and oversized ids */
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	uint8_t *rec = buf + sect(buf, RFB_SEC_RULES) + RFB_SHDR_SIZE;
	rfb_put32(rec + 36, 1000);
	assert_refused(buf, len, "outside the program section");
	rfb_put32(rec + 36, 0);
	rfb_put32(rec + 40, 0);
	assert_refused(buf, len, "outside the program section");
	rfb_put32(rec + 40, 6);
	uint32_t idoff = rfb_get32(rec);
	rfb_put32(rec + 4, 0);
	assert_refused(buf, len, "rule id of rule 0: string at");
	rfb_put32(rec, 0);   /* the empty string */
	assert_refused(buf, len, "empty id");
	rfb_put32(rec, idoff);
	rfb_put32(rec + 4, 300);
	assert_refused(buf, len, "too long");
	rfb_put32(rec + 4, 6);
	rec[33] = 1;
	assert_refused(buf, len, "reserved");
	rec[33] = 0;
	assert_int_equal(load(buf, len), 0);
	free(buf);
}

/* Every prefix is refused; every single-byte change is refused or loads and runs. */
static void test_truncations_and_flips(void **state)
{
	(void)state;
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	for (size_t n = 0; n < len; n++) {
		uint8_t *cut = malloc(n ? n : 1);
		memcpy(cut, buf, n);
		assert_int_equal(load(cut, n), -EINVAL);
		free(cut);
	}
	struct rfe_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_EXEC;
	ev.v[RFF_IMAGE] = (struct rfe_value){ .s = "/bin/bash", .len = 9, .present = 1 };
	ev.v[RFF_COMMAND_LINE] = (struct rfe_value){ .s = "bash -c x|sh -d ", .len = 16, .present = 1 };
	unsigned loaded = 0;
	for (size_t i = 0; i < len; i++) {
		for (unsigned bit = 0; bit < 8; bit += 3) {
			buf[i] ^= (uint8_t)(1u << bit);
			struct rfe_engine *e = NULL;
			if (rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err) == 0) {
				uint32_t m[8];
				ev.type = RF_EVENT_EXEC;
				(void)rfe_eval(e, &ev, m, 8);
				ev.type = RF_EVENT_CONNECT;
				(void)rfe_eval(e, &ev, m, 8);
				loaded++;
				rfe_free(e);
			}
			buf[i] ^= (uint8_t)(1u << bit);
		}
	}
	/* flips in the string bytes keep the bundle valid; most others do not */
	assert_true(loaded > 0 && loaded < len);
	free(buf);
}

static void test_load_file(void **state)
{
	(void)state;
	struct rfe_engine *e = NULL;
	assert_true(rfe_load_file("/nonexistent/bundle.rfb", &e, err, sizeof err) < 0);
	assert_non_null(strstr(err, "No such file"));
	assert_true(rfe_load_file("/", &e, err, sizeof err) < 0);
	assert_null(e);
	size_t len;
	uint8_t *buf = valid_bundle(&len);
	char path[] = "/tmp/rf-test-bundle-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, buf, len), (ssize_t)len);
	close(fd);
	assert_int_equal(rfe_load_file(path, &e, err, sizeof err), 0);
	assert_int_equal(rfe_nrules(e), 2);
	rfe_free(e);
	unlink(path);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_roundtrip),
		cmocka_unit_test(test_july_2024_21_fields_on_a_20_field_engine),
		cmocka_unit_test(test_field_id_beyond_the_bundle_schema),
		cmocka_unit_test(test_older_content_on_newer_engine),
		cmocka_unit_test(test_schema_mismatch),
		cmocka_unit_test(test_schema_hash),
		cmocka_unit_test(test_header),
		cmocka_unit_test(test_sections),
		cmocka_unit_test(test_predicates),
		cmocka_unit_test(test_rules_and_programs),
		cmocka_unit_test(test_truncations_and_flips),
		cmocka_unit_test(test_load_file),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
