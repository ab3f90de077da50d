/*
 * sensor_proc.c - the netlink process connector (CN_IDX_PROC) as a sensor:
 * the fallback when the eBPF programs cannot load.
 *
 * It reports fork (processes only: child pid == child tgid), exec, exit
 * (of a thread group leader, i.e. pid == tgid; the leader can exit before
 * its other threads, so this is approximate), and uid/gid changes.  The
 * connector gives pids and little else: no comm, filename, argv, start
 * time or creds; the broker's process table fills those from /proc.  It
 * does not filter out the broker's own activity.
 *
 * Every datagram comes from the kernel (sender port 0) or is dropped; every
 * length (datagram, nlmsghdr, cn_msg, proc_event) is checked before the
 * bytes behind it are read.  The socket is non-blocking; an overrun
 * (ENOBUFS) counts one lost event, the only thing the kernel tells us.
 */
#include "broker/sensor.h"

#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>

/* Datagrams read per drain; the descriptor stays readable for the rest. */
#define PROC_DRAIN_MAX 1024
#define PROC_RCVBUF (4 * 1024 * 1024)
#define PROC_ACK_MS 1000

/* Set in the id fields the connector does not report. */
#define PROC_ID_UNKNOWN 0xffffffffu

struct proc_state {
	int fd;
	uint32_t ack_nonce;          /* cn_msg.ack of our LISTEN request */
	bool acked;                  /* the kernel answered it */
	uint32_t ack_err;            /* with this errno (0: listening) */
	/* one datagram; the kernel sends one small proc_event per message */
	uint64_t buf[8192 / sizeof(uint64_t)];
};

/* Sends PROC_CN_MCAST_LISTEN or PROC_CN_MCAST_IGNORE; the kernel acks with ack + 1. */
static int proc_subscribe(int fd, enum proc_cn_mcast_op op, uint32_t ack)
{
	unsigned char msg[NLMSG_SPACE(sizeof(struct cn_msg) + sizeof(op))];
	struct nlmsghdr nh;
	struct cn_msg cn;

	memset(msg, 0, sizeof(msg));
	memset(&nh, 0, sizeof(nh));
	nh.nlmsg_len = NLMSG_LENGTH(sizeof(cn) + sizeof(op));
	nh.nlmsg_type = NLMSG_DONE;
	nh.nlmsg_pid = 0;
	memset(&cn, 0, sizeof(cn));
	cn.id.idx = CN_IDX_PROC;
	cn.id.val = CN_VAL_PROC;
	cn.ack = ack;
	cn.len = sizeof(op);
	memcpy(msg, &nh, sizeof(nh));
	memcpy(msg + NLMSG_HDRLEN, &cn, sizeof(cn));
	memcpy(msg + NLMSG_HDRLEN + sizeof(cn), &op, sizeof(op));
	if (send(fd, msg, nh.nlmsg_len, 0) < 0)
		return -errno;
	return 0;
}

static void emit(struct rf_sensor *s, struct rf_raw_event *ev)
{
	s->events++;
	if (s->sink)
		s->sink(s->sink_ctx, ev);
}

