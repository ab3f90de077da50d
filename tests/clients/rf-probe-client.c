/*
 * rf-probe-client - a client on the public API that tries to escape its
 * sandbox, for tests/integration/sandbox.sh and tests/unit/test_sandbox.c.
 *
 *   rf-probe-client [--standalone] [--outside DIR] REPORT
 *
 * It connects (rf_client_new, subscribes to exec as NOTIFY, rf_ready), then
 * makes one attempt per line of REPORT (a path its manifest grants as
 * write): "NAME ok [DETAIL]" when the attempt worked, "NAME denied ERRNO"
 * when it failed, ERRNO by name (EPERM, EACCES...).  The last attempt line is
 * "done ok".  Then it reads events until the broker goes away.
 * --standalone skips the broker (the unit test runs it under a sandbox made
 * by hand) and exits after the report.  --outside names a directory where
 * only the sandbox (not file permissions) should stop a write.  It refuses
 * to run as root: unsandboxed, some attempts would succeed.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <libgen.h>
#include <netinet/in.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

static FILE *rep;

/* One report line: the attempt's result r (>= 0 worked) and errno after it. */
static void report(const char *name, long r, int err, const char *detail)
{
	if (r >= 0)
		fprintf(rep, "%s ok%s%s\n", name, detail ? " " : "", detail ? detail : "");
	else
		fprintf(rep, "%s denied %s\n", name, strerrorname_np(err) ? strerrorname_np(err) : "?");
	fflush(rep);
}

#define TRY(name, expr)                           \
	do {                                      \
		errno = 0;                        \
		long r_ = (long)(expr);           \
		report((name), r_, errno, NULL);  \
	} while (0)

static void *thread_main(void *arg)
{
	return arg;
}

/* Opens path as asked; closes what it opened.  -1 with errno on failure. */
static int try_open(const char *path, int flags)
{
	int fd = open(path, flags | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}

static void attempts(const char *report_path, const char *outside)
{
	char buf[64], path[4096];

	snprintf(buf, sizeof buf, "%u", (unsigned)getuid());
	report("uid", 0, 0, buf);
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		snprintf(buf, sizeof buf, "%llu", (unsigned long long)rl.rlim_cur);
		report("nofile", 0, 0, buf);
	} else {
		report("nofile", -1, errno, NULL);
	}

	/* network */
	TRY("socket_inet", socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
	TRY("socket_unix", socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
	struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons(9),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	TRY("connect", connect(3, (struct sockaddr *)&sin, sizeof sin));

	/* filesystem */
	TRY("open_shadow", try_open("/etc/shadow", O_RDONLY));
	TRY("open_passwd", try_open("/etc/passwd", O_RDONLY));
	snprintf(path, sizeof path, "%s", report_path);
	char *dir = dirname(path);
	char inside[4096 + 32];
	snprintf(inside, sizeof inside, "%s/probe-inside", dir);
	TRY("write_inside", try_open(inside, O_WRONLY | O_CREAT | O_TRUNC));
	if (outside) {
		char out[4096 + 32];
		snprintf(out, sizeof out, "%s/probe-escape", outside);
		TRY("write_outside", try_open(out, O_WRONLY | O_CREAT | O_TRUNC));
	}

	/* processes and threads */
	errno = 0;
	pid_t pid = fork();
	if (pid == 0)
		_exit(0);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	report("fork", pid, errno, NULL);
	pthread_t t;
	int e = pthread_create(&t, NULL, thread_main, NULL);
	if (e == 0)
		pthread_join(t, NULL);
	report("thread", e ? -1 : 0, e, NULL);

	/* privilege and kernel surfaces */
	TRY("setuid_root", setuid(0));
	TRY("unshare_user", unshare(CLONE_NEWUSER));
	TRY("ptrace", ptrace(PTRACE_TRACEME, 0, NULL, NULL));
	TRY("mount", mount("none", dir, "tmpfs", 0, NULL));
	TRY("bpf", syscall(SYS_bpf, 0 /* BPF_MAP_CREATE */, NULL, 0));
	TRY("io_uring", syscall(SYS_io_uring_setup, 1, NULL));
	TRY("perf_event", syscall(SYS_perf_event_open, NULL, 0, -1, -1, 0));
	TRY("keyctl", syscall(SYS_keyctl, 0 /* KEYCTL_GET_KEYRING_ID */, -1, 0));
	TRY("finit_module", syscall(SYS_finit_module, -1, "", 0));
	TRY("chroot", chroot("/"));
	TRY("kill_init", kill(1, 0));
	char one;
	struct iovec local = { &one, 1 }, remote = { (void *)4096, 1 };
	TRY("process_vm", process_vm_readv(1, &local, 1, &remote, 1, 0));
	/* last: if it worked, the report ends here and says so */
	char *const av[] = { "true", NULL };
	TRY("exec", execv("/bin/true", av));
	report("done", 0, 0, NULL);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "standalone", no_argument, NULL, 's' },
		{ "outside", required_argument, NULL, 'o' },
		{ NULL, 0, NULL, 0 },
	};
	bool standalone = false;
	const char *outside = NULL;
	int o;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': standalone = true; break;
		case 'o': outside = optarg; break;
		default: return 2;
		}
	}
	if (optind != argc - 1) {
		fprintf(stderr, "usage: rf-probe-client [--standalone] [--outside DIR] REPORT\n");
		return 2;
	}
	const char *report_path = argv[optind];
	if (getuid() == 0 || geteuid() == 0) {
		/* unsandboxed, its escape attempts would partly succeed */
		fprintf(stderr, "rf-probe-client: refusing to run as root: run it sandboxed\n");
		return 1;
	}
	rf_client_t *c = NULL;
	int err;
	if (!standalone) {
		const char *name = getenv("RF_CLIENT_NAME");
		c = rf_client_new(name ? name : "probe", &err);
		if (!c) {
			fprintf(stderr, "rf-probe-client: connect: %s\n", rf_strerror(err));
			return 1;
		}
		if ((err = rf_subscribe(c, RF_EVENT_EXEC, RF_ACTION_NOTIFY)) != RF_OK ||
		    (err = rf_ready(c)) != RF_OK) {
			fprintf(stderr, "rf-probe-client: setup: %s\n", rf_strerror(err));
			return 1;
		}
	}
	rep = fopen(report_path, "we");
	if (!rep) {
		fprintf(stderr, "rf-probe-client: %s: %s\n", report_path, strerror(errno));
		return 1;
	}
	attempts(report_path, outside);
	fclose(rep);
	if (standalone)
		return 0;
	for (;;) {
		const struct rf_message *m;
		err = rf_next(c, &m, -1);
		if (err == RF_E_CLOSED)
			break;
		if (err != RF_OK && err != RF_E_TIMEOUT) {
			fprintf(stderr, "rf-probe-client: next: %s\n", rf_strerror(err));
			return 1;
		}
	}
	rf_client_free(c);
	return 0;
}
