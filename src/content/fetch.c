/*
 * fetch.c - the repository fetchers of tuf.h: a local directory (a path or
 * a file:// URL), read in this process, and an http:// or https:// base
 * URL, read by rf-fetch (rf-fetch.c), one child process per file.
 *
 * Both read at most max bytes of a file and say RF_TUF_E_TOO_BIG when it
 * holds more, so an endless or oversized answer costs a bounded amount of
 * memory and, over the network, time (rf-fetch: connect 10 s, whole
 * transfer 60 s; here a hard deadline 5 s later, then SIGKILL).  Names
 * are those tuf.c asks for; anything with "..", a leading '/' or other
 * characters is refused before it reaches the file system or a URL.
 *
 * Why a process: libcurl, its TLS library and their dependencies would
 * parse the network's bytes inside the trusted broker, with root and every
 * descriptor the broker holds.  rf-fetch runs as nobody with a seccomp
 * allowlist and hands back only the body and an exit code (rf-fetch.h).
 *
 * How it is started.  This runs on the broker's content worker thread in a
 * multithreaded process whose event loop reaps every child it can see
 * (waitpid(-1)): it would take rf-fetch's exit status, and a pid it freed
 * could be reused before we kill it.  So the worker does not start rf-fetch
 * itself.  It clones a small reaper with no exit signal (a "clone child",
 * which waitpid without __WALL never returns), and only that reaper forks
 * and execs rf-fetch, waits for it and writes its wait status to a pipe.
 * Both children use only async-signal-safe calls (locks held by other
 * threads stay held in a copy), and both die when their parent dies
 * (PR_SET_PDEATHSIG): killing the reaper kills rf-fetch.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/sched.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "content/rf-fetch.h"
#include "content/tuf.h"

#define HELPER_NAME   "rf-fetch"
#define STDERR_KEEP   512      /* bytes of the helper's stderr kept for the message */

extern char **environ;

struct rf_tuf_source {
	int dirfd;                   /* a local directory, or -1 */
	char *base;                  /* else an http(s) base URL, without a trailing '/' */
	char *helper;                /* rf-fetch, an absolute path (found at the first fetch) */
	unsigned timeout_s;          /* rf-fetch's --timeout; the deadline adds RF_FETCH_GRACE_S */
};

/*
 * The helper: $RF_FETCH (an absolute path) or rf-fetch next to the running
 * program, as installed (/usr/sbin/ringfenced, /usr/sbin/rf-fetch) and as
 * built ($(B)/bin).  secure_getenv: a set-id program ignores both knobs.
 */
static char *find_helper(char *err, size_t errlen)
{
	const char *env = secure_getenv("RF_FETCH");
	char *path = NULL;
	if (env && env[0]) {
		if (env[0] != '/') {
			snprintf(err, errlen, "RF_FETCH=%s: not an absolute path", env);
			return NULL;
		}
		if (access(env, X_OK) < 0) {
			snprintf(err, errlen, "RF_FETCH=%s: %s", env, strerror(errno));
			return NULL;
		}
		if (!(path = strdup(env)))
			snprintf(err, errlen, "out of memory");
		return path;
	}
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0) {
		snprintf(err, errlen, "cannot find " HELPER_NAME ": /proc/self/exe: %s (set RF_FETCH)",
			 n < 0 ? strerror(errno) : "empty");
		return NULL;
	}
	exe[n] = '\0';
	char *slash = strrchr(exe, '/');
	if (!slash || asprintf(&path, "%.*s/" HELPER_NAME, (int)(slash - exe), exe) < 0) {
		snprintf(err, errlen, "cannot find " HELPER_NAME " next to %s (set RF_FETCH)", exe);
		return NULL;
	}
	if (access(path, X_OK) < 0) {
		snprintf(err, errlen, HELPER_NAME " not found next to %s (set RF_FETCH)", exe);
		free(path);
		return NULL;
	}
	return path;
}

/* RF_FETCH_TIMEOUT_S may only shorten the transfer's limit (tests of a silent server use it). */
static int fetch_timeout(unsigned *ret, char *err, size_t errlen)
{
	const char *env = secure_getenv("RF_FETCH_TIMEOUT_S");
	*ret = RF_FETCH_TIMEOUT_S;
	if (!env || !env[0])
		return 0;
	char *end;
	errno = 0;
	unsigned long v = strtoul(env, &end, 10);
	if (env[0] < '0' || env[0] > '9' || errno || *end || v < 1 || v > RF_FETCH_TIMEOUT_S) {
		snprintf(err, errlen, "RF_FETCH_TIMEOUT_S=%s: not 1..%d seconds", env, RF_FETCH_TIMEOUT_S);
		return -EINVAL;
	}
	*ret = (unsigned)v;
	return 0;
}

