/*
 * load.c - the bounded bundle loader (engine.h, format in bundle.h).
 *
 * Order of checks: header, section table, section headers, schema (hash
 * and compatibility with this engine), strings, regexes (compiled here,
 * with PCRE2 limits), predicates, program, rules.  Each step checks every
 * count, offset, length, string reference and enum it reads before using
 * it; nothing later in the file is trusted because something earlier said
 * so.  Any failure refuses the whole bundle: partial content is not loaded,
 * so a bad update is seen (and reverted) rather than silently weakening
 * detection.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "content/engine_int.h"

struct loader {
	const uint8_t *p;
	size_t len;
	char *err;
	size_t errlen;
	const struct rfs_field *schema;   /* the engine's */
	size_t nfields;
	size_t bundle_nfields;
	const uint8_t *sec[RFB_SEC_MAX];  /* payload of each section */
	uint32_t count[RFB_SEC_MAX];
	struct rfe_engine *e;
};

__attribute__((format(printf, 2, 3))) static int refuse(struct loader *l, const char *fmt, ...)
{
	if (l->err && l->errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(l->err, l->errlen, fmt, ap);
		va_end(ap);
	}
	return -EINVAL;
}

static bool all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return false;
	return true;
}

static const char *const sec_names[RFB_SEC_MAX] = { "?", "schema", "strings", "regex",
						    "predicates", "program", "rules" };

static int check_header(struct loader *l)
{
	const uint8_t *h = l->p;
	if (l->len < RFB_HDR_SIZE)
		return refuse(l, "bundle: %zu bytes, shorter than its header (%u)", l->len, RFB_HDR_SIZE);
	if (memcmp(h + RFB_HDR_MAGIC, RFB_MAGIC, RFB_MAGIC_LEN) != 0)
		return refuse(l, "bundle: bad magic (not a ringfence content bundle)");
	uint16_t ver = rfb_get16(h + RFB_HDR_VERSION);
	if (ver != RFB_FORMAT_VERSION)
		return refuse(l, "bundle: unknown format version %u (this engine reads %u)", ver,
			      RFB_FORMAT_VERSION);
	if (rfb_get16(h + RFB_HDR_HDRSIZE) != RFB_HDR_SIZE)
		return refuse(l, "bundle: header size %u, want %u", rfb_get16(h + RFB_HDR_HDRSIZE),
			      RFB_HDR_SIZE);
	if (rfb_get32(h + RFB_HDR_FLAGS) != 0)
		return refuse(l, "bundle: unknown header flags 0x%x", rfb_get32(h + RFB_HDR_FLAGS));
	if (rfb_get32(h + RFB_HDR_RESERVED0) != 0 || !all_zero(h + RFB_HDR_RESERVED1, 24))
		return refuse(l, "bundle: reserved header bytes are not zero");
	uint32_t amin = rfb_get32(h + RFB_HDR_ABI_MIN), amax = rfb_get32(h + RFB_HDR_ABI_MAX);
	if (amin > amax || RFE_ABI < amin || RFE_ABI > amax)
		return refuse(l, "bundle: built for engine ABI %u..%u, this engine is ABI %u", amin, amax,
			      RFE_ABI);
	uint32_t total = rfb_get32(h + RFB_HDR_TOTAL);
	if (total != l->len)
		return refuse(l, "bundle: header says %u bytes, have %zu", total, l->len);
	/* content version: printable, NUL padded, not empty */
	const uint8_t *cv = h + RFB_HDR_CONTENT_VER;
	size_t n = 0;
	while (n < RFB_CONTENT_VER_MAX + 1 && cv[n])
		n++;
	if (n == 0 || n > RFB_CONTENT_VER_MAX || !all_zero(cv + n, RFB_CONTENT_VER_MAX + 1 - n))
		return refuse(l, "bundle: content version missing or not NUL padded");
	for (size_t i = 0; i < n; i++)
		if (cv[i] < 0x21 || cv[i] > 0x7e)
			return refuse(l, "bundle: content version has a non-printable byte");
	memcpy(l->e->content_version, cv, n);
	l->e->content_version[n] = 0;
	return 0;
}

