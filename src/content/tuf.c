/*
 * tuf.c - signed content metadata (tuf.h): the signing envelope, the four
 * role documents, the client's refresh workflow and the trusted state on
 * disk; at the end, the writer side that the repository tools, the tests
 * and the fuzz seeds share.
 *
 * Every document read from a repository passes, in this order: the size
 * cap (the fetcher), length and hash against its verified parent, the
 * envelope's form, the signature threshold over the exact payload bytes,
 * and only then the JSON parse of the payload, its schema, version and
 * expiry.  A refresh works on a copy of the trust and replaces the trust
 * only when everything passed.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "common/io.h"
#include "content/tuf.h"

#define SPEC_VERSION  "ringfence-tuf/1"
#define TYPE_PREFIX   "application/vnd.ringfence."
#define SIGS_MAX      (2 * RF_TUF_MAX_KEYS)   /* a new root carries the old and the new root's */
#define KEYS_MAX      (4 * RF_TUF_MAX_KEYS)   /* the keys map of a root */
#define VERSION_MAX   (INT64_MAX - 1)         /* so that version + 1 never overflows */
#define JSON_DEPTH    8
#define NO_EXPIRY     INT64_MIN

enum role { ROOT, TARGETS, SNAPSHOT, TIMESTAMP, NROLES };

static const char *const role_name[NROLES] = { "root", "targets", "snapshot", "timestamp" };
static const char *const role_file[NROLES] = { "root.json", "targets.json", "snapshot.json",
					       "timestamp.json" };

struct role_keys {
	unsigned nkeys, threshold;
	uint8_t id[RF_TUF_MAX_KEYS][32];       /* SHA-256 of pub */
	uint8_t pub[RF_TUF_MAX_KEYS][32];
};

/* What a parent lists about its child file (timestamp: snapshot.json, snapshot: targets.json). */
struct meta_ref {
	uint64_t version, length;
	uint8_t sha256[32];
};

struct doc {
	unsigned char *env;                    /* the envelope as verified; NULL: absent */
	size_t len;
	uint64_t version;
	int64_t expires;
};

struct rf_tuf_trust {
	struct doc doc[NROLES];
	struct role_keys keys[NROLES];         /* from the root */
	struct meta_ref ref[NROLES];           /* ref[SNAPSHOT] from the timestamp, ref[TARGETS] from the snapshot */
	struct rf_tuf_target *targets;
	size_t ntargets;
};

struct envelope {
	enum role role;
	unsigned char *payload;
	size_t len;
	unsigned nsigs;
	struct {
		uint8_t keyid[32];
		uint8_t sig[64];
	} sigs[SIGS_MAX];
};

/* One role document, parsed. */
struct parsed {
	uint64_t version;
	int64_t expires;
	struct role_keys keys[NROLES];         /* root */
	struct meta_ref ref;                   /* timestamp, snapshot */
	struct rf_tuf_target *targets;         /* targets */
	size_t ntargets;
};

const char *rf_tuf_err_name(enum rf_tuf_err e)
{
	static const char *const names[RF_TUF_E_COUNT] = {
		"ok", "io", "missing", "format", "signature", "rollback", "expired", "too-big", "hash", "mismatch",
	};
	return (unsigned)e < RF_TUF_E_COUNT ? names[e] : "unknown";
}

static enum rf_tuf_err fail(char *err, size_t errlen, enum rf_tuf_err e, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static enum rf_tuf_err fail(char *err, size_t errlen, enum rf_tuf_err e, const char *fmt, ...)
{
	if (err && errlen) {
		va_list ap;
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return e;
}

/* ---- names, hex, times ---- */

static bool name_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
	       c == '_' || c == '-';
}

static bool valid_word(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!name_char(s[n]) || n >= max)
			return false;
	return n > 0;
}

bool rf_tuf_valid_client(const char *s)
{
	return valid_word(s, RF_TUF_CLIENT_MAX - 1);
}

bool rf_tuf_valid_cohort(const char *s)
{
	return valid_word(s, RF_TUF_COHORT_MAX - 1);
}

bool rf_tuf_valid_target_name(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n >= RF_TUF_NAME_MAX || strstr(s, ".."))
		return false;
	/* every component non-empty, not ".", of name characters */
	for (const char *c = s;;) {
		size_t k = strcspn(c, "/");
		if (k == 0 || (k == 1 && c[0] == '.'))
			return false;
		for (size_t i = 0; i < k; i++)
			if (!name_char(c[i]))
				return false;
		if (c[k] == '\0')
			return true;
		c += k + 1;
	}
}

/* For error messages: s with anything unprintable replaced, cut at 48 bytes. */
static const char *printable(const char *s, char buf[52])
{
	size_t i = 0;
	for (; s[i] && i < 48; i++)
		buf[i] = s[i] >= 0x20 && s[i] < 0x7f && s[i] != '"' ? s[i] : '?';
	strcpy(buf + i, s[i] ? "..." : "");
	return buf;
}

