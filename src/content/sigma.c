/*
 * sigma.c - Sigma rule compiler (sigma.h).
 *
 * Per rule: libyaml loads the document; the metadata (id, title, level,
 * tags, status, logsource) is checked; each search identifier of the
 * detection becomes a boolean tree of predicates (a map is AND over its
 * fields, a list of maps is OR, a list of values is OR, or AND with |all);
 * the condition is parsed and its identifiers and "1 of"/"all of" patterns
 * are replaced by those trees; the tree is flattened and emitted as a
 * forward-jumping program (bundle.h).  Only a rule that compiled completely
 * is added to the bundle.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <fnmatch.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <yaml.h>

#include <ringfence/message.h>

#include "content/engine.h"
#include "content/sigma.h"

/* ---------------------------------------------------------------- mapping */

enum cat_bits {
	C_PROC = 0x1,      /* process_creation */
	C_FILE = 0x2,      /* file_event */
	C_FCHANGE = 0x4,   /* file_change */
	C_FDEL = 0x8,      /* file_delete */
	C_FREN = 0x10,     /* file_rename */
	C_NET = 0x20,      /* network_connection */
	C_ANYFILE = C_FILE | C_FCHANGE | C_FDEL | C_FREN,
	C_ALL = 0x3f,
};

static const struct category {
	const char *name;
	unsigned bit;
	uint32_t events;   /* 1 << enum rf_event_type */
} categories[] = {
	{ "process_creation", C_PROC, 1u << RF_EVENT_EXEC },
	/* created, or written and closed (Sysmon's FileCreate also reports
	 * overwrites), or renamed into place: each puts content at a name */
	{ "file_event", C_FILE, (1u << RF_EVENT_CREATE) | (1u << RF_EVENT_CLOSE_WRITE) | (1u << RF_EVENT_RENAME) },
	{ "file_change", C_FCHANGE, 1u << RF_EVENT_CLOSE_WRITE },
	{ "file_delete", C_FDEL, 1u << RF_EVENT_UNLINK },
	{ "file_rename", C_FREN, 1u << RF_EVENT_RENAME },
	{ "network_connection", C_NET, (1u << RF_EVENT_CONNECT) | (1u << RF_EVENT_ACCEPT) },
};

enum conv {
	CV_PLAIN = 0,
	CV_USER,           /* user name -> uid, resolved at compile time */
	CV_BOOL,           /* 'true' / 'false' -> 1 / 0 */
};

static const struct mapping {
	const char *sigma;
	int field;         /* enum rfs_field_id, or -1: unmappable */
	unsigned cats;     /* categories where it is available */
	enum conv conv;
	const char *why;   /* unmappable: the reason */
} mappings[] = {
	{ "Image", RFF_IMAGE, C_ALL, CV_PLAIN, NULL },
	{ "CommandLine", RFF_COMMAND_LINE, C_ALL, CV_PLAIN, NULL },
	{ "ParentImage", RFF_PARENT_IMAGE, C_ALL, CV_PLAIN, NULL },
	{ "ParentCommandLine", RFF_PARENT_COMMAND_LINE, C_ALL, CV_PLAIN, NULL },
	{ "CurrentDirectory", RFF_CWD, C_ALL, CV_PLAIN, NULL },
	{ "User", RFF_UID, C_ALL, CV_USER, NULL },
	{ "ProcessId", RFF_PID, C_ALL, CV_PLAIN, NULL },
	{ "ParentProcessId", RFF_PPID, C_ALL, CV_PLAIN, NULL },
	{ "TargetFilename", RFF_TARGET_PATH, C_ANYFILE, CV_PLAIN, NULL },
	{ "SourceFilename", RFF_SOURCE_PATH, C_FILE | C_FREN, CV_PLAIN, NULL },
	{ "Initiated", RFF_NET_INITIATED, C_NET, CV_BOOL, NULL },
	{ "SourceIp", RFF_NET_SRC_IP, C_NET, CV_PLAIN, NULL },
	{ "SourcePort", RFF_NET_SRC_PORT, C_NET, CV_PLAIN, NULL },
	{ "DestinationIp", RFF_NET_DST_IP, C_NET, CV_PLAIN, NULL },
	{ "DestinationPort", RFF_NET_DST_PORT, C_NET, CV_PLAIN, NULL },
	{ "Protocol", RFF_NET_PROTOCOL, C_NET, CV_PLAIN, NULL },
	{ "DestinationHostname", -1, 0, CV_PLAIN,
	  "network events carry addresses, not host names (the sensor does no DNS)" },
	{ "SourceHostname", -1, 0, CV_PLAIN,
	  "network events carry addresses, not host names (the sensor does no DNS)" },
	{ "LogonId", -1, 0, CV_PLAIN, "events carry no logon session id" },
	{ "LogonGuid", -1, 0, CV_PLAIN, "events carry no logon session id" },
	{ "ParentUser", -1, 0, CV_PLAIN, "events carry the parent's pid and exe, not its user" },
	{ "OriginalFileName", -1, 0, CV_PLAIN, "PE version information does not exist on Linux" },
	{ "Product", -1, 0, CV_PLAIN, "PE version information does not exist on Linux" },
	{ "Company", -1, 0, CV_PLAIN, "PE version information does not exist on Linux" },
	{ "Description", -1, 0, CV_PLAIN, "PE version information does not exist on Linux" },
	{ "FileVersion", -1, 0, CV_PLAIN, "PE version information does not exist on Linux" },
	{ "Hashes", -1, 0, CV_PLAIN, "file hashes are not in the engine schema yet" },
	{ "IntegrityLevel", -1, 0, CV_PLAIN, "Windows integrity levels do not exist on Linux" },
	{ "ProcessGuid", -1, 0, CV_PLAIN, "events identify processes by pid and start time" },
	{ "ParentProcessGuid", -1, 0, CV_PLAIN, "events identify processes by pid and start time" },
	{ "DestinationIsIpv6", -1, 0, CV_PLAIN, "not mapped (test DestinationIp with |cidr)" },
};

static const struct mapping *find_mapping(const char *name)
{
	for (size_t i = 0; i < sizeof mappings / sizeof *mappings; i++)
		if (strcmp(mappings[i].sigma, name) == 0)
			return &mappings[i];
	return NULL;
}

/* ------------------------------------------------------------ rule state */

enum nkind { N_PRED, N_AND, N_OR, N_NOT };

struct node {
	enum nkind kind;
	unsigned n, cap;
	struct node **kid;
	unsigned pred;              /* N_PRED: index into rule.preds */
};

struct lpred {
	struct rfb_pred_in in;
	char *str;                  /* owned copy of in.str */
	char *regex;                /* RE: pattern */
	uint32_t re_flags;
	unsigned cost;              /* rough evaluation cost, for ordering ANDs */
};

struct selection {
	char *name;
	struct node *tree;
};

