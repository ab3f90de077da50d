/*
 * test_sensors.c - the kernel sensors (eBPF, proc connector) on the running
 * kernel: start each one, make a child do the things the sensor reports,
 * drain for a bounded time and check what came out.
 *
 * Needs root (and, for eBPF, a kernel with BPF, BTF and the tracepoints);
 * skips with a reason otherwise.  The pending-argv test places a fanotify
 * exec permission mark on one file of a tmpfs mounted over /tmp in a
 * private mount namespace of a child process that an alarm kills after
 * 10 s, so nothing outside the test can ever wait on it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <arpa/inet.h>
#include <linux/bpf.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/ptrace.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "broker/sensor.h"

#define TS_SEEN_MAX 256
#define TS_WATCH_MAX 16
#define TS_WAIT_MS 3000
#define TS_ARG "rf-sensor-test-arg"
#define TS_CWD "/dev/shm"            /* B's working directory: a tmpfs on a devtmpfs on / */
#define TS_PENDING_ARG "rf-pending-arg"

/* A copy of what the sink was given (its strings die with the call). */
struct ts_seen {
	uint16_t type;
	uint32_t pid, tid, ppid;
	uint64_t start_time_ns;
	bool has_creds;
	uint32_t uid;
	char comm[17];
	uint32_t child_pid;
	uint64_t child_start_time_ns;
	int32_t status;
	uint64_t dev, ino;
	bool memfd;
	char filename[256];
	char exe_path[256];          /* resolved by the sensor; "" when it did not */
	char cwd[256];
	uint32_t mode;
	int64_t ctime_ns;
	char args[512];
	uint32_t args_len, argc;
	uint16_t family, sport, dport;
	uint8_t saddr[16], daddr[16];
	uint32_t syscall_nr;
	int32_t retval;
	uint32_t new_id[4];
	uint32_t request, target_pid, prog_type;
};

static struct {
	pid_t watch[TS_WATCH_MAX];   /* events of these pids and their children */
	unsigned int nwatch;
	struct ts_seen seen[TS_SEEN_MAX];
	unsigned int nseen, overflow;
} ts;

/* What the workload child reports back over a pipe. */
struct ts_report {
	pid_t b;                     /* the grandchild that ran /bin/true */
	int b_status;
	pid_t m;                     /* the grandchild that ran /bin/true from a memfd */
	int m_status;
	unsigned long long b_start_ticks;  /* /proc/B/stat field 22 */
	uint16_t listen_port;
	uint16_t client_port;
	int net_ok;                  /* listen, connect, accept, setuid, setgid all worked */
	int v6_ok;                   /* an IPv6 connect to ::1 was made */
	uint16_t v6_port;
	pid_t poke_target;           /* PTRACE_POKEDATA sent (and refused) to it */
	int bpf_errno;               /* of the BPF_PROG_LOAD that must fail */
};

static void ts_reset(pid_t watch)
{
	memset(&ts, 0, sizeof(ts));
	ts.watch[0] = watch;
	ts.nwatch = 1;
}

static bool ts_watched(uint32_t pid)
{
	for (unsigned int i = 0; i < ts.nwatch; i++)
		if (pid != 0 && (uint32_t)ts.watch[i] == pid)
			return true;
	return false;
}