static bool parse_hex32(const char *s, size_t len, uint8_t ret[32])
{
	if (len != 64)
		return false;
	for (size_t i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return sodium_hex2bin(ret, 32, s, 64, NULL, NULL, NULL) == 0;
}

void rf_tuf_keyid(const uint8_t pub[32], char ret[65])
{
	uint8_t h[32];
	crypto_hash_sha256(h, pub, 32);
	sodium_bin2hex(ret, 65, h, 32);
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	unsigned yoe = (unsigned)(y - era * 400);
	unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

int rf_tuf_parse_time(const char *s, int64_t *ret)
{
	static const char pattern[] = "dddd-dd-ddTdd:dd:ddZ";
	unsigned v[6] = { 0 };
	static const unsigned at[6] = { 0, 5, 8, 11, 14, 17 }, len[6] = { 4, 2, 2, 2, 2, 2 };

	if (strlen(s) != sizeof pattern - 1)
		return -EINVAL;
	for (size_t i = 0; i < sizeof pattern - 1; i++)
		if (pattern[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != pattern[i])
			return -EINVAL;
	for (int f = 0; f < 6; f++)
		for (unsigned i = 0; i < len[f]; i++)
			v[f] = v[f] * 10 + (unsigned)(s[at[f] + i] - '0');
	static const unsigned mdays[12] = { 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	bool leap = (v[0] % 4 == 0 && v[0] % 100 != 0) || v[0] % 400 == 0;
	if (v[1] < 1 || v[1] > 12 || v[2] < 1 || v[2] > mdays[v[1] - 1] || (v[1] == 2 && v[2] == 29 && !leap) ||
	    v[3] > 23 || v[4] > 59 || v[5] > 59)
		return -EINVAL;
	*ret = days_from_civil(v[0], v[1], v[2]) * 86400 + v[3] * 3600 + v[4] * 60 + v[5];
	return 0;
}

void rf_tuf_format_time(int64_t t, char ret[21])
{
	const int64_t lo = days_from_civil(0, 1, 1) * 86400, hi = days_from_civil(10000, 1, 1) * 86400 - 1;
	t = t < lo ? lo : t > hi ? hi : t;
	int64_t z = (t >= 0 ? t : t - 86399) / 86400, secs = t - z * 86400;
	/* days to civil (H. Hinnant), years counted from March */
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097, doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100), mp = (5 * doy + 2) / 153;
	unsigned d = (unsigned)(doy - (153 * mp + 2) / 5 + 1), m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
	int64_t y = era * 400 + yoe + (m <= 2);
	snprintf(ret, 21, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)y, m, d, (unsigned)(secs / 3600),
		 (unsigned)(secs / 60 % 60), (unsigned)(secs % 60));
}

/* ---- files ---- */

enum rf_tuf_err rf_tuf_read_file(int dirfd, const char *name, size_t max, int open_flags,
				 unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NONBLOCK | open_flags);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return fail(err, errlen, RF_TUF_E_MISSING, "%s: not found", name);
		return fail(err, errlen, RF_TUF_E_IO, "%s: %s", name,
			    errno == ELOOP ? "is a symbolic link" : strerror(errno));
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return fail(err, errlen, RF_TUF_E_IO, "%s: not a regular file", name);
	}
	/* st_size is a hint; the cap holds whatever the file does meanwhile */
	size_t cap = (uint64_t)st.st_size < max ? (size_t)st.st_size + 1 : max + 1, len = 0;
	unsigned char *buf = malloc(cap);
	enum rf_tuf_err e = RF_TUF_OK;
	while (buf) {
		if (len == cap) {
			size_t ncap = cap < (max + 1) / 2 ? cap * 2 : max + 1;
			if (ncap == cap) {
				e = fail(err, errlen, RF_TUF_E_TOO_BIG, "%s: more than %zu bytes", name, max);
				break;
			}
			unsigned char *nbuf = realloc(buf, ncap);
			if (!nbuf) {
				e = fail(err, errlen, RF_TUF_E_IO, "%s: out of memory", name);
				break;
			}
			buf = nbuf;
			cap = ncap;
		}
		ssize_t k = read(fd, buf + len, cap - len);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			e = fail(err, errlen, RF_TUF_E_IO, "%s: %s", name, strerror(errno));
			break;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	close(fd);
	if (!buf)
		return fail(err, errlen, RF_TUF_E_IO, "%s: out of memory", name);
	if (e == RF_TUF_OK && len > max)
		e = fail(err, errlen, RF_TUF_E_TOO_BIG, "%s: more than %zu bytes", name, max);
	if (e != RF_TUF_OK) {
		free(buf);
		return e;
	}
	*ret_buf = buf;
	*ret_len = len;
	return RF_TUF_OK;
}

enum rf_tuf_err rf_tuf_write_file(int dirfd, const char *name, const void *buf, size_t len,
				  unsigned mode, bool exclusive, char *err, size_t errlen)
{
	const char *slash = strrchr(name, '/');
	size_t dlen = slash ? (size_t)(slash - name) + 1 : 0;
	char tmp[PATH_MAX], dir[PATH_MAX];
	if (sodium_init() < 0)
		return fail(err, errlen, RF_TUF_E_IO, "libsodium does not initialise");
	if (snprintf(tmp, sizeof tmp, "%.*s.%s.%08" PRIx32 ".tmp", (int)dlen, name, name + dlen,
		     randombytes_random()) >= (int)sizeof tmp)
		return fail(err, errlen, RF_TUF_E_IO, "%s: name too long", name);
	snprintf(dir, sizeof dir, "%.*s", dlen ? (int)dlen : 1, dlen ? name : ".");

	int fd = openat(dirfd, tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0)
		return fail(err, errlen, RF_TUF_E_IO, "%s: %s", tmp, strerror(errno));
	int r = fchmod(fd, mode);
	if (r == 0 && (r = rf_write_all(fd, buf, len)) < 0) {
		errno = -r;
		r = -1;
	}
	if (r == 0)
		r = fsync(fd);
	if (close(fd) < 0 && r == 0)
		r = -1;
	if (r == 0 && exclusive) {
		r = linkat(dirfd, tmp, dirfd, name, 0);
		if (r == 0)
			unlinkat(dirfd, tmp, 0);
	} else if (r == 0) {
		r = renameat(dirfd, tmp, dirfd, name);
	}
	if (r < 0) {
		int saved = errno;
		unlinkat(dirfd, tmp, 0);
		return fail(err, errlen, RF_TUF_E_IO, "%s: %s", name, strerror(saved));
	}
	int dfd = openat(dirfd, dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || (fsync(dfd) < 0 && errno != EINVAL)) {
		int saved = errno;
		if (dfd >= 0)
			close(dfd);
		return fail(err, errlen, RF_TUF_E_IO, "%s: fsync of its directory: %s", name, strerror(saved));
	}
	close(dfd);
	return RF_TUF_OK;
}

/* ---- JSON with strict schemas ---- */

/* Where a schema check is: the file (for messages) and the error buffer. */
struct jc {
	const char *file;
	char *err;
	size_t errlen;
};

/* Reports "FILE: PATH.KEY: message" and returns false. */
static bool jfail(struct jc *jc, const char *path, const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static bool jfail(struct jc *jc, const char *path, const char *key, const char *fmt, ...)
{
	char msg[160];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	fail(jc->err, jc->errlen, RF_TUF_E_FORMAT, "%s: %s%s%s%s%s", jc->file, path,
	     path[0] && key[0] ? "." : "", key, path[0] || key[0] ? ": " : "", msg);
	return false;
}

static enum rf_tuf_err parse_json(struct jc *jc, const char *what, const void *buf, size_t len,
				  struct json_object **ret)
{
	if (len > INT_MAX || memchr(buf, '\0', len)) {
		jfail(jc, what, "", "not a JSON text");
		return RF_TUF_E_FORMAT;
	}
	struct json_tokener *tok = json_tokener_new_ex(JSON_DEPTH);
	if (!tok)
		return fail(jc->err, jc->errlen, RF_TUF_E_IO, "%s: out of memory", jc->file);
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error je = json_tokener_get_error(tok);
	size_t end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	if (!o || je != json_tokener_success) {
		json_object_put(o);
		jfail(jc, what, "", "not valid JSON (%s)",
		      je == json_tokener_success || je == json_tokener_continue ? "incomplete"
										: json_tokener_error_desc(je));
		return RF_TUF_E_FORMAT;
	}
	for (const char *p = (const char *)buf + end; p < (const char *)buf + len; p++)
		if (*p != ' ' && *p != '\n' && *p != '\r' && *p != '\t') {
			json_object_put(o);
			jfail(jc, what, "", "data after the JSON value");
			return RF_TUF_E_FORMAT;
		}
	if (!json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		jfail(jc, what, "", "not a JSON object");
		return RF_TUF_E_FORMAT;
	}
	*ret = o;
	return RF_TUF_OK;
}

static struct json_object *field(struct json_object *o, const char *key)
{
	struct json_object *v = NULL;
	json_object_object_get_ex(o, key, &v);
	return v;
}

/* o (at path.key) is an object with exactly the fields in names (NULL terminated). */
static bool fields(struct jc *jc, struct json_object *o, const char *path, const char *key,
		   const char *const *names)
{
	char b[52];
	if (!json_object_is_type(o, json_type_object))
		return jfail(jc, path, key, "not an object");
	json_object_object_foreach(o, k, v) {
		(void)v;
		size_t i = 0;
		while (names[i] && strcmp(names[i], k) != 0)
			i++;
		if (!names[i])
			return jfail(jc, path, key, "unknown field \"%s\"", printable(k, b));
	}
	for (size_t i = 0; names[i]; i++)
		if (!field(o, names[i]))
			return jfail(jc, path, key, "missing field \"%s\"", names[i]);
	return true;
}

static bool get_u64(struct jc *jc, struct json_object *v, const char *path, const char *key, uint64_t min,
		    uint64_t max, uint64_t *ret)
{
	if (!json_object_is_type(v, json_type_int))
		return jfail(jc, path, key, "not an integer");
	/* json-c clamps what does not fit an int64; VERSION_MAX keeps the clamp out of range */
	int64_t n = json_object_get_int64(v);
	if (n < 0 || (uint64_t)n < min || (uint64_t)n > max)
		return jfail(jc, path, key, "%" PRId64 " out of range %" PRIu64 "..%" PRIu64, n, min, max);
	*ret = (uint64_t)n;
	return true;
}

/* A string without NUL bytes, 1..max bytes long. */
static bool get_str(struct jc *jc, struct json_object *v, const char *path, const char *key, size_t max,
		    const char **ret)
{
	if (!json_object_is_type(v, json_type_string))
		return jfail(jc, path, key, "not a string");
	const char *s = json_object_get_string(v);
	size_t n = (size_t)json_object_get_string_len(v);
	if (n == 0 || n > max || strlen(s) != n)
		return jfail(jc, path, key, "empty, longer than %zu bytes or holding a NUL", max);
	*ret = s;
	return true;
}

static bool get_hex32(struct jc *jc, struct json_object *v, const char *path, const char *key, uint8_t ret[32])
{
	const char *s;
	if (!get_str(jc, v, path, key, 64, &s) || !parse_hex32(s, strlen(s), ret))
		return jfail(jc, path, key, "not 64 lowercase hex digits");
	return true;
}

/* The fields every role document starts with. */
static bool parse_common(struct jc *jc, struct json_object *d, enum role r, struct parsed *p)
{
	const char *s;
	if (!get_str(jc, field(d, "_type"), "", "_type", 16, &s))
		return false;
	if (strcmp(s, role_name[r]) != 0)
		return jfail(jc, "", "_type", "\"%s\", expected \"%s\"", s, role_name[r]);
	if (!get_str(jc, field(d, "spec_version"), "", "spec_version", 32, &s))
		return false;
	if (strcmp(s, SPEC_VERSION) != 0)
		return jfail(jc, "", "spec_version", "unsupported (this client reads " SPEC_VERSION ")");
	if (!get_u64(jc, field(d, "version"), "", "version", 1, VERSION_MAX, &p->version) ||
	    !get_str(jc, field(d, "expires"), "", "expires", 20, &s))
		return false;
	if (rf_tuf_parse_time(s, &p->expires) < 0)
		return jfail(jc, "", "expires", "not an RFC 3339 UTC time like 2026-11-21T12:00:00Z");
	return true;
}

static bool parse_root(struct jc *jc, struct json_object *d, struct parsed *p)
{
	static const char *const key_fields[] = { "keytype", "public", NULL };
	static const char *const role_fields[] = { "keyids", "threshold", NULL };
	static const char *const roles[] = { "root", "targets", "snapshot", "timestamp", NULL };
	struct json_object *keys = field(d, "keys"), *rs = field(d, "roles");
	char path[80], b[52];

	if (!json_object_is_type(keys, json_type_object))
		return jfail(jc, "", "keys", "not an object");
	if (json_object_object_length(keys) > KEYS_MAX)
		return jfail(jc, "", "keys", "more than %d keys", KEYS_MAX);
	json_object_object_foreach(keys, id, k) {
		uint8_t pub[32], h[32], want[32];
		const char *type;
		snprintf(path, sizeof path, "keys.%s", printable(id, b));
		if (!parse_hex32(id, strlen(id), want))
			return jfail(jc, path, "", "key id is not 64 lowercase hex digits");
		if (!fields(jc, k, path, "", key_fields) || !get_str(jc, field(k, "keytype"), path, "keytype", 16, &type))
			return false;
		if (strcmp(type, "ed25519") != 0)
			return jfail(jc, path, "keytype", "\"%s\" (only ed25519)", type);
		if (!get_hex32(jc, field(k, "public"), path, "public", pub))
			return false;
		crypto_hash_sha256(h, pub, 32);
		if (memcmp(h, want, 32) != 0)
			return jfail(jc, path, "", "key id is not the SHA-256 of the public key");
	}
	if (!fields(jc, rs, "", "roles", roles))
		return false;
	for (int r = 0; r < NROLES; r++) {
		struct json_object *ro = field(rs, role_name[r]), *ids = field(ro, "keyids");
		struct role_keys *rk = &p->keys[r];
		uint64_t th;
		snprintf(path, sizeof path, "roles.%s", role_name[r]);
		if (!fields(jc, ro, path, "", role_fields))
			return false;
		if (!json_object_is_type(ids, json_type_array) || json_object_array_length(ids) < 1 ||
		    json_object_array_length(ids) > RF_TUF_MAX_KEYS)
			return jfail(jc, path, "keyids", "not an array of 1..%d key ids", RF_TUF_MAX_KEYS);
		rk->nkeys = (unsigned)json_object_array_length(ids);
		for (unsigned i = 0; i < rk->nkeys; i++) {
			struct json_object *kid = json_object_array_get_idx(ids, i), *key;
			const char *s;
			if (!get_str(jc, kid, path, "keyids", 64, &s) || !parse_hex32(s, strlen(s), rk->id[i]))
				return jfail(jc, path, "keyids", "entry %u is not a key id", i);
			if (!json_object_object_get_ex(keys, s, &key))
				return jfail(jc, path, "keyids", "key %s is not in keys", s);
			for (unsigned j = 0; j < i; j++)
				if (memcmp(rk->id[j], rk->id[i], 32) == 0)
					return jfail(jc, path, "keyids", "key %s is listed twice", s);
			/* checked above: 64 lowercase hex digits */
			sodium_hex2bin(rk->pub[i], 32, json_object_get_string(field(key, "public")), 64, NULL, NULL,
				       NULL);
		}
		if (!get_u64(jc, field(ro, "threshold"), path, "threshold", 1, rk->nkeys, &th))
			return false;
		rk->threshold = (unsigned)th;
	}
	return true;
}

/* meta: exactly {child: {version, length, hashes: {sha256}}}. */
static bool parse_meta(struct jc *jc, struct json_object *meta, const char *child, struct meta_ref *ref)
{
	const char *const names[] = { child, NULL };
	static const char *const entry[] = { "version", "length", "hashes", NULL };
	static const char *const hashes[] = { "sha256", NULL };
	char path[40];
	snprintf(path, sizeof path, "meta.%s", child);
	struct json_object *m = field(meta, child);
	return fields(jc, meta, "", "meta", names) && fields(jc, m, path, "", entry) &&
	       get_u64(jc, field(m, "version"), path, "version", 1, VERSION_MAX, &ref->version) &&
	       get_u64(jc, field(m, "length"), path, "length", 1, RF_TUF_META_MAX, &ref->length) &&
	       fields(jc, field(m, "hashes"), path, "hashes", hashes) &&
	       get_hex32(jc, field(field(m, "hashes"), "sha256"), path, "hashes.sha256", ref->sha256);
}

static int target_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rf_tuf_target *)a)->name, ((const struct rf_tuf_target *)b)->name);
}

