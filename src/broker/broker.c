/*
 * broker.c - ringfenced's event loop, the normaliser that turns raw sensor
 * events into messages, dispatch to clients and tail readers, and mutes.
 */
#include <errno.h>
#include <fcntl.h>
#include <mntent.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <systemd/sd-daemon.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/budget.h"
#include "broker/content.h"
#include "broker/mounts.h"
#include "broker/sandbox.h"
#include "common/log.h"
#include "ringfence/ringfence.h"

#define TICK_MS 250

uint64_t rf_now_mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t rf_now_ms(void)
{
	return rf_now_mono_ns() / 1000000ull;
}

uint64_t rf_now_realtime_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000ull + (uint64_t)ts.tv_nsec / 1000000ull;
}

void rf_broker_signals(sigset_t *ret_set)
{
	sigemptyset(ret_set);
	sigaddset(ret_set, SIGCHLD);
	sigaddset(ret_set, SIGTERM);
	sigaddset(ret_set, SIGINT);
	sigaddset(ret_set, SIGHUP);
}

static int epoll_add_events(struct rf_broker *b, int fd, uint32_t events, enum rf_tag tag, uint32_t idx)
{
	struct epoll_event ev = { .events = events, .data.u64 = ((uint64_t)tag << 32) | idx };
	return epoll_ctl(b->epfd, EPOLL_CTL_ADD, fd, &ev);
}

int rf_epoll_add(struct rf_broker *b, int fd, enum rf_tag tag, uint32_t idx)
{
	return epoll_add_events(b, fd, EPOLLIN, tag, idx);
}

void rf_epoll_del(struct rf_broker *b, int fd)
{
	epoll_ctl(b->epfd, EPOLL_CTL_DEL, fd, NULL);
}

void rf_stamp(struct rf_message *m)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	m->hdr.time_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	m->hdr.mono_ns = rf_now_mono_ns();
}

/* ---- mutes ---- */

static bool has_prefix(const char *s, const char *prefix, size_t plen)
{
	return strncmp(s, prefix, plen) == 0 && (prefix[plen - 1] == '/' || s[plen] == '\0' || s[plen] == '/');
}

/* Services the machine cannot live without, kept out of AUTH paths. */
static const char *const default_mute_exe[] = {
	"/usr/lib/systemd/systemd-journald", "/lib/systemd/systemd-journald",
	"/usr/sbin/rsyslogd", "/usr/sbin/syslog-ng", "/usr/lib/systemd/systemd",
	"/lib/systemd/systemd",
};

static bool is_client_pid(const struct rf_broker *b, uint32_t pid)
{
	for (unsigned i = 0; i < b->nclients; i++)
		if (b->clients[i].pid > 0 && (uint32_t)b->clients[i].pid == pid)
			return true;
	return false;
}

/*
 * The broker's own helpers: a child of the broker that is not a client (the
 * reaper fetch.c clones to run rf-fetch) and that child's children (rf-fetch
 * itself).  They are the agent: a client that denies their exec or their
 * opens must not be able to stop the update that would replace its content.
 * A client's children are not helpers.
 */
static bool is_broker_helper(struct rf_broker *b, const struct rf_proc *p)
{
	uint32_t self = (uint32_t)b->self;
	if (p->ppid == self)
		return !is_client_pid(b, p->pid);
	if (!p->ppid || p->ppid == p->pid)
		return false;
	const struct rf_proc *pp = rf_proctable_get(&b->procs, p->ppid, true);
	return pp && pp->ppid == self && !is_client_pid(b, pp->pid);
}

bool rf_default_muted(struct rf_broker *b, const struct rf_proc *p)
{
	if (p->pid == (uint32_t)b->self || p->pid == 1)
		return true;
	if (is_client_pid(b, p->pid) || is_broker_helper(b, p))
		return true;
	if (!p->exe)
		return false;
	for (size_t i = 0; i < sizeof default_mute_exe / sizeof *default_mute_exe; i++)
		if (!strcmp(p->exe, default_mute_exe[i]))
			return true;
	for (unsigned i = 0; i < b->cfg.nmute_exe; i++)
		if (has_prefix(p->exe, b->cfg.mute_exe[i], strlen(b->cfg.mute_exe[i])))
			return true;
	return false;
}

