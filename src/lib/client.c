/*
 * client.c - libringfence: the client side of the transport.
 *
 * The broker hands a spawned client one end of a SOCK_SEQPACKET socket on
 * the descriptor named by RF_CLIENT_FD.  The handshake returns a sealed
 * memfd with the event and response rings and two eventfds.  Events are
 * read straight from the shared ring without system calls while it has
 * data; only an empty ring makes the client announce that it sleeps and wait
 * on the eventfd (the broker writes it only when told to), so a busy client
 * costs the broker no wake-ups.  Before it sleeps it watches the ring for a
 * short while, unless the broker's hint (ring.h) says there are more AUTH
 * parties than CPUs.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/cpu.h"
#include "common/ring.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

#define HANDSHAKE_TIMEOUT_MS 5000
#define REQUEST_TIMEOUT_MS 5000
#define FD_STASH 16                /* descriptors received ahead of their events */
#define FD_DRAIN_MAX 64            /* datagrams read looking for one descriptor */

struct rf_client {
	int sock;
	int evt_efd;               /* broker -> us: events available */
	int resp_efd;              /* us -> broker: responses available */
	void *shm;
	size_t shm_size;
	struct rf_evring evt;
	struct rf_respring resp;
	uint32_t next_req;
	uint64_t client_id;
	uint64_t last_seq;
	bool closed;
	uint64_t spin_ns;          /* UINT64_MAX until read from RF_SPIN_US */
	struct rf_client_stats stats;
	/* descriptors of AUTH events (RF_CTL_FD), by event id */
	struct { uint64_t id; int fd; } stash[FD_STASH];
	unsigned nstash;
	int cur_fd;                /* the current message's, owned until the next rf_next() */
	uint64_t cur_fd_id;
	_Alignas(8) unsigned char buf[RF_MSG_MAX];
};

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Waits until fd is readable; RF_OK, RF_E_TIMEOUT or RF_E_SYS. */
static int wait_readable(int fd, int timeout_ms)
{
	int64_t end = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int left = (int)(end - now_ms());
		int r = poll(&p, 1, left < 0 ? 0 : left);
		if (r > 0)
			return RF_OK;
		if (r == 0)
			return RF_E_TIMEOUT;
		if (errno != EINTR)
			return RF_E_SYS;
	}
}

static void close_fds(int *fds, int n)
{
	for (int i = 0; i < n; i++)
		if (fds[i] >= 0)
			close(fds[i]);
}

/* Receives the HELLO_ACK and its three descriptors. */
static int recv_hello_ack(rf_client_t *c, struct rf_ctl_hello_ack *ack, int fds[3])
{
	char cbuf[CMSG_SPACE(4 * sizeof(int))];
	struct iovec iov = { .iov_base = ack, .iov_len = sizeof *ack };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof cbuf };
	int r = wait_readable(c->sock, HANDSHAKE_TIMEOUT_MS);
	if (r != RF_OK)
		return r;
	ssize_t n = recvmsg(c->sock, &mh, MSG_CMSG_CLOEXEC);
	if (n == 0)
		return RF_E_CLOSED;
	if (n < 0)
		return RF_E_SYS;
	int nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		int k = (int)((cm->cmsg_len - CMSG_LEN(0)) / sizeof(int));
		for (int i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (nfds < 3)
				fds[nfds++] = fd;
			else
				close(fd);
		}
	}
	if ((size_t)n != sizeof *ack || (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) ||
	    ack->hdr.type != RF_CTL_HELLO_ACK || ack->hdr.size != sizeof *ack) {
		close_fds(fds, nfds);
		return RF_E_PROTO;
	}
	if (ack->hdr.version != RF_PROTO_VERSION) {
		close_fds(fds, nfds);
		return RF_E_VERSION;
	}
	if (ack->status != RF_OK) {
		close_fds(fds, nfds);
		return ack->status < 0 && ack->status > -100 ? ack->status : RF_E_PROTO;
	}
	if (nfds != 3) {
		close_fds(fds, nfds);
		return RF_E_PROTO;
	}
	return RF_OK;
}