struct rule {
	struct sg_compiler *c;
	yaml_document_t *doc;
	const char *file;
	unsigned cat;               /* enum cat_bits */
	char reason[256];
	bool failed;
	struct node **nodes;        /* every node, for freeing */
	size_t nnodes, capnodes;
	struct lpred *preds;
	size_t npreds, cappreds;
	struct selection *sels;
	size_t nsels, capsels;
};

struct sg_compiler {
	struct rfb_builder *b;
	struct sg_options opts;
	struct sg_result *res;
	size_t nres, capres;
};

__attribute__((format(printf, 2, 3))) static void fail(struct rule *r, const char *fmt, ...)
{
	if (r->failed)
		return;   /* the first reason is the one reported */
	r->failed = true;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(r->reason, sizeof r->reason, fmt, ap);
	va_end(ap);
}

static bool grow(void **p, size_t *cap, size_t n, size_t elem)
{
	if (n < *cap)
		return true;
	size_t nc = *cap ? *cap * 2 : 16;
	void *q = realloc(*p, nc * elem);
	if (!q)
		return false;
	*p = q;
	*cap = nc;
	return true;
}

static struct node *new_node(struct rule *r, enum nkind k)
{
	if (!grow((void **)&r->nodes, &r->capnodes, r->nnodes, sizeof *r->nodes)) {
		fail(r, "out of memory");
		return NULL;
	}
	struct node *n = calloc(1, sizeof *n);
	if (!n) {
		fail(r, "out of memory");
		return NULL;
	}
	n->kind = k;
	r->nodes[r->nnodes++] = n;
	return n;
}

static bool add_kid(struct rule *r, struct node *p, struct node *k)
{
	if (!k)
		return false;
	if (p->n == p->cap) {
		unsigned nc = p->cap ? p->cap * 2 : 4;
		struct node **q = realloc(p->kid, nc * sizeof *q);
		if (!q) {
			fail(r, "out of memory");
			return false;
		}
		p->kid = q;
		p->cap = nc;
	}
	p->kid[p->n++] = k;
	return true;
}

/* A leaf for a new predicate; takes ownership of str and regex. */
static struct node *pred_node(struct rule *r, struct lpred *lp)
{
	if (r->npreds >= SG_MAX_PREDS) {
		fail(r, "expands to more than %u predicates", SG_MAX_PREDS);
		free(lp->str);
		free(lp->regex);
		return NULL;
	}
	if (!grow((void **)&r->preds, &r->cappreds, r->npreds, sizeof *r->preds)) {
		fail(r, "out of memory");
		free(lp->str);
		free(lp->regex);
		return NULL;
	}
	struct node *n = new_node(r, N_PRED);
	if (!n) {
		free(lp->str);
		free(lp->regex);
		return NULL;
	}
	n->pred = (unsigned)r->npreds;
	r->preds[r->npreds++] = *lp;
	return n;
}

/* ---------------------------------------------------------------- YAML */

static yaml_node_t *node_at(struct rule *r, int idx)
{
	return yaml_document_get_node(r->doc, idx);
}

static bool is_scalar(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE;
}

static const char *scalar(const yaml_node_t *n)
{
	return is_scalar(n) ? (const char *)n->data.scalar.value : NULL;
}

/* The value of key in a mapping node, or NULL. */
static yaml_node_t *map_get(struct rule *r, yaml_node_t *map, const char *key)
{
	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top; p++) {
		const char *k = scalar(node_at(r, p->key));
		if (k && strcmp(k, key) == 0)
			return node_at(r, p->value);
	}
	return NULL;
}

static bool plain(const yaml_node_t *n)
{
	return is_scalar(n) && n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML 1.2 core schema nulls, for plain scalars only. */
static bool is_null(const yaml_node_t *n)
{
	if (!plain(n))
		return false;
	const char *s = scalar(n);
	return !*s || !strcmp(s, "~") || !strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL");
}

static bool scalar_has_nul(const yaml_node_t *n)
{
	return strlen(scalar(n)) != n->data.scalar.length;
}

static char *xstrdup(struct rule *r, const char *s)
{
	char *d = strdup(s);
	if (!d)
		fail(r, "out of memory");
	return d;
}

/* --------------------------------------------------------------- values */

struct mods {
	bool contains, startswith, endswith, all, re, cidr, cased, exists;
	bool re_i, re_m, re_s;
	int cmp;        /* 0, or RFB_OP_INT_LT .. RFB_OP_INT_GE */
};

static bool parse_mods(struct rule *r, const char *key, char *spec, struct mods *m)
{
	memset(m, 0, sizeof *m);
	for (char *sv, *t = strtok_r(spec, "|", &sv); t; t = strtok_r(NULL, "|", &sv)) {
		if (!strcmp(t, "contains")) m->contains = true;
		else if (!strcmp(t, "startswith")) m->startswith = true;
		else if (!strcmp(t, "endswith")) m->endswith = true;
		else if (!strcmp(t, "all")) m->all = true;
		else if (!strcmp(t, "re")) m->re = true;
		else if (!strcmp(t, "i")) m->re_i = true;
		else if (!strcmp(t, "m")) m->re_m = true;
		else if (!strcmp(t, "s")) m->re_s = true;
		else if (!strcmp(t, "cidr")) m->cidr = true;
		else if (!strcmp(t, "cased")) m->cased = true;
		else if (!strcmp(t, "exists")) m->exists = true;
		else if (!strcmp(t, "lt")) m->cmp = RFB_OP_INT_LT;
		else if (!strcmp(t, "lte")) m->cmp = RFB_OP_INT_LE;
		else if (!strcmp(t, "gt")) m->cmp = RFB_OP_INT_GT;
		else if (!strcmp(t, "gte")) m->cmp = RFB_OP_INT_GE;
		else if (!strcmp(t, "windash") || !strcmp(t, "base64") || !strcmp(t, "base64offset") ||
			 !strcmp(t, "utf16le") || !strcmp(t, "utf16be") || !strcmp(t, "utf16") ||
			 !strcmp(t, "wide") || !strcmp(t, "expand") || !strcmp(t, "fieldref")) {
			fail(r, "unsupported modifier: |%s (field %s)", t, key);
			return false;
		} else {
			fail(r, "unknown modifier: |%s (field %s)", t, key);
			return false;
		}
	}
	int pos = m->contains + m->startswith + m->endswith;
	if (pos > 1 || (pos && (m->re || m->cidr)) || (m->re && m->cidr)) {
		fail(r, "unsupported modifier: conflicting modifiers on field %s", key);
		return false;
	}
	if ((m->re_i || m->re_m || m->re_s) && !m->re) {
		fail(r, "unsupported modifier: |i, |m or |s without |re (field %s)", key);
		return false;
	}
	if (m->cmp && (pos || m->re || m->cidr || m->cased)) {
		fail(r, "unsupported modifier: a comparison with string modifiers (field %s)", key);
		return false;
	}
	return true;
}

/* Sigma string with wildcards: segments of literal bytes and '*' / '?'. */
struct pattern {
	char *b;        /* bytes: literal, or the markers below */
	bool *wild;     /* per byte: b[i] is a wildcard ('*' or '?') */
	size_t n;
};

/* Parses Sigma's escaping: \* \? \\ are literal; a lone \ is a backslash. */
static bool sigma_pattern(struct rule *r, const char *s, size_t len, struct pattern *p)
{
	p->b = malloc(len + 3);
	p->wild = calloc(len + 3, sizeof *p->wild);
	p->n = 0;
	if (!p->b || !p->wild) {
		fail(r, "out of memory");
		return false;
	}
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '\\' && i + 1 < len && (s[i + 1] == '*' || s[i + 1] == '?' || s[i + 1] == '\\')) {
			p->b[p->n++] = s[++i];
			continue;
		}
		p->wild[p->n] = c == '*' || c == '?';
		p->b[p->n++] = c;
	}
	return true;
}

