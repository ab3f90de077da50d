/*
 * test_config.c - the broker configuration and client manifests
 * (src/broker/config.c): the documented examples parse to the right values,
 * and every error names its line and leaves the output untouched.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "broker/config.h"
#include "ringfence/ringfence.h"

/* The configuration the integration tests write (tests/integration/lib.sh), comments and all. */
static const char example_config[] =
	"[broker]\n"
	"state_dir = /tmp/rf/run          # control socket and runtime files\n"
	"watch = /tmp/rf                  # AUTH marks only on this path's filesystem\n"
	"clients_dir = /tmp/rf/clients.d\n"
	"[auth]\n"
	"exec_deadline_ms = 1000\n"
	"open_deadline_ms = 250\n"
	"default_verdict = allow\n";

static const char example_manifest[] =
	"[client]\n"
	"name = deny\n"
	"exec = /opt/rf/bin/rf-example-deny-exec\n"
	"args = *evil*\n"
	"subscribe = auth_exec\n"
	"mode = enforce\n";

static int parse(const char *text, struct rf_config *c)
{
	return rf_config_parse(text, strlen(text), c);
}

static void test_config_example(void **state)
{
	struct rf_config *c = malloc(sizeof *c);
	assert_non_null(c);
	rf_config_defaults(c);
	c->default_verdict = RF_DENY;    /* must be overwritten by the text */
	c->exec_deadline_ms = 1;
	assert_int_equal(parse(example_config, c), 0);
	assert_string_equal(c->state_dir, "/tmp/rf/run");
	assert_int_equal(c->nwatch, 1);
	assert_string_equal(c->watch[0], "/tmp/rf");
	assert_string_equal(c->clients_dir, "/tmp/rf/clients.d");
	assert_int_equal(c->exec_deadline_ms, 1000);
	assert_int_equal(c->open_deadline_ms, 250);
	assert_int_equal(c->default_verdict, RF_ALLOW);
	/* untouched keys keep their defaults */
	assert_true(c->cache);
	assert_true(c->ebpf);
	assert_int_equal(c->ring_kib, 1024);
	assert_int_equal(c->max_pending, 4096);
	assert_int_equal(c->nmute_exe, 0);
	free(c);
}

static void test_config_all_keys(void **state)
{
	static const char text[] =
		"; a comment\n"
		"# another\n"
		"[broker]\n"
		"watch = /a /b\t/c   # three\n"
		"watch = /d\n"
		"ring_kib = 256\n"
		"mute_exe = /usr/lib/systemd#not-a-comment\n"
		"[auth]\n"
		"default_verdict = deny\n"
		"cache = no\n"
		"max_pending = 16\n"
		"[sensors]\n"
		"ebpf = off\n"
		"proc_connector = false\n"
		"file_events = 0\n"
		"replay = /var/tmp/rec.rfrec\n"
		"replay_loops = 3\n";
	struct rf_config *c = malloc(sizeof *c);
	assert_non_null(c);
	rf_config_defaults(c);
	assert_int_equal(parse(text, c), 0);
	assert_int_equal(c->nwatch, 4);
	assert_string_equal(c->watch[0], "/a");
	assert_string_equal(c->watch[2], "/c");
	assert_string_equal(c->watch[3], "/d");
	assert_int_equal(c->ring_kib, 256);
	assert_int_equal(c->nmute_exe, 1);
	assert_string_equal(c->mute_exe[0], "/usr/lib/systemd#not-a-comment");   /* '#' only after a blank */
	assert_int_equal(c->default_verdict, RF_DENY);
	assert_false(c->cache);
	assert_int_equal(c->max_pending, 16);
	assert_false(c->ebpf);
	assert_false(c->proc_connector);
	assert_false(c->file_events);
	assert_string_equal(c->replay, "/var/tmp/rec.rfrec");
	assert_int_equal(c->replay_loops, 3);

	/* a second parse replaces the lists, it does not append to them */
	assert_int_equal(parse("[broker]\nwatch = /x\n", c), 0);
	assert_int_equal(c->nwatch, 1);
	assert_string_equal(c->watch[0], "/x");
	assert_int_equal(c->nmute_exe, 0);
	free(c);
}

/*
 * Parses text over a configuration that already holds the example, expects
 * -EINVAL, an error naming want_line and containing want_word, and every
 * field but err unchanged.
 */
