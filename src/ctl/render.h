/*
 * render.h - one rf_message as one line of JSON: the output of `rfctl tail`
 * (JSON Lines, in the spirit of macOS eslogger).  The field names are a
 * public interface for operators' scripts; docs/ describes them and
 * schema_version changes when they change incompatibly.
 *
 * Kept apart from the CLI so that unit tests and a fuzz harness can drive it.
 */
#ifndef RF_CTL_RENDER_H
#define RF_CTL_RENDER_H

#include <stddef.h>

#include "ringfence/message.h"

#define RF_RENDER_SCHEMA_VERSION 1

/*
 * Renders the message of len bytes at buf (any alignment) as one line of
 * JSON without a trailing newline and stores it, malloc()ed, in *ret_str;
 * the caller frees it.  The message is checked with rf_msg_validate()
 * first, so any bytes are safe input.  The output is valid UTF-8: bytes
 * that are not are replaced with U+FFFD.  Returns 0, -EPROTO (the message
 * is invalid) or -ENOMEM; on error *ret_str is not touched.
 */
int rf_render_json(const void *buf, size_t len, char **ret_str);

/*
 * Formats a CLOCK_REALTIME time in nanoseconds as RFC 3339 UTC with
 * nanoseconds ("2026-11-21T16:12:02.123456789Z") into out, which holds at
 * least RF_RENDER_TIME_MAX bytes.
 */
#define RF_RENDER_TIME_MAX 40
void rf_render_time(unsigned long long time_ns, char *out);

#endif