static void pattern_free(struct pattern *p)
{
	free(p->b);
	free(p->wild);
}

static unsigned field_cost(int field)
{
	return field == RFF_COMMAND_LINE || field == RFF_PARENT_COMMAND_LINE ? 4 : 1;
}

/*
 * A string predicate from a Sigma string value with modifiers: exact,
 * startswith, endswith or contains when the wildcards allow, a glob
 * otherwise.  Case-insensitive unless |cased.
 */
static struct node *string_pred(struct rule *r, int field, const struct mods *m, const char *val,
				size_t len, const char *key)
{
	struct pattern p;
	if (!sigma_pattern(r, val, len, &p))
		return NULL;
	/* leading/trailing '*' from the modifier */
	bool lead = m->contains || m->endswith, trail = m->contains || m->startswith;
	size_t a = 0, z = p.n;
	while (a < z && p.wild[a] && p.b[a] == '*')
		a++, lead = true;
	while (z > a && p.wild[z - 1] && p.b[z - 1] == '*')
		z--, trail = true;
	bool inner_wild = false;
	for (size_t i = a; i < z; i++)
		inner_wild |= p.wild[i];
	struct lpred lp = { .in.field = (uint16_t)field, .in.flags = m->cased ? 0 : RFB_PF_NOCASE };
	size_t outlen = 0;
	char *out;
	if (!inner_wild) {
		out = malloc(z - a + 1);
		if (!out) {
			pattern_free(&p);
			fail(r, "out of memory");
			return NULL;
		}
		memcpy(out, p.b + a, z - a);
		outlen = z - a;
		lp.in.op = lead && trail ? RFB_OP_CONTAINS : lead ? RFB_OP_ENDSWITH
						     : trail ? RFB_OP_STARTSWITH : RFB_OP_EQ;
		lp.cost = field_cost(field) * (lp.in.op == RFB_OP_CONTAINS ? 2 : 1);
	} else {
		/* glob syntax: literal * ? \ escaped with a backslash */
		out = malloc(2 * (z - a) + 3);
		if (!out) {
			pattern_free(&p);
			fail(r, "out of memory");
			return NULL;
		}
		if (lead)
			out[outlen++] = '*';
		for (size_t i = a; i < z; i++) {
			if (!p.wild[i] && (p.b[i] == '*' || p.b[i] == '?' || p.b[i] == '\\'))
				out[outlen++] = '\\';
			out[outlen++] = p.b[i];
		}
		if (trail)
			out[outlen++] = '*';
		lp.in.op = RFB_OP_GLOB;
		lp.cost = field_cost(field) * 4;
		if (outlen > RFB_MAX_GLOB_LEN) {
			pattern_free(&p);
			free(out);
			fail(r, "value too long: wildcard pattern over %u bytes (field %s)", RFB_MAX_GLOB_LEN, key);
			return NULL;
		}
	}
	pattern_free(&p);
	out[outlen] = 0;
	if (outlen > RFB_MAX_STRING_LEN) {
		free(out);
		fail(r, "value too long: over %u bytes (field %s)", RFB_MAX_STRING_LEN, key);
		return NULL;
	}
	if (lp.in.flags & RFB_PF_NOCASE)
		for (size_t i = 0; i < outlen; i++)
			out[i] = (char)tolower((unsigned char)out[i]);
	lp.str = out;
	lp.in.str = out;
	lp.in.str_len = (uint32_t)outlen;
	return pred_node(r, &lp);
}

static struct node *regex_pred(struct rule *r, int field, const struct mods *m, const char *val,
			       size_t len, const char *key)
{
	if (len == 0 || len > RFB_MAX_REGEX_LEN) {
		fail(r, "bad regex: empty or over %u bytes (field %s)", RFB_MAX_REGEX_LEN, key);
		return NULL;
	}
	uint32_t flags = (m->re_i ? RFB_RE_CASELESS : 0) | (m->re_m ? RFB_RE_MULTILINE : 0) |
			 (m->re_s ? RFB_RE_DOTALL : 0);
	/* the engine compiles with these options; refuse here what it would refuse */
	uint32_t opt = PCRE2_NEVER_UTF | PCRE2_NEVER_UCP | PCRE2_NEVER_BACKSLASH_C |
		       ((flags & RFB_RE_CASELESS) ? PCRE2_CASELESS : 0) |
		       ((flags & RFB_RE_MULTILINE) ? PCRE2_MULTILINE : 0) |
		       ((flags & RFB_RE_DOTALL) ? PCRE2_DOTALL : 0);
	int ec;
	PCRE2_SIZE eo;
	pcre2_code *code = pcre2_compile((PCRE2_SPTR)val, len, opt, &ec, &eo, NULL);
	if (!code) {
		PCRE2_UCHAR msg[128];
		pcre2_get_error_message(ec, msg, sizeof msg);
		fail(r, "bad regex: %s at offset %zu (field %s)", (const char *)msg, (size_t)eo, key);
		return NULL;
	}
	pcre2_code_free(code);
	struct lpred lp = { .in.field = (uint16_t)field, .in.op = RFB_OP_RE, .re_flags = flags,
			    .cost = field_cost(field) * 8 };
	lp.regex = malloc(len + 1);
	if (!lp.regex) {
		fail(r, "out of memory");
		return NULL;
	}
	memcpy(lp.regex, val, len);
	lp.regex[len] = 0;
	return pred_node(r, &lp);
}

static bool parse_int(const char *s, int64_t *ret)
{
	if (!*s)
		return false;
	char *end;
	errno = 0;
	long long v = strtoll(s, &end, 10);
	if (errno || *end || isspace((unsigned char)*s))
		return false;
	*ret = v;
	return true;
}

