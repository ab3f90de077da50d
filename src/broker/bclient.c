/*
 * bclient.c - the broker's side of each client: spawning from the manifest,
 * the versioned handshake, control requests (validated against a permit
 * table: which message is allowed in which state), the event ring, and
 * restart with backoff when a client dies.
 */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/budget.h"
#include "broker/content.h"
#include "broker/sandbox.h"
#include "common/fdpass.h"
#include "common/log.h"
#include "ringfence/ringfence.h"

#define BACKOFF_MIN_MS 1000
#define RESP_SLOTS 4096
#define AUTHQ_CAP 1024

static int manifest_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rf_manifest *)a)->name, ((const struct rf_manifest *)b)->name);
}

int rf_clients_load(struct rf_broker *b)
{
	DIR *d = opendir(b->cfg.clients_dir);
	if (!d) {
		if (errno == ENOENT) {
			rf_info("no clients directory %s: running without clients", b->cfg.clients_dir);
			return 0;
		}
		rf_warn("cannot open clients directory %s", b->cfg.clients_dir);
		return -errno;
	}
	struct rf_manifest *found = calloc(RF_MAX_CLIENTS, sizeof *found);
	if (!found) {
		closedir(d);
		return -ENOMEM;
	}
	unsigned n = 0;
	for (struct dirent *de; (de = readdir(d));) {
		size_t len = strlen(de->d_name);
		if (len < 6 || strcmp(de->d_name + len - 5, ".conf") || de->d_name[0] == '.')
			continue;
		if (n >= RF_MAX_CLIENTS) {
			rf_warnx("more than %d client manifests: ignoring %s", RF_MAX_CLIENTS, de->d_name);
			continue;
		}
		char path[PATH_MAX], err[256];
		snprintf(path, sizeof path, "%s/%s", b->cfg.clients_dir, de->d_name);
		if (rf_manifest_load(path, &found[n], err, sizeof err) < 0) {
			rf_warnx("client manifest %s refused: %s", path, err);
			continue;
		}
		bool dup = false;
		for (unsigned i = 0; i < n; i++)
			dup |= !strcmp(found[i].name, found[n].name);
		if (dup) {
			rf_warnx("client manifest %s refused: name %s used twice", path, found[n].name);
			continue;
		}
		n++;
	}
	closedir(d);
	qsort(found, n, sizeof *found, manifest_cmp);
	for (unsigned i = 0; i < n; i++) {
		struct rf_bclient *c = &b->clients[i];
		memset(c, 0, sizeof *c);
		c->man = found[i];
		rf_manifest_fix_argv(&c->man);   /* argv points into the manifest */
		c->slot = i;
		c->state = RF_CS_BACKOFF;
		c->restart_at_ms = 0;
		c->sock = c->memfd = c->evt_efd = c->resp_efd = -1;
		c->setup_fd = c->notify_fd = -1;
		c->backoff_ms = BACKOFF_MIN_MS;
		/* a client may ask for less time than the broker gives, never more */
		c->deadline_ms[0] = c->man.exec_deadline_ms && c->man.exec_deadline_ms < b->cfg.exec_deadline_ms
					    ? c->man.exec_deadline_ms : 0;
		c->deadline_ms[1] = c->man.open_deadline_ms && c->man.open_deadline_ms < b->cfg.open_deadline_ms
					    ? c->man.open_deadline_ms : 0;
		for (int q = 0; q < 2; q++) {
			if (!c->deadline_ms[q])
				continue;
			c->authq[q].cap = AUTHQ_CAP;
			c->authq[q].ids = calloc(AUTHQ_CAP, sizeof(uint64_t));
			c->authq[q].deadline_ns = calloc(AUTHQ_CAP, sizeof(uint64_t));
			if (!c->authq[q].ids || !c->authq[q].deadline_ns)
				c->deadline_ms[q] = 0;
		}
		/* the binary is read now, before any permission mark exists */
		if (rf_sv_hash_binary(c) < 0)
			rf_warn("client %s: cannot hash %s", c->man.name, c->man.exec);
		rf_info("client %s: %s, mode %s", c->man.name, c->man.exec,
			c->man.enforce ? "enforce" : "monitor");
	}
	b->nclients = n;
	free(found);
	/* a client with managed content gets a shadow slot, for trials of candidates */
	for (unsigned i = 0; i < n; i++) {
		struct rf_bclient *c = &b->clients[i];
		c->shadow_of = -1;
		if (!c->man.managed)
			continue;
		if (b->nclients >= RF_MAX_CLIENTS || !(c->cs = calloc(1, sizeof *c->cs))) {
			rf_warnx("client %s: no room for managed content: runs without", c->man.name);
			c->man.managed = false;
			continue;
		}
		struct rf_bclient *s = &b->clients[b->nclients];
		memset(s, 0, sizeof *s);
		s->man = c->man;
		rf_manifest_fix_argv(&s->man);
		s->man.managed = false;
		snprintf(s->man.name, sizeof s->man.name, "%.56s~trial", c->man.name);
		s->slot = b->nclients;
		s->shadow_of = (int)i;
		s->state = RF_CS_STOPPED;
		s->sock = s->memfd = s->evt_efd = s->resp_efd = -1;
		s->setup_fd = s->notify_fd = -1;
		s->backoff_ms = BACKOFF_MIN_MS;
		memcpy(s->deadline_ms, c->deadline_ms, sizeof s->deadline_ms);
		memcpy(s->binary_sha256, c->binary_sha256, sizeof s->binary_sha256);
		c->cs->shadow = (int)s->slot;
		b->nclients++;
	}
	return (int)n;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Releases the connection; the slot and its counters stay. */
static void disconnect(struct rf_broker *b, struct rf_bclient *c)
{
	if (c->sock >= 0)
		rf_epoll_del(b, c->sock);
	if (c->resp_efd >= 0)
		rf_epoll_del(b, c->resp_efd);
	close_fd(&c->sock);
	close_fd(&c->resp_efd);
	close_fd(&c->evt_efd);
	close_fd(&c->memfd);
	if (c->shm)
		munmap(c->shm, c->shm_size);
	c->shm = NULL;
	bool had_auth = c->auth_mask != 0;
	c->auth_mask = c->notify_mask = c->fd_mask = 0;
	c->npmutes = 0;
	for (unsigned i = 0; i < c->ntmutes; i++)
		free(c->tmutes[i].path);
	c->ntmutes = 0;
	c->invert_exe = c->invert_target = false;
	c->trial_auth_mask = c->trial_notify_mask = 0;
	rf_arbiter_client_gone(b, c);
	if (had_auth) {
		rf_arbiter_update_marks(b);
		rf_arbiter_flush_cache(b);
	}
}

void rf_client_spawn(struct rf_broker *b, struct rf_bclient *c)
{
	if (!c->sandbox && !(c->sandbox = calloc(1, sizeof(struct rf_sandbox)))) {
		rf_warnx("client %s: out of memory", c->man.name);
		goto retry;
	}
	struct rf_sandbox *sb = c->sandbox;
	uint32_t uid = c->man.has_user ? c->man.uid : b->cfg.uid_base + c->slot;
	uint32_t gid = c->man.has_user ? c->man.gid : uid;
	int r = rf_sandbox_prepare(&c->man, uid, gid, sb);
	if (r < 0) {
		rf_warnx("client %s: sandbox: %s", c->man.name, strerror(-r));
		goto retry;
	}
	if (sb->cgroup_note[0])
		rf_debug("client %s: cgroup: %s", c->man.name, sb->cgroup_note);
	/* managed content: the child opens the bundle (never this thread: see content.h) */
	char cpath[PATH_MAX], cver[RF_TUF_CVER_MAX];
	bool has_content = rf_content_for_spawn(b, c, cpath, sizeof cpath, cver, sizeof cver);
	if (has_content)
		snprintf(c->man.content_version, sizeof c->man.content_version, "%s", cver);
	int sv[2], su[2];
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0) {
		rf_warn("client %s: socketpair", c->man.name);
		goto retry;
	}
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, su) < 0) {
		rf_warn("client %s: socketpair", c->man.name);
		close(sv[0]);
		close(sv[1]);
		goto retry;
	}
	/*
	 * fork, not posix_spawn or vfork: the child's exec may raise a
	 * permission event that this very thread must answer, so the parent
	 * must not wait for the exec.
	 */
	pid_t pid = fork();
	if (pid < 0) {
		rf_warn("client %s: fork", c->man.name);
		close(sv[0]);
		close(sv[1]);
		close(su[0]);
		close(su[1]);
		goto retry;
	}
	if (pid == 0) {
		sigset_t all;
		sigemptyset(&all);
		sigprocmask(SIG_SETMASK, &all, NULL);
		setsid();
		/* move both ends out of the way, then to 3 (control) and 4 (sandbox setup) */
		int ctl = fcntl(sv[1], F_DUPFD_CLOEXEC, 10), setup = fcntl(su[1], F_DUPFD_CLOEXEC, 10);
		if (ctl < 0 || setup < 0 || dup2(ctl, 3) < 0 || dup2(setup, 4) < 0)
			_exit(126);
		int nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
		if (nul >= 0 && nul != 0)
			dup2(nul, 0);
		/* the content, read-only, at 5 */
		if (has_content) {
			int cfd = open(cpath, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
			if (cfd < 0 || dup2(cfd, 5) < 0)
				_exit(125);
			setenv("RF_CONTENT_FD", "5", 1);
			setenv("RF_CONTENT_VERSION", cver, 1);
		}
		/* everything else the broker holds stays behind */
		close_range(has_content ? 6 : 5, ~0u, 0);
		setenv("RF_CLIENT_FD", "3", 1);
		setenv("RF_CLIENT_NAME", c->man.name, 1);
		/* a sanitizer build's leak check needs ptrace, which the sandbox denies */
		const char *asan = getenv("ASAN_OPTIONS");
		if (asan) {
			char opts[512];
			snprintf(opts, sizeof opts, "%s:detect_leaks=0", asan);
			setenv("ASAN_OPTIONS", opts, 1);
		}
		rf_sandbox_drop(sb, &c->man, 4);   /* fatal on any failure */
		execv(c->man.exec, c->man.argv);
		_exit(127);
	}
	close(sv[1]);
	close(su[1]);
	c->pid = pid;
	c->sock = sv[0];
	c->setup_fd = su[0];
	fcntl(c->sock, F_SETFL, O_NONBLOCK);
	fcntl(c->setup_fd, F_SETFL, O_NONBLOCK);
	c->state = RF_CS_STARTING;
	c->started_at_ms = rf_now_ms();
	c->seq = 0;
	memset(c->type_seq, 0, sizeof c->type_seq);
	c->live_tail = 0;
	c->live_since_ms = c->started_at_ms;
	/* exiting is no way out of a demotion: within the death window it stays */
	c->demoted = c->demoted_at_ms && c->started_at_ms - c->demoted_at_ms <= b->cfg.death_window_ms;
	c->first_exec_done = false;
	c->eof_kill = false;
	if (rf_epoll_add(b, c->sock, RF_TAG_CLIENT_SOCK, c->slot) < 0 ||
	    rf_epoll_add(b, c->setup_fd, RF_TAG_CLIENT_SETUP, c->slot) < 0) {
		rf_warn("client %s: epoll", c->man.name);
		rf_sv_event(b, c, RF_SV_KILL, "epoll failed");
	}
	rf_info("client %s: started, pid %d, uid %u", c->man.name, pid, uid);
	return;
retry:
	c->state = RF_CS_BACKOFF;
	c->restart_at_ms = rf_now_ms() + c->backoff_ms;
	c->backoff_ms = c->backoff_ms * 2 > 60000 ? 60000 : c->backoff_ms * 2;
}

