/*
 * test_protocol.c - everything that checks bytes crossing a trust boundary
 * on the client protocol: rf_msg_validate() (broker -> client messages),
 * rf_ctl_validate() (client -> broker control datagrams, with the permit
 * table of which message is allowed in which client state),
 * rf_ops_parse_req() (rfctl -> broker), and the message builder's promise
 * that truncation keeps a message valid and within RF_MSG_MAX.
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

#include "broker/broker.h"
#include "common/msgbuild.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

/* ---- rf_msg_validate ---- */

/* An exec AUTH message with every string field used. */
static uint32_t build_exec(struct rf_msgb *b)
{
	rf_msgb_init(b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = &b->u.msg;
	m->hdr.id = 42;
	m->process.pid = 100;
	m->process.exe.path = rf_msgb_str(b, "/usr/bin/bash");
	m->process.comm = rf_msgb_str(b, "bash");
	m->process.cwd = rf_msgb_str(b, "/home/user");
	m->process.args = rf_msgb_add(b, "bash\0-c\0true", 12);
	m->process.argc = 3;
	m->parent.exe = rf_msgb_str(b, "/usr/sbin/sshd");
	m->parent.comm = rf_msgb_str(b, "sshd");
	m->ev.exec.target.path = rf_msgb_str(b, "/tmp/rf/evil-true");
	m->ev.exec.args = rf_msgb_add(b, "evil-true\0--now", 15);
	m->ev.exec.argc = 2;
	return rf_msgb_finish(b);
}

static struct rf_message *msg(struct rf_msgb *b)
{
	return &b->u.msg;
}

static void test_validate_accepts_built(void **state)
{
	struct rf_msgb b;
	uint32_t len = build_exec(&b);
	assert_int_equal(len % RF_MSG_ALIGN, 0);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	assert_string_equal(rf_msg_str(msg(&b), msg(&b)->ev.exec.target.path), "/tmp/rf/evil-true");
	assert_string_equal(rf_msg_str(msg(&b), msg(&b)->process.comm), "bash");
	assert_string_equal(rf_msg_str(msg(&b), msg(&b)->hdr.decider), "");

	/* every type, NOTIFY, with the strings its type carries */
	for (unsigned t = 1; t < RF_EVENT_MAX; t++) {
		rf_msgb_init(&b, (uint16_t)t, RF_ACTION_NOTIFY);
		msg(&b)->process.comm = rf_msgb_str(&b, "x");
		switch (t) {
		case RF_EVENT_RENAME:
			msg(&b)->ev.file.target.path = rf_msgb_str(&b, "/a");
			msg(&b)->ev.file.dest = rf_msgb_str(&b, "/b");
			break;
		case RF_EVENT_KMOD_LOAD:
			msg(&b)->ev.kmod.name = rf_msgb_str(&b, "ext4");
			break;
		case RF_EVENT_BPF_LOAD:
			msg(&b)->ev.bpf.name = rf_msgb_str(&b, "prog");
			break;
		default:
			break;
		}
		len = rf_msgb_finish(&b);
		if (rf_msg_validate(b.u.bytes, len) != RF_OK)
			fail_msg("type %u refused", t);
	}
	/* AUTH open, decided by a named client */
	rf_msgb_init(&b, RF_EVENT_OPEN, RF_ACTION_AUTH);
	msg(&b)->ev.open.target.path = rf_msgb_str(&b, "/etc/shadow");
	msg(&b)->hdr.verdict = RF_DENY;
	msg(&b)->hdr.decided_by = RF_DECIDER_CLIENT;
	msg(&b)->hdr.decider = rf_msgb_str(&b, "deny");
	len = rf_msgb_finish(&b);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	/* the bare fixed part is a message too */
	rf_msgb_init(&b, RF_EVENT_FORK, RF_ACTION_NOTIFY);
	len = rf_msgb_finish(&b);
	assert_int_equal(len, sizeof(struct rf_message));
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
}

static void test_validate_refuses_header(void **state)
{
	struct rf_msgb b;
	uint32_t len = build_exec(&b);
	struct rf_msgb orig = b;

	assert_int_equal(rf_msg_validate(NULL, len), RF_E_PROTO);
	assert_int_equal(rf_msg_validate(b.u.bytes, sizeof(struct rf_message) - 8), RF_E_PROTO);
	assert_int_equal(rf_msg_validate(b.u.bytes, RF_MSG_MAX + 8), RF_E_PROTO);

	msg(&b)->hdr.version = RF_PROTO_VERSION + 1;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_VERSION);
	msg(&b)->hdr.version = 0;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_VERSION);
	b = orig;

	/* size field and length disagree (either way) */
	assert_int_equal(rf_msg_validate(b.u.bytes, len - 8), RF_E_PROTO);
	assert_int_equal(rf_msg_validate(b.u.bytes, len + 8), RF_E_PROTO);
	msg(&b)->hdr.size = len + 8;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	b = orig;

	/* consistent but not a multiple of RF_MSG_ALIGN */
	msg(&b)->hdr.size = len - 4;
	assert_int_equal(rf_msg_validate(b.u.bytes, len - 4), RF_E_PROTO);
	b = orig;

	const uint16_t bad_types[] = { RF_EVENT_NONE, RF_EVENT_MAX, RF_EVENT_MAX + 1, 0xffff };
	for (size_t i = 0; i < sizeof bad_types / sizeof bad_types[0]; i++) {
		msg(&b)->hdr.type = bad_types[i];
		assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	}
	b = orig;

	/* AUTH on types the kernel cannot wait on */
	for (unsigned t = 1; t < RF_EVENT_MAX; t++) {
		rf_msgb_init(&b, (uint16_t)t, RF_ACTION_AUTH);
		uint32_t l = rf_msgb_finish(&b);
		int want = RF_EVENT_IS_AUTHABLE(t) ? RF_OK : RF_E_PROTO;
		if (rf_msg_validate(b.u.bytes, l) != want)
			fail_msg("AUTH on type %u: want %d", t, want);
	}
	b = orig;

	msg(&b)->hdr.action = 2;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	b = orig;
	msg(&b)->hdr.verdict = RF_DENY + 1;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	b = orig;
	msg(&b)->hdr.decided_by = RF_DECIDER_POLICY + 1;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	b = orig;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
}

