/*
 * test_sandbox.c - the client sandbox (src/broker/sandbox.c).
 *
 * Without root: the setup channel, syscall names, argument checks.  With
 * root: a forked child runs rf_sandbox_drop() while this process plays the
 * broker (receives the notify fd, answers every notification with
 * rf_sandbox_on_notify() and counts them), then
 *   - in process: the child probes its sandbox itself and reports back;
 *   - through exec: the child's first execve (let through once) runs
 *     tests/clients/rf-probe-client, which tries each escape under the real
 *     dynamic loader and writes a report.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <seccomp.h>

#include "broker/config.h"
#include "broker/sandbox.h"

#define TEST_UID 61999u
#define TEST_GID 61998u
#define MAX_NR 1024
#define DEADLINE_MS 30000

static bool need_root(void)
{
	if (geteuid() == 0)
		return true;
	print_message("needs root (cgroups, namespaces, setuid): skipped\n");
	return false;
}

static int nr_of(const char *name)
{
	return seccomp_syscall_resolve_name(name);
}

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- fixtures: scratch directories and a manifest ---- */

struct fixture {
	char base[64];                 /* root-owned, 0755 */
	char wdir[128];                /* owned by the client uid: the write grant */
	char outside[128];             /* 01777: only the sandbox can stop a write here */
	struct rf_manifest *m;
	struct rf_sandbox sb;
};

static void fixture_init(struct fixture *f, const char *exec)
{
	snprintf(f->base, sizeof f->base, "/tmp/rf-sbtest.XXXXXX");
	assert_non_null(mkdtemp(f->base));
	assert_int_equal(chmod(f->base, 0755), 0);
	snprintf(f->wdir, sizeof f->wdir, "%s/w", f->base);
	snprintf(f->outside, sizeof f->outside, "%s/out", f->base);
	assert_int_equal(mkdir(f->wdir, 0700), 0);
	assert_int_equal(chown(f->wdir, TEST_UID, TEST_GID), 0);
	assert_int_equal(mkdir(f->outside, 0777), 0);
	assert_int_equal(chmod(f->outside, 01777), 0);
	f->m = calloc(1, sizeof *f->m);
	assert_non_null(f->m);
	snprintf(f->m->name, sizeof f->m->name, "sbtest-%d", (int)getpid());
	snprintf(f->m->exec, sizeof f->m->exec, "%s", exec);
	f->m->argv[0] = f->m->exec;
	f->m->argc = 1;
	snprintf(f->m->write_paths[0], PATH_MAX, "%s", f->wdir);
	f->m->nwrite = 1;
	f->m->memory_mb = 256;
	f->m->max_files = 64;
	f->m->max_procs = 16;
	f->m->cpu_percent = 50;
}

static void rm_rf(const char *dir)
{
	char cmd[256];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		print_message("could not remove %s\n", dir);
}

/* cmocka teardown: runs also when an assertion failed midway */
static int fixture_teardown(void **state)
{
	struct fixture *f = *state;
	if (!f)
		return 0;
	rf_sandbox_release(&f->sb);
	if (f->base[0])
		rm_rf(f->base);
	free(f->m);
	free(f);
	return 0;
}

static int fixture_setup(void **state)
{
	*state = calloc(1, sizeof(struct fixture));
	return *state ? 0 : -1;
}

static ssize_t read_file(const char *path, char *buf, size_t size)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -1;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	buf[n < 0 ? 0 : n] = '\0';
	return n;
}

static bool cg_has_pid(const char *dir, pid_t pid)
{
	char p[PATH_MAX + 16], buf[8192];
	snprintf(p, sizeof p, "%s/cgroup.procs", dir);
	if (read_file(p, buf, sizeof buf) < 0)
		return false;
	for (char *s = buf, *end; *s; s = end) {
		long v = strtol(s, &end, 10);
		if (end == s)
			break;
		if (v == pid)
			return true;
		while (*end == '\n')
			end++;
	}
	return false;
}

