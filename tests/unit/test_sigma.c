/*
 * test_sigma.c - the Sigma compiler: each modifier, value form and
 * condition construct compiles to what Sigma means (checked by evaluating
 * the compiled rule); what cannot be evaluated faithfully is refused for
 * that rule only, with file, id and reason; the SigmaHQ Linux corpus
 * (../shared/sigma) compiles at >= 95%, deterministically.
 */
#include <dirent.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include <ringfence/message.h>

#include "content/bundle_write.h"
#include "content/engine.h"
#include "content/sigma.h"

#define HDR(cat) "title: test rule\nid: r-1\nlevel: high\nlogsource:\n  product: linux\n  category: " cat "\n"
#define PROC(det) HDR("process_creation") "detection:\n" det
#define NET(det) HDR("network_connection") "detection:\n" det
#define FILEV(det) HDR("file_event") "detection:\n" det

static char reason[256];

/* Compiles one rule; returns the engine, or NULL with the reason in reason[]. */
static struct rfe_engine *compile_opts(const char *yaml, const struct sg_options *o)
{
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "t");
	struct sg_compiler *c = sg_new(b, o);
	assert_non_null(c);
	int r = sg_add_text(c, "rule.yml", yaml, strlen(yaml));
	assert_true(r >= 0);
	const struct sg_result *res = sg_result(c, 0);
	snprintf(reason, sizeof reason, "%s", res->reason);
	struct rfe_engine *e = NULL;
	if (r == 0) {
		assert_true(res->ok);
		uint8_t *buf;
		size_t len;
		char err[256];
		assert_int_equal(rfb_build(b, &buf, &len), 0);
		if (rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err) != 0)
			fail_msg("compiled bundle does not load: %s", err);
		free(buf);
	} else {
		assert_false(res->ok);
		assert_int_equal(rfb_nrules(b), 0);   /* nothing of a failed rule gets in */
	}
	sg_free(c);
	rfb_builder_free(b);
	return e;
}

static struct rfe_engine *compile(const char *yaml)
{
	struct rfe_engine *e = compile_opts(yaml, NULL);
	if (!e)
		fail_msg("rule refused: %s", reason);
	return e;
}

static void refused(const char *yaml, const char *why)
{
	struct rfe_engine *e = compile_opts(yaml, NULL);
	if (e) {
		rfe_free(e);
		fail_msg("rule compiled, want refusal '%s'", why);
	}
	if (!strstr(reason, why))
		fail_msg("want reason '%s', got '%s'", why, reason);
}

static struct rfe_event ev;

static void set(unsigned f, const char *s)
{
	if (!s) {
		ev.v[f].present = 0;
		return;
	}
	ev.v[f] = (struct rfe_value){ .s = s, .len = (uint32_t)strlen(s), .present = 1 };
}

static void exec_ev(const char *image, const char *cmd, const char *pimage, const char *pcmd)
{
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_EXEC;
	set(RFF_IMAGE, image);
	set(RFF_COMMAND_LINE, cmd);
	set(RFF_PARENT_IMAGE, pimage);
	set(RFF_PARENT_COMMAND_LINE, pcmd);
	ev.v[RFF_UID] = (struct rfe_value){ .num = 1000, .present = 1 };
}

static bool hit(struct rfe_engine *e)
{
	uint32_t m[4];
	return rfe_eval(e, &ev, m, 4) > 0;
}

/* rule matches the exec (image, cmd) */
static bool x(struct rfe_engine *e, const char *image, const char *cmd)
{
	exec_ev(image, cmd, "/usr/bin/bash", "bash");
	return hit(e);
}

