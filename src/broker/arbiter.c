/*
 * arbiter.c - AUTH events: the fanotify permission group, the pending table,
 * deadlines and verdicts.
 *
 * Rules (DESIGN.md, "AUTH arbitration"): the first DENY answers the kernel at
 * once; otherwise the event is allowed when every asked client allowed it; at
 * the deadline the policy's default verdict answers and each silent client
 * is charged a miss.  A client that cannot take the event (ring full, dead)
 * votes the default at once.  Allows that every answering client marked
 * cacheable become fanotify ignore marks on the inode; the kernel drops them
 * when the file is modified, and a policy change flushes them all.
 *
 * Nothing here blocks: the fanotify descriptor is non-blocking and writing a
 * response to it never waits; no file is opened (but /proc/self/fd, once, at
 * start: procfs raises no fanotify events).
 *
 * The hand-off to clients (docs/PERFORMANCE.md): events read from the group
 * are dispatched as a batch, each client woken at most once for it; then the
 * broker watches the response rings for a while instead of sleeping, unless
 * that would hold up a client it waits for (CPU hints, ring.h) or there are
 * more AUTH parties than CPUs.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/cpu.h"
#include "common/log.h"
#include "ringfence/ringfence.h"

#define NONE UINT32_MAX
#define SLOT_BITS 20
#define CACHE_SIZE 4096

struct rf_pending {
	uint64_t id;                  /* 0 when free */
	int fd;                       /* the event's file descriptor */
	uint8_t type;                 /* RF_EVENT_EXEC or RF_EVENT_OPEN */
	bool all_cache;
	uint64_t deadline_ns;
	uint64_t asked, answered;     /* client slot bits */
	uint64_t undelivered;         /* asked, but its ring had no room yet: retried until the deadline */
	struct rf_message *wire;      /* the message as pushed, kept while undelivered != 0 */
	uint32_t prev, next;          /* FIFO of the same type, or the free list */
	int last_allow;               /* slot of the last allowing client, -1 none */
	struct rf_message *msg;       /* copy for tail readers, or NULL */
	uint64_t dev, ino;            /* the file, from build_target's fstat (ino 0: unknown) */
	int64_t ctime_ns;
};

struct cache_entry {
	uint64_t dev, ino;
	int64_t ctime_ns;
	uint64_t gen;
	uint8_t type;
};
static struct cache_entry cache[CACHE_SIZE];

/* /proc/self/fd, held open: readlinkat() on it skips three path components per event */
static int proc_fd_dir = -1;
/* CPUs the broker may run on (spinning only pays when every party has one) */
static unsigned ncpus = 1;

/* pending events with at least one client whose ring had no room for them */
static uint32_t nbacklog;

static int fifo_of(uint8_t type)
{
	return type == RF_EVENT_EXEC ? 0 : 1;
}

int rf_arbiter_init(struct rf_broker *b)
{
	b->npending = b->cfg.max_pending;
	if (b->npending >= (1u << SLOT_BITS))
		b->npending = (1u << SLOT_BITS) - 1;
	b->pending = calloc(b->npending, sizeof *b->pending);
	if (!b->pending)
		return -ENOMEM;
	for (uint32_t i = 0; i < b->npending; i++) {
		b->pending[i].fd = -1;
		b->pending[i].next = i + 1 < b->npending ? i + 1 : NONE;
	}
	b->free_head = 0;
	b->fifo_head[0] = b->fifo_head[1] = NONE;
	b->fifo_tail[0] = b->fifo_tail[1] = NONE;
	b->cache_gen = 1;
	cpu_set_t set;
	CPU_ZERO(&set);
	ncpus = 1;
	if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
		ncpus = (unsigned)CPU_COUNT(&set);
	if (proc_fd_dir < 0)
		proc_fd_dir = open("/proc/self/fd", O_PATH | O_DIRECTORY | O_CLOEXEC);
	b->fan_auth = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK |
					    FAN_UNLIMITED_QUEUE | FAN_UNLIMITED_MARKS,
				    O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (b->fan_auth < 0)
		return -errno;
	b->timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->timerfd < 0)
		return -errno;
	if (rf_epoll_add(b, b->fan_auth, RF_TAG_FAN_AUTH, 0) < 0 ||
	    rf_epoll_add(b, b->timerfd, RF_TAG_TIMER, 0) < 0)
		return -errno;
	return 0;
}