/* Checks the limits prepare wrote, whichever cgroup kind this host has. */
static void check_cgroup_limits(const struct fixture *f)
{
	const struct rf_sandbox *sb = &f->sb;
	char p[PATH_MAX + 64], buf[128];
	print_message("cgroup: %s, controllers 0x%x, %u dirs%s%s\n", rf_sandbox_cgroup_name(sb->cgroup),
		      sb->cgroup_ctrls, sb->ncgroup_dirs, sb->cgroup_note[0] ? ", note: " : "",
		      sb->cgroup_note);
	if (sb->cgroup == RF_CGROUP_NONE) {
		assert_int_equal(sb->ncgroup_dirs, 0);
		return;
	}
	assert_true(sb->ncgroup_dirs >= 1);
	for (unsigned i = 0; i < sb->ncgroup_dirs; i++) {
		struct stat st;
		assert_int_equal(stat(sb->cgroup_dirs[i], &st), 0);
		assert_non_null(strstr(sb->cgroup_dirs[i], "/ringfence/"));
	}
	for (unsigned i = 0; i < sb->ncgroup_dirs; i++) {
		const char *d = sb->cgroup_dirs[i];
		if (sb->cgroup == RF_CGROUP_V2) {
			snprintf(p, sizeof p, "%s/memory.max", d);
			if ((sb->cgroup_ctrls & RF_CG_MEMORY) && read_file(p, buf, sizeof buf) > 0)
				assert_int_equal(strtoull(buf, NULL, 10), 256ull << 20);
			snprintf(p, sizeof p, "%s/cpu.max", d);
			if ((sb->cgroup_ctrls & RF_CG_CPU) && read_file(p, buf, sizeof buf) > 0)
				assert_string_equal(buf, "50000 100000\n");
		} else {
			snprintf(p, sizeof p, "%s/memory.limit_in_bytes", d);
			if (read_file(p, buf, sizeof buf) > 0)
				assert_int_equal(strtoull(buf, NULL, 10), 256ull << 20);
			snprintf(p, sizeof p, "%s/cpu.cfs_quota_us", d);
			if (read_file(p, buf, sizeof buf) > 0)
				assert_int_equal(strtoull(buf, NULL, 10), 50000);
		}
		snprintf(p, sizeof p, "%s/pids.max", d);
		if (read_file(p, buf, sizeof buf) > 0)
			assert_int_equal(strtoull(buf, NULL, 10), 16);
	}
}

/* ---- the broker's part, played by the test ---- */

struct broker_view {
	unsigned denied[MAX_NR];
	unsigned total_denied;
	unsigned exec_allowed;
	bool got_fd;
	bool cgroup_checked;
	int status;
};

/*
 * Runs the broker side until the child exits: the setup channel, then every
 * notification.  on_fd is called once the notify fd arrived (the child is
 * past its drop).  allow_first_exec as the broker does it.
 */
