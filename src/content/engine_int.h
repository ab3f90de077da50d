/*
 * engine_int.h - the engine's in-memory form of a loaded bundle, shared by
 * the loader (load.c) and the evaluator (eval.c).  Everything here was
 * checked by the loader; the evaluator relies on it.
 */
#ifndef RF_CONTENT_ENGINE_INT_H
#define RF_CONTENT_ENGINE_INT_H

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "content/engine.h"

/* PCRE2 limits for one match: steps, backtracking depth, heap. */
#define RFE_RE_MATCH_LIMIT 100000u
#define RFE_RE_DEPTH_LIMIT 1000u
#define RFE_RE_HEAP_LIMIT_KB 1024u
#define RFE_RE_NEST_LIMIT 64u

/* lowered and fields_used are bit sets over field ids */
_Static_assert(RFS_NFIELDS <= 32, "engine: more than 32 fields need wider bit sets");

struct rfe_pred {
	uint16_t field;
	uint8_t op;                /* enum rfb_op */
	uint8_t nocase;
	uint8_t ftype;             /* enum rfs_type of the field */
	uint32_t len;              /* string ops */
	const char *s;             /* string ops: lowered when nocase */
	pcre2_code *re;            /* RE */
	int64_t num;               /* INT ops */
	uint8_t family, prefix;    /* CIDR */
	uint8_t addr[16];          /* CIDR, host bits cleared */
};

struct rfe_rule {
	const char *id, *title, *tags;
	uint32_t event_mask;
	uint32_t flags;
	uint8_t level;
	const uint32_t *prog;
	uint32_t prog_len;
	uint64_t fields;           /* 1 << field of every predicate the program reads */
};

struct rfe_engine {
	char *strings;             /* the bundle's string blob, copied */
	char *lstrings;            /* the same, ASCII lower case */
	size_t strings_len;
	pcre2_code **re;
	size_t nre;
	pcre2_match_context *mctx;
	pcre2_match_data *md;
	struct rfe_pred *preds;
	size_t npreds;
	uint32_t *prog;
	size_t nprog;
	struct rfe_rule *rules;
	size_t nrules;
	uint32_t *by_type[32];     /* rule indices per event type, ascending */
	uint32_t nby_type[32];
	uint32_t events_used;
	uint64_t fields_used;
	bool has_blocking;
	char content_version[RFB_CONTENT_VER_MAX + 1];

	/* per-event scratch */
	uint32_t gen;              /* bumped per event; memo_gen[i] == gen: memo_val[i] valid */
	uint32_t *memo_gen;
	uint8_t *memo_val;
	uint32_t lowered;          /* fields whose lower[] is valid for this event */
	char *lower[RFS_NFIELDS];
	size_t lower_cap[RFS_NFIELDS];
	struct rfe_stats stats;
};

#endif