static int handshake(rf_client_t *c, const char *name)
{
	struct rf_ctl_hello h = { 0 };
	h.hdr.size = sizeof h;
	h.hdr.version = RF_PROTO_VERSION;
	h.hdr.type = RF_CTL_HELLO;
	h.hdr.req_id = ++c->next_req;
	h.proto_version = RF_PROTO_VERSION;
	strncpy(h.name, name, sizeof h.name - 1);
	if (send(c->sock, &h, sizeof h, MSG_NOSIGNAL) != (ssize_t)sizeof h)
		return errno == EPIPE ? RF_E_CLOSED : RF_E_SYS;

	struct rf_ctl_hello_ack ack;
	int fds[3] = { -1, -1, -1 };
	int r = recv_hello_ack(c, &ack, fds);
	if (r != RF_OK)
		return r;
	struct stat st;
	if (fstat(fds[0], &st) < 0 || (uint64_t)st.st_size != ack.shm_size || ack.shm_size < 4096) {
		close_fds(fds, 3);
		return RF_E_PROTO;
	}
	void *p = mmap(NULL, ack.shm_size, PROT_READ | PROT_WRITE, MAP_SHARED, fds[0], 0);
	close(fds[0]);
	if (p == MAP_FAILED) {
		close_fds(fds + 1, 2);
		return RF_E_SYS;
	}
	if (rf_shm_attach(p, ack.shm_size, &c->evt, &c->resp) < 0) {
		munmap(p, ack.shm_size);
		close_fds(fds + 1, 2);
		return RF_E_PROTO;
	}
	c->shm = p;
	c->shm_size = ack.shm_size;
	c->evt_efd = fds[1];
	c->resp_efd = fds[2];
	c->client_id = ack.client_id;
	return RF_OK;
}

rf_client_t *rf_client_new(const char *name, int *ret_err)
{
	int err = RF_OK;
	rf_client_t *c = NULL;
	const char *fdstr = getenv("RF_CLIENT_FD");
	if (!name || !*name || strlen(name) >= RF_NAME_MAX) {
		err = RF_E_INVAL;
		goto fail;
	}
	if (!fdstr || !*fdstr) {
		err = RF_E_NOBROKER;
		goto fail;
	}
	char *end;
	long fd = strtol(fdstr, &end, 10);
	struct stat st;
	if (*end || fd < 0 || fd > 65535 || fstat((int)fd, &st) < 0 || !S_ISSOCK(st.st_mode)) {
		err = RF_E_NOBROKER;
		goto fail;
	}
	c = calloc(1, sizeof *c);
	if (!c) {
		err = RF_E_NOMEM;
		goto fail;
	}
	c->sock = (int)fd;
	c->evt_efd = c->resp_efd = -1;
	c->cur_fd = -1;
	c->spin_ns = UINT64_MAX;
	err = handshake(c, name);
	if (err != RF_OK)
		goto fail;
	if (ret_err)
		*ret_err = RF_OK;
	return c;
fail:
	free(c);
	if (ret_err)
		*ret_err = err;
	return NULL;
}

void rf_client_free(rf_client_t *c)
{
	if (!c)
		return;
	if (c->shm)
		munmap(c->shm, c->shm_size);
	close_fds((int[]){ c->sock, c->evt_efd, c->resp_efd, c->cur_fd }, 4);
	for (unsigned i = 0; i < c->nstash; i++)
		close(c->stash[i].fd);
	free(c);
}

/* Keeps a received descriptor for its event; when full, the oldest goes. */
static void stash_fd(rf_client_t *c, uint64_t id, int fd)
{
	if (c->nstash == FD_STASH) {
		unsigned old = 0;
		for (unsigned i = 1; i < c->nstash; i++)
			if (c->stash[i].id < c->stash[old].id)
				old = i;
		close(c->stash[old].fd);
		c->stash[old] = c->stash[--c->nstash];
	}
	c->stash[c->nstash].id = id;
	c->stash[c->nstash].fd = fd;
	c->nstash++;
}

enum { CTL_NONE, CTL_ACK, CTL_FD, CTL_EOF };