static void play_broker(struct fixture *f, pid_t child, int setup_fd, bool allow_first_exec,
			void (*on_fd)(void *, int), void *arg, struct broker_view *v)
{
	int notify_fd = -1;
	int64_t end = now_ms() + DEADLINE_MS;
	bool exited = false;
	memset(v, 0, sizeof *v);
	while (!exited) {
		if (now_ms() > end) {
			kill(child, SIGKILL);
			waitpid(child, NULL, 0);
			fail_msg("the sandboxed child did not finish in %d ms", DEADLINE_MS);
		}
		struct pollfd p[2] = { { .fd = setup_fd, .events = POLLIN },
				       { .fd = notify_fd, .events = POLLIN } };
		if (poll(p, 2, 50) < 0 && errno != EINTR)
			fail_msg("poll: %s", strerror(errno));
		if (setup_fd >= 0 && p[0].revents) {
			int r = rf_sandbox_recv_notify_fd(setup_fd, &notify_fd);
			if (r == 0 || r != -EAGAIN) {
				close(setup_fd);
				setup_fd = -1;
			}
			if (r == 0) {
				v->got_fd = true;
				/* the child joined its cgroups before it sent the fd */
				bool in = f->sb.ncgroup_dirs > 0;
				for (unsigned i = 0; i < f->sb.ncgroup_dirs; i++)
					in &= cg_has_pid(f->sb.cgroup_dirs[i], child);
				v->cgroup_checked = in;
				if (on_fd)
					on_fd(arg, notify_fd);
			} else if (r != -EAGAIN) {
				print_message("setup channel: %s\n", strerror(-r));
			}
		}
		if (notify_fd >= 0 && p[1].revents) {
			bool ex = false;
			int nr = -1;
			int r = rf_sandbox_on_notify(notify_fd, allow_first_exec && !v->exec_allowed, &ex, &nr);
			if (r == 0 && ex) {
				v->exec_allowed++;
			} else if (r == 0) {
				v->total_denied++;
				if (nr >= 0 && nr < MAX_NR)
					v->denied[nr]++;
			} else if (r == -EPIPE) {
				close(notify_fd);
				notify_fd = -1;
			} else if (r != -EAGAIN && r != -ENOENT) {
				print_message("on_notify: %s\n", strerror(-r));
			}
		}
		exited = waitpid(child, &v->status, WNOHANG) == child;
	}
	if (setup_fd >= 0)
		close(setup_fd);
	if (notify_fd >= 0)
		close(notify_fd);
}

static void dump_denials(const struct broker_view *v)
{
	for (int nr = 0; nr < MAX_NR; nr++)
		if (v->denied[nr])
			print_message("  denied %s x%u\n", rf_sandbox_syscall_name(nr), v->denied[nr]);
}

/* ---- without root ---- */

static void test_syscall_names(void **state)
{
	(void)state;
	assert_string_equal(rf_sandbox_syscall_name(nr_of("socket")), "socket");
	assert_string_equal(rf_sandbox_syscall_name(nr_of("execve")), "execve");
	assert_string_equal(rf_sandbox_syscall_name(-1), "unknown");
	assert_string_equal(rf_sandbox_syscall_name(100000), "unknown");
	assert_string_equal(rf_sandbox_cgroup_name(RF_CGROUP_V1), "v1");
	assert_string_equal(rf_sandbox_cgroup_name(RF_CGROUP_V2), "v2");
	assert_string_equal(rf_sandbox_cgroup_name(RF_CGROUP_NONE), "unavailable");
}

static void test_prepare_refuses_root_ids(void **state)
{
	(void)state;
	struct rf_manifest *m = calloc(1, sizeof *m);
	struct rf_sandbox *sb = malloc(sizeof *sb), *copy = malloc(sizeof *copy);
	assert_true(m && sb && copy);
	snprintf(m->name, sizeof m->name, "x");
	memset(sb, 0xa5, sizeof *sb);
	memcpy(copy, sb, sizeof *sb);
	assert_int_equal(rf_sandbox_prepare(m, 0, 1000, sb), -EINVAL);
	assert_int_equal(rf_sandbox_prepare(m, 1000, 0, sb), -EINVAL);
	snprintf(m->name, sizeof m->name, "../escape");
	assert_int_equal(rf_sandbox_prepare(m, 1000, 1000, sb), -EINVAL);
	assert_memory_equal(sb, copy, sizeof *sb);   /* untouched on error */
	rf_sandbox_release(NULL);
	free(m);
	free(sb);
	free(copy);
}

static void send_setup(int fd, uint32_t magic, int pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} cb;
	memset(&cb, 0, sizeof cb);
	struct iovec iov = { .iov_base = &magic, .iov_len = sizeof magic };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	if (pass_fd >= 0) {
		mh.msg_control = cb.buf;
		mh.msg_controllen = sizeof cb.buf;
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &pass_fd, sizeof pass_fd);
	}
	assert_int_equal(sendmsg(fd, &mh, 0), (ssize_t)sizeof magic);
}