/* The offsets of every string reference the validator checks for an exec. */
static rf_str_t *exec_refs(struct rf_message *m, size_t i, int *plain)
{
	*plain = 1;
	switch (i) {
	case 0: return &m->process.exe.path;
	case 1: return &m->process.comm;
	case 2: return &m->process.cwd;
	case 3: *plain = 0; return &m->process.args;
	case 4: return &m->parent.exe;
	case 5: return &m->parent.comm;
	case 6: return &m->ev.exec.target.path;
	case 7: *plain = 0; return &m->ev.exec.args;
	default: return NULL;
	}
}

static void test_validate_refuses_strings(void **state)
{
	struct rf_msgb b;
	uint32_t len = build_exec(&b);
	const struct rf_msgb orig = b;
	int plain;

	for (size_t i = 0; exec_refs(msg(&b), i, &plain); i++) {
		rf_str_t *s;
		/* outside the message */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		s->off = len;
		s->len = 0;
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: offset at the end accepted", i);
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		s->off = 0xfffffff0u;
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: huge offset accepted", i);
		/* inside the fixed part */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		s->off = 8;
		s->len = 0;
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: offset into the fixed part accepted", i);
		/* length running past the end (and one that would wrap around) */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		s->len = len - s->off;
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: length to the end (no room for the NUL) accepted", i);
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		s->len = 0xffffffffu;
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: huge length accepted", i);
		/* absent must mean absent */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		s->off = 0;
		s->len = 3;
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: absent with a length accepted", i);
		/* without its NUL */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		b.u.bytes[s->off + s->len] = 'X';
		if (rf_msg_validate(b.u.bytes, len) != RF_E_PROTO)
			fail_msg("ref %zu: missing NUL accepted", i);
		/* an interior NUL: refused in plain strings, the separator of lists */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		b.u.bytes[s->off + 1] = '\0';
		int want = plain ? RF_E_PROTO : RF_OK;
		if (rf_msg_validate(b.u.bytes, len) != want)
			fail_msg("ref %zu: interior NUL: want %d", i, want);
		/* and a shorter length that still ends on a NUL is fine */
		b = orig;
		s = exec_refs(msg(&b), i, &plain);
		if (!plain) {
			s->len = (uint32_t)strlen((const char *)b.u.bytes + s->off);
			assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
		}
	}

	/* the decider and the per-type strings */
	b = orig;
	msg(&b)->hdr.decider = (rf_str_t){ len + 8, 1 };
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);

	rf_msgb_init(&b, RF_EVENT_RENAME, RF_ACTION_NOTIFY);
	msg(&b)->ev.file.dest = rf_msgb_str(&b, "/new");
	len = rf_msgb_finish(&b);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	b.u.bytes[msg(&b)->ev.file.dest.off + 1] = '\0';
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);

	rf_msgb_init(&b, RF_EVENT_KMOD_LOAD, RF_ACTION_NOTIFY);
	msg(&b)->ev.kmod.name = (rf_str_t){ sizeof(struct rf_message) + 64, 1 };
	len = rf_msgb_finish(&b);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);

	rf_msgb_init(&b, RF_EVENT_BPF_LOAD, RF_ACTION_NOTIFY);
	msg(&b)->ev.bpf.name = rf_msgb_str(&b, "abc");
	len = rf_msgb_finish(&b);
	b.u.bytes[msg(&b)->ev.bpf.name.off + 3] = 'd';
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
}

/* ---- rf_msgb truncation ---- */

static void check_ref(const struct rf_msgb *b, rf_str_t s, const char *src, size_t want_max)
{
	if (s.off == 0) {
		assert_int_equal(s.len, 0);
		return;
	}
	assert_true(s.len <= want_max);
	assert_true(s.off + s.len < b->u.msg.hdr.size);
	assert_memory_equal(b->u.bytes + s.off, src, s.len);
	assert_int_equal(b->u.bytes[s.off + s.len], '\0');
}

