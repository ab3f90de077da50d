/*
 * detect.c - rf-detect's per-message logic (detect.h).
 */
#include <stdlib.h>
#include <string.h>

#include <ringfence/ringfence.h>

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

uint64_t det_unknown_fields(const struct rf_message *m)
{
	uint64_t f = 0;
	uint32_t cut = rf_msg_cut(m);
	bool is_exec = m->hdr.type == RF_EVENT_EXEC || m->hdr.type == RF_EVENT_MEMFD_EXEC;
	if (rf_msg_target(m) && !rf_msg_target_known(m))
		f |= 1ull << (is_exec ? RFF_IMAGE : RFF_TARGET_PATH);
	if ((cut & RF_CUT_ARGS) || (m->process.flags & RF_PROC_F_ARGS_CUT) ||
	    (is_exec && (m->ev.exec.flags & RF_EXEC_F_ARGS_CUT)))
		f |= 1ull << RFF_COMMAND_LINE;
	if ((cut & RF_CUT_CWD) || (m->process.flags & (RF_PROC_F_CWD_CUT | RF_PROC_F_CWD_UNKNOWN)))
		f |= 1ull << RFF_CWD;
	if (cut & RF_CUT_PARENT)
		f |= 1ull << RFF_PARENT_IMAGE;
	if (m->process.flags & RF_PROC_F_COMM_CUT)
		f |= 1ull << RFF_COMM;
	if (!is_exec && (m->process.flags & RF_PROC_F_EXE_CUT))
		f |= 1ull << RFF_IMAGE;    /* outside exec, Image is the acting process's exe */
	if (cut & RF_CUT_DEST)
		f |= 1ull << RFF_TARGET_PATH;
	return f;
}

/*
 * Whether an AUTH exec the rules allowed could have been denied with the
 * whole message: its target is unknown, or a blocking exec rule reads a
 * field that is cut or unknown.
 */
static bool unknown_matters(const struct detector *d, const struct rf_message *m)
{
	uint64_t unknown = det_unknown_fields(m);
	if (!unknown)
		return false;
	if (!rf_msg_target_known(m))
		return true;
	for (uint32_t i = 0; i < rfe_nrules(d->e); i++) {
		struct rfe_rule_info ri;
		rfe_rule(d->e, i, &ri);
		if (ri.blocking && (ri.event_mask & (1u << RF_EVENT_EXEC)) && (ri.fields & unknown))
			return true;
	}
	return false;
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
	}
	if (auth && d->enforce && !ret->deny && unknown_matters(d, m)) {
		d->stats.unknown++;
		if (d->unknown_target == DET_UNKNOWN_DENY) {
			ret->deny = true;
			d->stats.unknown_denied++;
		}
	}
	if (ret->deny)
		d->stats.denied++;
	if (d->pc)
		pc_learn(d->pc, m);
}
