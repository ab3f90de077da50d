/*
 * test_render.c - the JSON line of `rfctl tail`: every rendered message
 * parses back with json-c and carries the right fields, whatever bytes its
 * strings hold.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <json-c/json.h>

#include "ctl/render.h"
#include "ringfence/ringfence.h"

/* ---- building messages ---- */

struct msgbuf {
	_Alignas(struct rf_message) unsigned char b[RF_MSG_MAX];
	size_t len;
};

static struct rf_message *msg_of(struct msgbuf *mb)
{
	return (struct rf_message *)(void *)mb->b;
}

static void mb_init(struct msgbuf *mb, enum rf_event_type type, enum rf_action action)
{
	memset(mb, 0, sizeof *mb);
	mb->len = sizeof(struct rf_message);
	struct rf_message *m = msg_of(mb);
	m->hdr.version = RF_PROTO_VERSION;
	m->hdr.type = (uint16_t)type;
	m->hdr.action = (uint8_t)action;
	m->hdr.seq = 41;
	m->hdr.type_seq = 7;
	m->hdr.time_ns = 1795277522123456789ull;     /* 2026-11-21T16:12:02.123456789Z */
	m->process.pid = 4242;
	m->process.tid = 4243;
	m->process.ppid = 1;
	m->process.pgid = 4242;
	m->process.start_time_ns = 5000000000ull;
	m->process.uid = 1000;
	m->process.euid = 0;
	m->process.auid = 0xffffffffu;
	m->process.cgroup_id = UINT64_MAX;
	m->parent.pid = 1;
	m->parent.start_time_ns = 10000000ull;
}

/* Appends len bytes and a NUL to the tail; returns the reference. */
static rf_str_t mb_str(struct msgbuf *mb, const char *s, size_t len)
{
	rf_str_t r = { .off = (uint32_t)mb->len, .len = (uint32_t)len };
	assert_true(mb->len + len + 1 <= RF_MSG_MAX);
	memcpy(mb->b + mb->len, s, len);
	mb->b[mb->len + len] = '\0';
	mb->len += len + 1;
	return r;
}

static rf_str_t mb_cstr(struct msgbuf *mb, const char *s)
{
	return mb_str(mb, s, strlen(s));
}

static void mb_finish(struct msgbuf *mb)
{
	mb->len = (mb->len + RF_MSG_ALIGN - 1) / RF_MSG_ALIGN * RF_MSG_ALIGN;
	msg_of(mb)->hdr.size = (uint32_t)mb->len;
	assert_int_equal(rf_msg_validate(mb->b, mb->len), RF_OK);
}

/* ---- reading the JSON back ---- */

/* Renders mb, checks the line is one line of valid UTF-8 JSON, parses it. */
static json_object *render(struct msgbuf *mb)
{
	char *line = NULL;
	assert_int_equal(rf_render_json(mb->b, mb->len, &line), 0);
	assert_non_null(line);
	assert_null(strchr(line, '\n'));

	/* Strictly valid UTF-8 (no overlongs, surrogates or stray bytes). */
	const unsigned char *p = (const unsigned char *)line;
	while (*p) {
		size_t n = *p < 0x80 ? 1 : (*p & 0xe0) == 0xc0 ? 2 : (*p & 0xf0) == 0xe0 ? 3 :
			   (*p & 0xf8) == 0xf0 ? 4 : 0;
		assert_true(n > 0);
		for (size_t i = 1; i < n; i++)
			assert_true((p[i] & 0xc0) == 0x80);
		p += n;
	}

	json_tokener *tok = json_tokener_new();
	json_object *o = json_tokener_parse_ex(tok, line, (int)strlen(line));
	assert_int_equal(json_tokener_get_error(tok), json_tokener_success);
	assert_int_equal(json_tokener_get_parse_end(tok), strlen(line));
	json_tokener_free(tok);
	assert_non_null(o);
	free(line);
	return o;
}

/* The value at a dotted path such as "process.args"; NULL when absent. */
static json_object *at(json_object *o, const char *path)
{
	char buf[128];
	snprintf(buf, sizeof buf, "%s", path);
	for (char *save = NULL, *k = strtok_r(buf, ".", &save); k; k = strtok_r(NULL, ".", &save)) {
		if (!json_object_object_get_ex(o, k, &o))
			return NULL;
	}
	return o;
}