static void test_msgb_truncation(void **state)
{
	static char big[3 * RF_MSG_MAX];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (char)('a' + i % 26);
	struct rf_msgb b;

	/* one huge string: cut to fit, counted, the message stays valid */
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
	rf_str_t s = rf_msgb_add(&b, big, sizeof big);
	assert_int_equal(b.truncated, 1);
	assert_true(s.off == sizeof(struct rf_message) && s.len > 0);
	msg(&b)->ev.exec.target.path = s;
	uint32_t len = rf_msgb_finish(&b);
	assert_true(len <= RF_MSG_MAX);
	assert_int_equal(len % RF_MSG_ALIGN, 0);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	check_ref(&b, s, big, sizeof big);

	/* once full, strings come back absent, still counted */
	rf_str_t t = rf_msgb_str(&b, "more");
	assert_int_equal(t.off, 0);
	assert_int_equal(t.len, 0);
	assert_int_equal(b.truncated, 2);

	/*
	 * Every way of filling the tail: for each first length, then strings of
	 * a second length until nothing fits, the result validates and each
	 * reference holds a prefix of what was added.
	 */
	for (size_t first = 1; first < RF_MSG_MAX; first += 97) {
		for (size_t step = 1; step < 700; step += 61) {
			rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
			rf_str_t r1 = rf_msgb_add(&b, big, first);
			rf_str_t refs[8192];
			size_t n = 0;
			for (;;) {
				rf_str_t r = rf_msgb_add(&b, big + 1, step);
				if (r.off == 0)
					break;
				assert_true(n < sizeof refs / sizeof refs[0]);
				refs[n++] = r;
			}
			msg(&b)->process.comm = r1;
			msg(&b)->process.cwd = n ? refs[n - 1] : (rf_str_t){ 0, 0 };
			len = rf_msgb_finish(&b);
			if (len > RF_MSG_MAX || rf_msg_validate(b.u.bytes, len) != RF_OK)
				fail_msg("first %zu step %zu: len %u invalid", first, step, len);
			check_ref(&b, r1, big, first);
			for (size_t k = 0; k < n; k++)
				check_ref(&b, refs[k], big + 1, step);
		}
	}

	/* empty and NULL give absent references without using space */
	rf_msgb_init(&b, RF_EVENT_FORK, RF_ACTION_NOTIFY);
	s = rf_msgb_str(&b, NULL);
	assert_int_equal(s.off, 0);
	s = rf_msgb_str(&b, "");
	assert_int_equal(s.off, 0);
	assert_int_equal(b.used, sizeof(struct rf_message));
	assert_int_equal(b.truncated, 0);
}

/* ---- cut fields: flags, entry boundaries, holds, the public accessors ---- */

static void test_msgb_nothing_cut_when_it_fits(void **state)
{
	struct rf_msgb b;
	uint32_t len = build_exec(&b);
	assert_int_equal(msg(&b)->hdr.cut, 0);
	assert_int_equal(msg(&b)->hdr.flags & RF_MSG_F_CUT, 0);
	assert_int_equal(b.truncated, 0);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	assert_int_equal(rf_msg_cut(msg(&b)), 0);
	assert_true(rf_msg_target_known(msg(&b)));
	assert_ptr_equal(rf_msg_target(msg(&b)), &msg(&b)->ev.exec.target);

	/* a field that fits exactly is not cut */
	rf_msgb_init(&b, RF_EVENT_OPEN, RF_ACTION_AUTH);
	static char fill[RF_MSG_MAX];
	memset(fill, 'f', sizeof fill);
	size_t room = RF_MSG_MAX - sizeof(struct rf_message) - (RF_MSG_ALIGN + 1);
	rf_str_t r;
	assert_false(rf_msgb_field(&b, RF_CUT_TARGET, &r, fill, room));
	assert_int_equal(r.len, room);
	assert_int_equal(msg(&b)->hdr.cut, 0);
	msg(&b)->ev.open.target.path = r;
	len = rf_msgb_finish(&b);
	assert_true(len <= RF_MSG_MAX);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
}

static void test_msgb_field_flags(void **state)
{
	static char big[RF_MSG_MAX];
	memset(big, 'c', sizeof big);
	struct rf_msgb b;
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = msg(&b);
	assert_false(rf_msgb_field_str(&b, RF_CUT_TARGET, &m->ev.exec.target.path, "/tmp/rf/denied"));
	/* the cwd takes what is left, shortened: its bit and RF_MSG_F_CUT */
	assert_true(rf_msgb_field(&b, RF_CUT_CWD, &m->process.cwd, big, sizeof big));
	assert_true(m->process.cwd.len > 0 && m->process.cwd.len < sizeof big);
	assert_int_equal(m->hdr.cut, RF_CUT_CWD);
	assert_true(m->hdr.flags & RF_MSG_F_CUT);
	/* nothing left: args absent, and cut */
	assert_true(rf_msgb_args(&b, &m->process.args, "a\0b", 3));
	assert_int_equal(m->process.args.off, 0);
	/* plain rf_msgb_str counts as "other" */
	rf_msgb_str(&b, "x");
	assert_int_equal(m->hdr.cut, RF_CUT_CWD | RF_CUT_ARGS | RF_CUT_OTHER);
	assert_int_equal(b.truncated, 3);
	uint32_t len = rf_msgb_finish(&b);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	assert_int_equal(rf_msg_cut(m), RF_CUT_CWD | RF_CUT_ARGS | RF_CUT_OTHER);
	/* the target came first and is whole */
	assert_int_equal(m->ev.exec.target.path.off, sizeof(struct rf_message));
	assert_string_equal(rf_msg_str(m, m->ev.exec.target.path), "/tmp/rf/denied");
	assert_true(rf_msg_target_known(m));
}

