/*
 * eval.c - evaluates the loaded rules on an event (engine.h).
 *
 * A rule is a forward-jumping accumulator program over predicates (see
 * bundle.h); predicates are shared between rules and memoised per event,
 * so a test that many rules make (Image|endswith '/bash', say) runs once.
 * Case-insensitive predicates compare against a lower-case copy of the
 * field, made at most once per event and field.
 */
#include <stdlib.h>
#include <string.h>

#include "content/engine_int.h"

static inline char lc(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
}

/* Byte equality; needles are short, so a loop beats a call into libc. */
static inline bool same(const char *a, const char *b, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return false;
	return true;
}

/* The field in lower case, or NULL when no scratch memory could be had. */
static const char *lowered(struct rfe_engine *e, const struct rfe_value *v, unsigned field)
{
	if (e->lowered & (1u << field))
		return e->lower[field];
	if (e->lower_cap[field] < (size_t)v->len + 1) {
		size_t cap = e->lower_cap[field] ? e->lower_cap[field] : 256;
		while (cap < (size_t)v->len + 1)
			cap *= 2;
		char *p = realloc(e->lower[field], cap);
		if (!p)
			return NULL;
		e->lower[field] = p;
		e->lower_cap[field] = cap;
	}
	char *d = e->lower[field];
	for (uint32_t i = 0; i < v->len; i++)
		d[i] = lc(v->s[i]);
	d[v->len] = 0;
	e->lowered |= 1u << field;
	return d;
}

/*
 * Glob: '*' any run (also empty), '?' any one byte, '\x' the byte x.  The
 * classic single-backtrack match: on a mismatch, retry from the last '*'
 * one byte further; O(len(s) * len(p)) at worst, with p at most
 * RFB_MAX_GLOB_LEN bytes.
 */
static bool glob_match(const char *p, size_t pn, const char *s, size_t sn)
{
	size_t pi = 0, si = 0, star_p = (size_t)-1, star_s = 0;
	while (si < sn) {
		if (pi < pn && p[pi] == '*') {
			star_p = ++pi;
			star_s = si;
			continue;
		}
		if (pi < pn) {
			bool esc = p[pi] == '\\' && pi + 1 < pn;
			char c = esc ? p[pi + 1] : p[pi];
			if ((!esc && c == '?') || c == s[si]) {
				pi += esc ? 2 : 1;
				si++;
				continue;
			}
		}
		if (star_p == (size_t)-1)
			return false;
		pi = star_p;
		si = ++star_s;
	}
	while (pi < pn && p[pi] == '*')
		pi++;
	return pi == pn;
}

static bool cidr_match(const struct rfe_pred *p, const struct rfe_value *v)
{
	if (v->family != p->family)
		return false;
	unsigned full = p->prefix / 8, rest = p->prefix % 8;
	if (memcmp(v->ip, p->addr, full) != 0)
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff00u >> rest);
		if ((v->ip[full] & mask) != p->addr[full])
			return false;
	}
	return true;
}

static bool pred_eval(struct rfe_engine *e, const struct rfe_pred *p, const struct rfe_event *ev)
{
	const struct rfe_value *v = &ev->v[p->field];
	if (!v->present)
		return p->op == RFB_OP_NULL;
	const char *s = v->s ? v->s : "";
	uint32_t n = v->s ? v->len : 0;
	if (p->nocase && n) {
		s = lowered(e, v, p->field);
		if (!s) {
			e->stats.nomem++;
			return false;
		}
	}
	switch (p->op) {
	case RFB_OP_NULL:   /* present: only an empty string counts as null */
		return p->ftype == RFS_STRING && n == 0;
	case RFB_OP_EQ:
		return n == p->len && same(s, p->s, n);
	case RFB_OP_CONTAINS:
		return p->len == 0 || (n >= p->len && memmem(s, n, p->s, p->len) != NULL);
	case RFB_OP_STARTSWITH:
		return n >= p->len && same(s, p->s, p->len);
	case RFB_OP_ENDSWITH:
		return n >= p->len && same(s + n - p->len, p->s, p->len);
	case RFB_OP_GLOB:
		return glob_match(p->s, p->len, s, n);
	case RFB_OP_RE: {
		int rc = pcre2_match(p->re, (PCRE2_SPTR)s, n, 0, 0, e->md, e->mctx);
		if (rc >= 0)
			return true;
		if (rc != PCRE2_ERROR_NOMATCH)
			e->stats.re_errors++;
		return false;
	}
	case RFB_OP_INT_EQ: return v->num == p->num;
	case RFB_OP_INT_LT: return v->num < p->num;
	case RFB_OP_INT_LE: return v->num <= p->num;
	case RFB_OP_INT_GT: return v->num > p->num;
	case RFB_OP_INT_GE: return v->num >= p->num;
	case RFB_OP_CIDR: return cidr_match(p, v);
	default: return false;   /* the loader admits no other */
	}
}

