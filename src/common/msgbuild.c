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
}

rf_str_t rf_msgb_add(struct rf_msgb *b, const char *s, size_t len)
{
	rf_str_t r = { 0, 0 };
	if (!s || len == 0)
		return r;
	/* keep room for the NUL and the final alignment padding */
	size_t room = RF_MSG_MAX - b->used;
	if (room <= RF_MSG_ALIGN + 1)
		return b->truncated++, r;
	room -= RF_MSG_ALIGN + 1;
	if (len > room) {
		len = room;
		b->truncated++;
	}
	r.off = b->used;
	r.len = (uint32_t)len;
	memcpy(b->u.bytes + b->used, s, len);
	b->u.bytes[b->used + len] = '\0';
	b->used += (uint32_t)len + 1;
	return r;
}

rf_str_t rf_msgb_str(struct rf_msgb *b, const char *s)
{
	return rf_msgb_add(b, s, s ? strlen(s) : 0);
}

uint32_t rf_msgb_finish(struct rf_msgb *b)
{
	while (b->used % RF_MSG_ALIGN)
		b->u.bytes[b->used++] = '\0';
	b->u.msg.hdr.size = b->used;
	return b->used;
}
