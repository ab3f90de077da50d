/*
 * test_ring.c - the shared-memory rings (src/common/ring.c): the region
 * header check, the event ring (variable records, pad records at the wrap,
 * full ring, corrupt indices from either side, the wake-up handshake), the
 * response ring, and a two-thread run of a million messages.
 *
 * Each test maps the region twice in the sense that matters: a producer view
 * and a consumer view, each with its own private indices, attached to the
 * same bytes, exactly as the broker and a client are.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "common/ring.h"
#include "common/wire.h"

/* What ring.c reads at the start of every record. */
struct rec_head {
	uint32_t size;
	uint16_t version;
	uint16_t type;
};

struct shm {
	unsigned char *base;
	uint32_t len;
	struct rf_shm_hdr *h;
	struct rf_evring pe, ce;      /* producer, consumer views of the events */
	struct rf_respring pr, cr;    /* producer (client), consumer (broker) of responses */
};

static void shm_setup(struct shm *s, uint32_t evt_size, uint32_t slots)
{
	memset(s, 0, sizeof *s);
	s->len = rf_shm_size(evt_size, slots);
	s->base = aligned_alloc(4096, s->len);
	assert_non_null(s->base);
	memset(s->base, 0xa5, s->len);
	assert_int_equal(rf_shm_init(s->base, evt_size, slots), 0);
	s->h = (struct rf_shm_hdr *)(void *)s->base;
	assert_int_equal(rf_shm_attach(s->base, s->len, &s->pe, &s->pr), 0);
	assert_int_equal(rf_shm_attach(s->base, s->len, &s->ce, &s->cr), 0);
}

static void shm_free(struct shm *s)
{
	free(s->base);
	s->base = NULL;
}

/* A record of len bytes whose every byte depends on seq. */
static void make_rec(unsigned char *buf, uint32_t len, uint64_t seq)
{
	struct rec_head h = { len, 1, 1 };
	memcpy(buf, &h, sizeof h);
	if (len >= 16)
		memcpy(buf + 8, &seq, sizeof seq);
	for (uint32_t i = 16; i < len; i++)
		buf[i] = (unsigned char)(seq * 131 + i);
}

static void check_rec(const void *rec, uint32_t len, uint32_t want_len, uint64_t seq)
{
	unsigned char want[RF_MSG_MAX];
	assert_int_equal(len, want_len);
	make_rec(want, want_len, seq);
	assert_memory_equal(rec, want, want_len);
}

/* 8..RF_MSG_MAX, multiples of 8, spread so that wraps land everywhere. */
static uint32_t len_for(uint64_t seq)
{
	return RF_MSG_ALIGN * (uint32_t)(1 + (seq * 7919 + seq / 3) % (RF_MSG_MAX / RF_MSG_ALIGN));
}

/* ---- region header ---- */

static void test_shm_init_refuses_bad_sizes(void **state)
{
	unsigned char *buf = aligned_alloc(4096, 1 << 20);
	assert_non_null(buf);
	assert_int_equal(rf_shm_init(buf, 3 * RF_MSG_MAX, 16), -EINVAL);    /* not a power of two */
	assert_int_equal(rf_shm_init(buf, RF_MSG_MAX, 16), -EINVAL);        /* less than two messages */
	assert_int_equal(rf_shm_init(buf, 0, 16), -EINVAL);
	assert_int_equal(rf_shm_init(buf, 2 * RF_MSG_MAX, 8), -EINVAL);     /* too few slots */
	assert_int_equal(rf_shm_init(buf, 2 * RF_MSG_MAX, 24), -EINVAL);    /* not a power of two */
	assert_int_equal(rf_shm_init(buf, 2 * RF_MSG_MAX, 16), 0);
	free(buf);
}

static void test_shm_attach_good(void **state)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	assert_int_equal(s.h->magic, RF_SHM_MAGIC);
	assert_int_equal(s.pe.size, 2 * RF_MSG_MAX);
	assert_int_equal(s.pr.n, 16);
	assert_ptr_equal(s.pe.ctl, &s.h->evt);
	assert_ptr_equal(s.pr.ctl, &s.h->resp);
	assert_ptr_equal(s.pe.data, s.base + s.h->evt_off);
	assert_ptr_equal(s.pr.slots, (void *)(s.base + s.h->resp_off));
	assert_true(s.h->resp_off + 16 * sizeof(struct rf_wire_response) <= s.len);
	assert_true(s.h->evt_off + s.h->evt_size <= s.h->resp_off);
	assert_int_equal(s.pe.head, 0);
	assert_int_equal(s.pe.tail, 0);
	shm_free(&s);
}

