/*
 * ring.c - SPSC rings in shared memory; see ring.h for the contracts.
 */
#include "common/ring.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>

#define LOAD_ACQ(p) __atomic_load_n((p), __ATOMIC_ACQUIRE)
#define STORE_REL(p, v) __atomic_store_n((p), (v), __ATOMIC_RELEASE)

static bool is_pow2(uint64_t x)
{
	return x && (x & (x - 1)) == 0;
}

static uint32_t page_round(uint64_t x)
{
	return (uint32_t)((x + 4095) & ~(uint64_t)4095);
}

static uint32_t hdr_bytes(void)
{
	return page_round(sizeof(struct rf_shm_hdr));
}

uint32_t rf_shm_size(uint32_t evt_size, uint32_t resp_slots)
{
	return page_round((uint64_t)hdr_bytes() + evt_size +
			  (uint64_t)resp_slots * sizeof(struct rf_wire_response));
}

int rf_shm_init(void *base, uint32_t evt_size, uint32_t resp_slots)
{
	if (!is_pow2(evt_size) || evt_size < 2 * RF_MSG_MAX || evt_size > (1u << 30) ||
	    !is_pow2(resp_slots) || resp_slots < 16 || resp_slots > (1u << 20))
		return -EINVAL;
	struct rf_shm_hdr *h = base;
	memset(h, 0, sizeof *h);
	h->magic = RF_SHM_MAGIC;
	h->version = RF_PROTO_VERSION;
	h->hdr_size = sizeof *h;
	h->evt_off = hdr_bytes();
	h->evt_size = evt_size;
	h->resp_off = h->evt_off + evt_size;
	h->resp_slots = resp_slots;
	return 0;
}

int rf_shm_attach(void *base, uint64_t len, struct rf_evring *ret_evt, struct rf_respring *ret_resp)
{
	struct rf_shm_hdr h;
	if (len < sizeof h)
		return -EPROTO;
	memcpy(&h, base, sizeof h);
	if (h.magic != RF_SHM_MAGIC || h.version != RF_PROTO_VERSION || h.hdr_size != sizeof h)
		return -EPROTO;
	if (!is_pow2(h.evt_size) || h.evt_size < 2 * RF_MSG_MAX || !is_pow2(h.resp_slots))
		return -EPROTO;
	if (h.evt_off < sizeof h || h.evt_off % 64 || (uint64_t)h.evt_off + h.evt_size > len)
		return -EPROTO;
	if (h.resp_off % 64 || h.resp_off < (uint64_t)h.evt_off + h.evt_size ||
	    (uint64_t)h.resp_off + (uint64_t)h.resp_slots * sizeof(struct rf_wire_response) > len)
		return -EPROTO;
	struct rf_shm_hdr *sh = base;
	/*
	 * The consumer starts from the tail it finds here and reads each
	 * record's 8-byte header at it: a misaligned one would read past the
	 * end of the event data.  (Later positions are checked as they move.)
	 */
	uint64_t evt_head = LOAD_ACQ(&sh->evt.head), evt_tail = LOAD_ACQ(&sh->evt.tail);
	if (evt_head % RF_MSG_ALIGN || evt_tail % RF_MSG_ALIGN)
		return -EPROTO;
	*ret_evt = (struct rf_evring){
		.ctl = &sh->evt,
		.data = (unsigned char *)base + h.evt_off,
		.size = h.evt_size,
		.head = evt_head,
		.tail = evt_tail,
	};
	*ret_resp = (struct rf_respring){
		.ctl = &sh->resp,
		.slots = (struct rf_wire_response *)((unsigned char *)base + h.resp_off),
		.n = h.resp_slots,
		.head = LOAD_ACQ(&sh->resp.head),
		.tail = LOAD_ACQ(&sh->resp.tail),
	};
	return 0;
}

/* The consumer's tail may only move forward, stay 8-aligned and not pass our head. */
static int evring_check_tail(struct rf_evring *r, uint64_t *ret_tail)
{
	uint64_t tail = LOAD_ACQ(&r->ctl->tail);
	if (tail < r->tail || tail > r->head || tail % RF_MSG_ALIGN)
		return -EPROTO;
	r->tail = tail;
	*ret_tail = tail;
	return 0;
}

int rf_evring_push(struct rf_evring *r, const void *rec, uint32_t len)
{
	return rf_evring_push_reserve(r, rec, len, 0);
}