/*
 * Receives one datagram from the control socket without waiting: an ACK is
 * copied to *ack, a well-formed RF_CTL_FD has its descriptor stashed.
 * Returns CTL_NONE (nothing there, or a malformed FD datagram, discarded and
 * counted), CTL_ACK, CTL_FD, CTL_EOF, or a negative rf_err.  Every received
 * descriptor is either stashed or closed.
 */
static int recv_ctl(rf_client_t *c, struct rf_ctl_ack *ack)
{
	union {
		struct rf_ctl_ack ack;
		struct rf_ctl_fd fd;
		unsigned char raw[64];
	} u;
	union {
		char buf[CMSG_SPACE(4 * sizeof(int))];
		struct cmsghdr align;
	} cb;
	struct iovec iov = { .iov_base = &u, .iov_len = sizeof u };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			     .msg_controllen = sizeof cb.buf };
	ssize_t n = recvmsg(c->sock, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC);
	if (n == 0)
		return CTL_EOF;
	if (n < 0) {
		if (errno == EAGAIN || errno == EINTR)
			return CTL_NONE;
		if (errno == ECONNRESET)
			return CTL_EOF;
		return RF_E_SYS;
	}
	int fds[8], nfds = 0;
	for (struct cmsghdr *cm = CMSG_FIRSTHDR(&mh); cm; cm = CMSG_NXTHDR(&mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS ||
		    cm->cmsg_len < CMSG_LEN(0))
			continue;
		size_t k = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < k; i++) {
			int fd;
			memcpy(&fd, CMSG_DATA(cm) + i * sizeof(int), sizeof fd);
			if (nfds < (int)(sizeof fds / sizeof *fds))
				fds[nfds++] = fd;
			else if (fd >= 0)
				close(fd);   /* cannot happen with our buffer; never leak */
		}
	}
	bool trunc = (mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0;
	if (!trunc && (size_t)n == sizeof u.ack && u.ack.hdr.type == RF_CTL_ACK &&
	    u.ack.hdr.size == sizeof u.ack && u.ack.hdr.version == RF_PROTO_VERSION) {
		close_fds(fds, nfds);   /* an ack carries none */
		*ack = u.ack;
		return CTL_ACK;
	}
	if (!trunc && (size_t)n == sizeof u.fd && u.fd.hdr.type == RF_CTL_FD &&
	    u.fd.hdr.size == sizeof u.fd && u.fd.hdr.version == RF_PROTO_VERSION &&
	    u.fd.magic == RF_CTL_FD_MAGIC && u.fd.reserved == 0 && u.fd.id != 0 && nfds == 1 &&
	    fds[0] >= 0) {
		stash_fd(c, u.fd.id, fds[0]);
		return CTL_FD;
	}
	close_fds(fds, nfds);
	if ((size_t)n >= sizeof(struct rf_ctl_hdr) && u.ack.hdr.type == RF_CTL_FD) {
		c->stats.invalid++;   /* a broken descriptor datagram: its event goes without */
		return CTL_NONE;
	}
	return RF_E_PROTO;
}

/* Sends one control request and waits for its acknowledgement. */
static int request(rf_client_t *c, void *msg, uint32_t size, uint16_t type)
{
	if (c->closed)
		return RF_E_CLOSED;
	struct rf_ctl_hdr *h = msg;
	h->size = size;
	h->version = RF_PROTO_VERSION;
	h->type = type;
	h->req_id = ++c->next_req;
	if (send(c->sock, msg, size, MSG_NOSIGNAL) != (ssize_t)size) {
		if (errno == EPIPE || errno == ECONNRESET) {
			c->closed = true;
			return RF_E_CLOSED;
		}
		return RF_E_SYS;
	}
	int64_t end = now_ms() + REQUEST_TIMEOUT_MS;
	for (;;) {
		int r = wait_readable(c->sock, (int)(end - now_ms()));
		if (r != RF_OK)
			return r;
		struct rf_ctl_ack ack;
		/* descriptors of AUTH events share the socket: they are stashed */
		r = recv_ctl(c, &ack);
		if (r == CTL_EOF) {
			c->closed = true;
			return RF_E_CLOSED;
		}
		if (r < 0)
			return r;
		if (r != CTL_ACK)
			continue;
		if (ack.hdr.req_id != h->req_id)
			continue;       /* an answer to an earlier request that timed out */
		return ack.status <= 0 && ack.status > -100 ? ack.status : RF_E_PROTO;
	}
}