/* Section: record size (0 for the blob), maximum count. */
static const struct {
	uint32_t elem, max;
} sec_shape[RFB_SEC_MAX] = {
	[RFB_SEC_SCHEMA] = { RFS_RECORD_SIZE, RFB_MAX_FIELDS },
	[RFB_SEC_STRINGS] = { 1, RFB_MAX_STRINGS },
	[RFB_SEC_REGEX] = { RFB_REGEX_SIZE, RFB_MAX_REGEX },
	[RFB_SEC_PRED] = { RFB_PRED_SIZE, RFB_MAX_PREDS },
	[RFB_SEC_PROG] = { 4, RFB_MAX_PROG },
	[RFB_SEC_RULES] = { RFB_RULE_SIZE, RFB_MAX_RULES },
};

static int check_sections(struct loader *l)
{
	const uint8_t *h = l->p;
	uint32_t nsect = rfb_get32(h + RFB_HDR_NSECT), tab = rfb_get32(h + RFB_HDR_SECT_OFF);
	if (nsect == 0 || nsect > RFB_MAX_SECTIONS)
		return refuse(l, "bundle: %u sections (1..%u)", nsect, RFB_MAX_SECTIONS);
	if (tab != RFB_HDR_SIZE)
		return refuse(l, "bundle: section table at %u, want %u", tab, RFB_HDR_SIZE);
	uint64_t tab_end = (uint64_t)tab + (uint64_t)nsect * RFB_SECT_ENTRY_SIZE;
	if (tab_end > l->len)
		return refuse(l, "bundle: section table (%u entries) runs past the end", nsect);
	uint64_t start[RFB_MAX_SECTIONS], end[RFB_MAX_SECTIONS];
	for (uint32_t i = 0; i < nsect; i++) {
		const uint8_t *s = h + tab + (size_t)i * RFB_SECT_ENTRY_SIZE;
		uint32_t type = rfb_get32(s), off = rfb_get32(s + 4), len = rfb_get32(s + 8);
		if (type == 0 || type >= RFB_SEC_MAX)
			return refuse(l, "section %u: unknown type %u", i, type);
		if (l->sec[type])
			return refuse(l, "section %u: second %s section", i, sec_names[type]);
		if (rfb_get32(s + 12) != 0)
			return refuse(l, "section %u: reserved bytes are not zero", i);
		if (off % 8 || off < tab_end || len < RFB_SHDR_SIZE || (uint64_t)off + len > l->len)
			return refuse(l, "section %u (%s): offset %u length %u outside the bundle (%zu bytes)", i,
				      sec_names[type], off, len, l->len);
		start[i] = off;
		end[i] = (uint64_t)off + len;
		for (uint32_t j = 0; j < i; j++)
			if (start[i] < end[j] && start[j] < end[i])
				return refuse(l, "section %u (%s) overlaps section %u", i, sec_names[type], j);
		const uint8_t *sh = h + off;
		uint32_t stype = rfb_get32(sh), count = rfb_get32(sh + 4), elem = rfb_get32(sh + 8),
			 plen = rfb_get32(sh + 12);
		if (stype != type)
			return refuse(l, "section %u: header type %u, table says %u", i, stype, type);
		if (plen != len - RFB_SHDR_SIZE)
			return refuse(l, "section %u (%s): payload %u bytes, table says %u", i, sec_names[type],
				      plen, len - RFB_SHDR_SIZE);
		if (elem != sec_shape[type].elem)
			return refuse(l, "section %u (%s): record size %u, want %u", i, sec_names[type], elem,
				      sec_shape[type].elem);
		if ((uint64_t)count * elem != plen)
			return refuse(l, "section %u (%s): %u records of %u bytes do not fill %u bytes", i,
				      sec_names[type], count, elem, plen);
		if (count > sec_shape[type].max)
			return refuse(l, "section %u (%s): %u records, limit %u", i, sec_names[type], count,
				      sec_shape[type].max);
		l->sec[type] = sh + RFB_SHDR_SIZE;
		l->count[type] = count;
	}
	for (unsigned t = 1; t < RFB_SEC_MAX; t++)
		if (!l->sec[t])
			return refuse(l, "bundle: no %s section", sec_names[t]);
	return 0;
}