static bool parse_target(struct jc *jc, const char *name, struct json_object *v, struct rf_tuf_target *tg)
{
	static const char *const entry[] = { "length", "hashes", "custom", NULL };
	static const char *const hashes[] = { "sha256", NULL };
	static const char *const custom[] = { "client", "version", "content_version", "abi", "cohorts", NULL };
	char path[RF_TUF_NAME_MAX + 24], b[52];
	const char *s;
	uint64_t abi[2];

	snprintf(path, sizeof path, "targets.%s", printable(name, b));
	if (!rf_tuf_valid_target_name(name))
		return jfail(jc, path, "", "not a valid target name ([A-Za-z0-9._-] and /, no ..)");
	snprintf(path, sizeof path, "targets.%s", name);
	snprintf(tg->name, sizeof tg->name, "%s", name);
	if (!fields(jc, v, path, "", entry) ||
	    !get_u64(jc, field(v, "length"), path, "length", 1, RF_TUF_TARGET_MAX, &tg->length) ||
	    !fields(jc, field(v, "hashes"), path, "hashes", hashes) ||
	    !get_hex32(jc, field(field(v, "hashes"), "sha256"), path, "hashes.sha256", tg->sha256))
		return false;

	struct json_object *c = field(v, "custom"), *a, *co;
	strcat(path, ".custom");
	if (!fields(jc, c, path, "", custom) || !get_str(jc, field(c, "client"), path, "client", 64, &s))
		return false;
	if (!rf_tuf_valid_client(s))
		return jfail(jc, path, "client", "not a client name ([A-Za-z0-9_.-], 1..%d)", RF_TUF_CLIENT_MAX - 1);
	strcpy(tg->client, s);
	if (!get_u64(jc, field(c, "version"), path, "version", 1, VERSION_MAX, &tg->version) ||
	    !get_str(jc, field(c, "content_version"), path, "content_version", RF_TUF_CVER_MAX - 1, &s))
		return false;
	for (const char *q = s; *q; q++)
		if (*q < 0x21 || *q > 0x7e)
			return jfail(jc, path, "content_version", "not printable ASCII (0x21..0x7e)");
	strcpy(tg->content_version, s);
	a = field(c, "abi");
	if (!json_object_is_type(a, json_type_array) || json_object_array_length(a) != 2)
		return jfail(jc, path, "abi", "not [min, max]");
	for (size_t i = 0; i < 2; i++)
		if (!get_u64(jc, json_object_array_get_idx(a, i), path, "abi", 1, UINT32_MAX, &abi[i]))
			return false;
	if (abi[0] > abi[1])
		return jfail(jc, path, "abi", "min above max");
	tg->abi_min = (uint32_t)abi[0];
	tg->abi_max = (uint32_t)abi[1];
	co = field(c, "cohorts");
	if (!json_object_is_type(co, json_type_array) || json_object_array_length(co) > RF_TUF_MAX_COHORTS)
		return jfail(jc, path, "cohorts", "not an array of at most %d names", RF_TUF_MAX_COHORTS);
	tg->ncohorts = (unsigned)json_object_array_length(co);
	for (unsigned i = 0; i < tg->ncohorts; i++) {
		if (!get_str(jc, json_object_array_get_idx(co, i), path, "cohorts", 64, &s))
			return false;
		if (!rf_tuf_valid_cohort(s))
			return jfail(jc, path, "cohorts", "\"%s\" is not a cohort name ([A-Za-z0-9_.-], 1..%d)",
				     printable(s, b), RF_TUF_COHORT_MAX - 1);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(tg->cohorts[j], s) == 0)
				return jfail(jc, path, "cohorts", "\"%s\" is listed twice", s);
		strcpy(tg->cohorts[i], s);
	}
	return true;
}