/* Applies one corruption to a fresh header and expects -EPROTO with nothing changed. */
static void attach_refused(void (*corrupt)(struct rf_shm_hdr *h, uint32_t *len), const char *what)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	uint32_t len = s.len;
	corrupt(s.h, &len);
	struct rf_evring e, e0;
	struct rf_respring r, r0;
	memset(&e, 0x5a, sizeof e);
	memset(&r, 0x5a, sizeof r);
	e0 = e;
	r0 = r;
	int rc = rf_shm_attach(s.base, len, &e, &r);
	if (rc != -EPROTO)
		fail_msg("attach with %s: got %d, want -EPROTO", what, rc);
	assert_memory_equal(&e, &e0, sizeof e);
	assert_memory_equal(&r, &r0, sizeof r);
	shm_free(&s);
}

static void c_magic(struct rf_shm_hdr *h, uint32_t *len) { h->magic ^= 1; }
static void c_version(struct rf_shm_hdr *h, uint32_t *len) { h->version = RF_PROTO_VERSION + 1; }
static void c_hdr_size(struct rf_shm_hdr *h, uint32_t *len) { h->hdr_size -= 8; }
static void c_short_len(struct rf_shm_hdr *h, uint32_t *len) { *len = sizeof *h - 1; }
static void c_evt_not_pow2(struct rf_shm_hdr *h, uint32_t *len) { h->evt_size = 3 * RF_MSG_MAX; }
static void c_evt_small(struct rf_shm_hdr *h, uint32_t *len) { h->evt_size = RF_MSG_MAX; h->resp_off = h->evt_off + RF_MSG_MAX; }
static void c_evt_off_low(struct rf_shm_hdr *h, uint32_t *len) { h->evt_off = 64; }
static void c_evt_off_align(struct rf_shm_hdr *h, uint32_t *len) { h->evt_off += 8; }
static void c_evt_past_end(struct rf_shm_hdr *h, uint32_t *len) { *len = h->evt_off + h->evt_size - 8; }
static void c_resp_align(struct rf_shm_hdr *h, uint32_t *len) { h->resp_off += 32; }
static void c_resp_overlap(struct rf_shm_hdr *h, uint32_t *len) { h->resp_off -= 64; }
static void c_resp_past_end(struct rf_shm_hdr *h, uint32_t *len) { h->resp_slots = 1u << 20; }
static void c_resp_not_pow2(struct rf_shm_hdr *h, uint32_t *len) { h->resp_slots = 12; }
static void c_resp_zero(struct rf_shm_hdr *h, uint32_t *len) { h->resp_slots = 0; }
static void c_evt_tail_misaligned(struct rf_shm_hdr *h, uint32_t *len)
{
	/* a consumer starting here would read a record header across the end of the ring */
	h->evt.tail = 2 * RF_MSG_MAX - 4;
	h->evt.head = 2 * RF_MSG_MAX + 4;
}
static void c_evt_head_misaligned(struct rf_shm_hdr *h, uint32_t *len) { h->evt.head = 12; }
static void c_len_short_resp(struct rf_shm_hdr *h, uint32_t *len)
{
	*len = h->resp_off + h->resp_slots * (uint32_t)sizeof(struct rf_wire_response) - 1;
}

static void test_shm_attach_refuses(void **state)
{
	attach_refused(c_magic, "bad magic");
	attach_refused(c_version, "bad version");
	attach_refused(c_hdr_size, "bad hdr_size");
	attach_refused(c_short_len, "region shorter than the header");
	attach_refused(c_evt_not_pow2, "event size not a power of two");
	attach_refused(c_evt_small, "event ring smaller than two messages");
	attach_refused(c_evt_off_low, "event data inside the header");
	attach_refused(c_evt_off_align, "misaligned event data");
	attach_refused(c_evt_past_end, "event data past the end");
	attach_refused(c_resp_align, "misaligned response slots");
	attach_refused(c_resp_overlap, "response slots over the event data");
	attach_refused(c_resp_past_end, "response slots past the end");
	attach_refused(c_resp_not_pow2, "slot count not a power of two");
	attach_refused(c_resp_zero, "no slots");
	attach_refused(c_len_short_resp, "region one byte short");
	attach_refused(c_evt_tail_misaligned, "misaligned event tail");
	attach_refused(c_evt_head_misaligned, "misaligned event head");
}