static bool field_name_ok(const uint8_t *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || (s[i] >= '0' && s[i] <= '9') || s[i] == '_' ||
		      s[i] == '.'))
			return false;
	return n > 0;
}

static int check_schema(struct loader *l)
{
	const uint8_t *s = l->sec[RFB_SEC_SCHEMA];
	uint32_t n = l->count[RFB_SEC_SCHEMA];
	if (n == 0)
		return refuse(l, "schema: no fields");
	uint8_t hash[32];
	rfs_hash(s, (size_t)n * RFS_RECORD_SIZE, hash);
	if (memcmp(hash, l->p + RFB_HDR_SCHEMA_HASH, 32) != 0)
		return refuse(l, "schema: SHA-256 of the schema section does not match the header");
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = s + (size_t)i * RFS_RECORD_SIZE;
		uint16_t id = rfb_get16(r);
		uint8_t type = r[2], nlen = r[3];
		if (id != i || type < RFS_STRING || type > RFS_IP || nlen == 0 || nlen > RFS_NAME_MAX ||
		    !field_name_ok(r + 4, nlen) || !all_zero(r + 4 + nlen, RFS_RECORD_SIZE - 4 - nlen))
			return refuse(l, "schema: field record %u is malformed", i);
		char name[RFS_NAME_MAX + 1];
		memcpy(name, r + 4, nlen);
		name[nlen] = 0;
		/* The July 2024 check: content may only name fields this engine supplies. */
		if (i >= l->nfields)
			return refuse(l,
				      "schema: bundle field %u '%s' (%s) does not exist in this engine, "
				      "which has %zu fields: the bundle was built for a newer engine",
				      i, name, rfs_type_name(type), l->nfields);
		if (l->schema[i].type != type || strcmp(l->schema[i].name, name) != 0)
			return refuse(l, "schema: bundle field %u is '%s' (%s), this engine's is '%s' (%s)", i,
				      name, rfs_type_name(type), l->schema[i].name,
				      rfs_type_name(l->schema[i].type));
	}
	l->bundle_nfields = n;
	return 0;
}

/* A string reference: inside the blob, NUL right after, none inside. */
static int str_ref(struct loader *l, uint32_t off, uint32_t len, uint32_t maxlen, const char *what,
		   uint32_t idx, const char **ret, const char **ret_lower)
{
	size_t blen = l->count[RFB_SEC_STRINGS];
	const uint8_t *blob = l->sec[RFB_SEC_STRINGS];
	if (len > maxlen || (uint64_t)off + len >= blen)
		return refuse(l, "%s %u: string [%u, +%u) outside the string table (%zu bytes) or too long",
			      what, idx, off, len, blen);
	if (blob[off + len] != 0 || memchr(blob + off, 0, len))
		return refuse(l, "%s %u: string at %u is not NUL terminated after %u bytes", what, idx, off,
			      len);
	*ret = l->e->strings + off;
	if (ret_lower)
		*ret_lower = l->e->lstrings + off;
	return 0;
}

static int load_strings(struct loader *l)
{
	struct rfe_engine *e = l->e;
	size_t n = l->count[RFB_SEC_STRINGS];
	e->strings = malloc(n + 1);
	e->lstrings = malloc(n + 1);
	if (!e->strings || !e->lstrings)
		return -ENOMEM;
	memcpy(e->strings, l->sec[RFB_SEC_STRINGS], n);
	e->strings[n] = 0;
	for (size_t i = 0; i <= n; i++) {
		char c = e->strings[i];
		e->lstrings[i] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
	}
	e->strings_len = n;
	return 0;
}