static const char *str_at(json_object *o, const char *path)
{
	json_object *v = at(o, path);
	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_string));
	return json_object_get_string(v);
}

static int64_t int_at(json_object *o, const char *path)
{
	json_object *v = at(o, path);
	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_int));
	return json_object_get_int64(v);
}

static bool bool_at(json_object *o, const char *path)
{
	json_object *v = at(o, path);
	assert_non_null(v);
	assert_true(json_object_is_type(v, json_type_boolean));
	return json_object_get_boolean(v);
}

/* ---- tests ---- */

static void test_exec_auth(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = msg_of(&mb);
	m->hdr.verdict = RF_DENY;
	m->hdr.decided_by = RF_DECIDER_CLIENT;
	m->hdr.deadline_ns = 123456789;
	m->hdr.decider = mb_cstr(&mb, "deny");
	m->process.exe.path = mb_cstr(&mb, "/usr/bin/bash");
	m->process.comm = mb_cstr(&mb, "bash");
	m->process.cwd = mb_cstr(&mb, "/home/op");
	m->process.args = mb_str(&mb, "bash\0-i", 7);
	m->process.argc = 2;
	m->parent.exe = mb_cstr(&mb, "/usr/lib/systemd/systemd");
	m->parent.comm = mb_cstr(&mb, "systemd");
	m->ev.exec.target.path = mb_cstr(&mb, "/tmp/rf/evil-true");
	m->ev.exec.target.dev = 0x803;
	m->ev.exec.target.ino = 77;
	m->ev.exec.args = mb_str(&mb, "evil-true\0--flag\0\0last", 22);
	m->ev.exec.argc = 4;
	mb_finish(&mb);

	json_object *o = render(&mb);
	assert_int_equal(int_at(o, "schema_version"), 1);
	assert_string_equal(str_at(o, "time"), "2026-11-21T16:12:02.123456789Z");
	assert_int_equal(int_at(o, "seq"), 41);
	assert_int_equal(int_at(o, "type_seq"), 7);
	assert_string_equal(str_at(o, "type"), "exec");
	assert_string_equal(str_at(o, "action"), "auth");
	assert_false(bool_at(o, "replayed"));
	assert_int_equal(int_at(o, "process.pid"), 4242);
	assert_int_equal(int_at(o, "process.tid"), 4243);
	assert_int_equal(int_at(o, "process.start_time"), 5000000000ll);
	assert_int_equal(int_at(o, "process.auid"), 0xffffffffll);
	assert_int_equal(json_object_get_uint64(at(o, "process.cgroup_id")), UINT64_MAX);
	assert_string_equal(str_at(o, "process.exe"), "/usr/bin/bash");
	assert_string_equal(str_at(o, "process.comm"), "bash");
	assert_string_equal(str_at(o, "process.cwd"), "/home/op");
	assert_int_equal(int_at(o, "parent.pid"), 1);
	assert_string_equal(str_at(o, "parent.comm"), "systemd");

	/* For exec, args is the new argv, empty entries kept. */
	json_object *args = at(o, "process.args");
	assert_non_null(args);
	assert_true(json_object_is_type(args, json_type_array));
	assert_int_equal(json_object_array_length(args), 4);
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 0)), "evil-true");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 1)), "--flag");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 2)), "");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 3)), "last");

	assert_string_equal(str_at(o, "target.path"), "/tmp/rf/evil-true");
	assert_int_equal(int_at(o, "target.dev"), 0x803);
	assert_int_equal(int_at(o, "target.ino"), 77);
	assert_false(bool_at(o, "memfd"));
	assert_string_equal(str_at(o, "verdict.result"), "deny");
	assert_string_equal(str_at(o, "verdict.by"), "deny");
	assert_int_equal(int_at(o, "deadline"), 123456789);
	json_object_put(o);
}

static void test_exec_falls_back_to_process_args(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_MEMFD_EXEC, RF_ACTION_NOTIFY);
	struct rf_message *m = msg_of(&mb);
	m->hdr.flags = RF_MSG_F_REPLAYED;
	m->process.args = mb_str(&mb, "a\0b\0c", 5);
	m->process.argc = 3;
	m->ev.exec.flags = RF_EXEC_F_MEMFD;
	mb_finish(&mb);

	json_object *o = render(&mb);
	assert_string_equal(str_at(o, "type"), "memfd_exec");
	assert_string_equal(str_at(o, "action"), "notify");
	assert_true(bool_at(o, "replayed"));
	assert_true(bool_at(o, "memfd"));
	assert_int_equal(json_object_array_length(at(o, "process.args")), 3);
	/* Absent strings are null; NOTIFY has no verdict. */
	assert_true(json_object_is_type(at(o, "target.path"), json_type_null));
	assert_null(at(o, "verdict"));
	assert_null(at(o, "deadline"));
	json_object_put(o);
}