static void config_refused(const char *text, int want_line, const char *want_word)
{
	struct rf_config *c = malloc(sizeof *c), *before = malloc(sizeof *c);
	assert_non_null(c);
	assert_non_null(before);
	rf_config_defaults(c);
	assert_int_equal(parse(example_config, c), 0);
	*before = *c;
	int r = parse(text, c);
	if (r != -EINVAL)
		fail_msg("accepted (%d): %s", r, text);
	char line[32];
	snprintf(line, sizeof line, "line %d:", want_line);
	if (!strstr(c->err, line) || (want_word && !strstr(c->err, want_word)))
		fail_msg("error \"%s\" does not name %s / %s", c->err, line, want_word ? want_word : "");
	memcpy(before->err, c->err, sizeof c->err);
	assert_memory_equal(before, c, sizeof *c);
	free(c);
	free(before);
}

static void test_config_errors(void **state)
{
	config_refused("[broker]\nstate_dir = /x\nbogus = 1\n", 3, "bogus");
	config_refused("[broker]\nwatch = /x\n[nonsense]\nkey = 1\n", 4, "nonsense");
	config_refused("[auth]\nexec_deadline_ms = 12x\n", 2, "exec_deadline_ms");
	config_refused("[auth]\nexec_deadline_ms = 0\n", 2, "exec_deadline_ms");
	config_refused("[auth]\nopen_deadline_ms = 60001\n", 2, "open_deadline_ms");
	config_refused("[auth]\nopen_deadline_ms = -5\n", 2, "open_deadline_ms");
	config_refused("[auth]\nopen_deadline_ms = 99999999999999999999999\n", 2, "open_deadline_ms");
	config_refused("[auth]\nopen_deadline_ms =\n", 2, "open_deadline_ms");
	config_refused("[auth]\nmax_pending = 15\n", 2, "max_pending");
	config_refused("[auth]\ndefault_verdict = maybe\n", 2, "default_verdict");
	config_refused("[auth]\ncache = perhaps\n", 2, "cache");
	config_refused("[broker]\nring_kib = 100\n", 2, "ring_kib");        /* not a power of two */
	config_refused("[broker]\nring_kib = 32\n", 2, "ring_kib");
	config_refused("[broker]\nstate_dir = relative/path\n", 2, "state_dir");
	config_refused("[broker]\nwatch = /ok relative\n", 2, "watch");
	config_refused("[broker]\nwatch = /1 /2 /3 /4 /5 /6 /7 /8\nwatch = /9 /10 /11 /12 /13 /14 /15 /16 /17\n",
		       3, "watch");
	config_refused("[sensors]\nreplay_loops = 1000001\n", 2, "replay_loops");
	config_refused("key = before any section\n", 1, NULL);
	config_refused("[broker]\nthis line has no equals sign\n", 2, NULL);
	config_refused("[broker\nstate_dir = /x\n", 1, NULL);
	/* the first error is the one reported */
	config_refused("[auth]\nexec_deadline_ms = 5\nbad1 = 1\nbad2 = 2\n", 3, "bad1");
	/* a value longer than a line may be is refused, not cut */
	char big[512];
	int n = snprintf(big, sizeof big, "[broker]\nstate_dir = /");
	memset(big + n, 'd', 300);
	strcpy(big + n + 300, "\nwatch = /x\n");
	config_refused(big, 2, "longer");
	/* ... while the longest line inih reads whole (198 bytes) keeps its full value */
	struct rf_config *lc = malloc(sizeof *lc);
	assert_non_null(lc);
	rf_config_defaults(lc);
	n = snprintf(big, sizeof big, "[broker]\nstate_dir = /");
	int head = n - (int)strlen("[broker]\n");
	memset(big + n, 'd', (size_t)(198 - head));
	strcpy(big + n + 198 - head, "\n");
	assert_int_equal(parse(big, lc), 0);
	assert_int_equal(strlen(lc->state_dir), 198 - strlen("state_dir = "));
	memcpy(big + n + 198 - head, "d\n", 3);
	assert_int_equal(parse(big, lc), -EINVAL);
	assert_non_null(strstr(lc->err, "line 2:"));
	free(lc);

	/* not text: an embedded NUL */
	struct rf_config *c = malloc(sizeof *c);
	assert_non_null(c);
	rf_config_defaults(c);
	static const char nul[] = "[broker]\nstate_dir = /x\0\nwatch = /y\n";
	assert_int_equal(rf_config_parse(nul, sizeof nul - 1, c), -EINVAL);
	assert_string_equal(c->state_dir, "/run/ringfence");
	/* the length is honoured: the text need not be NUL terminated */
	static const char cut[] = "[broker]\nstate_dir = /abcdef";
	assert_int_equal(rf_config_parse(cut, sizeof cut - 4, c), 0);
	assert_string_equal(c->state_dir, "/abc");
	/* the built-in default parses */
	rf_config_defaults(c);
	assert_int_equal(parse(rf_config_embedded_default, c), 0);
	assert_string_equal(c->state_dir, "/run/ringfence");
	free(c);
}

