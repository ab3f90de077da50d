/*
 * rf-fetch - one http(s) download for the content fetcher (fetch.c), in a
 * process of its own: libcurl, its TLS library and everything they parse
 * of the network's bytes stay out of ringfenced and rfctl.
 *
 *   rf-fetch [--max BYTES] [--timeout SECONDS] [--] URL
 *
 * The body goes to stdout, at most BYTES of it; the exit code says how it
 * went (rf-fetch.h); a failure also writes one line to stderr.  Before it
 * touches the network it gives up what it does not need: root (it becomes
 * nobody when started as root), the right to gain privileges, core dumps,
 * most descriptors and CPU time beyond the transfer's own limit; once
 * libcurl is initialised, a seccomp allowlist of system calls.  It dies
 * with its parent.  docs/CONTENT-DELIVERY.md, "Fetching over http(s)".
 */
#include <errno.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/types.h>
#include <termios.h>
#include <unistd.h>

#include <curl/curl.h>
#include <seccomp.h>

#include "common/io.h"
#include "content/rf-fetch.h"
#include "content/tuf.h"

#define NOBODY          65534   /* uid and gid (nobody, nogroup on Debian) */
#define FETCH_NOFILE    64      /* sockets (happy eyeballs, DNS), resolver pipes, CA and NSS files */

/* A sanitizer's runtime needs more than the filter allows (leak checks ptrace, reports read /proc). */
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define FETCH_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer)
#define FETCH_SANITIZED 1
#endif
#endif

static const char *url_shown = "";   /* for messages: the URL once parsed */

static void __attribute__((noreturn, format(printf, 2, 3))) fatalx(int code, const char *fmt, ...)
{
	char line[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof line, fmt, ap);
	va_end(ap);
	if (url_shown[0])
		fprintf(stderr, "rf-fetch: %s: %s\n", url_shown, line);
	else
		fprintf(stderr, "rf-fetch: %s\n", line);
	exit(code);
}

static void __attribute__((noreturn)) fatal(const char *what, int err)
{
	fatalx(RF_FETCH_EXIT_IO, "%s: %s", what, strerror(err));
}

static void __attribute__((noreturn)) usage(const char *why)
{
	fprintf(stderr, "rf-fetch: %s\n"
		"Usage: rf-fetch [--max BYTES] [--timeout SECONDS] [--] http(s)://URL\n"
		"Writes the body to stdout (at most BYTES, default %u); exit 0 ok, 1 error,\n"
		"2 usage, 3 not found (HTTP 403/404/410), 4 more than BYTES.\n", why, RF_TUF_TARGET_MAX);
	exit(RF_FETCH_EXIT_USAGE);
}

static bool parse_u64(const char *s, uint64_t lo, uint64_t hi, uint64_t *ret)
{
	char *end;
	if (!s || s[0] < '0' || s[0] > '9')
		return false;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v < lo || v > hi)
		return false;
	*ret = v;
	return true;
}

/* soft == hard: nothing after us can raise it again */
static void set_limit(int res, const char *name, rlim_t v)
{
	struct rlimit rl = { .rlim_cur = v, .rlim_max = v };
	if (setrlimit(res, &rl) < 0)
		fatal(name, errno);
}

/*
 * The drop, fatal on any failure.  What is kept: the network (the job),
 * read access to what nobody may read (CA certificates under /etc/ssl,
 * resolv.conf, NSS modules), stdout and stderr.
 */