static void test_msgb_args_entry_boundary(void **state)
{
	/* entries of 9 letters and a NUL */
	static char args[RF_MSG_MAX * 2];
	for (size_t i = 0; i < sizeof args; i++)
		args[i] = i % 10 == 9 ? '\0' : (char)('a' + i % 26);
	static char pad[RF_MSG_MAX];
	memset(pad, 'p', sizeof pad);
	size_t tail = RF_MSG_MAX - sizeof(struct rf_message) - (RF_MSG_ALIGN + 1);
	for (size_t used = 0; used < 300; used += 7) {
		struct rf_msgb b;
		rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
		rf_str_t p = rf_msgb_add(&b, pad, tail - 1000 - used);
		assert_true(p.off != 0);
		rf_str_t r;
		assert_true(rf_msgb_args(&b, &r, args, sizeof args));
		assert_true(r.len > 0);
		/* whole entries only: the byte after the last one kept is a separator */
		assert_int_equal(args[r.len], '\0');
		assert_int_equal(rf_args_count(args, r.len), r.len / 10 + 1);
		assert_true(msg(&b)->hdr.cut & RF_CUT_ARGS);
		msg(&b)->process.args = r;
		uint32_t len = rf_msgb_finish(&b);
		assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	}
	/* one entry longer than the tail is cut inside it (better than nothing) */
	struct rf_msgb b;
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
	rf_str_t r;
	assert_true(rf_msgb_args(&b, &r, pad, sizeof pad));
	assert_int_equal(r.len, tail);
	/* a vector that fits is whole */
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
	assert_false(rf_msgb_args(&b, &r, "ls\0-l\0/tmp", 10));
	assert_int_equal(r.len, 10);
	assert_int_equal(msg(&b)->hdr.cut, 0);
	assert_int_equal(rf_args_count("ls\0-l\0/tmp", 10), 3);
	assert_int_equal(rf_args_count(NULL, 0), 0);
}

static void test_msgb_hold(void **state)
{
	static char big[RF_MSG_MAX];
	memset(big, 'h', sizeof big);
	struct rf_msgb b;
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	rf_msgb_hold(&b, 3001);
	rf_str_t r;
	assert_true(rf_msgb_field(&b, RF_CUT_CWD, &r, big, sizeof big));
	rf_msgb_hold(&b, 0);
	/* what was held fits whole once released */
	assert_false(rf_msgb_args(&b, &r, big, 3000));
	assert_int_equal(r.len, 3000);
	uint32_t len = rf_msgb_finish(&b);
	assert_true(len <= RF_MSG_MAX);
	/* a hold never exceeds what is left */
	rf_msgb_hold(&b, 100000);
	assert_true(b.used + b.held <= RF_MSG_MAX);
}

static void test_msgb_target_longer_than_tail(void **state)
{
	static char path[RF_MSG_MAX + 100];
	memset(path, 'd', sizeof path - 1);
	path[0] = '/';
	struct rf_msgb b;
	rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_file *t = &msg(&b)->ev.exec.target;
	assert_true(rf_msgb_field_str(&b, RF_CUT_TARGET, &t->path, path));
	t->flags |= RF_FILE_F_PATH_CUT;
	assert_true(t->path.len > 0);
	assert_int_equal(msg(&b)->hdr.cut, RF_CUT_TARGET);
	uint32_t len = rf_msgb_finish(&b);
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	assert_false(rf_msg_target_known(msg(&b)));
}

static void test_validate_cut_consistency(void **state)
{
	struct rf_msgb b;
	uint32_t len = build_exec(&b);
	struct rf_message *m = msg(&b);

	m->hdr.cut = RF_CUT_ARGS;                  /* bit without RF_MSG_F_CUT */
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	m->hdr.flags |= RF_MSG_F_CUT;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	m->hdr.cut = 0;                            /* RF_MSG_F_CUT without a bit */
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	m->hdr.cut = 0x80000000u;                  /* a bit nobody defined */
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	m->hdr.cut = 0;
	m->hdr.flags &= (uint8_t)~RF_MSG_F_CUT;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);

	/* a target path flagged cut must be in hdr.cut */
	m->ev.exec.target.flags = RF_FILE_F_PATH_CUT;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	m->hdr.cut = RF_CUT_TARGET;
	m->hdr.flags |= RF_MSG_F_CUT;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	assert_false(rf_msg_target_known(m));

	/* an unknown path is absent, never a guess */
	m->hdr.cut = 0;
	m->hdr.flags &= (uint8_t)~RF_MSG_F_CUT;
	m->ev.exec.target.flags = RF_FILE_F_PATH_UNKNOWN;
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_E_PROTO);
	m->ev.exec.target.path = (rf_str_t){ 0, 0 };
	assert_int_equal(rf_msg_validate(b.u.bytes, len), RF_OK);
	assert_false(rf_msg_target_known(m));

	/* absent without a flag is not known either; types without a target neither */
	m->ev.exec.target.flags = 0;
	assert_false(rf_msg_target_known(m));
	m->hdr.type = RF_EVENT_FORK;
	m->hdr.action = RF_ACTION_NOTIFY;
	assert_null(rf_msg_target(m));
	assert_false(rf_msg_target_known(m));
	assert_false(rf_msg_target_known(NULL));
}

/* ---- rf_ctl_validate ---- */

static const enum rf_client_state all_states[] = {
	RF_CS_EMPTY, RF_CS_STARTING, RF_CS_CONNECTED, RF_CS_RUNNING, RF_CS_DEMOTED,
	RF_CS_BACKOFF, RF_CS_QUARANTINED, RF_CS_STOPPED,
};
#define NSTATES (sizeof all_states / sizeof all_states[0])

struct ctlbuf {
	_Alignas(8) unsigned char b[RF_CTL_MAX_SIZE + 64];
	size_t len;
};

static void ctl_hdr(struct ctlbuf *c, uint16_t type, size_t len)
{
	struct rf_ctl_hdr h = { .size = (uint32_t)len, .version = RF_PROTO_VERSION, .type = type,
				.req_id = 7 };
	memcpy(c->b, &h, sizeof h);
	c->len = len;
}

