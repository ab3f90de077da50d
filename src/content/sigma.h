/*
 * sigma.h - compiles Sigma rules (YAML, libyaml) into a content bundle.
 *
 * One rule per file.  A rule that uses something ringfence cannot evaluate
 * faithfully (an unmapped field, an unsupported modifier or condition, a
 * logsource other than the supported Linux categories) is an error for
 * that rule only: it is recorded with its reason and the others compile.
 * Nothing of a failed rule reaches the bundle.
 *
 * docs/CONTENT.md has the supported subset and the field mapping table.
 */
#ifndef RF_CONTENT_SIGMA_H
#define RF_CONTENT_SIGMA_H

#include <stdbool.h>
#include <stddef.h>

#include "content/bundle_write.h"

/* Longest rule file read, in bytes. */
#define SG_MAX_FILE (1u << 20)
/* Most predicates one rule may expand to, and deepest condition nesting. */
#define SG_MAX_PREDS 4096u
#define SG_MAX_DEPTH 64u

struct sg_options {
	const char *const *block_ids;   /* rule ids to mark blocking, besides tag ringfence.block */
	size_t nblock;
};

struct sg_result {
	char *file;
	char *id;                       /* "-" when the rule has none (or it could not be read) */
	char *title;                    /* may be NULL */
	char *category;                 /* may be NULL */
	bool ok;
	bool blocking;
	char reason[256];               /* when !ok */
};

struct sg_compiler;

/* A compiler adding to builder b (not owned). */
struct sg_compiler *sg_new(struct rfb_builder *b, const struct sg_options *opts);
void sg_free(struct sg_compiler *c);

/*
 * Compiles one rule file and records the result.  Returns 0 (compiled),
 * 1 (the rule was refused; see the result's reason) or a negative errno on
 * a failure that is not the rule's fault (no memory).
 */
int sg_add_file(struct sg_compiler *c, const char *path);

/* Compiles a rule from memory; name is used in messages.  As sg_add_file(). */
int sg_add_text(struct sg_compiler *c, const char *name, const char *text, size_t len);

size_t sg_nresults(const struct sg_compiler *c);
const struct sg_result *sg_result(const struct sg_compiler *c, size_t i);

/* The reason's class (its text before the first ':'), for grouping in reports. */
size_t sg_reason_class(const char *reason, char *out, size_t cap);

#endif