static void drop_privileges(unsigned timeout_s)
{
	/* whoever started us; a change below means it died (see PDEATHSIG) */
	pid_t parent = getppid();

	/* only 0, 1 and 2 are ours; fetch.c closes the rest, a shell may not */
	close_range(3, ~0u, 0);

	set_limit(RLIMIT_CORE, "RLIMIT_CORE", 0);               /* no core of network bytes */
	set_limit(RLIMIT_NOFILE, "RLIMIT_NOFILE", FETCH_NOFILE);
	/* CPU seconds: an honest transfer spends far less than its wall-clock limit */
	struct rlimit cpu = { .rlim_cur = timeout_s + RF_FETCH_GRACE_S, .rlim_max = timeout_s + RF_FETCH_GRACE_S + 1 };
	if (setrlimit(RLIMIT_CPU, &cpu) < 0)
		fatal("RLIMIT_CPU", errno);

	uid_t ru, eu, su;
	gid_t rg, eg, sg;
	if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
		fatal("getresuid", errno);
	if (ru == 0 || eu == 0 || su == 0 || rg == 0 || eg == 0 || sg == 0) {
		/* no capability may come back through an exec, whatever the kernel or the binary */
		if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
			fatal("PR_CAP_AMBIENT_CLEAR_ALL", errno);
		for (int cap = 0; cap < 64; cap++)
			if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
				/* past the kernel's last capability, or no CAP_SETPCAP (a
				 * container): no_new_privs below keeps them out all the same */
				if (errno == EINVAL || errno == EPERM)
					break;
				fatal("PR_CAPBSET_DROP", errno);
			}
		/* root's groups, then gid, then uid: each step needs the one after it not done yet */
		if (setgroups(0, NULL) < 0)
			fatal("setgroups", errno);
		if (setresgid(NOBODY, NOBODY, NOBODY) < 0)
			fatal("setresgid", errno);
		if (setresuid(NOBODY, NOBODY, NOBODY) < 0)
			fatal("setresuid", errno);
		if (getresuid(&ru, &eu, &su) < 0 || ru != NOBODY || eu != NOBODY || su != NOBODY)
			fatalx(RF_FETCH_EXIT_IO, "verify uid: not nobody");
		if (getresgid(&rg, &eg, &sg) < 0 || rg != NOBODY || eg != NOBODY || sg != NOBODY)
			fatalx(RF_FETCH_EXIT_IO, "verify gid: not nogroup");
		if (setresuid(0, 0, 0) == 0 || errno != EPERM)
			fatalx(RF_FETCH_EXIT_IO, "verify: uid 0 could be regained");
	}
	/*
	 * Other processes of nobody must not ptrace or read us (the uid change
	 * cleared the flag already; say so).  A sanitizer's leak check ptraces
	 * its own process from a helper, which needs it set: test builds only.
	 */
#ifdef FETCH_SANITIZED
	if (prctl(PR_SET_DUMPABLE, 1, 0, 0, 0) < 0)
#else
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
#endif
		fatal("PR_SET_DUMPABLE", errno);
	/*
	 * Die with the fetcher.  fetch.c armed this before the exec, but a
	 * change of uid clears it: arm it again, then look whether the parent
	 * went away in between (we would have been reparented).
	 */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0)
		fatal("PR_SET_PDEATHSIG", errno);
	if (getppid() != parent)
		fatalx(RF_FETCH_EXIT_IO, "the parent process is gone");
	/* no exec may gain privileges; also lets us load a seccomp filter as nobody */
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		fatal("PR_SET_NO_NEW_PRIVS", errno);
}

/*
 * ---- The system call allowlist, loaded after curl_global_init ----
 * What a transfer needs: name resolution (glibc's NSS: files, DNS over UDP
 * and TCP, a local resolver or nscd over a unix socket), the threaded
 * resolver's thread, TCP, OpenSSL reading CA certificates, and writing the
 * body.  Everything else kills the process (fetch.c reports the signal).
 */
static const char *const fetch_syscalls[] = {
	/* descriptors: the body out, sockets, files of NSS and OpenSSL */
	"read", "write", "readv", "writev", "pread64", "lseek", "close", "fcntl", "dup", "dup2", "dup3",
	"pipe2", "eventfd2", "open", "openat", "fstat", "newfstatat", "stat", "lstat", "statx",
	"access", "faccessat", "faccessat2", "readlink", "readlinkat", "getdents64", "getcwd",
	/* waiting on sockets */
	"poll", "ppoll", "select", "pselect6", "epoll_create1", "epoll_ctl", "epoll_wait",
	"epoll_pwait",
	/* the network (socket(), below, only of the families a transfer uses) */
	"connect", "bind", "getsockname", "getpeername", "getsockopt", "setsockopt", "shutdown",
	"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "socketpair",
	/* memory, also for loading NSS modules */
	"brk", "mmap", "munmap", "mprotect", "mremap", "madvise",
	/* the resolver thread and its synchronisation (clone is checked below) */
	"futex", "set_robust_list", "get_robust_list", "set_tid_address", "rseq", "sched_yield",
	"sched_getaffinity", "arch_prctl", "prlimit64", "getrlimit",
	/* time, randomness, identity */
	"clock_gettime", "clock_getres", "clock_nanosleep", "nanosleep", "gettimeofday", "time",
	"getrandom", "getpid", "gettid", "getppid", "getuid", "geteuid", "getgid", "getegid",
	"getresuid", "getresgid", "getgroups", "uname", "sysinfo",
	/* signals: its own handlers and masks; raise() and abort() */
	"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack", "restart_syscall",
	"exit", "exit_group",
};