int rf_evring_push_reserve(struct rf_evring *r, const void *rec, uint32_t len, uint32_t reserve)
{
	if (len < RF_MSG_ALIGN || len > RF_MSG_MAX || len % RF_MSG_ALIGN)
		return -EINVAL;
	uint64_t tail;
	if (evring_check_tail(r, &tail) < 0)
		return -EPROTO;
	uint64_t free_bytes = r->size - (r->head - tail);
	uint32_t pos = (uint32_t)(r->head & (r->size - 1));
	uint32_t to_end = r->size - pos;
	uint64_t need = len <= to_end ? len : (uint64_t)to_end + len;
	if (need + reserve > free_bytes)
		return -ENOSPC;
	if (len > to_end) {
		struct { uint32_t size; uint16_t version, type; } pad = { to_end, 0, RF_RING_PAD_TYPE };
		memcpy(r->data + pos, &pad, sizeof pad);
		r->head += to_end;
		pos = 0;
	}
	memcpy(r->data + pos, rec, len);
	r->head += len;
	STORE_REL(&r->ctl->head, r->head);
	return 0;
}

bool rf_evring_need_wakeup(const struct rf_evring *r)
{
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return __atomic_load_n(&r->ctl->waiting, __ATOMIC_RELAXED) != 0;
}

uint64_t rf_evring_used(const struct rf_evring *r)
{
	return r->head - r->tail;
}

int rf_evring_peek(struct rf_evring *r, const void **ret_rec, uint32_t *ret_len)
{
	for (;;) {
		uint64_t head = LOAD_ACQ(&r->ctl->head);
		if (head == r->tail)
			return 0;
		if (head < r->tail || head - r->tail > r->size)
			return -EPROTO;
		uint32_t pos = (uint32_t)(r->tail & (r->size - 1));
		struct { uint32_t size; uint16_t version, type; } h;
		memcpy(&h, r->data + pos, sizeof h);
		if (h.size < RF_MSG_ALIGN || h.size % RF_MSG_ALIGN || h.size > head - r->tail ||
		    (uint64_t)pos + h.size > r->size)
			return -EPROTO;
		if (h.type == RF_RING_PAD_TYPE && h.version == 0) {
			r->tail += h.size;
			STORE_REL(&r->ctl->tail, r->tail);
			continue;
		}
		if (h.size > RF_MSG_MAX)
			return -EPROTO;
		*ret_rec = r->data + pos;
		*ret_len = h.size;
		return 1;
	}
}

void rf_evring_consume(struct rf_evring *r, uint32_t len)
{
	r->tail += len;
	STORE_REL(&r->ctl->tail, r->tail);
}

bool rf_evring_prepare_sleep(struct rf_evring *r)
{
	__atomic_store_n(&r->ctl->waiting, 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	if (LOAD_ACQ(&r->ctl->head) != r->tail) {
		__atomic_store_n(&r->ctl->waiting, 0, __ATOMIC_RELAXED);
		return true;
	}
	return false;
}

void rf_evring_awake(struct rf_evring *r)
{
	__atomic_store_n(&r->ctl->waiting, 0, __ATOMIC_RELAXED);
}

int rf_respring_push(struct rf_respring *r, const struct rf_wire_response *resp)
{
	uint64_t tail = LOAD_ACQ(&r->ctl->tail);
	if (tail > r->head || r->head - tail > r->n)
		return -EPROTO;
	if (r->head - tail == r->n)
		return -ENOSPC;
	r->slots[r->head & (r->n - 1)] = *resp;
	r->head++;
	STORE_REL(&r->ctl->head, r->head);
	return 0;
}

int rf_respring_pop(struct rf_respring *r, struct rf_wire_response *out, unsigned max)
{
	uint64_t head = LOAD_ACQ(&r->ctl->head);
	if (head < r->tail || head - r->tail > r->n)
		return -EPROTO;
	unsigned n = 0;
	while (r->tail != head && n < max) {
		/* copy out before anyone looks at it: the client may rewrite the slot */
		memcpy(&out[n], (const void *)&r->slots[r->tail & (r->n - 1)], sizeof *out);
		r->tail++;
		n++;
	}
	if (n)
		STORE_REL(&r->ctl->tail, r->tail);
	return (int)n;
}