static int load_regex(struct loader *l)
{
	struct rfe_engine *e = l->e;
	uint32_t n = l->count[RFB_SEC_REGEX];
	e->re = calloc(n ? n : 1, sizeof *e->re);
	e->mctx = pcre2_match_context_create(NULL);
	e->md = pcre2_match_data_create(1, NULL);
	pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
	if (!e->re || !e->mctx || !e->md || !cc) {
		pcre2_compile_context_free(cc);
		return -ENOMEM;
	}
	pcre2_set_match_limit(e->mctx, RFE_RE_MATCH_LIMIT);
	pcre2_set_depth_limit(e->mctx, RFE_RE_DEPTH_LIMIT);
	pcre2_set_heap_limit(e->mctx, RFE_RE_HEAP_LIMIT_KB);
	pcre2_set_max_pattern_length(cc, RFB_MAX_REGEX_LEN);
	pcre2_set_parens_nest_limit(cc, RFE_RE_NEST_LIMIT);
	int r = 0;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *rec = l->sec[RFB_SEC_REGEX] + (size_t)i * RFB_REGEX_SIZE;
		uint32_t off = rfb_get32(rec), len = rfb_get32(rec + 4), flags = rfb_get32(rec + 8);
		const char *pat;
		if ((r = str_ref(l, off, len, RFB_MAX_REGEX_LEN, "regex", i, &pat, NULL)) < 0)
			break;
		if (len == 0 || (flags & ~RFB_RE_FLAGS_ALL) || rfb_get32(rec + 12) != 0) {
			r = refuse(l, "regex %u: empty, or unknown flags 0x%x", i, flags);
			break;
		}
		/* bytes, not UTF: no pattern may switch UTF or \C on behind our back */
		uint32_t opt = PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C;
		if (flags & RFB_RE_CASELESS)
			opt |= PCRE2_CASELESS;
		if (flags & RFB_RE_MULTILINE)
			opt |= PCRE2_MULTILINE;
		if (flags & RFB_RE_DOTALL)
			opt |= PCRE2_DOTALL;
		int ec;
		PCRE2_SIZE eo;
		e->re[i] = pcre2_compile((PCRE2_SPTR)pat, len, opt, &ec, &eo, cc);
		if (!e->re[i]) {
			PCRE2_UCHAR msg[128];
			pcre2_get_error_message(ec, msg, sizeof msg);
			r = refuse(l, "regex %u: %s at offset %zu", i, (const char *)msg, (size_t)eo);
			break;
		}
		/* JIT when the platform allows it; the interpreter otherwise */
		(void)pcre2_jit_compile(e->re[i], PCRE2_JIT_COMPLETE);
		e->nre = i + 1;
	}
	pcre2_compile_context_free(cc);
	return r;
}

static bool op_is_string(unsigned op)
{
	return op >= RFB_OP_EQ && op <= RFB_OP_RE;
}

static bool op_is_int(unsigned op)
{
	return op >= RFB_OP_INT_EQ && op <= RFB_OP_INT_GE;
}