/* ---- manifests ---- */

static int mparse(const char *text, struct rf_manifest *m, char *err, size_t errlen)
{
	return rf_manifest_parse(text, strlen(text), m, err, errlen);
}

static void test_manifest_example(void **state)
{
	struct rf_manifest *m = malloc(sizeof *m);
	assert_non_null(m);
	memset(m, 0xee, sizeof *m);
	char err[256] = "";
	assert_int_equal(mparse(example_manifest, m, err, sizeof err), 0);
	assert_string_equal(m->name, "deny");
	assert_string_equal(m->exec, "/opt/rf/bin/rf-example-deny-exec");
	assert_int_equal(m->argc, 2);
	assert_ptr_equal(m->argv[0], m->exec);
	assert_string_equal(m->argv[1], "*evil*");
	assert_null(m->argv[2]);
	/* argv points into the returned struct itself */
	assert_true((char *)m->argv[1] >= (char *)m && (char *)m->argv[1] < (char *)(m + 1));
	assert_int_equal(m->auth_allowed, 1ull << RF_EVENT_EXEC);
	assert_true(m->notify_allowed & (1ull << RF_EVENT_EXEC));   /* AUTH implies NOTIFY */
	assert_false(m->notify_allowed & (1ull << RF_EVENT_FORK));
	assert_true(m->enforce);
	assert_int_equal(m->exec_deadline_ms, 0);
	free(m);
}

static void test_manifest_variants(void **state)
{
	struct rf_manifest *m = malloc(sizeof *m);
	assert_non_null(m);
	char err[256];

	/* no subscribe line: every notification, no AUTH; no args; monitor by default */
	assert_int_equal(mparse("[client]\nname = a.b-c_9\nexec = /bin/true\n", m, err, sizeof err), 0);
	assert_int_equal(m->argc, 1);
	assert_ptr_equal(m->argv[0], m->exec);
	assert_null(m->argv[1]);
	assert_int_equal(m->auth_allowed, 0);
	assert_int_equal(m->notify_allowed, ((1ull << RF_EVENT_MAX) - 1) & ~1ull);
	assert_false(m->enforce);

	assert_int_equal(mparse("[client]\nname = x\nexec = /bin/true\n"
				"subscribe = auth_open, notify_fork exit\n"
				"subscribe = auth_exec\n"
				"args = -a\t-b   -c   # trailing comment\n"
				"mode = monitor\nexec_deadline_ms = 50\nopen_deadline_ms = 60000\n",
				m, err, sizeof err), 0);
	assert_int_equal(m->auth_allowed, (1ull << RF_EVENT_OPEN) | (1ull << RF_EVENT_EXEC));
	assert_int_equal(m->notify_allowed, (1ull << RF_EVENT_OPEN) | (1ull << RF_EVENT_EXEC) |
					    (1ull << RF_EVENT_FORK) | (1ull << RF_EVENT_EXIT));
	assert_int_equal(m->argc, 4);
	assert_string_equal(m->argv[1], "-a");
	assert_string_equal(m->argv[2], "-b");
	assert_string_equal(m->argv[3], "-c");
	assert_null(m->argv[4]);
	assert_int_equal(m->exec_deadline_ms, 50);
	assert_int_equal(m->open_deadline_ms, 60000);

	/* exactly RF_MAX_ARGS arguments fit */
	char text[1024];
	int n = snprintf(text, sizeof text, "[client]\nname = x\nexec = /bin/true\nargs =");
	for (int i = 0; i < RF_MAX_ARGS; i++)
		n += snprintf(text + n, sizeof text - (size_t)n, " %c", 'a' + i % 26);
	snprintf(text + n, sizeof text - (size_t)n, "\n");
	assert_int_equal(mparse(text, m, err, sizeof err), 0);
	assert_int_equal(m->argc, RF_MAX_ARGS + 1);
	assert_null(m->argv[RF_MAX_ARGS + 1]);
	assert_string_equal(m->argv[RF_MAX_ARGS], "f");     /* the 32nd: 'a' + 31 % 26 */
	free(m);
}