static int sub_req(rf_client_t *c, enum rf_event_type type, enum rf_action action, uint16_t ctl)
{
	if (!c || type <= RF_EVENT_NONE || type >= RF_EVENT_MAX || action > RF_ACTION_AUTH)
		return RF_E_INVAL;
	if (action == RF_ACTION_AUTH && !RF_EVENT_IS_AUTHABLE(type))
		return RF_E_INVAL;
	if (ctl == RF_CTL_SUBSCRIBE_FD && action != RF_ACTION_AUTH)
		return RF_E_INVAL;
	struct rf_ctl_sub s = { .type = type, .action = action };
	return request(c, &s, sizeof s, ctl);
}

int rf_subscribe(rf_client_t *c, enum rf_event_type type, enum rf_action action)
{
	return sub_req(c, type, action, RF_CTL_SUBSCRIBE);
}

int rf_subscribe_fd(rf_client_t *c, enum rf_event_type type, enum rf_action action)
{
	return sub_req(c, type, action, RF_CTL_SUBSCRIBE_FD);
}

int rf_unsubscribe(rf_client_t *c, enum rf_event_type type, enum rf_action action)
{
	return sub_req(c, type, action, RF_CTL_UNSUBSCRIBE);
}

int rf_ready(rf_client_t *c)
{
	if (!c)
		return RF_E_INVAL;
	struct rf_ctl_hdr h = { 0 };
	return request(c, &h, sizeof h, RF_CTL_READY);
}

static int mute_proc(rf_client_t *c, uint32_t pid, uint64_t start, uint16_t ctl)
{
	if (!c || pid == 0)
		return RF_E_INVAL;
	struct rf_ctl_mute_proc m = { .pid = pid, .start_time_ns = start };
	return request(c, &m, sizeof m, ctl);
}

int rf_mute_process(rf_client_t *c, uint32_t pid, uint64_t start_time_ns)
{
	return mute_proc(c, pid, start_time_ns, RF_CTL_MUTE_PROC);
}

int rf_unmute_process(rf_client_t *c, uint32_t pid, uint64_t start_time_ns)
{
	return mute_proc(c, pid, start_time_ns, RF_CTL_UNMUTE_PROC);
}

static bool mute_flags_ok(unsigned flags)
{
	unsigned how = flags & (RF_MUTE_LITERAL | RF_MUTE_PREFIX);
	unsigned what = flags & (RF_MUTE_EXE | RF_MUTE_TARGET);
	unsigned known = RF_MUTE_LITERAL | RF_MUTE_PREFIX | RF_MUTE_EXE | RF_MUTE_TARGET;
	return !(flags & ~known) && (how == RF_MUTE_LITERAL || how == RF_MUTE_PREFIX) &&
	       (what == RF_MUTE_EXE || what == RF_MUTE_TARGET);
}

static int mute_path(rf_client_t *c, const char *path, unsigned flags, uint16_t ctl)
{
	if (!c || !path || path[0] != '/' || !mute_flags_ok(flags))
		return RF_E_INVAL;
	size_t len = strlen(path) + 1;
	if (len > RF_PATH_MAX)
		return RF_E_INVAL;
	union {
		struct rf_ctl_mute_path m;
		unsigned char bytes[sizeof(struct rf_ctl_mute_path) + RF_PATH_MAX];
	} u;
	memset(&u.m, 0, sizeof u.m);
	u.m.flags = flags;
	u.m.len = (uint32_t)len;
	memcpy(u.bytes + sizeof u.m, path, len);
	return request(c, &u, (uint32_t)(sizeof u.m + len), ctl);
}

int rf_mute_path(rf_client_t *c, const char *path, unsigned flags)
{
	return mute_path(c, path, flags, RF_CTL_MUTE_PATH);
}