void rf_arbiter_free(struct rf_broker *b)
{
	if (b->pending) {
		for (uint32_t i = 0; i < b->npending; i++)
			free(b->pending[i].msg);
		free(b->pending);
		b->pending = NULL;
	}
	if (b->fan_auth >= 0)
		close(b->fan_auth);
	if (b->timerfd >= 0)
		close(b->timerfd);
	if (proc_fd_dir >= 0)
		close(proc_fd_dir);
	proc_fd_dir = -1;
	b->fan_auth = b->timerfd = -1;
}

/* ---- marks ---- */

static int mark_all(struct rf_broker *b, unsigned flags, uint64_t mask)
{
	int err = 0;
	for (unsigned i = 0; i < b->nwatch_fds; i++) {
		if (fanotify_mark(b->fan_auth, flags | FAN_MARK_FILESYSTEM, mask, b->watch_fds[i], NULL) < 0) {
			err = -errno;
			rf_warn("fanotify_mark(%s 0x%llx) on watch %u", flags & FAN_MARK_ADD ? "add" : "remove",
				(unsigned long long)mask, i);
		}
	}
	return err;
}

void rf_arbiter_update_marks(struct rf_broker *b)
{
	bool want[2] = { false, false };
	for (unsigned i = 0; i < b->nclients; i++) {
		want[0] |= rf_client_wants_auth(&b->clients[i], RF_EVENT_EXEC);
		want[1] |= rf_client_wants_auth(&b->clients[i], RF_EVENT_OPEN);
	}
	bool *have[2] = { &b->exec_marked, &b->open_marked };
	const uint64_t masks[2] = { FAN_OPEN_EXEC_PERM, FAN_OPEN_PERM };
	for (int t = 0; t < 2; t++) {
		if (want[t] == *have[t] || b->fan_auth < 0)
			continue;
		if (want[t]) {
			if (mark_all(b, FAN_MARK_ADD, masks[t]) == 0) {
				*have[t] = true;
				rf_info("AUTH %s: permission marks placed", t ? "open" : "exec");
			} else {
				mark_all(b, FAN_MARK_REMOVE, masks[t]);
			}
		} else {
			mark_all(b, FAN_MARK_REMOVE, masks[t]);
			*have[t] = false;
			rf_info("AUTH %s: permission marks removed (no enforcing subscriber)",
				t ? "open" : "exec");
		}
	}
}

void rf_arbiter_flush_cache(struct rf_broker *b)
{
	b->cache_gen++;
	if (b->fan_auth >= 0 && fanotify_mark(b->fan_auth, FAN_MARK_FLUSH, 0, AT_FDCWD, NULL) < 0)
		rf_warn("fanotify: flushing the verdict cache");
}

/* ---- the pending table ---- */

static struct rf_pending *lookup(struct rf_broker *b, uint64_t id)
{
	uint32_t slot = (uint32_t)(id & ((1u << SLOT_BITS) - 1));
	if (id == 0 || slot >= b->npending || b->pending[slot].id != id)
		return NULL;
	return &b->pending[slot];
}

static void fifo_unlink(struct rf_broker *b, struct rf_pending *p)
{
	int q = fifo_of(p->type);
	uint32_t self = (uint32_t)(p - b->pending);
	if (p->prev != NONE)
		b->pending[p->prev].next = p->next;
	else if (b->fifo_head[q] == self)
		b->fifo_head[q] = p->next;
	if (p->next != NONE)
		b->pending[p->next].prev = p->prev;
	else if (b->fifo_tail[q] == self)
		b->fifo_tail[q] = p->prev;
}

/* Drops queue heads that no longer wait on this client. */
static void authq_trim(struct rf_broker *b, struct rf_bclient *c, struct rf_authq *aq)
{
	while (aq->head != aq->tail) {
		struct rf_pending *p = lookup(b, aq->ids[aq->head & (aq->cap - 1)]);
		uint64_t bit = 1ull << c->slot;
		if (p && (p->asked & bit) && !(p->answered & bit))
			return;
		aq->head++;
	}
}

static void arm_timer(struct rf_broker *b)
{
	uint64_t first = 0;
	for (int q = 0; q < 2; q++) {
		uint32_t h = b->fifo_head[q];
		if (h != NONE && (!first || b->pending[h].deadline_ns < first))
			first = b->pending[h].deadline_ns;
	}
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		for (int q = 0; q < 2; q++) {
			struct rf_authq *aq = &c->authq[q];
			if (!c->deadline_ms[q])
				continue;
			authq_trim(b, c, aq);
			if (aq->head == aq->tail)
				continue;
			uint64_t d = aq->deadline_ns[aq->head & (aq->cap - 1)];
			if (!first || d < first)
				first = d;
		}
	}
	/*
	 * Re-arm only when something is due earlier than the timer already
	 * is: an early expiry costs one spurious wake-up, re-arming on every
	 * event costs a system call per event.
	 */
	if (!first || (b->timer_armed_ns && b->timer_armed_ns <= first))
		return;
	struct itimerspec its = { 0 };
	its.it_value.tv_sec = (time_t)(first / 1000000000ull);
	its.it_value.tv_nsec = (long)(first % 1000000000ull);
	if (timerfd_settime(b->timerfd, TFD_TIMER_ABSTIME, &its, NULL) == 0)
		b->timer_armed_ns = first;
}

