/*
 * test_recfile.c - recorded event files: round trips through the writer and
 * both readers, and refusal of everything a damaged or hostile file holds.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/recfile.h"
#include "common/wire.h"
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
	m->hdr.time_ns = 1795277522123456789ull;
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

static size_t mb_finish(struct msgbuf *mb)
{
	mb->len = (mb->len + RF_MSG_ALIGN - 1) / RF_MSG_ALIGN * RF_MSG_ALIGN;
	msg_of(mb)->hdr.size = (uint32_t)mb->len;
	assert_int_equal(rf_msg_validate(mb->b, mb->len), RF_OK);
	return mb->len;
}

static void mb_exec(struct msgbuf *mb, uint32_t pid, const char *path)
{
	mb_init(mb, RF_EVENT_EXEC, RF_ACTION_AUTH);
	struct rf_message *m = msg_of(mb);
	m->process.pid = pid;
	m->process.comm = mb_str(mb, "bash", 4);
	m->ev.exec.target.path = mb_str(mb, path, strlen(path));
	m->ev.exec.args = mb_str(mb, "ls\0-l", 5);
	m->ev.exec.argc = 2;
	mb_finish(mb);
}

/* ---- building recordings in memory ---- */

struct rec {
	unsigned char *b;
	size_t len;
};

static void rec_add(struct rec *r, const void *p, size_t n)
{
	r->b = realloc(r->b, r->len + n + 1);    /* +1: never a zero-size realloc */
	assert_non_null(r->b);
	memcpy(r->b + r->len, p, n);
	r->len += n;
}

static void rec_header(struct rec *r, const char *magic, uint32_t version)
{
	struct rf_rec_hdr h;
	memset(&h, 0, sizeof h);
	memcpy(h.magic, magic, sizeof h.magic);
	h.version = version;
	rec_add(r, &h, sizeof h);
}

static char *tmp_path(void)
{
	char *p = strdup("/tmp/rf-test-recfile-XXXXXX");
	assert_non_null(p);
	int fd = mkstemp(p);
	assert_true(fd >= 0);
	close(fd);
	return p;
}

static int read_all(const char *path, struct rec *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unsigned char buf[4096];
	ssize_t n;
	while ((n = read(fd, buf, sizeof buf)) > 0)
		rec_add(out, buf, (size_t)n);
	close(fd);
	return n < 0 ? -1 : 0;
}

/* ---- tests ---- */

static void test_round_trip(void **state)
{
	char *path = tmp_path();
	struct rf_rec_writer *w = NULL;
	struct msgbuf mb[3];

	mb_exec(&mb[0], 100, "/usr/bin/ls");
	mb_init(&mb[1], RF_EVENT_FORK, RF_ACTION_NOTIFY);
	msg_of(&mb[1])->ev.fork.child_pid = 101;
	mb_finish(&mb[1]);
	mb_exec(&mb[2], 102, "/tmp/rf/evil-true");

	assert_int_equal(rf_rec_writer_open(path, &w), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(rf_rec_writer_append(w, mb[i].b, mb[i].len), 0);
	assert_int_equal(rf_rec_writer_count(w), 3);
	assert_int_equal(rf_rec_writer_close(w), 0);

	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal((size_t)st.st_size,
			 sizeof(struct rf_rec_hdr) + mb[0].len + mb[1].len + mb[2].len);

	/* The file reader and the memory reader see the same records. */
	struct rec file = { 0 };
	assert_int_equal(read_all(path, &file), 0);
	struct rf_rec_reader *readers[2];
	assert_int_equal(rf_rec_reader_open(path, &readers[0]), 0);
	assert_int_equal(rf_rec_reader_new_mem(file.b, file.len, &readers[1]), 0);
	for (int k = 0; k < 2; k++) {
		struct rf_rec_reader *r = readers[k];
		const struct rf_message *m;
		size_t len;
		uint64_t off = sizeof(struct rf_rec_hdr);
		assert_int_equal(rf_rec_reader_offset(r), off);
		for (int i = 0; i < 3; i++) {
			assert_int_equal(rf_rec_reader_next(r, &m, &len), 1);
			assert_int_equal(len, mb[i].len);
			assert_memory_equal(m, mb[i].b, len);
			off += len;
			assert_int_equal(rf_rec_reader_offset(r), off);
		}
		assert_string_equal(rf_msg_str(m, m->ev.exec.target.path), "/tmp/rf/evil-true");
		assert_int_equal(rf_rec_reader_next(r, &m, &len), 0);
		assert_int_equal(rf_rec_reader_next(r, &m, &len), 0);
		assert_int_equal(rf_rec_reader_count(r), 3);
		rf_rec_reader_free(r);
	}
	free(file.b);
	unlink(path);
	free(path);
}

/* Many records: the file reader refills its buffer across record boundaries. */
static void test_large_file(void **state)
{
	char *path = tmp_path();
	struct rf_rec_writer *w;
	struct msgbuf mb;
	enum { N = 700 };

	assert_int_equal(rf_rec_writer_open(path, &w), 0);
	for (uint32_t i = 0; i < N; i++) {
		char p[64];
		snprintf(p, sizeof p, "/bin/prog-%u%*s", i, (int)(i % 37), "");
		mb_exec(&mb, i, p);
		assert_int_equal(rf_rec_writer_append(w, mb.b, mb.len), 0);
	}
	assert_int_equal(rf_rec_writer_close(w), 0);

	struct rf_rec_reader *r;
	assert_int_equal(rf_rec_reader_open(path, &r), 0);
	const struct rf_message *m;
	size_t len;
	for (uint32_t i = 0; i < N; i++) {
		assert_int_equal(rf_rec_reader_next(r, &m, &len), 1);
		assert_int_equal(m->process.pid, i);
	}
	assert_int_equal(rf_rec_reader_next(r, &m, &len), 0);
	rf_rec_reader_free(r);
	unlink(path);
	free(path);
}

static void test_empty_recording(void **state)
{
	struct rec rec = { 0 };
	struct rf_rec_reader *r;
	const struct rf_message *m;
	size_t len;

	rec_header(&rec, RF_REC_MAGIC, RF_PROTO_VERSION);
	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), 0);
	assert_int_equal(rf_rec_reader_next(r, &m, &len), 0);
	rf_rec_reader_free(r);
	free(rec.b);
}

