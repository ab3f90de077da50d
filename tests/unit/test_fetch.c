/*
 * test_fetch.c - the http(s) fetcher of fetch.c without a network: a fake
 * rf-fetch (a shell script, through RF_FETCH) prints bytes, exits with each
 * code of the protocol (src/content/rf-fetch.h), dies of a signal, floods
 * stderr or sleeps, and the test checks what rf_tuf_source_fetch makes of
 * it: the error class, the message, the bound on bytes and time, and that
 * no process is left behind.  Also: how the helper is found, what it
 * inherits (arguments, descriptors, signal mask), that a parent reaping
 * every child with waitpid(-1) (the broker's loop) neither steals its
 * status nor sees it, and that the helper dies with the process that ran
 * it.
 *
 * The test process is a child subreaper, so that a helper orphaned by a
 * kill comes back to it and can be checked and reaped.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "content/rf-fetch.h"
#include "content/tuf.h"

#define BASE "http://fake.invalid/base/"
#define URL_OF(name) "http://fake.invalid/base/" name

static char dir[] = "/tmp/test_fetch.XXXXXX";
static char helper[128], pidfile[160], marker[160], sentinel[160];
static char err[256];

/* The fake rf-fetch; FAKE_MODE says what it does (the real one's exit codes: rf-fetch.h). */
static const char fake_script[] =
	"#!/bin/sh\n"
	"for a; do url=$a; done\n"
	"[ -n \"$FAKE_PIDFILE\" ] && echo $$ >\"$FAKE_PIDFILE.tmp\" && mv \"$FAKE_PIDFILE.tmp\" \"$FAKE_PIDFILE\"\n"
	"case \"$FAKE_MODE\" in\n"
	"bytes)   yes abcdefghi | head -c \"$FAKE_N\" ;;\n"
	"args)    printf '%s\\n' \"$@\" ;;\n"
	/* the mask first, with builtins only: a shell blocks signals while it forks */
	"inherit) while read -r l; do case $l in SigBlk*) echo \"$l\";; esac; done </proc/$$/status\n"
	"         for f in /proc/$$/fd/*; do readlink \"$f\"; done; exit 0 ;;\n"
	"marker)  touch \"$FAKE_MARKER\" ;;\n"
	"exit)    [ -n \"$FAKE_MSG\" ] && printf \"$FAKE_MSG\" \"$url\" >&2; exit \"$FAKE_CODE\" ;;\n"
	"signal)  kill -\"$FAKE_SIG\" $$ ;;\n"
	"endless) exec cat /dev/zero ;;\n"
	"flood)   yes eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee | head -c 1000000 >&2; exit 1 ;;\n"
	"sleep)   exec sleep 1000 ;;\n"
	"esac\n";

static int64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The pattern `yes abcdefghi` prints, n bytes of it. */
static bool is_pattern(const unsigned char *b, size_t n)
{
	static const char p[] = "abcdefghi\n";
	for (size_t i = 0; i < n; i++)
		if (b[i] != (unsigned char)p[i % 10])
			return false;
	return true;
}

/* Fetches name with max from a fresh source on BASE. */
static enum rf_tuf_err fetch(const char *name, size_t max, unsigned char **buf, size_t *len)
{
	struct rf_tuf_source *s = rf_tuf_source_open(BASE, err, sizeof err);
	assert_non_null(s);
	*buf = NULL;
	*len = 0;
	err[0] = '\0';
	enum rf_tuf_err e = rf_tuf_source_fetch(s, name, max, buf, len, err, sizeof err);
	rf_tuf_source_close(s);
	return e;
}

static void expect(enum rf_tuf_err got, enum rf_tuf_err want, const char *needle)
{
	if (got != want)
		fail_msg("got %s, want %s: %s", rf_tuf_err_name(got), rf_tuf_err_name(want), err);
	if (needle && !strstr(err, needle))
		fail_msg("message \"%s\" lacks \"%s\"", err, needle);
}

/*
 * Reaps what a kill orphaned (helpers come back to us, the subreaper) until
 * no child is left or wait_ms passed; returns how many, and the status of
 * pid in *ret_status when it was among them.
 */