static bool run_rule(struct rfe_engine *e, const struct rfe_rule *r, const struct rfe_event *ev)
{
	bool acc = false;
	uint32_t pc = 0;
	for (;;) {
		uint32_t insn = r->prog[pc], arg = RFB_INSN_ARG(insn);
		switch (RFB_INSN_OP(insn)) {
		case RFB_I_PRED:
			if (e->memo_gen[arg] == e->gen) {
				acc = e->memo_val[arg];
			} else {
				acc = pred_eval(e, &e->preds[arg], ev);
				e->memo_gen[arg] = e->gen;
				e->memo_val[arg] = acc;
				e->stats.preds_run++;
			}
			pc++;
			break;
		case RFB_I_NOT:
			acc = !acc;
			pc++;
			break;
		case RFB_I_JF:
			pc = acc ? pc + 1 : arg;
			break;
		case RFB_I_JT:
			pc = acc ? arg : pc + 1;
			break;
		default:   /* END: the loader put one last, and jumps only forward */
			return acc;
		}
	}
}

unsigned rfe_eval(struct rfe_engine *e, const struct rfe_event *ev, uint32_t *ret_rules, unsigned max)
{
	e->stats.events++;
	if (ev->type >= 32 || !e->nby_type[ev->type])
		return 0;
	if (++e->gen == 0) {   /* wrapped: forget every memo */
		memset(e->memo_gen, 0, e->npreds * sizeof *e->memo_gen);
		e->gen = 1;
	}
	e->lowered = 0;
	unsigned found = 0;
	const uint32_t *list = e->by_type[ev->type];
	for (uint32_t k = 0; k < e->nby_type[ev->type]; k++) {
		e->stats.rules_run++;
		if (run_rule(e, &e->rules[list[k]], ev)) {
			e->stats.matches++;
			if (found < max)
				ret_rules[found] = list[k];
			found++;
		}
	}
	return found < max ? found : max;
}

size_t rfe_nrules(const struct rfe_engine *e)
{
	return e->nrules;
}

void rfe_rule(const struct rfe_engine *e, uint32_t i, struct rfe_rule_info *ret)
{
	const struct rfe_rule *r = &e->rules[i];
	ret->id = r->id;
	ret->title = r->title;
	ret->tags = r->tags;
	ret->level = rfb_level_name(r->level);
	ret->event_mask = r->event_mask;
	ret->blocking = (r->flags & RFB_RULE_BLOCKING) != 0;
	ret->fields = r->fields;
}

const char *rfe_content_version(const struct rfe_engine *e)
{
	return e->content_version;
}

uint32_t rfe_events_used(const struct rfe_engine *e)
{
	return e->events_used;
}

uint64_t rfe_fields_used(const struct rfe_engine *e)
{
	return e->fields_used;
}

bool rfe_has_blocking(const struct rfe_engine *e)
{
	return e->has_blocking;
}

void rfe_get_stats(const struct rfe_engine *e, struct rfe_stats *ret)
{
	*ret = e->stats;
}

void rfe_sizes(const struct rfe_engine *e, size_t *ret_preds, size_t *ret_regex, size_t *ret_prog)
{
	*ret_preds = e->npreds;
	*ret_regex = e->nre;
	*ret_prog = e->nprog;
}