static void test_bad_header(void **state)
{
	struct rf_rec_reader *r = (struct rf_rec_reader *)0x1;
	struct rec rec = { 0 };

	rec_header(&rec, "RFREC\0\0\2", RF_PROTO_VERSION);
	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), RF_REC_E_MAGIC);
	free(rec.b);

	rec = (struct rec){ 0 };
	rec_header(&rec, "\177ELF\2\1\1\0", RF_PROTO_VERSION);
	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), RF_REC_E_MAGIC);
	free(rec.b);

	rec = (struct rec){ 0 };
	rec_header(&rec, RF_REC_MAGIC, RF_PROTO_VERSION + 1);
	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), RF_REC_E_VERSION);
	free(rec.b);

	rec = (struct rec){ 0 };
	rec_header(&rec, RF_REC_MAGIC, 0);
	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), RF_REC_E_VERSION);

	/* Reserved bits set: refused, not guessed at. */
	((struct rf_rec_hdr *)(void *)rec.b)->version = RF_PROTO_VERSION;
	((struct rf_rec_hdr *)(void *)rec.b)->reserved = 1;
	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), RF_REC_E_MAGIC);

	/* A cut header; nothing at all. */
	((struct rf_rec_hdr *)(void *)rec.b)->reserved = 0;
	assert_int_equal(rf_rec_reader_new_mem(rec.b, 10, &r), RF_REC_E_TRUNCATED);
	assert_int_equal(rf_rec_reader_new_mem(rec.b, 0, &r), RF_REC_E_TRUNCATED);
	assert_int_equal(rf_rec_reader_new_mem(NULL, 0, &r), RF_REC_E_TRUNCATED);
	/* The output is untouched on failure. */
	assert_ptr_equal(r, (struct rf_rec_reader *)0x1);
	free(rec.b);

	/* The file reader checks the same header. */
	char *path = tmp_path();
	assert_int_equal(rf_rec_reader_open(path, &r), RF_REC_E_TRUNCATED);
	assert_int_equal(rf_rec_reader_open("/nonexistent/rf.rec", &r), -ENOENT);
	assert_ptr_equal(r, (struct rf_rec_reader *)0x1);
	unlink(path);
	free(path);
}