/* "a.b.c.d", "a.b.c.d/n", IPv6 likewise; ret family 4 or 6. */
static bool parse_cidr(const char *s, bool allow_prefix, uint8_t *fam, uint8_t *prefix, uint8_t addr[16])
{
	char buf[64];
	if (strlen(s) >= sizeof buf)
		return false;
	strcpy(buf, s);
	char *slash = strchr(buf, '/');
	long bits = -1;
	if (slash) {
		if (!allow_prefix)
			return false;
		*slash = 0;
		char *end;
		errno = 0;
		bits = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || bits < 0)
			return false;
	}
	memset(addr, 0, 16);
	if (inet_pton(AF_INET, buf, addr) == 1) {
		*fam = 4;
		if (bits > 32)
			return false;
		*prefix = (uint8_t)(bits < 0 ? 32 : bits);
		return true;
	}
	if (inet_pton(AF_INET6, buf, addr) == 1) {
		*fam = 6;
		if (bits > 128)
			return false;
		*prefix = (uint8_t)(bits < 0 ? 128 : bits);
		return true;
	}
	return false;
}

/* A dotted IPv4 prefix ending in '.', like "192.168.": the CIDR of its octets. */
static bool ipv4_prefix(const char *s, uint8_t *prefix, uint8_t addr[16])
{
	size_t n = strlen(s);
	if (n < 2 || s[n - 1] != '.')
		return false;
	unsigned oct = 0;
	memset(addr, 0, 16);
	const char *p = s;
	while (*p) {
		char *end;
		if (!isdigit((unsigned char)*p))
			return false;
		unsigned long v = strtoul(p, &end, 10);
		if (v > 255 || *end != '.' || oct >= 3)
			return false;
		addr[oct++] = (uint8_t)v;
		p = end + 1;
	}
	*prefix = (uint8_t)(oct * 8);
	return true;
}

/* One value of a field: a predicate node (or NULL after fail()). */
static struct node *value_node(struct rule *r, const struct mapping *mp, const struct mods *m,
			       yaml_node_t *v, const char *key)
{
	int field = mp->field;
	unsigned type = rfs_engine_schema[field].type;
	if (!is_scalar(v)) {
		fail(r, "unsupported value: a %s where a scalar was expected (field %s)",
		     v && v->type == YAML_MAPPING_NODE ? "mapping" : "nested list", key);
		return NULL;
	}
	if (scalar_has_nul(v)) {
		fail(r, "unsupported value: NUL byte (field %s)", key);
		return NULL;
	}
	const char *s = scalar(v);
	size_t len = v->data.scalar.length;
	if (m->exists) {
		bool want;
		if (!strcmp(s, "true") || !strcmp(s, "True"))
			want = true;
		else if (!strcmp(s, "false") || !strcmp(s, "False"))
			want = false;
		else {
			fail(r, "bad value: |exists wants true or false (field %s)", key);
			return NULL;
		}
		struct lpred lp = { .in.field = (uint16_t)field, .in.op = RFB_OP_NULL, .cost = 1 };
		struct node *n = pred_node(r, &lp);
		if (!n || !want)
			return n;   /* exists: false is null */
		struct node *no = new_node(r, N_NOT);
		return no && add_kid(r, no, n) ? no : NULL;
	}
	if (is_null(v)) {
		if (m->contains || m->startswith || m->endswith || m->re || m->cidr || m->cmp) {
			fail(r, "unsupported value: null with a modifier (field %s)", key);
			return NULL;
		}
		struct lpred lp = { .in.field = (uint16_t)field, .in.op = RFB_OP_NULL, .cost = 1 };
		return pred_node(r, &lp);
	}
	switch (type) {
	case RFS_STRING:
		if (m->cidr || m->cmp) {
			fail(r, "unsupported modifier: |%s on text field %s", m->cidr ? "cidr" : "lt/gt", key);
			return NULL;
		}
		return m->re ? regex_pred(r, field, m, s, len, key) : string_pred(r, field, m, s, len, key);
	case RFS_INT: {
		if (m->contains || m->startswith || m->endswith || m->re || m->cidr || m->cased) {
			fail(r, "unsupported modifier: string modifier on numeric field %s", key);
			return NULL;
		}
		int64_t num;
		if (mp->conv == CV_BOOL) {
			if (!strcasecmp(s, "true"))
				num = 1;
			else if (!strcasecmp(s, "false"))
				num = 0;
			else {
				fail(r, "bad value: %s wants true or false, not '%s'", key, s);
				return NULL;
			}
		} else if (!parse_int(s, &num)) {
			struct passwd *pw = mp->conv == CV_USER && !strchr(s, '*') ? getpwnam(s) : NULL;
			if (mp->conv == CV_USER && !strcmp(s, "root")) {
				num = 0;
			} else if (pw) {
				num = pw->pw_uid;
			} else if (mp->conv == CV_USER) {
				fail(r, "unmappable value: user '%s' is not known on the compiling host "
					"(events carry uids)", s);
				return NULL;
			} else {
				fail(r, "bad value: '%s' is not an integer (field %s)", s, key);
				return NULL;
			}
		}
		struct lpred lp = { .in.field = (uint16_t)field, .in.op = (uint8_t)(m->cmp ? m->cmp : RFB_OP_INT_EQ),
				    .in.num = num, .cost = 1 };
		return pred_node(r, &lp);
	}
	case RFS_IP: {
		struct lpred lp = { .in.field = (uint16_t)field, .in.op = RFB_OP_CIDR, .cost = 1 };
		if (m->startswith && ipv4_prefix(s, &lp.in.prefix, lp.in.addr)) {
			lp.in.family = 4;
			return pred_node(r, &lp);
		}
		if (m->contains || m->startswith || m->endswith || m->re || m->cmp || m->cased) {
			fail(r, "unsupported modifier: string modifier on address field %s (use |cidr)", key);
			return NULL;
		}
		if (!parse_cidr(s, m->cidr, &lp.in.family, &lp.in.prefix, lp.in.addr)) {
			fail(r, "bad value: '%s' is not an IP address%s (field %s)", s, m->cidr ? " or CIDR" : "", key);
			return NULL;
		}
		return pred_node(r, &lp);
	}
	default:
		fail(r, "internal: field type %u", type);
		return NULL;
	}
}

