/*
 * detect.h - rf-detect's decisions, apart from the transport: what a
 * message matches, which alerts to report, and the verdict for an AUTH
 * exec.  main.c feeds it messages from rf_next() and acts on the result;
 * unit tests feed it built messages.
 */
#ifndef RF_DETECT_DETECT_H
#define RF_DETECT_DETECT_H

#include <stdbool.h>
#include <stdint.h>

#include <ringfence/message.h>

#include "clients/rf-detect/proccache.h"
#include "content/engine.h"
#include "content/view.h"

/* Repeats of one (rule, process, file) alert inside this window are dropped. */
#define DET_REPEAT_NS (2ull * 1000000000ull)
/* A NOTIFY exec this soon after its evaluated AUTH exec is not evaluated again. */
#define DET_AUTH_DEDUP_NS (10ull * 1000000000ull)
#define DET_RING 256u

struct det_stats {
	uint64_t messages;
	uint64_t evaluated;
	uint64_t alerts;           /* matches reported */
	uint64_t repeats;          /* matches dropped as repeats */
	uint64_t auth;             /* AUTH execs answered */
	uint64_t denied;
	uint64_t dedup_exec;       /* NOTIFY execs skipped: their AUTH was evaluated */
	uint64_t unknown;          /* AUTH execs with an unknown target or a cut field a blocking rule reads */
	uint64_t unknown_denied;   /* ... denied by the unknown_target = deny policy */
};

/*
 * What an AUTH exec gets when the target path is unknown or cut, or when a
 * blocking rule reads a field that was cut or unknown and did not match
 * (docs/CONTENT.md, "Cut and unknown fields"): DEFAULT judges on what the
 * message holds (an absent field matches nothing, a cut one holds a prefix),
 * so the verdict is the one without the missing part; DENY denies.
 */
enum det_unknown {
	DET_UNKNOWN_DEFAULT = 0,
	DET_UNKNOWN_DENY = 1,
};

struct det_recent {
	uint64_t key;
	uint64_t when;
};

struct detector {
	struct rfe_engine *e;      /* owned */
	struct pcache *pc;         /* owned; NULL when no rule reads a parent's command line */
	bool enforce;
	enum det_unknown unknown_target;   /* set after det_new(); DEFAULT there */
	uint32_t *matches;         /* rfe_nrules() entries */
	struct rfe_msg_view view;
	struct det_recent auth_seen[DET_RING];
	struct det_recent alerted[DET_RING];
	unsigned auth_next, alerted_next;
	struct det_stats stats;
};

struct det_result {
	unsigned nalerts;          /* rules to report, det->matches[0..nalerts) */
	const uint32_t *alerts;
	bool deny;                 /* an AUTH exec: the verdict */
};

/* Takes ownership of e.  Returns NULL when out of memory (e is then freed). */
struct detector *det_new(struct rfe_engine *e, bool enforce);
void det_free(struct detector *d);

/* Event types to subscribe to as NOTIFY (1 << type), given the rules. */
uint32_t det_notify_types(const struct detector *d);
/* Whether to subscribe to AUTH exec: enforcing, with at least one blocking rule. */
bool det_wants_auth_exec(const struct detector *d);

/* Fields (1 << RFF_*) of m that are cut or unknown, from its flags. */
uint64_t det_unknown_fields(const struct rf_message *m);

/* Evaluates m (a message from rf_next()). */
void det_handle(struct detector *d, const struct rf_message *m, struct det_result *ret);

#endif
