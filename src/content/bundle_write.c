/*
 * bundle_write.c - builds a content bundle in memory (bundle_write.h).
 */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "content/bundle_write.h"

struct buf {
	uint8_t *p;
	size_t len, cap;
};

static int buf_reserve(struct buf *b, size_t more)
{
	if (more > SIZE_MAX / 4 - b->len)
		return -E2BIG;
	if (b->len + more <= b->cap)
		return 0;
	size_t cap = b->cap ? b->cap : 256;
	while (cap < b->len + more)
		cap *= 2;
	uint8_t *p = realloc(b->p, cap);
	if (!p)
		return -ENOMEM;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_add(struct buf *b, const void *data, size_t len)
{
	int r = buf_reserve(b, len);
	if (r < 0)
		return r;
	if (len)
		memcpy(b->p + b->len, data, len);
	b->len += len;
	return 0;
}

/* An index set over byte strings kept elsewhere: open addressing, 2x sparse. */
struct dedup {
	uint32_t *slot;        /* index + 1; 0 is empty */
	uint32_t *hash;
	size_t cap, n;
};

static uint32_t fnv1a(const uint8_t *p, size_t n)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < n; i++) {
		h ^= p[i];
		h *= 16777619u;
	}
	return h;
}

typedef bool (*dedup_eq_fn)(const void *ctx, uint32_t index, const uint8_t *key, size_t len);

static int dedup_grow(struct dedup *d)
{
	size_t cap = d->cap ? d->cap * 2 : 1024;
	uint32_t *slot = calloc(cap, sizeof *slot), *hash = calloc(cap, sizeof *hash);
	if (!slot || !hash) {
		free(slot);
		free(hash);
		return -ENOMEM;
	}
	for (size_t i = 0; i < d->cap; i++) {
		if (!d->slot[i])
			continue;
		size_t j = d->hash[i] & (cap - 1);
		while (slot[j])
			j = (j + 1) & (cap - 1);
		slot[j] = d->slot[i];
		hash[j] = d->hash[i];
	}
	free(d->slot);
	free(d->hash);
	d->slot = slot;
	d->hash = hash;
	d->cap = cap;
	return 0;
}

/* Returns the index stored for key, or -1; *ret_pos is where to insert. */
static long dedup_find(const struct dedup *d, uint32_t h, const uint8_t *key, size_t len,
		       dedup_eq_fn eq, const void *ctx, size_t *ret_pos)
{
	size_t j = h & (d->cap - 1);
	while (d->slot[j]) {
		if (d->hash[j] == h && eq(ctx, d->slot[j] - 1, key, len))
			return (long)d->slot[j] - 1;
		j = (j + 1) & (d->cap - 1);
	}
	*ret_pos = j;
	return -1;
}

struct rfb_builder {
	uint8_t *schema;             /* encoded */
	size_t schema_len;
	char version[RFB_CONTENT_VER_MAX + 1];
	uint32_t abi_min, abi_max;
	struct buf strings;          /* starts with one NUL: offset 0 is the empty string */
	struct dedup str_set;
	struct buf regex;
	struct buf preds;
	struct dedup pred_set;
	struct buf prog;
	struct buf rules;
	size_t nregex, npreds, nprog, nrules;
};

struct rfb_builder *rfb_builder_new(const struct rfs_field *schema, size_t nfields,
				    const char *content_version)
{
	size_t vlen = content_version ? strlen(content_version) : 0;
	if (!schema || nfields == 0 || nfields > RFB_MAX_FIELDS || vlen == 0 || vlen > RFB_CONTENT_VER_MAX)
		return NULL;
	for (size_t i = 0; i < vlen; i++)
		if (content_version[i] < 0x21 || content_version[i] > 0x7e)
			return NULL;
	struct rfb_builder *b = calloc(1, sizeof *b);
	if (!b)
		return NULL;
	b->schema_len = nfields * RFS_RECORD_SIZE;
	b->schema = malloc(b->schema_len);
	if (!b->schema || rfs_encode(schema, nfields, b->schema) < 0 || buf_add(&b->strings, "", 1) < 0 ||
	    dedup_grow(&b->str_set) < 0 || dedup_grow(&b->pred_set) < 0) {
		rfb_builder_free(b);
		return NULL;
	}
	memcpy(b->version, content_version, vlen + 1);
	b->abi_min = b->abi_max = RFE_ABI;
	return b;
}

void rfb_builder_free(struct rfb_builder *b)
{
	if (!b)
		return;
	free(b->schema);
	free(b->strings.p);
	free(b->str_set.slot);
	free(b->str_set.hash);
	free(b->regex.p);
	free(b->preds.p);
	free(b->pred_set.slot);
	free(b->pred_set.hash);
	free(b->prog.p);
	free(b->rules.p);
	free(b);
}

void rfb_set_abi(struct rfb_builder *b, uint32_t min, uint32_t max)
{
	b->abi_min = min;
	b->abi_max = max;
}

size_t rfb_nrules(const struct rfb_builder *b)
{
	return b->nrules;
}

size_t rfb_npreds(const struct rfb_builder *b)
{
	return b->npreds;
}

