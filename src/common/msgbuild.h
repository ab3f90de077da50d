/*
 * msgbuild.h - building an rf_message with its string tail.
 *
 * The builder owns a RF_MSG_MAX buffer.  Strings that do not fit are
 * truncated (never dropped silently: the truncation is counted), so a
 * message always stays within RF_MSG_MAX and always validates.
 */
#ifndef RF_MSGBUILD_H
#define RF_MSGBUILD_H

#include <stddef.h>
#include <stdint.h>

#include "ringfence/message.h"

struct rf_msgb {
	union {
		struct rf_message msg;
		unsigned char bytes[RF_MSG_MAX];
	} u;
	uint32_t used;               /* bytes used, header and tail */
	uint32_t truncated;          /* strings shortened to fit */
};

/* Zeroes the message and sets size, version, type and action. */
void rf_msgb_init(struct rf_msgb *b, uint16_t type, uint8_t action);

/*
 * Appends len bytes (plus a NUL) and returns a reference to them; with
 * len == 0 or s == NULL returns an absent reference.  Interior NULs are kept
 * (argument vectors), so callers of plain strings must pass strlen().
 */
rf_str_t rf_msgb_add(struct rf_msgb *b, const char *s, size_t len);
rf_str_t rf_msgb_str(struct rf_msgb *b, const char *s);

/* Pads to RF_MSG_ALIGN, stores hdr.size and returns it. */
uint32_t rf_msgb_finish(struct rf_msgb *b);

#endif