const char *rf_msg_target_path(const struct rf_message *m)
{
	switch (m->hdr.type) {
	case RF_EVENT_EXEC:
	case RF_EVENT_MEMFD_EXEC:
		return rf_msg_str(m, m->ev.exec.target.path);
	case RF_EVENT_OPEN:
		return rf_msg_str(m, m->ev.open.target.path);
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		return rf_msg_str(m, m->ev.file.target.path);
	default:
		return NULL;
	}
}

static bool path_matches(const struct rf_bclient *c, unsigned kind, const char *path)
{
	for (unsigned i = 0; i < c->ntmutes; i++) {
		const struct rf_path_mute *pm = &c->tmutes[i];
		if (!(pm->flags & kind))
			continue;
		if ((pm->flags & RF_MUTE_PREFIX) ? !strncmp(path, pm->path, pm->len) : !strcmp(path, pm->path))
			return true;
	}
	return false;
}

bool rf_client_muted(const struct rf_bclient *c, const struct rf_message *m)
{
	for (unsigned i = 0; i < c->npmutes; i++)
		if (c->pmutes[i].pid == m->process.pid &&
		    (!c->pmutes[i].start_time_ns || c->pmutes[i].start_time_ns == m->process.start_time_ns))
			return true;
	if (c->ntmutes == 0 && !c->invert_exe && !c->invert_target)
		return false;
	const char *exe = rf_msg_str(m, m->process.exe.path);
	if (path_matches(c, RF_MUTE_EXE, exe) != c->invert_exe)
		return true;
	const char *t = rf_msg_target_path(m);
	if (t && path_matches(c, RF_MUTE_TARGET, t) != c->invert_target)
		return true;
	return false;
}

/* ---- dispatch ---- */

void rf_dispatch_notify(struct rf_broker *b)
{
	struct rf_message *m = &b->mb.u.msg;
	uint64_t bit = 1ull << m->hdr.type;
	b->stats.events++;
	m->hdr.seq = ++b->seq;
	m->hdr.type_seq = ++b->type_seq[m->hdr.type];
	rf_ops_tail(b, m);
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (!c->shm || !(c->notify_mask & bit))
			continue;
		/* a client's own activity is not fed back to it */
		if (c->pid > 0 && m->process.pid == (uint32_t)c->pid)
			continue;
		if (rf_client_muted(c, m))
			continue;
		rf_client_push(b, c, 0);
		b->stats.dispatched++;
	}
}

static void fill_file(struct rf_msgb *mb, struct rf_file *f, const char *path)
{
	if (rf_msgb_field_str(mb, RF_CUT_TARGET, &f->path, path))
		f->flags |= RF_FILE_F_PATH_CUT;
}

/*
 * The event's own paths go into the tail before the process's strings, so
 * that no cwd or argument vector can push them out (a path is at most
 * RF_PATH_MAX, less than the tail).
 */
static void fill_targets(struct rf_msgb *mb, const struct rf_raw_event *ev, bool have_proc)
{
	struct rf_message *m = &mb->u.msg;
	switch (ev->type) {
	case RF_EVENT_EXEC:
		if (!have_proc)
			fill_file(mb, &m->ev.exec.target, ev->u.exec.filename);
		break;
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		fill_file(mb, &m->ev.file.target, ev->u.file.path);
		rf_msgb_field_str(mb, RF_CUT_DEST, &m->ev.file.dest, ev->u.file.dest);
		break;
	default:
		break;
	}
}