static bool parse_targets(struct jc *jc, struct json_object *ts, struct parsed *p)
{
	if (!json_object_is_type(ts, json_type_object))
		return jfail(jc, "", "targets", "not an object");
	size_t n = (size_t)json_object_object_length(ts);
	if (n > RF_TUF_MAX_TARGETS)
		return jfail(jc, "", "targets", "more than %d targets", RF_TUF_MAX_TARGETS);
	p->targets = calloc(n ? n : 1, sizeof *p->targets);
	if (!p->targets)
		return jfail(jc, "", "targets", "out of memory");
	json_object_object_foreach(ts, name, v) {
		if (!parse_target(jc, name, v, &p->targets[p->ntargets]))
			return false;
		p->ntargets++;
	}
	qsort(p->targets, p->ntargets, sizeof *p->targets, target_cmp);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < i; j++)
			if (strcmp(p->targets[i].client, p->targets[j].client) == 0 &&
			    p->targets[i].version == p->targets[j].version)
				return jfail(jc, "", "targets", "%s and %s are both version %" PRIu64 " of %s",
					     p->targets[j].name, p->targets[i].name, p->targets[i].version,
					     p->targets[i].client);
	return true;
}

static enum rf_tuf_err parse_doc(const struct envelope *env, const char *file, struct parsed *p,
				 char *err, size_t errlen)
{
	static const char *const names[NROLES][7] = {
		[ROOT] = { "_type", "spec_version", "version", "expires", "keys", "roles", NULL },
		[TARGETS] = { "_type", "spec_version", "version", "expires", "targets", NULL },
		[SNAPSHOT] = { "_type", "spec_version", "version", "expires", "meta", NULL },
		[TIMESTAMP] = { "_type", "spec_version", "version", "expires", "meta", NULL },
	};
	struct jc jc = { file, err, errlen };
	struct json_object *d;
	enum role r = env->role;

	memset(p, 0, sizeof *p);
	enum rf_tuf_err e = parse_json(&jc, "payload", env->payload, env->len, &d);
	if (e != RF_TUF_OK)
		return e;
	bool ok = fields(&jc, d, "", "", names[r]) && parse_common(&jc, d, r, p);
	if (ok && r == ROOT)
		ok = parse_root(&jc, d, p);
	else if (ok && r == TARGETS)
		ok = parse_targets(&jc, field(d, "targets"), p);
	else if (ok)
		ok = parse_meta(&jc, field(d, "meta"), r == SNAPSHOT ? "targets.json" : "snapshot.json", &p->ref);
	json_object_put(d);
	if (!ok) {
		free(p->targets);
		p->targets = NULL;
		return RF_TUF_E_FORMAT;
	}
	return RF_TUF_OK;
}

/* ---- the envelope ---- */

static void envelope_free(struct envelope *env)
{
	free(env->payload);
	env->payload = NULL;
}

static bool b64_decode(const char *s, unsigned char *out, size_t max, size_t *ret_len)
{
	const char *end;
	size_t n = strlen(s);
	if (sodium_base642bin(out, max, s, n, NULL, ret_len, &end, sodium_base64_VARIANT_ORIGINAL) != 0)
		return false;
	return end == s + n;
}

/*
 * Parses the envelope in buf into ret (payload decoded, signatures in
 * binary); want is the role it must be, or NROLES for any.
 */
static enum rf_tuf_err envelope_open(const void *buf, size_t len, const char *file, enum role want,
				     struct envelope *ret, char *err, size_t errlen)
{
	static const char *const names[] = { "payloadType", "payload", "signatures", NULL };
	static const char *const sig_fields[] = { "keyid", "sig", NULL };
	struct jc jc = { file, err, errlen };
	struct json_object *o, *sigs;
	const char *type, *payload;
	char b[52];