struct rf_tuf_source *rf_tuf_source_open(const char *location, char *err, size_t errlen)
{
	struct rf_tuf_source *s = calloc(1, sizeof *s);
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	s->dirfd = -1;
	if (strncmp(location, "https://", 8) == 0 || strncmp(location, "http://", 7) == 0) {
		size_t n = strlen(location);
		while (n > 0 && location[n - 1] == '/')
			n--;
		if (!(s->base = strndup(location, n))) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		/* the helper is looked for at the first fetch: opening touches nothing */
		if (fetch_timeout(&s->timeout_s, err, errlen) < 0)
			goto fail;
		return s;
	}
	const char *path = location;
	if (strncmp(location, "file://", 7) == 0) {
		path = location + 7;
		if (path[0] != '/') {
			snprintf(err, errlen, "%s: a file:// URL needs an absolute path (file:///dir)", location);
			goto fail;
		}
	} else if (strstr(location, "://")) {
		snprintf(err, errlen, "%s: unsupported scheme (a directory, file://, http:// or https://)",
			 location);
		goto fail;
	}
	s->dirfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (s->dirfd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		goto fail;
	}
	return s;
fail:
	rf_tuf_source_close(s);
	return NULL;
}

void rf_tuf_source_close(struct rf_tuf_source *s)
{
	if (!s)
		return;
	if (s->dirfd >= 0)
		close(s->dirfd);
	free(s->base);
	free(s->helper);
	free(s);
}

/* What tuf.c asks for: "timestamp.json", "N.root.json", "targets/<target name>". */
static bool valid_name(const char *name)
{
	if (strncmp(name, "targets/", 8) == 0)
		return rf_tuf_valid_target_name(name + 8);
	return strchr(name, '/') == NULL && rf_tuf_valid_target_name(name);
}

/* ---- the children: async-signal-safe calls only ---- */

/* Everything the children use, made before the clone: they allocate nothing. */
struct spawn {
	const char *helper;
	char *const *argv;
	pid_t parent;                /* this process */
	int out_w, err_w, st_w;      /* write ends: rf-fetch's stdout and stderr, the wait status */
	int null_fd;                 /* rf-fetch's stdin */
};

/* rf-fetch's side of the reaper's fork. */
static void __attribute__((noreturn)) exec_helper(const struct spawn *sp, pid_t reaper)
{
	static const char msg[] = HELPER_NAME ": cannot execute the helper\n";
	sigset_t none;
	sigemptyset(&none);
	/* the broker blocks what its signalfd reads; rf-fetch gets a clean mask */
	sigprocmask(SIG_SETMASK, &none, NULL);
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != reaper)
		_exit(127);
	/* up out of the way first: a pipe end may sit on 0, 1 or 2 already */
	int in = fcntl(sp->null_fd, F_DUPFD_CLOEXEC, 3), out = fcntl(sp->out_w, F_DUPFD_CLOEXEC, 3),
	    errfd = fcntl(sp->err_w, F_DUPFD_CLOEXEC, 3);
	if (in < 0 || out < 0 || errfd < 0 || dup2(in, 0) < 0 || dup2(out, 1) < 0 || dup2(errfd, 2) < 0)
		_exit(127);
	/* nothing the broker holds goes with it */
	close_range(3, ~0u, 0);
	execve(sp->helper, sp->argv, environ);
	ssize_t w = write(2, msg, sizeof msg - 1);
	(void)w;
	_exit(127);
}

/*
 * The reaper: a clone of the calling thread's process with no exit signal,
 * so that the broker's waitpid(-1) never sees it (and, never exec'd, it
 * keeps no exit signal).  It forks rf-fetch, waits for it and passes its
 * wait status on, so that only we learn it.
 */
static void __attribute__((noreturn)) run_reaper(const struct spawn *sp)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 || getppid() != sp->parent)
		_exit(1);
	pid_t self = getpid();
	pid_t pid = _Fork();
	if (pid == 0)
		exec_helper(sp, self);
	if (pid < 0)
		_exit(1);
	/* keep the status pipe only: the helper's pipes must close when it exits */
	if (sp->st_w > 0)
		close_range(0, (unsigned)sp->st_w - 1, 0);
	close_range((unsigned)sp->st_w + 1, ~0u, 0);
	int status;
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			_exit(1);
	ssize_t w = write(sp->st_w, &status, sizeof status);
	_exit(w == (ssize_t)sizeof status ? 0 : 1);
}

/* ---- the fetcher's side ---- */

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/*
 * The message for a failure: rf-fetch's own line (the first that starts
 * with "rf-fetch: ", else the first), without that prefix and with bytes
 * other than printable ASCII replaced, or fallback.
 */