/* ---- event ring ---- */

static void test_evring_bad_len(void **state)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	unsigned char rec[RF_MSG_MAX + 8];
	make_rec(rec, 16, 1);
	assert_int_equal(rf_evring_push(&s.pe, rec, 0), -EINVAL);
	assert_int_equal(rf_evring_push(&s.pe, rec, 4), -EINVAL);
	assert_int_equal(rf_evring_push(&s.pe, rec, 12), -EINVAL);
	assert_int_equal(rf_evring_push(&s.pe, rec, RF_MSG_MAX + 8), -EINVAL);
	assert_int_equal(s.h->evt.head, 0);
	shm_free(&s);
}

/*
 * Many records of every size through a small ring: the producer fills it
 * until -ENOSPC, the consumer drains a varying number, and every record comes
 * out whole, in order, contiguous, with the pads skipped.
 */
static void test_evring_round_trip_wrap(void **state)
{
	struct shm s;
	const uint32_t size = 2 * RF_MSG_MAX;
	shm_setup(&s, size, 16);
	unsigned char rec[RF_MSG_MAX];
	uint64_t next_push = 1, next_pop = 1, pads = 0, fulls = 0;
	const uint64_t total = 20000;

	while (next_pop <= total) {
		/* fill */
		while (next_push <= total) {
			uint32_t len = len_for(next_push);
			uint64_t before = s.h->evt.head;
			make_rec(rec, len, next_push);
			int r = rf_evring_push(&s.pe, rec, len);
			if (r == -ENOSPC) {
				fulls++;
				assert_int_equal(s.h->evt.head, before);
				break;
			}
			assert_int_equal(r, 0);
			uint64_t moved = s.h->evt.head - before;
			if (moved != len) {
				/* a pad filled the end of the ring */
				assert_true(moved > len);
				assert_int_equal((before + moved - len) % size, 0);
				pads++;
			}
			assert_true(rf_evring_used(&s.pe) <= size);
			next_push++;
		}
		/* drain some (all when the producer is done) */
		uint64_t want = next_push > total ? total : 1 + next_pop % 5;
		for (uint64_t k = 0; k < want && next_pop < next_push; k++) {
			const void *p;
			uint32_t len;
			assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
			const unsigned char *b = p;
			assert_true(b >= s.ce.data && b + len <= s.ce.data + size);
			check_rec(p, len, len_for(next_pop), next_pop);
			rf_evring_consume(&s.ce, len);
			next_pop++;
		}
	}
	const void *p;
	uint32_t len;
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 0);
	assert_int_equal(s.h->evt.tail, s.h->evt.head);
	assert_true(s.h->evt.head > 50 * (uint64_t)size);   /* wrapped many times */
	assert_true(pads > 100);
	assert_true(fulls > 100);
	shm_free(&s);
}

static void snapshot(const struct shm *s, unsigned char *out)
{
	memcpy(out, s->pe.data, s->pe.size);
}