static int reap_orphans(int wait_ms, pid_t pid, int *ret_status)
{
	int n = 0;
	int64_t end = now_ms() + wait_ms;
	for (;;) {
		int st;
		pid_t r = waitpid(-1, &st, WNOHANG | __WALL);
		if (r > 0) {
			n++;
			if (r == pid && ret_status)
				*ret_status = st;
			continue;
		}
		if (r < 0 && errno == ECHILD)
			return n;
		if (now_ms() > end)
			return n;
		usleep(10000);
	}
}

/* Nothing of ours is left: no child, running or dead (what the broker must never collect). */
static void assert_no_children(void)
{
	reap_orphans(2000, 0, NULL);
	errno = 0;
	assert_int_equal(waitpid(-1, NULL, WNOHANG | __WALL), -1);
	assert_int_equal(errno, ECHILD);
}

static void mode(const char *m)
{
	setenv("FAKE_MODE", m, 1);
}

static pid_t read_pidfile(int wait_ms)
{
	int64_t end = now_ms() + wait_ms;
	while (now_ms() < end) {
		FILE *f = fopen(pidfile, "r");
		int pid = 0;
		if (f) {
			int n = fscanf(f, "%d", &pid);
			fclose(f);
			if (n == 1 && pid > 0)
				return pid;
		}
		usleep(10000);
	}
	return -1;
}

static int setup(void **state)
{
	(void)state;
	setenv("RF_FETCH", helper, 1);
	unsetenv("RF_FETCH_TIMEOUT_S");
	unsetenv("FAKE_PIDFILE");
	unsetenv("FAKE_MSG");
	unlink(pidfile);
	return 0;
}

/* ---- finding the helper ---- */

static void test_helper_lookup(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("bytes");
	setenv("FAKE_N", "3", 1);
	/* next to the test binary there is no rf-fetch */
	unsetenv("RF_FETCH");
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "rf-fetch not found next to ");
	assert_non_null(strstr(err, "/test_fetch (set RF_FETCH)"));
	setenv("RF_FETCH", "rf-fetch", 1);
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "not an absolute path");
	setenv("RF_FETCH", "/nonexistent/rf-fetch", 1);
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "No such file");
	setenv("RF_FETCH", helper, 1);
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_OK, NULL);
	assert_int_equal(len, 3);
	free(buf);
	/* the transfer limit can be lowered, never raised or garbled */
	static const char *const bad[] = { "0", "61", "abc", "-1", "5s" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
		setenv("RF_FETCH_TIMEOUT_S", bad[i], 1);
		assert_null(rf_tuf_source_open(BASE, err, sizeof err));
		assert_non_null(strstr(err, "RF_FETCH_TIMEOUT_S"));
	}
	assert_no_children();
}

/* Names are checked before anything is started. */
static void test_names_first(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("marker");
	setenv("FAKE_MARKER", marker, 1);
	static const char *const bad[] = { "../x", "targets/../timestamp.json", "/etc/passwd", "a/b.json", "",
					   "targets/a b", "x?y=1" };
	for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
		expect(fetch(bad[i], 100, &buf, &len), RF_TUF_E_IO, "not a repository file name");
	assert_int_equal(access(marker, F_OK), -1);
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_OK, NULL);
	free(buf);
	assert_int_equal(access(marker, F_OK), 0);   /* the fake does run for a good name */
	unlink(marker);
	assert_no_children();
}

/* ---- exit 0: the body ---- */

static void test_body(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("bytes");
	/* empty, small, exactly max, and larger than the first buffer */
	static const size_t sizes[][2] = { { 0, 100 }, { 5000, 100000 }, { 777, 777 }, { 300000, 300000 },
					   { 200001, 1 << 20 } };
	for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
		char n[32];
		snprintf(n, sizeof n, "%zu", sizes[i][0]);
		setenv("FAKE_N", n, 1);
		expect(fetch("targets/c/1.rfb", sizes[i][1], &buf, &len), RF_TUF_OK, NULL);
		assert_non_null(buf);
		assert_int_equal(len, sizes[i][0]);
		assert_true(is_pattern(buf, len));
		free(buf);
	}
	assert_no_children();
}