static void ts_sink(void *ctx, const struct rf_raw_event *ev)
{
	struct ts_seen *x;

	(void)ctx;
	if (!ts_watched(ev->pid) && !ts_watched(ev->ppid))
		return;
	if (ev->type == RF_EVENT_FORK && ts.nwatch < TS_WATCH_MAX)
		ts.watch[ts.nwatch++] = (pid_t)ev->u.fork.child_pid;
	if (ts.nseen == TS_SEEN_MAX) {
		ts.overflow++;
		return;
	}
	x = &ts.seen[ts.nseen++];
	memset(x, 0, sizeof(*x));
	x->type = ev->type;
	x->pid = ev->pid;
	x->tid = ev->tid;
	x->ppid = ev->ppid;
	x->start_time_ns = ev->start_time_ns;
	x->has_creds = ev->has_creds;
	x->uid = ev->uid;
	if (ev->comm)
		snprintf(x->comm, sizeof(x->comm), "%s", ev->comm);
	switch (ev->type) {
	case RF_EVENT_FORK:
		x->child_pid = ev->u.fork.child_pid;
		x->child_start_time_ns = ev->u.fork.child_start_time_ns;
		break;
	case RF_EVENT_EXEC:
		if (ev->u.exec.filename)
			snprintf(x->filename, sizeof(x->filename), "%s", ev->u.exec.filename);
		if (ev->u.exec.args) {
			x->args_len = ev->u.exec.args_len < sizeof(x->args) ? ev->u.exec.args_len
									: (uint32_t)sizeof(x->args);
			memcpy(x->args, ev->u.exec.args, x->args_len);
		}
		x->argc = ev->u.exec.argc;
		if (ev->u.exec.exe_path)
			snprintf(x->exe_path, sizeof(x->exe_path), "%s", ev->u.exec.exe_path);
		if (ev->u.exec.cwd)
			snprintf(x->cwd, sizeof(x->cwd), "%s", ev->u.exec.cwd);
		x->mode = ev->u.exec.mode;
		x->ctime_ns = ev->u.exec.ctime_ns;
		x->dev = ev->u.exec.dev;
		x->ino = ev->u.exec.ino;
		x->memfd = ev->u.exec.memfd;
		break;
	case RF_EVENT_EXIT:
		x->status = ev->u.exit.status;
		break;
	case RF_EVENT_CONNECT:
	case RF_EVENT_ACCEPT:
	case RF_EVENT_LISTEN:
		x->family = ev->u.net.family;
		x->sport = ev->u.net.sport;
		x->dport = ev->u.net.dport;
		memcpy(x->saddr, ev->u.net.saddr, sizeof(x->saddr));
		memcpy(x->daddr, ev->u.net.daddr, sizeof(x->daddr));
		break;
	case RF_EVENT_PTRACE:
		x->request = ev->u.ptrace.request;
		x->target_pid = ev->u.ptrace.target_pid;
		break;
	case RF_EVENT_BPF_LOAD:
		x->prog_type = ev->u.bpf.prog_type;
		if (ev->u.bpf.name)
			snprintf(x->filename, sizeof(x->filename), "%s", ev->u.bpf.name);
		break;
	case RF_EVENT_SETUID:
	case RF_EVENT_SETGID:
		x->syscall_nr = ev->u.cred.syscall_nr;
		x->retval = ev->u.cred.retval;
		memcpy(x->new_id, ev->u.cred.new_id, sizeof(x->new_id));
		break;
	default:
		break;
	}
}

static const struct ts_seen *ts_find_net(uint16_t type, uint32_t pid, uint16_t family)
{
	for (unsigned int i = 0; i < ts.nseen; i++)
		if (ts.seen[i].type == type && ts.seen[i].pid == pid && ts.seen[i].family == family)
			return &ts.seen[i];
	return NULL;
}

static const struct ts_seen *ts_find(uint16_t type, uint32_t pid)
{
	for (unsigned int i = 0; i < ts.nseen; i++)
		if (ts.seen[i].type == type && ts.seen[i].pid == pid)
			return &ts.seen[i];
	return NULL;
}

/* Is the string s one of the NUL-separated strings in args[0..len)? */
static bool ts_has_arg(const char *args, uint32_t len, const char *s)
{
	uint32_t i = 0;

	while (i < len) {
		size_t n = strnlen(args + i, len - i);
		if (n == strlen(s) && memcmp(args + i, s, n) == 0)
			return true;
		i += (uint32_t)n + 1;
	}
	return false;
}

static uint64_t ts_now_ms(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000u + (uint64_t)t.tv_nsec / 1000000u;
}

static unsigned long long ts_stat_start_ticks(pid_t pid)
{
	char path[64], buf[1024], *p;
	ssize_t n;
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = '\0';
	p = strrchr(buf, ')');   /* comm may hold spaces and parentheses */
	if (!p || p[1] != ' ')
		return 0;
	p += 2;                  /* field 3 */
	for (int field = 3; field < 22; field++) {
		p = strchr(p, ' ');
		if (!p)
			return 0;
		p++;
	}
	return strtoull(p, NULL, 10);
}

static bool ts_read_full(int fd, void *buf, size_t len, int timeout_ms)
{
	size_t got = 0;
	uint64_t end = ts_now_ms() + (uint64_t)timeout_ms;

	while (got < len) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		uint64_t now = ts_now_ms();
		ssize_t n;

		if (now >= end || poll(&pfd, 1, (int)(end - now)) <= 0)
			return false;
		n = read(fd, (char *)buf + got, len - got);
		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

static int ts_write_file(const char *path, const void *data, size_t len, mode_t mode)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	int r = 0;

	if (fd < 0)
		return -1;
	if (write(fd, data, len) != (ssize_t)len)
		r = -1;
	close(fd);
	return r;
}