static void test_setup_channel(void **state)
{
	(void)state;
	int sv[2], got = -42;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
	/* nothing yet: never blocks */
	assert_int_equal(rf_sandbox_recv_notify_fd(sv[0], &got), -EAGAIN);
	/* wrong payload, or no descriptor: refused, output untouched */
	send_setup(sv[1], 0x12345678u, 0);
	assert_int_equal(rf_sandbox_recv_notify_fd(sv[0], &got), -EPROTO);
	send_setup(sv[1], RF_SANDBOX_SETUP_MAGIC, -1);
	assert_int_equal(rf_sandbox_recv_notify_fd(sv[0], &got), -EPROTO);
	assert_int_equal(got, -42);
	/* the real thing: one descriptor, close-on-exec */
	send_setup(sv[1], RF_SANDBOX_SETUP_MAGIC, 0);
	assert_int_equal(rf_sandbox_recv_notify_fd(sv[0], &got), 0);
	assert_true(got > 2);
	assert_true(fcntl(got, F_GETFD) & FD_CLOEXEC);
	close(got);
	/* the child went away without sending */
	close(sv[1]);
	assert_int_equal(rf_sandbox_recv_notify_fd(sv[0], &got), -EPIPE);
	close(sv[0]);
	/* a descriptor that is not open */
	bool ex;
	int nr;
	assert_int_equal(rf_sandbox_on_notify(1000, false, &ex, &nr), -EBADF);
}

/* ---- with root: the child probes itself ---- */

struct probe_results {
	int socket_err, connect_err, shadow_err, passwd_err, write_in_err, write_out_err;
	int fork_err, thread_err, ptrace_err, mount_err, bpf_err, setuid_err, unshare_err;
	int exec_err, clone_ns_err;
	unsigned uid, gid;
	unsigned long long nofile, nproc, core;
	char netns[64];
};

static int err_of(long r)
{
	return r < 0 ? errno : 0;
}

static int try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return errno;
	close(fd);
	return 0;
}

static void *thread_main(void *arg)
{
	return arg;
}

static int clone_child(void *arg)
{
	(void)arg;
	return 0;
}

