/*
 * ops.c - the operator socket (STATE_DIR/control.sock) that rfctl talks to.
 *
 * SOCK_SEQPACKET, root only (mode 0600 and SO_PEERCRED).  A connection sends
 * one fixed-size request: STATUS and CLIENTS get one JSON datagram back;
 * TAIL turns the connection into a stream of binary rf_message datagrams,
 * AUTH events after their verdict.  Tail sends never block: a reader that
 * does not keep up loses messages, counted, and is told how many in an
 * rf_ops_drop notice before the next message that fits.
 */
#include <dirent.h>
#include <errno.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/budget.h"
#include "broker/content.h"
#include "broker/sandbox.h"
#include "common/log.h"
#include "ringfence/ringfence.h"

#define TAIL_SNDBUF (4 << 20)
#define RF_OPS_IDLE_MS 10000   /* a request connection silent this long is closed */

int rf_ops_init(struct rf_broker *b)
{
	for (unsigned i = 0; i < RF_MAX_OPS_CONNS; i++)
		b->ops[i].fd = -1;
	char path[PATH_MAX];
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int n = snprintf(path, sizeof path, "%s/control.sock", b->cfg.state_dir);
	if (n < 0 || (size_t)n >= sizeof sa.sun_path)
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, (size_t)n + 1);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	mode_t old = umask(0177);
	int r = bind(fd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (r < 0 || listen(fd, 16) < 0 || rf_epoll_add(b, fd, RF_TAG_OPS_LISTEN, 0) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	b->ops_listen = fd;
	return 0;
}

static void conn_close(struct rf_broker *b, struct rf_ops_conn *o)
{
	if (o->fd < 0)
		return;
	rf_epoll_del(b, o->fd);
	close(o->fd);
	o->fd = -1;
	if (o->tail && b->ntail)
		b->ntail--;
	o->tail = false;
}

void rf_ops_free(struct rf_broker *b)
{
	for (unsigned i = 0; i < RF_MAX_OPS_CONNS; i++)
		conn_close(b, &b->ops[i]);
	if (b->ops_listen >= 0) {
		close(b->ops_listen);
		char path[PATH_MAX];
		snprintf(path, sizeof path, "%s/control.sock", b->cfg.state_dir);
		unlink(path);
	}
	b->ops_listen = -1;
}

static unsigned evict_oldest(struct rf_broker *b);

void rf_ops_on_listen(struct rf_broker *b)
{
	for (int n = 0; n < 16; n++) {
		int fd = accept4(b->ops_listen, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct ucred cr;
		socklen_t cl = sizeof cr;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cr, &cl) < 0 || cr.uid != 0) {
			close(fd);
			continue;
		}
		unsigned i = 0;
		while (i < RF_MAX_OPS_CONNS && b->ops[i].fd >= 0)
			i++;
		if (i == RF_MAX_OPS_CONNS)
			i = evict_oldest(b);
		if (i == RF_MAX_OPS_CONNS || rf_epoll_add(b, fd, RF_TAG_OPS_CONN, i) < 0) {
			rf_warnx("operator socket: too many connections");
			close(fd);
			continue;
		}
		b->ops[i] = (struct rf_ops_conn){ .fd = fd, .last_ms = rf_now_ms() };
	}
}

/*
 * Full: the newcomer is the operator (only uid 0 gets this far), so the
 * oldest connection that is not a tail makes room. A tail reader keeps its
 * slot while it reads; idle request connections are what can pile up (a
 * stuck script, a hostile root process) and must not lock rfctl out.
 * Returns the freed slot or RF_MAX_OPS_CONNS when every slot is a tail.
 */
static unsigned evict_oldest(struct rf_broker *b)
{
	unsigned best = RF_MAX_OPS_CONNS;
	for (unsigned i = 0; i < RF_MAX_OPS_CONNS; i++)
		if (b->ops[i].fd >= 0 && !b->ops[i].tail &&
		    (best == RF_MAX_OPS_CONNS || b->ops[i].last_ms < b->ops[best].last_ms))
			best = i;
	if (best < RF_MAX_OPS_CONNS) {
		conn_close(b, &b->ops[best]);
		b->ops_evicted++;
		rf_info("operator socket: full, closed the oldest idle connection");
	}
	return best;
}