/* One proc_event of len bytes (already bounded by the cn_msg). */
static int handle_event(struct rf_sensor *s, const struct cn_msg *cn, const unsigned char *data,
			size_t len)
{
	struct proc_state *st = s->priv;
	const size_t head = offsetof(struct proc_event, event_data);
	struct proc_event pe;
	struct rf_raw_event ev;
	size_t need;

	if (len < head)
		return 0;
	memset(&pe, 0, sizeof(pe));
	memcpy(&pe, data, len < sizeof(pe) ? len : sizeof(pe));
	if (pe.what == PROC_EVENT_NONE) {
		if (len >= head + sizeof(pe.event_data.ack) && cn->ack == st->ack_nonce + 1) {
			st->acked = true;
			st->ack_err = pe.event_data.ack.err;
		}
		return 0;
	}
	switch (pe.what) {
	case PROC_EVENT_FORK: need = sizeof(pe.event_data.fork); break;
	case PROC_EVENT_EXEC: need = sizeof(pe.event_data.exec); break;
	case PROC_EVENT_UID:
	case PROC_EVENT_GID: need = sizeof(pe.event_data.id); break;
	case PROC_EVENT_EXIT: need = sizeof(pe.event_data.exit); break;
	default: return 0;   /* acks, sid, comm, ptrace, coredump: not used */
	}
	if (len < head + need) {
		s->lost++;   /* malformed: count it, never guess */
		return 0;
	}

	memset(&ev, 0, sizeof(ev));
	ev.ktime_ns = pe.timestamp_ns;
	switch (pe.what) {
	case PROC_EVENT_FORK: {
		const struct fork_proc_event *f = &pe.event_data.fork;
		if (f->child_pid != f->child_tgid)
			return 0;   /* a thread */
		ev.type = RF_EVENT_FORK;
		ev.pid = (uint32_t)f->parent_tgid;
		ev.tid = (uint32_t)f->parent_pid;
		ev.u.fork.child_pid = (uint32_t)f->child_tgid;
		break;
	}
	case PROC_EVENT_EXEC:
		ev.type = RF_EVENT_EXEC;
		ev.pid = (uint32_t)pe.event_data.exec.process_tgid;
		ev.tid = (uint32_t)pe.event_data.exec.process_pid;
		break;
	case PROC_EVENT_UID:
	case PROC_EVENT_GID: {
		const struct id_proc_event *id = &pe.event_data.id;
		ev.type = pe.what == PROC_EVENT_UID ? RF_EVENT_SETUID : RF_EVENT_SETGID;
		ev.pid = (uint32_t)id->process_tgid;
		ev.tid = (uint32_t)id->process_pid;
		ev.u.cred.syscall_nr = PROC_ID_UNKNOWN;
		ev.u.cred.retval = 0;   /* the connector reports changes that happened */
		for (int i = 0; i < 4; i++) {
			ev.u.cred.old_id[i] = PROC_ID_UNKNOWN;
			ev.u.cred.new_id[i] = PROC_ID_UNKNOWN;
		}
		/* r and e are unions of the uid and gid names: same offsets */
		ev.u.cred.new_id[0] = id->r.ruid;
		ev.u.cred.new_id[1] = id->e.euid;
		break;
	}
	case PROC_EVENT_EXIT: {
		const struct exit_proc_event *x = &pe.event_data.exit;
		if (x->process_pid != x->process_tgid)
			return 0;   /* a thread, not the process */
		ev.type = RF_EVENT_EXIT;
		ev.pid = (uint32_t)x->process_tgid;
		ev.tid = (uint32_t)x->process_pid;
		ev.ppid = (uint32_t)x->parent_tgid;
		ev.u.exit.status = (int32_t)x->exit_code;
		break;
	}
	default:
		return 0;
	}
	emit(s, &ev);
	return 1;
}

/* Walks the netlink messages of one datagram of len bytes. */
static int handle_datagram(struct rf_sensor *s, const unsigned char *buf, size_t len)
{
	size_t off = 0;
	int n = 0;

	while (len - off >= sizeof(struct nlmsghdr)) {
		struct nlmsghdr nh;
		struct cn_msg cn;
		const unsigned char *payload;
		size_t plen;

		memcpy(&nh, buf + off, sizeof(nh));
		if (nh.nlmsg_len < NLMSG_HDRLEN || nh.nlmsg_len > len - off) {
			s->lost++;
			break;
		}
		payload = buf + off + NLMSG_HDRLEN;
		plen = nh.nlmsg_len - NLMSG_HDRLEN;
		if (nh.nlmsg_type == NLMSG_ERROR || nh.nlmsg_type == NLMSG_OVERRUN) {
			s->lost++;
		} else if (nh.nlmsg_type != NLMSG_NOOP && plen >= sizeof(cn)) {
			memcpy(&cn, payload, sizeof(cn));
			if (cn.id.idx == CN_IDX_PROC && cn.id.val == CN_VAL_PROC &&
			    cn.len <= plen - sizeof(cn))
				n += handle_event(s, &cn, payload + sizeof(cn), cn.len);
		}
		if (NLMSG_ALIGN(nh.nlmsg_len) >= len - off)
			break;
		off += NLMSG_ALIGN(nh.nlmsg_len);
	}
	return n;
}