static void child_probe(struct fixture *f, int tcp, struct probe_results *r)
{
	char path[256];
	memset(r, 0, sizeof *r);
	errno = 0;
	r->socket_err = err_of(socket(AF_INET, SOCK_STREAM, 0));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	r->connect_err = err_of(connect(tcp, (struct sockaddr *)&sin, sizeof sin));
	r->shadow_err = try_open("/etc/shadow", O_RDONLY);
	r->passwd_err = try_open("/etc/passwd", O_RDONLY);
	snprintf(path, sizeof path, "%s/inside", f->wdir);
	r->write_in_err = try_open(path, O_WRONLY | O_CREAT | O_TRUNC);
	snprintf(path, sizeof path, "%s/escape", f->outside);
	r->write_out_err = try_open(path, O_WRONLY | O_CREAT | O_TRUNC);
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	r->fork_err = pid < 0 ? errno : 0;
	if (pid > 0)
		waitpid(pid, NULL, 0);
	pthread_t t;
	r->thread_err = pthread_create(&t, NULL, thread_main, NULL);
	if (!r->thread_err)
		pthread_join(t, NULL);
	/* a thread that asks for a namespace is a process in disguise */
	static char stack[16384] __attribute__((aligned(16)));
	r->clone_ns_err = err_of(clone(clone_child, stack + sizeof stack,
				       CLONE_VM | CLONE_SIGHAND | CLONE_THREAD | CLONE_NEWNET, NULL));
	r->uid = getuid();
	r->gid = getgid();
	r->ptrace_err = err_of(ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	r->mount_err = err_of(mount("none", f->wdir, "tmpfs", 0, NULL));
	r->bpf_err = err_of(syscall(SYS_bpf, 0, NULL, 0));
	r->setuid_err = err_of(setuid(0));
	r->unshare_err = err_of(unshare(CLONE_NEWUSER));
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
		r->nofile = rl.rlim_cur;
	if (getrlimit(RLIMIT_NPROC, &rl) == 0)
		r->nproc = rl.rlim_cur;
	if (getrlimit(RLIMIT_CORE, &rl) == 0)
		r->core = rl.rlim_max;
	ssize_t n = readlink("/proc/self/ns/net", r->netns, sizeof r->netns - 1);
	r->netns[n < 0 ? 0 : n] = '\0';
	/* a second exec: never allowed (this test never lets the first one through either) */
	char *const av[] = { "true", NULL };
	r->exec_err = err_of(execv("/bin/true", av));
}

struct go_ctx {
	int go_fd;
	pid_t child;
	int idle;          /* rf_sandbox_on_notify() before the child did anything */
	uid_t proc_owner;  /* of /proc/<child>/environ: root while not dumpable */
};

static void send_go(void *arg, int notify_fd)
{
	struct go_ctx *g = arg;
	char c = 'g', p[64];
	struct stat st;
	snprintf(p, sizeof p, "/proc/%d/environ", (int)g->child);
	g->proc_owner = stat(p, &st) == 0 ? st.st_uid : (uid_t)-1;
	/* the child waits for us in read(): nothing is queued, and asking must not block */
	bool ex;
	int nr;
	g->idle = rf_sandbox_on_notify(notify_fd, false, &ex, &nr);
	if (write(g->go_fd, &c, 1) != 1)
		print_message("go: %s\n", strerror(errno));
}

static void test_drop_in_process(void **state)
{
	if (!need_root()) {
		skip();
		return;
	}
	struct fixture *f = *state;
	fixture_init(f, "/bin/true");
	assert_int_equal(rf_sandbox_prepare(f->m, TEST_UID, TEST_GID, &f->sb), 0);
	assert_true(f->sb.seccomp);
	assert_true(f->sb.netns);
	print_message("landlock ABI %d\n", f->sb.landlock_abi);
	check_cgroup_limits(f);

	int setup[2], res[2], go[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, setup), 0);
	assert_int_equal(fcntl(setup[0], F_SETFL, O_NONBLOCK), 0);
	assert_int_equal(pipe2(res, O_CLOEXEC), 0);
	assert_int_equal(pipe2(go, O_CLOEXEC), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(setup[0]);
		close(res[0]);
		close(go[1]);
		/* a socket made before the drop: the filter still stops connect() */
		int tcp = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
		rf_sandbox_drop(&f->sb, f->m, setup[1]);
		char c;
		if (read(go[0], &c, 1) != 1)
			_exit(3);
		struct probe_results r;
		child_probe(f, tcp, &r);
		_exit(write(res[1], &r, sizeof r) == (ssize_t)sizeof r ? 0 : 4);
	}
	close(setup[1]);
	close(res[1]);
	close(go[0]);
	struct go_ctx g = { .go_fd = go[1], .child = child };
	struct broker_view *v = calloc(1, sizeof *v);
	assert_non_null(v);
	play_broker(f, child, setup[0], false, send_go, &g, v);
	close(go[1]);
	dump_denials(v);
	assert_true(v->got_fd);
	assert_true(WIFEXITED(v->status));
	assert_int_equal(WEXITSTATUS(v->status), 0);
	if (f->sb.cgroup != RF_CGROUP_NONE)
		assert_true(v->cgroup_checked);

	struct probe_results r;
	assert_int_equal(read(res[0], &r, sizeof r), (ssize_t)sizeof r);
	close(res[0]);
	/* denied by the broker, and counted */
	assert_int_equal(r.socket_err, EPERM);
	assert_true(v->denied[nr_of("socket")] >= 1);
	assert_int_equal(r.connect_err, EPERM);
	assert_true(v->denied[nr_of("connect")] >= 1);
	assert_int_equal(r.fork_err, EPERM);
	assert_int_equal(r.clone_ns_err, EPERM);
	assert_true(v->denied[nr_of("clone")] >= 2);
	assert_int_equal(r.ptrace_err, EPERM);
	assert_true(v->denied[nr_of("ptrace")] >= 1);
	assert_int_equal(r.mount_err, EPERM);
	assert_true(v->denied[nr_of("mount")] >= 1);
	assert_int_equal(r.bpf_err, EPERM);
	assert_true(v->denied[nr_of("bpf")] >= 1);
	assert_int_equal(r.setuid_err, EPERM);
	assert_int_equal(r.unshare_err, EPERM);
	assert_int_equal(r.exec_err, EPERM);
	assert_true(v->denied[nr_of("execve")] >= 1);
	assert_int_equal(v->exec_allowed, 0);
	/* allowed: threads, files in the write grant */
	assert_int_equal(r.thread_err, 0);
	assert_int_equal(r.write_in_err, 0);
	/* who and what it is */
	assert_int_equal(r.uid, TEST_UID);
	assert_int_equal(r.gid, TEST_GID);
	assert_int_equal(r.nofile, 64);
	assert_int_equal(r.nproc, 16);
	assert_int_equal(r.core, 0);
	assert_int_equal(g.idle, -EAGAIN);
	assert_int_equal(g.proc_owner, 0);   /* not dumpable: its private /proc files stay root's */
	char mine[64] = "";
	ssize_t n = readlink("/proc/self/ns/net", mine, sizeof mine - 1);
	assert_true(n > 0);
	assert_true(r.netns[0] != '\0');
	assert_string_not_equal(r.netns, mine);
	/* /etc/shadow: DAC already refuses uid TEST_UID; the rest is Landlock's */
	assert_int_equal(r.shadow_err, EACCES);
	if (f->sb.landlock_abi > 0) {
		assert_int_equal(r.passwd_err, EACCES);
		assert_int_equal(r.write_out_err, EACCES);
	} else {
		print_message("Landlock unavailable: not checking /etc/passwd and writes outside the grant\n");
	}
	free(v);

	/* after the reap: the cgroups go */
	struct rf_sandbox copy = f->sb;
	rf_sandbox_release(&f->sb);
	for (unsigned i = 0; i < copy.ncgroup_dirs; i++) {
		struct stat st;
		assert_int_equal(stat(copy.cgroup_dirs[i], &st), -1);
	}
	}