#define LOW32 0xffffffffull

static int allow(scmp_filter_ctx ctx, const char *name, unsigned n, const struct scmp_arg_cmp *cmp)
{
	int nr = seccomp_syscall_resolve_name(name);
	if (nr == __NR_SCMP_ERROR || nr < 0)
		return 0;   /* not on this architecture */
	return seccomp_rule_add_array(ctx, SCMP_ACT_ALLOW, nr, n, cmp);
}

static void load_filter(void)
{
#ifdef FETCH_SANITIZED
	return;   /* see FETCH_SANITIZED */
#endif
	scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_KILL_PROCESS);
	if (!ctx)
		fatalx(RF_FETCH_EXIT_IO, "seccomp_init failed");
	int r = seccomp_attr_set(ctx, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_KILL_PROCESS);
	for (size_t i = 0; r == 0 && i < sizeof fetch_syscalls / sizeof *fetch_syscalls; i++)
		r = allow(ctx, fetch_syscalls[i], 0, NULL);
	/* sockets of the Internet, unix (nscd, a local resolver) and route netlink (getaddrinfo's AI_ADDRCONFIG) */
	static const int families[] = { AF_INET, AF_INET6, AF_UNIX, AF_NETLINK };
	for (size_t i = 0; r == 0 && i < sizeof families / sizeof *families; i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)families[i]);
		r = allow(ctx, "socket", 1, &c);
	}
	/* threads, never processes: clone only with CLONE_THREAD; clone3's flags are in memory,
	 * where a filter cannot look, so it fails with ENOSYS and glibc falls back to clone */
	if (r == 0) {
		struct scmp_arg_cmp thr = SCMP_A0(SCMP_CMP_MASKED_EQ, CLONE_THREAD, CLONE_THREAD);
		r = allow(ctx, "clone", 1, &thr);
	}
	if (r == 0) {
		int nr = seccomp_syscall_resolve_name("clone3");
		if (nr >= 0)
			r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(ENOSYS), nr, 0);
	}
	/* signals to itself only: abort() */
	if (r == 0) {
		struct scmp_arg_cmp self = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)getpid());
		r = allow(ctx, "tgkill", 1, &self);
	}
	/* ioctl: bytes waiting on a socket, non-blocking mode, and isatty() of stdio */
	static const unsigned long ioctls[] = { FIONREAD, FIONBIO, TCGETS };
	for (size_t i = 0; r == 0 && i < sizeof ioctls / sizeof *ioctls; i++) {
		struct scmp_arg_cmp c = SCMP_A1(SCMP_CMP_MASKED_EQ, LOW32, ioctls[i]);
		r = allow(ctx, "ioctl", 1, &c);
	}
	/* prctl: naming threads (glibc, OpenSSL) */
	static const int prctls[] = { PR_SET_NAME, PR_GET_NAME };
	for (size_t i = 0; r == 0 && i < sizeof prctls / sizeof *prctls; i++) {
		struct scmp_arg_cmp c = SCMP_A0(SCMP_CMP_MASKED_EQ, LOW32, (uint64_t)prctls[i]);
		r = allow(ctx, "prctl", 1, &c);
	}
	if (r == 0)
		r = seccomp_load(ctx);
	seccomp_release(ctx);
	if (r < 0)
		fatal("seccomp", -r);
}

/* ---- the transfer ---- */

struct sink {
	CURL *curl;
	curl_off_t len, max;
	bool too_big, refused;
	int write_errno;
};

static size_t on_data(char *data, size_t size, size_t n, void *arg)
{
	struct sink *k = arg;
	size_t add = size * n;
	long code = 0;
	/* the body of an error answer is not wanted, however long */
	curl_easy_getinfo(k->curl, CURLINFO_RESPONSE_CODE, &code);
	if (code != 200) {
		k->refused = true;
		return 0;
	}
	/* the cap while receiving: an answer without Content-Length, or one that lies */
	if ((curl_off_t)add > k->max - k->len) {
		k->too_big = true;
		return 0;
	}
	int r = rf_write_all(STDOUT_FILENO, data, add);
	if (r < 0) {
		k->write_errno = -r;
		return 0;
	}
	k->len += (curl_off_t)add;
	return add;
}