static void test_string_modifiers(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(PROC("  sel:\n    Image|endswith: '/Bash'\n    CommandLine|contains: ' -C '\n"
					    "  condition: sel\n"));
	assert_true(x(e, "/usr/bin/bash", "bash -c id"));
	assert_true(x(e, "/USR/BIN/BASH", "BASH -C ID"));     /* plain strings: case-insensitive */
	assert_false(x(e, "/usr/bin/bashx", "bash -c id"));
	assert_false(x(e, "/usr/bin/bash", "bash -x id"));
	assert_false(x(e, "/usr/bin/bash", NULL));             /* absent field: no match */
	rfe_free(e);

	e = compile(PROC("  sel:\n    CommandLine|startswith: 'sh -c '\n  condition: sel\n"));
	assert_true(x(e, "/bin/sh", "sh -c true"));
	assert_false(x(e, "/bin/sh", " sh -c true"));
	rfe_free(e);

	e = compile(PROC("  sel:\n    Image: '/usr/bin/id'\n  condition: sel\n"));   /* exact */
	assert_true(x(e, "/usr/bin/id", ""));
	assert_true(x(e, "/usr/bin/ID", ""));
	assert_false(x(e, "/usr/bin/idx", ""));
	assert_false(x(e, "x/usr/bin/id", ""));
	rfe_free(e);

	e = compile(PROC("  sel:\n    Image|endswith|cased: '/Id'\n  condition: sel\n"));
	assert_true(x(e, "/usr/bin/Id", ""));
	assert_false(x(e, "/usr/bin/id", ""));
	rfe_free(e);
}

static void test_lists_and_all(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(PROC("  sel:\n    CommandLine|contains:\n      - 'aaa'\n      - 'bbb'\n"
					    "  condition: sel\n"));
	assert_true(x(e, "/x", "1 aaa 2"));
	assert_true(x(e, "/x", "1 bbb 2"));
	assert_false(x(e, "/x", "1 ccc 2"));
	rfe_free(e);
	e = compile(PROC("  sel:\n    CommandLine|contains|all:\n      - 'aaa'\n      - 'bbb'\n"
			 "  condition: sel\n"));
	assert_true(x(e, "/x", "bbb aaa"));
	assert_false(x(e, "/x", "1 aaa 2"));
	rfe_free(e);
	/* a list of maps: OR of ANDs */
	e = compile(PROC("  sel:\n    - Image|endswith: '/a'\n      CommandLine: 'a 1'\n"
			 "    - Image|endswith: '/b'\n  condition: sel\n"));
	assert_true(x(e, "/x/a", "a 1"));
	assert_false(x(e, "/x/a", "a 2"));
	assert_true(x(e, "/x/b", "whatever"));
	rfe_free(e);
}

static void test_wildcards(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(PROC("  sel:\n    Image: '/usr/*/ba?h'\n  condition: sel\n"));
	assert_true(x(e, "/usr/bin/bash", ""));
	assert_true(x(e, "/usr/local/bin/bazh", ""));   /* * spans directories */
	assert_false(x(e, "/usr/bin/bassh", ""));
	assert_false(x(e, "/opt/bin/bash", ""));
	rfe_free(e);
	/* escaped wildcards are literal; a lone backslash is a backslash */
	e = compile(PROC("  sel:\n    CommandLine|contains: 'a\\*b\\?c\\d'\n  condition: sel\n"));
	assert_true(x(e, "/x", "xx a*b?c\\d yy"));
	assert_false(x(e, "/x", "xx aXb?c\\d yy"));
	rfe_free(e);
	/* contains with an inner '*' */
	e = compile(PROC("  sel:\n    CommandLine|contains: '/etc/*.conf'\n  condition: sel\n"));
	assert_true(x(e, "/x", "cat /etc/ld.so.conf now"));
	assert_true(x(e, "/x", "CAT /ETC/A/B.CONF"));
	assert_false(x(e, "/x", "cat /etc/passwd"));
	rfe_free(e);
	/* '*' alone: any present value, never an absent one */
	e = compile(PROC("  sel:\n    ParentCommandLine: '*'\n  condition: sel\n"));
	exec_ev("/x", "", "/p", "");
	assert_true(hit(e));
	exec_ev("/x", "", "/p", NULL);
	assert_false(hit(e));
	rfe_free(e);
}

