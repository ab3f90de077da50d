/*
 * budget.c - per-client accounting of the broker's own CPU time; see budget.h.
 */
#include <errno.h>
#include <stdio.h>
#include <time.h>

#include <json-c/json.h>

#include "broker/broker.h"
#include "broker/budget.h"
#include "common/log.h"

uint64_t rf_budget_now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void rf_budget_charge(struct rf_bclient *c, uint64_t t0)
{
	c->budget.cpu_ns += rf_budget_now() - t0;
}

/* The client's descriptors the loop reads on its behalf. */
static void set_watched(struct rf_broker *b, struct rf_bclient *c, bool on)
{
	const struct { int fd; enum rf_tag tag; } fds[] = {
		{ c->resp_efd, RF_TAG_CLIENT_RESP },
		{ c->notify_fd, RF_TAG_CLIENT_NOTIFY },
		{ c->sock, RF_TAG_CLIENT_SOCK },
	};
	for (size_t i = 0; i < sizeof fds / sizeof *fds; i++) {
		if (fds[i].fd < 0)
			continue;
		if (on)
			rf_epoll_add(b, fds[i].fd, fds[i].tag, c->slot);
		else
			rf_epoll_del(b, fds[i].fd);
	}
}

void rf_budget_tick(struct rf_broker *b)
{
	uint64_t now = rf_now_mono_ns();
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		struct rf_budget *bu = &c->budget;
		uint64_t spent = bu->cpu_ns;
		uint64_t span = bu->since_ns ? now - bu->since_ns : 0;
		bu->cpu_ns = 0;
		bu->since_ns = now;
		if (c->pid != bu->pid) {
			/* a new process: descriptors are new (spawn watches them), the tally starts over */
			bu->pid = c->pid;
			bu->throttled = false;
			bu->over_s = 0;
			continue;
		}
		if (bu->throttled) {
			if (now < bu->release_ns) {
				bu->cpu_ns = spent;   /* what it cost before the cut still counts */
				bu->since_ns -= span;
				continue;
			}
			bu->throttled = false;
			if (c->pid > 0)
				set_watched(b, c, true);
			/* judged again on what it costs once released */
			continue;
		}
		if (!b->cfg.budget_cpu_percent || c->pid <= 0 || span < 100000000ull)
			continue;
		bu->last_permille = (uint32_t)(spent * 1000 / span);
		if (bu->last_permille > bu->peak_permille)
			bu->peak_permille = bu->last_permille;
		if (bu->last_permille <= b->cfg.budget_cpu_percent * 10u) {
			bu->over_s = 0;
			continue;
		}
		bu->over_s++;
		char why[160];
		snprintf(why, sizeof why, "cost the broker %u.%u%% of a core in %llu ms (budget %u%%), %u times in a row",
			 bu->last_permille / 10, bu->last_permille % 10, (unsigned long long)(span / 1000000),
			 b->cfg.budget_cpu_percent, bu->over_s);
		if (bu->over_s >= b->cfg.budget_kill_after_s) {
			bu->kills++;
			rf_alert(b, c->man.name, "budget", why);
			rf_sv_event(b, c, RF_SV_KILL, why);
			continue;
		}
		/*
		 * Off long enough that what it cost, spread over the time it ran
		 * and the time it is off, is its budget: spent over span at a
		 * budget B means span * (spent/span/B - 1) off.  At most 10 s.
		 */
		uint64_t off = span * bu->last_permille / (b->cfg.budget_cpu_percent * 10u) - span;
		if (off > 10000000000ull)
			off = 10000000000ull;
		bu->release_ns = now + off;
		bu->throttles++;
		bu->throttled = true;
		set_watched(b, c, false);
		if (bu->over_s == 1)
			rf_alert(b, c->man.name, "budget", why);
		else
			rf_debug("client %s throttled: %s", c->man.name, why);
	}
}

void rf_budget_status(const struct rf_bclient *c, void *json_obj)
{
	json_object *o = json_object_new_object();
	json_object_object_add(o, "cpu_permille", json_object_new_int64(c->budget.last_permille));
	json_object_object_add(o, "peak_permille", json_object_new_int64(c->budget.peak_permille));
	json_object_object_add(o, "throttled", json_object_new_boolean(c->budget.throttled));
	json_object_object_add(o, "throttles", json_object_new_int64((int64_t)c->budget.throttles));
	json_object_object_add(o, "kills", json_object_new_int64((int64_t)c->budget.kills));
	json_object_object_add((json_object *)json_obj, "budget", o);
}
