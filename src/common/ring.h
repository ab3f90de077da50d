/*
 * ring.h - the two single-producer single-consumer rings in a client's
 * shared memory (layout in wire.h).
 *
 * The event ring carries variable-length records (rf_message, 8-byte
 * aligned, at most RF_MSG_MAX bytes); a record that would straddle the end
 * is preceded by a pad record.  The response ring carries fixed 32-byte
 * slots.  Positions are free-running 64-bit counters.
 *
 * Each side keeps a private copy of the index it owns and publishes it with
 * release stores; it reads the other side's index with acquire loads and,
 * because the other side may be hostile (a client) or buggy, checks it
 * before use.  A bad index is reported as -EPROTO and nothing is read.
 */
#ifndef RF_RING_H
#define RF_RING_H

#include <stdbool.h>
#include <stdint.h>

#include "common/cpu.h"
#include "common/wire.h"

struct rf_evring {
	struct rf_ring_ctl *ctl;
	unsigned char *data;
	uint32_t size;             /* power of two, >= RF_MSG_MAX */
	uint64_t head;             /* producer: private head */
	uint64_t tail;             /* producer: last tail seen; consumer: private tail */
};

struct rf_respring {
	struct rf_ring_ctl *ctl;
	struct rf_wire_response *slots;
	uint32_t n;                /* slot count, power of two */
	uint64_t head;             /* producer: private head */
	uint64_t tail;             /* consumer: private tail */
};

/* Bytes of shared memory for rings of the given sizes, page aligned. */
uint32_t rf_shm_size(uint32_t evt_size, uint32_t resp_slots);

/*
 * Initialises a fresh shared region of rf_shm_size() bytes (broker side).
 * Returns 0 or -EINVAL for sizes that are not powers of two or too small.
 */
int rf_shm_init(void *base, uint32_t evt_size, uint32_t resp_slots);

/*
 * Checks a mapped region of len bytes written by the other side and sets up
 * views of its rings.  Returns 0, or -EPROTO when the header is inconsistent
 * with len (nothing is changed then).
 */
int rf_shm_attach(void *base, uint64_t len, struct rf_evring *ret_evt, struct rf_respring *ret_resp);

/*
 * Producer: appends one record of len bytes (a multiple of 8, 8..RF_MSG_MAX).
 * Returns 0; -ENOSPC when it does not fit (nothing written); -EPROTO when the
 * consumer's tail is impossible; -EINVAL for a bad len.
 */
int rf_evring_push(struct rf_evring *r, const void *rec, uint32_t len);
/*
 * Same, but leaves at least reserve bytes free after the record: telemetry
 * is pushed with a reserve so that it can never take the room that AUTH
 * events (pushed with none) need.  -ENOSPC when it would eat the reserve.
 */
int rf_evring_push_reserve(struct rf_evring *r, const void *rec, uint32_t len, uint32_t reserve);

/* Producer: true when the consumer asked to be woken (call after pushes). */
bool rf_evring_need_wakeup(const struct rf_evring *r);

/* Producer: bytes in use (by the consumer's last published tail). */
uint64_t rf_evring_used(const struct rf_evring *r);

/*
 * Consumer: finds the next record, skipping pad records.  On success sets
 * *ret_rec / *ret_len and returns 1; returns 0 when empty and -EPROTO when
 * the ring is corrupt.  The record stays in place until rf_evring_consume().
 */
int rf_evring_peek(struct rf_evring *r, const void **ret_rec, uint32_t *ret_len);
void rf_evring_consume(struct rf_evring *r, uint32_t len);

/*
 * Consumer: announces it is about to sleep.  Returns true when data arrived
 * meanwhile (do not sleep); the announcement is withdrawn by
 * rf_evring_awake().
 */
bool rf_evring_prepare_sleep(struct rf_evring *r);
void rf_evring_awake(struct rf_evring *r);

/*
 * CPU hints: who runs where, so that the broker does not spin for a client
 * that cannot run because the spinner holds its CPU, and nobody spins when
 * there are more parties than CPUs.  They live in the reserved word of each
 * ring's control block (wire.h), a compatible extension: 0 means "no hint",
 * which is what a peer built before them leaves there, and a hint is only
 * ever advice (a lying or stale one costs at most a bounded spin or a
 * wake-up, and only on the liar's own events).
 *   evt.reserved   written by the client: RF_HINT_VALID | the CPU it runs on
 *                  while it is awake (spinning or handling events), plus
 *                  RF_HINT_ASLEEP once it sleeps (the CPU it went to sleep on);
 *   resp.reserved  written by the broker: RF_HINT_VALID | the CPU it last
 *                  handled AUTH events on, plus RF_HINT_NOSPIN when clients
 *                  should not spin (more AUTH parties than CPUs: a spinner
 *                  would starve the others).
 */
#define RF_HINT_VALID 0x80000000u
#define RF_HINT_NOSPIN 0x40000000u
#define RF_HINT_ASLEEP 0x20000000u
#define RF_HINT_CPU_MASK 0xffffu

static inline uint32_t rf_hint_make(int cpu, bool nospin)
{
	uint32_t c = (uint32_t)(cpu < 0 ? 0xffff : cpu) & RF_HINT_CPU_MASK;
	return RF_HINT_VALID | (nospin ? RF_HINT_NOSPIN : 0) | c;
}

/* True when hint h says its writer runs (or last ran) on cpu and does not sleep. */
static inline bool rf_hint_on_cpu(uint32_t h, int cpu)
{
	return (h & (RF_HINT_VALID | RF_HINT_ASLEEP)) == RF_HINT_VALID && cpu >= 0 &&
	       (h & RF_HINT_CPU_MASK) == ((uint32_t)cpu & RF_HINT_CPU_MASK);
}

static inline uint32_t rf_ring_hint(const struct rf_ring_ctl *ctl)
{
	return __atomic_load_n(&ctl->reserved, __ATOMIC_RELAXED);
}

/* Stores h unless it is there already (no needless write to a shared line). */
static inline void rf_ring_set_hint(struct rf_ring_ctl *ctl, uint32_t h)
{
	if (__atomic_load_n(&ctl->reserved, __ATOMIC_RELAXED) != h)
		__atomic_store_n(&ctl->reserved, h, __ATOMIC_RELAXED);
}

/* Response producer: 0, or -ENOSPC when full, -EPROTO on a bad consumer tail. */
int rf_respring_push(struct rf_respring *r, const struct rf_wire_response *resp);

/*
 * Response consumer: copies up to max responses into out (private memory)
 * and returns how many, or -EPROTO when the producer's head is impossible
 * (nothing consumed then).
 */
int rf_respring_pop(struct rf_respring *r, struct rf_wire_response *out, unsigned max);

#endif