/* String offsets are the dedup indices; the blob byte after each is NUL. */
static bool str_eq(const void *ctx, uint32_t off, const uint8_t *key, size_t len)
{
	const struct buf *s = ctx;
	return off + len < s->len && memcmp(s->p + off, key, len) == 0 && s->p[off + len] == 0;
}

static int add_string(struct rfb_builder *b, const char *s, size_t len, uint32_t *ret_off)
{
	if (len == 0) {
		*ret_off = 0;
		return 0;
	}
	if (len > RFB_MAX_STRING_LEN || memchr(s, 0, len))
		return -EINVAL;
	uint32_t h = fnv1a((const uint8_t *)s, len);
	size_t pos;
	long found = dedup_find(&b->str_set, h, (const uint8_t *)s, len, str_eq, &b->strings, &pos);
	if (found >= 0) {
		*ret_off = (uint32_t)found;
		return 0;
	}
	if (b->strings.len + len + 1 > RFB_MAX_STRINGS)
		return -E2BIG;
	uint32_t off = (uint32_t)b->strings.len;
	int r = buf_add(&b->strings, s, len);
	if (r == 0)
		r = buf_add(&b->strings, "", 1);
	if (r < 0)
		return r;
	b->str_set.slot[pos] = off + 1;
	b->str_set.hash[pos] = h;
	if (++b->str_set.n * 2 > b->str_set.cap && (r = dedup_grow(&b->str_set)) < 0)
		return r;
	*ret_off = off;
	return 0;
}

int rfb_add_regex(struct rfb_builder *b, const char *pattern, uint32_t flags)
{
	size_t len = pattern ? strlen(pattern) : 0;
	if (len == 0 || len > RFB_MAX_REGEX_LEN || (flags & ~RFB_RE_FLAGS_ALL))
		return -EINVAL;
	if (b->nregex >= RFB_MAX_REGEX)
		return -E2BIG;
	uint32_t off;
	int r = add_string(b, pattern, len, &off);
	if (r < 0)
		return r;
	uint8_t rec[RFB_REGEX_SIZE] = { 0 };
	rfb_put32(rec, off);
	rfb_put32(rec + 4, (uint32_t)len);
	rfb_put32(rec + 8, flags);
	if ((r = buf_add(&b->regex, rec, sizeof rec)) < 0)
		return r;
	return (int)b->nregex++;
}

static bool pred_eq(const void *ctx, uint32_t index, const uint8_t *key, size_t len)
{
	const struct buf *p = ctx;
	return memcmp(p->p + (size_t)index * RFB_PRED_SIZE, key, len) == 0;
}

int rfb_add_pred(struct rfb_builder *b, const struct rfb_pred_in *p)
{
	uint8_t rec[RFB_PRED_SIZE] = { 0 };
	rfb_put16(rec, p->field);
	rec[2] = p->op;
	rec[3] = p->flags;
	int r;
	switch (p->op) {
	case RFB_OP_EQ:
	case RFB_OP_CONTAINS:
	case RFB_OP_STARTSWITH:
	case RFB_OP_ENDSWITH:
	case RFB_OP_GLOB: {
		uint32_t off;
		if ((r = add_string(b, p->str, p->str_len, &off)) < 0)
			return r;
		rfb_put32(rec + 8, off);
		rfb_put32(rec + 12, p->str_len);
		break;
	}
	case RFB_OP_RE:
		rfb_put32(rec + 8, p->regex);
		break;
	case RFB_OP_INT_EQ:
	case RFB_OP_INT_LT:
	case RFB_OP_INT_LE:
	case RFB_OP_INT_GT:
	case RFB_OP_INT_GE:
		rfb_put64(rec + 8, (uint64_t)p->num);
		break;
	case RFB_OP_CIDR:
		rec[8] = p->family;
		rec[9] = p->prefix;
		memcpy(rec + 12, p->addr, 16);
		break;
	default:
		break;   /* NULL, or an op the loader will refuse (tests) */
	}
	uint32_t h = fnv1a(rec, sizeof rec);
	size_t pos;
	long found = dedup_find(&b->pred_set, h, rec, sizeof rec, pred_eq, &b->preds, &pos);
	if (found >= 0)
		return (int)found;
	if (b->npreds >= RFB_MAX_PREDS)
		return -E2BIG;
	if ((r = buf_add(&b->preds, rec, sizeof rec)) < 0)
		return r;
	b->pred_set.slot[pos] = (uint32_t)b->npreds + 1;
	b->pred_set.hash[pos] = h;
	if (++b->pred_set.n * 2 > b->pred_set.cap && (r = dedup_grow(&b->pred_set)) < 0)
		return r;
	return (int)b->npreds++;
}