/* Copies a small file (< 4 MiB) to an open descriptor. */
static int ts_copy_to_fd(const char *from, int out)
{
	static char buf[4 << 20];
	int in = open(from, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (in < 0)
		return -1;
	n = read(in, buf, sizeof(buf));
	close(in);
	if (n <= 0 || (size_t)n == sizeof(buf))
		return -1;
	return write(out, buf, (size_t)n) == n ? 0 : -1;
}

static int ts_copy_file(const char *from, const char *to)
{
	int out = open(to, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
	int r;

	if (out < 0)
		return -1;
	r = ts_copy_to_fd(from, out);
	close(out);
	return r;
}

/* An IPv6 loopback connect, when the host has IPv6. */
static void ts_v6_connect(struct ts_report *rep)
{
	struct sockaddr_in6 sin6 = { .sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT };
	socklen_t sl = sizeof(sin6);
	int l = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (l >= 0 && c >= 0 && bind(l, (struct sockaddr *)&sin6, sizeof(sin6)) == 0 &&
	    listen(l, 1) == 0 && getsockname(l, (struct sockaddr *)&sin6, &sl) == 0 &&
	    connect(c, (struct sockaddr *)&sin6, sizeof(sin6)) == 0) {
		rep->v6_ok = 1;
		rep->v6_port = ntohs(sin6.sin6_port);
	}
	if (l >= 0)
		close(l);
	if (c >= 0)
		close(c);
}

/*
 * Two calls the kernel sensor reports at entry and the kernel refuses:
 * PTRACE_POKEDATA to a process we do not trace (ESRCH), and a BPF_PROG_LOAD
 * with no instructions (E2BIG).
 */
static void ts_kernel_ops(struct ts_report *rep)
{
	union bpf_attr attr;

	rep->poke_target = getppid();
	(void)syscall(SYS_ptrace, PTRACE_POKEDATA, (long)rep->poke_target, 0L, 0L);
	memset(&attr, 0, sizeof(attr));
	attr.prog_type = BPF_PROG_TYPE_SOCKET_FILTER;
	snprintf(attr.prog_name, sizeof(attr.prog_name), "rf_sensor_test");
	rep->bpf_errno = syscall(SYS_bpf, BPF_PROG_LOAD, &attr, sizeof(attr)) < 0 ? errno : 0;
}

/*
 * Child A: with net, listens on 127.0.0.1, connects to itself, accepts,
 * calls setuid(0) (a no-op as root); then forks B, which runs
 * /bin/true TS_ARG; reads B's start time while B is a zombie; reports.
 */
static void __attribute__((noreturn)) ts_child_a(int go_fd, int rep_fd, bool net)
{
	struct ts_report rep;
	char c;

	memset(&rep, 0, sizeof(rep));
	if (read(go_fd, &c, 1) != 1)
		_exit(2);
	if (net) {
		struct sockaddr_in sin = { .sin_family = AF_INET };
		socklen_t sl = sizeof(sin);
		int l, cl, a;

		sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		cl = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		if (l >= 0 && cl >= 0 && bind(l, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
		    listen(l, 4) == 0 && getsockname(l, (struct sockaddr *)&sin, &sl) == 0) {
			rep.listen_port = ntohs(sin.sin_port);
			if (connect(cl, (struct sockaddr *)&sin, sizeof(sin)) == 0) {
				a = accept(l, NULL, NULL);
				sl = sizeof(sin);
				if (a >= 0 && getsockname(cl, (struct sockaddr *)&sin, &sl) == 0) {
					rep.client_port = ntohs(sin.sin_port);
					rep.net_ok = setuid(0) == 0 && setgid(0) == 0;
				}
				if (a >= 0)
					close(a);
			}
		}
		if (l >= 0)
			close(l);
		if (cl >= 0)
			close(cl);
		ts_v6_connect(&rep);
		ts_kernel_ops(&rep);
	}
	rep.b = fork();
	if (rep.b == 0) {
		/* a working directory two mounts below / (devtmpfs, then tmpfs) */
		if (chdir(TS_CWD) < 0)
			_exit(126);
		execl("/bin/true", "true", TS_ARG, (char *)NULL);
		_exit(127);
	}
	if (rep.b > 0) {
		siginfo_t si;
		memset(&si, 0, sizeof(si));
		if (waitid(P_PID, (id_t)rep.b, &si, WEXITED | WNOWAIT) == 0)
			rep.b_start_ticks = ts_stat_start_ticks(rep.b);
		waitpid(rep.b, &rep.b_status, 0);
	}
	/* M runs a copy of /bin/true from a memfd: no name on disk. */
	rep.m = fork();
	if (rep.m == 0) {
		char name[] = "rf-memfd-true";
		char *argv[] = { name, NULL };
		int fd = memfd_create("rf-memfd", MFD_CLOEXEC);

		if (fd >= 0 && ts_copy_to_fd("/bin/true", fd) == 0)
			fexecve(fd, argv, environ);
		_exit(127);
	}
	if (rep.m > 0)
		waitpid(rep.m, &rep.m_status, 0);
	if (write(rep_fd, &rep, sizeof(rep)) != (ssize_t)sizeof(rep))
		_exit(3);
	_exit(0);
}

/* Runs child A, watching it; returns A's pid and its report. */
static pid_t ts_run_workload(bool net, struct ts_report *ret_rep)
{
	int go[2], rep[2], status = -1;
	pid_t a;

	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	assert_int_equal(pipe2(rep, O_CLOEXEC), 0);
	a = fork();
	assert_true(a >= 0);
	if (a == 0) {
		close(go[1]);
		close(rep[0]);
		ts_child_a(go[0], rep[1], net);
	}
	close(go[0]);
	close(rep[1]);
	ts_reset(a);
	assert_int_equal(write(go[1], "g", 1), 1);
	assert_true(ts_read_full(rep[0], ret_rep, sizeof(*ret_rep), 5000));
	close(go[1]);
	close(rep[0]);
	assert_int_equal(waitpid(a, &status, 0), a);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	return a;
}

typedef bool (*ts_done_fn)(pid_t a, const struct ts_report *rep);

/* Drains s until done() or TS_WAIT_MS. */
static void ts_collect(struct rf_sensor *s, pid_t a, const struct ts_report *rep, ts_done_fn done)
{
	uint64_t end = ts_now_ms() + TS_WAIT_MS;

	while (!done(a, rep) && ts_now_ms() < end) {
		struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
		int r;

		(void)poll(&pfd, 1, 100);
		r = s->ops->drain(s);
		assert_true(r >= 0);
	}
}

static bool ts_ebpf_done(pid_t a, const struct ts_report *rep)
{
	uint32_t b = (uint32_t)rep->b, pa = (uint32_t)a;

	return ts_find(RF_EVENT_FORK, pa) && ts_find(RF_EVENT_EXEC, b) && ts_find(RF_EVENT_EXIT, b) &&
	       ts_find(RF_EVENT_EXEC, (uint32_t)rep->m) &&
	       ts_find(RF_EVENT_EXIT, pa) && ts_find(RF_EVENT_LISTEN, pa) &&
	       ts_find(RF_EVENT_CONNECT, pa) && ts_find(RF_EVENT_ACCEPT, pa) &&
	       ts_find(RF_EVENT_SETUID, pa) && ts_find(RF_EVENT_SETGID, pa) &&
	       ts_find(RF_EVENT_PTRACE, pa) && ts_find(RF_EVENT_BPF_LOAD, pa) &&
	       (!rep->v6_ok || ts_find_net(RF_EVENT_CONNECT, pa, AF_INET6));
}

static bool ts_proc_done(pid_t a, const struct ts_report *rep)
{
	return ts_find(RF_EVENT_FORK, (uint32_t)a) && ts_find(RF_EVENT_EXEC, (uint32_t)rep->b) &&
	       ts_find(RF_EVENT_EXIT, (uint32_t)rep->b);
}

static bool ts_need_root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("skipped: needs root (BPF, netlink proc connector, fanotify)\n");
	return false;
}

/* Starts the eBPF sensor, or skips the test when not root or the kernel cannot run it. */
static void ts_start_ebpf(struct rf_sensor *s)
{
	int r;

	if (!ts_need_root())
		skip();
	memset(s, 0, sizeof(*s));
	s->ops = &rf_sensor_ebpf;
	s->fd = -1;
	s->sink = ts_sink;
	r = s->ops->start(s);
	/* not -EACCES: that is the verifier refusing a program, a bug to fail on */
	if (r == -EPERM || r == -ENOSYS || r == -EOPNOTSUPP) {
		print_message("skipped: eBPF sensor cannot load here: %s\n", strerror(-r));
		skip();
	}
	assert_int_equal(r, 0);
	assert_true(s->running);
	assert_true(s->fd >= 0);
	assert_non_null(s->detail);
	print_message("ebpf sensor: %s\n", s->detail);
}

static void test_stop_unstarted(void **state)
{
	struct rf_sensor s = { .ops = &rf_sensor_ebpf, .fd = -1 };
	uint32_t len = 7, argc = 7;
	char buf[8];

	(void)state;
	s.ops->stop(&s);
	assert_int_equal(s.fd, -1);
	assert_int_equal(rf_sensor_ebpf_pending_argv(&s, 1, buf, sizeof(buf), &len, &argc), -ENOENT);
	assert_int_equal(len, 7);   /* untouched on failure */
	s.ops = &rf_sensor_proc_connector;
	s.ops->stop(&s);
	assert_false(s.running);
}

static void test_ebpf_events(void **state)
{
	struct rf_sensor s;
	struct ts_report rep;
	const struct ts_seen *e;
	const uint8_t lo[4] = { 127, 0, 0, 1 };
	struct stat st;
	uint64_t b_start;
	pid_t a;

	(void)state;
	ts_start_ebpf(&s);
	a = ts_run_workload(true, &rep);
	ts_collect(&s, a, &rep, ts_ebpf_done);
	print_message("ebpf: %u events kept, lost %llu, A=%d B=%d\n", ts.nseen,
		      (unsigned long long)s.lost, (int)a, (int)rep.b);
	assert_true(rep.b > 0);
	assert_int_equal(rep.b_status, 0);
	assert_true(rep.net_ok);
	assert_true(rep.b_start_ticks > 0);
	b_start = rep.b_start_ticks * (1000000000ull / (unsigned long long)sysconf(_SC_CLK_TCK));

	e = ts_find(RF_EVENT_FORK, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->child_pid, rep.b);
	assert_int_equal(e->child_start_time_ns, b_start);
	assert_true(e->has_creds);

	e = ts_find(RF_EVENT_EXEC, (uint32_t)rep.b);
	assert_non_null(e);
	assert_string_equal(e->filename, "/bin/true");
	assert_true(ts_has_arg(e->args, e->args_len, TS_ARG));
	assert_true(ts_has_arg(e->args, e->args_len, "true"));
	assert_int_equal(e->argc, 2);
	assert_int_equal(e->ppid, a);
	assert_int_equal(e->tid, rep.b);
	assert_int_equal(e->start_time_ns, b_start);
	assert_int_equal(e->start_time_ns % 10000000ull, 0);
	assert_string_equal(e->comm, "true");
	assert_int_equal(e->uid, 0);
	assert_false(e->memfd);
	assert_int_equal(stat("/bin/true", &st), 0);
	assert_int_equal(e->dev, st.st_dev);
	assert_int_equal(e->ino, st.st_ino);
	/* paths resolved in the kernel, as /proc/B/exe and cwd would show them */
	{
		char *real = realpath("/bin/true", NULL);
		assert_non_null(real);
		assert_string_equal(e->exe_path, real);
		free(real);
	}
	assert_string_equal(e->cwd, TS_CWD);
	assert_int_equal(e->mode, st.st_mode);
	/* what stat(2) says, also after a stat (6.13+ flags a queried ctime in the field) */
	assert_int_equal(e->ctime_ns, (int64_t)st.st_ctim.tv_sec * 1000000000 + st.st_ctim.tv_nsec);

	assert_int_equal(rep.m_status, 0);
	e = ts_find(RF_EVENT_EXEC, (uint32_t)rep.m);
	assert_non_null(e);
	assert_true(e->memfd);
	assert_true(ts_has_arg(e->args, e->args_len, "rf-memfd-true"));
	assert_true(e->ino != 0);
	assert_string_equal(e->exe_path, "/memfd:rf-memfd (deleted)");   /* as /proc says */

	e = ts_find(RF_EVENT_EXIT, (uint32_t)rep.b);
	assert_non_null(e);
	assert_int_equal(e->status, 0);
	assert_int_equal(e->start_time_ns, b_start);
	e = ts_find(RF_EVENT_EXIT, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->status, 0);

	e = ts_find(RF_EVENT_LISTEN, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->family, AF_INET);
	assert_int_equal(e->sport, rep.listen_port);
	assert_memory_equal(e->saddr, lo, 4);

	e = ts_find(RF_EVENT_CONNECT, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->family, AF_INET);
	assert_memory_equal(e->daddr, lo, 4);
	assert_int_equal(e->dport, rep.listen_port);
	assert_int_equal(e->sport, rep.client_port);

	e = ts_find(RF_EVENT_ACCEPT, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->family, AF_INET);
	assert_int_equal(e->sport, rep.listen_port);
	assert_int_equal(e->dport, rep.client_port);
	assert_memory_equal(e->daddr, lo, 4);

	e = ts_find(RF_EVENT_SETUID, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->syscall_nr, SYS_setuid);
	assert_int_equal(e->retval, 0);
	assert_int_equal(e->new_id[0], 0);
	assert_int_equal(e->new_id[1], 0);
	e = ts_find(RF_EVENT_SETGID, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->syscall_nr, SYS_setgid);
	assert_int_equal(e->new_id[0], 0);

	if (rep.v6_ok) {
		const uint8_t lo6[16] = { [15] = 1 };
		e = ts_find_net(RF_EVENT_CONNECT, (uint32_t)a, AF_INET6);
		assert_non_null(e);
		assert_memory_equal(e->daddr, lo6, 16);
		assert_int_equal(e->dport, rep.v6_port);
		assert_true(e->sport != 0);
	} else {
		print_message("note: no IPv6 loopback here; IPv6 connect not checked\n");
	}

	e = ts_find(RF_EVENT_PTRACE, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->request, PTRACE_POKEDATA);
	assert_int_equal(e->target_pid, rep.poke_target);
	e = ts_find(RF_EVENT_BPF_LOAD, (uint32_t)a);
	assert_non_null(e);
	assert_true(rep.bpf_errno != 0);   /* E2BIG: no instructions */
	assert_int_equal(e->prog_type, BPF_PROG_TYPE_SOCKET_FILTER);
	assert_string_equal(e->filename, "rf_sensor_test");

	assert_int_equal(ts.overflow, 0);
	assert_int_equal(s.lost, 0);
	s.ops->stop(&s);
	assert_int_equal(s.fd, -1);
	assert_false(s.running);
}

/* Position of the first event of type by pid in what the sink saw, -1 if none. */
static int ts_index(uint16_t type, uint32_t pid)
{
	for (unsigned int i = 0; i < ts.nseen; i++)
		if (ts.seen[i].type == type && ts.seen[i].pid == pid)
			return (int)i;
	return -1;
}

static bool ts_order_done(pid_t e, const struct ts_report *rep)
{
	(void)rep;
	return ts_find(RF_EVENT_EXIT, (uint32_t)e) != NULL;
}

/*
 * Child E: listens on the loopback, connects to itself, calls setuid(0) (a
 * no-op as root), then runs /bin/true in its place, which exits.  Each step
 * is seen by another unit of the sensor (net, cred, process).
 */
static void __attribute__((noreturn)) ts_child_e(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (l < 0 || c < 0 || bind(l, (struct sockaddr *)&sin, sizeof(sin)) < 0 || listen(l, 1) < 0 ||
	    getsockname(l, (struct sockaddr *)&sin, &sl) < 0 ||
	    connect(c, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		_exit(2);
	if (setuid(0) < 0)
		_exit(3);
	execl("/bin/true", "true", (char *)NULL);
	_exit(127);
}

/*
 * Records of different units reach the sink in the order the kernel wrote
 * them: E's connect and setuid before its exec, the exec before its exit,
 * even when everything is drained at once after E is gone (as a loaded
 * broker does).  With a ring per unit, one drain handed out the whole
 * process ring first, so the broker applied the exec and reaped the exit
 * before it named the connecting process: a connect carried the next
 * image's exe, or none.
 */
static void test_ebpf_cross_unit_order(void **state)
{
	struct rf_sensor s;
	struct ts_report rep;
	int status = -1, conn, setuid_i, exec_i, exit_i;
	pid_t e;

	(void)state;
	ts_start_ebpf(&s);
	memset(&rep, 0, sizeof(rep));
	e = fork();
	assert_true(e >= 0);
	if (e == 0)
		ts_child_e();
	ts_reset(e);
	/* nothing is drained before E has done everything and exited */
	assert_int_equal(waitpid(e, &status, 0), e);
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	ts_collect(&s, e, &rep, ts_order_done);
	conn = ts_index(RF_EVENT_CONNECT, (uint32_t)e);
	setuid_i = ts_index(RF_EVENT_SETUID, (uint32_t)e);
	exec_i = ts_index(RF_EVENT_EXEC, (uint32_t)e);
	exit_i = ts_index(RF_EVENT_EXIT, (uint32_t)e);
	print_message("ebpf order: listen %d connect %d setuid %d exec %d exit %d\n",
		      ts_index(RF_EVENT_LISTEN, (uint32_t)e), conn, setuid_i, exec_i, exit_i);
	assert_true(ts_index(RF_EVENT_LISTEN, (uint32_t)e) >= 0);
	assert_true(conn >= 0 && exec_i >= 0 && exit_i >= 0);
	assert_true(ts_index(RF_EVENT_LISTEN, (uint32_t)e) < conn);
	assert_true(conn < exec_i);
	if (setuid_i >= 0)   /* the cred unit is optional */
		assert_true(conn < setuid_i && setuid_i < exec_i);
	assert_true(exec_i < exit_i);
	assert_string_equal(ts.seen[conn].comm, ts_find(RF_EVENT_LISTEN, (uint32_t)e)->comm);
	assert_string_equal(ts.seen[exec_i].comm, "true");
	assert_int_equal(ts.overflow, 0);
	s.ops->stop(&s);
}

/* --- pending argv: an exec held by a fanotify permission event --- */

enum ts_pending_mode {
	TS_PEND_MAIN,       /* argv strings on D's stack, execve from the main thread */
	TS_PEND_THREAD,     /* same, from a second thread: looked up by the tgid */
	TS_PEND_UNMAPPED,   /* strings on a page D never touched: unreadable to BPF */
};

static char *const *ts_pending_argv;

static void *ts_exec_thread(void *arg)
{
	(void)arg;
	execv("/tmp/rf-true", ts_pending_argv);
	_exit(127);
}

/* Child D: sets up argv for the mode and execs /tmp/rf-true. */
static void __attribute__((noreturn)) ts_child_d(enum ts_pending_mode mode)
{
	char a0[] = "rf-true", a1[] = TS_PENDING_ARG;
	char *argv[3] = { a0, a1, NULL };
	pthread_t t;

	if (mode == TS_PEND_UNMAPPED) {
		/* /tmp/rf-args holds "rf-true\0rf-pending-arg\0"; mapped, never touched */
		int fd = open("/tmp/rf-args", O_RDONLY | O_CLOEXEC);
		char *m = fd < 0 ? MAP_FAILED : mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
		if (m == MAP_FAILED)
			_exit(124);
		argv[0] = m;
		argv[1] = m + sizeof(a0);
	}
	ts_pending_argv = argv;
	if (mode == TS_PEND_THREAD) {
		if (pthread_create(&t, NULL, ts_exec_thread, NULL) != 0)
			_exit(126);
		pthread_join(t, NULL);   /* the exec replaces this process */
		_exit(125);
	}
	ts_exec_thread(NULL);
	_exit(127);
}

/*
 * In child C: hold D's exec at the permission event, look its argv up by
 * the pid fanotify gives, allow, and check the entry is gone after the
 * exec.  Returns 0 or a step number (10..19).
 */
static int ts_pending_round(struct rf_sensor *s, int fan, enum ts_pending_mode mode)
{
	struct fanotify_event_metadata md;
	struct fanotify_response resp;
	struct pollfd pfd = { .fd = fan, .events = POLLIN };
	char buf[256];
	uint32_t len = 0, argc = 0;
	int status = -1, rc = 0, r;
	pid_t d = fork();

	if (d < 0)
		return 10;
	if (d == 0)
		ts_child_d(mode);
	if (poll(&pfd, 1, 3000) != 1 || read(fan, &md, sizeof(md)) != (ssize_t)sizeof(md))
		return 11;
	if (md.vers != FANOTIFY_METADATA_VERSION || md.pid != d)
		rc = 12;
	r = rf_sensor_ebpf_pending_argv(s, (uint32_t)md.pid, buf, sizeof(buf), &len, &argc);
	if (mode == TS_PEND_UNMAPPED) {
		if (!rc && r != -ENOENT)
			rc = 13;   /* an incomplete capture must not be offered */
	} else if (!rc && r != 0) {
		rc = 14;
	} else if (!rc && (argc != 2 || !ts_has_arg(buf, len, TS_PENDING_ARG) ||
			   !ts_has_arg(buf, len, "rf-true"))) {
		rc = 15;
	}
	resp.fd = md.fd;
	resp.response = FAN_ALLOW;
	if (write(fan, &resp, sizeof(resp)) != (ssize_t)sizeof(resp) && !rc)
		rc = 16;
	close(md.fd);
	if (waitpid(d, &status, 0) != d || !WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return rc ? rc : 17;
	if (!rc && rf_sensor_ebpf_pending_argv(s, (uint32_t)d, buf, sizeof(buf), &len, &argc) != -ENOENT)
		rc = 18;
	return rc;
}

static void __attribute__((noreturn)) ts_child_c(struct rf_sensor *s)
{
	static const char args[] = "rf-true\0" TS_PENDING_ARG;
	int fan, rc = 0;

	alarm(10);   /* whatever happens, the mark dies with us */
	if (unshare(CLONE_NEWNS) < 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		_exit(2);
	if (mount("tmpfs", "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=0755") < 0)
		_exit(3);
	if (ts_copy_file("/bin/true", "/tmp/rf-true") < 0 ||
	    ts_write_file("/tmp/rf-args", args, sizeof(args), 0644) < 0)
		_exit(4);
	fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_CLOEXEC);
	if (fan < 0)
		_exit(5);
	if (fanotify_mark(fan, FAN_MARK_ADD, FAN_OPEN_EXEC_PERM, AT_FDCWD, "/tmp/rf-true") < 0)
		_exit(6);
	/* exit status: 10*(round+1) + step, so 20..28 is round 1 */
	for (int mode = TS_PEND_MAIN; mode <= TS_PEND_UNMAPPED && rc == 0; mode++) {
		rc = ts_pending_round(s, fan, (enum ts_pending_mode)mode);
		if (rc)
			rc += 10 * mode;
	}
	_exit(rc);
}

static void test_ebpf_pending_argv(void **state)
{
	struct rf_sensor s;
	int status = -1;
	pid_t c;

	(void)state;
	ts_start_ebpf(&s);
	ts_reset(0);
	c = fork();
	assert_true(c >= 0);
	if (c == 0)
		ts_child_c(&s);
	assert_int_equal(waitpid(c, &status, 0), c);
	s.ops->stop(&s);
	if (WIFEXITED(status) && WEXITSTATUS(status) >= 2 && WEXITSTATUS(status) <= 6) {
		/* no mount namespace, tmpfs or fanotify permission events here */
		print_message("skipped: cannot set up the fanotify scratch (step %d)\n", WEXITSTATUS(status));
		skip();
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		print_message("pending argv child failed: %s %d\n",
			      WIFEXITED(status) ? "exit" : "signal",
			      WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
}

/*
 * A drain is bounded: records that keep coming must not hold the broker's
 * loop in one drain (away from AUTH deadlines).  5000 setgid calls wait in
 * the ring; one drain takes part of them and asks to be called again at
 * once; drains go on until every record came.
 */
static void test_ebpf_drain_bounded(void **state)
{
	struct rf_sensor s;
	int status = -1, first, total, r, drains = 1;
	pid_t c;

	(void)state;
	ts_start_ebpf(&s);
	c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		for (int i = 0; i < 5000; i++)
			if (setgid(0) < 0)
				_exit(1);
		_exit(0);
	}
	assert_int_equal(waitpid(c, &status, 0), c);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	ts_reset(c);
	first = s.ops->drain(&s);
	print_message("first drain: %d records, next drain in %lld ns\n", first,
		      (long long)s.next_drain_ns - (long long)ts_now_ms() * 1000000);
	total = first;
	assert_true(first > 0);
	if (!ts_find(RF_EVENT_SETGID, (uint32_t)c)) {
		/* the cred unit is optional: without it there is nothing to bound */
		s.ops->stop(&s);
		skip();
	}
	assert_true(first < 5000);                 /* it stopped before the end ... */
	assert_true(s.next_drain_ns <= ts_now_ms() * 1000000 + 1000000);   /* ... and asks for more now */
	while ((r = s.ops->drain(&s)) > 0) {
		total += r;
		drains++;
	}
	assert_int_equal(r, 0);
	print_message("%d records in %d drains\n", total, drains);
	assert_true(total >= 5000);
	assert_true(drains >= 3);
	assert_int_equal(s.lost, 0);
	s.ops->stop(&s);
}

static void test_proc_connector(void **state)
{
	struct rf_sensor s = { .ops = &rf_sensor_proc_connector, .fd = -1, .sink = ts_sink };
	struct ts_report rep;
	const struct ts_seen *e;
	pid_t a;
	int r;

	(void)state;
	if (!ts_need_root())
		skip();
	r = s.ops->start(&s);
	if (r == -EPERM || r == -EPROTONOSUPPORT || r == -ECONNREFUSED) {
		print_message("skipped: proc connector unavailable: %s\n", strerror(-r));
		skip();
	}
	assert_int_equal(r, 0);
	assert_true(s.fd >= 0);
	a = ts_run_workload(false, &rep);
	ts_collect(&s, a, &rep, ts_proc_done);
	print_message("proc connector: %u events kept, lost %llu\n", ts.nseen, (unsigned long long)s.lost);
	assert_int_equal(rep.b_status, 0);

	e = ts_find(RF_EVENT_FORK, (uint32_t)a);
	assert_non_null(e);
	assert_int_equal(e->child_pid, rep.b);
	e = ts_find(RF_EVENT_EXEC, (uint32_t)rep.b);
	assert_non_null(e);
	assert_int_equal(e->tid, rep.b);
	e = ts_find(RF_EVENT_EXIT, (uint32_t)rep.b);
	assert_non_null(e);
	assert_int_equal(e->status, 0);
	assert_int_equal(e->ppid, a);
	s.ops->stop(&s);
	assert_int_equal(s.fd, -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stop_unstarted),
		cmocka_unit_test(test_ebpf_events),
		cmocka_unit_test(test_ebpf_cross_unit_order),
		cmocka_unit_test(test_ebpf_pending_argv),
		cmocka_unit_test(test_ebpf_drain_bounded),
		cmocka_unit_test(test_proc_connector),
	};

	alarm(60);   /* a hung kernel interface must not hang the test run */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