/* A request connection gets RF_OPS_IDLE_MS between requests; a tail is exempt. */
void rf_ops_tick(struct rf_broker *b)
{
	uint64_t now = rf_now_ms();
	for (unsigned i = 0; i < RF_MAX_OPS_CONNS; i++) {
		struct rf_ops_conn *o = &b->ops[i];
		if (o->fd >= 0 && !o->tail && now - o->last_ms >= RF_OPS_IDLE_MS) {
			conn_close(b, o);
			b->ops_idle_closed++;
		}
	}
}

int rf_ops_parse_req(const void *buf, size_t len, struct rf_ops_req *ret)
{
	struct rf_ops_req r;
	if (len != sizeof r)
		return -EINVAL;
	memcpy(&r, buf, sizeof r);
	if (r.magic != RF_OPS_MAGIC || r.version != RF_PROTO_VERSION || r.cmd == 0 || r.cmd >= RF_OPS_MAX ||
	    r.cmd == RF_OPS_CONTENT)
		return -EINVAL;
	if (r.flags & ~RF_OPS_F_EXCLUDE_PID)
		return -EINVAL;
	if (r.type_mask & ~(((1ull << RF_EVENT_MAX) - 1) & ~1ull))
		return -EINVAL;
	*ret = r;
	return 0;
}

int rf_ops_parse_content(const void *buf, size_t len, struct rf_ops_content *ret)
{
	struct rf_ops_content r;
	if (len != sizeof r)
		return -EINVAL;
	memcpy(&r, buf, sizeof r);
	if (r.req.magic != RF_OPS_MAGIC || r.req.version != RF_PROTO_VERSION || r.req.cmd != RF_OPS_CONTENT ||
	    r.req.type_mask || r.req.exclude_pgid || r.req.flags || r.action == 0 || r.action >= RF_OPS_CONTENT_MAX)
		return -EINVAL;
	size_t n = strnlen(r.client, sizeof r.client);
	if (n == sizeof r.client)
		return -EINVAL;
	for (size_t i = n; i < sizeof r.client; i++)
		if (r.client[i])
			return -EINVAL;
	bool named = r.action == RF_OPS_CONTENT_PIN || r.action == RF_OPS_CONTENT_UNPIN;
	if (named != (n > 0))
		return -EINVAL;
	if ((r.action == RF_OPS_CONTENT_DELAY ? r.hours > 8760 : r.hours != 0) ||
	    (r.action != RF_OPS_CONTENT_PIN && r.version))
		return -EINVAL;
	*ret = r;
	return 0;
}

static json_object *subs_json(uint64_t mask)
{
	json_object *a = json_object_new_array();
	for (unsigned t = 1; t < RF_EVENT_MAX; t++)
		if (mask & (1ull << t))
			json_object_array_add(a, json_object_new_string(rf_event_type_name(t)));
	return a;
}

#define ADD(o, k, v) json_object_object_add((o), (k), (v))
#define I64(v) json_object_new_int64((int64_t)(v))