/* rf-fetch gets the URL and the limits as arguments, stdin /dev/null, no other descriptor, no blocked signal. */
static void test_what_it_gets(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("args");
	expect(fetch("targets/c/1.rfb", 100, &buf, &len), RF_TUF_OK, NULL);
	static const char want[] = "--max\n100\n--timeout\n60\n--\n" URL_OF("targets/c/1.rfb") "\n";
	assert_int_equal(len, sizeof want - 1);
	assert_memory_equal(buf, want, len);
	free(buf);
	setenv("RF_FETCH_TIMEOUT_S", "7", 1);
	expect(fetch("2.root.json", 1048576, &buf, &len), RF_TUF_OK, NULL);
	static const char want7[] = "--max\n1048576\n--timeout\n7\n--\n" URL_OF("2.root.json") "\n";
	assert_int_equal(len, sizeof want7 - 1);
	assert_memory_equal(buf, want7, len);
	free(buf);

	/* a descriptor without close-on-exec and blocked signals, as the broker's worker has */
	int fd = open(sentinel, O_RDONLY | O_CREAT, 0600);
	assert_true(fd >= 0);
	sigset_t set, old;
	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGCHLD);
	assert_int_equal(pthread_sigmask(SIG_BLOCK, &set, &old), 0);
	mode("inherit");
	enum rf_tuf_err e = fetch("timestamp.json", 100000, &buf, &len);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	close(fd);
	expect(e, RF_TUF_OK, NULL);
	char *text = strndup((char *)buf, len);
	free(buf);
	assert_non_null(text);
	assert_non_null(strstr(text, "/dev/null\n"));
	assert_null(strstr(text, "sentinel"));
	assert_non_null(strstr(text, "SigBlk:\t0000000000000000\n"));
	free(text);
	assert_no_children();
}

/* ---- the exit codes ---- */

struct code_case {
	const char *code, *msg;
	enum rf_tuf_err want;
	const char *needle;
};

static void test_exit_codes(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("exit");
	static const struct code_case cases[] = {
		{ "3", "rf-fetch: %s: not found (HTTP 404)\n", RF_TUF_E_MISSING, URL_OF("timestamp.json") ": not found (HTTP 404)" },
		{ "3", NULL, RF_TUF_E_MISSING, URL_OF("timestamp.json") ": not found" },
		{ "4", "rf-fetch: %s: more than 100 bytes\n", RF_TUF_E_TOO_BIG, ": more than 100 bytes" },
		{ "4", NULL, RF_TUF_E_TOO_BIG, URL_OF("timestamp.json") ": more than 100 bytes" },
		{ "1", "rf-fetch: %s: Operation timed out after 60000 milliseconds\n", RF_TUF_E_IO, "timed out" },
		{ "1", NULL, RF_TUF_E_IO, "rf-fetch exited with status 1" },
		{ "2", "rf-fetch: --max needs a number\nUsage: rf-fetch ...\n", RF_TUF_E_IO, "--max needs a number" },
		{ "42", "rf-fetch: %s: odd\n", RF_TUF_E_IO, "rf-fetch exited with status 42" },
		{ "127", NULL, RF_TUF_E_IO, "cannot execute" },
		/* the helper's own line is preferred to other noise; bytes that are not text are replaced */
		{ "1", "==1==WARNING: noise\nrf-fetch: %s: HTTP 500\n", RF_TUF_E_IO, URL_OF("timestamp.json") ": HTTP 500" },
		{ "1", "rf-fetch: \033[31mred\001\n", RF_TUF_E_IO, "?[31mred?" },
		/* exit 0 is success whatever stderr says */
		{ "0", "rf-fetch: %s: just chatting\n", RF_TUF_OK, NULL },
	};
	for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
		setenv("FAKE_CODE", cases[i].code, 1);
		if (cases[i].msg)
			setenv("FAKE_MSG", cases[i].msg, 1);
		else
			unsetenv("FAKE_MSG");
		enum rf_tuf_err e = fetch("timestamp.json", 100, &buf, &len);
		if (e != cases[i].want || (cases[i].needle && !strstr(err, cases[i].needle)))
			fail_msg("case %zu (exit %s): got %s \"%s\"", i, cases[i].code, rf_tuf_err_name(e), err);
		if (cases[i].msg && cases[i].want != RF_TUF_OK)
			assert_null(strstr(err, "rf-fetch: "));   /* the prefix is dropped */
		if (e == RF_TUF_OK) {
			assert_int_equal(len, 0);
			free(buf);
		}
	}
	/* a long message is cut to the caller's buffer */
	setenv("FAKE_CODE", "1", 1);
	setenv("FAKE_MSG", "rf-fetch: %s: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\n", 1);
	struct rf_tuf_source *s = rf_tuf_source_open(BASE, err, sizeof err);
	assert_non_null(s);
	char small[32];
	memset(small, 'x', sizeof small);
	assert_int_equal(rf_tuf_source_fetch(s, "timestamp.json", 100, &buf, &len, small, sizeof small), RF_TUF_E_IO);
	assert_int_equal(strlen(small), sizeof small - 1);
	rf_tuf_source_close(s);
	assert_no_children();
}