static struct cache_entry *cache_slot(uint64_t dev, uint64_t ino, uint8_t type)
{
	return &cache[(dev * 31 + ino * 2654435761u + type) & (CACHE_SIZE - 1)];
}

/* Adds the deciding client's name to the tail copy when it fits. */
static void tail_decided(struct rf_broker *b, struct rf_pending *p, uint8_t verdict, uint8_t by,
			 const char *name)
{
	struct rf_message *m = p->msg;
	m->hdr.verdict = verdict;
	m->hdr.decided_by = by;
	if (name) {
		size_t n = strlen(name);
		/* n < RF_NAME_MAX: the slack allocated with the copy holds it */
		if (n < RF_NAME_MAX && m->hdr.size + n + 1 + RF_MSG_ALIGN <= RF_MSG_MAX) {
			char *base = (char *)m;
			memcpy(base + m->hdr.size, name, n + 1);
			m->hdr.decider.off = m->hdr.size;
			m->hdr.decider.len = (uint32_t)n;
			uint32_t size = m->hdr.size + (uint32_t)n + 1;
			while (size % RF_MSG_ALIGN)
				base[size++] = '\0';
			m->hdr.size = size;
		}
	}
	rf_ops_tail(b, m);
}

static void decide(struct rf_broker *b, struct rf_pending *p, uint8_t verdict, uint8_t by, int client)
{
	struct fanotify_response r = { .fd = p->fd, .response = verdict == RF_DENY ? FAN_DENY : FAN_ALLOW };
	if (write(b->fan_auth, &r, sizeof r) != sizeof r)
		rf_debug("fanotify response for fd %d: %s", p->fd, strerror(errno));
	if (verdict == RF_ALLOW && by == RF_DECIDER_CLIENT && p->all_cache && b->cfg.cache) {
		uint64_t mask = p->type == RF_EVENT_EXEC ? FAN_OPEN_EXEC_PERM : FAN_OPEN_PERM;
		if (fanotify_mark(b->fan_auth, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_EVICTABLE,
				  mask, p->fd, NULL) == 0)
			b->stats.cache_marks++;
		else
			b->stats.cache_mark_failures++;
		/* the file as build_target saw it: the client judged that content */
		if (p->ino) {
			struct cache_entry *e = cache_slot(p->dev, p->ino, p->type);
			*e = (struct cache_entry){ p->dev, p->ino, p->ctime_ns, b->cache_gen, p->type };
		}
	}
	close(p->fd);
	b->stats.auth_decided++;
	if (verdict == RF_DENY)
		b->stats.denied++;
	else
		b->stats.allowed++;
	switch (by) {
	case RF_DECIDER_CLIENT: b->stats.by_client++; break;
	case RF_DECIDER_DEFAULT: b->stats.by_default++; break;
	case RF_DECIDER_CACHE: b->stats.by_cache++; break;
	default: b->stats.by_policy++; break;
	}
	if (p->msg) {
		tail_decided(b, p, verdict, by, client >= 0 ? b->clients[client].man.name : NULL);
		free(p->msg);
		p->msg = NULL;
	}
	if (p->undelivered)
		nbacklog--;
	p->undelivered = 0;
	free(p->wire);
	p->wire = NULL;
	fifo_unlink(b, p);
	p->id = 0;
	p->fd = -1;
	uint32_t self = (uint32_t)(p - b->pending);
	p->next = b->free_head;
	b->free_head = self;
}

/* Decides p when every asked client has voted (allow) or nobody is left. */
static void maybe_complete(struct rf_broker *b, struct rf_pending *p)
{
	if ((p->answered & p->asked) != p->asked)
		return;
	if (p->last_allow >= 0)
		decide(b, p, RF_ALLOW, RF_DECIDER_CLIENT, p->last_allow);
	else
		decide(b, p, b->cfg.default_verdict, RF_DECIDER_DEFAULT, -1);
}