/* The normaliser: sink of every sensor. */
static void on_raw_event(void *ctx, const struct rf_raw_event *ev)
{
	struct rf_broker *b = ctx;
	if (ev->pid == (uint32_t)b->self || ev->type == RF_EVENT_NONE || ev->type >= RF_EVENT_MAX)
		return;
	struct rf_proc *p = rf_proctable_apply(&b->procs, ev);
	struct rf_msgb *mb = &b->mb;
	rf_msgb_init(mb, ev->type, RF_ACTION_NOTIFY);
	struct rf_message *m = &mb->u.msg;
	rf_stamp(m);
	fill_targets(mb, ev, p != NULL);
	if (p)
		rf_proctable_fill(&b->procs, mb, p);
	else
		m->process.pid = ev->pid;
	m->process.tid = ev->tid ? ev->tid : ev->pid;

	switch (ev->type) {
	case RF_EVENT_EXEC:
		if (p) {
			m->ev.exec.target.path = m->process.exe.path;
			m->ev.exec.target.dev = p->exe_dev;
			m->ev.exec.target.ino = p->exe_ino;
			m->ev.exec.target.ctime_ns = p->exe_ctime_ns;
			m->ev.exec.target.mode = p->exe_mode;
			m->ev.exec.args = m->process.args;
			m->ev.exec.argc = m->process.argc;
			/* the same strings: cut there is cut here */
			m->ev.exec.target.flags |= m->process.exe.flags & (RF_FILE_F_PATH_CUT | RF_FILE_F_PATH_UNKNOWN);
			if (m->process.flags & RF_PROC_F_EXE_CUT)
				m->hdr.cut |= RF_CUT_TARGET;
		}
		m->ev.exec.flags = ev->u.exec.memfd ? RF_EXEC_F_MEMFD : 0;
		if (m->process.flags & RF_PROC_F_ARGS_CUT)
			m->ev.exec.flags |= RF_EXEC_F_ARGS_CUT;
		break;
	case RF_EVENT_FORK:
		m->ev.fork.child_pid = ev->u.fork.child_pid;
		m->ev.fork.child_start_time_ns = ev->u.fork.child_start_time_ns;
		if (!m->ev.fork.child_start_time_ns) {
			struct rf_proc *c = rf_proctable_get(&b->procs, ev->u.fork.child_pid, false);
			m->ev.fork.child_start_time_ns = c ? c->start_time_ns : 0;
		}
		break;
	case RF_EVENT_EXIT:
		m->ev.exit.status = ev->u.exit.status;
		break;
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME:
		m->ev.file.is_dir = ev->u.file.is_dir;
		break;
	case RF_EVENT_CONNECT:
	case RF_EVENT_ACCEPT:
	case RF_EVENT_LISTEN:
		m->ev.net.family = ev->u.net.family;
		m->ev.net.proto = ev->u.net.proto;
		m->ev.net.sport = ev->u.net.sport;
		m->ev.net.dport = ev->u.net.dport;
		memcpy(m->ev.net.saddr, ev->u.net.saddr, 16);
		memcpy(m->ev.net.daddr, ev->u.net.daddr, 16);
		break;
	case RF_EVENT_SETUID:
	case RF_EVENT_SETGID:
		m->ev.cred.syscall_nr = ev->u.cred.syscall_nr;
		m->ev.cred.retval = ev->u.cred.retval;
		memcpy(m->ev.cred.old_id, ev->u.cred.old_id, sizeof m->ev.cred.old_id);
		memcpy(m->ev.cred.new_id, ev->u.cred.new_id, sizeof m->ev.cred.new_id);
		break;
	case RF_EVENT_PTRACE: {
		m->ev.ptrace.request = ev->u.ptrace.request;
		m->ev.ptrace.target_pid = ev->u.ptrace.target_pid;
		struct rf_proc *t = rf_proctable_get(&b->procs, ev->u.ptrace.target_pid, true);
		m->ev.ptrace.target_start_time_ns = t ? t->start_time_ns : 0;
		break;
	}
	case RF_EVENT_KMOD_LOAD:
		m->ev.kmod.name = rf_msgb_str(mb, ev->u.kmod.name);
		break;
	case RF_EVENT_BPF_LOAD:
		m->ev.bpf.cmd = ev->u.bpf.cmd;
		m->ev.bpf.prog_type = ev->u.bpf.prog_type;
		m->ev.bpf.name = rf_msgb_str(mb, ev->u.bpf.name);
		break;
	default:
		break;
	}
	rf_msgb_finish(mb);
	rf_count_cut(b, m);
	rf_dispatch_notify(b);
	if (ev->type == RF_EVENT_EXEC && ev->u.exec.memfd) {
		/* the same exec once more under its own type, for rules that only want these */
		m->hdr.type = RF_EVENT_MEMFD_EXEC;
		rf_dispatch_notify(b);
	}
	if (ev->type == RF_EVENT_EXIT)
		rf_proctable_remove(&b->procs, ev->pid);
}