/* Expects -EINVAL, a reason containing want, and *ret untouched. */
static void manifest_refused(const char *text, const char *want)
{
	struct rf_manifest *m = malloc(sizeof *m), *pattern = malloc(sizeof *m);
	assert_non_null(m);
	assert_non_null(pattern);
	memset(m, 0xee, sizeof *m);
	memset(pattern, 0xee, sizeof *m);
	char err[256] = "";
	int r = mparse(text, m, err, sizeof err);
	if (r != -EINVAL)
		fail_msg("manifest accepted (%d): %s", r, text);
	if (want && !strstr(err, want))
		fail_msg("error \"%s\" does not mention \"%s\"", err, want);
	assert_memory_equal(m, pattern, sizeof *m);
	free(m);
	free(pattern);
}

static void test_manifest_errors(void **state)
{
	manifest_refused("[client]\nexec = /bin/true\n", "name");
	manifest_refused("[client]\nname = x\n", "exec");
	manifest_refused("[client]\nname = x\nexec = bin/true\n", "line 3");
	manifest_refused("[client]\nname = x\nexec = ./true\n", "exec");
	manifest_refused("[client]\nname = x\nexec = /bin/true\nsubscribe = auth_exec, nosuch\n", "line 4");
	manifest_refused("[client]\nname = x\nexec = /bin/true\nsubscribe = auth_fork\n", "subscribe");
	manifest_refused("[client]\nname = x\nexec = /bin/true\nsubscribe = auth_all\n", "subscribe");
	manifest_refused("[client]\nname = x\nexec = /bin/true\nmode = sometimes\n", "mode");
	manifest_refused("[client]\nname = x\nexec = /bin/true\nexec_deadline_ms = 0\n", "line 4");
	manifest_refused("[client]\nname = has space\nexec = /bin/true\n", "name");
	manifest_refused("[client]\nname = sl/ash\nexec = /bin/true\n", "name");
	manifest_refused("[client]\nname = x\nexec = /bin/true\nuser = nobody\n", "user");
	manifest_refused("[broker]\nname = x\nexec = /bin/true\n", "section");
	char name[128] = "[client]\nexec = /bin/true\nname = ";
	size_t n = strlen(name);
	memset(name + n, 'n', RF_NAME_MAX);
	strcpy(name + n + RF_NAME_MAX, "\n");
	manifest_refused(name, "name");

	/* one argument too many */
	char text[1024];
	int k = snprintf(text, sizeof text, "[client]\nname = x\nexec = /bin/true\nargs =");
	for (int i = 0; i < RF_MAX_ARGS + 1; i++)
		k += snprintf(text + k, sizeof text - (size_t)k, " %c", 'a' + i % 26);
	snprintf(text + k, sizeof text - (size_t)k, "\n");
	manifest_refused(text, "args");
}

/*
 * The contract of struct rf_manifest: argv[1..] point into the struct's own
 * args_buf, so a plain copy (struct assignment, memcpy, qsort) still points
 * into the ORIGINAL.  A copy is usable on its own only after rebasing each
 * argv entry by the distance between the two structs, which is what
 * rf_manifest_parse() does for *ret and bclient.c does for each client.
 */
static void test_manifest_copy_contract(void **state)
{
	struct rf_manifest *orig = malloc(sizeof *orig), *copy = malloc(sizeof *copy);
	assert_non_null(orig);
	assert_non_null(copy);
	char err[256];
	assert_int_equal(mparse("[client]\nname = x\nexec = /bin/echo\nargs = one two\n", orig, err,
				sizeof err), 0);

	*copy = *orig;
	/* the plain copy still points into orig */
	for (unsigned i = 0; i < copy->argc; i++)
		assert_ptr_equal(copy->argv[i], orig->argv[i]);
	assert_true(copy->argv[1] >= orig->args_buf && copy->argv[1] < orig->args_buf + sizeof orig->args_buf);
	assert_ptr_equal(copy->argv[0], orig->exec);

	/* rebased, it points into itself and survives the original */
	for (unsigned i = 0; i < copy->argc; i++)
		copy->argv[i] = (char *)copy + ((char *)orig->argv[i] - (char *)orig);
	assert_null(copy->argv[copy->argc]);
	memset(orig, 0, sizeof *orig);
	free(orig);
	assert_ptr_equal(copy->argv[0], copy->exec);
	assert_string_equal(copy->argv[0], "/bin/echo");
	assert_string_equal(copy->argv[1], "one");
	assert_string_equal(copy->argv[2], "two");
	assert_true(copy->argv[2] >= copy->args_buf && copy->argv[2] < copy->args_buf + sizeof copy->args_buf);
	free(copy);
}


