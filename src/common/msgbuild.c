/*
 * msgbuild.c - see msgbuild.h.
 */
#include "common/msgbuild.h"

#include <string.h>

void rf_msgb_init(struct rf_msgb *b, uint16_t type, uint8_t action)
{
	memset(&b->u.msg, 0, sizeof b->u.msg);
	b->u.msg.hdr.version = RF_PROTO_VERSION;
	b->u.msg.hdr.type = type;
	b->u.msg.hdr.action = action;
	b->used = sizeof(struct rf_message);
	b->truncated = 0;
	b->held = 0;
}

/* What a string may still take: the NUL and the final padding are kept back. */
static size_t room_left(const struct rf_msgb *b)
{
	size_t room = RF_MSG_MAX - b->used - b->held;
	return room <= RF_MSG_ALIGN + 1 ? 0 : room - (RF_MSG_ALIGN + 1);
}

static rf_str_t put(struct rf_msgb *b, const char *s, size_t len)
{
	rf_str_t r = { b->used, (uint32_t)len };
	memcpy(b->u.bytes + b->used, s, len);
	b->u.bytes[b->used + len] = '\0';
	b->used += (uint32_t)len + 1;
	return r;
}

static void mark_cut(struct rf_msgb *b, uint32_t cut)
{
	b->truncated++;
	b->u.msg.hdr.cut |= cut;
	b->u.msg.hdr.flags |= RF_MSG_F_CUT;
}

rf_str_t rf_msgb_add(struct rf_msgb *b, const char *s, size_t len)
{
	rf_str_t r = { 0, 0 };
	rf_msgb_field(b, RF_CUT_OTHER, &r, s, len);
	return r;
}

rf_str_t rf_msgb_str(struct rf_msgb *b, const char *s)
{
	return rf_msgb_add(b, s, s ? strlen(s) : 0);
}

bool rf_msgb_field(struct rf_msgb *b, uint32_t cut, rf_str_t *out, const char *s, size_t len)
{
	*out = (rf_str_t){ 0, 0 };
	if (!s || len == 0)
		return false;
	size_t room = room_left(b);
	bool shortened = len > room;
	if (shortened) {
		mark_cut(b, cut);
		if (room == 0)
			return true;
		len = room;
	}
	*out = put(b, s, len);
	return shortened;
}

bool rf_msgb_field_str(struct rf_msgb *b, uint32_t cut, rf_str_t *out, const char *s)
{
	return rf_msgb_field(b, cut, out, s, s ? strlen(s) : 0);
}

bool rf_msgb_args(struct rf_msgb *b, rf_str_t *out, const char *args, size_t len)
{
	size_t room = room_left(b);
	if (args && len > room && room > 0) {
		/* args[room] exists (len > room): the last separator at or before it ends an entry */
		size_t i = room;
		while (i > 0 && args[i] != '\0')
			i--;
		if (i > 0) {
			mark_cut(b, RF_CUT_ARGS);
			*out = put(b, args, i);
			return true;
		}
	}
	return rf_msgb_field(b, RF_CUT_ARGS, out, args, len);
}

uint32_t rf_args_count(const char *args, size_t len)
{
	if (!args || len == 0)
		return 0;
	uint32_t n = 1;
	for (const char *p = args, *end = args + len; (p = memchr(p, '\0', (size_t)(end - p))) != NULL; p++)
		n++;
	return n;
}

void rf_msgb_hold(struct rf_msgb *b, size_t n)
{
	size_t left = RF_MSG_MAX - b->used;
	b->held = (uint32_t)(n < left ? n : left);
}

uint32_t rf_msgb_finish(struct rf_msgb *b)
{
	while (b->used % RF_MSG_ALIGN)
		b->u.bytes[b->used++] = '\0';
	b->u.msg.hdr.size = b->used;
	return b->used;
}