/* A well-formed message of each type. */
static void ctl_good(struct ctlbuf *c, uint16_t type)
{
	memset(c, 0, sizeof *c);
	switch (type) {
	case RF_CTL_HELLO: {
		struct rf_ctl_hello m = { .proto_version = RF_PROTO_VERSION };
		strcpy(m.name, "deny");
		memcpy(c->b, &m, sizeof m);
		ctl_hdr(c, type, sizeof m);
		break;
	}
	case RF_CTL_SUBSCRIBE:
	case RF_CTL_SUBSCRIBE_FD:
	case RF_CTL_UNSUBSCRIBE: {
		struct rf_ctl_sub m = { .type = RF_EVENT_EXEC, .action = RF_ACTION_AUTH };
		memcpy(c->b, &m, sizeof m);
		ctl_hdr(c, type, sizeof m);
		break;
	}
	case RF_CTL_MUTE_PROC:
	case RF_CTL_UNMUTE_PROC: {
		struct rf_ctl_mute_proc m = { .pid = 1234, .start_time_ns = 5 };
		memcpy(c->b, &m, sizeof m);
		ctl_hdr(c, type, sizeof m);
		break;
	}
	case RF_CTL_MUTE_PATH:
	case RF_CTL_UNMUTE_PATH: {
		static const char path[] = "/usr/bin";
		struct rf_ctl_mute_path m = { .flags = RF_MUTE_PREFIX | RF_MUTE_EXE, .len = sizeof path };
		memcpy(c->b, &m, sizeof m);
		memcpy(c->b + sizeof m, path, sizeof path);
		ctl_hdr(c, type, sizeof m + sizeof path);
		break;
	}
	case RF_CTL_MUTE_INVERT: {
		struct rf_ctl_mute_invert m = { .kind = RF_MUTE_TARGET, .inverted = 1 };
		memcpy(c->b, &m, sizeof m);
		ctl_hdr(c, type, sizeof m);
		break;
	}
	case RF_CTL_READY:
		ctl_hdr(c, type, sizeof(struct rf_ctl_hdr));
		break;
	case RF_CTL_ALERT: {
		/* rule "r1", title "t", level "high", no tags, then a valid trigger */
		struct rf_msgb mb;
		rf_msgb_init(&mb, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
		mb.u.msg.process.pid = 42;
		mb.u.msg.process.exe.path = rf_msgb_str(&mb, "/usr/bin/true");
		uint32_t mlen = rf_msgb_finish(&mb);
		struct rf_ctl_alert m = { .rule_len = 2, .title_len = 1, .level_len = 4, .msg_len = mlen };
		memcpy(c->b, &m, sizeof m);
		memcpy(c->b + sizeof m, "r1thigh", 7);
		memcpy(c->b + sizeof m + 7, mb.u.bytes, mlen);
		ctl_hdr(c, type, sizeof m + 7 + mlen);
		break;
	}
	default:
		ctl_hdr(c, type, sizeof(struct rf_ctl_hdr));
		break;
	}
}

/* The permit table, spelled out independently of bclient.c's. */
static bool permitted(uint16_t type, enum rf_client_state st)
{
	switch (type) {
	case RF_CTL_HELLO:
		return st == RF_CS_STARTING;
	case RF_CTL_READY:
		return st == RF_CS_CONNECTED;
	case RF_CTL_SUBSCRIBE:
	case RF_CTL_SUBSCRIBE_FD:
	case RF_CTL_UNSUBSCRIBE:
	case RF_CTL_MUTE_PROC:
	case RF_CTL_UNMUTE_PROC:
	case RF_CTL_MUTE_PATH:
	case RF_CTL_UNMUTE_PATH:
	case RF_CTL_MUTE_INVERT:
		return st == RF_CS_CONNECTED || st == RF_CS_RUNNING || st == RF_CS_DEMOTED;
	case RF_CTL_ALERT:
		return st == RF_CS_RUNNING || st == RF_CS_DEMOTED;
	default:
		return false;
	}
}

static enum rf_client_state a_permitted_state(uint16_t type)
{
	return type == RF_CTL_HELLO ? RF_CS_STARTING
	       : type == RF_CTL_ALERT ? RF_CS_RUNNING : RF_CS_CONNECTED;
}

static int ctl(const struct ctlbuf *c, enum rf_client_state st)
{
	return rf_ctl_validate(c->b, c->len, st);
}

static void test_ctl_permit_table(void **state)
{
	struct ctlbuf c;
	for (uint16_t type = RF_CTL_HELLO; type < RF_CTL_MAX; type++) {
		if (type == RF_CTL_HELLO_ACK || type == RF_CTL_ACK || type == RF_CTL_FD)
			continue;
		ctl_good(&c, type);
		for (size_t i = 0; i < NSTATES; i++) {
			int want = permitted(type, all_states[i]) ? 0 : RF_E_STATE;
			int got = ctl(&c, all_states[i]);
			if (got != want)
				fail_msg("type %u in state %s: got %d, want %d", type,
					 rf_client_state_name(all_states[i]), got, want);
		}
	}
	/* broker -> client types, and unknown types, are malformed from a client in any state */
	const uint16_t never[] = { 0, RF_CTL_HELLO_ACK, RF_CTL_ACK, RF_CTL_FD, RF_CTL_MAX, 0xffff };
	for (size_t k = 0; k < sizeof never / sizeof never[0]; k++) {
		ctl_good(&c, never[k]);
		for (size_t i = 0; i < NSTATES; i++)
			if (ctl(&c, all_states[i]) != RF_E_PROTO)
				fail_msg("type %u accepted in state %zu", never[k], i);
	}
}

static void test_ctl_sizes(void **state)
{
	struct ctlbuf c;
	for (uint16_t type = RF_CTL_HELLO; type < RF_CTL_MAX; type++) {
		if (type == RF_CTL_HELLO_ACK || type == RF_CTL_ACK || type == RF_CTL_FD)
			continue;
		enum rf_client_state st = a_permitted_state(type);
		ctl_good(&c, type);
		size_t good = c.len;
		assert_int_equal(ctl(&c, st), 0);
		/* every other datagram size, with the header's size field agreeing */
		for (size_t len = sizeof(struct rf_ctl_hdr); len <= good + 64; len++) {
			if (len == good)
				continue;
			ctl_good(&c, type);
			ctl_hdr(&c, type, len);
			int got = ctl(&c, st);
			if (got != RF_E_PROTO)
				fail_msg("type %u, size %zu (want %zu): got %d", type, len, good, got);
		}
		/* the header's size field disagreeing with the datagram */
		ctl_good(&c, type);
		ctl_hdr(&c, type, good + 8);
		c.len = good;
		assert_int_equal(ctl(&c, st), RF_E_PROTO);
		/* version, reserved */
		ctl_good(&c, type);
		((struct rf_ctl_hdr *)(void *)c.b)->version = RF_PROTO_VERSION + 1;
		assert_int_equal(ctl(&c, st), RF_E_PROTO);
		ctl_good(&c, type);
		((struct rf_ctl_hdr *)(void *)c.b)->reserved = 1;
		assert_int_equal(ctl(&c, st), RF_E_PROTO);
	}
	/* shorter than a header; longer than the largest message */
	ctl_good(&c, RF_CTL_READY);
	for (size_t len = 0; len < sizeof(struct rf_ctl_hdr); len++)
		assert_int_equal(rf_ctl_validate(c.b, len, RF_CS_CONNECTED), RF_E_PROTO);
	ctl_hdr(&c, RF_CTL_MUTE_PATH, RF_CTL_MAX_SIZE + 8);
	assert_int_equal(ctl(&c, RF_CS_CONNECTED), RF_E_PROTO);
}

static void test_ctl_hello(void **state)
{
	struct ctlbuf c;
	struct rf_ctl_hello *m = (void *)c.b;
	ctl_good(&c, RF_CTL_HELLO);
	assert_int_equal(ctl(&c, RF_CS_STARTING), 0);
	memset(m->name, 'a', sizeof m->name);          /* no NUL */
	assert_int_equal(ctl(&c, RF_CS_STARTING), RF_E_PROTO);
	m->name[RF_NAME_MAX - 1] = '\0';               /* the longest name */
	assert_int_equal(ctl(&c, RF_CS_STARTING), 0);
	m->name[0] = '\0';                             /* empty */
	assert_int_equal(ctl(&c, RF_CS_STARTING), RF_E_PROTO);
	ctl_good(&c, RF_CTL_HELLO);
	m->proto_version = RF_PROTO_VERSION + 1;
	assert_int_equal(ctl(&c, RF_CS_STARTING), RF_E_VERSION);
}

static void test_ctl_sub(void **state)
{
	struct ctlbuf c;
	struct rf_ctl_sub *m = (void *)c.b;
	const uint16_t types[] = { RF_CTL_SUBSCRIBE, RF_CTL_UNSUBSCRIBE, RF_CTL_SUBSCRIBE_FD };
	for (size_t k = 0; k < sizeof types / sizeof types[0]; k++) {
		uint16_t type = types[k];
		for (uint32_t t = 0; t <= RF_EVENT_MAX + 1; t++) {
			for (uint32_t a = 0; a <= 2; a++) {
				ctl_good(&c, type);
				m->type = t;
				m->action = a;
				bool ok = t > RF_EVENT_NONE && t < RF_EVENT_MAX && a <= RF_ACTION_AUTH &&
					  (a != RF_ACTION_AUTH || RF_EVENT_IS_AUTHABLE(t)) &&
					  (type != RF_CTL_SUBSCRIBE_FD || a == RF_ACTION_AUTH);
				int want = ok ? 0 : RF_E_INVAL;
				if (ctl(&c, RF_CS_RUNNING) != want)
					fail_msg("ctl %u type %u action %u: want %d", type, t, a, want);
			}
		}
		ctl_good(&c, type);
		m->type = 0xffffffffu;
		assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_INVAL);
	}
}

