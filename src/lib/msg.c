/*
 * msg.c - checking and reading rf_message values from untrusted bytes.
 *
 * Used by libringfence on every message it hands a client, by rfctl on the
 * tail stream, and by the broker's replay source on recorded files.
 */
#include <string.h>

#include "ringfence/ringfence.h"

static const char *const type_names[RF_EVENT_MAX] = {
	[RF_EVENT_NONE] = NULL,
	[RF_EVENT_EXEC] = "exec",
	[RF_EVENT_OPEN] = "open",
	[RF_EVENT_FORK] = "fork",
	[RF_EVENT_EXIT] = "exit",
	[RF_EVENT_CREATE] = "create",
	[RF_EVENT_CLOSE_WRITE] = "close_write",
	[RF_EVENT_UNLINK] = "unlink",
	[RF_EVENT_RENAME] = "rename",
	[RF_EVENT_CONNECT] = "connect",
	[RF_EVENT_ACCEPT] = "accept",
	[RF_EVENT_LISTEN] = "listen",
	[RF_EVENT_SETUID] = "setuid",
	[RF_EVENT_SETGID] = "setgid",
	[RF_EVENT_PTRACE] = "ptrace",
	[RF_EVENT_KMOD_LOAD] = "kmod_load",
	[RF_EVENT_BPF_LOAD] = "bpf_load",
	[RF_EVENT_MEMFD_EXEC] = "memfd_exec",
	[RF_EVENT_ALERT] = "alert",
};

const char *rf_event_type_name(unsigned type)
{
	return type < RF_EVENT_MAX ? type_names[type] : NULL;
}

enum rf_event_type rf_event_type_from_name(const char *name)
{
	if (!name)
		return RF_EVENT_NONE;
	for (unsigned t = 1; t < RF_EVENT_MAX; t++)
		if (strcmp(type_names[t], name) == 0)
			return (enum rf_event_type)t;
	return RF_EVENT_NONE;
}

const char *rf_strerror(int err)
{
	switch (err) {
	case RF_OK: return "success";
	case RF_E_INVAL: return "invalid argument";
	case RF_E_NOBROKER: return "not started by ringfenced (RF_CLIENT_FD not set)";
	case RF_E_PROTO: return "protocol error";
	case RF_E_VERSION: return "protocol version mismatch";
	case RF_E_NOMEM: return "out of memory";
	case RF_E_SYS: return "system call failed";
	case RF_E_TIMEOUT: return "timed out";
	case RF_E_CLOSED: return "broker connection closed";
	case RF_E_PERM: return "not permitted by the client manifest";
	case RF_E_LIMIT: return "limit reached";
	case RF_E_STATE: return "not allowed in this state";
	case RF_E_NOENT: return "no such entry";
	case RF_E_FULL: return "response ring full";
	default: return "unknown error";
	}
}

/* A reference is valid when absent (off 0) or inside the tail and NUL terminated. */
static int str_ok(const unsigned char *base, size_t size, rf_str_t s)
{
	if (s.off == 0)
		return s.len == 0;
	if (s.off < sizeof(struct rf_message) || s.off >= size)
		return 0;
	if (s.len >= size - s.off)    /* need room for len bytes and the NUL */
		return 0;
	return base[s.off + s.len] == '\0';
}

/* NUL-separated lists may hold interior NULs; plain strings may not. */
static int plain_str_ok(const unsigned char *base, size_t size, rf_str_t s)
{
	if (!str_ok(base, size, s))
		return 0;
	return s.off == 0 || memchr(base + s.off, '\0', s.len) == NULL;
}

/* An unknown path is absent, never a guess. */
static int file_ok(const unsigned char *b, size_t n, const struct rf_file *f)
{
	if ((f->flags & RF_FILE_F_PATH_UNKNOWN) && f->path.off)
		return 0;
	return plain_str_ok(b, n, f->path);
}

#define RF_CUT_ALL (RF_CUT_TARGET | RF_CUT_ARGS | RF_CUT_CWD | RF_CUT_EXE | RF_CUT_PARENT | RF_CUT_DEST | RF_CUT_OTHER)

uint32_t rf_msg_cut(const struct rf_message *msg)
{
	return msg ? msg->hdr.cut : 0;
}

