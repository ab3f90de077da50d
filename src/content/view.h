/*
 * view.h - maps a ringfence event message to the engine's fields.
 *
 * This is where the field schema (schema.h) meets rf_message: which
 * message member each field comes from for each event type.  The table in
 * docs/CONTENT.md says the same in prose; change both together.
 */
#ifndef RF_CONTENT_VIEW_H
#define RF_CONTENT_VIEW_H

#include <ringfence/message.h>

#include "content/engine.h"

/* An rfe_event plus the storage its strings point into. */
struct rfe_msg_view {
	struct rfe_event ev;
	char cmdline[RF_MSG_MAX];          /* argv joined with spaces */
};

/*
 * Fills v from m, a message libringfence validated (every string reference
 * inside it and NUL terminated).  parent_cmdline is the parent's command
 * line when the caller knows it (NULL: the field is absent).  v->ev points
 * into m and parent_cmdline: they must outlive the evaluation.
 */
void rfe_view_from_msg(struct rfe_msg_view *v, const struct rf_message *m, const char *parent_cmdline,
		       size_t parent_cmdline_len);

/*
 * Joins args (argc strings separated by NULs, as in rf_message) with single
 * spaces into out (cap bytes, NUL terminated, truncated to fit); returns
 * the length.
 */
size_t rfe_join_args(const struct rf_message *m, rf_str_t args, char *out, size_t cap);

#endif