/*
 * The client behind bit can no longer vote on p (its deadline passed, it
 * died, it unsubscribed): its vote is the policy's default, now.
 */
static void vote_default(struct rf_broker *b, struct rf_pending *p, uint64_t bit)
{
	p->asked &= ~bit;
	if (p->undelivered & bit) {
		p->undelivered &= ~bit;
		if (!p->undelivered)
			nbacklog--;
	}
	p->all_cache = false;
	if (b->cfg.default_verdict == RF_DENY)
		decide(b, p, RF_DENY, RF_DECIDER_DEFAULT, -1);
	else
		maybe_complete(b, p);
}

/*
 * p reached its deadline and some client's ring never had room for it: the
 * platform could not ask that client, which is [auth] on_overflow's call
 * (the default verdict, or deny), counted and alerted, never a silent allow.
 */
static void overflowed(struct rf_broker *b, struct rf_pending *p)
{
	static uint64_t last_alert_ms[RF_MAX_CLIENTS];
	uint64_t now_ms = rf_now_ms();
	for (unsigned i = 0; i < b->nclients; i++) {
		if (!(p->undelivered & (1ull << i)))
			continue;
		struct rf_bclient *c = &b->clients[i];
		c->auth_full++;
		if (now_ms - last_alert_ms[i] >= 1000) {
			last_alert_ms[i] = now_ms;
			char detail[160];
			snprintf(detail, sizeof detail,
				 "AUTH event not delivered by its deadline (ring full; %llu so far), decided by on_overflow=%s",
				 (unsigned long long)c->auth_full, b->cfg.on_overflow == RF_DENY ? "deny" : "default");
			rf_alert(b, c->man.name, "auth-overflow", detail);
		}
	}
	b->stats.auth_overflow++;
	uint8_t v = b->cfg.on_overflow == RF_DENY ? RF_DENY : b->cfg.default_verdict;
	decide(b, p, v, RF_DECIDER_DEFAULT, -1);
}

bool rf_arbiter_backlog(const struct rf_broker *b)
{
	return nbacklog != 0;
}

void rf_arbiter_retry_backlog(struct rf_broker *b)
{
	if (!nbacklog)
		return;
	for (int q = 0; q < 2; q++) {
		for (uint32_t i = b->fifo_head[q], next; i != NONE; i = next) {
			struct rf_pending *p = &b->pending[i];
			next = p->next;
			if (!p->undelivered)
				continue;
			for (unsigned k = 0; k < b->nclients; k++) {
				uint64_t bit = 1ull << k;
				if (!(p->undelivered & bit))
					continue;
				struct rf_bclient *c = &b->clients[k];
				memcpy(b->mb.u.bytes, p->wire, p->wire->hdr.size);
				b->mb.used = p->wire->hdr.size;
				int r = rf_client_push(b, c, p->id);
				if (r == -ENOSPC)
					continue;
				if (r < 0)
					return;   /* the client was killed: its votes went to the default; walk again next turn */
				p->undelivered &= ~bit;
				if (!p->undelivered) {
					nbacklog--;
					free(p->wire);
					p->wire = NULL;
				}
			}
		}
	}
}

/* Answers an event that never entered the table. */
static void answer_now(struct rf_broker *b, int fd, uint8_t verdict, uint8_t by)
{
	struct fanotify_response r = { .fd = fd, .response = verdict == RF_DENY ? FAN_DENY : FAN_ALLOW };
	if (write(b->fan_auth, &r, sizeof r) != sizeof r)
		rf_debug("fanotify response for fd %d: %s", fd, strerror(errno));
	close(fd);
	b->stats.auth_decided++;
	if (verdict == RF_DENY)
		b->stats.denied++;
	else
		b->stats.allowed++;
	if (by == RF_DECIDER_CACHE)
		b->stats.by_cache++;
	else if (by == RF_DECIDER_DEFAULT)
		b->stats.by_default++;
	else
		b->stats.by_policy++;
}