/* "Field|mods: value or list" -> OR (or AND with |all) of value nodes. */
static struct node *field_node(struct rule *r, const char *key, yaml_node_t *val)
{
	char spec[256];
	if (strlen(key) >= sizeof spec) {
		fail(r, "unsupported field: name too long");
		return NULL;
	}
	strcpy(spec, key);
	char *bar = strchr(spec, '|');
	if (bar)
		*bar++ = 0;
	const struct mapping *mp = find_mapping(spec);
	if (!mp) {
		fail(r, "unmappable field: %s (not in the field mapping)", spec);
		return NULL;
	}
	if (mp->field < 0) {
		fail(r, "unmappable field: %s: %s", spec, mp->why);
		return NULL;
	}
	if (!(mp->cats & r->cat)) {
		fail(r, "unmappable field: %s does not exist for this category", spec);
		return NULL;
	}
	struct mods m;
	char none[1] = "";
	if (!parse_mods(r, key, bar ? bar : none, &m))
		return NULL;
	if (mp->conv == CV_USER && (m.contains || m.startswith || m.endswith || m.re || m.cmp)) {
		fail(r, "unsupported modifier: User matches whole user names only (events carry uids)");
		return NULL;
	}
	if (val && val->type == YAML_SEQUENCE_NODE) {
		yaml_node_item_t *it = val->data.sequence.items.start, *end = val->data.sequence.items.top;
		if (it == end) {
			fail(r, "unsupported value: empty list (field %s)", key);
			return NULL;
		}
		if (end - it == 1)
			return value_node(r, mp, &m, node_at(r, *it), key);
		struct node *n = new_node(r, m.all ? N_AND : N_OR);
		for (; n && it < end; it++)
			if (!add_kid(r, n, value_node(r, mp, &m, node_at(r, *it), key)))
				return NULL;
		return n;
	}
	return value_node(r, mp, &m, val, key);
}

/* A search identifier's definition: a map (AND) or a list of maps (OR). */
static struct node *selection_node(struct rule *r, const char *name, yaml_node_t *def, unsigned depth)
{
	if (!def) {
		fail(r, "malformed: search identifier %s has no definition", name);
		return NULL;
	}
	if (def->type == YAML_MAPPING_NODE) {
		yaml_node_pair_t *p = def->data.mapping.pairs.start, *end = def->data.mapping.pairs.top;
		if (p == end) {
			fail(r, "malformed: search identifier %s is empty", name);
			return NULL;
		}
		struct node *n = new_node(r, N_AND);
		for (; n && p < end; p++) {
			const char *k = scalar(node_at(r, p->key));
			if (!k) {
				fail(r, "malformed: a non-scalar key in %s", name);
				return NULL;
			}
			if (!add_kid(r, n, field_node(r, k, node_at(r, p->value))))
				return NULL;
		}
		return n;
	}
	if (def->type == YAML_SEQUENCE_NODE && depth == 0) {
		yaml_node_item_t *it = def->data.sequence.items.start, *end = def->data.sequence.items.top;
		if (it == end) {
			fail(r, "malformed: search identifier %s is an empty list", name);
			return NULL;
		}
		struct node *n = new_node(r, N_OR);
		for (; n && it < end; it++) {
			yaml_node_t *e = node_at(r, *it);
			if (is_scalar(e)) {
				fail(r, "unsupported construct: keyword search (values without a field) in %s", name);
				return NULL;
			}
			if (!add_kid(r, n, selection_node(r, name, e, depth + 1)))
				return NULL;
		}
		return n;
	}
	fail(r, "unsupported construct: search identifier %s is not a map or a list of maps", name);
	return NULL;
}

/* ------------------------------------------------------------ condition */

enum tok { T_END, T_ID, T_AND, T_OR, T_NOT, T_LP, T_RP, T_ONE, T_ALL, T_OF, T_THEM, T_PIPE, T_BAD };

struct lexer {
	const char *s;
	size_t pos;
	enum tok t;
	char word[128];
	unsigned depth;
};

static bool id_char(char c)
{
	return isalnum((unsigned char)c) || c == '_' || c == '*' || c == '-' || c == '.';
}

static void next(struct lexer *lx)
{
	const char *s = lx->s;
	while (s[lx->pos] == ' ' || s[lx->pos] == '\t' || s[lx->pos] == '\n' || s[lx->pos] == '\r')
		lx->pos++;
	char c = s[lx->pos];
	lx->word[0] = 0;
	if (!c) {
		lx->t = T_END;
		return;
	}
	if (c == '(' || c == ')' || c == '|') {
		lx->pos++;
		lx->t = c == '(' ? T_LP : c == ')' ? T_RP : T_PIPE;
		return;
	}
	if (!id_char(c)) {
		lx->t = T_BAD;
		snprintf(lx->word, sizeof lx->word, "%c", c);
		return;
	}
	size_t n = 0;
	while (id_char(s[lx->pos])) {
		if (n + 1 < sizeof lx->word)
			lx->word[n++] = s[lx->pos];
		lx->pos++;
	}
	lx->word[n] = 0;
	if (!strcasecmp(lx->word, "and")) lx->t = T_AND;
	else if (!strcasecmp(lx->word, "or")) lx->t = T_OR;
	else if (!strcasecmp(lx->word, "not")) lx->t = T_NOT;
	else if (!strcmp(lx->word, "1") || !strcasecmp(lx->word, "any")) lx->t = T_ONE;
	else if (!strcasecmp(lx->word, "all")) lx->t = T_ALL;
	else if (!strcasecmp(lx->word, "of")) lx->t = T_OF;
	else if (!strcasecmp(lx->word, "them")) lx->t = T_THEM;
	else lx->t = T_ID;
}

static struct node *parse_or(struct rule *r, struct lexer *lx);

static struct selection *find_sel(struct rule *r, const char *name)
{
	for (size_t i = 0; i < r->nsels; i++)
		if (!strcmp(r->sels[i].name, name))
			return &r->sels[i];
	return NULL;
}

/* "1 of X" / "all of X": X is "them" or a pattern with '*'. */
static struct node *parse_of(struct rule *r, struct lexer *lx, bool all)
{
	next(lx);
	if (lx->t != T_OF) {
		fail(r, "unsupported condition: '%s' not followed by 'of'", all ? "all" : "1");
		return NULL;
	}
	next(lx);
	bool them = lx->t == T_THEM;
	if (!them && lx->t != T_ID) {
		fail(r, "bad condition: 'of' wants 'them' or a name pattern");
		return NULL;
	}
	char pat[128];
	snprintf(pat, sizeof pat, "%s", lx->word);
	next(lx);
	struct node *n = new_node(r, all ? N_AND : N_OR);
	if (!n)
		return NULL;
	for (size_t i = 0; i < r->nsels; i++) {
		const char *name = r->sels[i].name;
		/* "them" leaves out identifiers starting with '_' (Sigma's convention) */
		bool hit = them ? name[0] != '_' : fnmatch(pat, name, 0) == 0;
		if (hit && !add_kid(r, n, r->sels[i].tree))
			return NULL;
	}
	if (n->n == 0) {
		fail(r, "bad condition: '%s' matches no search identifier", them ? "them" : pat);
		return NULL;
	}
	return n;
}

