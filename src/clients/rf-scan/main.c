/*
 * rf-scan - ringfence's file-content client: scans each executable with
 * YARA before it runs.  Uses the public client API only and runs in the
 * client sandbox: the rules are read once at start (from a path the
 * manifest grants with `read =`), and the files come as read-only
 * descriptors the broker passes with each AUTH event (rf_subscribe_fd), so
 * rf-scan opens no path at run time.
 *
 *   rf-scan --rules FILE [--enforce] [--open] [--max-size BYTES] [--timeout-ms N]
 *           [--unknown-target default|deny]
 *
 * FILE is YARA source, or rules compiled by yarac (told apart by trying to
 * load it as compiled first).  Monitor mode (the default) allows every exec
 * and reports matches as alerts; --enforce also denies an exec whose file
 * matches (the manifest must say `mode = enforce` and grant auth_exec).
 * --open also scans AUTH open of files with an execute bit (auth_open).
 *
 * Bounded: a file larger than --max-size (default 64 MiB), a scan that
 * times out, or an event without a descriptor gets the default verdict
 * (allow) and is counted.  A scan is cut at --timeout-ms (default 1000) or
 * before the event's deadline, whichever comes first (a tenth of the time
 * left, at least DEADLINE_MARGIN_MS, is kept for the answer), so rf-scan
 * answers a slow file itself, in time, instead of leaving the event to the
 * broker's deadline (a miss charged to it); with no time left at all the
 * file is not scanned.  The bound has millisecond precision: libyara
 * 4.x takes whole seconds in yr_scanner_set_timeout, but keeps the timeout
 * in nanoseconds in its public YR_SCANNER, which rf-scan sets directly.
 * Results of complete scans are cached by file identity (dev, inode,
 * ctime): an unchanged file is not scanned twice.
 *
 * Exit status: 0 when the broker went away, 1 on a client error, 3 when
 * the rules were refused.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <yara.h>

#include <ringfence/ringfence.h>

#define CACHE_SLOTS 4096          /* power of two */
#define NO_MATCH UINT32_MAX
#define DEADLINE_MARGIN_MS 50     /* a scan ends at least this long before the event's deadline */

#if YR_MAJOR_VERSION != 4
#error "rf-scan sets YR_SCANNER.timeout (ns) as libyara 4.x keeps it; check this libyara"
#endif
_Static_assert(sizeof(((YR_SCANNER *)0)->timeout) == sizeof(uint64_t), "YR_SCANNER.timeout is ns, 64 bits");

struct cache_ent {
	uint64_t dev, ino;
	int64_t ctime_ns;
	uint32_t rule;            /* index in the rules' table, NO_MATCH */
	bool used;
};

struct scan_stats {
	uint64_t auth, scanned, cached, matched, denied, too_large, timeouts, errors, no_fd, alerts_lost;
	uint64_t unknown;          /* AUTH events whose target path is unknown or cut */
};

struct scanner {
	YR_RULES *rules;
	YR_SCANNER *yr;            /* one for every scan */
	bool enforce;
	bool unknown_deny;         /* --unknown-target deny */
	uint64_t max_size;
	uint64_t timeout_ms;
	const YR_RULE **by_index;  /* rule table, for cached results */
	uint32_t nrules;
	struct cache_ent cache[CACHE_SLOTS];
	struct scan_stats st;
};

static void usage(FILE *out)
{
	fputs("Usage: rf-scan --rules FILE [--enforce] [--open] [--max-size BYTES] [--timeout-ms N]\n"
	      "               [--unknown-target default|deny]\n"
	      "Scans each file about to be executed with YARA rules (source or compiled)\n"
	      "and reports matches as alerts (rfctl tail).  --enforce denies the exec of a\n"
	      "matching file; --open also scans opens of executable files.  Files larger\n"
	      "than --max-size (default 64 MiB) and scans slower than --timeout-ms\n"
	      "(default 1000) are allowed and counted; a scan also ends before the\n"
	      "event's deadline (a tenth of the time left, at least 50 ms, kept to answer).\n"
	      "--unknown-target deny (with --enforce) denies a file whose path is unknown\n"
	      "or cut; default scans it like any other (the scan reads the descriptor).\n",
	      out);
}

static volatile sig_atomic_t stopping;

static void on_term(int sig)
{
	(void)sig;
	stopping = 1;
}