	memset(ret, 0, sizeof *ret);
	enum rf_tuf_err e = parse_json(&jc, "envelope", buf, len, &o);
	if (e != RF_TUF_OK)
		return e;
	e = RF_TUF_E_FORMAT;
	if (!fields(&jc, o, "", "", names) || !get_str(&jc, field(o, "payloadType"), "", "payloadType", 64, &type))
		goto out;
	for (ret->role = 0; ret->role < NROLES; ret->role++) {
		size_t n = strlen(role_name[ret->role]);
		if (strncmp(type, TYPE_PREFIX, strlen(TYPE_PREFIX)) == 0 &&
		    strncmp(type + strlen(TYPE_PREFIX), role_name[ret->role], n) == 0 &&
		    strcmp(type + strlen(TYPE_PREFIX) + n, "+json") == 0)
			break;
	}
	if (ret->role == NROLES || (want != NROLES && ret->role != want)) {
		jfail(&jc, "", "payloadType", "\"%s\", expected " TYPE_PREFIX "%s+json", printable(type, b),
		      want == NROLES ? "<role>" : role_name[want]);
		goto out;
	}
	if (!get_str(&jc, field(o, "payload"), "", "payload", 2 * RF_TUF_META_MAX, &payload))
		goto out;
	size_t max = strlen(payload) / 4 * 3 + 3;
	ret->payload = malloc(max);
	if (!ret->payload) {
		e = fail(err, errlen, RF_TUF_E_IO, "%s: out of memory", file);
		goto out;
	}
	if (!b64_decode(payload, ret->payload, max, &ret->len)) {
		jfail(&jc, "", "payload", "not base64");
		goto out;
	}
	sigs = field(o, "signatures");
	if (!json_object_is_type(sigs, json_type_array) || json_object_array_length(sigs) > SIGS_MAX) {
		jfail(&jc, "", "signatures", "not an array of at most %d signatures", SIGS_MAX);
		goto out;
	}
	ret->nsigs = (unsigned)json_object_array_length(sigs);
	for (unsigned i = 0; i < ret->nsigs; i++) {
		struct json_object *s = json_object_array_get_idx(sigs, i);
		const char *sig;
		size_t n;
		char path[24];
		snprintf(path, sizeof path, "signatures[%u]", i);
		if (!fields(&jc, s, path, "", sig_fields) ||
		    !get_hex32(&jc, field(s, "keyid"), path, "keyid", ret->sigs[i].keyid) ||
		    !get_str(&jc, field(s, "sig"), path, "sig", 100, &sig))
			goto out;
		if (!b64_decode(sig, ret->sigs[i].sig, 64, &n) || n != 64) {
			jfail(&jc, path, "sig", "not the base64 of 64 bytes");
			goto out;
		}
	}
	e = RF_TUF_OK;
out:
	json_object_put(o);
	if (e != RF_TUF_OK)
		envelope_free(ret);
	return e;
}

/* The DSSE pre-authentication encoding of the envelope's payload. */
static unsigned char *pae(enum role r, const unsigned char *payload, size_t len, size_t *ret_len)
{
	char head[128];
	int n = snprintf(head, sizeof head, "DSSEv1 %zu " TYPE_PREFIX "%s+json %zu ",
			 strlen(TYPE_PREFIX) + strlen(role_name[r]) + 5, role_name[r], len);
	unsigned char *m = malloc((size_t)n + len + 1);
	if (!m)
		return NULL;
	memcpy(m, head, (size_t)n);
	memcpy(m + n, payload, len);
	*ret_len = (size_t)n + len;
	return m;
}

/* Whether the envelope carries valid signatures of at least rk's threshold of its keys. */
static enum rf_tuf_err check_threshold(const struct envelope *env, const struct role_keys *rk,
				       const char *file, const char *whose, char *err, size_t errlen)
{
	bool counted[RF_TUF_MAX_KEYS] = { false };
	unsigned good = 0;
	size_t mlen;
	unsigned char *m = pae(env->role, env->payload, env->len, &mlen);
	if (!m)
		return fail(err, errlen, RF_TUF_E_IO, "%s: out of memory", file);
	for (unsigned s = 0; s < env->nsigs && good < rk->threshold; s++)
		for (unsigned k = 0; k < rk->nkeys; k++) {
			if (memcmp(env->sigs[s].keyid, rk->id[k], 32) != 0)
				continue;
			/* a key signs once, however often its key id appears */
			if (!counted[k] && crypto_sign_verify_detached(env->sigs[s].sig, m, mlen, rk->pub[k]) == 0) {
				counted[k] = true;
				good++;
			}
			break;
		}
	free(m);
	if (good < rk->threshold)
		return fail(err, errlen, RF_TUF_E_SIGNATURE,
			    "%s: %u valid signature(s), %s needs %u of its %u key(s)", file, good, whose,
			    rk->threshold, rk->nkeys);
	return RF_TUF_OK;
}

/* ---- the client workflow ---- */

static enum rf_tuf_err set_doc(struct doc *d, const void *buf, size_t len, const struct parsed *p)
{
	unsigned char *copy = malloc(len ? len : 1);
	if (!copy)
		return RF_TUF_E_IO;
	memcpy(copy, buf, len);
	free(d->env);
	*d = (struct doc){ .env = copy, .len = len, .version = p->version, .expires = p->expires };
	return RF_TUF_OK;
}

/*
 * Verifies buf as the root to trust in t: a trust anchor (t has no root
 * yet: signed by its own threshold) or version want, signed by the
 * thresholds of t's root and of itself.
 */
static enum rf_tuf_err accept_root(struct rf_tuf_trust *t, const void *buf, size_t len, const char *file,
				   uint64_t want, char *err, size_t errlen)
{
	struct envelope env;
	struct parsed p;
	enum rf_tuf_err e = envelope_open(buf, len, file, ROOT, &env, err, errlen);
	if (e != RF_TUF_OK)
		return e;
	if (t->doc[ROOT].env)
		e = check_threshold(&env, &t->keys[ROOT], file, "the trusted root", err, errlen);
	if (e == RF_TUF_OK)
		e = parse_doc(&env, file, &p, err, errlen);
	if (e == RF_TUF_OK)
		e = check_threshold(&env, &p.keys[ROOT], file, "its own root role", err, errlen);
	if (e == RF_TUF_OK && t->doc[ROOT].env && p.version != want)
		e = fail(err, errlen, RF_TUF_E_MISMATCH, "%s: version %" PRIu64 ", expected %" PRIu64, file,
			 p.version, want);
	if (e == RF_TUF_OK && set_doc(&t->doc[ROOT], buf, len, &p) != RF_TUF_OK)
		e = fail(err, errlen, RF_TUF_E_IO, "%s: out of memory", file);
	if (e == RF_TUF_OK)
		memcpy(t->keys, p.keys, sizeof t->keys);
	envelope_free(&env);
	return e;
}

/*
 * Verifies buf as role r (timestamp, snapshot or targets) and stores it in
 * t.  floor (NULL when loading the trust) holds the versions it must not go
 * below, and asks for the checks against the parent's listing and expiry.
 */