static int load_preds(struct loader *l)
{
	struct rfe_engine *e = l->e;
	uint32_t n = l->count[RFB_SEC_PRED];
	e->preds = calloc(n ? n : 1, sizeof *e->preds);
	e->memo_gen = calloc(n ? n : 1, sizeof *e->memo_gen);
	e->memo_val = calloc(n ? n : 1, 1);
	if (!e->preds || !e->memo_gen || !e->memo_val)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *r = l->sec[RFB_SEC_PRED] + (size_t)i * RFB_PRED_SIZE;
		struct rfe_pred *p = &e->preds[i];
		uint16_t field = rfb_get16(r);
		uint8_t op = r[2], flags = r[3];
		const uint8_t *v = r + 8;
		if (field >= l->bundle_nfields)
			return refuse(l, "predicate %u: field %u is not in the bundle's schema (%zu fields)", i,
				      field, l->bundle_nfields);
		/* check_schema() made sure the engine has every field of the bundle's schema */
		unsigned type = l->schema[field].type;
		if (op == 0 || op >= RFB_OP_MAX)
			return refuse(l, "predicate %u: unknown operator %u", i, op);
		if (flags & ~RFB_PF_ALL)
			return refuse(l, "predicate %u: unknown flags 0x%x", i, flags);
		if (rfb_get32(r + 4) != 0)
			return refuse(l, "predicate %u: reserved bytes are not zero", i);
		if ((op_is_string(op) && type != RFS_STRING) || (op_is_int(op) && type != RFS_INT) ||
		    (op == RFB_OP_CIDR && type != RFS_IP))
			return refuse(l, "predicate %u: operator %u does not apply to field %u (%s)", i, op,
				      field, rfs_type_name(type));
		if ((flags & RFB_PF_NOCASE) && !(op >= RFB_OP_EQ && op <= RFB_OP_GLOB))
			return refuse(l, "predicate %u: case-insensitive flag on operator %u", i, op);
		p->field = field;
		p->op = op;
		p->nocase = (flags & RFB_PF_NOCASE) != 0;
		p->ftype = (uint8_t)type;
		size_t used = 0;   /* value bytes this op uses; the rest must be zero */
		switch (op) {
		case RFB_OP_EQ:
		case RFB_OP_CONTAINS:
		case RFB_OP_STARTSWITH:
		case RFB_OP_ENDSWITH:
		case RFB_OP_GLOB: {
			uint32_t off = rfb_get32(v), len = rfb_get32(v + 4);
			const char *s, *ls;
			uint32_t max = op == RFB_OP_GLOB ? RFB_MAX_GLOB_LEN : RFB_MAX_STRING_LEN;
			int rr = str_ref(l, off, len, max, "predicate", i, &s, &ls);
			if (rr < 0)
				return rr;
			p->s = p->nocase ? ls : s;
			p->len = len;
			if (op == RFB_OP_GLOB) {
				/* a trailing lone escape would read past the pattern */
				size_t k = 0;
				while (k < len) {
					if (s[k] == '\\' && ++k == len)
						return refuse(l, "predicate %u: glob ends in an escape", i);
					k++;
				}
			}
			used = 8;
			break;
		}
		case RFB_OP_RE: {
			uint32_t idx = rfb_get32(v);
			if (idx >= e->nre)
				return refuse(l, "predicate %u: regex %u of %zu", i, idx, e->nre);
			p->re = e->re[idx];
			used = 4;
			break;
		}
		case RFB_OP_INT_EQ:
		case RFB_OP_INT_LT:
		case RFB_OP_INT_LE:
		case RFB_OP_INT_GT:
		case RFB_OP_INT_GE:
			p->num = (int64_t)rfb_get64(v);
			used = 8;
			break;
		case RFB_OP_CIDR: {
			uint8_t fam = v[0], pre = v[1];
			unsigned bytes = fam == 4 ? 4 : 16;
			if ((fam != 4 && fam != 6) || pre > bytes * 8 || rfb_get16(v + 2) != 0 ||
			    !all_zero(v + 4 + bytes, 16 - bytes))
				return refuse(l, "predicate %u: malformed CIDR (family %u, /%u)", i, fam, pre);
			p->family = fam;
			p->prefix = pre;
			for (unsigned k = 0; k < bytes; k++) {
				unsigned bits = pre > k * 8 ? pre - k * 8 : 0;
				uint8_t mask = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
				p->addr[k] = v[4 + k] & mask;
			}
			used = 20;
			break;
		}
		case RFB_OP_NULL:
			break;
		}
		if (!all_zero(v + used, 24 - used))
			return refuse(l, "predicate %u: unused value bytes are not zero", i);
		e->fields_used |= 1ull << field;
	}
	e->npreds = n;
	return 0;
}

static int check_program(struct loader *l, uint32_t rule, const uint32_t *prog, uint32_t len)
{
	for (uint32_t pc = 0; pc < len; pc++) {
		uint32_t op = RFB_INSN_OP(prog[pc]), arg = RFB_INSN_ARG(prog[pc]);
		switch (op) {
		case RFB_I_END:
			if (pc != len - 1 || arg != 0)
				return refuse(l, "rule %u: END at %u of %u", rule, pc, len);
			break;
		case RFB_I_PRED:
			if (arg >= l->e->npreds)
				return refuse(l, "rule %u: instruction %u: predicate %u of %zu", rule, pc, arg,
					      l->e->npreds);
			break;
		case RFB_I_NOT:
			if (arg != 0)
				return refuse(l, "rule %u: instruction %u: NOT with an argument", rule, pc);
			break;
		case RFB_I_JF:
		case RFB_I_JT:
			/* forward only, onto an instruction: evaluation always ends */
			if (arg <= pc || arg >= len)
				return refuse(l, "rule %u: instruction %u: jump to %u (program of %u)", rule, pc,
					      arg, len);
			break;
		default:
			return refuse(l, "rule %u: instruction %u: unknown opcode %u", rule, pc, op);
		}
	}
	if (len == 0 || RFB_INSN_OP(prog[len - 1]) != RFB_I_END)
		return refuse(l, "rule %u: program does not end with END", rule);
	return 0;
}