int rf_unmute_path(rf_client_t *c, const char *path, unsigned flags)
{
	return mute_path(c, path, flags, RF_CTL_UNMUTE_PATH);
}

int rf_mute_invert(rf_client_t *c, unsigned kind, bool inverted)
{
	if (!c || (kind != RF_MUTE_EXE && kind != RF_MUTE_TARGET))
		return RF_E_INVAL;
	struct rf_ctl_mute_invert m = { .kind = kind, .inverted = inverted };
	return request(c, &m, sizeof m, RF_CTL_MUTE_INVERT);
}

static bool alert_str_ok(const char *s, bool required)
{
	if (!s)
		return !required;
	size_t n = strlen(s);
	return n <= RF_ALERT_STR_MAX && (n > 0 || !required);
}

int rf_emit_alert(rf_client_t *c, const struct rf_message *msg, const char *rule_id,
		  const char *title, const char *level, const char *tags)
{
	if (!c || !msg || !alert_str_ok(rule_id, true) || !alert_str_ok(title, true) ||
	    !alert_str_ok(level, true) || !alert_str_ok(tags, false))
		return RF_E_INVAL;
	if (msg->hdr.size < sizeof(struct rf_message) || msg->hdr.size > RF_MSG_MAX)
		return RF_E_INVAL;
	if (c->closed)
		return RF_E_CLOSED;
	static _Thread_local unsigned char buf[RF_CTL_MAX_SIZE];
	struct rf_ctl_alert a = { 0 };
	const char *parts[4] = { rule_id, title, level, tags ? tags : "" };
	uint16_t lens[4];
	for (int i = 0; i < 4; i++)
		lens[i] = (uint16_t)strlen(parts[i]);
	a.rule_len = lens[0];
	a.title_len = lens[1];
	a.level_len = lens[2];
	a.tags_len = lens[3];
	a.msg_len = msg->hdr.size;
	size_t off = sizeof a;
	for (int i = 0; i < 4; i++) {
		memcpy(buf + off, parts[i], lens[i]);
		off += lens[i];
	}
	memcpy(buf + off, msg, msg->hdr.size);
	off += msg->hdr.size;
	a.hdr.size = (uint32_t)off;
	a.hdr.version = RF_PROTO_VERSION;
	a.hdr.type = RF_CTL_ALERT;
	a.hdr.req_id = ++c->next_req;
	memcpy(buf, &a, sizeof a);
	if (send(c->sock, buf, off, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)off) {
		if (errno == EAGAIN || errno == ENOBUFS)
			return RF_E_FULL;
		if (errno == EPIPE || errno == ECONNRESET) {
			c->closed = true;
			return RF_E_CLOSED;
		}
		return RF_E_SYS;
	}
	return RF_OK;
}

int rf_fd(const rf_client_t *c)
{
	return c ? c->evt_efd : -1;
}

int rf_stats(const rf_client_t *c, struct rf_client_stats *ret_stats)
{
	if (!c || !ret_stats)
		return RF_E_INVAL;
	*ret_stats = c->stats;
	ret_stats->broker_dropped = __atomic_load_n(&((struct rf_shm_hdr *)c->shm)->dropped,
						    __ATOMIC_RELAXED);
	return RF_OK;
}

/* Takes one message out of the ring into c->buf; 1 when one is ready. */
static int take_one(rf_client_t *c, const struct rf_message **ret_msg)
{
	for (;;) {
		const void *rec;
		uint32_t len;
		int r = rf_evring_peek(&c->evt, &rec, &len);
		if (r < 0)
			return RF_E_PROTO;
		if (r == 0)
			return 0;
		memcpy(c->buf, rec, len);
		rf_evring_consume(&c->evt, len);
		if (rf_msg_validate(c->buf, len) != RF_OK) {
			c->stats.invalid++;
			continue;
		}
		const struct rf_message *m = (const void *)c->buf;
		if (c->last_seq && m->hdr.seq > c->last_seq + 1)
			c->stats.gaps += m->hdr.seq - c->last_seq - 1;
		c->last_seq = m->hdr.seq;
		c->stats.received++;
		*ret_msg = m;
		return 1;
	}
}