static void test_regex(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(PROC("  sel:\n    CommandLine|re: '\\s-[FTd]\\s'\n  condition: sel\n"));
	assert_true(x(e, "/usr/bin/curl", "curl -F x"));
	assert_false(x(e, "/usr/bin/curl", "curl -f x"));   /* re: case-sensitive */
	rfe_free(e);
	e = compile(PROC("  sel:\n    CommandLine|re: '(?i)\\s-[FTd]\\s'\n  condition: sel\n"));
	assert_true(x(e, "/usr/bin/curl", "curl -f x"));
	rfe_free(e);
	e = compile(PROC("  sel:\n    CommandLine|re|i: 'ABC$'\n  condition: sel\n"));
	assert_true(x(e, "/x", "xx abc"));
	assert_false(x(e, "/x", "abc x"));
	rfe_free(e);
	refused(PROC("  sel:\n    CommandLine|re: '(unclosed'\n  condition: sel\n"), "bad regex");
	refused(PROC("  sel:\n    CommandLine|i: 'x'\n  condition: sel\n"), "without |re");
}

static void test_null_and_exists(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(PROC("  sel:\n    Image|endswith: '/x'\n    ParentCommandLine: null\n"
					    "  condition: sel\n"));
	exec_ev("/a/x", "", "/p", NULL);
	assert_true(hit(e));
	exec_ev("/a/x", "", "/p", "");
	assert_true(hit(e));
	exec_ev("/a/x", "", "/p", "bash");
	assert_false(hit(e));
	rfe_free(e);
	e = compile(PROC("  sel:\n    ParentCommandLine|exists: true\n  condition: sel\n"));
	exec_ev("/a/x", "", "/p", "bash");
	assert_true(hit(e));
	exec_ev("/a/x", "", "/p", NULL);
	assert_false(hit(e));
	rfe_free(e);
	e = compile(PROC("  sel:\n    ParentCommandLine|exists: false\n  condition: sel\n"));
	exec_ev("/a/x", "", "/p", NULL);
	assert_true(hit(e));
	rfe_free(e);
	refused(PROC("  sel:\n    CommandLine|contains: null\n  condition: sel\n"), "null with a modifier");
}