static bool text_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return false;
	return true;
}

static int cmp_id(const void *a, const void *b)
{
	const struct rfe_rule *const *x = a, *const *y = b;
	return strcmp((*x)->id, (*y)->id);
}

static int load_rules(struct loader *l)
{
	struct rfe_engine *e = l->e;
	uint32_t np = l->count[RFB_SEC_PROG], n = l->count[RFB_SEC_RULES];
	e->prog = malloc((np ? np : 1) * sizeof *e->prog);
	e->rules = calloc(n ? n : 1, sizeof *e->rules);
	if (!e->prog || !e->rules)
		return -ENOMEM;
	for (uint32_t i = 0; i < np; i++)
		e->prog[i] = rfb_get32(l->sec[RFB_SEC_PROG] + (size_t)i * 4);
	e->nprog = np;
	int r;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *rec = l->sec[RFB_SEC_RULES] + (size_t)i * RFB_RULE_SIZE;
		struct rfe_rule *ru = &e->rules[i];
		uint32_t idlen = rfb_get32(rec + 4), tlen = rfb_get32(rec + 12), glen = rfb_get32(rec + 20);
		if ((r = str_ref(l, rfb_get32(rec), idlen, RFE_TEXT_MAX, "rule id of rule", i, &ru->id, NULL)) < 0 ||
		    (r = str_ref(l, rfb_get32(rec + 8), tlen, RFE_TEXT_MAX, "title of rule", i, &ru->title, NULL)) < 0 ||
		    (r = str_ref(l, rfb_get32(rec + 16), glen, RFE_TEXT_MAX, "tags of rule", i, &ru->tags, NULL)) < 0)
			return r;
		if (idlen == 0 || tlen == 0 || !text_ok(ru->id, idlen) || !text_ok(ru->title, tlen) ||
		    !text_ok(ru->tags, glen))
			return refuse(l, "rule %u: empty id or title, or control characters", i);
		ru->event_mask = rfb_get32(rec + 24);
		ru->flags = rfb_get32(rec + 28);
		ru->level = rec[32];
		if (ru->event_mask == 0 || (ru->event_mask & ~RFE_EVENTS_SUPPORTED))
			return refuse(l, "rule %u (%s): event mask 0x%x (supported 0x%x)", i, ru->id,
				      ru->event_mask, RFE_EVENTS_SUPPORTED);
		if (ru->flags & ~RFB_RULE_FLAGS_ALL)
			return refuse(l, "rule %u (%s): unknown flags 0x%x", i, ru->id, ru->flags);
		if (ru->level >= RFB_LEVEL_MAX)
			return refuse(l, "rule %u (%s): unknown level %u", i, ru->id, ru->level);
		if (!all_zero(rec + 33, 3) || rfb_get32(rec + 44) != 0)
			return refuse(l, "rule %u (%s): reserved bytes are not zero", i, ru->id);
		uint32_t poff = rfb_get32(rec + 36), plen = rfb_get32(rec + 40);
		if (plen == 0 || plen > RFB_MAX_RULE_PROG || (uint64_t)poff + plen > np)
			return refuse(l, "rule %u (%s): program [%u, +%u) outside the program section (%u)", i,
				      ru->id, poff, plen, np);
		if ((r = check_program(l, i, e->prog + poff, plen)) < 0)
			return r;
		ru->prog = e->prog + poff;
		ru->prog_len = plen;
		for (uint32_t k = 0; k < plen; k++)
			if (RFB_INSN_OP(ru->prog[k]) == RFB_I_PRED)
				ru->fields |= 1ull << e->preds[RFB_INSN_ARG(ru->prog[k])].field;
		e->events_used |= ru->event_mask;
		if (ru->flags & RFB_RULE_BLOCKING)
			e->has_blocking = true;
	}
	e->nrules = n;
	/* ids name alerts and blocking lists: they must be unique */
	if (n > 1) {
		const struct rfe_rule **s = malloc(n * sizeof *s);
		if (!s)
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			s[i] = &e->rules[i];
		qsort(s, n, sizeof *s, cmp_id);
		for (uint32_t i = 1; i < n; i++)
			if (strcmp(s[i - 1]->id, s[i]->id) == 0) {
				r = refuse(l, "rules: id %s appears twice", s[i]->id);
				free(s);
				return r;
			}
		free(s);
	}
	/* per event type, the rules that apply */
	for (unsigned t = 0; t < 32; t++) {
		uint32_t k = 0;
		for (uint32_t i = 0; i < n; i++)
			k += (e->rules[i].event_mask >> t) & 1;
		if (!k)
			continue;
		e->by_type[t] = malloc(k * sizeof(uint32_t));
		if (!e->by_type[t])
			return -ENOMEM;
		for (uint32_t i = 0; i < n; i++)
			if ((e->rules[i].event_mask >> t) & 1)
				e->by_type[t][e->nby_type[t]++] = i;
	}
	return 0;
}