/* A recording whose second record is damaged by damage(). */
static void expect_second_fails(void (*damage)(struct rec *rec, size_t at), size_t cut, int err)
{
	struct msgbuf mb;
	struct rec rec = { 0 };
	struct rf_rec_reader *r;
	const struct rf_message *m;
	size_t len;

	rec_header(&rec, RF_REC_MAGIC, RF_PROTO_VERSION);
	mb_exec(&mb, 1, "/bin/true");
	rec_add(&rec, mb.b, mb.len);
	size_t at = rec.len;
	mb_exec(&mb, 2, "/bin/false");
	rec_add(&rec, mb.b, mb.len);
	if (damage)
		damage(&rec, at);
	rec.len -= cut;

	assert_int_equal(rf_rec_reader_new_mem(rec.b, rec.len, &r), 0);
	assert_int_equal(rf_rec_reader_next(r, &m, &len), 1);
	assert_int_equal(m->process.pid, 1);
	m = (const struct rf_message *)0x1;
	len = 12345;
	assert_int_equal(rf_rec_reader_next(r, &m, &len), err);
	assert_int_equal(rf_rec_reader_offset(r), at);
	/* Iteration stays stopped; outputs stay untouched. */
	assert_int_equal(rf_rec_reader_next(r, &m, &len), err);
	assert_ptr_equal(m, (const struct rf_message *)0x1);
	assert_int_equal(len, 12345);
	rf_rec_reader_free(r);

	/* The file reader agrees. */
	char *path = tmp_path();
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(rec.b, 1, rec.len, f), rec.len);
	fclose(f);
	assert_int_equal(rf_rec_reader_open(path, &r), 0);
	assert_int_equal(rf_rec_reader_next(r, &m, &len), 1);
	assert_int_equal(rf_rec_reader_next(r, &m, &len), err);
	assert_int_equal(rf_rec_reader_offset(r), at);
	rf_rec_reader_free(r);
	unlink(path);
	free(path);
	free(rec.b);
}

static void set_size(struct rec *rec, size_t at, uint32_t size)
{
	memcpy(rec->b + at + offsetof(struct rf_msg_hdr, size), &size, sizeof size);
}

static void size_too_big(struct rec *rec, size_t at) { set_size(rec, at, RF_MSG_MAX + 8); }
static void size_huge(struct rec *rec, size_t at) { set_size(rec, at, UINT32_MAX); }
static void size_too_small(struct rec *rec, size_t at) { set_size(rec, at, 8); }
static void size_zero(struct rec *rec, size_t at) { set_size(rec, at, 0); }
static void size_unaligned(struct rec *rec, size_t at) { set_size(rec, at, 404); }

static void comm_outside(struct rec *rec, size_t at)
{
	rf_str_t s = { .off = RF_MSG_MAX * 2, .len = 4 };
	memcpy(rec->b + at + offsetof(struct rf_message, process.comm), &s, sizeof s);
}

static void path_past_end(struct rec *rec, size_t at)
{
	uint32_t size;
	memcpy(&size, rec->b + at, sizeof size);
	rf_str_t s = { .off = sizeof(struct rf_message), .len = size };
	memcpy(rec->b + at + offsetof(struct rf_message, ev.exec.target.path), &s, sizeof s);
}

static void bad_type(struct rec *rec, size_t at)
{
	uint16_t t = RF_EVENT_MAX;
	memcpy(rec->b + at + offsetof(struct rf_msg_hdr, type), &t, sizeof t);
}

static void test_truncated_record(void **state)
{
	expect_second_fails(NULL, 1, RF_REC_E_TRUNCATED);
	expect_second_fails(NULL, 300, RF_REC_E_TRUNCATED);
}

static void test_truncated_size_field(void **state)
{
	struct msgbuf mb;
	mb_exec(&mb, 2, "/bin/false");
	expect_second_fails(NULL, mb.len - 2, RF_REC_E_TRUNCATED);
}

static void test_oversize_size_field(void **state)
{
	expect_second_fails(size_too_big, 0, RF_REC_E_SIZE);
	expect_second_fails(size_huge, 0, RF_REC_E_SIZE);
	expect_second_fails(size_too_small, 0, RF_REC_E_SIZE);
	expect_second_fails(size_zero, 0, RF_REC_E_SIZE);
	expect_second_fails(size_unaligned, 0, RF_REC_E_SIZE);
}

static void test_invalid_record(void **state)
{
	expect_second_fails(comm_outside, 0, RF_REC_E_INVALID);
	expect_second_fails(path_past_end, 0, RF_REC_E_INVALID);
	expect_second_fails(bad_type, 0, RF_REC_E_INVALID);
}

