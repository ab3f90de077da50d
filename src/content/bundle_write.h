/*
 * bundle_write.h - builds a content bundle in memory (bundle.h format).
 *
 * The compiler adds strings, regexes, predicates and rules; identical
 * strings and predicates are stored once.  rfb_build() lays the sections
 * out and returns the bytes.  The writer does not police semantics (that is
 * the compiler's job) and the loader trusts nothing it writes: tests use
 * the writer to make bundles the loader must refuse.
 */
#ifndef RF_CONTENT_BUNDLE_WRITE_H
#define RF_CONTENT_BUNDLE_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "content/bundle.h"
#include "content/schema.h"

struct rfb_builder;

/* A predicate as the writer takes it; the value member is chosen by op. */
struct rfb_pred_in {
	uint16_t field;
	uint8_t op;                  /* enum rfb_op */
	uint8_t flags;               /* RFB_PF_* */
	const char *str;             /* string ops: bytes, no NUL inside */
	uint32_t str_len;
	uint32_t regex;              /* RE: index from rfb_add_regex() */
	int64_t num;                 /* INT ops */
	uint8_t family, prefix;      /* CIDR */
	uint8_t addr[16];
};

struct rfb_rule_in {
	const char *id, *title, *tags;   /* tags may be NULL */
	uint32_t event_mask;
	uint32_t flags;                  /* RFB_RULE_* */
	uint8_t level;                   /* enum rfb_level */
	const uint32_t *prog;            /* instructions, jumps relative to the rule */
	uint32_t prog_len;
};

/*
 * A builder for the given schema (usually rfs_engine_schema, RFS_NFIELDS;
 * tests pass others) and content version (printable ASCII, 1..31 bytes).
 * Returns NULL on bad arguments or no memory.
 */
struct rfb_builder *rfb_builder_new(const struct rfs_field *schema, size_t nfields,
				    const char *content_version);
void rfb_builder_free(struct rfb_builder *b);

/* Overrides the engine ABI range written in the header (tests). */
void rfb_set_abi(struct rfb_builder *b, uint32_t min, uint32_t max);

/* Adds a regex; returns its index (>= 0) or a negative errno. */
int rfb_add_regex(struct rfb_builder *b, const char *pattern, uint32_t flags);

/* Adds (or finds) a predicate; returns its index (>= 0) or a negative errno. */
int rfb_add_pred(struct rfb_builder *b, const struct rfb_pred_in *p);

/* Adds a rule (its program is copied); returns 0 or a negative errno. */
int rfb_add_rule(struct rfb_builder *b, const struct rfb_rule_in *r);

/* Counts so far. */
size_t rfb_nrules(const struct rfb_builder *b);
size_t rfb_npreds(const struct rfb_builder *b);

/*
 * Lays out the bundle.  On success stores a malloc'd buffer in *ret_buf and
 * its size in *ret_len and returns 0; on error returns a negative errno
 * (-E2BIG past a limit of bundle.h) and changes nothing.
 */
int rfb_build(struct rfb_builder *b, uint8_t **ret_buf, size_t *ret_len);

#endif
