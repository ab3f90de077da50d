/*
 * engine.h - the rule engine: loads a content bundle (bundle.h) and
 * evaluates its rules on events.
 *
 * Loading is where untrusted content is parsed, so it is the bounded,
 * checking part: rfe_load() validates the whole bundle (every count,
 * offset, string, opcode, jump and field reference, against the bundle's
 * size and this engine's schema) and builds its own in-memory form; the
 * evaluator afterwards runs only what was checked and never looks at the
 * bundle bytes again.  Rule programs jump only forward, so an evaluation
 * takes at most as many steps as the programs have instructions; regexes
 * run under PCRE2 match and depth limits.
 *
 * An engine is used by one thread at a time (it keeps per-event scratch).
 */
#ifndef RF_CONTENT_ENGINE_H
#define RF_CONTENT_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "content/bundle.h"
#include "content/schema.h"

struct rfe_engine;

/* One field's value in an event.  Strings need not be NUL terminated. */
struct rfe_value {
	const char *s;
	uint32_t len;
	uint8_t present;
	uint8_t family;        /* RFS_IP: 4 or 6 */
	uint8_t ip[16];        /* RFS_IP: network order; IPv4 in the first 4 bytes */
	int64_t num;           /* RFS_INT */
};

/* An event as the engine sees it: its type and the schema's fields. */
struct rfe_event {
	uint32_t type;         /* enum rf_event_type */
	struct rfe_value v[RFS_NFIELDS];
};

struct rfe_rule_info {
	const char *id, *title, *tags;   /* NUL terminated; tags may be "" */
	const char *level;               /* "informational" .. "critical" */
	uint32_t event_mask;             /* 1 << enum rf_event_type */
	bool blocking;
	uint64_t fields;                 /* 1 << field id of what its predicates read */
};

struct rfe_stats {
	uint64_t events;       /* rfe_eval() calls */
	uint64_t rules_run;    /* rule programs started */
	uint64_t preds_run;    /* predicates evaluated (not memoised) */
	uint64_t matches;
	uint64_t re_errors;    /* regex match limit hit or other match error: counted as no match */
	uint64_t nomem;        /* scratch allocation failed: predicate counted as no match */
};

/*
 * Loads the bundle in data[0..len) for an engine with the given schema
 * (rfs_engine_schema, RFS_NFIELDS in production; tests pass others, at
 * most RFS_NFIELDS fields).  data is not referenced after the call.
 * Returns 0 and stores the engine in *ret, or a negative errno (-EINVAL:
 * malformed or incompatible bundle, -ENOMEM) with a one-line reason in err
 * and *ret untouched.
 */
int rfe_load(const void *data, size_t len, const struct rfs_field *schema, size_t nfields,
	     struct rfe_engine **ret, char *err, size_t errlen);

/* Reads a bundle file (at most RFB_MAX_SIZE bytes) and loads it. */
int rfe_load_file(const char *path, struct rfe_engine **ret, char *err, size_t errlen);
/* The same from an open descriptor (read with pread; name is for messages). */
int rfe_load_fd(int fd, const char *name, struct rfe_engine **ret, char *err, size_t errlen);

void rfe_free(struct rfe_engine *e);

/*
 * Evaluates every rule that applies to ev->type.  Writes the indices of
 * matching rules (ascending) to ret_rules, at most max of them, and returns
 * how many matched.
 */
unsigned rfe_eval(struct rfe_engine *e, const struct rfe_event *ev, uint32_t *ret_rules, unsigned max);

size_t rfe_nrules(const struct rfe_engine *e);
/* Rule i (< rfe_nrules()). */
void rfe_rule(const struct rfe_engine *e, uint32_t i, struct rfe_rule_info *ret);
/* The bundle's content version string. */
const char *rfe_content_version(const struct rfe_engine *e);
/* Event types (1 << type) some rule applies to. */
uint32_t rfe_events_used(const struct rfe_engine *e);
/* Fields (1 << id) some predicate reads. */
uint64_t rfe_fields_used(const struct rfe_engine *e);
/* Whether any rule is marked blocking. */
bool rfe_has_blocking(const struct rfe_engine *e);
void rfe_get_stats(const struct rfe_engine *e, struct rfe_stats *ret);
/* Counts of what was loaded: predicates, regexes, program instructions. */
void rfe_sizes(const struct rfe_engine *e, size_t *ret_preds, size_t *ret_regex, size_t *ret_prog);

/* Event types a rule may apply to (what the loader accepts in a mask). */
#define RFE_EVENTS_SUPPORTED                                                                  \
	((1u << 1) /* exec */ | (1u << 5) /* create */ | (1u << 6) /* close_write */ |         \
	 (1u << 7) /* unlink */ | (1u << 8) /* rename */ | (1u << 9) /* connect */ |           \
	 (1u << 10) /* accept */)

/* Rule id, title and tags are at most this long (rf_emit_alert's limit). */
#define RFE_TEXT_MAX 255u

#endif