/* ---- with root: the first exec goes through, the probe client tries to escape ---- */

static bool probe_path(char *ret, size_t size)
{
	char self[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
	if (n <= 0)
		return false;
	self[n] = '\0';
	char *slash = strrchr(self, '/');
	if (!slash)
		return false;
	*slash = '\0';
	snprintf(ret, size, "%s/rf-probe-client", self);
	return access(ret, X_OK) == 0;
}

static const char *report_line(const char *report, const char *name)
{
	static char line[256];
	size_t nl = strlen(name);
	for (const char *p = report; *p;) {
		const char *e = strchr(p, '\n');
		size_t len = e ? (size_t)(e - p) : strlen(p);
		if (len > nl && !strncmp(p, name, nl) && p[nl] == ' ') {
			snprintf(line, sizeof line, "%.*s", (int)(len - nl - 1), p + nl + 1);
			return line;
		}
		p += len + (e ? 1 : 0);
	}
	return "(missing)";
}

static void test_first_exec_probe(void **state)
{
	if (!need_root()) {
		skip();
		return;
	}
	char probe[PATH_MAX];
	if (!probe_path(probe, sizeof probe)) {
		print_message("rf-probe-client not built next to this test: skipped\n");
		skip();
		return;
	}
	struct fixture *f = *state;
	fixture_init(f, probe);
	char report[256];
	snprintf(report, sizeof report, "%s/report.txt", f->wdir);
	assert_int_equal(rf_sandbox_prepare(f->m, TEST_UID, TEST_GID, &f->sb), 0);

	int setup[2];
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, setup), 0);
	assert_int_equal(fcntl(setup[0], F_SETFL, O_NONBLOCK), 0);
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0) {
		close(setup[0]);
		/* LeakSanitizer stops the world with ptrace, which no client may use */
		setenv("ASAN_OPTIONS", "detect_leaks=0", 1);
		rf_sandbox_drop(&f->sb, f->m, setup[1]);
		char *const av[] = { f->m->exec, "--standalone", "--outside", f->outside, report, NULL };
		execv(f->m->exec, av);
		_exit(127);
	}
	close(setup[1]);
	struct broker_view *v = calloc(1, sizeof *v);
	assert_non_null(v);
	play_broker(f, child, setup[0], true, NULL, NULL, v);
	dump_denials(v);
	char text[8192] = "";
	if (read_file(report, text, sizeof text) < 0)
		print_message("no report at %s\n", report);
	print_message("report:\n%s", text);
	assert_true(WIFEXITED(v->status));
	assert_int_equal(WEXITSTATUS(v->status), 0);
	assert_int_equal(v->exec_allowed, 1);

	char uid[32];
	snprintf(uid, sizeof uid, "ok %u", TEST_UID);
	assert_string_equal(report_line(text, "uid"), uid);
	assert_string_equal(report_line(text, "nofile"), "ok 64");
	static const char *const eperm[] = {
		"socket_inet", "socket_unix", "connect", "fork", "setuid_root", "unshare_user",
		"ptrace", "mount", "bpf", "io_uring", "perf_event", "keyctl", "finit_module",
		"chroot", "kill_init", "process_vm", "exec",
	};
	for (unsigned i = 0; i < sizeof eperm / sizeof *eperm; i++) {
		if (strcmp(report_line(text, eperm[i]), "denied EPERM"))
			fail_msg("%s: want denied EPERM, got %s", eperm[i], report_line(text, eperm[i]));
	}
	assert_string_equal(report_line(text, "thread"), "ok");
	assert_string_equal(report_line(text, "write_inside"), "ok");
	assert_string_equal(report_line(text, "open_shadow"), "denied EACCES");
	if (f->sb.landlock_abi > 0) {
		assert_string_equal(report_line(text, "open_passwd"), "denied EACCES");
		assert_string_equal(report_line(text, "write_outside"), "denied EACCES");
	} else {
		print_message("Landlock unavailable: not checking /etc/passwd and writes outside the grant\n");
	}
	assert_string_equal(report_line(text, "done"), "ok");
	/* every attempt above reached the broker and was counted */
	static const char *const counted[] = { "socket", "connect", "clone", "setuid", "unshare",
					       "ptrace", "mount", "bpf", "io_uring_setup",
					       "perf_event_open", "keyctl", "finit_module", "chroot",
					       "kill", "process_vm_readv", "execve" };
	for (unsigned i = 0; i < sizeof counted / sizeof *counted; i++)
		if (v->denied[nr_of(counted[i])] < 1)
			fail_msg("%s was not counted", counted[i]);
	assert_int_equal(v->denied[nr_of("socket")], 2);
	assert_int_equal(v->denied[nr_of("execve")], 1);
	free(v);
	}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_syscall_names),
		cmocka_unit_test(test_prepare_refuses_root_ids),
		cmocka_unit_test(test_setup_channel),
		cmocka_unit_test_setup_teardown(test_drop_in_process, fixture_setup, fixture_teardown),
		cmocka_unit_test_setup_teardown(test_first_exec_probe, fixture_setup, fixture_teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