static json_object *client_json(const struct rf_bclient *c)
{
	json_object *o = json_object_new_object();
	ADD(o, "name", json_object_new_string(c->man.name));
	ADD(o, "exec", json_object_new_string(c->man.exec));
	ADD(o, "pid", I64(c->pid));
	ADD(o, "state", json_object_new_string(rf_client_state_name(c->state)));
	ADD(o, "mode", json_object_new_string(c->man.enforce ? "enforce" : "monitor"));
	ADD(o, "restarts", I64(c->restarts));
	ADD(o, "deaths", I64(c->deaths));
	json_object *s = json_object_new_object();
	ADD(s, "auth", subs_json(c->auth_mask));
	ADD(s, "notify", subs_json(c->notify_mask));
	ADD(o, "subscriptions", s);
	ADD(o, "delivered", I64(c->delivered));
	ADD(o, "dropped", I64(c->dropped));
	ADD(o, "auth_asked", I64(c->auth_asked));
	ADD(o, "auth_answered", I64(c->auth_answered));
	ADD(o, "auth_missed", I64(c->auth_missed));
	ADD(o, "auth_ring_full", I64(c->auth_full));
	ADD(o, "auth_waited_for_room", I64(c->auth_waited));
	rf_budget_status(c, o);
	ADD(o, "late", I64(c->late));
	ADD(o, "fd_sent", I64(c->fd_sent));
	ADD(o, "fd_failed", I64(c->fd_failed));
	ADD(o, "duplicate", I64(c->duplicate));
	ADD(o, "foreign", I64(c->foreign));
	ADD(o, "invalid", I64(c->invalid));
	ADD(o, "mutes", I64(c->npmutes + c->ntmutes));
	ADD(o, "last_exit", json_object_new_string(c->last_exit));
	ADD(o, "demoted", json_object_new_boolean(c->demoted));
	ADD(o, "alerts", I64(c->alerts));
	ADD(o, "alerts_dropped", I64(c->alerts_dropped));
	ADD(o, "hung_kills", I64(c->hung_kills));
	ADD(o, "binary_sha256", json_object_new_string(c->binary_sha256));
	ADD(o, "content_version", json_object_new_string(c->man.content_version));
	json_object *dl = json_object_new_object();
	ADD(dl, "exec_ms", I64(c->deadline_ms[0]));
	ADD(dl, "open_ms", I64(c->deadline_ms[1]));
	ADD(o, "deadline_override", dl);
	json_object *deaths = json_object_new_array();
	uint64_t first = c->deaths > RF_DEATH_LOG ? c->deaths - RF_DEATH_LOG : 0;
	for (uint64_t k = first; k < c->deaths; k++) {
		const struct rf_death *d = &c->death_log[k % RF_DEATH_LOG];
		json_object *dj = json_object_new_object();
		ADD(dj, "time_ms", I64(d->time_ms));
		ADD(dj, "reason", json_object_new_string(d->reason));
		ADD(dj, "status", json_object_new_string(d->status));
		ADD(dj, "binary_sha256", json_object_new_string(d->binary_sha256));
		ADD(dj, "content_version", json_object_new_string(d->content_version));
		json_object_array_add(deaths, dj);
	}
	ADD(o, "death_log", deaths);
	ADD(o, "seccomp_denied", I64(c->seccomp_denied));
	json_object *by = json_object_new_object();
	for (unsigned nr = 0; nr < sizeof c->seccomp_by_nr / sizeof *c->seccomp_by_nr; nr++) {
		if (!c->seccomp_by_nr[nr])
			continue;
		ADD(by, rf_sandbox_syscall_name((int)nr), I64(c->seccomp_by_nr[nr]));
	}
	ADD(o, "seccomp_denied_by_syscall", by);
	rf_sandbox_status(c, o);
	return o;
}

static json_object *resources_json(void)
{
	json_object *r = json_object_new_object();
	long pages = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "re");
	if (f) {
		if (fscanf(f, "%ld %ld", &pages, &rss) != 2)
			rss = 0;
		fclose(f);
	}
	ADD(r, "rss_kib", I64(rss * (sysconf(_SC_PAGESIZE) / 1024)));
	int fds = 0;
	DIR *d = opendir("/proc/self/fd");
	if (d) {
		for (struct dirent *de; (de = readdir(d));)
			fds += de->d_name[0] != '.';
		closedir(d);
		fds--;   /* the directory's own descriptor */
	}
	ADD(r, "fds", I64(fds));
	return r;
}

static json_object *alerts_json(const struct rf_broker *b)
{
	json_object *a = json_object_new_array();
	uint64_t first = b->nalerts > RF_MAX_ALERTS ? b->nalerts - RF_MAX_ALERTS : 0;
	for (uint64_t k = first; k < b->nalerts; k++) {
		const struct rf_alert *al = &b->alerts[k % RF_MAX_ALERTS];
		json_object *j = json_object_new_object();
		ADD(j, "time_ms", I64(al->time_ms));
		ADD(j, "client", json_object_new_string(al->client));
		ADD(j, "kind", json_object_new_string(al->kind));
		ADD(j, "detail", json_object_new_string(al->detail));
		json_object_array_add(a, j);
	}
	return a;
}