static void test_ctl_mute_proc_invert_ready(void **state)
{
	struct ctlbuf c;
	ctl_good(&c, RF_CTL_MUTE_PROC);
	((struct rf_ctl_mute_proc *)(void *)c.b)->pid = 0;
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_INVAL);
	ctl_good(&c, RF_CTL_UNMUTE_PROC);
	((struct rf_ctl_mute_proc *)(void *)c.b)->start_time_ns = 0;   /* 0 = any start time */
	assert_int_equal(ctl(&c, RF_CS_RUNNING), 0);

	struct rf_ctl_mute_invert *inv = (void *)c.b;
	const uint32_t kinds[] = { 0, RF_MUTE_LITERAL, RF_MUTE_PREFIX, RF_MUTE_EXE, RF_MUTE_TARGET,
				   RF_MUTE_EXE | RF_MUTE_TARGET, 0x40 };
	for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
		for (uint32_t v = 0; v <= 2; v++) {
			ctl_good(&c, RF_CTL_MUTE_INVERT);
			inv->kind = kinds[k];
			inv->inverted = v;
			bool ok = (kinds[k] == RF_MUTE_EXE || kinds[k] == RF_MUTE_TARGET) && v <= 1;
			assert_int_equal(ctl(&c, RF_CS_CONNECTED), ok ? 0 : RF_E_INVAL);
		}
	}

	ctl_good(&c, RF_CTL_READY);
	assert_int_equal(ctl(&c, RF_CS_CONNECTED), 0);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_STATE);     /* once */
	assert_int_equal(ctl(&c, RF_CS_STARTING), RF_E_STATE);    /* not before the handshake */
}