void rfe_free(struct rfe_engine *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->nre; i++)
		pcre2_code_free(e->re[i]);
	free(e->re);
	pcre2_match_context_free(e->mctx);
	pcre2_match_data_free(e->md);
	for (unsigned t = 0; t < 32; t++)
		free(e->by_type[t]);
	for (unsigned f = 0; f < RFS_NFIELDS; f++)
		free(e->lower[f]);
	free(e->strings);
	free(e->lstrings);
	free(e->preds);
	free(e->memo_gen);
	free(e->memo_val);
	free(e->prog);
	free(e->rules);
	free(e);
}

int rfe_load(const void *data, size_t len, const struct rfs_field *schema, size_t nfields,
	     struct rfe_engine **ret, char *err, size_t errlen)
{
	struct loader l = { .p = data, .len = len, .err = err, .errlen = errlen, .schema = schema,
			    .nfields = nfields };
	if (err && errlen)
		err[0] = 0;
	if (!data || !schema || nfields == 0 || nfields > RFS_NFIELDS || !ret)
		return refuse(&l, "bad arguments");
	if (len > RFB_MAX_SIZE)
		return refuse(&l, "bundle: %zu bytes, limit %u", len, RFB_MAX_SIZE);
	l.e = calloc(1, sizeof *l.e);
	if (!l.e) {
		refuse(&l, "out of memory");
		return -ENOMEM;
	}
	int r;
	if ((r = check_header(&l)) < 0 || (r = check_sections(&l)) < 0 || (r = check_schema(&l)) < 0 ||
	    (r = load_strings(&l)) < 0 || (r = load_regex(&l)) < 0 || (r = load_preds(&l)) < 0 ||
	    (r = load_rules(&l)) < 0) {
		if (r == -ENOMEM)
			refuse(&l, "out of memory");
		rfe_free(l.e);
		return r;
	}
	*ret = l.e;
	return 0;
}

int rfe_load_fd(int fd, const char *name, struct rfe_engine **ret, char *err, size_t errlen)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size > (off_t)RFB_MAX_SIZE) {
		snprintf(err, errlen, "%s: not a regular file of at most %u bytes", name, RFB_MAX_SIZE);
		return -EINVAL;
	}
	size_t n = (size_t)st.st_size, got = 0;
	uint8_t *buf = malloc(n ? n : 1);
	if (!buf) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	while (got < n) {   /* pread: the offset may be shared with the broker */
		ssize_t k = pread(fd, buf + got, n - got, (off_t)got);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		got += (size_t)k;
	}
	if (got != n) {
		free(buf);
		snprintf(err, errlen, "%s: short read", name);
		return -EIO;
	}
	int r = rfe_load(buf, n, rfs_engine_schema, RFS_NFIELDS, ret, err, errlen);
	free(buf);
	return r;
}

int rfe_load_file(const char *path, struct rfe_engine **ret, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(err, errlen, "%s: %s", path, strerror(e));
		return -e;
	}
	int r = rfe_load_fd(fd, path, ret, err, errlen);
	close(fd);
	return r;
}