/* ---- watch scope ---- */

static const char *const local_fs[] = { "ext2", "ext3", "ext4", "xfs", "btrfs", "f2fs", "vfat", "exfat",
					 "jfs", "reiserfs", "zfs", "bcachefs", "tmpfs", "overlay", NULL };

static int add_watch(struct rf_broker *b, const char *path, dev_t *seen, unsigned *nseen)
{
	if (b->nwatch_fds >= RF_MAX_WATCH)
		return -ENOSPC;
	/* not O_PATH: fanotify_mark() refuses such descriptors */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_DIRECTORY);
	if (fd < 0)
		return -errno;
	struct stat st;
	struct statfs sfs;
	if (fstat(fd, &st) < 0 || fstatfs(fd, &sfs) < 0) {
		int e = -errno;
		close(fd);
		return e;
	}
	for (unsigned i = 0; i < *nseen; i++)
		if (seen[i] == st.st_dev) {
			close(fd);
			return 0;
		}
	seen[(*nseen)++] = st.st_dev;
	b->watch_fds[b->nwatch_fds] = fd;
	memcpy(&b->watch_fsid[b->nwatch_fds], &sfs.f_fsid, sizeof b->watch_fsid[0]);
	b->nwatch_fds++;
	return 0;
}

static int setup_watch(struct rf_broker *b)
{
	dev_t seen[RF_MAX_WATCH];
	unsigned nseen = 0;
	if (b->cfg.nwatch) {
		for (unsigned i = 0; i < b->cfg.nwatch; i++) {
			int r = add_watch(b, b->cfg.watch[i], seen, &nseen);
			if (r < 0) {
				errno = -r;
				rf_warn("watch %s", b->cfg.watch[i]);
				return r;
			}
			rf_info("watching the filesystem of %s", b->cfg.watch[i]);
		}
		return 0;
	}
	FILE *f = setmntent("/proc/self/mounts", "re");
	if (!f)
		return -errno;
	for (struct mntent *me; (me = getmntent(f));) {
		bool local = false;
		for (int i = 0; local_fs[i]; i++)
			local |= !strcmp(me->mnt_type, local_fs[i]);
		/* pseudo and sandbox mounts are not where programs live */
		if (!local || !strncmp(me->mnt_dir, "/sys", 4) || !strncmp(me->mnt_dir, "/proc", 5) ||
		    !strncmp(me->mnt_dir, "/mnt/sandboxing", 15) || hasmntopt(me, "ro"))
			continue;
		if (add_watch(b, me->mnt_dir, seen, &nseen) == 0)
			rf_debug("watching %s (%s)", me->mnt_dir, me->mnt_type);
	}
	endmntent(f);
	rf_info("watching %u local filesystems", b->nwatch_fds);
	return b->nwatch_fds ? 0 : -ENOENT;
}

/* ---- sensors ---- */

static struct rf_sensor *add_sensor(struct rf_broker *b, const struct rf_sensor_ops *ops)
{
	struct rf_sensor *s = &b->sensors[b->nsensors];
	memset(s, 0, sizeof *s);
	s->ops = ops;
	s->fd = -1;
	s->sink = on_raw_event;
	s->sink_ctx = b;
	return s;
}