static void test_evring_full(void **state)
{
	struct shm s;
	const uint32_t size = 2 * RF_MSG_MAX;
	shm_setup(&s, size, 16);
	unsigned char rec[RF_MSG_MAX], *snap = malloc(size), *after = malloc(size);
	assert_non_null(snap);
	assert_non_null(after);
	const void *p;
	uint32_t len;

	/* exactly full: two maximal records */
	make_rec(rec, RF_MSG_MAX, 1);
	assert_int_equal(rf_evring_push(&s.pe, rec, RF_MSG_MAX), 0);
	make_rec(rec, RF_MSG_MAX, 2);
	assert_int_equal(rf_evring_push(&s.pe, rec, RF_MSG_MAX), 0);
	snapshot(&s, snap);
	make_rec(rec, 8, 3);
	assert_int_equal(rf_evring_push(&s.pe, rec, 8), -ENOSPC);
	assert_int_equal(s.h->evt.head, size);
	assert_int_equal(s.pe.head, size);
	snapshot(&s, after);
	assert_memory_equal(snap, after, size);

	/* drain, then three 4 KiB records and one consumed: 8 KiB free but only 4 KiB before the end */
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	check_rec(p, len, RF_MSG_MAX, 1);
	rf_evring_consume(&s.ce, len);
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	check_rec(p, len, RF_MSG_MAX, 2);
	rf_evring_consume(&s.ce, len);
	for (uint64_t i = 10; i < 13; i++) {
		make_rec(rec, 4096, i);
		assert_int_equal(rf_evring_push(&s.pe, rec, 4096), 0);
	}
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	check_rec(p, len, 4096, 10);
	rf_evring_consume(&s.ce, len);

	/* 8 KiB does not fit: it would need a 4 KiB pad plus itself; nothing, not even the pad, is written */
	snapshot(&s, snap);
	uint64_t head = s.h->evt.head;
	make_rec(rec, RF_MSG_MAX, 13);
	assert_int_equal(rf_evring_push(&s.pe, rec, RF_MSG_MAX), -ENOSPC);
	assert_int_equal(s.h->evt.head, head);
	assert_int_equal(s.pe.head, head);
	snapshot(&s, after);
	assert_memory_equal(snap, after, size);

	/* one more consumed: now pad + record fit */
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	check_rec(p, len, 4096, 11);
	rf_evring_consume(&s.ce, len);
	assert_int_equal(rf_evring_push(&s.pe, rec, RF_MSG_MAX), 0);
	assert_int_equal(s.h->evt.head, head + 4096 + RF_MSG_MAX);
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	check_rec(p, len, 4096, 12);
	rf_evring_consume(&s.ce, len);
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);   /* the pad is skipped */
	assert_ptr_equal(p, s.ce.data);
	check_rec(p, len, RF_MSG_MAX, 13);
	rf_evring_consume(&s.ce, len);
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 0);
	free(snap);
	free(after);
	shm_free(&s);
}

/* The producer never trusts the consumer's tail. */
/* Telemetry pushed with a reserve never takes the room AUTH events need; AUTH may use it all. */
static void test_evring_reserve(void **state)
{
	struct shm s;
	const uint32_t size = 4 * RF_MSG_MAX;
	const uint32_t reserve = size / 4;
	shm_setup(&s, size, 16);
	unsigned char rec[RF_MSG_MAX];
	const void *p;
	uint32_t len;

	/* three maximal NOTIFY records fit beside the reserve, a fourth (or any byte more) does not */
	for (uint64_t i = 1; i <= 3; i++) {
		make_rec(rec, RF_MSG_MAX, i);
		assert_int_equal(rf_evring_push_reserve(&s.pe, rec, RF_MSG_MAX, reserve), 0);
	}
	make_rec(rec, 8, 4);
	assert_int_equal(rf_evring_push_reserve(&s.pe, rec, 8, reserve), -ENOSPC);
	assert_int_equal(s.h->evt.head, 3 * RF_MSG_MAX);
	/* an AUTH record of the largest size still fits: the reserve is its room */
	make_rec(rec, RF_MSG_MAX, 5);
	assert_int_equal(rf_evring_push_reserve(&s.pe, rec, RF_MSG_MAX, 0), 0);
	/* now even AUTH finds the ring full */
	make_rec(rec, 8, 6);
	assert_int_equal(rf_evring_push(&s.pe, rec, 8), -ENOSPC);
	/* the consumer sees the records in order, the refused ones absent */
	uint64_t want[] = { 1, 2, 3, 5 };
	for (unsigned i = 0; i < 4; i++) {
		assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
		check_rec(p, len, RF_MSG_MAX, want[i]);
		rf_evring_consume(&s.ce, len);
	}
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 0);
	/* a reserve larger than the ring refuses every NOTIFY, never AUTH */
	make_rec(rec, 8, 7);
	assert_int_equal(rf_evring_push_reserve(&s.pe, rec, 8, size), -ENOSPC);
	assert_int_equal(rf_evring_push_reserve(&s.pe, rec, 8, 0), 0);
	shm_free(&s);
}