static void test_conditions(void **state)
{
	(void)state;
#define SELS "  sel_a:\n    CommandLine|contains: 'aa'\n  sel_b:\n    CommandLine|contains: 'bb'\n" \
	     "  filter_c:\n    CommandLine|contains: 'cc'\n  _d:\n    CommandLine|contains: 'dd'\n"
	/* precedence: not > and > or */
	struct rfe_engine *e = compile(PROC(SELS "  condition: sel_a or sel_b and not filter_c\n"));
	assert_true(x(e, "/x", "aa cc"));
	assert_true(x(e, "/x", "bb"));
	assert_false(x(e, "/x", "bb cc"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition: (sel_a or sel_b) and not filter_c\n"));
	assert_false(x(e, "/x", "aa cc"));
	assert_true(x(e, "/x", "aa"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition: not (sel_a and sel_b)\n"));
	assert_false(x(e, "/x", "aa bb"));
	assert_true(x(e, "/x", "aa"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition: 1 of sel_*\n"));
	assert_true(x(e, "/x", "bb"));
	assert_false(x(e, "/x", "cc"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition: all of sel_* and not 1 of filter_*\n"));
	assert_true(x(e, "/x", "aa bb"));
	assert_false(x(e, "/x", "aa bb cc"));
	assert_false(x(e, "/x", "aa"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition: 1 of them\n"));
	assert_true(x(e, "/x", "cc"));
	assert_false(x(e, "/x", "dd"));                 /* _d is not part of "them" */
	rfe_free(e);
	e = compile(PROC(SELS "  condition: all of them\n"));
	assert_true(x(e, "/x", "aa bb cc"));
	assert_false(x(e, "/x", "aa bb"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition:\n    - sel_a and sel_b\n    - filter_c\n"));   /* a list: OR */
	assert_true(x(e, "/x", "cc"));
	assert_true(x(e, "/x", "aa bb"));
	assert_false(x(e, "/x", "aa"));
	rfe_free(e);
	e = compile(PROC(SELS "  condition: not not sel_a\n"));
	assert_true(x(e, "/x", "aa"));
	rfe_free(e);
	refused(PROC(SELS "  condition: 2 of sel_*\n"), "only '1 of' and 'all of'");
	refused(PROC(SELS "  condition: sel_a | count() > 5\n"), "aggregation");
	refused(PROC(SELS "  condition: sel_a and nope\n"), "unknown search identifier nope");
	refused(PROC(SELS "  condition: 1 of zz*\n"), "matches no search identifier");
	refused(PROC(SELS "  condition: (sel_a\n"), "missing ')'");
	refused(PROC(SELS "  condition: sel_a sel_b\n"), "unexpected 'sel_b'");
	refused(PROC(SELS "  condition: sel_*\n"), "outside '1 of'");
	refused(PROC(SELS "  condition: sel_a and\n"), "ends early");
	refused(PROC(SELS "  timeframe: 5m\n  condition: sel_a\n"), "timeframe");
#undef SELS
}

static void test_network_fields(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(NET("  sel:\n    Initiated: 'true'\n    DestinationPort:\n      - 4444\n      - 2222\n"
					   "  filter:\n    DestinationIp|cidr:\n      - '10.0.0.0/8'\n      - 'fc00::/7'\n"
					   "      - '192.168.1.7'\n"
					   "  condition: sel and not filter\n"));
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_CONNECT;
	ev.v[RFF_NET_INITIATED] = (struct rfe_value){ .num = 1, .present = 1 };
	ev.v[RFF_NET_DST_PORT] = (struct rfe_value){ .num = 4444, .present = 1 };
	ev.v[RFF_NET_DST_IP] = (struct rfe_value){ .family = 4, .ip = { 8, 8, 8, 8 }, .present = 1 };
	assert_true(hit(e));
	ev.v[RFF_NET_DST_IP].ip[0] = 10;
	assert_false(hit(e));
	ev.v[RFF_NET_DST_IP] = (struct rfe_value){ .family = 4, .ip = { 192, 168, 1, 7 }, .present = 1 };
	assert_false(hit(e));
	ev.v[RFF_NET_DST_IP] = (struct rfe_value){ .family = 6, .ip = { 0xfd, 0x12 }, .present = 1 };
	assert_false(hit(e));
	ev.v[RFF_NET_DST_IP] = (struct rfe_value){ .family = 6, .ip = { 0x20, 0x01 }, .present = 1 };
	assert_true(hit(e));
	ev.v[RFF_NET_DST_PORT].num = 80;
	assert_false(hit(e));
	ev.v[RFF_NET_DST_PORT].num = 2222;
	ev.v[RFF_NET_INITIATED].num = 0;   /* accept */
	assert_false(hit(e));
	ev.type = RF_EVENT_EXEC;           /* not this rule's event */
	ev.v[RFF_NET_INITIATED].num = 1;
	assert_false(hit(e));
	rfe_free(e);

	e = compile(NET("  sel:\n    DestinationIp|startswith: '192.168.'\n    DestinationPort|gte: 1024\n"
			"  condition: sel\n"));
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_ACCEPT;
	ev.v[RFF_NET_DST_IP] = (struct rfe_value){ .family = 4, .ip = { 192, 168, 9, 9 }, .present = 1 };
	ev.v[RFF_NET_DST_PORT] = (struct rfe_value){ .num = 1024, .present = 1 };
	assert_true(hit(e));
	ev.v[RFF_NET_DST_PORT].num = 1023;
	assert_false(hit(e));
	rfe_free(e);

	refused(NET("  sel:\n    DestinationHostname|endswith: '.ngrok.io'\n  condition: sel\n"),
		"unmappable field: DestinationHostname: network events carry addresses");
	refused(NET("  sel:\n    DestinationIp|contains: '8.8'\n  condition: sel\n"), "use |cidr");
	refused(NET("  sel:\n    DestinationIp: 'nonsense'\n  condition: sel\n"), "not an IP address");
	refused(NET("  sel:\n    DestinationPort: 'http'\n  condition: sel\n"), "not an integer");
	refused(NET("  sel:\n    Initiated: 'maybe'\n  condition: sel\n"), "wants true or false");
	refused(NET("  sel:\n    DestinationPort|contains: '44'\n  condition: sel\n"), "numeric field");
}

static void test_user_and_fields(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(PROC("  sel:\n    User: root\n    CurrentDirectory: '/srv'\n"
					    "    ProcessId: 42\n  condition: sel\n"));
	exec_ev("/x", "", "/p", NULL);
	ev.v[RFF_UID].num = 0;
	set(RFF_CWD, "/SRV");
	ev.v[RFF_PID] = (struct rfe_value){ .num = 42, .present = 1 };
	assert_true(hit(e));
	ev.v[RFF_UID].num = 1000;
	assert_false(hit(e));
	rfe_free(e);
	refused(PROC("  sel:\n    User: no-such-user-rf\n  condition: sel\n"), "not known on the compiling host");
	refused(PROC("  sel:\n    User|contains: roo\n  condition: sel\n"), "whole user names");
	refused(PROC("  sel:\n    LogonId: 0\n  condition: sel\n"), "unmappable field: LogonId");
	refused(PROC("  sel:\n    OriginalFileName: 'x.exe'\n  condition: sel\n"), "PE version information");
	refused(PROC("  sel:\n    Frobnicate: 'x'\n  condition: sel\n"), "unmappable field: Frobnicate");
	refused(PROC("  sel:\n    TargetFilename: '/x'\n  condition: sel\n"), "does not exist for this category");
	refused(PROC("  sel:\n    CommandLine|windash: '-x'\n  condition: sel\n"), "unsupported modifier: |windash");
	refused(PROC("  sel:\n    CommandLine|base64offset|contains: 'x'\n  condition: sel\n"), "|base64offset");
	refused(PROC("  sel:\n    CommandLine|bogus: 'x'\n  condition: sel\n"), "unknown modifier: |bogus");
	refused(PROC("  sel:\n    CommandLine|contains|startswith: 'x'\n  condition: sel\n"), "conflicting");
	refused(PROC("  keywords:\n    - 'evil'\n    - 'worse'\n  condition: keywords\n"), "keyword search");
	refused(PROC("  sel:\n    CommandLine: []\n  condition: sel\n"), "empty list");
	refused(PROC("  sel:\n    CommandLine:\n      a: b\n  condition: sel\n"), "mapping");
	refused(PROC("  sel: {}\n  condition: sel\n"), "is empty");
}

static void test_file_events(void **state)
{
	(void)state;
	struct rfe_engine *e = compile(FILEV("  sel:\n    TargetFilename|startswith: '/etc/cron.d/'\n"
					     "  condition: sel\n"));
	assert_int_equal(rfe_events_used(e),
			 (1u << RF_EVENT_CREATE) | (1u << RF_EVENT_CLOSE_WRITE) | (1u << RF_EVENT_RENAME));
	memset(&ev, 0, sizeof ev);
	ev.type = RF_EVENT_RENAME;
	set(RFF_TARGET_PATH, "/etc/cron.d/evil");
	assert_true(hit(e));
	ev.type = RF_EVENT_UNLINK;
	assert_false(hit(e));
	rfe_free(e);
	e = compile(HDR("file_delete") "detection:\n  sel:\n    TargetFilename|endswith: '.log'\n  condition: sel\n");
	assert_int_equal(rfe_events_used(e), 1u << RF_EVENT_UNLINK);
	rfe_free(e);
	e = compile(HDR("file_rename") "detection:\n  sel:\n    SourceFilename|endswith: '.tmp'\n  condition: sel\n");
	assert_int_equal(rfe_events_used(e), 1u << RF_EVENT_RENAME);
	rfe_free(e);
}

static void test_metadata(void **state)
{
	(void)state;
	refused("title: t\nlogsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "no id");
	refused("id: x\nlogsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "no title");
	refused("id: x\ntitle: t\nlevel: severe\nlogsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "level must be");
	refused("id: x\ntitle: t\nlogsource: {product: windows, category: process_creation}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "product windows");
	refused("id: x\ntitle: t\nlogsource: {product: linux, service: auditd}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "service auditd");
	refused("id: x\ntitle: t\nlogsource: {product: linux, category: dns_query}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "category dns_query");
	refused("id: x\ntitle: t\nstatus: deprecated\nlogsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image: x}, condition: sel}\n", "status deprecated");
	refused("id: x\ntitle: t\nlogsource: {product: linux, category: process_creation}\n"
		"detection: {sel: {Image: x}}\n", "no condition");
	refused(PROC("  sel:\n    Image: x\n  condition: sel\n") "---\nid: y\n", "more than one YAML document");
	refused("id: [unclosed\n", "YAML");
	refused("- a\n- b\n", "not a mapping");
	refused("", "empty document");

	/* level defaults to medium; tags are kept; ringfence.block marks blocking */
	struct rfe_engine *e = compile("id: x\ntitle: t\nlogsource: {product: linux, category: process_creation}\n"
				       "tags: [attack.t1059, ringfence.block, 'bad,tag']\n"
				       "detection: {sel: {Image: x}, condition: sel}\n");
	struct rfe_rule_info ri;
	rfe_rule(e, 0, &ri);
	assert_string_equal(ri.level, "medium");
	assert_string_equal(ri.tags, "attack.t1059,ringfence.block");
	assert_true(ri.blocking);
	rfe_free(e);
	/* the blocking list of the compiler */
	const char *ids[] = { "r-1" };
	struct sg_options o = { .block_ids = ids, .nblock = 1 };
	e = compile_opts(PROC("  sel:\n    Image: x\n  condition: sel\n"), &o);
	assert_non_null(e);
	rfe_rule(e, 0, &ri);
	assert_true(ri.blocking);
	rfe_free(e);
	/* long titles and tag lists are cut to what an alert carries */
	char y[2048];
	char tags[1200] = "";
	for (int i = 0; i < 40; i++)
		strcat(tags, i ? ", attack.t1000000" : "attack.t1000000");
	snprintf(y, sizeof y, "id: x\ntitle: %0300d\ntags: [%s]\nlogsource: {product: linux, category: process_creation}\n"
		 "detection: {sel: {Image: x}, condition: sel}\n", 7, tags);
	e = compile(y);
	rfe_rule(e, 0, &ri);
	assert_int_equal(strlen(ri.title), RFE_TEXT_MAX);
	assert_true(strlen(ri.tags) <= RFE_TEXT_MAX && strlen(ri.tags) > 200);
	rfe_free(e);
}

static void test_bad_rule_does_not_stop_others(void **state)
{
	(void)state;
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "t");
	struct sg_compiler *c = sg_new(b, NULL);
	const char *good = PROC("  sel:\n    Image|endswith: '/ok'\n  condition: sel\n");
	const char *bad = NET("  sel:\n    DestinationHostname: x\n  condition: sel\n");
	assert_int_equal(sg_add_text(c, "a.yml", good, strlen(good)), 0);
	assert_int_equal(sg_add_text(c, "b.yml", bad, strlen(bad)), 1);
	assert_int_equal(sg_add_file(c, "/nonexistent/c.yml"), 1);
	assert_int_equal(sg_nresults(c), 3);
	assert_int_equal(rfb_nrules(b), 1);
	const struct sg_result *r = sg_result(c, 1);
	assert_string_equal(r->file, "b.yml");
	assert_string_equal(r->id, "r-1");
	assert_false(r->ok);
	char cls[64];
	sg_reason_class(r->reason, cls, sizeof cls);
	assert_string_equal(cls, "unmappable field: DestinationHostname");
	assert_non_null(strstr(sg_result(c, 2)->reason, "unreadable"));
	sg_free(c);
	rfb_builder_free(b);
}

/* ---- the corpus ---- */

static const char *corpus_dir(void)
{
	static char path[4096];
	const char *d = getenv("RF_SIGMA_DIR");
	if (d)
		return d;
	const char *root = getenv("RF_ROOT");
	snprintf(path, sizeof path, "%s/../shared/sigma", root ? root : ".");
	return path;
}

static void add_dir(struct sg_compiler *c, const char *dir)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	for (int i = 0; i < n; i++) {
		char p[4096];
		snprintf(p, sizeof p, "%s/%s", dir, ents[i]->d_name);
		struct stat st;
		size_t l = strlen(ents[i]->d_name);
		if (ents[i]->d_name[0] != '.' && stat(p, &st) == 0) {
			if (S_ISDIR(st.st_mode))
				add_dir(c, p);
			else if (l > 4 && !strcmp(ents[i]->d_name + l - 4, ".yml"))
				assert_true(sg_add_file(c, p) >= 0);
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
}

static uint8_t *compile_corpus(size_t *len, size_t *nok, size_t *nall)
{
	struct rfb_builder *b = rfb_builder_new(rfs_engine_schema, RFS_NFIELDS, "corpus");
	struct sg_compiler *c = sg_new(b, NULL);
	add_dir(c, corpus_dir());
	*nall = sg_nresults(c);
	*nok = 0;
	for (size_t i = 0; i < *nall; i++) {
		const struct sg_result *r = sg_result(c, i);
		if (r->ok) {
			(*nok)++;
			continue;
		}
		/* the only reasons the corpus may fail for (docs/CONTENT.md) */
		if (!strstr(r->reason, "DestinationHostname") && !strstr(r->reason, "LogonId"))
			fail_msg("%s: %s: unexpected failure: %s", r->file, r->id, r->reason);
	}
	uint8_t *buf;
	assert_int_equal(rfb_build(b, &buf, len), 0);
	sg_free(c);
	rfb_builder_free(b);
	return buf;
}

static void test_corpus(void **state)
{
	(void)state;
	struct stat st;
	if (stat(corpus_dir(), &st) != 0) {
		printf("skip: no Sigma corpus at %s (set RF_SIGMA_DIR)\n", corpus_dir());
		skip();
	}
	size_t len, len2, ok, all, ok2, all2;
	uint8_t *a = compile_corpus(&len, &ok, &all);
	uint8_t *b = compile_corpus(&len2, &ok2, &all2);
	printf("corpus: %zu of %zu rules compiled (%.1f%%), bundle %zu bytes\n", ok, all, 100.0 * ok / all, len);
	assert_true(all >= 100);
	assert_true(ok * 100 >= all * 95);
	assert_true(len == len2 && memcmp(a, b, len) == 0);   /* deterministic */
	char err[256];
	struct rfe_engine *e;
	assert_int_equal(rfe_load(a, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err), 0);
	assert_int_equal(rfe_nrules(e), ok);
	rfe_free(e);
	free(a);
	free(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_string_modifiers),
		cmocka_unit_test(test_lists_and_all),
		cmocka_unit_test(test_wildcards),
		cmocka_unit_test(test_regex),
		cmocka_unit_test(test_null_and_exists),
		cmocka_unit_test(test_conditions),
		cmocka_unit_test(test_network_fields),
		cmocka_unit_test(test_user_and_fields),
		cmocka_unit_test(test_file_events),
		cmocka_unit_test(test_metadata),
		cmocka_unit_test(test_bad_rule_does_not_stop_others),
		cmocka_unit_test(test_corpus),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