static int start_sensor(struct rf_broker *b, struct rf_sensor *s)
{
	int r = s->ops->start(s);
	if (r < 0) {
		rf_warnx("sensor %s: not started: %s", s->ops->name, strerror(-r));
		s->ops->stop(s);
		return r;
	}
	if (epoll_add_events(b, s->fd, s->edge ? EPOLLIN | EPOLLET : EPOLLIN, RF_TAG_SENSOR, b->nsensors) < 0) {
		rf_warn("sensor %s: epoll", s->ops->name);
		s->ops->stop(s);
		return -errno;
	}
	s->running = true;
	b->nsensors++;
	rf_info("sensor %s: running%s%s", s->ops->name, s->detail ? ", " : "", s->detail ? s->detail : "");
	return 0;
}

static void start_sensors(struct rf_broker *b)
{
	if (b->cfg.ebpf) {
		struct rf_sensor *s = add_sensor(b, &rf_sensor_ebpf);
		s->batch_us = b->cfg.ebpf_batch_ms * 1000;
		if (start_sensor(b, s) == 0)
			b->ebpf = s;
	}
	if (!b->ebpf && b->cfg.proc_connector) {
		struct rf_sensor *s = add_sensor(b, &rf_sensor_proc_connector);
		if (start_sensor(b, s) == 0)
			rf_warnx("eBPF sensor unavailable: process events from the proc connector "
				 "(fork, exec, exit, uid/gid only)");
	}
	if (b->cfg.file_events) {
		struct rf_sensor *s = add_sensor(b, &rf_sensor_fanotify);
		rf_fanotify_sensor_bind(s, b);
		start_sensor(b, s);
	}
	/* the replay source starts from the tick, once the clients are ready */
	b->replay_pending = b->cfg.replay[0] != '\0';
	char line[256] = "";
	for (unsigned i = 0; i < b->nsensors; i++) {
		strncat(line, i ? ", " : "", sizeof line - strlen(line) - 1);
		strncat(line, b->sensors[i].ops->name, sizeof line - strlen(line) - 1);
	}
	rf_info("sensors running: %s", b->nsensors ? line : "none");
}

/* ---- life cycle ---- */

int rf_mkdir_p(const char *path, mode_t mode)
{
	char tmp[PATH_MAX];
	snprintf(tmp, sizeof tmp, "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, mode) < 0 && errno != EEXIST)
		return -errno;
	return chmod(tmp, mode) < 0 ? -errno : 0;
}

int rf_broker_init(struct rf_broker *b, const struct rf_config *cfg)
{
	memset(b, 0, sizeof *b);
	b->cfg = *cfg;
	b->self = getpid();
	b->started_ms = rf_now_ms();
	b->epfd = b->sigfd = b->timerfd = b->tickfd = b->fan_auth = b->fan_notify = b->ops_listen = -1;
	int r;

	b->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (b->epfd < 0)
		return -errno;
	sigset_t set;
	rf_broker_signals(&set);
	sigprocmask(SIG_BLOCK, &set, NULL);   /* main() did so before any thread; harmless again */
	signal(SIGPIPE, SIG_IGN);
	b->sigfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
	b->tickfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (b->sigfd < 0 || b->tickfd < 0)
		return -errno;
	struct itimerspec its = { .it_interval = { 0, TICK_MS * 1000000L }, .it_value = { 0, 1000000L } };
	timerfd_settime(b->tickfd, 0, &its, NULL);
	if (rf_epoll_add(b, b->sigfd, RF_TAG_SIGNAL, 0) < 0 || rf_epoll_add(b, b->tickfd, RF_TAG_TICK, 0) < 0)
		return -errno;

	if ((r = rf_mkdir_p(b->cfg.state_dir, 0700)) < 0) {
		rf_warnx("state directory %s: %s", b->cfg.state_dir, strerror(-r));
		return r;
	}
	rf_mount_kernel_fs();
	/*
	 * client cgroups are per instance: named after a hash of the state
	 * directory and the mount namespace it lives in (two brokers with the
	 * same path in two namespaces, as tests run, must not share cgroups)
	 */
	uint32_t h = 2166136261u;
	for (const char *p = b->cfg.state_dir; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	struct stat mnt;
	if (stat("/proc/self/ns/mnt", &mnt) == 0)
		for (int i = 0; i < 8; i++)
			h = (h ^ (uint8_t)((uint64_t)mnt.st_ino >> (8 * i))) * 16777619u;
	char inst[16];
	snprintf(inst, sizeof inst, "%08x", h);
	rf_sandbox_set_instance(inst);
	if ((r = rf_proctable_init(&b->procs, 1u << 20)) < 0)
		return r;
	r = rf_proctable_seed(&b->procs);
	rf_info("process table: %d processes from /proc", r < 0 ? 0 : r);
	if ((r = setup_watch(b)) < 0) {
		rf_warnx("no filesystem to watch: %s", strerror(-r));
		return r;
	}
	if ((r = rf_arbiter_init(b)) < 0) {
		rf_warnx("fanotify permission group: %s", strerror(-r));
		return r;
	}
	if ((r = rf_ops_init(b)) < 0) {
		rf_warnx("control socket in %s: %s", b->cfg.state_dir, strerror(-r));
		return r;
	}
	start_sensors(b);
	/* manifests and the content store are read before any permission mark exists */
	rf_clients_load(b);
	if ((r = rf_content_init(b)) < 0)
		rf_warnx("managed content: %s: clients with managed content will not start", strerror(-r));
	return 0;
}

static void reap(struct rf_broker *b)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0)
		rf_client_on_exit(b, pid, status);
}