static void helper_message(const char *kept, size_t n, char *err, size_t errlen, const char *fallback)
{
	static const char prefix[] = HELPER_NAME ": ";
	const size_t plen = sizeof prefix - 1;
	const char *first = NULL, *first_end = NULL, *p = kept, *end = kept + n;
	while (p < end) {
		const char *e = memchr(p, '\n', (size_t)(end - p));
		if (!e)
			e = end;
		if ((size_t)(e - p) > plen && !memcmp(p, prefix, plen)) {
			first = p + plen;
			first_end = e;
			break;
		}
		if (e > p && !first) {
			first = p;
			first_end = e;
		}
		p = e + 1;
	}
	if (!first) {
		snprintf(err, errlen, "%s", fallback);
		return;
	}
	if (errlen == 0)
		return;
	size_t len = (size_t)(first_end - first);
	if (len > errlen - 1)
		len = errlen - 1;
	for (size_t i = 0; i < len; i++)
		err[i] = first[i] >= 0x20 && first[i] < 0x7f ? first[i] : '?';
	err[len] = '\0';
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static enum rf_tuf_err http_fetch(struct rf_tuf_source *s, const char *name, size_t max,
				  unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen)
{
	enum rf_tuf_err e = RF_TUF_E_IO;
	char *url = NULL;
	unsigned char *buf = NULL;
	size_t len = 0, cap = 0;
	int out[2] = { -1, -1 }, errp[2] = { -1, -1 }, st[2] = { -1, -1 }, null_fd = -1;
	/* rf-fetch's cap is ours; one byte more than max is how we see a helper that ignores it */
	size_t want = max < SIZE_MAX ? max + 1 : max;

	if (!s->helper && !(s->helper = find_helper(err, errlen)))
		return RF_TUF_E_IO;
	if (asprintf(&url, "%s/%s", s->base, name) < 0) {
		url = NULL;
		snprintf(err, errlen, "%s: out of memory", name);
		return RF_TUF_E_IO;
	}
	char maxs[24], timeouts[16];
	snprintf(maxs, sizeof maxs, "%zu", max);
	snprintf(timeouts, sizeof timeouts, "%u", s->timeout_s);
	char *argv[] = { HELPER_NAME, "--max", maxs, "--timeout", timeouts, "--", url, NULL };

	if (pipe2(out, O_CLOEXEC) < 0 || pipe2(errp, O_CLOEXEC) < 0 || pipe2(st, O_CLOEXEC) < 0 ||
	    (null_fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
		snprintf(err, errlen, "%s: cannot start " HELPER_NAME ": %s", url, strerror(errno));
		goto out;
	}
	struct spawn sp = {
		.helper = s->helper, .argv = argv, .parent = getpid(),
		.out_w = out[1], .err_w = errp[1], .st_w = st[1], .null_fd = null_fd,
	};
	/* like fork, but exit_signal 0: see the top of this file */
	struct clone_args ca = { .exit_signal = 0 };
	pid_t reaper = (pid_t)syscall(SYS_clone3, &ca, sizeof ca);
	if (reaper == 0)
		run_reaper(&sp);
	if (reaper < 0) {
		snprintf(err, errlen, "%s: cannot start " HELPER_NAME ": clone3: %s", url, strerror(errno));
		goto out;
	}
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&st[1]);
	close_fd(&null_fd);

	char kept[STDERR_KEEP];
	size_t nkept = 0;
	unsigned char stbuf[sizeof(int)];
	size_t nst = 0;
	bool too_big = false, timed_out = false, nomem = false;
	int64_t deadline = now_ms() + ((int64_t)s->timeout_s + RF_FETCH_GRACE_S) * 1000;

	/* until rf-fetch's pipes and the reaper's close, or the deadline, or too much */
	while (out[0] >= 0 || errp[0] >= 0 || st[0] >= 0) {
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			timed_out = true;
			break;
		}
		struct pollfd p[3] = {
			{ .fd = out[0], .events = POLLIN },
			{ .fd = errp[0], .events = POLLIN },
			{ .fd = st[0], .events = POLLIN },
		};
		int n = poll(p, 3, left > INT_MAX ? INT_MAX : (int)left);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;   /* not expected; kill and report below */
		}
		if (p[0].revents) {
			if (len == cap) {
				/* len <= max < want here, so the buffer can still grow */
				size_t ncap = cap ? cap * 2 : 65536;
				if (ncap > want || ncap < cap)
					ncap = want;
				unsigned char *nbuf = realloc(buf, ncap);
				if (!nbuf) {
					nomem = true;
					break;
				}
				buf = nbuf;
				cap = ncap;
			}
			ssize_t r = read(out[0], buf + len, cap - len);
			if (r > 0)
				len += (size_t)r;
			else if (r == 0 || (errno != EINTR && errno != EAGAIN))
				close_fd(&out[0]);
			if (len > max) {
				too_big = true;
				break;
			}
		}
		if (p[1].revents) {
			char tmp[4096];
			ssize_t r = read(errp[0], tmp, sizeof tmp);
			if (r > 0) {
				/* keep the start; read the rest away so rf-fetch never blocks on it */
				size_t take = (size_t)r < sizeof kept - nkept ? (size_t)r : sizeof kept - nkept;
				memcpy(kept + nkept, tmp, take);
				nkept += take;
			} else if (r == 0 || (errno != EINTR && errno != EAGAIN)) {
				close_fd(&errp[0]);
			}
		}
		if (p[2].revents) {
			ssize_t r = read(st[0], stbuf + nst, sizeof stbuf - nst);
			if (r > 0)
				nst += (size_t)r;
			if (r == 0 || nst == sizeof stbuf || (r < 0 && errno != EINTR && errno != EAGAIN))
				close_fd(&st[0]);
		}
	}
	bool finished = out[0] < 0 && errp[0] < 0 && st[0] < 0;
	/* the reaper's death takes rf-fetch with it (PR_SET_PDEATHSIG) */
	if (!finished)
		kill(reaper, SIGKILL);
	while (waitpid(reaper, NULL, __WALL) < 0 && errno == EINTR)
		;

	if (too_big) {
		e = RF_TUF_E_TOO_BIG;
		snprintf(err, errlen, "%s: more than %zu bytes", url, max);
	} else if (nomem) {
		snprintf(err, errlen, "%s: out of memory", url);
	} else if (timed_out) {
		snprintf(err, errlen, "%s: no answer within %u s (" HELPER_NAME " killed)", url,
			 s->timeout_s + RF_FETCH_GRACE_S);
	} else if (!finished || nst != sizeof stbuf) {
		snprintf(err, errlen, "%s: " HELPER_NAME " did not run", url);
	} else {
		int status;
		memcpy(&status, stbuf, sizeof status);
		char fallback[160];
		if (WIFSIGNALED(status)) {
			int sig = WTERMSIG(status);
			const char *abbrev = sigabbrev_np(sig);
			snprintf(err, errlen, "%s: " HELPER_NAME " killed by signal %d (SIG%s%s)", url, sig,
				 abbrev ? abbrev : "?", sig == SIGSYS ? ": a system call off its seccomp list" : "");
		} else if (!WIFEXITED(status)) {
			snprintf(err, errlen, "%s: " HELPER_NAME " did not exit", url);
		} else {
			switch (WEXITSTATUS(status)) {
			case RF_FETCH_EXIT_OK:
				e = RF_TUF_OK;
				break;
			case RF_FETCH_EXIT_MISSING:
				e = RF_TUF_E_MISSING;
				snprintf(fallback, sizeof fallback, "%.120s: not found", url);
				helper_message(kept, nkept, err, errlen, fallback);
				break;
			case RF_FETCH_EXIT_TOO_BIG:
				e = RF_TUF_E_TOO_BIG;
				snprintf(fallback, sizeof fallback, "%.120s: more than %zu bytes", url, max);
				helper_message(kept, nkept, err, errlen, fallback);
				break;
			case RF_FETCH_EXIT_IO:
			case RF_FETCH_EXIT_USAGE:
				snprintf(fallback, sizeof fallback, "%.120s: " HELPER_NAME " exited with status %d", url,
					 WEXITSTATUS(status));
				helper_message(kept, nkept, err, errlen, fallback);
				break;
			case 127:
				snprintf(err, errlen, "%s: cannot execute %s", url, s->helper);
				break;
			default:
				/* not the protocol: a sanitizer's report, or not rf-fetch at all */
				snprintf(err, errlen, "%s: " HELPER_NAME " exited with status %d", url, WEXITSTATUS(status));
				break;
			}
		}
	}
out:
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&st[0]);
	close_fd(&st[1]);
	close_fd(&null_fd);
	if (e == RF_TUF_OK) {
		if (!buf && !(buf = malloc(1))) {
			snprintf(err, errlen, "%s: out of memory", url);
			e = RF_TUF_E_IO;
		} else {
			*ret_buf = buf;
			*ret_len = len;
			buf = NULL;
		}
	}
	free(buf);
	free(url);
	return e;
}

enum rf_tuf_err rf_tuf_source_fetch(void *source, const char *name, size_t max, unsigned char **ret_buf,
				    size_t *ret_len, char *err, size_t errlen)
{
	struct rf_tuf_source *s = source;
	if (!valid_name(name)) {
		snprintf(err, errlen, "%.64s: not a repository file name", name);
		return RF_TUF_E_IO;
	}
	if (s->base)
		return http_fetch(s, name, max, ret_buf, ret_len, err, errlen);
	return rf_tuf_read_file(s->dirfd, name, max, O_NOFOLLOW, ret_buf, ret_len, err, errlen);
}
