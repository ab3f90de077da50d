/*
 * view.c - rf_message to engine fields (view.h).
 *
 * Exec deserves a note: an AUTH exec arrives before the new image runs, so
 * the message's process is still the caller (old exe, old argv) and the new
 * image and argv are in ev.exec; a NOTIFY exec arrives after, and the
 * broker fills ev.exec from the new process.  Reading image and command
 * line from ev.exec gives rules the same view in both cases.  The parent is
 * the message's parent (the caller's parent), which is Sigma's meaning of
 * ParentImage for a process creation: the process that started this one.
 */
#include <netinet/in.h>
#include <string.h>

#include "content/view.h"

/* A string member of m: the broker's validator checked it is inside m and NUL terminated. */
static void set_str(struct rfe_value *v, const struct rf_message *m, rf_str_t s)
{
	if (!s.off) {
		v->present = 0;
		return;
	}
	v->s = (const char *)m + s.off;
	v->len = s.len;
	v->present = 1;
}

static void set_int(struct rfe_value *v, int64_t n)
{
	v->num = n;
	v->present = 1;
}

static void set_ip(struct rfe_value *v, unsigned family, const uint8_t addr[16])
{
	static const uint8_t v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	memset(v->ip, 0, sizeof v->ip);
	if (family == AF_INET) {
		v->family = 4;
		memcpy(v->ip, addr, 4);
	} else if (family == AF_INET6 && memcmp(addr, v4mapped, 12) == 0) {
		v->family = 4;                     /* ::ffff:a.b.c.d is an IPv4 peer */
		memcpy(v->ip, addr + 12, 4);
	} else if (family == AF_INET6) {
		v->family = 6;
		memcpy(v->ip, addr, 16);
	} else {
		v->present = 0;
		return;
	}
	v->present = 1;
}

size_t rfe_join_args(const struct rf_message *m, rf_str_t args, char *out, size_t cap)
{
	if (cap == 0)
		return 0;
	size_t n = args.off ? args.len : 0;
	if (n > cap - 1)
		n = cap - 1;
	const char *src = (const char *)m + args.off;
	for (size_t i = 0; i < n; i++)
		out[i] = src[i] ? src[i] : ' ';
	/* argv entries that were empty strings leave no trailing separators */
	while (n > 0 && out[n - 1] == ' ' && src[n - 1] == 0)
		n--;
	out[n] = 0;
	return n;
}

void rfe_view_from_msg(struct rfe_msg_view *v, const struct rf_message *m, const char *parent_cmdline,
		       size_t parent_cmdline_len)
{
	struct rfe_event *ev = &v->ev;
	memset(ev, 0, sizeof *ev);
	ev->type = m->hdr.type;
	const struct rf_process *p = &m->process;
	bool exec = m->hdr.type == RF_EVENT_EXEC;

	set_str(&ev->v[RFF_IMAGE], m, exec ? m->ev.exec.target.path : p->exe.path);
	rf_str_t args = exec ? m->ev.exec.args : p->args;
	if (args.off) {
		ev->v[RFF_COMMAND_LINE].s = v->cmdline;
		ev->v[RFF_COMMAND_LINE].len = (uint32_t)rfe_join_args(m, args, v->cmdline, sizeof v->cmdline);
		ev->v[RFF_COMMAND_LINE].present = 1;
	}
	set_str(&ev->v[RFF_CWD], m, p->cwd);
	set_int(&ev->v[RFF_PID], p->pid);
	set_int(&ev->v[RFF_PPID], p->ppid);
	set_int(&ev->v[RFF_UID], p->uid);
	set_int(&ev->v[RFF_EUID], p->euid);
	set_int(&ev->v[RFF_GID], p->gid);
	set_int(&ev->v[RFF_AUID], p->auid);
	set_str(&ev->v[RFF_COMM], m, p->comm);
	set_str(&ev->v[RFF_PARENT_IMAGE], m, m->parent.exe);
	if (parent_cmdline) {
		ev->v[RFF_PARENT_COMMAND_LINE].s = parent_cmdline;
		ev->v[RFF_PARENT_COMMAND_LINE].len = (uint32_t)parent_cmdline_len;
		ev->v[RFF_PARENT_COMMAND_LINE].present = 1;
	}

	switch (m->hdr.type) {
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
		set_str(&ev->v[RFF_TARGET_PATH], m, m->ev.file.target.path);
		break;
	case RF_EVENT_RENAME:
		/* Sigma's TargetFilename is the name the file has afterwards */
		set_str(&ev->v[RFF_TARGET_PATH], m, m->ev.file.dest);
		set_str(&ev->v[RFF_SOURCE_PATH], m, m->ev.file.target.path);
		break;
	case RF_EVENT_CONNECT:
	case RF_EVENT_ACCEPT: {
		const struct rf_ev_net *n = &m->ev.net;
		set_int(&ev->v[RFF_NET_INITIATED], m->hdr.type == RF_EVENT_CONNECT);
		set_ip(&ev->v[RFF_NET_SRC_IP], n->family, n->saddr);
		set_int(&ev->v[RFF_NET_SRC_PORT], n->sport);
		set_ip(&ev->v[RFF_NET_DST_IP], n->family, n->daddr);
		set_int(&ev->v[RFF_NET_DST_PORT], n->dport);
		const char *proto = n->proto == IPPROTO_TCP ? "tcp" : n->proto == IPPROTO_UDP ? "udp" : NULL;
		if (proto) {
			ev->v[RFF_NET_PROTOCOL].s = proto;
			ev->v[RFF_NET_PROTOCOL].len = 3;
			ev->v[RFF_NET_PROTOCOL].present = 1;
		}
		break;
	}
	default:
		break;
	}
}