static void build_target(struct rf_broker *b, int fd, struct rf_file *f, struct stat *st)
{
	char path[PATH_MAX], link[64];
	ssize_t n;
	if (proc_fd_dir >= 0) {
		snprintf(link, sizeof link, "%d", fd);
		n = readlinkat(proc_fd_dir, link, path, sizeof path - 1);
	} else {
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		n = readlink(link, path, sizeof path - 1);
	}
	if (n > 0) {
		path[n] = '\0';
		/* a full buffer may be readlink's silent truncation */
		if (rf_msgb_field(&b->mb, RF_CUT_TARGET, &f->path, path, (size_t)n) || n == sizeof path - 1) {
			f->flags |= RF_FILE_F_PATH_CUT;
			b->mb.u.msg.hdr.cut |= RF_CUT_TARGET;
			b->mb.u.msg.hdr.flags |= RF_MSG_F_CUT;
		}
	} else {
		f->flags |= RF_FILE_F_PATH_UNKNOWN;
	}
	if (fstat(fd, st) == 0) {
		f->dev = st->st_dev;
		f->ino = st->st_ino;
		f->ctime_ns = (int64_t)st->st_ctim.tv_sec * 1000000000 + st->st_ctim.tv_nsec;
		f->mode = st->st_mode;
	}
}