static void on_signal(struct rf_broker *b)
{
	struct signalfd_siginfo si;
	while (read(b->sigfd, &si, sizeof si) == sizeof si) {
		if (si.ssi_signo == SIGCHLD) {
			reap(b);
		} else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
			if (!b->stopping)
				rf_info("signal %u: stopping", si.ssi_signo);
			b->stopping = true;
		}
	}
}

/*
 * A recording is played once every client has said it is ready (or after
 * REPLAY_WAIT_MS), so that tests and benchmarks see every event arrive.
 */
#define REPLAY_WAIT_MS 10000

static void maybe_start_replay(struct rf_broker *b)
{
	bool ready = true;
	for (unsigned i = 0; i < b->nclients; i++)
		ready &= b->clients[i].state == RF_CS_RUNNING;
	if (!ready && rf_now_ms() - b->started_ms < REPLAY_WAIT_MS)
		return;
	b->replay_pending = false;
	if (b->nsensors >= RF_MAX_SENSORS)
		return;
	struct rf_sensor *s = add_sensor(b, &rf_sensor_replay);
	rf_replay_sensor_bind(s, b);
	start_sensor(b, s);
}

static void on_tick(struct rf_broker *b)
{
	uint64_t v;
	if (read(b->tickfd, &v, sizeof v) < 0 && errno != EAGAIN)
		return;
	reap(b);   /* SIGCHLD coalesces; a missed one must not leave a client dead */
	rf_sv_tick(b);
	rf_budget_tick(b);
	rf_content_tick(b);
	rf_ops_tick(b);
	/* the service manager's watchdog: the loop is turning */
	if (b->watchdog_usec && rf_now_mono_ns() / 1000 - b->watchdog_last_usec >= b->watchdog_usec / 2) {
		sd_notify(0, "WATCHDOG=1");
		b->watchdog_last_usec = rf_now_mono_ns() / 1000;
	}
	if (b->replay_pending)
		maybe_start_replay(b);
}

static void drain_sensor(struct rf_broker *b, struct rf_sensor *s)
{
	if (!s->running)
		return;
	int r = s->ops->drain(s);
	if (r < 0 && r != -EAGAIN) {
		rf_warnx("sensor %s failed: %s; stopped", s->ops->name, strerror(-r));
		rf_epoll_del(b, s->fd);
		s->running = false;
		s->next_drain_ns = 0;
	}
}

/*
 * Sensors that asked to be drained by a time (the eBPF sensor batching its
 * wake-ups under load, or collecting a record left without one): drains
 * those that are due and returns the nanoseconds until the next one is, or
 * -1 for none.
 */
