/*
 * msgbuild.h - building an rf_message with its string tail.
 *
 * The builder owns a RF_MSG_MAX buffer.  Strings that do not fit are
 * shortened or left out, never silently: every cut is counted, and the
 * field variants (rf_msgb_field, rf_msgb_args) also set the field's
 * RF_CUT_* bit in hdr.cut and RF_MSG_F_CUT in hdr.flags, and tell the
 * caller so that it can set the field's own flag.  A message always stays
 * within RF_MSG_MAX and always validates.
 *
 * Order is priority: the first string added gets the whole tail.  Callers
 * add the event's target path first (it always fits: RF_PATH_MAX is less
 * than the tail), then what identifies the process, and long strings
 * (arguments, cwd) last.  rf_msgb_hold keeps room for a string that must be
 * added later but matters more than those in between.
 */
#ifndef RF_MSGBUILD_H
#define RF_MSGBUILD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringfence/message.h"

struct rf_msgb {
	union {
		struct rf_message msg;
		unsigned char bytes[RF_MSG_MAX];
	} u;
	uint32_t used;               /* bytes used, header and tail */
	uint32_t truncated;          /* strings shortened or left out to fit */
	uint32_t held;               /* bytes kept back by rf_msgb_hold */
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

/*
 * As rf_msgb_add, storing the reference in *out; when the string is
 * shortened or left out, sets cut (an RF_CUT_* bit) in hdr.cut and
 * RF_MSG_F_CUT in hdr.flags, and returns true.
 */
bool rf_msgb_field(struct rf_msgb *b, uint32_t cut, rf_str_t *out, const char *s, size_t len);
/* The same for a NUL-terminated string (NULL = absent, not cut). */
bool rf_msgb_field_str(struct rf_msgb *b, uint32_t cut, rf_str_t *out, const char *s);
/*
 * An argument vector (NUL separated, len bytes): when it does not fit
 * whole it is cut after the last entry that fits (mid-entry only when not
 * even the first entry fits), with RF_CUT_ARGS set; returns true if cut.
 */
bool rf_msgb_args(struct rf_msgb *b, rf_str_t *out, const char *args, size_t len);

/*
 * Entries in a NUL-separated vector of len bytes (no trailing NUL needed).
 * Fewer entries than the argc the kernel counted means the vector was cut
 * before it reached the broker: callers flag that like a cut here.
 */
uint32_t rf_args_count(const char *args, size_t len);

/*
 * Keeps n bytes of the tail back from every later add until released with
 * rf_msgb_hold(b, 0); the hold never exceeds what is left.  Holding
 * len + 1 guarantees that a string of len bytes fits once released.
 */
void rf_msgb_hold(struct rf_msgb *b, size_t n);

/* Pads to RF_MSG_ALIGN, stores hdr.size and returns it. */
uint32_t rf_msgb_finish(struct rf_msgb *b);

#endif