static void test_evring_corrupt_tail(void **state)
{
	struct shm s;
	const uint32_t size = 2 * RF_MSG_MAX;
	shm_setup(&s, size, 16);
	unsigned char rec[64], *snap = malloc(size), *after = malloc(size);
	assert_non_null(snap);
	assert_non_null(after);
	const void *p;
	uint32_t len;
	for (uint64_t i = 1; i <= 4; i++) {
		make_rec(rec, 64, i);
		assert_int_equal(rf_evring_push(&s.pe, rec, 64), 0);
	}
	for (int i = 0; i < 2; i++) {
		assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
		rf_evring_consume(&s.ce, len);
	}
	make_rec(rec, 64, 5);
	assert_int_equal(rf_evring_push(&s.pe, rec, 64), 0);   /* producer has seen tail 128 */
	assert_int_equal(s.pe.tail, 128);
	uint64_t head = s.h->evt.head;
	assert_int_equal(head, 320);

	const uint64_t bad[] = { head + 8, UINT64_MAX - 7, 64, 0, 132, 129 };
	const char *why[] = { "beyond head", "far beyond head", "backwards", "backwards to 0",
			      "misaligned", "misaligned" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		snapshot(&s, snap);
		s.h->evt.tail = bad[i];
		make_rec(rec, 64, 6);
		int r = rf_evring_push(&s.pe, rec, 64);
		if (r != -EPROTO)
			fail_msg("tail %s: push returned %d", why[i], r);
		assert_int_equal(s.h->evt.head, head);
		assert_int_equal(s.pe.head, head);
		assert_int_equal(s.pe.tail, 128);
		snapshot(&s, after);
		assert_memory_equal(snap, after, size);
	}
	/* a sane tail again (the same one, and a later one) is accepted */
	s.h->evt.tail = 128;
	assert_int_equal(rf_evring_push(&s.pe, rec, 64), 0);
	s.h->evt.tail = 192;
	make_rec(rec, 64, 7);
	assert_int_equal(rf_evring_push(&s.pe, rec, 64), 0);
	assert_int_equal(s.pe.tail, 192);
	free(snap);
	free(after);
	shm_free(&s);
}

/* Sets up a consumer whose own tail is at pos (both private and published). */
static void consumer_at(struct shm *s, uint64_t pos)
{
	s->ce.tail = pos;
	s->h->evt.tail = pos;
}

static void put_head(struct shm *s, uint64_t at, uint32_t size, uint16_t version, uint16_t type)
{
	struct rec_head h = { size, version, type };
	memcpy(s->ce.data + (at & (s->ce.size - 1)), &h, sizeof h);
}

static void expect_peek_proto(struct shm *s, const char *what)
{
	uint64_t tail = s->ce.tail, pub = s->h->evt.tail;
	const void *p = (const void *)0x1;
	uint32_t len = 77;
	int r = rf_evring_peek(&s->ce, &p, &len);
	if (r != -EPROTO)
		fail_msg("%s: peek returned %d, want -EPROTO", what, r);
	assert_int_equal(s->ce.tail, tail);
	assert_int_equal(s->h->evt.tail, pub);
	assert_ptr_equal(p, (const void *)0x1);
	assert_int_equal(len, 77);
}