/* A mute path datagram of the given flags, stated length and path bytes. */
static void mute_path(struct ctlbuf *c, uint16_t type, uint32_t flags, uint32_t stated,
		      const void *path, size_t n)
{
	memset(c, 0, sizeof *c);
	struct rf_ctl_mute_path m = { .flags = flags, .len = stated };
	memcpy(c->b, &m, sizeof m);
	memcpy(c->b + sizeof m, path, n);
	ctl_hdr(c, type, sizeof m + n);
}

static void test_ctl_mute_path(void **state)
{
	struct ctlbuf c;
	const unsigned LIT = RF_MUTE_LITERAL, PRE = RF_MUTE_PREFIX, EXE = RF_MUTE_EXE,
		       TGT = RF_MUTE_TARGET;

	/* every combination of the known bits plus an unknown one */
	for (unsigned f = 0; f < 64; f++) {
		unsigned flags = (f & 1 ? LIT : 0) | (f & 2 ? PRE : 0) | (f & 4 ? EXE : 0) |
				 (f & 8 ? TGT : 0) | (f & 16 ? 0x4u : 0) | (f & 32 ? 0x80000000u : 0);
		bool ok = (f & 3) != 0 && (f & 3) != 3 && (f & 12) != 0 && (f & 12) != 12 && !(f & 48);
		mute_path(&c, RF_CTL_MUTE_PATH, flags, 5, "/tmp", 5);
		if (ctl(&c, RF_CS_RUNNING) != (ok ? 0 : RF_E_INVAL))
			fail_msg("flags %#x: want %s", flags, ok ? "ok" : "RF_E_INVAL");
	}

	const unsigned good = LIT | TGT;
	mute_path(&c, RF_CTL_UNMUTE_PATH, good, 5, "/tmp", 5);
	assert_int_equal(ctl(&c, RF_CS_CONNECTED), 0);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 2, "/", 2);               /* the shortest */
	assert_int_equal(ctl(&c, RF_CS_RUNNING), 0);
	/* bad paths */
	mute_path(&c, RF_CTL_MUTE_PATH, good, 4, "tmp", 4);             /* relative */
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_INVAL);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 4, "/tmpX", 4);           /* no NUL at the end */
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_INVAL);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 6, "/t\0mp", 6);          /* interior NUL */
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_INVAL);
	/* stated length disagreeing with the datagram, or out of bounds */
	mute_path(&c, RF_CTL_MUTE_PATH, good, 6, "/tmp", 5);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_PROTO);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 4, "/tmp", 5);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_PROTO);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 0xfffffff0u, "/tmp", 5);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_PROTO);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 1, "", 1);                /* len < 2 */
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_PROTO);
	mute_path(&c, RF_CTL_MUTE_PATH, good, 0, "", 0);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_PROTO);

	/* the longest path (4095 bytes and the NUL) fits; one more does not */
	static char p[RF_PATH_MAX + 1];
	memset(p, 'a', sizeof p);
	p[0] = '/';
	p[RF_PATH_MAX - 1] = '\0';
	mute_path(&c, RF_CTL_MUTE_PATH, good, RF_PATH_MAX, p, RF_PATH_MAX);
	assert_int_equal(c.len, sizeof(struct rf_ctl_mute_path) + RF_PATH_MAX);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), 0);
	p[RF_PATH_MAX - 1] = 'a';
	p[RF_PATH_MAX] = '\0';
	mute_path(&c, RF_CTL_MUTE_PATH, good, RF_PATH_MAX + 1, p, RF_PATH_MAX + 1);
	assert_int_equal(ctl(&c, RF_CS_RUNNING), RF_E_PROTO);
}

/* ---- rf_ops_parse_req ---- */

static struct rf_ops_req ops_good(uint16_t cmd)
{
	return (struct rf_ops_req){ .magic = RF_OPS_MAGIC, .version = RF_PROTO_VERSION, .cmd = cmd };
}

static void expect_ops_refused(const struct rf_ops_req *r, size_t len, const char *what)
{
	struct rf_ops_req out, pattern;
	memset(&out, 0x6b, sizeof out);
	pattern = out;
	unsigned char buf[64] = { 0 };
	memcpy(buf, r, sizeof *r);
	if (rf_ops_parse_req(buf, len, &out) != -EINVAL)
		fail_msg("ops request with %s accepted", what);
	assert_memory_equal(&out, &pattern, sizeof out);
}