static struct node *parse_primary(struct rule *r, struct lexer *lx)
{
	if (++lx->depth > SG_MAX_DEPTH) {
		fail(r, "unsupported condition: nested deeper than %u", SG_MAX_DEPTH);
		return NULL;
	}
	struct node *n = NULL;
	switch (lx->t) {
	case T_NOT: {
		next(lx);
		struct node *k = parse_primary(r, lx);
		n = new_node(r, N_NOT);
		if (!n || !add_kid(r, n, k))
			n = NULL;
		break;
	}
	case T_LP:
		next(lx);
		n = parse_or(r, lx);
		if (n && lx->t != T_RP) {
			fail(r, "bad condition: missing ')'");
			n = NULL;
		}
		next(lx);
		break;
	case T_ONE:
	case T_ALL:
		n = parse_of(r, lx, lx->t == T_ALL);
		break;
	case T_ID: {
		if (strchr(lx->word, '*')) {
			fail(r, "bad condition: pattern %s outside '1 of' / 'all of'", lx->word);
			break;
		}
		const struct selection *s = find_sel(r, lx->word);
		if (!s) {
			/* other counts ("2 of x") read as an identifier followed by 'of' */
			if (isdigit((unsigned char)lx->word[0]))
				fail(r, "unsupported condition: '%s of' (only '1 of' and 'all of')", lx->word);
			else
				fail(r, "bad condition: unknown search identifier %s", lx->word);
			break;
		}
		n = s->tree;
		next(lx);
		break;
	}
	case T_PIPE:
		fail(r, "unsupported condition: aggregation ('| count() ...')");
		break;
	case T_END:
		fail(r, "bad condition: ends early");
		break;
	default:
		fail(r, "bad condition: unexpected '%s'", lx->word[0] ? lx->word : "token");
		break;
	}
	lx->depth--;
	return n;
}

static struct node *parse_and(struct rule *r, struct lexer *lx)
{
	struct node *first = parse_primary(r, lx);
	if (!first || lx->t != T_AND)
		return first;
	struct node *n = new_node(r, N_AND);
	if (!add_kid(r, n, first))
		return NULL;
	while (lx->t == T_AND) {
		next(lx);
		if (!add_kid(r, n, parse_primary(r, lx)))
			return NULL;
	}
	return n;
}

static struct node *parse_or(struct rule *r, struct lexer *lx)
{
	struct node *first = parse_and(r, lx);
	if (!first || lx->t != T_OR)
		return first;
	struct node *n = new_node(r, N_OR);
	if (!add_kid(r, n, first))
		return NULL;
	while (lx->t == T_OR) {
		next(lx);
		if (!add_kid(r, n, parse_and(r, lx)))
			return NULL;
	}
	return n;
}

static struct node *parse_condition(struct rule *r, const char *cond)
{
	if (strlen(cond) > 4096) {
		fail(r, "unsupported condition: longer than 4096 bytes");
		return NULL;
	}
	struct lexer lx = { .s = cond };
	next(&lx);
	struct node *n = parse_or(r, &lx);
	if (!n)
		return NULL;
	if (lx.t == T_PIPE) {
		fail(r, "unsupported condition: aggregation ('| count() ...')");
		return NULL;
	}
	if (lx.t != T_END) {
		fail(r, "bad condition: unexpected '%s'", lx.word[0] ? lx.word : "token");
		return NULL;
	}
	return n;
}

/* -------------------------------------------------------- program emission */

struct prog {
	uint32_t *p;
	size_t n, cap;
	bool oom;
};

static size_t emit(struct prog *pg, uint32_t insn)
{
	if (pg->n == pg->cap) {
		size_t nc = pg->cap ? pg->cap * 2 : 64;
		uint32_t *q = realloc(pg->p, nc * sizeof *q);
		if (!q) {
			pg->oom = true;
			return pg->n;
		}
		pg->p = q;
		pg->cap = nc;
	}
	pg->p[pg->n] = insn;
	return pg->n++;
}

static unsigned node_cost(const struct rule *r, const struct node *n)
{
	if (n->kind == N_PRED)
		return r->preds[n->pred].cost;
	unsigned c = 0;
	for (unsigned i = 0; i < n->n; i++)
		c += node_cost(r, n->kid[i]);
	return c;
}

/*
 * Emits n (the accumulator holds its value afterwards).  AND: each operand
 * but the last is followed by a jump-if-false to the end; OR likewise with
 * jump-if-true.  Operands of AND run cheapest first (the result is the same;
 * the time is not).  map[] turns rule-local predicate numbers into bundle
 * indices.
 */
static void emit_node(const struct rule *r, const struct node *n, const int *map, struct prog *pg,
		      unsigned depth)
{
	switch (n->kind) {
	case N_PRED:
		emit(pg, RFB_INSN(RFB_I_PRED, (uint32_t)map[n->pred]));
		return;
	case N_NOT:
		emit_node(r, n->kid[0], map, pg, depth + 1);
		emit(pg, RFB_INSN(RFB_I_NOT, 0));
		return;
	case N_AND:
	case N_OR: {
		if (n->n == 1) {
			emit_node(r, n->kid[0], map, pg, depth + 1);
			return;
		}
		const struct node *order[n->n];
		unsigned cost[n->n];
		for (unsigned i = 0; i < n->n; i++) {
			order[i] = n->kid[i];
			cost[i] = node_cost(r, n->kid[i]);
		}
		if (n->kind == N_AND) {   /* stable insertion sort by cost */
			for (unsigned i = 1; i < n->n; i++)
				for (unsigned j = i; j > 0 && cost[j - 1] > cost[j]; j--) {
					const struct node *t = order[j];
					order[j] = order[j - 1];
					order[j - 1] = t;
					unsigned tc = cost[j];
					cost[j] = cost[j - 1];
					cost[j - 1] = tc;
				}
		}
		size_t jumps[n->n];
		uint32_t op = n->kind == N_AND ? RFB_I_JF : RFB_I_JT;
		for (unsigned i = 0; i < n->n; i++) {
			emit_node(r, order[i], map, pg, depth + 1);
			if (i + 1 < n->n)
				jumps[i] = emit(pg, RFB_INSN(op, 0));
		}
		for (unsigned i = 0; i + 1 < n->n; i++)
			if (jumps[i] < pg->n)
				pg->p[jumps[i]] = RFB_INSN(op, (uint32_t)pg->n);
		return;
	}
	}
}

/* Flattens nested AND/OR of the same kind and double negation, in place. */
static struct node *simplify(struct rule *r, struct node *n, unsigned depth)
{
	if (depth > SG_MAX_DEPTH * 4) {
		fail(r, "unsupported condition: nested too deeply");
		return n;
	}
	if (n->kind == N_PRED)
		return n;
	if (n->kind == N_NOT) {
		struct node *k = simplify(r, n->kid[0], depth + 1);
		if (k->kind == N_NOT)
			return k->kid[0];
		if (k != n->kid[0]) {
			struct node *nn = new_node(r, N_NOT);
			if (!nn || !add_kid(r, nn, k))
				return n;
			return nn;
		}
		return n;
	}
	struct node *out = new_node(r, n->kind);
	if (!out)
		return n;
	for (unsigned i = 0; i < n->n; i++) {
		struct node *k = simplify(r, n->kid[i], depth + 1);
		if (k->kind == n->kind) {
			for (unsigned j = 0; j < k->n; j++)
				if (!add_kid(r, out, k->kid[j]))
					return n;
		} else if (!add_kid(r, out, k)) {
			return n;
		}
	}
	return out->n == 1 ? out->kid[0] : out;
}