static void on_perm_event(struct rf_broker *b, const struct fanotify_event_metadata *md)
{
	uint8_t type = (md->mask & FAN_OPEN_EXEC_PERM) ? RF_EVENT_EXEC : RF_EVENT_OPEN;
	b->stats.auth_events++;
	struct rf_proc *proc = rf_proctable_get(&b->procs, (uint32_t)md->pid, true);
	if (md->pid == b->self || (proc && rf_default_muted(b, proc))) {
		answer_now(b, md->fd, RF_ALLOW, RF_DECIDER_POLICY);
		return;
	}
	rf_msgb_init(&b->mb, type, RF_ACTION_AUTH);
	struct rf_message *m = &b->mb.u.msg;
	rf_stamp(m);
	uint32_t deadline_ms = type == RF_EVENT_EXEC ? b->cfg.exec_deadline_ms : b->cfg.open_deadline_ms;
	m->hdr.deadline_ns = m->hdr.mono_ns + (uint64_t)deadline_ms * 1000000ull;
	/*
	 * Tail order is priority (msgbuild.h): the target path first, then room
	 * held for the new argv, then the process (exe, comm, parent, cwd, old
	 * argv); no cwd or argv can push the target out.
	 */
	struct stat st = { 0 };
	struct rf_file *target = type == RF_EVENT_EXEC ? &m->ev.exec.target : &m->ev.open.target;
	build_target(b, md->fd, target, &st);
	char args[RF_ARGS_MAX];
	uint32_t alen = 0, argc = 0;
	if (type == RF_EVENT_EXEC && b->ebpf &&
	    rf_sensor_ebpf_pending_argv(b->ebpf, (uint32_t)md->pid, args, sizeof args, &alen, &argc) == 0) {
		while (alen > 0 && args[alen - 1] == '\0')
			alen--;
	} else {
		alen = 0;
	}
	/* the new argv is promised at most half of what the target left, so that exe and comm still fit */
	size_t half = (RF_MSG_MAX - b->mb.used) / 2;
	rf_msgb_hold(&b->mb, alen ? (alen + 1 < half ? alen + 1 : half) : 0);
	if (proc) {
		rf_proctable_fill(&b->procs, &b->mb, proc);
	} else {
		m->process.pid = m->process.tid = (uint32_t)md->pid;
	}
	rf_msgb_hold(&b->mb, 0);
	if (alen) {
		if (rf_msgb_args(&b->mb, &m->ev.exec.args, args, alen) || rf_args_count(args, alen) < argc) {
			m->ev.exec.flags |= RF_EXEC_F_ARGS_CUT;
			m->hdr.cut |= RF_CUT_ARGS;
			m->hdr.flags |= RF_MSG_F_CUT;
		}
		m->ev.exec.argc = argc;
	}
	rf_msgb_finish(&b->mb);
	rf_count_cut(b, m);

	/* the broker's own cache: an allow for this exact file content */
	struct cache_entry *ce = cache_slot(st.st_dev, st.st_ino, type);
	if (b->cfg.cache && st.st_ino && ce->gen == b->cache_gen && ce->dev == (uint64_t)st.st_dev &&
	    ce->ino == st.st_ino && ce->type == type &&
	    ce->ctime_ns == (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec) {
		m->hdr.verdict = RF_ALLOW;
		m->hdr.decided_by = RF_DECIDER_CACHE;
		answer_now(b, md->fd, RF_ALLOW, RF_DECIDER_CACHE);
		rf_ops_tail(b, m);
		return;
	}

	uint64_t asked = 0;
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (rf_client_wants_auth(c, type) && !rf_client_muted(c, m) && c->pid != md->pid)
			asked |= 1ull << i;
	}
	if (!asked || b->free_head == NONE) {
		uint8_t v = asked ? b->cfg.default_verdict : RF_ALLOW;
		uint8_t by = asked ? RF_DECIDER_DEFAULT : RF_DECIDER_POLICY;
		if (asked)
			b->stats.auth_overflow++;
		m->hdr.verdict = v;
		m->hdr.decided_by = by;
		answer_now(b, md->fd, v, by);
		rf_ops_tail(b, m);
		return;
	}

	uint32_t slot = b->free_head;
	struct rf_pending *p = &b->pending[slot];
	b->free_head = p->next;
	b->next_auth_seq++;
	p->id = (b->next_auth_seq << SLOT_BITS) | slot;
	p->fd = md->fd;
	p->type = type;
	p->all_cache = true;
	p->deadline_ns = m->hdr.deadline_ns;
	p->asked = asked;
	p->answered = 0;
	p->last_allow = -1;
	p->msg = NULL;
	p->undelivered = 0;
	p->wire = NULL;
	p->dev = st.st_dev;
	p->ino = st.st_ino;
	p->ctime_ns = (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec;
	if (b->ntail) {
		/* room for the decider's name, appended when decided */
		p->msg = malloc(m->hdr.size + RF_NAME_MAX + RF_MSG_ALIGN);
		if (p->msg)
			memcpy(p->msg, m, m->hdr.size);
	}
	/*
	 * Hand it out before linking it into the FIFO: a push that finds a
	 * corrupt ring kills that client, and the clean-up walks the FIFOs.
	 */
	bool refused = false;
	int q = fifo_of(type);
	for (unsigned i = 0; i < b->nclients; i++) {
		if (!(asked & (1ull << i)))
			continue;
		struct rf_bclient *c = &b->clients[i];
		c->auth_asked++;
		struct rf_authq *aq = &c->authq[q];
		bool queue_ok = !c->deadline_ms[q] || aq->tail - aq->head < aq->cap;
		if (queue_ok && c->deadline_ms[q]) {
			/* this client asked for less time than the broker gives */
			aq->ids[aq->tail & (aq->cap - 1)] = p->id;
			aq->deadline_ns[aq->tail & (aq->cap - 1)] =
				m->hdr.mono_ns + (uint64_t)c->deadline_ms[q] * 1000000ull;
			aq->tail++;
		}
		/*
		 * The descriptor goes first, the event after it: a client that
		 * reads an event marked RF_MSG_F_HAS_FD finds its descriptor
		 * already queued and never waits for it.  If the push then fails
		 * the datagram is stale, and the client discards it by id.
		 */
		bool with_fd = queue_ok && (c->fd_mask & (1ull << type)) && rf_client_send_fd(c, p->id, md->fd) == 0;
		if (with_fd)
			m->hdr.flags |= RF_MSG_F_HAS_FD;
		int pushed = queue_ok ? rf_client_push(b, c, p->id) : -1;
		m->hdr.flags &= (uint8_t)~RF_MSG_F_HAS_FD;
		if (pushed == -ENOSPC && !with_fd && (p->wire || (p->wire = malloc(m->hdr.size)))) {
			/*
			 * No room in its ring now: the event waits in the broker and
			 * is pushed as soon as the client makes room (the loop retries
			 * on every turn), until its deadline; a burst of large AUTH
			 * events never turns into default verdicts.  Telemetry cannot
			 * cause this: it never takes the ring's reserve.
			 */
			if (p->undelivered == 0) {
				memcpy(p->wire, m, m->hdr.size);
				nbacklog++;
			}
			p->undelivered |= 1ull << i;
			c->auth_waited++;
			continue;
		}
		if (pushed < 0) {
			/* no room (or killed): this client's vote is the default, now */
			c->auth_full++;
			p->asked &= ~(1ull << i);
			p->all_cache = false;
			refused = true;
		}
	}
	p->prev = b->fifo_tail[q];
	p->next = NONE;
	if (p->prev != NONE)
		b->pending[p->prev].next = slot;
	else
		b->fifo_head[q] = slot;
	b->fifo_tail[q] = slot;
	if (refused && b->cfg.default_verdict == RF_DENY)
		decide(b, p, RF_DENY, RF_DECIDER_DEFAULT, -1);
	else
		maybe_complete(b, p);
}

#define SPIN_NS 30000

/* Clients that still owe an answer to some pending event. */
static uint64_t owed_mask(struct rf_broker *b)
{
	uint64_t owed = 0;
	for (int q = 0; q < 2; q++)
		for (uint32_t i = b->fifo_head[q]; i != NONE; i = b->pending[i].next)
			owed |= b->pending[i].asked & ~b->pending[i].answered;
	return owed;
}

/*
 * True when spinning would only hold up a client it waits for: one that
 * owes an answer is awake on this very CPU (its hint says so), so it cannot
 * run while we spin.  A client that sleeps is spun for: it was just woken,
 * and while this CPU is busy the scheduler tends to wake it on another one,
 * where it answers in time (docs/PERFORMANCE.md, "Third round").  A client
 * without hints (an older library) is spun for, as before them.
 */
static bool spin_useless(struct rf_broker *b, uint64_t owed, int cpu)
{
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if ((owed & (1ull << i)) && c->shm && rf_hint_on_cpu(rf_ring_hint(c->evt.ctl), cpu))
			return true;
	}
	return false;
}