static json_object *clients_json(const struct rf_broker *b)
{
	json_object *a = json_object_new_array();
	for (unsigned i = 0; i < b->nclients; i++)
		json_object_array_add(a, client_json(&b->clients[i]));
	return a;
}

static json_object *status_json(const struct rf_broker *b)
{
	json_object *o = json_object_new_object();
	ADD(o, "schema_version", I64(1));
	ADD(o, "version", json_object_new_string("0.1.0"));
	ADD(o, "pid", I64(b->self));
	ADD(o, "uptime_ms", I64(rf_now_ms() - b->started_ms));
	json_object *sens = json_object_new_array();
	for (unsigned i = 0; i < b->nsensors; i++) {
		const struct rf_sensor *s = &b->sensors[i];
		json_object *so = json_object_new_object();
		ADD(so, "name", json_object_new_string(s->ops->name));
		ADD(so, "active", json_object_new_boolean(s->running));
		ADD(so, "events", I64(s->events));
		ADD(so, "lost", I64(s->lost));
		ADD(so, "detail", json_object_new_string(s->detail ? s->detail : ""));
		if (s->batch_us) {
			/* wake-ups batched under load (sensor.h) */
			ADD(so, "batching", json_object_new_boolean(s->batching));
			ADD(so, "batch_switches", I64(s->batch_switches));
		}
		json_object_array_add(sens, so);
	}
	ADD(o, "sensors", sens);
	json_object *a = json_object_new_object();
	ADD(a, "exec_marked", json_object_new_boolean(b->exec_marked));
	ADD(a, "open_marked", json_object_new_boolean(b->open_marked));
	ADD(a, "exec_deadline_ms", I64(b->cfg.exec_deadline_ms));
	ADD(a, "open_deadline_ms", I64(b->cfg.open_deadline_ms));
	ADD(a, "default_verdict", json_object_new_string(b->cfg.default_verdict == RF_DENY ? "deny" : "allow"));
	ADD(a, "pending", I64(b->stats.auth_events - b->stats.auth_decided));
	ADD(a, "events", I64(b->stats.auth_events));
	ADD(a, "decided", I64(b->stats.auth_decided));
	ADD(a, "allowed", I64(b->stats.allowed));
	ADD(a, "denied", I64(b->stats.denied));
	ADD(a, "by_client", I64(b->stats.by_client));
	ADD(a, "by_default", I64(b->stats.by_default));
	ADD(a, "by_cache", I64(b->stats.by_cache));
	ADD(a, "by_policy", I64(b->stats.by_policy));
	ADD(a, "cache_marks", I64(b->stats.cache_marks));
	ADD(a, "overflow", I64(b->stats.auth_overflow));
	ADD(o, "auth", a);
	json_object *c = json_object_new_object();
	ADD(c, "events", I64(b->stats.events));
	ADD(c, "dispatched", I64(b->stats.dispatched));
	ADD(c, "dropped", I64(b->stats.dropped));
	ADD(c, "tail_dropped", I64(b->stats.tail_dropped));
	ADD(c, "ops_idle_closed", I64(b->ops_idle_closed));
	ADD(c, "ops_evicted", I64(b->ops_evicted));
	ADD(c, "log_dropped", I64(rf_log_dropped()));
	ADD(c, "notify_overflow", I64(b->stats.notify_overflow));
	ADD(c, "alerts", I64(b->stats.alerts));
	ADD(c, "messages_cut", I64(b->stats.messages_cut));
	ADD(c, "cut_target", I64(b->stats.cut_target));
	ADD(c, "cut_args", I64(b->stats.cut_args));
	ADD(c, "cut_cwd", I64(b->stats.cut_cwd));
	ADD(c, "control_rejected", I64(b->stats.ctl_rejected));
	ADD(c, "processes", I64(b->procs.count));
	ADD(o, "counters", c);
	ADD(o, "resources", resources_json());
	ADD(o, "alerts", alerts_json(b));
	json_object *sv = json_object_new_object();
	ADD(sv, "ready_timeout_ms", I64(b->cfg.ready_timeout_ms));
	ADD(sv, "hang_timeout_ms", I64(b->cfg.hang_timeout_ms));
	ADD(sv, "max_deaths", I64(b->cfg.max_deaths));
	ADD(sv, "death_window_ms", I64(b->cfg.death_window_ms));
	ADD(sv, "miss_limit", I64(b->cfg.miss_limit));
	ADD(sv, "miss_window_ms", I64(b->cfg.miss_window_ms));
	ADD(sv, "on_miss_limit", json_object_new_string(b->cfg.miss_restart ? "restart" : "demote"));
	ADD(o, "supervisor", sv);
	ADD(o, "content", rf_content_status(b));
	ADD(o, "clients", clients_json(b));
	return o;
}