void rf_client_kill(struct rf_broker *b, struct rf_bclient *c, const char *why)
{
	if (c->pid > 0 && why) {
		rf_warnx("client %s (pid %d): killed: %s", c->man.name, c->pid, why);
		kill(c->pid, SIGKILL);
	}
	disconnect(b, c);
}

static int send_ack(struct rf_bclient *c, uint32_t req_id, int status)
{
	struct rf_ctl_ack a = { 0 };
	a.hdr.size = sizeof a;
	a.hdr.version = RF_PROTO_VERSION;
	a.hdr.type = RF_CTL_ACK;
	a.hdr.req_id = req_id;
	a.status = status;
	/* the socket buffer holds far more than one request's ack: a client
	 * that never reads its acks only hurts itself */
	return send(c->sock, &a, sizeof a, MSG_DONTWAIT | MSG_NOSIGNAL) == sizeof a ? 0 : -errno;
}

static int do_hello(struct rf_broker *b, struct rf_bclient *c, const struct rf_ctl_hello *h)
{
	uint32_t evt_size = b->cfg.ring_kib * 1024u;
	uint32_t size = rf_shm_size(evt_size, RESP_SLOTS);
	int memfd = memfd_create("ringfence-client", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (memfd < 0)
		return -errno;
	void *p = MAP_FAILED;
	int efd1 = -1, efd2 = -1;
	if (ftruncate(memfd, size) < 0)
		goto fail;
	/* sealed so a client cannot shrink it under us (SIGBUS in the broker) */
	if (fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		goto fail;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
	if (p == MAP_FAILED)
		goto fail;
	if (rf_shm_init(p, evt_size, RESP_SLOTS) < 0 || rf_shm_attach(p, size, &c->evt, &c->resp) < 0) {
		errno = EINVAL;
		goto fail;
	}
	efd1 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	efd2 = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd1 < 0 || efd2 < 0)
		goto fail;

	struct rf_ctl_hello_ack ack = { 0 };
	ack.hdr.size = sizeof ack;
	ack.hdr.version = RF_PROTO_VERSION;
	ack.hdr.type = RF_CTL_HELLO_ACK;
	ack.hdr.req_id = h->hdr.req_id;
	ack.status = RF_OK;
	ack.shm_size = size;
	ack.client_id = c->slot;
	int fds[3] = { memfd, efd1, efd2 };
	if (rf_send_with_fds(c->sock, &ack, sizeof ack, fds, 3, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof ack)
		goto fail;
	c->memfd = memfd;
	c->shm = p;
	c->shm_size = size;
	c->evt_efd = efd1;
	c->resp_efd = efd2;
	if (rf_epoll_add(b, c->resp_efd, RF_TAG_CLIENT_RESP, c->slot) < 0)
		return -errno;
	if (strcmp(h->name, c->man.name))
		rf_debug("client %s: calls itself %s", c->man.name, h->name);
	rf_sv_event(b, c, RF_SV_HELLO, NULL);
	return 0;
fail:;
	int e = errno;
	if (p != MAP_FAILED)
		munmap(p, size);
	close(memfd);
	if (efd1 >= 0)
		close(efd1);
	if (efd2 >= 0)
		close(efd2);
	return -e;
}

/* Which control messages a client may send in which state. */
static const uint8_t permit[RF_CTL_MAX] = {
#define S(st) (1u << (st))
#define LIVE (S(RF_CS_CONNECTED) | S(RF_CS_RUNNING) | S(RF_CS_DEMOTED))
	[RF_CTL_HELLO] = S(RF_CS_STARTING),
	[RF_CTL_SUBSCRIBE] = LIVE,
	[RF_CTL_SUBSCRIBE_FD] = LIVE,
	/* RF_CTL_FD goes broker -> client only: 0 here, so a client's is malformed */
	[RF_CTL_UNSUBSCRIBE] = LIVE,
	[RF_CTL_MUTE_PROC] = LIVE,
	[RF_CTL_UNMUTE_PROC] = LIVE,
	[RF_CTL_MUTE_PATH] = LIVE,
	[RF_CTL_UNMUTE_PATH] = LIVE,
	[RF_CTL_MUTE_INVERT] = LIVE,
	[RF_CTL_READY] = S(RF_CS_CONNECTED),
	[RF_CTL_ALERT] = S(RF_CS_RUNNING) | S(RF_CS_DEMOTED),
#undef LIVE
#undef S
};

int rf_ctl_validate(const void *buf, size_t len, enum rf_client_state st)
{
	struct rf_ctl_hdr h;
	if (len < sizeof h || len > RF_CTL_MAX_SIZE)
		return RF_E_PROTO;
	memcpy(&h, buf, sizeof h);
	if (h.size != len || h.version != RF_PROTO_VERSION || h.reserved != 0)
		return RF_E_PROTO;
	if (h.type == 0 || h.type >= RF_CTL_MAX || !permit[h.type])
		return RF_E_PROTO;
	if (!(permit[h.type] & (1u << st)))
		return RF_E_STATE;
	size_t want;
	switch (h.type) {
	case RF_CTL_HELLO: {
		struct rf_ctl_hello m;
		if (len != sizeof m)
			return RF_E_PROTO;
		memcpy(&m, buf, sizeof m);
		if (!memchr(m.name, '\0', sizeof m.name) || !m.name[0])
			return RF_E_PROTO;
		return m.proto_version == RF_PROTO_VERSION ? 0 : RF_E_VERSION;
	}
	case RF_CTL_SUBSCRIBE:
	case RF_CTL_SUBSCRIBE_FD:
	case RF_CTL_UNSUBSCRIBE: {
		struct rf_ctl_sub m;
		if (len != sizeof m)
			return RF_E_PROTO;
		memcpy(&m, buf, sizeof m);
		if (m.type == RF_EVENT_NONE || m.type >= RF_EVENT_MAX || m.action > RF_ACTION_AUTH)
			return RF_E_INVAL;
		if (m.action == RF_ACTION_AUTH && !RF_EVENT_IS_AUTHABLE(m.type))
			return RF_E_INVAL;
		/* only AUTH events have a descriptor (fanotify's) to pass */
		if (h.type == RF_CTL_SUBSCRIBE_FD && m.action != RF_ACTION_AUTH)
			return RF_E_INVAL;
		return 0;
	}
	case RF_CTL_MUTE_PROC:
	case RF_CTL_UNMUTE_PROC: {
		struct rf_ctl_mute_proc m;
		if (len != sizeof m)
			return RF_E_PROTO;
		memcpy(&m, buf, sizeof m);
		return m.pid ? 0 : RF_E_INVAL;
	}
	case RF_CTL_MUTE_PATH:
	case RF_CTL_UNMUTE_PATH: {
		struct rf_ctl_mute_path m;
		if (len < sizeof m)
			return RF_E_PROTO;
		memcpy(&m, buf, sizeof m);
		if (m.len < 2 || m.len > RF_PATH_MAX || len != sizeof m + m.len)
			return RF_E_PROTO;
		const char *path = (const char *)buf + sizeof m;
		if (path[m.len - 1] != '\0' || memchr(path, '\0', m.len - 1) || path[0] != '/')
			return RF_E_INVAL;
		unsigned how = m.flags & (RF_MUTE_LITERAL | RF_MUTE_PREFIX);
		unsigned what = m.flags & (RF_MUTE_EXE | RF_MUTE_TARGET);
		if ((m.flags & ~(RF_MUTE_LITERAL | RF_MUTE_PREFIX | RF_MUTE_EXE | RF_MUTE_TARGET)) ||
		    (how != RF_MUTE_LITERAL && how != RF_MUTE_PREFIX) ||
		    (what != RF_MUTE_EXE && what != RF_MUTE_TARGET))
			return RF_E_INVAL;
		return 0;
	}
	case RF_CTL_MUTE_INVERT: {
		struct rf_ctl_mute_invert m;
		if (len != sizeof m)
			return RF_E_PROTO;
		memcpy(&m, buf, sizeof m);
		if ((m.kind != RF_MUTE_EXE && m.kind != RF_MUTE_TARGET) || m.inverted > 1)
			return RF_E_INVAL;
		return 0;
	}
	case RF_CTL_READY:
		want = sizeof h;
		return len == want ? 0 : RF_E_PROTO;
	case RF_CTL_ALERT: {
		struct rf_ctl_alert m;
		if (len < sizeof m)
			return RF_E_PROTO;
		memcpy(&m, buf, sizeof m);
		uint16_t lens[4] = { m.rule_len, m.title_len, m.level_len, m.tags_len };
		size_t strs = 0;
		for (int i = 0; i < 4; i++) {
			if (lens[i] > RF_ALERT_STR_MAX || (i < 3 && lens[i] == 0))
				return RF_E_PROTO;
			strs += lens[i];
		}
		if (m.reserved || m.msg_len < sizeof(struct rf_message) || m.msg_len > RF_MSG_MAX ||
		    len != sizeof m + strs + m.msg_len)
			return RF_E_PROTO;
		const unsigned char *p = (const unsigned char *)buf + sizeof m;
		if (memchr(p, '\0', strs))
			return RF_E_PROTO;
		/* the trigger must be a well-formed message: it is copied from, field by field */
		if (rf_msg_validate(p + strs, m.msg_len) != RF_OK)
			return RF_E_PROTO;
		return 0;
	}
	default:
		return RF_E_PROTO;
	}
}

static int do_subscribe(struct rf_broker *b, struct rf_bclient *c, const struct rf_ctl_sub *m, bool on,
			bool want_fd)
{
	uint64_t bit = 1ull << m->type;
	bool auth = m->action == RF_ACTION_AUTH;
	if (on && !((auth ? c->man.auth_allowed : c->man.notify_allowed) & bit))
		return RF_E_PERM;
	/* the descriptor goes with AUTH events, which a monitoring client never gets
	 * (its AUTH becomes NOTIFY): then the request has no effect */
	if (auth && on)
		c->fd_mask = want_fd ? (c->fd_mask | bit) : (c->fd_mask & ~bit);
	else if (auth)
		c->fd_mask &= ~bit;
	/* a monitoring client never holds the kernel: its AUTH becomes NOTIFY;
	 * so does a demoted one's (missed deadlines: telemetry only) */
	if (auth && (!c->man.enforce || c->demoted))
		auth = false;
	if (c->shadow_of >= 0) {   /* a trial: only the window is replayed to it */
		uint64_t *tm = auth ? &c->trial_auth_mask : &c->trial_notify_mask;
		*tm = on ? (*tm | bit) : (*tm & ~bit);
		return RF_OK;
	}
	uint64_t *mask = auth ? &c->auth_mask : &c->notify_mask;
	uint64_t before = c->auth_mask;
	*mask = on ? (*mask | bit) : (*mask & ~bit);
	if (c->auth_mask != before) {
		if (!on)
			rf_arbiter_client_gone(b, c);   /* its outstanding votes of that type */
		rf_arbiter_update_marks(b);
		rf_arbiter_flush_cache(b);
	}
	return RF_OK;
}

static int do_mute_path(struct rf_bclient *c, const struct rf_ctl_mute_path *m, const char *path, bool on)
{
	for (unsigned i = 0; i < c->ntmutes; i++) {
		struct rf_path_mute *pm = &c->tmutes[i];
		if (pm->flags == m->flags && !strcmp(pm->path, path)) {
			if (on)
				return RF_OK;
			free(pm->path);
			*pm = c->tmutes[--c->ntmutes];
			return RF_OK;
		}
	}
	if (!on)
		return RF_E_NOENT;
	if (c->ntmutes >= RF_CLIENT_MUTES)
		return RF_E_LIMIT;
	char *dup = strdup(path);
	if (!dup)
		return RF_E_NOMEM;
	c->tmutes[c->ntmutes++] = (struct rf_path_mute){ dup, (uint32_t)strlen(dup), m->flags };
	return RF_OK;
}

static int do_mute_proc(struct rf_bclient *c, const struct rf_ctl_mute_proc *m, bool on)
{
	for (unsigned i = 0; i < c->npmutes; i++) {
		if (c->pmutes[i].pid == m->pid && c->pmutes[i].start_time_ns == m->start_time_ns) {
			if (!on)
				c->pmutes[i] = c->pmutes[--c->npmutes];
			return RF_OK;
		}
	}
	if (!on)
		return RF_E_NOENT;
	if (c->npmutes >= RF_CLIENT_MUTES)
		return RF_E_LIMIT;
	c->pmutes[c->npmutes++] = (struct rf_proc_mute){ m->pid, m->start_time_ns };
	return RF_OK;
}

#define ALERT_RATE 1000        /* per second, per client */

/* Copies a string of the (validated) trigger into the message being built. */
static rf_str_t copy_str(struct rf_msgb *mb, const struct rf_message *t, rf_str_t s)
{
	return s.off ? rf_msgb_add(mb, rf_msg_str(t, s), s.len) : (rf_str_t){ 0, 0 };
}

/*
 * A client's detection becomes an RF_EVENT_ALERT message: the broker
 * rebuilds it field by field from the validated trigger (never forwards the
 * client's bytes), names the client itself, and rate-limits per client.
 */
static void handle_alert(struct rf_broker *b, struct rf_bclient *c, const unsigned char *buf)
{
	if (c->shadow_of >= 0) {   /* a trial's alerts are counted, not reported */
		rf_content_shadow_alert(b, c);
		return;
	}
	uint64_t now = rf_now_ms();
	if (now - c->alert_window_ms >= 1000) {
		c->alert_window_ms = now;
		c->alerts_in_window = 0;
	}
	if (++c->alerts_in_window > ALERT_RATE) {
		c->alerts_dropped++;
		return;
	}
	c->alerts++;
	struct rf_ctl_alert a;
	memcpy(&a, buf, sizeof a);
	const char *p = (const char *)buf + sizeof a;
	uint16_t lens[4] = { a.rule_len, a.title_len, a.level_len, a.tags_len };
	const char *strs[4];
	for (int i = 0; i < 4; i++) {
		strs[i] = p;
		p += lens[i];
	}
	static _Alignas(8) unsigned char tbuf[RF_MSG_MAX];
	memcpy(tbuf, p, a.msg_len);
	const struct rf_message *t = (const void *)tbuf;

	struct rf_msgb *mb = &b->mb;
	rf_msgb_init(mb, RF_EVENT_ALERT, RF_ACTION_NOTIFY);
	struct rf_message *m = &mb->u.msg;
	rf_stamp(m);
	m->process = t->process;
	m->process.exe.path = copy_str(mb, t, t->process.exe.path);
	m->process.comm = copy_str(mb, t, t->process.comm);
	m->process.cwd = copy_str(mb, t, t->process.cwd);
	m->process.args = copy_str(mb, t, t->process.args);
	m->parent = t->parent;
	m->parent.exe = copy_str(mb, t, t->parent.exe);
	m->parent.comm = copy_str(mb, t, t->parent.comm);
	struct rf_ev_alert *al = &m->ev.alert;
	al->client = rf_msgb_str(mb, c->man.name);
	al->rule_id = rf_msgb_add(mb, strs[0], lens[0]);
	al->title = rf_msgb_add(mb, strs[1], lens[1]);
	al->level = rf_msgb_add(mb, strs[2], lens[2]);
	al->tags = rf_msgb_add(mb, strs[3], lens[3]);
	const char *target = rf_msg_target_path(t);
	al->target = target ? rf_msgb_str(mb, target) : (rf_str_t){ 0, 0 };
	al->trigger_type = t->hdr.type;
	al->trigger_action = t->hdr.action;
	al->trigger_seq = t->hdr.seq;
	al->trigger_time_ns = t->hdr.time_ns;
	rf_msgb_finish(mb);
	b->stats.alerts++;
	rf_dispatch_notify(b);
}

/* Handles one validated control message; returns the status to acknowledge. */
static int handle_ctl(struct rf_broker *b, struct rf_bclient *c, const unsigned char *buf)
{
	struct rf_ctl_hdr h;
	memcpy(&h, buf, sizeof h);
	switch (h.type) {
	case RF_CTL_SUBSCRIBE:
	case RF_CTL_SUBSCRIBE_FD:
	case RF_CTL_UNSUBSCRIBE: {
		struct rf_ctl_sub m;
		memcpy(&m, buf, sizeof m);
		return do_subscribe(b, c, &m, h.type != RF_CTL_UNSUBSCRIBE, h.type == RF_CTL_SUBSCRIBE_FD);
	}
	case RF_CTL_MUTE_PROC:
	case RF_CTL_UNMUTE_PROC: {
		struct rf_ctl_mute_proc m;
		memcpy(&m, buf, sizeof m);
		return do_mute_proc(c, &m, h.type == RF_CTL_MUTE_PROC);
	}
	case RF_CTL_MUTE_PATH:
	case RF_CTL_UNMUTE_PATH: {
		struct rf_ctl_mute_path m;
		memcpy(&m, buf, sizeof m);
		return do_mute_path(c, &m, (const char *)buf + sizeof m, h.type == RF_CTL_MUTE_PATH);
	}
	case RF_CTL_MUTE_INVERT: {
		struct rf_ctl_mute_invert m;
		memcpy(&m, buf, sizeof m);
		if (m.kind == RF_MUTE_EXE)
			c->invert_exe = m.inverted;
		else
			c->invert_target = m.inverted;
		return RF_OK;
	}
	case RF_CTL_READY:
		rf_sv_event(b, c, RF_SV_READY, NULL);
		return RF_OK;
	}
	return RF_E_PROTO;
}

void rf_client_on_sock(struct rf_broker *b, struct rf_bclient *c)
{
	/* a bounded number per wake-up, so one chatty client cannot starve the loop */
	for (int n = 0; n < 64 && c->sock >= 0; n++) {
		_Alignas(8) unsigned char buf[RF_CTL_MAX_SIZE + 1];
		ssize_t len = recv(c->sock, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
		if (len < 0) {
			if (errno == EAGAIN || errno == EINTR)
				return;
			rf_sv_event(b, c, RF_SV_KILL, "control socket error");
			return;
		}
		if (len == 0) {
			/*
			 * Usually the process died and its socket closed before its
			 * SIGCHLD arrived: record the death's own status then, not a
			 * kill.  A live process that hung up is killed; its death says so.
			 */
			c->eof_kill = true;
			rf_client_kill(b, c, NULL);
			if (c->pid > 0)
				kill(c->pid, SIGKILL);
			return;
		}
		if ((size_t)len > RF_CTL_MAX_SIZE) {
			c->invalid++;
			b->stats.ctl_rejected++;
			rf_sv_event(b, c, RF_SV_KILL, "oversized control message");
			return;
		}
		int v = rf_ctl_validate(buf, (size_t)len, c->state);
		/* zeroed: a runt datagram fills only part of it, and the nak echoes req_id */
		struct rf_ctl_hdr h = { 0 };
		memcpy(&h, buf, sizeof h < (size_t)len ? sizeof h : (size_t)len);
		if (v == RF_E_PROTO || v == RF_E_VERSION) {
			c->invalid++;
			b->stats.ctl_rejected++;
			if (c->state == RF_CS_STARTING) {
				struct rf_ctl_hello_ack nak = { .hdr = { sizeof nak, RF_PROTO_VERSION,
									 RF_CTL_HELLO_ACK, h.req_id, 0 },
								.status = v };
				send(c->sock, &nak, sizeof nak, MSG_DONTWAIT | MSG_NOSIGNAL);
			}
			rf_sv_event(b, c, RF_SV_KILL, v == RF_E_VERSION ? "protocol version mismatch"
									: "malformed control message");
			return;
		}
		if (v < 0) {
			c->invalid++;
			b->stats.ctl_rejected++;
			send_ack(c, h.req_id, v);
			continue;
		}
		if (h.type == RF_CTL_HELLO) {
			struct rf_ctl_hello m;
			memcpy(&m, buf, sizeof m);
			int r = do_hello(b, c, &m);
			if (r < 0) {
				errno = -r;
				rf_warn("client %s: handshake", c->man.name);
				rf_sv_event(b, c, RF_SV_KILL, "handshake failed");
				return;
			}
			continue;
		}
		if (h.type == RF_CTL_ALERT) {
			handle_alert(b, c, buf);   /* fire and forget: no acknowledgement */
			continue;
		}
		send_ack(c, h.req_id, handle_ctl(b, c, buf));
	}
}

bool rf_client_take_responses(struct rf_broker *b, struct rf_bclient *c)
{
	struct rf_wire_response r[64];
	for (int rounds = 0; rounds < 64 && c->shm; rounds++) {
		int n = rf_respring_pop(&c->resp, r, 64);
		if (n < 0) {
			c->invalid++;
			rf_sv_event(b, c, RF_SV_KILL, "corrupt response ring");
			return false;
		}
		for (int i = 0; i < n; i++) {
			if (c->shadow_of >= 0)
				rf_content_shadow_response(b, c, &r[i]);
			else
				rf_arbiter_on_response(b, c, &r[i]);
		}
		if (n < 64)
			return n > 0 || rounds > 0;
	}
	return true;
}

void rf_client_on_resp(struct rf_broker *b, struct rf_bclient *c)
{
	uint64_t v;
	if (read(c->resp_efd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	rf_client_take_responses(b, c);
}

/*
 * Passes the file of AUTH event id to the client: one RF_CTL_FD datagram
 * with fd attached.  fd is the fanotify event's descriptor, opened read-only
 * by the kernel for the permission group (and marked so that reading it
 * raises no further events); SCM_RIGHTS hands the client a new descriptor
 * of that same open file description, which is what dup() would give, so no
 * path is ever opened here (an open inside the watched scope would raise a
 * permission event that only this thread can answer).  Never blocks: a full
 * socket is counted and the event goes without.  0 when sent.
 */
int rf_client_send_fd(struct rf_bclient *c, uint64_t id, int fd)
{
	struct rf_ctl_fd m = { 0 };
	m.hdr.size = sizeof m;
	m.hdr.version = RF_PROTO_VERSION;
	m.hdr.type = RF_CTL_FD;
	m.magic = RF_CTL_FD_MAGIC;
	m.id = id;
	if (c->sock < 0 || fd < 0 ||
	    rf_send_with_fds(c->sock, &m, sizeof m, &fd, 1, MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof m) {
		c->fd_failed++;
		return -1;
	}
	c->fd_sent++;
	return 0;
}

int rf_client_push(struct rf_broker *b, struct rf_bclient *c, uint64_t id)
{
	struct rf_message *m = &b->mb.u.msg;
	m->hdr.seq = ++c->seq;
	m->hdr.type_seq = ++c->type_seq[m->hdr.type];
	m->hdr.id = id;
	/*
	 * Telemetry leaves a quarter of the ring free: room for 32 AUTH events
	 * of the largest size in a 1 MiB ring, which no flood of NOTIFY events
	 * (or of oversized ones) can take.  AUTH events may use all of it.
	 */
	uint32_t reserve = m->hdr.action == RF_ACTION_AUTH ? 0 : c->evt.size / 4;
	int r = rf_evring_push_reserve(&c->evt, m, m->hdr.size, reserve);
	if (r == -ENOSPC) {
		c->dropped++;
		b->stats.dropped++;
		__atomic_store_n(&((struct rf_shm_hdr *)c->shm)->dropped, c->dropped, __ATOMIC_RELAXED);
		return r;
	}
	if (r < 0) {
		c->invalid++;
		rf_sv_event(b, c, RF_SV_KILL, "corrupt event ring indices");
		return -EPROTO;
	}
	c->delivered++;
	c->unflushed = true;
	return 0;
}

void rf_clients_flush(struct rf_broker *b)
{
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (!c->unflushed || !c->shm)
			continue;
		c->unflushed = false;
		if (rf_evring_need_wakeup(&c->evt)) {
			uint64_t one = 1;
			if (write(c->evt_efd, &one, sizeof one) < 0) {
				/* saturated counter: the client is awake already */
			}
		}
	}
}

bool rf_clients_prepare_sleep(struct rf_broker *b)
{
	bool ready = false;
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (c->shm)
			__atomic_store_n(&c->resp.ctl->waiting, 1, __ATOMIC_RELAXED);
	}
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (c->shm && !c->budget.throttled &&
		    __atomic_load_n(&c->resp.ctl->head, __ATOMIC_ACQUIRE) != c->resp.tail) {
			ready = true;
			uint64_t t0 = rf_budget_now();
			rf_client_take_responses(b, c);
			rf_budget_charge(c, t0);
		}
	}
	return ready;
}

bool rf_client_has_room(const struct rf_bclient *c, uint32_t bytes)
{
	/* flow control only: a lying tail can only slow its own replay */
	uint64_t tail = __atomic_load_n(&c->evt.ctl->tail, __ATOMIC_ACQUIRE);
	if (tail > c->evt.head)
		return true;
	return c->evt.size - (c->evt.head - tail) >= bytes;
}

bool rf_client_wants_auth(const struct rf_bclient *c, unsigned type)
{
	return c->shm && c->man.enforce && (c->auth_mask & (1ull << type)) &&
	       (c->state == RF_CS_RUNNING || c->state == RF_CS_CONNECTED);
}

void rf_client_on_exit(struct rf_broker *b, pid_t pid, int status)
{
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (c->pid != pid)
			continue;
		char st[32];
		if (WIFSIGNALED(status))
			snprintf(st, sizeof st, "signal %d", WTERMSIG(status));
		else
			snprintf(st, sizeof st, "exit %d", WEXITSTATUS(status));
		c->last_pid = pid;
		c->pid = 0;
		rf_sv_event(b, c, RF_SV_DIED, st);
		return;
	}
}

static void close_sandbox_fds(struct rf_broker *b, struct rf_bclient *c)
{
	if (c->setup_fd >= 0) {
		rf_epoll_del(b, c->setup_fd);
		close(c->setup_fd);
		c->setup_fd = -1;
	}
	if (c->notify_fd >= 0) {
		rf_epoll_del(b, c->notify_fd);
		close(c->notify_fd);
		c->notify_fd = -1;
	}
}

void rf_sandbox_release_client(struct rf_broker *b, struct rf_bclient *c)
{
	close_sandbox_fds(b, c);
	if (c->sandbox)
		rf_sandbox_release(c->sandbox);
}

void rf_sandbox_status(const struct rf_bclient *c, void *json_obj)
{
	const struct rf_sandbox *sb = c->sandbox;
	if (!sb)
		return;
	json_object *o = json_obj, *s = json_object_new_object();
	json_object_object_add(s, "uid", json_object_new_int64(sb->uid));
	json_object_object_add(s, "gid", json_object_new_int64(sb->gid));
	json_object_object_add(s, "seccomp", json_object_new_boolean(sb->seccomp));
	json_object_object_add(s, "landlock", sb->landlock_abi ? json_object_new_int(sb->landlock_abi)
							     : json_object_new_boolean(0));
	json_object_object_add(s, "netns", json_object_new_boolean(sb->netns));
	json_object_object_add(s, "cgroup", json_object_new_string(rf_sandbox_cgroup_name(sb->cgroup)));
	json_object_object_add(s, "cgroup_note", json_object_new_string(sb->cgroup_note));
	json_object_object_add(o, "sandbox", s);
}

void rf_client_on_setup(struct rf_broker *b, struct rf_bclient *c)
{
	int fd = -1;
	int r = rf_sandbox_recv_notify_fd(c->setup_fd, &fd);
	if (r == -EAGAIN)
		return;
	rf_epoll_del(b, c->setup_fd);
	close(c->setup_fd);
	c->setup_fd = -1;
	if (r < 0) {
		/* the child died before loading its filter; its death is reported */
		rf_debug("client %s: no seccomp notify descriptor: %s", c->man.name, strerror(-r));
		return;
	}
	c->notify_fd = fd;
	if (rf_epoll_add(b, fd, RF_TAG_CLIENT_NOTIFY, c->slot) < 0) {
		rf_warn("client %s: epoll", c->man.name);
		rf_sv_event(b, c, RF_SV_KILL, "epoll failed");
	}
}

void rf_client_on_notify(struct rf_broker *b, struct rf_bclient *c)
{
	bool exec_allowed = false;
	int nr = -1;
	int r = rf_sandbox_on_notify(c->notify_fd, !c->first_exec_done, &exec_allowed, &nr);
	if (r == 0) {
		if (exec_allowed) {
			c->first_exec_done = true;
			return;
		}
		c->seccomp_denied++;
		if (nr >= 0 && (unsigned)nr < sizeof c->seccomp_by_nr / sizeof *c->seccomp_by_nr)
			c->seccomp_by_nr[nr]++;
		if (c->seccomp_denied <= 16 || (c->seccomp_denied & (c->seccomp_denied - 1)) == 0)
			rf_warnx("client %s: sandbox denied %s (%llu denials)", c->man.name,
				 rf_sandbox_syscall_name(nr), (unsigned long long)c->seccomp_denied);
		return;
	}
	if (r == -EAGAIN || r == -ENOENT)
		return;
	/* every process under the filter is gone */
	rf_epoll_del(b, c->notify_fd);
	close(c->notify_fd);
	c->notify_fd = -1;
}
