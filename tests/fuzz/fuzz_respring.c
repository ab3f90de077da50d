/*
 * fuzz_respring.c - libFuzzer harness for the shared-memory rings.
 *
 * The input is a shared-memory image.  Two sides are played:
 *
 *  client: rf_shm_attach() on the image as it is (the client maps what the
 *  broker made), then drain the event ring with rf_evring_peek()/consume
 *  and answer on the response ring with rf_respring_push();
 *
 *  broker: a region made by rf_shm_init() and attached, then overwritten
 *  with the input (a client may write anything into the shared memory at
 *  any time), then event pushes and response pops, with the client's
 *  indices rewritten between operations by the bytes after the image.
 *
 * After attach each ring's bytes are moved into an allocation of exactly
 * the ring's size, so AddressSanitizer reports any access outside the ring
 * it belongs to, not only outside the whole region.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "common/msgbuild.h"
#include "common/ring.h"
#include "common/wire.h"
#include "ringfence/ringfence.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

static void isolate(struct rf_evring *e, struct rf_respring *r, unsigned char **ret_evt,
		    struct rf_wire_response **ret_slots)
{
	unsigned char *evt = malloc(e->size);
	struct rf_wire_response *slots = malloc((size_t)r->n * sizeof *slots);
	if (!evt || !slots)
		abort();
	memcpy(evt, e->data, e->size);
	memcpy(slots, r->slots, (size_t)r->n * sizeof *slots);
	e->data = evt;
	r->slots = slots;
	*ret_evt = evt;
	*ret_slots = slots;
}

static void client_side(const uint8_t *data, size_t size)
{
	/* aligned like a mapping, exact size */
	size_t alloc = (size + 63) & ~(size_t)63;
	unsigned char *img = aligned_alloc(64, alloc ? alloc : 64);
	if (!img)
		abort();
	memcpy(img, data, size);
	struct rf_evring e;
	struct rf_respring r;
	if (rf_shm_attach(img, size, &e, &r) < 0) {
		free(img);
		return;
	}
	CHECK(e.size >= 2 * RF_MSG_MAX && (e.size & (e.size - 1)) == 0);
	CHECK(r.n && (r.n & (r.n - 1)) == 0);
	unsigned char *evt;
	struct rf_wire_response *slots;
	isolate(&e, &r, &evt, &slots);

	_Alignas(8) unsigned char copy[RF_MSG_MAX];
	for (int i = 0; i < 512; i++) {
		const void *rec;
		uint32_t len;
		int rc = rf_evring_peek(&e, &rec, &len);
		CHECK(rc == 0 || rc == 1 || rc == -EPROTO);
		if (rc <= 0)
			break;
		const unsigned char *p = rec;
		CHECK(p >= evt && len >= RF_MSG_ALIGN && len <= RF_MSG_MAX && p + len <= evt + e.size);
		memcpy(copy, rec, len);   /* what libringfence does before validating */
		(void)rf_msg_validate(copy, len);
		rf_evring_consume(&e, len);
	}
	(void)rf_evring_prepare_sleep(&e);
	rf_evring_awake(&e);

	for (uint64_t id = 1; id <= 40; id++) {
		struct rf_wire_response w = { .id = id, .verdict = RF_ALLOW };
		int rc = rf_respring_push(&r, &w);
		CHECK(rc == 0 || rc == -ENOSPC || rc == -EPROTO);
		if (rc < 0)
			break;
	}
	free(evt);
	free(slots);
	free(img);
}

#define B_EVT (2 * RF_MSG_MAX)
#define B_SLOTS 16u

static uint64_t take_u64(const uint8_t **p, size_t *n)
{
	uint64_t v = 0;
	size_t k = *n < 8 ? *n : 8;
	memcpy(&v, *p, k);
	*p += k;
	*n -= k;
	return v;
}

static struct rf_msgb mb;

static void broker_side(const uint8_t *data, size_t size)
{
	uint32_t shm = rf_shm_size(B_EVT, B_SLOTS);
	unsigned char *img = aligned_alloc(4096, shm);
	if (!img)
		abort();
	memset(img, 0, shm);
	CHECK(rf_shm_init(img, B_EVT, B_SLOTS) == 0);
	struct rf_evring e;
	struct rf_respring r;
	CHECK(rf_shm_attach(img, shm, &e, &r) == 0);
	size_t slots_off = (size_t)((unsigned char *)r.slots - img);
	unsigned char *evt;
	struct rf_wire_response *slots;
	isolate(&e, &r, &evt, &slots);

	/* the client scribbles over the whole region: indices, slots, even the geometry */
	struct rf_shm_hdr *h = (struct rf_shm_hdr *)(void *)img;
	size_t region = slots_off + (size_t)B_SLOTS * sizeof *slots;   /* the bytes that mean something */
	size_t over = size < region ? size : region;
	memcpy(img, data, over);
	memcpy(slots, img + slots_off, (size_t)B_SLOTS * sizeof *slots);
	const uint8_t *script = data + over;
	size_t left = size - over;

	for (int step = 0; step < 64; step++) {
		uint8_t op = left ? (left--, *script++) : (uint8_t)(step * 37);
		if (op & 0x80)
			__atomic_store_n(&h->evt.tail, take_u64(&script, &left), __ATOMIC_RELEASE);
		if (op & 0x40)
			__atomic_store_n(&h->resp.head, take_u64(&script, &left), __ATOMIC_RELEASE);
		uint32_t len = (op & 0x20) ? RF_MSG_MAX : RF_MSG_ALIGN * (1u + (op & 0x1f) * 9u);
		if (len < sizeof(struct rf_message))
			len = sizeof(struct rf_message);
		rf_msgb_init(&mb, RF_EVENT_FORK, RF_ACTION_NOTIFY);
		mb.u.msg.hdr.size = len;
		mb.u.msg.hdr.seq = (uint64_t)step;
		uint64_t head = e.head;
		int rc = rf_evring_push(&e, mb.u.bytes, len);
		CHECK(rc == 0 || rc == -ENOSPC || rc == -EPROTO);
		if (rc == 0)
			CHECK(e.head > head && e.head - e.tail <= e.size);
		else
			CHECK(e.head == head);
		(void)rf_evring_need_wakeup(&e);
		(void)rf_evring_used(&e);

		struct rf_wire_response out[8];
		uint64_t tail = r.tail;
		int n = rf_respring_pop(&r, out, 1u + (op & 7u));
		CHECK(n == -EPROTO || (n >= 0 && n <= 1 + (op & 7)));
		CHECK(n < 0 ? r.tail == tail : r.tail == tail + (uint64_t)n);
	}
	free(evt);
	free(slots);
	free(img);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1u << 20))
		return 0;
	client_side(data, size);
	broker_side(data, size);
	return 0;
}