static int64_t drain_due_sensors(struct rf_broker *b)
{
	uint64_t now = rf_now_mono_ns();
	int64_t next = -1;
	for (unsigned i = 0; i < b->nsensors; i++) {
		struct rf_sensor *s = &b->sensors[i];
		if (!s->running || !s->next_drain_ns)
			continue;
		if (s->next_drain_ns <= now) {
			drain_sensor(b, s);
			now = rf_now_mono_ns();
			if (!s->running || !s->next_drain_ns)
				continue;
		}
		int64_t left = s->next_drain_ns > now ? (int64_t)(s->next_drain_ns - now) : 0;
		if (next < 0 || left < next)
			next = left;
	}
	return next;
}

/*
 * Records of what a process did before a permission event or a file event
 * (its fork, its exec, its connect) can still sit in the eBPF ring: while
 * batching, or because the ring's wake-up came in the same epoll batch as
 * the event, which is handled first.  Take them first, so the process table
 * is current for the event (two loads on an empty ring; at most
 * EBPF_DRAIN_MAX records).
 */
static void catch_up_sensors(struct rf_broker *b)
{
	if (b->ebpf)
		drain_sensor(b, b->ebpf);
}

static void handle(struct rf_broker *b, uint64_t tag)
{
	uint32_t kind = (uint32_t)(tag >> 32), idx = (uint32_t)tag;
	switch (kind) {
	case RF_TAG_SIGNAL: on_signal(b); break;
	case RF_TAG_TIMER: rf_arbiter_on_timer(b); break;
	case RF_TAG_TICK: on_tick(b); break;
	case RF_TAG_FAN_AUTH: rf_arbiter_on_fanotify(b); break;
	case RF_TAG_SENSOR:
		if (idx < b->nsensors) {
			if (&b->sensors[idx] != b->ebpf)
				catch_up_sensors(b);   /* file events name a process: see its fork first */
			drain_sensor(b, &b->sensors[idx]);
		}
		break;
	case RF_TAG_CLIENT_SOCK:
		if (idx < b->nclients && b->clients[idx].sock >= 0) {
			uint64_t t0 = rf_budget_now();
			rf_client_on_sock(b, &b->clients[idx]);
			rf_budget_charge(&b->clients[idx], t0);
		}
		break;
	case RF_TAG_CLIENT_RESP:
		if (idx < b->nclients && b->clients[idx].resp_efd >= 0) {
			uint64_t t0 = rf_budget_now();
			rf_client_on_resp(b, &b->clients[idx]);
			rf_budget_charge(&b->clients[idx], t0);
		}
		break;
	case RF_TAG_CLIENT_SETUP:
		if (idx < b->nclients && b->clients[idx].setup_fd >= 0)
			rf_client_on_setup(b, &b->clients[idx]);
		break;
	case RF_TAG_CLIENT_NOTIFY:
		if (idx < b->nclients && b->clients[idx].notify_fd >= 0) {
			uint64_t t0 = rf_budget_now();
			rf_client_on_notify(b, &b->clients[idx]);
			rf_budget_charge(&b->clients[idx], t0);
		}
		break;
	case RF_TAG_CONTENT: rf_content_on_done(b); break;
	case RF_TAG_OPS_LISTEN: rf_ops_on_listen(b); break;
	case RF_TAG_OPS_CONN:
		if (idx < RF_MAX_OPS_CONNS && b->ops[idx].fd >= 0)
			rf_ops_on_conn(b, idx);
		break;
	}
}

/* epoll_pwait2 (Linux 5.11) for a timeout finer than a millisecond. */
static int wait_events(struct rf_broker *b, struct epoll_event *evs, int max, const struct timespec *timeout)
{
	static bool no_pwait2;
	if (!no_pwait2) {
		int n = epoll_pwait2(b->epfd, evs, max, timeout, NULL);
		if (n >= 0 || (errno != ENOSYS && errno != EPERM))
			return n;   /* EPERM: a seccomp profile that does not know it */
		no_pwait2 = true;
	}
	int ms = -1;
	if (timeout)
		ms = (int)(timeout->tv_sec * 1000 + (timeout->tv_nsec + 999999) / 1000000);
	return epoll_wait(b->epfd, evs, max, ms);
}