static void test_unaligned_buffer(void **state)
{
	struct msgbuf mb;
	struct rec rec = { 0 };
	struct rf_rec_reader *r;
	const struct rf_message *m;
	size_t len;

	rec_add(&rec, "x", 1);
	rec_header(&rec, RF_REC_MAGIC, RF_PROTO_VERSION);
	mb_exec(&mb, 7, "/bin/true");
	rec_add(&rec, mb.b, mb.len);
	assert_int_equal(rf_rec_reader_new_mem(rec.b + 1, rec.len - 1, &r), 0);
	assert_int_equal(rf_rec_reader_next(r, &m, &len), 1);
	assert_true((uintptr_t)m % _Alignof(struct rf_message) == 0);
	assert_int_equal(m->process.pid, 7);
	rf_rec_reader_free(r);
	free(rec.b);
}

static void test_writer_refuses_invalid(void **state)
{
	char *path = tmp_path();
	struct rf_rec_writer *w = (struct rf_rec_writer *)0x1;
	struct msgbuf mb;

	assert_int_equal(rf_rec_writer_open("/nonexistent/dir/x.rec", &w), -ENOENT);
	assert_ptr_equal(w, (struct rf_rec_writer *)0x1);

	assert_int_equal(rf_rec_writer_open(path, &w), 0);
	mb_exec(&mb, 1, "/bin/true");
	msg_of(&mb)->process.comm.off = RF_MSG_MAX;
	assert_int_equal(rf_rec_writer_append(w, mb.b, mb.len), -EPROTO);
	mb_exec(&mb, 1, "/bin/true");
	assert_int_equal(rf_rec_writer_append(w, mb.b, mb.len - 8), -EPROTO);
	assert_int_equal(rf_rec_writer_count(w), 0);
	assert_int_equal(rf_rec_writer_close(w), 0);
	assert_int_equal(rf_rec_writer_close(NULL), 0);

	struct rf_rec_reader *r;
	const struct rf_message *m;
	size_t len;
	assert_int_equal(rf_rec_reader_open(path, &r), 0);
	assert_int_equal(rf_rec_reader_next(r, &m, &len), 0);
	rf_rec_reader_free(r);
	rf_rec_reader_free(NULL);
	unlink(path);
	free(path);
}

/* What the fuzz harness does, briefly: damaged recordings never crash the reader. */
static void test_random_damage(void **state)
{
	struct msgbuf mb;
	struct rec rec = { 0 };
	unsigned seed = 12345;

	rec_header(&rec, RF_REC_MAGIC, RF_PROTO_VERSION);
	for (uint32_t i = 0; i < 4; i++) {
		mb_exec(&mb, i, "/usr/bin/something");
		rec_add(&rec, mb.b, mb.len);
	}
	unsigned char *copy = malloc(rec.len);
	assert_non_null(copy);
	for (int iter = 0; iter < 20000; iter++) {
		memcpy(copy, rec.b, rec.len);
		int flips = 1 + rand_r(&seed) % 8;
		for (int k = 0; k < flips; k++)
			copy[rand_r(&seed) % rec.len] = (unsigned char)rand_r(&seed);
		size_t len = rec.len - (size_t)(rand_r(&seed) % 64 == 0 ? rand_r(&seed) % rec.len : 0);
		struct rf_rec_reader *r;
		if (rf_rec_reader_new_mem(copy, len, &r) < 0)
			continue;
		const struct rf_message *m;
		size_t mlen;
		int n = 0, e;
		while ((e = rf_rec_reader_next(r, &m, &mlen)) == 1) {
			assert_int_equal(rf_msg_validate(m, mlen), RF_OK);
			n++;
		}
		assert_true(e <= 0 && n <= 4);
		rf_rec_reader_free(r);
	}
	free(copy);
	free(rec.b);
}

static void test_strerror(void **state)
{
	assert_string_equal(rf_rec_strerror(RF_REC_E_VERSION), "unsupported recording version");
	assert_non_null(strstr(rf_rec_strerror(RF_REC_E_MAGIC), "not a ringfence recording"));
	assert_string_equal(rf_rec_strerror(-ENOENT), strerror(ENOENT));
	assert_non_null(rf_rec_strerror(12345));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_large_file),
		cmocka_unit_test(test_empty_recording),
		cmocka_unit_test(test_bad_header),
		cmocka_unit_test(test_truncated_record),
		cmocka_unit_test(test_truncated_size_field),
		cmocka_unit_test(test_oversize_size_field),
		cmocka_unit_test(test_invalid_record),
		cmocka_unit_test(test_unaligned_buffer),
		cmocka_unit_test(test_writer_refuses_invalid),
		cmocka_unit_test(test_random_damage),
		cmocka_unit_test(test_strerror),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