/* The consumer never trusts the producer's head or record headers. */
static void test_evring_corrupt_head(void **state)
{
	struct shm s;
	const uint32_t size = 2 * RF_MSG_MAX;
	shm_setup(&s, size, 16);
	const uint64_t base = 10 * (uint64_t)size + 4096;   /* somewhere after a few wraps */

	/* a well-formed record at the tail: only the head is wrong */
	consumer_at(&s, base);
	put_head(&s, base, 64, 1, 1);
	s.h->evt.head = base - 8;
	expect_peek_proto(&s, "head behind tail");

	s.h->evt.head = base + size + 8;
	expect_peek_proto(&s, "head more than a ring ahead");

	s.h->evt.head = 0;
	expect_peek_proto(&s, "head reset to 0");

	/* with a sane head the same record is there */
	s.h->evt.head = base + 64;
	const void *rec;
	uint32_t rlen;
	assert_int_equal(rf_evring_peek(&s.ce, &rec, &rlen), 1);
	assert_int_equal(rlen, 64);
	assert_int_equal(s.ce.tail, base);

	s.h->evt.head = base + 256;
	put_head(&s, base, 0, 1, 1);
	expect_peek_proto(&s, "record of size 0");
	put_head(&s, base, 4, 1, 1);
	expect_peek_proto(&s, "record smaller than its header");
	put_head(&s, base, 36, 1, 1);
	expect_peek_proto(&s, "misaligned record size");
	put_head(&s, base, 264, 1, 1);
	expect_peek_proto(&s, "record larger than what was published");
	put_head(&s, base, 264, 0, RF_RING_PAD_TYPE);
	expect_peek_proto(&s, "pad larger than what was published");

	/* a record that would straddle the end of the ring */
	consumer_at(&s, 11 * (uint64_t)size - 64);
	s.h->evt.head = s.ce.tail + 128;
	put_head(&s, s.ce.tail, 128, 1, 1);
	expect_peek_proto(&s, "record across the end");
	put_head(&s, s.ce.tail, 128, 0, RF_RING_PAD_TYPE);
	expect_peek_proto(&s, "pad across the end");

	/* a record (not a pad) above RF_MSG_MAX */
	consumer_at(&s, 12 * (uint64_t)size);
	s.h->evt.head = s.ce.tail + RF_MSG_MAX + 8;
	put_head(&s, s.ce.tail, RF_MSG_MAX + 8, 1, 1);
	expect_peek_proto(&s, "record above RF_MSG_MAX");

	/* the same bytes as a pad are fine: it is skipped and the ring is then empty */
	put_head(&s, s.ce.tail, RF_MSG_MAX + 8, 0, RF_RING_PAD_TYPE);
	const void *p;
	uint32_t len;
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 0);
	assert_int_equal(s.ce.tail, 12 * (uint64_t)size + RF_MSG_MAX + 8);
	assert_int_equal(s.h->evt.tail, s.ce.tail);
	shm_free(&s);
}

/* Only type RF_RING_PAD_TYPE with version 0 is a pad; anything else is delivered as it is. */
static void test_evring_pad_marker(void **state)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	unsigned char rec[64];
	struct rec_head h = { 64, 1, RF_RING_PAD_TYPE };
	memset(rec, 0x3c, sizeof rec);
	memcpy(rec, &h, sizeof h);
	assert_int_equal(rf_evring_push(&s.pe, rec, sizeof rec), 0);
	const void *p;
	uint32_t len;
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	assert_int_equal(len, 64);
	assert_memory_equal(p, rec, sizeof rec);
	assert_int_equal(s.ce.tail, 0);
	shm_free(&s);
}

static void test_evring_wakeup(void **state)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	unsigned char rec[64];
	const void *p;
	uint32_t len;

	assert_false(rf_evring_need_wakeup(&s.pe));
	/* empty: the consumer may sleep, and the producer must then signal */
	assert_false(rf_evring_prepare_sleep(&s.ce));
	assert_true(rf_evring_need_wakeup(&s.pe));
	rf_evring_awake(&s.ce);
	assert_false(rf_evring_need_wakeup(&s.pe));

	/* asleep, then a push: the producer sees it must wake the consumer */
	assert_false(rf_evring_prepare_sleep(&s.ce));
	make_rec(rec, 64, 1);
	assert_int_equal(rf_evring_push(&s.pe, rec, 64), 0);
	assert_true(rf_evring_need_wakeup(&s.pe));
	rf_evring_awake(&s.ce);
	assert_false(rf_evring_need_wakeup(&s.pe));

	/* data already there: do not sleep, and the announcement is withdrawn */
	assert_true(rf_evring_prepare_sleep(&s.ce));
	assert_false(rf_evring_need_wakeup(&s.pe));
	assert_int_equal(rf_evring_peek(&s.ce, &p, &len), 1);
	check_rec(p, len, 64, 1);
	rf_evring_consume(&s.ce, len);
	assert_false(rf_evring_prepare_sleep(&s.ce));
	assert_true(rf_evring_need_wakeup(&s.pe));
	shm_free(&s);
}

/* ---- response ring ---- */

static struct rf_wire_response resp(uint64_t id)
{
	return (struct rf_wire_response){ .id = id, .verdict = id % 2 ? RF_ALLOW : RF_DENY,
					  .flags = id % 3 ? RF_RESP_F_CACHE : 0 };
}