static void test_signals(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("signal");
	setenv("FAKE_SIG", "SEGV", 1);
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "rf-fetch killed by signal 11 (SIGSEGV)");
	/* what the real one's seccomp filter does to a call off its list */
	setenv("FAKE_SIG", "SYS", 1);
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "seccomp");
	assert_no_children();
}

/* ---- bounds: bytes, stderr, time ---- */

static void test_too_much(void **state)
{
	unsigned char *buf;
	size_t len;
	/* a helper that ignores --max and exits 0: one byte more is refused */
	mode("bytes");
	setenv("FAKE_N", "1001", 1);
	expect(fetch("targets/c/1.rfb", 1000, &buf, &len), RF_TUF_E_TOO_BIG, "more than 1000 bytes");
	assert_no_children();
	/* one that never stops: cut at max + 1, and it is killed (it comes back to us, the subreaper) */
	mode("endless");
	setenv("FAKE_PIDFILE", pidfile, 1);
	int64_t t0 = now_ms();
	expect(fetch("targets/c/1.rfb", 1 << 20, &buf, &len), RF_TUF_E_TOO_BIG, "more than 1048576 bytes");
	assert_true(now_ms() - t0 < 3000);
	pid_t pid = read_pidfile(1000);
	assert_true(pid > 0);
	int st = 0;
	reap_orphans(3000, pid, &st);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_no_children();
	/* a megabyte on stderr: kept short, read away, no deadlock */
	unsetenv("FAKE_PIDFILE");
	mode("flood");
	t0 = now_ms();
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "eeee");
	assert_true(now_ms() - t0 < 5000);
	assert_no_children();
}

/* A helper that never answers is killed at --timeout + RF_FETCH_GRACE_S, and nothing is left. */
static void test_deadline(void **state)
{
	unsigned char *buf;
	size_t len;
	mode("sleep");
	setenv("FAKE_PIDFILE", pidfile, 1);
	setenv("RF_FETCH_TIMEOUT_S", "1", 1);
	int64_t t0 = now_ms();
	expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_E_IO, "no answer within 6 s (rf-fetch killed)");
	int64_t dt = now_ms() - t0;
	if (dt < 5900 || dt > 9000)
		fail_msg("the deadline came after %lld ms, not about 6000", (long long)dt);
	pid_t pid = read_pidfile(1000);
	assert_true(pid > 0);
	int st = 0;
	reap_orphans(3000, pid, &st);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_no_children();
}

/* ---- the parent's side ---- */

static atomic_bool stealing;
static atomic_int stolen;

/* The broker's loop: reaps every child it can see, all the time. */
static void *stealer(void *arg)
{
	(void)arg;
	while (atomic_load(&stealing)) {
		if (waitpid(-1, NULL, WNOHANG) > 0)
			atomic_fetch_add(&stolen, 1);
		usleep(200);
	}
	return NULL;
}