static void pause_1ms(void)
{
	nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * How long a scan for m may run, in ns: --timeout-ms, cut to end before
 * the event's deadline (CLOCK_MONOTONIC, 0 for none) with a tenth of the
 * time left, at least DEADLINE_MARGIN_MS, kept for the answer to reach the
 * broker.  0 when there is no time left.
 */
static uint64_t scan_bound_ns(const struct scanner *s, const struct rf_message *m, uint64_t now)
{
	uint64_t bound = s->timeout_ms * 1000000ull;
	if (m->hdr.deadline_ns) {
		uint64_t left = m->hdr.deadline_ns > now ? m->hdr.deadline_ns - now : 0;
		uint64_t margin = left / 10;
		if (margin < DEADLINE_MARGIN_MS * 1000000ull)
			margin = DEADLINE_MARGIN_MS * 1000000ull;
		if (left <= margin)
			return 0;
		if (left - margin < bound)
			bound = left - margin;
	}
	return bound;
}

static void compile_msg(int level, const char *file, int line, const YR_RULE *rule, const char *msg,
			void *user)
{
	(void)rule;
	(void)user;
	fprintf(stderr, "rf-scan: %s: %s:%d: %s\n", level == YARA_ERROR_LEVEL_ERROR ? "error" : "warning",
		file ? file : "?", line, msg);
}

/* Loads compiled rules, or compiles source; 0 or -1 (reported). */
static int load_rules(const char *path, YR_RULES **ret)
{
	/* compiled rules (yarac) start with a magic; anything else is taken for source */
	int r = yr_rules_load(path, ret);
	if (r == ERROR_SUCCESS)
		return 0;
	FILE *f = fopen(path, "r");
	if (!f) {
		fprintf(stderr, "rf-scan: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	YR_COMPILER *comp;
	if (yr_compiler_create(&comp) != ERROR_SUCCESS) {
		fclose(f);
		return -1;
	}
	yr_compiler_set_callback(comp, compile_msg, NULL);
	int errors = yr_compiler_add_file(comp, f, NULL, path);
	fclose(f);
	if (errors > 0 || yr_compiler_get_rules(comp, ret) != ERROR_SUCCESS) {
		fprintf(stderr, "rf-scan: %s: %d errors\n", path, errors);
		yr_compiler_destroy(comp);
		return -1;
	}
	yr_compiler_destroy(comp);
	return 0;
}

static int index_rules(struct scanner *s)
{
	const YR_RULE *rule;
	uint32_t n = 0;
	yr_rules_foreach(s->rules, rule) n++;
	s->by_index = calloc(n ? n : 1, sizeof *s->by_index);
	if (!s->by_index)
		return -1;
	n = 0;
	yr_rules_foreach(s->rules, rule) s->by_index[n++] = rule;
	s->nrules = n;
	return 0;
}

struct scan_result {
	const YR_RULE *first;     /* the first matching rule, NULL */
};

static int on_scan(YR_SCAN_CONTEXT *ctx, int message, void *data, void *user)
{
	(void)ctx;
	if (message == CALLBACK_MSG_RULE_MATCHING) {
		((struct scan_result *)user)->first = data;
		return CALLBACK_ABORT;   /* one match decides */
	}
	return CALLBACK_CONTINUE;
}

static uint32_t rule_index(const struct scanner *s, const YR_RULE *r)
{
	for (uint32_t i = 0; i < s->nrules; i++)
		if (s->by_index[i] == r)
			return i;
	return NO_MATCH;
}

static struct cache_ent *cache_slot(struct scanner *s, const struct rf_file *f)
{
	uint64_t h = f->dev * 0x9e3779b97f4a7c15ull ^ f->ino * 0xc2b2ae3d27d4eb4full;
	return &s->cache[(h ^ (h >> 29)) & (CACHE_SLOTS - 1)];
}

enum outcome { OUT_CLEAN, OUT_MATCH, OUT_DEFAULT };

/*
 * Decides about one file: *rule is set on a match.  Only complete scans are
 * cached, and only when the event names the file's identity.
 */
static enum outcome check_file(struct scanner *s, rf_client_t *c, const struct rf_message *m,
			       const struct rf_file *f, const YR_RULE **rule)
{
	*rule = NULL;
	struct cache_ent *ce = cache_slot(s, f);
	if (f->ino && ce->used && ce->dev == f->dev && ce->ino == f->ino && ce->ctime_ns == f->ctime_ns) {
		s->st.cached++;
		if (ce->rule == NO_MATCH)
			return OUT_CLEAN;
		*rule = s->by_index[ce->rule];
		return OUT_MATCH;
	}
	const char *path = rf_msg_str(m, f->path);
	int fd = rf_msg_fd(c, m);
	if (fd < 0) {
		s->st.no_fd++;
		return OUT_DEFAULT;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		s->st.errors++;
		return OUT_DEFAULT;
	}
	if ((uint64_t)st.st_size > s->max_size) {
		s->st.too_large++;
		fprintf(stderr, "rf-scan: %s: %lld bytes, over --max-size: default verdict (%" PRIu64 " too large)\n",
			path, (long long)st.st_size, s->st.too_large);
		return OUT_DEFAULT;
	}
	uint64_t t0 = mono_ns(), bound = scan_bound_ns(s, m, t0);
	if (bound == 0) {
		s->st.timeouts++;
		fprintf(stderr, "rf-scan: %s: no time left before the deadline: default verdict (%" PRIu64
			" timeouts)\n", path, s->st.timeouts);
		return OUT_DEFAULT;
	}
	struct scan_result res = { NULL };
	s->st.scanned++;
	/* yr_scanner_set_timeout() takes whole seconds; the field is in ns (see the top) */
	s->yr->timeout = bound;
	yr_scanner_set_callback(s->yr, on_scan, &res);
	int r = yr_scanner_scan_fd(s->yr, fd);
	if (r == ERROR_SCAN_TIMEOUT) {
		s->st.timeouts++;
		fprintf(stderr, "rf-scan: %s: scan timed out after %" PRIu64 " ms (bound %" PRIu64
			" ms): default verdict (%" PRIu64 " timeouts)\n", path, (mono_ns() - t0) / 1000000,
			bound / 1000000, s->st.timeouts);
		return OUT_DEFAULT;
	}
	if (r != ERROR_SUCCESS && r != ERROR_CALLBACK_ERROR && !res.first) {
		s->st.errors++;
		fprintf(stderr, "rf-scan: %s: scan error %d: default verdict\n", path, r);
		return OUT_DEFAULT;
	}
	*rule = res.first;
	if (f->ino) {
		*ce = (struct cache_ent){ .dev = f->dev, .ino = f->ino, .ctime_ns = f->ctime_ns,
					  .rule = res.first ? rule_index(s, res.first) : NO_MATCH, .used = true };
		if (res.first && ce->rule == NO_MATCH)
			ce->used = false;
	}
	return res.first ? OUT_MATCH : OUT_CLEAN;
}

/* Handles one message; RF_OK or the error that ends the client. */
static int handle(struct scanner *s, rf_client_t *c, const struct rf_message *m)
{
	const struct rf_file *f = NULL;
	if (m->hdr.type == RF_EVENT_EXEC)
		f = &m->ev.exec.target;
	else if (m->hdr.type == RF_EVENT_OPEN && (m->ev.open.target.mode & 0111) &&
		 S_ISREG(m->ev.open.target.mode))
		f = &m->ev.open.target;
	bool auth = m->hdr.action == RF_ACTION_AUTH;
	if (auth)
		s->st.auth++;
	const YR_RULE *rule = NULL;
	enum outcome out = f && auth ? check_file(s, c, m, f, &rule) : OUT_DEFAULT;
	int rc = RF_OK;
	if (auth) {
		enum rf_verdict v = out == OUT_MATCH && s->enforce ? RF_DENY : RF_ALLOW;
		/*
		 * The scan reads the descriptor, so the content verdict does not
		 * need the path; --unknown-target deny is for hosts that refuse
		 * whatever cannot be named, whatever the content.
		 */
		if (f && !rf_msg_target_known(m)) {
			s->st.unknown++;
			if (s->enforce && s->unknown_deny)
				v = RF_DENY;
		}
		if (v == RF_DENY)
			s->st.denied++;
		/* the kernel may remember a clean file until it changes; a default
		 * verdict or a reported match is asked again */
		while ((rc = rf_respond(c, m, v, out == OUT_CLEAN && v == RF_ALLOW)) == RF_E_FULL)
			pause_1ms();
		if (rc != RF_OK)
			return rc;
	}
	if (out == OUT_MATCH) {
		s->st.matched++;
		char title[256];
		snprintf(title, sizeof title, "YARA match: %s", rule->identifier);
		fprintf(stderr, "rf-scan: %s: matches %s%s\n", rf_msg_str(m, f->path), rule->identifier,
			s->enforce ? ": denied" : "");
		rc = rf_emit_alert(c, m, rule->identifier, title, "high", "yara");
		if (rc == RF_E_FULL) {
			s->st.alerts_lost++;
			rc = RF_OK;
		}
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "rules", required_argument, NULL, 'r' },
		{ "enforce", no_argument, NULL, 'e' },
		{ "open", no_argument, NULL, 'o' },
		{ "max-size", required_argument, NULL, 's' },
		{ "timeout-ms", required_argument, NULL, 't' },
		{ "unknown-target", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *rules_path = NULL;
	bool scan_open = false;
	static struct scanner s = { .max_size = 64ull << 20, .timeout_ms = 1000 };
	int opt;
	char *end;
	while ((opt = getopt_long(argc, argv, "r:eos:t:u:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'r': rules_path = optarg; break;
		case 'e': s.enforce = true; break;
		case 'o': scan_open = true; break;
		case 's':
			errno = 0;
			s.max_size = strtoull(optarg, &end, 10);
			if (errno || *end || end == optarg) {
				usage(stderr);
				return 2;
			}
			break;
		case 't': {
			errno = 0;
			unsigned long ms = strtoul(optarg, &end, 10);
			if (errno || *end || end == optarg || ms == 0 || ms > 3600000) {
				usage(stderr);
				return 2;
			}
			s.timeout_ms = ms;
			break;
		}
		case 'u':
			if (strcmp(optarg, "deny") && strcmp(optarg, "default")) {
				usage(stderr);
				return 2;
			}
			s.unknown_deny = strcmp(optarg, "deny") == 0;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (!rules_path || optind != argc) {
		usage(stderr);
		return 2;
	}

	/* Content first: rules that do not load are never half-used. */
	if (yr_initialize() != ERROR_SUCCESS) {
		fprintf(stderr, "rf-scan: cannot initialise libyara\n");
		return 1;
	}
	if (load_rules(rules_path, &s.rules) < 0 || index_rules(&s) < 0) {
		fprintf(stderr, "rf-scan: rules refused: %s\n", rules_path);
		yr_finalize();
		return 3;
	}
	if (yr_scanner_create(s.rules, &s.yr) != ERROR_SUCCESS) {
		fprintf(stderr, "rf-scan: cannot create a YARA scanner\n");
		yr_rules_destroy(s.rules);
		yr_finalize();
		return 1;
	}
	yr_scanner_set_flags(s.yr, SCAN_FLAGS_FAST_MODE);
	fprintf(stderr, "rf-scan: %u rules from %s, %s mode, max size %" PRIu64 ", timeout %" PRIu64 " ms\n",
		s.nrules, rules_path, s.enforce ? "enforce" : "monitor", s.max_size, s.timeout_ms);

	const char *name = getenv("RF_CLIENT_NAME");
	if (!name || !*name)
		name = "rf-scan";
	int rc;
	rf_client_t *c = rf_client_new(name, &rc);
	if (!c) {
		fprintf(stderr, "rf-scan: cannot connect: %s\n", rf_strerror(rc));
		return 1;
	}
	rc = rf_subscribe_fd(c, RF_EVENT_EXEC, RF_ACTION_AUTH);
	if (rc == RF_OK && scan_open)
		rc = rf_subscribe_fd(c, RF_EVENT_OPEN, RF_ACTION_AUTH);
	if (rc != RF_OK) {
		fprintf(stderr, "rf-scan: subscribe: %s (the manifest must grant auth_exec%s)\n",
			rf_strerror(rc), scan_open ? " and auth_open" : "");
		rf_client_free(c);
		return 1;
	}
	if ((rc = rf_ready(c)) != RF_OK) {
		fprintf(stderr, "rf-scan: ready: %s\n", rf_strerror(rc));
		rf_client_free(c);
		return 1;
	}
	/* the broker stops its clients with SIGTERM: exit cleanly, with the counters */
	struct sigaction sa = { .sa_handler = on_term };
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	while (!stopping) {
		const struct rf_message *m;
		rc = rf_next(c, &m, 250);
		if (rc == RF_E_TIMEOUT) {
			rc = RF_OK;
			continue;
		}
		if (rc != RF_OK)
			break;
		if ((rc = handle(&s, c, m)) != RF_OK)
			break;
	}
	if (rc == RF_E_CLOSED)
		rc = RF_OK;
	if (rc != RF_OK)
		fprintf(stderr, "rf-scan: %s\n", rf_strerror(rc));
	fprintf(stderr,
		"rf-scan: %" PRIu64 " auth, %" PRIu64 " scanned, %" PRIu64 " cached, %" PRIu64 " matched, %" PRIu64
		" denied, %" PRIu64 " too large, %" PRIu64 " timeouts, %" PRIu64 " errors, %" PRIu64
		" without descriptor, %" PRIu64 " alerts lost, %" PRIu64 " unknown or cut targets\n",
		s.st.auth, s.st.scanned, s.st.cached, s.st.matched, s.st.denied, s.st.too_large, s.st.timeouts,
		s.st.errors, s.st.no_fd, s.st.alerts_lost, s.st.unknown);
	rf_client_free(c);
	yr_scanner_destroy(s.yr);
	yr_rules_destroy(s.rules);
	free(s.by_index);
	yr_finalize();
	return rc == RF_OK ? 0 : 1;
}
