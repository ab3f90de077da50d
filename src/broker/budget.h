/*
 * budget.h - what one client may make the broker spend.
 *
 * Every handler the loop runs for a client (its responses, its control
 * socket, its denied system calls through seccomp notification) is timed
 * in the broker thread's own CPU time and charged to that client.  Each
 * second on the 1 s tick, a client that cost more than
 * [supervisor] budget_cpu_percent of a core is throttled at the source for
 * the next second: its descriptors leave the epoll set, so its syscalls,
 * responses and alerts wait in the kernel and cost the broker nothing (its
 * AUTH answers wait too: it pays with missed deadlines, then demotion).  A
 * client over budget for budget_kill_after_s seconds in a row is killed and
 * restarted with backoff; the death counts, so a client that keeps doing it
 * ends quarantined.  budget_cpu_percent = 0 turns it off.
 */
#ifndef RF_BUDGET_H
#define RF_BUDGET_H

#include <stdint.h>

struct rf_broker;
struct rf_bclient;

/* The loop thread's CPU time, ns: pass it to rf_budget_charge after a client's handler. */
uint64_t rf_budget_now(void);
/* Charges c with the CPU time since t0 (rf_budget_now()). */
void rf_budget_charge(struct rf_bclient *c, uint64_t t0);
/* Once a second: throttles, releases and kills by the figures of the second gone. */
void rf_budget_tick(struct rf_broker *b);
/* Adds "budget": {...} to a client's status object (json_object *). */
void rf_budget_status(const struct rf_bclient *c, void *json_obj);

#endif