static enum rf_tuf_err accept_role(struct rf_tuf_trust *t, enum role r, const unsigned char *buf, size_t len,
				   const char *file, const uint64_t *floor, int64_t now, char *err, size_t errlen)
{
	const struct meta_ref *ref = r == TIMESTAMP ? NULL : &t->ref[r];
	const char *parent = r == SNAPSHOT ? "timestamp.json" : "snapshot.json";
	struct envelope env;
	struct parsed p = { 0 };
	uint8_t h[32];

	if (floor && ref) {
		if (len != ref->length)
			return fail(err, errlen, RF_TUF_E_HASH, "%s: %zu bytes, %s lists %" PRIu64, file, len,
				    parent, ref->length);
		crypto_hash_sha256(h, buf, len);
		if (sodium_memcmp(h, ref->sha256, 32) != 0)
			return fail(err, errlen, RF_TUF_E_HASH, "%s: SHA-256 is not the one %s lists", file, parent);
	}
	enum rf_tuf_err e = envelope_open(buf, len, file, r, &env, err, errlen);
	if (e != RF_TUF_OK)
		return e;
	e = check_threshold(&env, &t->keys[r], file, role_name[r], err, errlen);
	if (e == RF_TUF_OK)
		e = parse_doc(&env, file, &p, err, errlen);
	envelope_free(&env);
	if (e != RF_TUF_OK)
		return e;

	if (floor && ref && p.version != ref->version)
		e = fail(err, errlen, RF_TUF_E_MISMATCH, "%s: version %" PRIu64 ", %s lists %" PRIu64, file,
			 p.version, parent, ref->version);
	else if (floor && p.version < floor[r])
		e = fail(err, errlen, RF_TUF_E_ROLLBACK, "%s: version %" PRIu64 " is below the trusted %" PRIu64,
			 file, p.version, floor[r]);
	else if (p.expires <= now)
		e = fail(err, errlen, RF_TUF_E_EXPIRED, "%s: version %" PRIu64 " expired", file, p.version);
	else if (floor && r != TARGETS && p.ref.version < floor[r == TIMESTAMP ? SNAPSHOT : TARGETS])
		e = fail(err, errlen, RF_TUF_E_ROLLBACK, "%s: lists %s version %" PRIu64 ", below the trusted %" PRIu64,
			 file, r == TIMESTAMP ? "snapshot.json" : "targets.json", p.ref.version,
			 floor[r == TIMESTAMP ? SNAPSHOT : TARGETS]);
	else if (set_doc(&t->doc[r], buf, len, &p) != RF_TUF_OK)
		e = fail(err, errlen, RF_TUF_E_IO, "%s: out of memory", file);
	if (e != RF_TUF_OK) {
		free(p.targets);
		return e;
	}
	if (r == TIMESTAMP)
		t->ref[SNAPSHOT] = p.ref;
	else if (r == SNAPSHOT)
		t->ref[TARGETS] = p.ref;
	else {
		free(t->targets);
		t->targets = p.targets;
		t->ntargets = p.ntargets;
	}
	return RF_TUF_OK;
}

/* fetch, holding the cap even when the fetcher does not. */
static enum rf_tuf_err fetch_capped(rf_tuf_fetch_fn fetch, void *ctx, const char *name, size_t max,
				    unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen)
{
	enum rf_tuf_err e = fetch(ctx, name, max, ret_buf, ret_len, err, errlen);
	if (e == RF_TUF_OK && *ret_len > max) {
		free(*ret_buf);
		*ret_buf = NULL;
		return fail(err, errlen, RF_TUF_E_TOO_BIG, "%s: more than %zu bytes", name, max);
	}
	return e;
}

static void trust_clear(struct rf_tuf_trust *t)
{
	for (int r = 0; r < NROLES; r++)
		free(t->doc[r].env);
	free(t->targets);
	memset(t, 0, sizeof *t);
}

void rf_tuf_trust_free(struct rf_tuf_trust *t)
{
	if (!t)
		return;
	trust_clear(t);
	free(t);
}

static bool same_keys(const struct role_keys *a, const struct role_keys *b)
{
	if (a->nkeys != b->nkeys || a->threshold != b->threshold)
		return false;
	for (unsigned i = 0; i < a->nkeys; i++) {
		unsigned j = 0;
		while (j < b->nkeys && memcmp(a->id[i], b->id[j], 32) != 0)
			j++;
		if (j == b->nkeys)
			return false;
	}
	return true;
}

enum rf_tuf_err rf_tuf_refresh(struct rf_tuf_trust *t, rf_tuf_fetch_fn fetch, void *ctx, int64_t now,
			       char *err, size_t errlen)
{
	struct rf_tuf_trust n = { 0 };
	uint64_t floor[NROLES];
	unsigned char *buf = NULL;
	size_t len;
	char name[40];
	enum rf_tuf_err e;

	if (sodium_init() < 0)
		return fail(err, errlen, RF_TUF_E_IO, "libsodium does not initialise");
	/* work on a copy of the root; t changes only at the end */
	if (set_doc(&n.doc[ROOT], t->doc[ROOT].env, t->doc[ROOT].len,
		    &(struct parsed){ .version = t->doc[ROOT].version, .expires = t->doc[ROOT].expires }) != RF_TUF_OK)
		return fail(err, errlen, RF_TUF_E_IO, "out of memory");
	memcpy(n.keys, t->keys, sizeof n.keys);
	for (int r = 0; r < NROLES; r++)
		floor[r] = t->doc[r].version;

	for (unsigned i = 0; i < RF_TUF_ROOT_CHAIN_MAX; i++) {
		uint64_t v = n.doc[ROOT].version + 1;
		snprintf(name, sizeof name, "%" PRIu64 ".root.json", v);
		e = fetch_capped(fetch, ctx, name, RF_TUF_META_MAX, &buf, &len, err, errlen);
		if (e == RF_TUF_E_MISSING)
			break;
		if (e == RF_TUF_OK)
			e = accept_root(&n, buf, len, name, v, err, errlen);
		free(buf);
		buf = NULL;
		if (e != RF_TUF_OK)
			goto out;
	}
	if (n.doc[ROOT].expires <= now) {
		e = fail(err, errlen, RF_TUF_E_EXPIRED, "root version %" PRIu64 " expired", n.doc[ROOT].version);
		goto out;
	}
	for (int r = TARGETS; r < NROLES; r++)
		if (!same_keys(&t->keys[r], &n.keys[r]))
			floor[r] = 0;

	static const enum role order[] = { TIMESTAMP, SNAPSHOT, TARGETS };
	for (size_t i = 0; i < 3; i++) {
		enum role r = order[i];
		size_t max = r == TIMESTAMP ? RF_TUF_META_MAX : (size_t)n.ref[r].length;
		e = fetch_capped(fetch, ctx, role_file[r], max, &buf, &len, err, errlen);
		if (e == RF_TUF_OK)
			e = accept_role(&n, r, buf, len, role_file[r], floor, now, err, errlen);
		free(buf);
		buf = NULL;
		if (e != RF_TUF_OK)
			goto out;
	}
	trust_clear(t);
	*t = n;
	return RF_TUF_OK;
out:
	trust_clear(&n);
	return e;
}

enum rf_tuf_err rf_tuf_trust_load(const char *dir, const char *initial_root, struct rf_tuf_trust **ret,
				  char *err, size_t errlen)
{
	struct rf_tuf_trust *t;
	unsigned char *buf = NULL;
	size_t len;
	char file[PATH_MAX];
	int dfd = -1;
	enum rf_tuf_err e;

	if (sodium_init() < 0)
		return fail(err, errlen, RF_TUF_E_IO, "libsodium does not initialise");
	if (dir) {
		dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd < 0 && errno != ENOENT)
			return fail(err, errlen, RF_TUF_E_IO, "%s: %s", dir, strerror(errno));
	}
	t = calloc(1, sizeof *t);
	if (!t) {
		if (dfd >= 0)
			close(dfd);
		return fail(err, errlen, RF_TUF_E_IO, "out of memory");
	}
	snprintf(file, sizeof file, "%s/root.json", dir ? dir : ".");
	e = dfd >= 0 ? rf_tuf_read_file(dfd, "root.json", RF_TUF_META_MAX, O_NOFOLLOW, &buf, &len, err, errlen)
		     : RF_TUF_E_MISSING;
	if (e == RF_TUF_E_MISSING && initial_root) {
		snprintf(file, sizeof file, "%s", initial_root);
		e = rf_tuf_read_file(AT_FDCWD, initial_root, RF_TUF_META_MAX, 0, &buf, &len, err, errlen);
	} else if (e == RF_TUF_E_MISSING) {
		e = fail(err, errlen, RF_TUF_E_MISSING, "%s: not found, and no initial root given", file);
	}
	if (e == RF_TUF_OK)
		e = accept_root(t, buf, len, file, 0, err, errlen);
	free(buf);
	buf = NULL;

	static const enum role order[] = { TIMESTAMP, SNAPSHOT, TARGETS };
	for (size_t i = 0; i < 3 && e == RF_TUF_OK && dfd >= 0; i++) {
		enum role r = order[i];
		snprintf(file, sizeof file, "%s/%s", dir, role_file[r]);
		e = rf_tuf_read_file(dfd, role_file[r], RF_TUF_META_MAX, O_NOFOLLOW, &buf, &len, err, errlen);
		if (e == RF_TUF_OK)
			e = accept_role(t, r, buf, len, file, NULL, NO_EXPIRY, err, errlen);
		free(buf);
		buf = NULL;
		if (e == RF_TUF_E_MISSING || e == RF_TUF_E_SIGNATURE)
			e = RF_TUF_OK;
	}
	if (dfd >= 0)
		close(dfd);
	if (e != RF_TUF_OK) {
		rf_tuf_trust_free(t);
		return e;
	}
	*ret = t;
	return RF_TUF_OK;
}