/*
 * A client answers in a few microseconds; a sleeping hand-off costs tens.
 * So after handing AUTH events out, watch the response rings for a bounded
 * time, with the clients told not to signal (they see waiting == 0), and
 * answer the kernel the moment a verdict is complete.  Only while that can
 * pay: not with more AUTH parties than CPUs (nospin), and not while a client
 * we wait for needs this CPU (spin_useless, re-checked as we go); then the
 * loop sleeps and the client's answer wakes it.
 */
static void spin_for_responses(struct rf_broker *b, int cpu, bool nospin)
{
	bool any = b->fifo_head[0] != NONE || b->fifo_head[1] != NONE;
	if (!any || nospin)
		return;
	uint64_t owed = owed_mask(b);
	if (spin_useless(b, owed, cpu))
		return;
	for (unsigned i = 0; i < b->nclients; i++)
		if (b->clients[i].shm)
			__atomic_store_n(&b->clients[i].resp.ctl->waiting, 0, __ATOMIC_RELAXED);
	rf_clients_flush(b);
	uint64_t end = rf_now_mono_ns() + SPIN_NS;
	for (int k = 0; b->fifo_head[0] != NONE || b->fifo_head[1] != NONE; k++) {
		for (unsigned i = 0; i < b->nclients; i++) {
			struct rf_bclient *c = &b->clients[i];
			if (c->shm && __atomic_load_n(&c->resp.ctl->head, __ATOMIC_ACQUIRE) != c->resp.tail)
				rf_client_take_responses(b, c);
		}
		/* (owed as it was: walking the pending table again could cost more than the spin) */
		if ((k & 15) == 15 && (rf_now_mono_ns() > end || spin_useless(b, owed, cpu)))
			break;
		rf_cpu_relax();
	}
}

/*
 * Tells every client where the broker runs and whether to spin: with more
 * AUTH parties (the clients and the broker) than CPUs, a spinning client
 * holds a CPU that another one needs to answer, so nobody spins.
 */
static bool publish_hints(struct rf_broker *b, int cpu)
{
	unsigned nauth = 0;
	for (unsigned i = 0; i < b->nclients; i++)
		if (rf_client_wants_auth(&b->clients[i], RF_EVENT_EXEC) ||
		    rf_client_wants_auth(&b->clients[i], RF_EVENT_OPEN))
			nauth++;
	bool nospin = nauth + 1 > ncpus;
	uint32_t h = rf_hint_make(cpu, nospin);
	for (unsigned i = 0; i < b->nclients; i++)
		if (b->clients[i].shm)
			rf_ring_set_hint(b->clients[i].resp.ctl, h);
	return nospin;
}

/* Reads and dispatches what the permission group has queued. */
static void drain_fanotify(struct rf_broker *b)
{
	_Alignas(struct fanotify_event_metadata) char buf[16384];
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(b->fan_auth, buf, sizeof buf);
		if (n < 0) {
			if (errno != EAGAIN && errno != EINTR)
				rf_warn("fanotify read");
			break;
		}
		bool drained = (size_t)n < sizeof buf / 2;   /* no need for a read that says EAGAIN */
		const struct fanotify_event_metadata *md = (const void *)buf;
		for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
			if (md->vers != FANOTIFY_METADATA_VERSION)
				rf_fatalx("fanotify metadata version %u, built for %u", md->vers,
					  FANOTIFY_METADATA_VERSION);
			if (md->fd < 0)
				continue;
			if (md->mask & (FAN_OPEN_EXEC_PERM | FAN_OPEN_PERM))
				on_perm_event(b, md);
			else
				close(md->fd);
		}
		rf_clients_flush(b);   /* one wake-up per client for the whole batch */
		if (drained)
			break;
	}
}

void rf_arbiter_on_fanotify(struct rf_broker *b)
{
	int cpu = rf_cpu_now();
	bool nospin = publish_hints(b, cpu);
	drain_fanotify(b);
	spin_for_responses(b, cpu, nospin);
	arm_timer(b);
}