const struct rf_file *rf_msg_target(const struct rf_message *msg)
{
	if (!msg)
		return NULL;
	switch (msg->hdr.type) {
	case RF_EVENT_EXEC:
	case RF_EVENT_MEMFD_EXEC:
		return &msg->ev.exec.target;
	case RF_EVENT_OPEN:
		return &msg->ev.open.target;
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		return &msg->ev.file.target;
	default:
		return NULL;
	}
}

bool rf_msg_target_known(const struct rf_message *msg)
{
	const struct rf_file *t = rf_msg_target(msg);
	return t && t->path.off && t->path.len &&
	       !(t->flags & (RF_FILE_F_PATH_UNKNOWN | RF_FILE_F_PATH_CUT)) &&
	       !(msg->hdr.cut & RF_CUT_TARGET);
}

int rf_msg_validate(const void *buf, size_t len)
{
	const unsigned char *b = buf;
	if (!buf || len < sizeof(struct rf_message) || len > RF_MSG_MAX)
		return RF_E_PROTO;
	struct rf_message m;
	memcpy(&m, buf, sizeof m);
	if (m.hdr.version != RF_PROTO_VERSION)
		return RF_E_VERSION;
	if (m.hdr.size != len || m.hdr.size % RF_MSG_ALIGN != 0)
		return RF_E_PROTO;
	if (m.hdr.type == RF_EVENT_NONE || m.hdr.type >= RF_EVENT_MAX)
		return RF_E_PROTO;
	if (m.hdr.action > RF_ACTION_AUTH)
		return RF_E_PROTO;
	if (m.hdr.action == RF_ACTION_AUTH && !RF_EVENT_IS_AUTHABLE(m.hdr.type))
		return RF_E_PROTO;
	if (m.hdr.verdict > RF_DENY || m.hdr.decided_by > RF_DECIDER_POLICY)
		return RF_E_PROTO;
	if (!plain_str_ok(b, len, m.hdr.decider))
		return RF_E_PROTO;

	/* hdr.cut: known bits only, and RF_MSG_F_CUT exactly when some are set */
	if (m.hdr.cut & ~RF_CUT_ALL || !m.hdr.cut != !(m.hdr.flags & RF_MSG_F_CUT))
		return RF_E_PROTO;
	const struct rf_file *t = rf_msg_target(&m);
	if (t && (t->flags & RF_FILE_F_PATH_CUT) && !(m.hdr.cut & RF_CUT_TARGET))
		return RF_E_PROTO;

	const struct rf_process *p = &m.process;
	if (!file_ok(b, len, &p->exe) || !plain_str_ok(b, len, p->comm) ||
	    !plain_str_ok(b, len, p->cwd) || !str_ok(b, len, p->args))
		return RF_E_PROTO;
	if (!plain_str_ok(b, len, m.parent.exe) || !plain_str_ok(b, len, m.parent.comm))
		return RF_E_PROTO;

	switch (m.hdr.type) {
	case RF_EVENT_EXEC:
	case RF_EVENT_MEMFD_EXEC:
		if (!file_ok(b, len, &m.ev.exec.target) || !str_ok(b, len, m.ev.exec.args))
			return RF_E_PROTO;
		break;
	case RF_EVENT_OPEN:
		if (!file_ok(b, len, &m.ev.open.target))
			return RF_E_PROTO;
		break;
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		if (!file_ok(b, len, &m.ev.file.target) || !plain_str_ok(b, len, m.ev.file.dest))
			return RF_E_PROTO;
		break;
	case RF_EVENT_KMOD_LOAD:
		if (!plain_str_ok(b, len, m.ev.kmod.name))
			return RF_E_PROTO;
		break;
	case RF_EVENT_BPF_LOAD:
		if (!plain_str_ok(b, len, m.ev.bpf.name))
			return RF_E_PROTO;
		break;
	case RF_EVENT_ALERT: {
		const struct rf_ev_alert *a = &m.ev.alert;
		if (!plain_str_ok(b, len, a->client) || !plain_str_ok(b, len, a->rule_id) ||
		    !plain_str_ok(b, len, a->title) || !plain_str_ok(b, len, a->level) ||
		    !plain_str_ok(b, len, a->tags) || !plain_str_ok(b, len, a->target))
			return RF_E_PROTO;
		if (m.hdr.action != RF_ACTION_NOTIFY)
			return RF_E_PROTO;
		break;
	}
	default:
		break;
	}
	return RF_OK;
}

const char *rf_msg_str(const struct rf_message *msg, rf_str_t s)
{
	if (!msg || s.off == 0)
		return "";
	return (const char *)msg + s.off;
}