enum rf_tuf_err rf_tuf_trust_save(const struct rf_tuf_trust *t, const char *dir, char *err, size_t errlen)
{
	if (mkdir(dir, 0700) < 0 && errno != EEXIST)
		return fail(err, errlen, RF_TUF_E_IO, "%s: %s", dir, strerror(errno));
	int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (dfd < 0)
		return fail(err, errlen, RF_TUF_E_IO, "%s: %s", dir, strerror(errno));
	/* children first: any prefix of this order leaves files that load */
	static const enum role order[] = { TARGETS, SNAPSHOT, TIMESTAMP, ROOT };
	enum rf_tuf_err e = RF_TUF_OK;
	for (size_t i = 0; i < NROLES && e == RF_TUF_OK; i++) {
		const struct doc *d = &t->doc[order[i]];
		if (d->env)
			e = rf_tuf_write_file(dfd, role_file[order[i]], d->env, d->len, 0600, false, err, errlen);
		else if (unlinkat(dfd, role_file[order[i]], 0) < 0 && errno != ENOENT)
			e = fail(err, errlen, RF_TUF_E_IO, "%s/%s: %s", dir, role_file[order[i]], strerror(errno));
	}
	if (e == RF_TUF_OK && fsync(dfd) < 0 && errno != EINVAL)
		e = fail(err, errlen, RF_TUF_E_IO, "%s: fsync: %s", dir, strerror(errno));
	close(dfd);
	return e;
}

size_t rf_tuf_ntargets(const struct rf_tuf_trust *t)
{
	return t->ntargets;
}

const struct rf_tuf_target *rf_tuf_target_at(const struct rf_tuf_trust *t, size_t i)
{
	return i < t->ntargets ? &t->targets[i] : NULL;
}

static int role_of(const char *role)
{
	for (int r = 0; r < NROLES; r++)
		if (strcmp(role, role_name[r]) == 0)
			return r;
	return -1;
}

uint64_t rf_tuf_version(const struct rf_tuf_trust *t, const char *role)
{
	int r = role_of(role);
	return r < 0 ? 0 : t->doc[r].version;
}

int64_t rf_tuf_expires(const struct rf_tuf_trust *t, const char *role)
{
	int r = role_of(role);
	return r < 0 ? 0 : t->doc[r].expires;
}

enum rf_tuf_err rf_tuf_fetch_target(const struct rf_tuf_target *tg, rf_tuf_fetch_fn fetch, void *ctx,
				    unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen)
{
	char name[RF_TUF_NAME_MAX + 8];
	unsigned char *buf;
	size_t len;
	uint8_t h[32];

	snprintf(name, sizeof name, "targets/%s", tg->name);
	enum rf_tuf_err e = fetch_capped(fetch, ctx, name, (size_t)tg->length, &buf, &len, err, errlen);
	if (e != RF_TUF_OK)
		return e;
	if (len != tg->length)
		e = fail(err, errlen, RF_TUF_E_HASH, "%s: %zu bytes, targets.json lists %" PRIu64, name, len,
			 tg->length);
	else if (crypto_hash_sha256(h, buf, len), sodium_memcmp(h, tg->sha256, 32) != 0)
		e = fail(err, errlen, RF_TUF_E_HASH, "%s: SHA-256 is not the one targets.json lists", name);
	if (e != RF_TUF_OK) {
		free(buf);
		return e;
	}
	*ret_buf = buf;
	*ret_len = len;
	return RF_TUF_OK;
}

/* ---- writer side ---- */

#define JSON_OUT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

void rf_tuf_key_from_seed(const uint8_t seed[32], struct rf_tuf_key *ret)
{
	crypto_sign_seed_keypair(ret->pub, ret->sec, seed);
}

static void add(struct json_object *o, const char *key, struct json_object *v)
{
	json_object_object_add(o, key, v);
}

static struct json_object *hex_string(const uint8_t b[32])
{
	char hex[65];
	sodium_bin2hex(hex, sizeof hex, b, 32);
	return json_object_new_string(hex);
}

/* A new document with the common fields. */
static struct json_object *new_doc(enum role r, uint64_t version, int64_t expires)
{
	char when[21];
	struct json_object *d = json_object_new_object();
	rf_tuf_format_time(expires, when);
	add(d, "_type", json_object_new_string(role_name[r]));
	add(d, "spec_version", json_object_new_string(SPEC_VERSION));
	add(d, "version", json_object_new_int64((int64_t)version));
	add(d, "expires", json_object_new_string(when));
	return d;
}

static char *finish_doc(struct json_object *d)
{
	const char *s = json_object_to_json_string_ext(d, JSON_OUT);
	char *text = s ? strdup(s) : NULL;
	json_object_put(d);
	return text;
}

char *rf_tuf_root_json(uint64_t version, int64_t expires, const struct rf_tuf_role_spec roles[4])
{
	struct json_object *d = new_doc(ROOT, version, expires);
	struct json_object *keys = json_object_new_object(), *rs = json_object_new_object();
	add(d, "keys", keys);
	add(d, "roles", rs);
	for (int r = 0; r < NROLES; r++) {
		struct json_object *ro = json_object_new_object(), *ids = json_object_new_array();
		for (unsigned i = 0; i < roles[r].nkeys; i++) {
			char id[65];
			rf_tuf_keyid(roles[r].pub[i], id);
			if (!field(keys, id)) {
				struct json_object *k = json_object_new_object();
				add(k, "keytype", json_object_new_string("ed25519"));
				add(k, "public", hex_string(roles[r].pub[i]));
				add(keys, id, k);
			}
			json_object_array_add(ids, json_object_new_string(id));
		}
		add(ro, "keyids", ids);
		add(ro, "threshold", json_object_new_int64(roles[r].threshold));
		add(rs, role_name[r], ro);
	}
	return finish_doc(d);
}