int rf_broker_run(struct rf_broker *b)
{
	struct epoll_event evs[64];
	rf_info("ringfenced running, pid %d, control socket %s/control.sock", b->self, b->cfg.state_dir);
	/* Type=notify: ready once the kernel interfaces and the control socket are up */
	uint64_t wd = 0;
	if (sd_watchdog_enabled(0, &wd) > 0)
		b->watchdog_usec = wd;
	sd_notifyf(0, "READY=1\nSTATUS=%u sensors, %u clients\nMAINPID=%d", b->nsensors, b->nclients,
		   (int)b->self);
	while (!b->stopping) {
		/* responses that came while we were busy are handled without sleeping */
		bool ready = rf_clients_prepare_sleep(b);
		rf_arbiter_retry_backlog(b);
		int64_t due = drain_due_sensors(b);
		/* AUTH events waiting for ring room: look again within a millisecond */
		if (rf_arbiter_backlog(b) && (due < 0 || due > 1000000))
			due = 1000000;
		rf_clients_flush(b);
		struct timespec ts = { 0, 0 }, *timeout = &ts;
		if (!ready && due < 0)
			timeout = NULL;
		else if (!ready)
			ts = (struct timespec){ (time_t)(due / 1000000000), (long)(due % 1000000000) };
		int n = wait_events(b, evs, 64, timeout);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			rf_warn("epoll_wait");
			return -errno;
		}
		/* permission events first: a process is waiting on each */
		bool caught_up = false;
		for (int i = 0; i < n; i++)
			if ((evs[i].data.u64 >> 32) == RF_TAG_FAN_AUTH) {
				if (!caught_up)
					catch_up_sensors(b);
				caught_up = true;
				handle(b, evs[i].data.u64);
			}
		for (int i = 0; i < n; i++)
			if ((evs[i].data.u64 >> 32) != RF_TAG_FAN_AUTH)
				handle(b, evs[i].data.u64);
		rf_clients_flush(b);
	}
	return 0;
}

void rf_broker_free(struct rf_broker *b)
{
	b->stopping = true;
	sd_notify(0, "STOPPING=1");
	rf_arbiter_drain_all(b);
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (c->pid > 0)
			kill(c->pid, SIGTERM);   /* a chance to exit cleanly; SIGKILL below */
		c->state = RF_CS_STOPPED;
	}
	/* the permission group goes first, so nothing can wait on a dying broker */
	rf_arbiter_free(b);
	rf_content_fini(b);   /* waits for the job in hand (a save is never cut short) */
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (c->pid <= 0)
			continue;
		for (int t = 0; t < 100 && waitpid(c->pid, NULL, WNOHANG) == 0; t++)
			usleep(10000);
		kill(c->pid, SIGKILL);
		waitpid(c->pid, NULL, 0);
		c->pid = 0;
		rf_client_kill(b, c, NULL);
		rf_sandbox_release_client(b, c);
	}
	for (unsigned i = 0; i < b->nclients; i++) {
		for (int q = 0; q < 2; q++) {
			free(b->clients[i].authq[q].ids);
			free(b->clients[i].authq[q].deadline_ns);
		}
		free(b->clients[i].sandbox);
		free(b->clients[i].cs);
	}
	for (unsigned i = 0; i < b->nsensors; i++)
		if (b->sensors[i].ops)
			b->sensors[i].ops->stop(&b->sensors[i]);
	rf_ops_free(b);
	for (unsigned i = 0; i < b->nwatch_fds; i++)
		close(b->watch_fds[i]);
	rf_proctable_free(&b->procs);
	if (b->sigfd >= 0)
		close(b->sigfd);
	if (b->tickfd >= 0)
		close(b->tickfd);
	if (b->epfd >= 0)
		close(b->epfd);
}