static int proc_drain(struct rf_sensor *s)
{
	struct proc_state *st = s->priv;
	int handled = 0;

	if (!st || st->fd < 0)
		return -EINVAL;
	for (int i = 0; i < PROC_DRAIN_MAX; i++) {
		struct sockaddr_nl from;
		struct iovec iov = { .iov_base = st->buf, .iov_len = sizeof(st->buf) };
		struct msghdr mh = {
			.msg_name = &from,
			.msg_namelen = sizeof(from),
			.msg_iov = &iov,
			.msg_iovlen = 1,
		};
		ssize_t n = recvmsg(st->fd, &mh, 0);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				break;
			if (errno == ENOBUFS) {
				s->lost++;   /* the kernel dropped at least one */
				continue;
			}
			return handled ? handled : -errno;
		}
		if (mh.msg_namelen != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0)
			continue;   /* not from the kernel */
		if (mh.msg_flags & MSG_TRUNC) {
			s->lost++;
			continue;
		}
		handled += handle_datagram(s, (const unsigned char *)st->buf, (size_t)n);
	}
	return handled;
}

/*
 * Waits (at most PROC_ACK_MS) for the kernel's answer to LISTEN: it refuses
 * with an errno (no CAP_NET_ADMIN), or says nothing at all to a caller
 * outside the initial user and pid namespaces.  Events that arrive first
 * go to the sink as usual.
 */
static int proc_wait_ack(struct rf_sensor *s, struct proc_state *st)
{
	for (int waited = 0; !st->acked && waited < PROC_ACK_MS; waited += 10) {
		struct pollfd pfd = { .fd = st->fd, .events = POLLIN };

		if (poll(&pfd, 1, 10) < 0 && errno != EINTR)
			return -errno;
		if (proc_drain(s) < 0)
			return -EIO;
	}
	if (!st->acked)
		return -EPERM;   /* silently ignored: not in the initial namespaces */
	return st->ack_err ? -(int)st->ack_err : 0;
}

static void proc_stop(struct rf_sensor *s)
{
	struct proc_state *st = s->priv;

	if (st) {
		if (st->fd >= 0) {
			(void)proc_subscribe(st->fd, PROC_CN_MCAST_IGNORE, 0);
			close(st->fd);
		}
		free(st);
	}
	s->priv = NULL;
	s->fd = -1;
	s->running = false;
	s->detail = NULL;
}

static int proc_start(struct rf_sensor *s)
{
	struct sockaddr_nl sa;
	struct proc_state *st;
	int r, size = PROC_RCVBUF;

	if (s->priv)
		return -EALREADY;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	s->priv = st;
	st->fd = socket(AF_NETLINK, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, NETLINK_CONNECTOR);
	if (st->fd < 0) {
		r = -errno;
		goto fail;
	}
	/* A burst of forks must not overrun us: force past rmem_max as root. */
	if (setsockopt(st->fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) < 0)
		(void)setsockopt(st->fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
	memset(&sa, 0, sizeof(sa));
	sa.nl_family = AF_NETLINK;
	sa.nl_groups = CN_IDX_PROC;
	sa.nl_pid = 0;   /* let the kernel pick the port */
	if (bind(st->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		r = -errno;
		goto fail;
	}
	st->ack_nonce = (uint32_t)getpid() ^ (uint32_t)(uintptr_t)st;
	r = proc_subscribe(st->fd, PROC_CN_MCAST_LISTEN, st->ack_nonce);
	if (r < 0)
		goto fail;
	r = proc_wait_ack(s, st);
	if (r < 0)
		goto fail;
	s->fd = st->fd;
	s->running = true;
	s->detail = "proc connector: fork, exec, exit, uid, gid";
	return 0;
fail:
	proc_stop(s);
	return r;
}

const struct rf_sensor_ops rf_sensor_proc_connector = {
	.name = "proc_connector",
	.start = proc_start,
	.drain = proc_drain,
	.stop = proc_stop,
};