static void test_reaped_by_nobody_else(void **state)
{
	unsigned char *buf;
	size_t len;
	pthread_t t;
	atomic_store(&stealing, true);
	atomic_store(&stolen, 0);
	assert_int_equal(pthread_create(&t, NULL, stealer, NULL), 0);
	for (int i = 0; i < 10; i++) {
		mode("exit");
		setenv("FAKE_CODE", i % 2 ? "3" : "4", 1);
		expect(fetch("timestamp.json", 100, &buf, &len), i % 2 ? RF_TUF_E_MISSING : RF_TUF_E_TOO_BIG, NULL);
		mode("bytes");
		setenv("FAKE_N", "50", 1);
		expect(fetch("timestamp.json", 100, &buf, &len), RF_TUF_OK, NULL);
		assert_int_equal(len, 50);
		free(buf);
	}
	atomic_store(&stealing, false);
	pthread_join(t, NULL);
	assert_int_equal(atomic_load(&stolen), 0);
	assert_no_children();
}

/* The helper dies with the process that started it (the broker killed mid-download). */
static void test_parent_death(void **state)
{
	mode("sleep");
	setenv("FAKE_PIDFILE", pidfile, 1);
	pid_t c = fork();
	assert_true(c >= 0);
	if (c == 0) {
		unsigned char *buf;
		size_t len;
		fetch("timestamp.json", 100, &buf, &len);
		_exit(0);
	}
	pid_t pid = read_pidfile(3000);
	assert_true(pid > 0);
	assert_int_equal(kill(c, SIGKILL), 0);
	assert_int_equal(waitpid(c, NULL, 0), c);
	int st = 0;
	reap_orphans(3000, pid, &st);
	assert_true(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL);
	assert_no_children();
}

/* A directory needs no helper at all. */
static void test_local_needs_no_helper(void **state)
{
	unsigned char *buf;
	size_t len;
	char path[200], url[200];
	setenv("RF_FETCH", "/nonexistent/rf-fetch", 1);
	snprintf(path, sizeof path, "%s/timestamp.json", dir);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs("{}", f);
	fclose(f);
	snprintf(url, sizeof url, "file://%s", dir);
	struct rf_tuf_source *s = rf_tuf_source_open(url, err, sizeof err);
	assert_non_null(s);
	expect(rf_tuf_source_fetch(s, "timestamp.json", 10, &buf, &len, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(len, 2);
	free(buf);
	rf_tuf_source_close(s);
	unlink(path);
}

int main(void)
{
	if (!mkdtemp(dir))
		return 1;
	snprintf(helper, sizeof helper, "%s/fake-rf-fetch", dir);
	snprintf(pidfile, sizeof pidfile, "%s/pid", dir);
	snprintf(marker, sizeof marker, "%s/marker", dir);
	snprintf(sentinel, sizeof sentinel, "%s/sentinel", dir);
	FILE *f = fopen(helper, "w");
	if (!f || fputs(fake_script, f) < 0 || fclose(f) != 0 || chmod(helper, 0755) < 0)
		return 1;
	/* orphaned helpers come back to us, to be checked and reaped */
	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) < 0)
		return 1;
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_helper_lookup, setup),
		cmocka_unit_test_setup(test_names_first, setup),
		cmocka_unit_test_setup(test_body, setup),
		cmocka_unit_test_setup(test_what_it_gets, setup),
		cmocka_unit_test_setup(test_exit_codes, setup),
		cmocka_unit_test_setup(test_signals, setup),
		cmocka_unit_test_setup(test_too_much, setup),
		cmocka_unit_test_setup(test_deadline, setup),
		cmocka_unit_test_setup(test_reaped_by_nobody_else, setup),
		cmocka_unit_test_setup(test_parent_death, setup),
		cmocka_unit_test_setup(test_local_needs_no_helper, setup),
	};
	int r = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(helper);
	unlink(pidfile);
	unlink(sentinel);
	unlink(marker);
	rmdir(dir);
	return r;
}