/* True when the broker's hint says spinning cannot help now. */
static bool spin_pointless(const rf_client_t *c)
{
	uint32_t h = rf_ring_hint(c->resp.ctl);
	return (h & RF_HINT_VALID) && (h & RF_HINT_NOSPIN);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * Before sleeping, watch the ring briefly (RF_SPIN_US, default 50 us): an
 * AUTH event that arrives meanwhile costs no wake-up on either side.  Not
 * when the broker says there are more AUTH parties than CPUs (a spinner
 * would then hold a CPU another client needs).  The spin is deliberately not
 * cut short when the broker last ran on this CPU, nor shortened when it
 * keeps ending empty: a spinning client keeps its CPU busy, which is what
 * steers the scheduler into waking the opener and the broker together on
 * another one; every variant that spun less locked the hand-off into two
 * cross-CPU wake-ups per event more often (docs/PERFORMANCE.md, "Third round").
 * While awake the client tells the broker its CPU (ring.h, CPU hints).
 */
static bool spin_for_events(rf_client_t *c)
{
	if (c->spin_ns == UINT64_MAX) {
		const char *e = getenv("RF_SPIN_US");
		long us = e ? strtol(e, NULL, 10) : 50;
		c->spin_ns = us > 0 && us < 100000 ? (uint64_t)us * 1000 : 0;
	}
	if (!c->spin_ns || spin_pointless(c))
		return false;
	int cpu = rf_cpu_now();
	rf_ring_set_hint(c->evt.ctl, rf_hint_make(cpu, false));
	uint64_t end = mono_ns() + c->spin_ns;
	for (int k = 0;; k++) {
		if (__atomic_load_n(&c->evt.ctl->head, __ATOMIC_ACQUIRE) != c->evt.tail)
			return true;
		if ((k & 15) == 15) {
			if (mono_ns() > end || spin_pointless(c))
				return false;
			int now = rf_cpu_now();
			if (now != cpu)
				rf_ring_set_hint(c->evt.ctl, rf_hint_make(cpu = now, false));
		}
		rf_cpu_relax();
	}
}

/* True when the broker closed its end of the control socket. */
static bool broker_gone(rf_client_t *c)
{
	struct pollfd p = { .fd = c->sock, .events = POLLIN };
	if (poll(&p, 1, 0) <= 0)
		return false;
	if (p.revents & (POLLHUP | POLLERR))
		return true;
	/* a stale acknowledgement is discarded, a descriptor kept for its event */
	struct rf_ctl_ack ack;
	int r = recv_ctl(c, &ack);
	return r == CTL_EOF;
}

/*
 * Finds the descriptor of AUTH event id.  The broker sends it before the
 * event, so it is in the stash or already queued on the socket: read what is
 * there (bounded), keep descriptors of later events, close those of earlier
 * ones (their events were never delivered or are past).
 */
static int take_fd(rf_client_t *c, uint64_t id)
{
	int fd = -1;
	for (int n = 0; fd < 0 && n <= FD_DRAIN_MAX; n++) {
		for (unsigned i = 0; i < c->nstash;) {
			if (c->stash[i].id == id && fd < 0) {
				fd = c->stash[i].fd;
				c->stash[i] = c->stash[--c->nstash];
			} else if (c->stash[i].id < id) {
				close(c->stash[i].fd);
				c->stash[i] = c->stash[--c->nstash];
			} else {
				i++;
			}
		}
		if (fd >= 0 || n == FD_DRAIN_MAX)
			break;
		struct rf_ctl_ack ack;
		int r = recv_ctl(c, &ack);
		if (r == CTL_EOF) {
			c->closed = true;   /* reported by the next rf_next() */
			break;
		}
		if (r == CTL_NONE || r < 0)
			break;
		/* CTL_ACK: stale, discarded; CTL_FD: stashed, look again */
	}
	return fd;
}

int rf_next(rf_client_t *c, const struct rf_message **ret_msg, int timeout_ms)
{
	if (!c || !ret_msg)
		return RF_E_INVAL;
	int64_t end = timeout_ms > 0 ? now_ms() + timeout_ms : 0;
	if (c->cur_fd >= 0) {
		close(c->cur_fd);   /* the previous message's descriptor: documented */
		c->cur_fd = -1;
	}
	for (;;) {
		int r = take_one(c, ret_msg);
		if (r > 0 && (rf_ring_hint(c->evt.ctl) & RF_HINT_ASLEEP))
			rf_ring_set_hint(c->evt.ctl, rf_hint_make(rf_cpu_now(), false));   /* awake (ring.h) */
		if (r > 0 && ((*ret_msg)->hdr.flags & RF_MSG_F_HAS_FD) &&
		    (*ret_msg)->hdr.action == RF_ACTION_AUTH && (*ret_msg)->hdr.id) {
			c->cur_fd = take_fd(c, (*ret_msg)->hdr.id);
			c->cur_fd_id = (*ret_msg)->hdr.id;
		}
		if (r != 0)
			return r > 0 ? RF_OK : r;
		if (c->closed)
			return RF_E_CLOSED;
		if (timeout_ms != 0 && spin_for_events(c))
			continue;
		/* the broker need not spin for us while we sleep (ring.h, CPU hints) */
		rf_ring_set_hint(c->evt.ctl, rf_hint_make(rf_cpu_now(), false) | RF_HINT_ASLEEP);
		if (rf_evring_prepare_sleep(&c->evt))
			continue;
		if (timeout_ms == 0) {
			if (broker_gone(c)) {
				c->closed = true;
				return RF_E_CLOSED;
			}
			return RF_E_TIMEOUT;   /* the waiting flag stays set for rf_fd() pollers */
		}
		int left = -1;
		if (timeout_ms > 0) {
			left = (int)(end - now_ms());
			if (left <= 0)
				return RF_E_TIMEOUT;
		}
		struct pollfd p[2] = { { .fd = c->evt_efd, .events = POLLIN },
				       { .fd = c->sock, .events = POLLIN } };
		int n = poll(p, 2, left);
		if (n < 0 && errno != EINTR)
			return RF_E_SYS;
		if (n > 0 && p[1].revents && broker_gone(c)) {
			c->closed = true;
			return RF_E_CLOSED;
		}
		if (n > 0 && (p[0].revents & POLLIN)) {
			uint64_t v;
			if (read(c->evt_efd, &v, sizeof v) < 0 && errno != EAGAIN)
				return RF_E_SYS;
		}
		rf_evring_awake(&c->evt);
	}
}

int rf_respond(rf_client_t *c, const struct rf_message *msg, enum rf_verdict verdict, bool cache)
{
	if (!c || !msg || (verdict != RF_ALLOW && verdict != RF_DENY))
		return RF_E_INVAL;
	if (msg->hdr.action != RF_ACTION_AUTH || msg->hdr.id == 0)
		return RF_E_STATE;
	if (c->closed)
		return RF_E_CLOSED;
	struct rf_wire_response w = { .id = msg->hdr.id, .verdict = verdict,
				      .flags = cache ? RF_RESP_F_CACHE : 0 };
	int r = rf_respring_push(&c->resp, &w);
	if (r == -ENOSPC)
		return RF_E_FULL;
	if (r < 0)
		return RF_E_PROTO;
	/* the broker may be watching the ring already: signal only when it sleeps */
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (__atomic_load_n(&c->resp.ctl->waiting, __ATOMIC_RELAXED)) {
		uint64_t one = 1;
		if (write(c->resp_efd, &one, sizeof one) < 0 && errno != EAGAIN)
			return RF_E_SYS;
	}
	return RF_OK;
}

int rf_msg_fd(rf_client_t *c, const struct rf_message *msg)
{
	if (!c || !msg || msg != (const void *)c->buf || c->cur_fd < 0 ||
	    msg->hdr.action != RF_ACTION_AUTH || msg->hdr.id != c->cur_fd_id)
		return -1;
	return c->cur_fd;
}