static void expect_resps(const struct rf_wire_response *out, int n, uint64_t first)
{
	for (int i = 0; i < n; i++) {
		struct rf_wire_response w = resp(first + (uint64_t)i);
		assert_memory_equal(&out[i], &w, sizeof w);
	}
}

static void test_respring(void **state)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	struct rf_wire_response out[64];
	uint64_t id = 1;

	assert_int_equal(rf_respring_pop(&s.cr, out, 64), 0);
	for (int i = 0; i < 16; i++) {
		struct rf_wire_response w = resp(id++);
		assert_int_equal(rf_respring_push(&s.pr, &w), 0);
	}
	struct rf_wire_response extra = resp(999);
	assert_int_equal(rf_respring_push(&s.pr, &extra), -ENOSPC);
	assert_int_equal(s.h->resp.head, 16);

	assert_int_equal(rf_respring_pop(&s.cr, out, 5), 5);
	expect_resps(out, 5, 1);
	assert_int_equal(s.h->resp.tail, 5);

	for (int i = 0; i < 5; i++) {   /* wraps */
		struct rf_wire_response w = resp(id++);
		assert_int_equal(rf_respring_push(&s.pr, &w), 0);
	}
	assert_int_equal(rf_respring_push(&s.pr, &extra), -ENOSPC);
	assert_int_equal(rf_respring_pop(&s.cr, out, 64), 16);
	expect_resps(out, 16, 6);
	assert_int_equal(rf_respring_pop(&s.cr, out, 64), 0);

	/* many laps, one at a time and in bursts */
	for (int lap = 0; lap < 1000; lap++) {
		int burst = 1 + lap % 16;
		uint64_t first = id;
		for (int i = 0; i < burst; i++) {
			struct rf_wire_response w = resp(id++);
			assert_int_equal(rf_respring_push(&s.pr, &w), 0);
		}
		assert_int_equal(rf_respring_pop(&s.cr, out, 64), burst);
		expect_resps(out, burst, first);
	}
	shm_free(&s);
}

static void test_respring_corrupt(void **state)
{
	struct shm s;
	shm_setup(&s, 2 * RF_MSG_MAX, 16);
	struct rf_wire_response out[64];
	for (uint64_t i = 1; i <= 10; i++) {
		struct rf_wire_response w = resp(i);
		assert_int_equal(rf_respring_push(&s.pr, &w), 0);
	}
	assert_int_equal(rf_respring_pop(&s.cr, out, 4), 4);

	/* the broker (consumer) refuses an impossible head and consumes nothing */
	const uint64_t bad[] = { 3, 0, 4 + 17, UINT64_MAX };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		s.h->resp.head = bad[i];
		memset(out, 0x77, sizeof out);
		unsigned char untouched[sizeof out];
		memcpy(untouched, out, sizeof out);
		assert_int_equal(rf_respring_pop(&s.cr, out, 64), -EPROTO);
		assert_int_equal(s.cr.tail, 4);
		assert_int_equal(s.h->resp.tail, 4);
		assert_memory_equal(out, untouched, sizeof out);
	}
	s.h->resp.head = 10;
	assert_int_equal(rf_respring_pop(&s.cr, out, 64), 6);
	expect_resps(out, 6, 5);

	/* the client (producer) refuses an impossible tail */
	struct rf_wire_response w = resp(11);
	s.h->resp.tail = 11;          /* beyond its head */
	assert_int_equal(rf_respring_push(&s.pr, &w), -EPROTO);
	s.h->resp.tail = 0;           /* more than a ring behind it */
	s.pr.head = 17;
	s.h->resp.head = 17;
	assert_int_equal(rf_respring_push(&s.pr, &w), -EPROTO);
	assert_int_equal(s.h->resp.head, 17);
	shm_free(&s);
}

/* ---- two threads ---- */

#define STRESS_N 1000000ull

struct stress {
	struct shm s;
	int efd;
	int producer_err;
	uint64_t producer_fulls;
};

static uint32_t stress_len(uint64_t seq)
{
	return 16 + RF_MSG_ALIGN * (uint32_t)(seq % 64);
}