int rfb_add_rule(struct rfb_builder *b, const struct rfb_rule_in *in)
{
	if (!in->id || !in->title || !in->prog || in->prog_len == 0)
		return -EINVAL;
	if (b->nrules >= RFB_MAX_RULES || in->prog_len > RFB_MAX_RULE_PROG ||
	    b->nprog + in->prog_len > RFB_MAX_PROG)
		return -E2BIG;
	uint32_t id, title, tags = 0;
	size_t tlen = in->tags ? strlen(in->tags) : 0;
	int r;
	if ((r = add_string(b, in->id, strlen(in->id), &id)) < 0 ||
	    (r = add_string(b, in->title, strlen(in->title), &title)) < 0 ||
	    (r = add_string(b, in->tags ? in->tags : "", tlen, &tags)) < 0)
		return r;
	uint8_t rec[RFB_RULE_SIZE] = { 0 };
	rfb_put32(rec + 0, id);
	rfb_put32(rec + 4, (uint32_t)strlen(in->id));
	rfb_put32(rec + 8, title);
	rfb_put32(rec + 12, (uint32_t)strlen(in->title));
	rfb_put32(rec + 16, tags);
	rfb_put32(rec + 20, (uint32_t)tlen);
	rfb_put32(rec + 24, in->event_mask);
	rfb_put32(rec + 28, in->flags);
	rec[32] = in->level;
	rfb_put32(rec + 36, (uint32_t)b->nprog);
	rfb_put32(rec + 40, in->prog_len);
	if ((r = buf_reserve(&b->prog, (size_t)in->prog_len * 4)) < 0 ||
	    (r = buf_add(&b->rules, rec, sizeof rec)) < 0)
		return r;
	for (uint32_t i = 0; i < in->prog_len; i++) {
		rfb_put32(b->prog.p + b->prog.len, in->prog[i]);
		b->prog.len += 4;
	}
	b->nprog += in->prog_len;
	b->nrules++;
	return 0;
}

static size_t align8(size_t n)
{
	return (n + 7) & ~(size_t)7;
}

int rfb_build(struct rfb_builder *b, uint8_t **ret_buf, size_t *ret_len)
{
	struct {
		uint32_t type, count, elem;
		const uint8_t *data;
		size_t len;
	} sec[] = {
		{ RFB_SEC_SCHEMA, (uint32_t)(b->schema_len / RFS_RECORD_SIZE), RFS_RECORD_SIZE, b->schema,
		  b->schema_len },
		{ RFB_SEC_STRINGS, (uint32_t)b->strings.len, 1, b->strings.p, b->strings.len },
		{ RFB_SEC_REGEX, (uint32_t)b->nregex, RFB_REGEX_SIZE, b->regex.p, b->regex.len },
		{ RFB_SEC_PRED, (uint32_t)b->npreds, RFB_PRED_SIZE, b->preds.p, b->preds.len },
		{ RFB_SEC_PROG, (uint32_t)b->nprog, 4, b->prog.p, b->prog.len },
		{ RFB_SEC_RULES, (uint32_t)b->nrules, RFB_RULE_SIZE, b->rules.p, b->rules.len },
	};
	const size_t nsec = sizeof sec / sizeof *sec;
	size_t off = RFB_HDR_SIZE + nsec * RFB_SECT_ENTRY_SIZE;
	size_t offs[sizeof sec / sizeof *sec];
	for (size_t i = 0; i < nsec; i++) {
		off = align8(off);
		offs[i] = off;
		off += RFB_SHDR_SIZE + sec[i].len;
	}
	size_t total = align8(off);
	if (total > RFB_MAX_SIZE)
		return -E2BIG;
	uint8_t *out = calloc(1, total);
	if (!out)
		return -ENOMEM;
	memcpy(out + RFB_HDR_MAGIC, RFB_MAGIC, RFB_MAGIC_LEN);
	rfb_put16(out + RFB_HDR_VERSION, RFB_FORMAT_VERSION);
	rfb_put16(out + RFB_HDR_HDRSIZE, RFB_HDR_SIZE);
	rfb_put32(out + RFB_HDR_ABI_MIN, b->abi_min);
	rfb_put32(out + RFB_HDR_ABI_MAX, b->abi_max);
	rfb_put32(out + RFB_HDR_TOTAL, (uint32_t)total);
	rfb_put32(out + RFB_HDR_NSECT, (uint32_t)nsec);
	rfb_put32(out + RFB_HDR_SECT_OFF, RFB_HDR_SIZE);
	rfs_hash(b->schema, b->schema_len, out + RFB_HDR_SCHEMA_HASH);
	memcpy(out + RFB_HDR_CONTENT_VER, b->version, strlen(b->version));
	for (size_t i = 0; i < nsec; i++) {
		uint8_t *e = out + RFB_HDR_SIZE + i * RFB_SECT_ENTRY_SIZE;
		rfb_put32(e, sec[i].type);
		rfb_put32(e + 4, (uint32_t)offs[i]);
		rfb_put32(e + 8, (uint32_t)(RFB_SHDR_SIZE + sec[i].len));
		uint8_t *s = out + offs[i];
		rfb_put32(s, sec[i].type);
		rfb_put32(s + 4, sec[i].count);
		rfb_put32(s + 8, sec[i].elem);
		rfb_put32(s + 12, (uint32_t)sec[i].len);
		if (sec[i].len)
			memcpy(s + RFB_SHDR_SIZE, sec[i].data, sec[i].len);
	}
	*ret_buf = out;
	*ret_len = total;
	return 0;
}
