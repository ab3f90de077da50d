/*
 * detect.c - rf-detect's per-message logic (detect.h).
 */
#include <stdlib.h>
#include <string.h>

#include "clients/rf-detect/detect.h"

static uint64_t mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	return h;
}

static uint64_t hash_str(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ull;
	}
	return h;
}

static bool recent(struct det_recent *ring, uint64_t key, uint64_t now, uint64_t window)
{
	for (unsigned i = 0; i < DET_RING; i++)
		if (ring[i].key == key && ring[i].when && now - ring[i].when < window)
			return true;
	return false;
}

static void remember(struct det_recent *ring, unsigned *next, uint64_t key, uint64_t now)
{
	ring[*next].key = key;
	ring[*next].when = now ? now : 1;
	*next = (*next + 1) % DET_RING;
}

struct detector *det_new(struct rfe_engine *e, bool enforce)
{
	struct detector *d = calloc(1, sizeof *d);
	if (!d) {
		rfe_free(e);
		return NULL;
	}
	d->e = e;
	d->enforce = enforce;
	d->matches = calloc(rfe_nrules(e) ? rfe_nrules(e) : 1, sizeof *d->matches);
	if (rfe_fields_used(e) & (1ull << RFF_PARENT_COMMAND_LINE))
		d->pc = pc_new();
	if (!d->matches || ((rfe_fields_used(e) & (1ull << RFF_PARENT_COMMAND_LINE)) && !d->pc)) {
		det_free(d);
		return NULL;
	}
	return d;
}

void det_free(struct detector *d)
{
	if (!d)
		return;
	rfe_free(d->e);
	pc_free(d->pc);
	free(d->matches);
	free(d);
}

uint32_t det_notify_types(const struct detector *d)
{
	uint32_t t = rfe_events_used(d->e);
	if (d->pc)   /* the process cache learns parents' command lines from these */
		t |= (1u << RF_EVENT_FORK) | (1u << RF_EVENT_EXIT) | (1u << RF_EVENT_EXEC);
	return t;
}

bool det_wants_auth_exec(const struct detector *d)
{
	return d->enforce && rfe_has_blocking(d->e) && (rfe_events_used(d->e) & (1u << RF_EVENT_EXEC));
}

void det_handle(struct detector *d, const struct rf_message *m, struct det_result *ret)
{
	memset(ret, 0, sizeof *ret);
	ret->alerts = d->matches;
	d->stats.messages++;
	uint32_t type = m->hdr.type;
	bool auth = m->hdr.action == RF_ACTION_AUTH;
	uint64_t now = m->hdr.mono_ns;
	if (auth)
		d->stats.auth++;

	/* the parent's command line, looked up before this message teaches the
	 * cache anything (a NOTIFY exec replaces its own process's entry) */
	const char *pcmd = NULL;
	size_t plen = 0;
	if (d->pc)
		pcmd = pc_get(d->pc, m->parent.pid, m->parent.start_time_ns, &plen);

	bool evaluate = type < 32 && (rfe_events_used(d->e) & (1u << type));
	uint64_t exec_key = 0;
	if (evaluate && type == RF_EVENT_EXEC) {
		const char *t = (const char *)m + m->ev.exec.target.path.off;
		exec_key = mix(m->process.pid, hash_str(t, m->ev.exec.target.path.off ? m->ev.exec.target.path.len : 0));
		if (!auth && recent(d->auth_seen, exec_key, now, DET_AUTH_DEDUP_NS)) {
			d->stats.dedup_exec++;
			evaluate = false;
		}
	}
	if (evaluate) {
		rfe_view_from_msg(&d->view, m, pcmd, plen);
		d->stats.evaluated++;
		unsigned n = rfe_eval(d->e, &d->view.ev, d->matches, (unsigned)rfe_nrules(d->e));
		/* a NOTIFY exec follows an allowed AUTH exec: do not report twice
		 * (only when the AUTH had the argv; otherwise the NOTIFY knows more) */
		if (auth && type == RF_EVENT_EXEC && m->ev.exec.args.off)
			remember(d->auth_seen, &d->auth_next, exec_key, now);
		bool is_file = type != RF_EVENT_EXEC && type != RF_EVENT_CONNECT && type != RF_EVENT_ACCEPT;
		uint64_t fkey = 0;
		if (is_file) {
			const struct rfe_value *tv = &d->view.ev.v[RFF_TARGET_PATH];
			fkey = mix(m->process.pid, tv->present ? hash_str(tv->s, tv->len) : 0);
		}
		unsigned kept = 0;
		for (unsigned i = 0; i < n; i++) {
			uint32_t r = d->matches[i];
			struct rfe_rule_info ri;
			rfe_rule(d->e, r, &ri);
			if (auth && ri.blocking && d->enforce)
				ret->deny = true;
			/* a file created, written and closed is one finding, not two */
			if (is_file) {
				uint64_t key = mix(fkey, r + 1);
				if (recent(d->alerted, key, now, DET_REPEAT_NS)) {
					d->stats.repeats++;
					continue;
				}
				remember(d->alerted, &d->alerted_next, key, now);
			}
			d->matches[kept++] = r;
		}
		ret->nalerts = kept;
		d->stats.alerts += kept;
		if (ret->deny)
			d->stats.denied++;
	}
	if (d->pc)
		pc_learn(d->pc, m);
}