static void test_no_args_key_when_absent(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_FORK, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.fork.child_pid = 4300;
	msg_of(&mb)->ev.fork.child_start_time_ns = 999;
	mb_finish(&mb);

	json_object *o = render(&mb);
	assert_string_equal(str_at(o, "type"), "fork");
	assert_null(at(o, "process.args"));
	assert_int_equal(int_at(o, "child.pid"), 4300);
	assert_int_equal(int_at(o, "child.start_time"), 999);
	json_object_put(o);
}

static void test_verdict_by_default_and_cache(void **state)
{
	static const struct { uint8_t by; const char *name; } cases[] = {
		{ RF_DECIDER_DEFAULT, "default" }, { RF_DECIDER_CACHE, "cache" },
		{ RF_DECIDER_POLICY, "policy" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct msgbuf mb;
		mb_init(&mb, RF_EVENT_OPEN, RF_ACTION_AUTH);
		struct rf_message *m = msg_of(&mb);
		m->hdr.verdict = RF_ALLOW;
		m->hdr.decided_by = cases[i].by;
		m->ev.open.target.path = mb_cstr(&mb, "/etc/shadow");
		m->ev.open.flags = 02;
		mb_finish(&mb);

		json_object *o = render(&mb);
		assert_string_equal(str_at(o, "type"), "open");
		assert_string_equal(str_at(o, "target.path"), "/etc/shadow");
		assert_int_equal(int_at(o, "target.flags"), 2);
		assert_string_equal(str_at(o, "verdict.result"), "allow");
		assert_string_equal(str_at(o, "verdict.by"), cases[i].name);
		json_object_put(o);
	}
}

static void test_net(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_CONNECT, RF_ACTION_NOTIFY);
	struct rf_ev_net *n = &msg_of(&mb)->ev.net;
	n->family = AF_INET;
	n->proto = IPPROTO_TCP;
	n->sport = 40000;
	n->dport = 443;
	inet_pton(AF_INET, "10.0.0.2", n->saddr);
	inet_pton(AF_INET, "127.0.0.1", n->daddr);
	mb_finish(&mb);

	json_object *o = render(&mb);
	assert_string_equal(str_at(o, "type"), "connect");
	assert_string_equal(str_at(o, "net.proto"), "tcp");
	assert_string_equal(str_at(o, "net.family"), "ipv4");
	assert_string_equal(str_at(o, "net.saddr"), "10.0.0.2");
	assert_string_equal(str_at(o, "net.daddr"), "127.0.0.1");
	assert_int_equal(int_at(o, "net.sport"), 40000);
	assert_int_equal(int_at(o, "net.dport"), 443);
	json_object_put(o);

	mb_init(&mb, RF_EVENT_LISTEN, RF_ACTION_NOTIFY);
	n = &msg_of(&mb)->ev.net;
	n->family = AF_INET6;
	n->proto = IPPROTO_UDP;
	inet_pton(AF_INET6, "::1", n->saddr);
	inet_pton(AF_INET6, "2001:db8::7", n->daddr);
	mb_finish(&mb);
	o = render(&mb);
	assert_int_equal(int_at(o, "net.proto"), IPPROTO_UDP);
	assert_string_equal(str_at(o, "net.family"), "ipv6");
	assert_string_equal(str_at(o, "net.saddr"), "::1");
	assert_string_equal(str_at(o, "net.daddr"), "2001:db8::7");
	json_object_put(o);

	/* An unknown family: numbers, no addresses. */
	mb_init(&mb, RF_EVENT_ACCEPT, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.net.family = 99;
	mb_finish(&mb);
	o = render(&mb);
	assert_int_equal(int_at(o, "net.family"), 99);
	assert_true(json_object_is_type(at(o, "net.daddr"), json_type_null));
	json_object_put(o);
}

static void test_exit_and_cred(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_EXIT, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.exit.status = 3 << 8;
	mb_finish(&mb);
	json_object *o = render(&mb);
	assert_int_equal(int_at(o, "exit.status"), 768);
	assert_int_equal(int_at(o, "exit.code"), 3);
	assert_int_equal(int_at(o, "exit.signal"), 0);
	json_object_put(o);

	mb_init(&mb, RF_EVENT_EXIT, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.exit.status = 9;
	mb_finish(&mb);
	o = render(&mb);
	assert_int_equal(int_at(o, "exit.code"), 0);
	assert_int_equal(int_at(o, "exit.signal"), 9);
	json_object_put(o);

	mb_init(&mb, RF_EVENT_SETGID, RF_ACTION_NOTIFY);
	struct rf_ev_cred *c = &msg_of(&mb)->ev.cred;
	c->syscall_nr = 106;
	c->retval = -1;
	for (int i = 0; i < 4; i++) {
		c->old_id[i] = 1000 + (uint32_t)i;
		c->new_id[i] = (uint32_t)i;
	}
	mb_finish(&mb);
	o = render(&mb);
	assert_int_equal(int_at(o, "cred.syscall"), 106);
	assert_int_equal(int_at(o, "cred.retval"), -1);
	assert_int_equal(int_at(o, "cred.old.rgid"), 1000);
	assert_int_equal(int_at(o, "cred.old.fsgid"), 1003);
	assert_int_equal(int_at(o, "cred.new.egid"), 1);
	assert_null(at(o, "cred.new.euid"));
	json_object_put(o);
}

static void test_file_and_misc(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_RENAME, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.file.target.path = mb_cstr(&mb, "/tmp/ok");
	msg_of(&mb)->ev.file.dest = mb_cstr(&mb, "/tmp/evil");
	mb_finish(&mb);
	json_object *o = render(&mb);
	assert_string_equal(str_at(o, "target.path"), "/tmp/ok");
	assert_string_equal(str_at(o, "target.dest"), "/tmp/evil");
	assert_false(bool_at(o, "target.is_dir"));
	json_object_put(o);

	mb_init(&mb, RF_EVENT_UNLINK, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.file.target.path = mb_cstr(&mb, "/tmp/d");
	msg_of(&mb)->ev.file.is_dir = 1;
	mb_finish(&mb);
	o = render(&mb);
	assert_true(bool_at(o, "target.is_dir"));
	assert_null(at(o, "target.dest"));
	json_object_put(o);

	mb_init(&mb, RF_EVENT_PTRACE, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.ptrace.request = 16;
	msg_of(&mb)->ev.ptrace.target_pid = 77;
	mb_finish(&mb);
	o = render(&mb);
	assert_int_equal(int_at(o, "ptrace.request"), 16);
	assert_int_equal(int_at(o, "ptrace.target_pid"), 77);
	json_object_put(o);

	mb_init(&mb, RF_EVENT_KMOD_LOAD, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.kmod.name = mb_cstr(&mb, "rootkit");
	mb_finish(&mb);
	o = render(&mb);
	assert_string_equal(str_at(o, "module.name"), "rootkit");
	json_object_put(o);

	mb_init(&mb, RF_EVENT_BPF_LOAD, RF_ACTION_NOTIFY);
	msg_of(&mb)->ev.bpf.cmd = 5;
	msg_of(&mb)->ev.bpf.prog_type = 26;
	msg_of(&mb)->ev.bpf.name = mb_cstr(&mb, "prog");
	mb_finish(&mb);
	o = render(&mb);
	assert_int_equal(int_at(o, "bpf.cmd"), 5);
	assert_int_equal(int_at(o, "bpf.prog_type"), 26);
	assert_string_equal(str_at(o, "bpf.name"), "prog");
	json_object_put(o);
}

static void test_invalid_utf8_and_controls(void **state)
{
	struct msgbuf mb;
	mb_init(&mb, RF_EVENT_OPEN, RF_ACTION_NOTIFY);
	struct rf_message *m = msg_of(&mb);
	/* stray bytes, a cut 3-byte sequence, an overlong '/', a surrogate, then fine UTF-8 */
	m->ev.open.target.path = mb_cstr(&mb, "/tmp/\xff\xfe-\xe2\x82-\xc0\xaf-\xed\xa0\x80-\xc3\xa9");
	m->process.comm = mb_cstr(&mb, "a\"b\\c\n\x1b[31m\x7f");
	m->process.args = mb_str(&mb, "\x80\0ok", 4);
	m->process.argc = 2;
	mb_finish(&mb);

	json_object *o = render(&mb);
	assert_string_equal(str_at(o, "target.path"),
			    "/tmp/\xef\xbf\xbd\xef\xbf\xbd-\xef\xbf\xbd-\xef\xbf\xbd\xef\xbf\xbd-"
			    "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd-\xc3\xa9");
	assert_string_equal(str_at(o, "process.comm"), "a\"b\\c\n\x1b[31m\x7f");
	json_object *args = at(o, "process.args");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 0)),
			    "\xef\xbf\xbd");
	assert_string_equal(json_object_get_string(json_object_array_get_idx(args, 1)), "ok");
	json_object_put(o);
}

static void test_invalid_message_refused(void **state)
{
	struct msgbuf mb;
	char *line = (char *)0x1;

	mb_init(&mb, RF_EVENT_EXEC, RF_ACTION_AUTH);
	msg_of(&mb)->process.comm = mb_cstr(&mb, "x");
	mb_finish(&mb);
	msg_of(&mb)->process.comm.len = 100;     /* runs past the message */
	assert_int_equal(rf_render_json(mb.b, mb.len, &line), -EPROTO);
	assert_int_equal(rf_render_json(mb.b, 10, &line), -EPROTO);
	assert_int_equal(rf_render_json(NULL, 0, &line), -EPROTO);
	assert_ptr_equal(line, (char *)0x1);

	/* AUTH on a NOTIFY-only type. */
	mb_init(&mb, RF_EVENT_FORK, RF_ACTION_AUTH);
	mb.len = sizeof(struct rf_message);
	msg_of(&mb)->hdr.size = (uint32_t)mb.len;
	assert_int_equal(rf_render_json(mb.b, mb.len, &line), -EPROTO);
}

static void test_time(void **state)
{
	char buf[RF_RENDER_TIME_MAX];
	rf_render_time(0, buf);
	assert_string_equal(buf, "1970-01-01T00:00:00.000000000Z");
	rf_render_time(1795277522000000001ull, buf);
	assert_string_equal(buf, "2026-11-21T16:12:02.000000001Z");
	rf_render_time(UINT64_MAX, buf);
	assert_string_equal(buf, "2554-07-21T23:34:33.709551615Z");
}

/* Damaged messages are refused or rendered, never crash (the fuzzer goes further). */
static void test_random_damage(void **state)
{
	struct msgbuf mb, copy;
	unsigned seed = 4242;

	mb_init(&mb, RF_EVENT_EXEC, RF_ACTION_AUTH);
	msg_of(&mb)->hdr.decided_by = RF_DECIDER_CLIENT;
	msg_of(&mb)->hdr.decider = mb_cstr(&mb, "client");
	msg_of(&mb)->process.args = mb_str(&mb, "a\0b", 3);
	msg_of(&mb)->process.argc = 2;
	msg_of(&mb)->ev.exec.target.path = mb_cstr(&mb, "/bin/\xc3\xa9t\xe9");
	mb_finish(&mb);
	for (int iter = 0; iter < 20000; iter++) {
		copy = mb;
		int flips = 1 + rand_r(&seed) % 6;
		for (int k = 0; k < flips; k++) {
			/* Mostly the tail and the references, where the hard cases are. */
			size_t pos = rand_r(&seed) % 2 ? sizeof(struct rf_message) +
				(size_t)rand_r(&seed) % (mb.len - sizeof(struct rf_message))
				: (size_t)rand_r(&seed) % mb.len;
			copy.b[pos] = (unsigned char)rand_r(&seed);
		}
		char *line = NULL;
		int r = rf_render_json(copy.b, copy.len, &line);
		if (r == 0) {
			json_object *o = json_tokener_parse(line);
			assert_non_null(o);
			json_object_put(o);
			free(line);
		} else {
			assert_int_equal(r, -EPROTO);
		}
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_exec_auth),
		cmocka_unit_test(test_exec_falls_back_to_process_args),
		cmocka_unit_test(test_no_args_key_when_absent),
		cmocka_unit_test(test_verdict_by_default_and_cache),
		cmocka_unit_test(test_net),
		cmocka_unit_test(test_exit_and_cred),
		cmocka_unit_test(test_file_and_misc),
		cmocka_unit_test(test_invalid_utf8_and_controls),
		cmocka_unit_test(test_invalid_message_refused),
		cmocka_unit_test(test_time),
		cmocka_unit_test(test_random_damage),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