static void *producer(void *arg)
{
	struct stress *st = arg;
	unsigned char rec[RF_MSG_MAX];
	for (uint64_t seq = 1; seq <= STRESS_N; seq++) {
		uint32_t len = stress_len(seq);
		make_rec(rec, len, seq);
		for (;;) {
			int r = rf_evring_push(&st->s.pe, rec, len);
			if (r == 0)
				break;
			if (r != -ENOSPC) {
				st->producer_err = r;
				return NULL;
			}
			st->producer_fulls++;
			sched_yield();
		}
		if (rf_evring_need_wakeup(&st->s.pe)) {
			uint64_t one = 1;
			if (write(st->efd, &one, sizeof one) != sizeof one) {
				st->producer_err = -errno;
				return NULL;
			}
		}
	}
	return NULL;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * One producer thread and this thread as the consumer, sleeping on an
 * eventfd with the wake-up handshake: every message arrives once, in order,
 * intact, and no wake-up is lost (a sleep that times out while the ring
 * holds data fails the test).
 */
static void test_two_thread_stress(void **state)
{
	struct stress *st = calloc(1, sizeof *st);
	assert_non_null(st);
	shm_setup(&st->s, 64 * 1024, 16);
	st->efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	assert_true(st->efd >= 0);
	pthread_t t;
	assert_int_equal(pthread_create(&t, NULL, producer, st), 0);

	double deadline = now_s() + 90;
	uint64_t next = 1, sleeps = 0;
	while (next <= STRESS_N && !__atomic_load_n(&st->producer_err, __ATOMIC_RELAXED)) {
		const void *p;
		uint32_t len;
		int r = rf_evring_peek(&st->s.ce, &p, &len);
		if (r < 0)
			fail_msg("peek failed at seq %llu: %d", (unsigned long long)next, r);
		if (r == 1) {
			uint64_t seq;
			if (len != stress_len(next))
				fail_msg("seq %llu: length %u, want %u", (unsigned long long)next, len,
					 stress_len(next));
			memcpy(&seq, (const unsigned char *)p + 8, sizeof seq);
			if (seq != next)
				fail_msg("got seq %llu, want %llu", (unsigned long long)seq,
					 (unsigned long long)next);
			if ((next & 15) == 0)
				check_rec(p, len, len, next);
			rf_evring_consume(&st->s.ce, len);
			next++;
			continue;
		}
		if (now_s() > deadline)
			fail_msg("stress: only %llu messages in 90 s", (unsigned long long)next - 1);
		if (rf_evring_prepare_sleep(&st->s.ce))
			continue;
		struct pollfd pf = { .fd = st->efd, .events = POLLIN };
		int n = poll(&pf, 1, 5000);
		if (n == 0 && __atomic_load_n(&st->s.h->evt.head, __ATOMIC_ACQUIRE) != st->s.ce.tail)
			fail_msg("lost wake-up: slept 5 s with data in the ring");
		uint64_t v;
		if (n > 0 && read(st->efd, &v, sizeof v) < 0)
			assert_int_equal(errno, EAGAIN);
		rf_evring_awake(&st->s.ce);
		sleeps++;
	}
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(st->producer_err, 0);
	assert_int_equal(next, STRESS_N + 1);
	const void *p;
	uint32_t len;
	assert_int_equal(rf_evring_peek(&st->s.ce, &p, &len), 0);
	print_message("stress: %llu messages, %llu consumer sleeps, %llu producer retries\n",
		      (unsigned long long)STRESS_N, (unsigned long long)sleeps,
		      (unsigned long long)st->producer_fulls);
	close(st->efd);
	shm_free(&st->s);
	free(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_shm_init_refuses_bad_sizes),
		cmocka_unit_test(test_shm_attach_good),
		cmocka_unit_test(test_shm_attach_refuses),
		cmocka_unit_test(test_evring_bad_len),
		cmocka_unit_test(test_evring_round_trip_wrap),
		cmocka_unit_test(test_evring_full),
		cmocka_unit_test(test_evring_reserve),
		cmocka_unit_test(test_evring_corrupt_tail),
		cmocka_unit_test(test_evring_corrupt_head),
		cmocka_unit_test(test_evring_pad_marker),
		cmocka_unit_test(test_evring_wakeup),
		cmocka_unit_test(test_respring),
		cmocka_unit_test(test_respring_corrupt),
		cmocka_unit_test(test_two_thread_stress),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