int main(int argc, char **argv)
{
	uint64_t max = RF_TUF_TARGET_MAX, timeout = RF_FETCH_TIMEOUT_S;
	const char *url = NULL;
	bool opts = true;
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (opts && !strcmp(a, "--max")) {
			if (i + 1 >= argc || !parse_u64(argv[++i], 0, INT64_MAX, &max))
				usage("--max needs a number of bytes");
		} else if (opts && !strcmp(a, "--timeout")) {
			if (i + 1 >= argc || !parse_u64(argv[++i], 1, RF_FETCH_TIMEOUT_S, &timeout))
				usage("--timeout needs 1..60 seconds");
		} else if (opts && !strcmp(a, "--")) {
			opts = false;
		} else if (opts && a[0] == '-') {
			usage("unknown option");
		} else if (!url) {
			url = a;
		} else {
			usage("one URL only");
		}
	}
	if (!url)
		usage("no URL");
	bool https = strncmp(url, "https://", 8) == 0;
	if (!https && strncmp(url, "http://", 7) != 0)
		usage("the URL must be http:// or https://");
	url_shown = url;
	/* a closed pipe (fetch.c gave up) is an error from write(), not a signal */
	signal(SIGPIPE, SIG_IGN);

	drop_privileges((unsigned)timeout);

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		fatalx(RF_FETCH_EXIT_IO, "libcurl does not initialise");
	CURL *curl = curl_easy_init();
	if (!curl)
		fatalx(RF_FETCH_EXIT_IO, "libcurl does not initialise");
	long connect_s = timeout < RF_FETCH_CONNECT_TIMEOUT_S ? (long)timeout : RF_FETCH_CONNECT_TIMEOUT_S;
	struct sink k = { .curl = curl, .max = (curl_off_t)max };
	char cerr[CURL_ERROR_SIZE] = "";
	/* redirects only within the base's own protocol */
	if (curl_easy_setopt(curl, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_REDIR_PROTOCOLS_STR, https ? "https" : "http") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_FOLLOWLOCATION, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_MAXREDIRS, (long)RF_FETCH_MAX_REDIRECTS) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT, connect_s) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_TIMEOUT, (long)timeout) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_USERAGENT, "ringfence-tuf/1") != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)max) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, on_data) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_WRITEDATA, &k) != CURLE_OK ||
	    curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, cerr) != CURLE_OK)
		fatalx(RF_FETCH_EXIT_IO, "libcurl lacks a needed option (http/https only, timeouts)");

	load_filter();

	CURLcode rc = curl_easy_perform(curl);
	long code = 0;
	curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
	int ret = RF_FETCH_EXIT_IO;
	char msg[CURL_ERROR_SIZE + 64] = "";
	/* 403 too: object stores say so for a file that is not there (as python-tuf reads it) */
	if (code == 403 || code == 404 || code == 410) {
		ret = RF_FETCH_EXIT_MISSING;
		snprintf(msg, sizeof msg, "not found (HTTP %ld)", code);
	} else if (code != 200 && (rc == CURLE_OK || k.refused)) {
		snprintf(msg, sizeof msg, "HTTP %ld", code);
	} else if (rc == CURLE_FILESIZE_EXCEEDED || k.too_big) {
		ret = RF_FETCH_EXIT_TOO_BIG;
		snprintf(msg, sizeof msg, "more than %llu bytes", (unsigned long long)max);
	} else if (k.write_errno) {
		snprintf(msg, sizeof msg, "writing the body: %s", strerror(k.write_errno));
	} else if (rc != CURLE_OK) {
		snprintf(msg, sizeof msg, "%s", cerr[0] ? cerr : curl_easy_strerror(rc));
	} else {
		ret = RF_FETCH_EXIT_OK;
	}
	curl_easy_cleanup(curl);
	curl_global_cleanup();
	if (ret != RF_FETCH_EXIT_OK)
		fatalx(ret, "%s", msg);
	return RF_FETCH_EXIT_OK;
}