/* [content] and the managed-content keys of a manifest */
static void test_content_keys(void **state)
{
	struct rf_config *c = malloc(sizeof *c);
	assert_non_null(c);
	rf_config_defaults(c);
	assert_string_equal(c->content_store, "/var/lib/ringfence/content");
	assert_string_equal(c->content_cohort, "broad");
	assert_int_equal(c->healthy_s, 600);
	assert_int_equal(parse("[content]\nrepository = https://u.example/repo\nroot = /etc/rf/root.json\n"
			       "store = /srv/store\ncohort = canary\ninterval_s = 0\ndelay_hours = 12\n"
			       "paused = yes\ntrial_window = 16\ntrial_settle_ms = 0\ntrial_timeout_ms = 5000\n"
			       "trial_max_alerts = 3\ntrial_max_miss_percent = 0\nhealthy_s = 5\nrevert_deaths = 1\n",
			       c), 0);
	assert_string_equal(c->content_repo, "https://u.example/repo");
	assert_string_equal(c->content_root, "/etc/rf/root.json");
	assert_string_equal(c->content_store, "/srv/store");
	assert_string_equal(c->content_cohort, "canary");
	assert_int_equal(c->content_interval_s, 0);
	assert_int_equal(c->content_delay_h, 12);
	assert_true(c->content_paused);
	assert_int_equal(c->trial_window, 16);
	assert_int_equal(c->trial_timeout_ms, 5000);
	assert_int_equal(c->trial_max_alerts, 3);
	assert_int_equal(c->healthy_s, 5);
	assert_int_equal(c->revert_deaths, 1);
	free(c);
	config_refused("[content]\nrepository = ftp://x/\n", 2, "repository");
	config_refused("[content]\nrepository = relative/dir\n", 2, "repository");
	config_refused("[content]\ncohort = Canary!\n", 2, "cohort");
	config_refused("[content]\nhealthy_s = 0\n", 2, "healthy_s");
	config_refused("[content]\ntrial_max_miss_percent = 101\n", 2, "trial_max_miss_percent");
	config_refused("[content]\nstore = var/lib\n", 2, "store");

	struct rf_manifest *m = malloc(sizeof *m);
	assert_non_null(m);
	char err[256];
	const char *text = "[client]\nname = d\nexec = /bin/d\ncontent = managed\ncontent_abi = 3\n"
			   "content_initial = /usr/share/d.rfb\ncontent_pin = 7\n";
	assert_int_equal(rf_manifest_parse(text, strlen(text), m, err, sizeof err), 0);
	assert_true(m->managed);
	assert_int_equal(m->content_abi, 3);
	assert_string_equal(m->content_initial, "/usr/share/d.rfb");
	assert_int_equal(m->content_pin, 7);
	text = "[client]\nname = d\nexec = /bin/d\n";
	assert_int_equal(rf_manifest_parse(text, strlen(text), m, err, sizeof err), 0);
	assert_false(m->managed);
	assert_int_equal(m->content_abi, 1);
	free(m);
	manifest_refused("[client]\nname = d\nexec = /bin/d\ncontent = yes\n", "content");
	manifest_refused("[client]\nname = d\nexec = /bin/d\ncontent_abi = 0\n", "content_abi");
	manifest_refused("[client]\nname = d\nexec = /bin/d\ncontent_pin = -1\n", "content_pin");
	manifest_refused("[client]\nname = d\nexec = /bin/d\ncontent_initial = x.rfb\n", "content_initial");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_config_example),
		cmocka_unit_test(test_config_all_keys),
		cmocka_unit_test(test_config_errors),
		cmocka_unit_test(test_manifest_example),
		cmocka_unit_test(test_manifest_variants),
		cmocka_unit_test(test_manifest_errors),
		cmocka_unit_test(test_manifest_copy_contract),
		cmocka_unit_test(test_content_keys),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