char *rf_tuf_targets_json(uint64_t version, int64_t expires, const struct rf_tuf_target *tg, size_t n)
{
	struct json_object *d = new_doc(TARGETS, version, expires), *ts = json_object_new_object();
	add(d, "targets", ts);
	for (size_t i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object(), *h = json_object_new_object();
		struct json_object *c = json_object_new_object(), *abi = json_object_new_array();
		struct json_object *co = json_object_new_array();
		add(e, "length", json_object_new_int64((int64_t)tg[i].length));
		add(h, "sha256", hex_string(tg[i].sha256));
		add(e, "hashes", h);
		add(c, "client", json_object_new_string(tg[i].client));
		add(c, "version", json_object_new_int64((int64_t)tg[i].version));
		add(c, "content_version", json_object_new_string(tg[i].content_version));
		json_object_array_add(abi, json_object_new_int64(tg[i].abi_min));
		json_object_array_add(abi, json_object_new_int64(tg[i].abi_max));
		add(c, "abi", abi);
		for (unsigned k = 0; k < tg[i].ncohorts && k < RF_TUF_MAX_COHORTS; k++)
			json_object_array_add(co, json_object_new_string(tg[i].cohorts[k]));
		add(c, "cohorts", co);
		add(e, "custom", c);
		add(ts, tg[i].name, e);
	}
	return finish_doc(d);
}

char *rf_tuf_meta_json(const char *role, uint64_t version, int64_t expires, uint64_t child_version,
		       const void *child, size_t child_len)
{
	int r = role_of(role);
	if (r != SNAPSHOT && r != TIMESTAMP)
		return NULL;
	uint8_t h[32];
	crypto_hash_sha256(h, child, child_len);
	struct json_object *d = new_doc(r, version, expires), *meta = json_object_new_object();
	struct json_object *m = json_object_new_object(), *hs = json_object_new_object();
	add(m, "version", json_object_new_int64((int64_t)child_version));
	add(m, "length", json_object_new_int64((int64_t)child_len));
	add(hs, "sha256", hex_string(h));
	add(m, "hashes", hs);
	add(meta, r == SNAPSHOT ? "targets.json" : "snapshot.json", m);
	add(d, "meta", meta);
	return finish_doc(d);
}

/* Writes env (its role, payload and signatures) as envelope text. */
static enum rf_tuf_err envelope_write(const struct envelope *env, unsigned char **ret, size_t *ret_len,
				      char *err, size_t errlen)
{
	char type[64];
	size_t b64len = sodium_base64_encoded_len(env->len, sodium_base64_VARIANT_ORIGINAL);
	char *b64 = malloc(b64len);
	if (!b64)
		return fail(err, errlen, RF_TUF_E_IO, "out of memory");
	sodium_bin2base64(b64, b64len, env->payload, env->len, sodium_base64_VARIANT_ORIGINAL);
	snprintf(type, sizeof type, TYPE_PREFIX "%s+json", role_name[env->role]);

	struct json_object *o = json_object_new_object(), *sigs = json_object_new_array();
	add(o, "payloadType", json_object_new_string(type));
	add(o, "payload", json_object_new_string(b64));
	free(b64);
	for (unsigned i = 0; i < env->nsigs; i++) {
		char sig[sodium_base64_ENCODED_LEN(64, sodium_base64_VARIANT_ORIGINAL)];
		struct json_object *s = json_object_new_object();
		sodium_bin2base64(sig, sizeof sig, env->sigs[i].sig, 64, sodium_base64_VARIANT_ORIGINAL);
		add(s, "keyid", hex_string(env->sigs[i].keyid));
		add(s, "sig", json_object_new_string(sig));
		json_object_array_add(sigs, s);
	}
	add(o, "signatures", sigs);
	char *text = finish_doc(o);
	size_t n = text ? strlen(text) : 0;
	char *out = text ? realloc(text, n + 2) : NULL;
	if (!out) {
		free(text);
		return fail(err, errlen, RF_TUF_E_IO, "out of memory");
	}
	memcpy(out + n, "\n", 2);
	*ret = (unsigned char *)out;
	*ret_len = n + 1;
	return RF_TUF_OK;
}

/* Adds key's signature to env, replacing one under the same key id. */
static enum rf_tuf_err envelope_sign(struct envelope *env, const struct rf_tuf_key *key, char *err, size_t errlen)
{
	uint8_t id[32];
	size_t mlen;
	crypto_hash_sha256(id, key->pub, 32);
	unsigned i = 0;
	while (i < env->nsigs && memcmp(env->sigs[i].keyid, id, 32) != 0)
		i++;
	if (i == SIGS_MAX)
		return fail(err, errlen, RF_TUF_E_FORMAT, "more than %d signatures", SIGS_MAX);
	unsigned char *m = pae(env->role, env->payload, env->len, &mlen);
	if (!m)
		return fail(err, errlen, RF_TUF_E_IO, "out of memory");
	memcpy(env->sigs[i].keyid, id, 32);
	crypto_sign_detached(env->sigs[i].sig, NULL, m, mlen, key->sec);
	free(m);
	if (i == env->nsigs)
		env->nsigs++;
	return RF_TUF_OK;
}

enum rf_tuf_err rf_tuf_sign_envelope(const char *role, const void *payload, size_t len,
				     const struct rf_tuf_key *keys, size_t nkeys, unsigned char **ret_env,
				     size_t *ret_len, char *err, size_t errlen)
{
	struct envelope env = { .payload = (unsigned char *)payload, .len = len };
	int r = role_of(role);
	if (r < 0)
		return fail(err, errlen, RF_TUF_E_FORMAT, "unknown role \"%s\"", role);
	if (sodium_init() < 0)
		return fail(err, errlen, RF_TUF_E_IO, "libsodium does not initialise");
	env.role = (enum role)r;
	for (size_t i = 0; i < nkeys; i++) {
		enum rf_tuf_err e = envelope_sign(&env, &keys[i], err, errlen);
		if (e != RF_TUF_OK)
			return e;
	}
	return envelope_write(&env, ret_env, ret_len, err, errlen);
}

enum rf_tuf_err rf_tuf_add_signature(const void *buf, size_t len, const struct rf_tuf_key *key,
				     unsigned char **ret_env, size_t *ret_len, char *err, size_t errlen)
{
	struct envelope env;
	if (sodium_init() < 0)
		return fail(err, errlen, RF_TUF_E_IO, "libsodium does not initialise");
	enum rf_tuf_err e = envelope_open(buf, len, "envelope", NROLES, &env, err, errlen);
	if (e == RF_TUF_OK)
		e = envelope_sign(&env, key, err, errlen);
	if (e == RF_TUF_OK)
		e = envelope_write(&env, ret_env, ret_len, err, errlen);
	envelope_free(&env);
	return e;
}

enum rf_tuf_err rf_tuf_peek(const void *buf, size_t len, const char *role, uint64_t *ret_version,
			    int64_t *ret_expires, struct rf_tuf_target **ret_targets, size_t *ret_ntargets,
			    char *err, size_t errlen)
{
	struct envelope env;
	struct parsed p;
	int r = role_of(role);
	if (r < 0)
		return fail(err, errlen, RF_TUF_E_FORMAT, "unknown role \"%s\"", role);
	if (sodium_init() < 0)
		return fail(err, errlen, RF_TUF_E_IO, "libsodium does not initialise");
	enum rf_tuf_err e = envelope_open(buf, len, role_file[r], (enum role)r, &env, err, errlen);
	if (e != RF_TUF_OK)
		return e;
	e = parse_doc(&env, role_file[r], &p, err, errlen);
	envelope_free(&env);
	if (e != RF_TUF_OK)
		return e;
	*ret_version = p.version;
	*ret_expires = p.expires;
	if (ret_targets) {
		*ret_targets = p.targets;
		*ret_ntargets = p.ntargets;
	} else {
		free(p.targets);
	}
	return RF_TUF_OK;
}