static void send_json(struct rf_ops_conn *o, json_object *j)
{
	const char *s = json_object_to_json_string_ext(j, JSON_C_TO_STRING_PLAIN);
	if (send(o->fd, s, strlen(s), MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		rf_debug("operator socket: reply lost: %s", strerror(errno));
	json_object_put(j);
}

void rf_ops_on_conn(struct rf_broker *b, unsigned idx)
{
	struct rf_ops_conn *o = &b->ops[idx];
	_Alignas(8) unsigned char buf[256];
	ssize_t n = recv(o->fd, buf, sizeof buf, MSG_DONTWAIT | MSG_TRUNC);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	o->last_ms = rf_now_ms();
	struct rf_ops_req req;
	struct rf_ops_content creq;
	if (n > 0 && !o->tail && rf_ops_parse_content(buf, (size_t)n, &creq) == 0) {
		send_json(o, rf_content_op(b, creq.action, creq.client, creq.version, creq.hours));
		return;
	}
	if (n <= 0 || o->tail || rf_ops_parse_req(buf, (size_t)n, &req) < 0) {
		/* EOF, error, a second request on a tail, or garbage: hang up */
		conn_close(b, o);
		return;
	}
	switch (req.cmd) {
	case RF_OPS_STATUS:
		send_json(o, status_json(b));
		break;
	case RF_OPS_CLIENTS: {
		json_object *j = json_object_new_object();
		ADD(j, "clients", clients_json(b));
		send_json(o, j);
		break;
	}
	case RF_OPS_TAIL: {
		int sz = TAIL_SNDBUF;
		if (setsockopt(o->fd, SOL_SOCKET, SO_SNDBUFFORCE, &sz, sizeof sz) < 0)
			setsockopt(o->fd, SOL_SOCKET, SO_SNDBUF, &sz, sizeof sz);
		o->tail = true;
		o->type_mask = req.type_mask;
		o->exclude = req.exclude_pgid;
		o->exclude_is_pid = req.flags & RF_OPS_F_EXCLUDE_PID;
		b->ntail++;
		break;
	}
	}
}

void rf_ops_tail(struct rf_broker *b, const struct rf_message *m)
{
	if (b->content)
		rf_content_window_add(b, m);   /* every event, as seen here: a trial's replay */
	if (!b->ntail)
		return;
	for (unsigned i = 0; i < RF_MAX_OPS_CONNS; i++) {
		struct rf_ops_conn *o = &b->ops[i];
		if (o->fd < 0 || !o->tail)
			continue;
		if (o->type_mask && !(o->type_mask & (1ull << m->hdr.type)))
			continue;
		if (o->exclude &&
		    (o->exclude_is_pid ? m->process.pid == o->exclude : m->process.pgid == o->exclude))
			continue;
		if (o->dropped) {
			struct rf_ops_drop d = { .magic = RF_OPS_DROP_MAGIC, .dropped = o->dropped };
			if (send(o->fd, &d, sizeof d, MSG_DONTWAIT | MSG_NOSIGNAL) != sizeof d) {
				if (errno != EAGAIN) {
					conn_close(b, o);
					continue;
				}
				o->dropped++;
				o->dropped_total++;
				b->stats.tail_dropped++;
				continue;
			}
			o->dropped = 0;
		}
		if (send(o->fd, m, m->hdr.size, MSG_DONTWAIT | MSG_NOSIGNAL) < 0) {
			if (errno != EAGAIN && errno != ENOBUFS) {
				conn_close(b, o);
				continue;
			}
			o->dropped++;
			o->dropped_total++;
			b->stats.tail_dropped++;
			continue;
		}
		o->sent++;
	}
}