/* --------------------------------------------------------------- rules */

static void rule_free(struct rule *r)
{
	for (size_t i = 0; i < r->nnodes; i++) {
		free(r->nodes[i]->kid);
		free(r->nodes[i]);
	}
	free(r->nodes);
	for (size_t i = 0; i < r->npreds; i++) {
		free(r->preds[i].str);
		free(r->preds[i].regex);
	}
	free(r->preds);
	for (size_t i = 0; i < r->nsels; i++)
		free(r->sels[i].name);
	free(r->sels);
}

static bool printable(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return false;
	return true;
}

/* Copies s into out (cap bytes), cut at a UTF-8 character boundary. */
static void utf8_cut(const char *s, char *out, size_t cap)
{
	size_t n = strlen(s);
	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	memcpy(out, s, n);
	out[n] = 0;
}

static struct sg_result *new_result(struct sg_compiler *c, const char *file)
{
	if (!grow((void **)&c->res, &c->capres, c->nres, sizeof *c->res))
		return NULL;
	struct sg_result *res = &c->res[c->nres];
	memset(res, 0, sizeof *res);
	res->file = strdup(file);
	res->id = strdup("-");
	if (!res->file || !res->id) {
		free(res->file);
		free(res->id);
		return NULL;
	}
	c->nres++;
	return res;
}

static void set_str(char **dst, const char *s)
{
	char *d = strdup(s);
	if (d) {
		free(*dst);
		*dst = d;
	}
}

/* Compiles the loaded document; on success adds it to the bundle. */
static int compile_rule(struct rule *r, struct sg_result *res)
{
	struct sg_compiler *c = r->c;
	yaml_node_t *root = yaml_document_get_root_node(r->doc);
	if (!root || root->type != YAML_MAPPING_NODE) {
		fail(r, "malformed: the document is not a mapping");
		return 1;
	}
	const char *id = scalar(map_get(r, root, "id"));
	if (id)
		set_str(&res->id, id);
	if (!id || !*id) {
		fail(r, "malformed: no id");
		return 1;
	}
	if (strlen(id) > RFE_TEXT_MAX || !printable(id)) {
		fail(r, "malformed: id longer than %u bytes or not printable", RFE_TEXT_MAX);
		return 1;
	}
	const char *title = scalar(map_get(r, root, "title"));
	if (!title || !*title || !printable(title)) {
		fail(r, "malformed: no title, or control characters in it");
		return 1;
	}
	char title_cut[RFE_TEXT_MAX + 1];
	utf8_cut(title, title_cut, sizeof title_cut);
	set_str(&res->title, title_cut);

	const char *status = scalar(map_get(r, root, "status"));
	if (status && (!strcmp(status, "deprecated") || !strcmp(status, "unsupported"))) {
		fail(r, "not compiled: status %s", status);
		return 1;
	}
	if (map_get(r, root, "correlation") || map_get(r, root, "action") || map_get(r, root, "filter")) {
		fail(r, "unsupported construct: correlation, filter or collection document");
		return 1;
	}
	int level = RFB_LEVEL_MEDIUM;
	yaml_node_t *lv = map_get(r, root, "level");
	if (lv) {
		level = scalar(lv) ? rfb_level_from_name(scalar(lv)) : -1;
		if (level < 0) {
			fail(r, "malformed: level must be informational, low, medium, high or critical");
			return 1;
		}
	}

	/* logsource */
	yaml_node_t *ls = map_get(r, root, "logsource");
	if (!ls || ls->type != YAML_MAPPING_NODE) {
		fail(r, "malformed: no logsource");
		return 1;
	}
	const char *product = scalar(map_get(r, ls, "product"));
	const char *service = scalar(map_get(r, ls, "service"));
	const char *category = scalar(map_get(r, ls, "category"));
	if (category)
		set_str(&res->category, category);
	if (product && strcmp(product, "linux") != 0) {
		fail(r, "unsupported logsource: product %s (only linux)", product);
		return 1;
	}
	if (service) {
		fail(r, "unsupported logsource: service %s (only categories)", service);
		return 1;
	}
	const struct category *cat = NULL;
	for (size_t i = 0; category && i < sizeof categories / sizeof *categories; i++)
		if (!strcmp(categories[i].name, category))
			cat = &categories[i];
	if (!cat) {
		fail(r, "unsupported logsource: category %s", category ? category : "(none)");
		return 1;
	}
	r->cat = cat->bit;

	/* tags */
	char tags[RFE_TEXT_MAX + 1] = "";
	bool blocking = false;
	yaml_node_t *tg = map_get(r, root, "tags");
	if (tg && tg->type == YAML_SEQUENCE_NODE) {
		size_t tl = 0;
		for (yaml_node_item_t *it = tg->data.sequence.items.start; it < tg->data.sequence.items.top; it++) {
			const char *t = scalar(node_at(r, *it));
			if (!t || !*t || strchr(t, ',') || !printable(t))
				continue;
			if (!strcmp(t, "ringfence.block"))
				blocking = true;
			size_t n = strlen(t);
			if (tl + (tl ? 1 : 0) + n > RFE_TEXT_MAX)
				continue;   /* what does not fit is left out; the rest still helps triage */
			if (tl)
				tags[tl++] = ',';
			memcpy(tags + tl, t, n + 1);
			tl += n;
		}
	}
	for (size_t i = 0; i < c->opts.nblock; i++)
		if (!strcmp(c->opts.block_ids[i], id))
			blocking = true;

	/* detection */
	yaml_node_t *det = map_get(r, root, "detection");
	if (!det || det->type != YAML_MAPPING_NODE) {
		fail(r, "malformed: no detection");
		return 1;
	}
	yaml_node_t *cond = NULL;
	for (yaml_node_pair_t *p = det->data.mapping.pairs.start; p < det->data.mapping.pairs.top; p++) {
		const char *k = scalar(node_at(r, p->key));
		if (!k) {
			fail(r, "malformed: a non-scalar key in detection");
			return 1;
		}
		if (!strcmp(k, "condition")) {
			cond = node_at(r, p->value);
			continue;
		}
		if (!strcmp(k, "timeframe")) {
			fail(r, "unsupported construct: timeframe (aggregation over time)");
			return 1;
		}
		if (find_sel(r, k)) {
			fail(r, "malformed: search identifier %s defined twice", k);
			return 1;
		}
		struct node *t = selection_node(r, k, node_at(r, p->value), 0);
		if (!t)
			return 1;
		if (!grow((void **)&r->sels, &r->capsels, r->nsels, sizeof *r->sels)) {
			fail(r, "out of memory");
			return 1;
		}
		r->sels[r->nsels].name = xstrdup(r, k);
		r->sels[r->nsels].tree = t;
		if (!r->sels[r->nsels].name)
			return 1;
		r->nsels++;
	}
	if (!cond) {
		fail(r, "malformed: detection has no condition");
		return 1;
	}
	struct node *tree = NULL;
	if (is_scalar(cond)) {
		tree = parse_condition(r, scalar(cond));
	} else if (cond->type == YAML_SEQUENCE_NODE) {
		/* a list of conditions: the rule matches when any does */
		tree = new_node(r, N_OR);
		for (yaml_node_item_t *it = cond->data.sequence.items.start;
		     tree && it < cond->data.sequence.items.top; it++) {
			const char *cs = scalar(node_at(r, *it));
			if (!cs) {
				fail(r, "malformed: condition list entry is not a string");
				return 1;
			}
			if (!add_kid(r, tree, parse_condition(r, cs)))
				return 1;
		}
	} else {
		fail(r, "malformed: condition is not a string");
	}
	if (!tree || r->failed)
		return 1;
	tree = simplify(r, tree, 0);
	if (r->failed)
		return 1;

	/* Everything checked: now the bundle gets predicates, regexes and the rule. */
	int *map = malloc((r->npreds ? r->npreds : 1) * sizeof *map);
	if (!map) {
		fail(r, "out of memory");
		return -ENOMEM;
	}
	int rc = 0;
	for (size_t i = 0; i < r->npreds && rc >= 0; i++) {
		struct lpred *lp = &r->preds[i];
		if (lp->in.op == RFB_OP_RE) {
			rc = rfb_add_regex(c->b, lp->regex, lp->re_flags);
			if (rc < 0)
				break;
			lp->in.regex = (uint32_t)rc;
		}
		rc = map[i] = rfb_add_pred(c->b, &lp->in);
	}
	struct prog pg = { 0 };
	if (rc >= 0) {
		emit_node(r, tree, map, &pg, 0);
		emit(&pg, RFB_INSN(RFB_I_END, 0));
		if (pg.oom)
			rc = -ENOMEM;
		else if (pg.n > RFB_MAX_RULE_PROG)
			rc = -E2BIG;
	}
	if (rc >= 0) {
		struct rfb_rule_in in = { .id = id, .title = title_cut, .tags = tags,
					  .event_mask = cat->events, .flags = blocking ? RFB_RULE_BLOCKING : 0,
					  .level = (uint8_t)level, .prog = pg.p, .prog_len = (uint32_t)pg.n };
		rc = rfb_add_rule(c->b, &in);
	}
	free(map);
	free(pg.p);
	if (rc == -ENOMEM) {
		fail(r, "out of memory");
		return -ENOMEM;
	}
	if (rc < 0) {
		/* a bundle limit: the predicates and strings added so far stay
		 * unreferenced in the bundle, which the loader accepts */
		fail(r, "bundle limit reached (%s)", strerror(-rc));
		return 1;
	}
	res->blocking = blocking;
	return 0;
}