void rf_arbiter_on_timer(struct rf_broker *b)
{
	uint64_t v;
	if (read(b->timerfd, &v, sizeof v) < 0 && errno != EAGAIN)
		rf_warn("timerfd read");
	b->timer_armed_ns = 0;   /* expired (or spurious): arm_timer() below sets it anew */
	uint64_t now = rf_now_mono_ns();
	/*
	 * Misses are charged after the events are decided: charging one can
	 * demote a client, and demotion walks the pending table.
	 */
	uint32_t missed[RF_MAX_CLIENTS] = { 0 };

	/* clients with their own, shorter deadline: their vote becomes the default */
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		uint64_t bit = 1ull << i;
		for (int q = 0; q < 2; q++) {
			struct rf_authq *aq = &c->authq[q];
			if (!c->deadline_ms[q])
				continue;
			while (aq->head != aq->tail && aq->deadline_ns[aq->head & (aq->cap - 1)] <= now) {
				struct rf_pending *p = lookup(b, aq->ids[aq->head & (aq->cap - 1)]);
				aq->head++;
				if (!p || !(p->asked & bit) || (p->answered & bit))
					continue;
				missed[i]++;
				vote_default(b, p, bit);
			}
		}
	}
	for (int q = 0; q < 2; q++) {
		while (b->fifo_head[q] != NONE) {
			struct rf_pending *p = &b->pending[b->fifo_head[q]];
			if (p->deadline_ns > now)
				break;
			uint64_t silent = p->asked & ~p->answered & ~p->undelivered;
			for (unsigned i = 0; i < b->nclients; i++)
				if (silent & (1ull << i))
					missed[i]++;
			if (p->undelivered) {
				overflowed(b, p);
				continue;
			}
			decide(b, p, b->cfg.default_verdict, RF_DECIDER_DEFAULT, -1);
		}
	}
	for (unsigned i = 0; i < b->nclients; i++)
		for (uint32_t k = 0; k < missed[i]; k++)
			rf_sv_missed(b, &b->clients[i]);
	arm_timer(b);
}

void rf_arbiter_on_response(struct rf_broker *b, struct rf_bclient *c, const struct rf_wire_response *r)
{
	uint64_t bit = 1ull << c->slot;
	if ((r->verdict != RF_ALLOW && r->verdict != RF_DENY) || (r->flags & ~RF_RESP_F_CACHE) ||
	    r->reserved[0] || r->reserved[1]) {
		c->invalid++;
		return;
	}
	struct rf_pending *p = lookup(b, r->id);
	if (!p) {
		/* issued once and decided since (late), or never issued (bogus) */
		uint64_t seq = r->id >> SLOT_BITS;
		if (seq && seq <= b->next_auth_seq && (r->id & ((1u << SLOT_BITS) - 1)) < b->npending)
			c->late++;
		else
			c->foreign++;
		return;
	}
	if (!(p->asked & bit)) {
		c->foreign++;
		return;
	}
	if (p->answered & bit) {
		c->duplicate++;
		return;
	}
	p->answered |= bit;
	c->auth_answered++;
	if (r->verdict == RF_DENY) {
		decide(b, p, RF_DENY, RF_DECIDER_CLIENT, (int)c->slot);
	} else {
		if (!(r->flags & RF_RESP_F_CACHE))
			p->all_cache = false;
		p->last_allow = (int)c->slot;
		maybe_complete(b, p);
	}
	arm_timer(b);
}

void rf_arbiter_client_gone(struct rf_broker *b, struct rf_bclient *c)
{
	if (!b->pending)
		return;
	uint64_t bit = 1ull << c->slot;
	for (int q = 0; q < 2; q++) {
		for (uint32_t i = b->fifo_head[q], next; i != NONE; i = next) {
			struct rf_pending *p = &b->pending[i];
			next = p->next;
			if (!(p->asked & bit) || (p->answered & bit))
				continue;
			if (rf_client_wants_auth(c, p->type))
				continue;   /* still subscribed to this type: keep waiting */
			vote_default(b, p, bit);
		}
	}
	if (b->timerfd >= 0)
		arm_timer(b);
}

void rf_arbiter_drain_all(struct rf_broker *b)
{
	if (!b->pending)
		return;
	for (int q = 0; q < 2; q++)
		while (b->fifo_head[q] != NONE)
			decide(b, &b->pending[b->fifo_head[q]], RF_ALLOW, RF_DECIDER_DEFAULT, -1);
}