static void test_ops_parse_req(void **state)
{
	struct rf_ops_req r, out;
	for (uint16_t cmd = 1; cmd < RF_OPS_MAX; cmd++) {
		if (cmd == RF_OPS_CONTENT)
			continue;   /* its own, longer request: below */
		r = ops_good(cmd);
		assert_int_equal(rf_ops_parse_req(&r, sizeof r, &out), 0);
		assert_memory_equal(&out, &r, sizeof r);
	}
	r = ops_good(RF_OPS_TAIL);
	r.type_mask = (1ull << RF_EVENT_EXEC) | (1ull << (RF_EVENT_MAX - 1));
	r.exclude_pgid = 4321;
	r.flags = RF_OPS_F_EXCLUDE_PID;
	assert_int_equal(rf_ops_parse_req(&r, sizeof r, &out), 0);
	assert_int_equal(out.type_mask, r.type_mask);
	assert_int_equal(out.exclude_pgid, 4321);
	assert_int_equal(out.flags, RF_OPS_F_EXCLUDE_PID);

	r = ops_good(RF_OPS_STATUS);
	for (size_t len = 0; len < 40; len++)
		if (len != sizeof r)
			expect_ops_refused(&r, len, "a wrong size");
	r.magic = RF_SHM_MAGIC;
	expect_ops_refused(&r, sizeof r, "a bad magic");
	r = ops_good(RF_OPS_STATUS);
	r.version = RF_PROTO_VERSION + 1;
	expect_ops_refused(&r, sizeof r, "a bad version");
	r = ops_good(0);
	expect_ops_refused(&r, sizeof r, "command 0");
	r = ops_good(RF_OPS_MAX);
	expect_ops_refused(&r, sizeof r, "command RF_OPS_MAX");
	r = ops_good(0xffff);
	expect_ops_refused(&r, sizeof r, "command 0xffff");
	r = ops_good(RF_OPS_TAIL);
	r.flags = 0x2;
	expect_ops_refused(&r, sizeof r, "an unknown flag");
	r = ops_good(RF_OPS_TAIL);
	r.type_mask = 1;   /* RF_EVENT_NONE */
	expect_ops_refused(&r, sizeof r, "type NONE in the mask");
	r = ops_good(RF_OPS_TAIL);
	r.type_mask = 1ull << RF_EVENT_MAX;
	expect_ops_refused(&r, sizeof r, "an unknown type in the mask");
	r = ops_good(RF_OPS_TAIL);
	r.type_mask = 1ull << 63;
	expect_ops_refused(&r, sizeof r, "bit 63 in the mask");
	r = ops_good(RF_OPS_CONTENT);
	expect_ops_refused(&r, sizeof r, "a content command without its body");
}

static struct rf_ops_content content_good(uint32_t action)
{
	struct rf_ops_content q;
	memset(&q, 0, sizeof q);
	q.req = ops_good(RF_OPS_CONTENT);
	q.action = action;
	if (action == RF_OPS_CONTENT_PIN || action == RF_OPS_CONTENT_UNPIN)
		strcpy(q.client, "rf-detect");
	return q;
}

static void expect_content_refused(const struct rf_ops_content *q, size_t len, const char *what)
{
	struct rf_ops_content out, pattern;
	memset(&out, 0x3c, sizeof out);
	pattern = out;
	if (rf_ops_parse_content(q, len, &out) != -EINVAL)
		fail_msg("content request with %s accepted", what);
	assert_memory_equal(&out, &pattern, sizeof out);
}

static void test_ops_parse_content(void **state)
{
	struct rf_ops_content q, out;
	for (uint32_t a = 1; a < RF_OPS_CONTENT_MAX; a++) {
		q = content_good(a);
		assert_int_equal(rf_ops_parse_content(&q, sizeof q, &out), 0);
		assert_memory_equal(&q, &out, sizeof q);
	}
	q = content_good(RF_OPS_CONTENT_PIN);
	q.version = 7;
	assert_int_equal(rf_ops_parse_content(&q, sizeof q, &out), 0);
	q = content_good(RF_OPS_CONTENT_DELAY);
	q.hours = 8760;
	assert_int_equal(rf_ops_parse_content(&q, sizeof q, &out), 0);

	q = content_good(RF_OPS_CONTENT_CHECK);
	expect_content_refused(&q, sizeof q - 1, "a short body");
	q = content_good(0);
	expect_content_refused(&q, sizeof q, "action 0");
	q = content_good(RF_OPS_CONTENT_MAX);
	expect_content_refused(&q, sizeof q, "action MAX");
	q = content_good(RF_OPS_CONTENT_DELAY);
	q.hours = 8761;
	expect_content_refused(&q, sizeof q, "a delay over a year");
	q = content_good(RF_OPS_CONTENT_CHECK);
	q.version = 1;
	expect_content_refused(&q, sizeof q, "a version on check");
	q = content_good(RF_OPS_CONTENT_PAUSE);
	strcpy(q.client, "x");
	expect_content_refused(&q, sizeof q, "a client name on pause");
	q = content_good(RF_OPS_CONTENT_PIN);
	q.client[0] = 0;
	expect_content_refused(&q, sizeof q, "pin without a client");
	q = content_good(RF_OPS_CONTENT_PIN);
	memset(q.client, 'a', sizeof q.client);
	expect_content_refused(&q, sizeof q, "an unterminated client name");
	q = content_good(RF_OPS_CONTENT_UNPIN);
	q.client[sizeof q.client - 1] = 'z';
	expect_content_refused(&q, sizeof q, "bytes after the client name's NUL");
	q = content_good(RF_OPS_CONTENT_CHECK);
	q.req.type_mask = 2;
	expect_content_refused(&q, sizeof q, "a type mask");
	q = content_good(RF_OPS_CONTENT_CHECK);
	q.req.cmd = RF_OPS_STATUS;
	expect_content_refused(&q, sizeof q, "another command");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_validate_accepts_built),
		cmocka_unit_test(test_msgb_nothing_cut_when_it_fits),
		cmocka_unit_test(test_msgb_field_flags),
		cmocka_unit_test(test_msgb_args_entry_boundary),
		cmocka_unit_test(test_msgb_hold),
		cmocka_unit_test(test_msgb_target_longer_than_tail),
		cmocka_unit_test(test_validate_cut_consistency),
		cmocka_unit_test(test_validate_refuses_header),
		cmocka_unit_test(test_validate_refuses_strings),
		cmocka_unit_test(test_msgb_truncation),
		cmocka_unit_test(test_ctl_permit_table),
		cmocka_unit_test(test_ctl_sizes),
		cmocka_unit_test(test_ctl_hello),
		cmocka_unit_test(test_ctl_sub),
		cmocka_unit_test(test_ctl_mute_proc_invert_ready),
		cmocka_unit_test(test_ctl_mute_path),
		cmocka_unit_test(test_ops_parse_req),
		cmocka_unit_test(test_ops_parse_content),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