int sg_add_text(struct sg_compiler *c, const char *name, const char *text, size_t len)
{
	struct sg_result *res = new_result(c, name);
	if (!res)
		return -ENOMEM;
	struct rule r = { .c = c, .file = name };
	yaml_parser_t parser;
	yaml_document_t doc;
	int rc = 1;
	if (!yaml_parser_initialize(&parser)) {
		snprintf(res->reason, sizeof res->reason, "out of memory");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(res->reason, sizeof res->reason, "malformed: YAML: %s at line %zu",
			 parser.problem ? parser.problem : "error", parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return 1;
	}
	r.doc = &doc;
	if (!yaml_document_get_root_node(&doc)) {
		fail(&r, "malformed: empty document");
	} else {
		yaml_document_t doc2;
		if (!yaml_parser_load(&parser, &doc2)) {
			fail(&r, "malformed: YAML after the first document: %s",
			     parser.problem ? parser.problem : "error");
		} else {
			if (yaml_document_get_root_node(&doc2))
				fail(&r, "unsupported construct: more than one YAML document (rule collection)");
			yaml_document_delete(&doc2);
		}
	}
	if (!r.failed)
		rc = compile_rule(&r, res);
	else
		rc = 1;
	if (r.failed) {
		memcpy(res->reason, r.reason, sizeof res->reason);
		if (rc == 0)
			rc = 1;
	}
	res->ok = rc == 0;
	rule_free(&r);
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
	return rc;
}

int sg_add_file(struct sg_compiler *c, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	const char *why = NULL;
	char *buf = NULL;
	size_t n = 0;
	if (fd < 0)
		why = strerror(errno);
	else if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode))
		why = "not a regular file";
	else if (st.st_size > (off_t)SG_MAX_FILE)
		why = "larger than 1 MiB";
	else if (!(buf = malloc((size_t)st.st_size + 1)))
		why = "out of memory";
	while (!why && n < (size_t)st.st_size) {
		ssize_t k = read(fd, buf + n, (size_t)st.st_size - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0) {
			why = k < 0 ? strerror(errno) : "short read";
			break;
		}
		n += (size_t)k;
	}
	if (fd >= 0)
		close(fd);
	if (why) {
		free(buf);
		struct sg_result *res = new_result(c, path);
		if (!res)
			return -ENOMEM;
		snprintf(res->reason, sizeof res->reason, "unreadable: %s", why);
		return 1;
	}
	int rc = sg_add_text(c, path, buf, n);
	free(buf);
	return rc;
}

struct sg_compiler *sg_new(struct rfb_builder *b, const struct sg_options *opts)
{
	struct sg_compiler *c = calloc(1, sizeof *c);
	if (!c)
		return NULL;
	c->b = b;
	if (opts)
		c->opts = *opts;
	return c;
}

void sg_free(struct sg_compiler *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->nres; i++) {
		free(c->res[i].file);
		free(c->res[i].id);
		free(c->res[i].title);
		free(c->res[i].category);
	}
	free(c->res);
	free(c);
}

size_t sg_nresults(const struct sg_compiler *c)
{
	return c->nres;
}

const struct sg_result *sg_result(const struct sg_compiler *c, size_t i)
{
	return &c->res[i];
}

size_t sg_reason_class(const char *reason, char *out, size_t cap)
{
	const char *colon = strchr(reason, ':');
	size_t n = colon ? (size_t)(colon - reason) : strlen(reason);
	/* "unmappable field: X: why" groups by field */
	if (colon && (!strncmp(reason, "unmappable field", n) || !strncmp(reason, "unsupported modifier", n) ||
		      !strncmp(reason, "unsupported logsource", n))) {
		const char *c2 = strchr(colon + 1, ':');
		const char *sp = strchr(colon + 2, ' ');
		const char *end = c2 && (!sp || c2 < sp) ? c2 : sp;
		n = end ? (size_t)(end - reason) : strlen(reason);
	}
	if (n >= cap)
		n = cap - 1;
	memcpy(out, reason, n);
	out[n] = 0;
	return n;
}
