/*
 * cmd_content.c - `rfctl content`: the tools of a signed content repository
 * (src/content/tuf.h, docs/CONTENT-DELIVERY.md): Ed25519 keys, the root and
 * its rotation, publishing bundles, re-signing the timestamp, and verifying
 * a repository exactly as an endpoint does.
 *
 * A repository is a directory, served as it is:
 *   1.root.json 2.root.json ...   every root version, for the rotation walk
 *   root.json                     the newest root (publish copies it)
 *   timestamp.json snapshot.json targets.json
 *   targets/<client>/<file>       the bundles
 * Every file is written with tmp + fsync + rename.  publish and timestamp
 * first verify what they are about to write with the client's own code
 * (rf_tuf_refresh from 1.root.json, expiry aside), so a wrong key or a
 * missing signature is caught here and not on every endpoint.  The
 * endpoint's side of `rfctl content` (status, check, pin ...) is
 * cmd_content_ops.c; cmd_content() hands it the other subcommands.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>
#include <sodium.h>

#include "content/bundle.h"
#include "content/engine.h"
#include "content/tuf.h"
#include "ctl/ctl.h"
#include "ctl/opsreq.h"

#define DAY 86400
#define ROOT_EXPIRES      (365 * DAY)
#define TARGETS_EXPIRES   (30 * DAY)
#define TIMESTAMP_EXPIRES (1 * DAY)
#define KEY_FILE_MAX      4096
#define ROOTS_MAX         100000          /* N.root.json files looked for */

enum { ROOT, TARGETS, SNAPSHOT, TIMESTAMP, NROLES };   /* tuf.h's order of roles */
static const char *const role_name[NROLES] = { "root", "targets", "snapshot", "timestamp" };

static void cerr(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void cerr(const char *fmt, ...)
{
	va_list ap;
	fputs("rfctl content: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* Reports a usage error; returns RFCTL_USAGE. */
static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;
	fputs("rfctl content: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'rfctl content --help'.\n", stderr);
	return RFCTL_USAGE;
}

/* ---- options: one table, each subcommand says which it takes ---- */

enum opt {
	O_DIR = 1, O_ROOT_KEY, O_TARGETS_KEY, O_SNAPSHOT_KEY, O_TIMESTAMP_KEY, O_ROOT_TH, O_TARGETS_TH,
	O_SNAPSHOT_TH, O_TIMESTAMP_TH, O_EXPIRES, O_TS_EXPIRES, O_VERSION, O_SIGN, O_KEY, O_CLIENT, O_CVER,
	O_ABI, O_COHORT, O_NAME, O_ROOT, O_NOW, O_HELP,
};
#define OPT(o) (1u << (o))
#define ROLE_OPTS                                                                                      \
	(OPT(O_ROOT_KEY) | OPT(O_TARGETS_KEY) | OPT(O_SNAPSHOT_KEY) | OPT(O_TIMESTAMP_KEY) | OPT(O_ROOT_TH) | \
	 OPT(O_TARGETS_TH) | OPT(O_SNAPSHOT_TH) | OPT(O_TIMESTAMP_TH) | OPT(O_EXPIRES))

static const struct option long_opts[] = {
	{ "dir", required_argument, NULL, O_DIR },
	{ "root-key", required_argument, NULL, O_ROOT_KEY },
	{ "targets-key", required_argument, NULL, O_TARGETS_KEY },
	{ "snapshot-key", required_argument, NULL, O_SNAPSHOT_KEY },
	{ "timestamp-key", required_argument, NULL, O_TIMESTAMP_KEY },
	{ "root-threshold", required_argument, NULL, O_ROOT_TH },
	{ "targets-threshold", required_argument, NULL, O_TARGETS_TH },
	{ "snapshot-threshold", required_argument, NULL, O_SNAPSHOT_TH },
	{ "timestamp-threshold", required_argument, NULL, O_TIMESTAMP_TH },
	{ "expires", required_argument, NULL, O_EXPIRES },
	{ "timestamp-expires", required_argument, NULL, O_TS_EXPIRES },
	{ "version", required_argument, NULL, O_VERSION },
	{ "sign", required_argument, NULL, O_SIGN },
	{ "key", required_argument, NULL, O_KEY },
	{ "client", required_argument, NULL, O_CLIENT },
	{ "content-version", required_argument, NULL, O_CVER },
	{ "abi", required_argument, NULL, O_ABI },
	{ "cohort", required_argument, NULL, O_COHORT },
	{ "name", required_argument, NULL, O_NAME },
	{ "root", required_argument, NULL, O_ROOT },
	{ "now", required_argument, NULL, O_NOW },
	{ "help", no_argument, NULL, O_HELP },
	{ NULL, 0, NULL, 0 },
};

struct opts {
	const char *arg[O_HELP];                       /* the single-valued options */
	const char *keys[NROLES][RF_TUF_MAX_KEYS];     /* --ROLE-key, repeatable */
	unsigned nkeys[NROLES];
	const char *sign[2 * RF_TUF_MAX_KEYS];         /* --sign, repeatable */
	unsigned nsign;
	const char *cohort[RF_TUF_MAX_COHORTS];        /* --cohort, repeatable */
	unsigned ncohort;
	const char *pos[2];
};

static const char *opt_name(int o)
{
	for (const struct option *p = long_opts; p->name; p++)
		if (p->val == o)
			return p->name;
	return "?";
}

/* Parses argv (argv[0]: the subcommand); returns 0, 1 after --help, or RFCTL_USAGE. */
static int parse_opts(int argc, char **argv, uint32_t allowed, unsigned npos, struct opts *o)
{
	const char *sub = argv[0];
	int c;
	memset(o, 0, sizeof *o);
	optind = 0;
	while ((c = getopt_long(argc, argv, ":h", long_opts, NULL)) != -1) {
		if (c == 'h' || c == O_HELP) {
			rfctl_usage(stdout, "content");
			return 1;
		}
		if (c == ':')
			return usage_error("option '%s' needs an argument", argv[optind - 1]);
		if (c == '?' || !(allowed & OPT(c)))
			return usage_error("%s: unknown option '%s'", sub,
						 c == '?' ? rfctl_bad_option(argv) : argv[optind - 1]);
		if (c >= O_ROOT_KEY && c <= O_TIMESTAMP_KEY) {
			int r = c - O_ROOT_KEY;
			if (o->nkeys[r] == RF_TUF_MAX_KEYS)
				return usage_error("at most %d --%s", RF_TUF_MAX_KEYS, opt_name(c));
			o->keys[r][o->nkeys[r]++] = optarg;
		} else if (c == O_SIGN) {
			if (o->nsign == 2 * RF_TUF_MAX_KEYS)
				return usage_error("at most %d --sign", 2 * RF_TUF_MAX_KEYS);
			o->sign[o->nsign++] = optarg;
		} else if (c == O_COHORT) {
			if (o->ncohort == RF_TUF_MAX_COHORTS)
				return usage_error("at most %d --cohort", RF_TUF_MAX_COHORTS);
			o->cohort[o->ncohort++] = optarg;
		} else {
			o->arg[c] = optarg;
		}
	}
	if ((unsigned)(argc - optind) != npos)
		return usage_error("%s takes %u argument%s", sub, npos,
					 npos == 1 ? "" : "s");
	for (unsigned i = 0; i < npos; i++)
		o->pos[i] = argv[optind + i];
	return 0;
}

/* "30s", "15m", "12h", "7d", negative ("-1h") for metadata already expired. */
static int parse_dur(const char *s, int64_t def, int64_t *ret)
{
	if (!s) {
		*ret = def;
		return 0;
	}
	char *end;
	errno = 0;
	long long n = strtoll(s, &end, 10);
	static const char units[] = "smhd";
	static const int64_t mult[] = { 1, 60, 3600, DAY };
	const char *u = end[0] ? strchr(units, end[0]) : NULL;
	/* at most a century either way */
	if (errno || end == s || !u || end[1] || llabs(n) > 36500LL * DAY || llabs(n) * mult[u - units] > 36500LL * DAY)
		return -EINVAL;
	*ret = n * mult[u - units];
	return 0;
}

static int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	char *end;
	errno = 0;
	if (!s || s[0] < '0' || s[0] > '9')
		return -EINVAL;
	unsigned long long n = strtoull(s, &end, 10);
	if (errno || *end || n < min || n > max)
		return -EINVAL;
	*ret = n;
	return 0;
}

/* ---- key files ---- */

struct key {
	struct rf_tuf_key k;
	bool secret;
	char id[65];
};

static bool hex32(struct json_object *v, uint8_t ret[32])
{
	const char *s = json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return sodium_hex2bin(ret, 32, s, 64, NULL, NULL, NULL) == 0;
}

/* Reads a .key or .pub file; need_secret refuses a .pub.  0, or -1 after reporting. */
static int load_key(const char *path, bool need_secret, struct key *ret)
{
	unsigned char *buf;
	size_t len;
	char err[256];
	if (rf_tuf_read_file(AT_FDCWD, path, KEY_FILE_MAX, 0, &buf, &len, err, sizeof err) != RF_TUF_OK) {
		cerr("key %s", err);
		return -1;
	}
	struct json_object *o = NULL, *v;
	struct json_tokener *tok = json_tokener_new();
	if (tok)
		o = json_tokener_parse_ex(tok, (const char *)buf, (int)len);
	json_tokener_free(tok);
	free(buf);

	const char *why = NULL;
	uint8_t id[32], pub[32], seed[32], want[32];
	memset(ret, 0, sizeof *ret);
	if (!json_object_is_type(o, json_type_object)) {
		why = "not a JSON object";
	} else {
		json_object_object_foreach(o, k, val) {
			(void)val;
			if (strcmp(k, "keytype") && strcmp(k, "keyid") && strcmp(k, "public") && strcmp(k, "private"))
				why = "unknown field (keytype, keyid, public, private)";
		}
	}
	if (why)
		;
	else if (!json_object_object_get_ex(o, "keytype", &v) || !json_object_is_type(v, json_type_string) ||
		 strcmp(json_object_get_string(v), "ed25519") != 0)
		why = "keytype is not \"ed25519\"";
	else if (!json_object_object_get_ex(o, "public", &v) || !hex32(v, pub))
		why = "public is not 64 lowercase hex digits";
	else if (!json_object_object_get_ex(o, "keyid", &v) || !hex32(v, id))
		why = "keyid is not 64 lowercase hex digits";
	else if (crypto_hash_sha256(want, pub, 32), memcmp(want, id, 32) != 0)
		why = "keyid is not the SHA-256 of the public key";
	else if (json_object_object_get_ex(o, "private", &v)) {
		if (!hex32(v, seed))
			why = "private is not 64 lowercase hex digits";
		else if (rf_tuf_key_from_seed(seed, &ret->k), memcmp(ret->k.pub, pub, 32) != 0)
			why = "private does not belong to public";
		ret->secret = true;
		sodium_memzero(seed, sizeof seed);
	} else if (need_secret) {
		why = "holds no private key (a .key file is needed to sign)";
	}
	json_object_put(o);
	if (why) {
		sodium_memzero(ret, sizeof *ret);
		cerr("key %s: %s", path, why);
		return -1;
	}
	memcpy(ret->k.pub, pub, 32);
	rf_tuf_keyid(pub, ret->id);
	return 0;
}

/* Loads paths[0..n) as signing keys into keys (distinct ones only). */
static int load_signers(const char *const *paths, unsigned n, struct rf_tuf_key *keys, unsigned *ret_n)
{
	unsigned k = 0;
	for (unsigned i = 0; i < n; i++) {
		struct key key;
		if (load_key(paths[i], true, &key) < 0)
			return -1;
		unsigned j = 0;
		while (j < k && memcmp(keys[j].pub, key.k.pub, 32) != 0)
			j++;
		if (j == k)
			keys[k++] = key.k;
		sodium_memzero(&key, sizeof key);
	}
	*ret_n = k;
	return 0;
}

/* ---- repository files ---- */

static int open_dir(const char *path)
{
	int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		cerr("%s: %s", path, strerror(errno));
	return fd;
}

/* Reads REPO/name; a missing file is 0 with *ret_buf NULL when optional. */
static int read_repo(int dfd, const char *repo, const char *name, bool optional, unsigned char **ret_buf,
		     size_t *ret_len)
{
	char err[256];
	enum rf_tuf_err e = rf_tuf_read_file(dfd, name, RF_TUF_META_MAX, O_NOFOLLOW, ret_buf, ret_len, err,
					     sizeof err);
	if (e == RF_TUF_E_MISSING && optional) {
		*ret_buf = NULL;
		return 0;
	}
	if (e != RF_TUF_OK) {
		cerr("%s/%s", repo, err);
		return -1;
	}
	return 0;
}

static int write_repo(int dfd, const char *repo, const char *name, const void *buf, size_t len, bool excl)
{
	char err[256];
	if (rf_tuf_write_file(dfd, name, buf, len, 0644, excl, err, sizeof err) != RF_TUF_OK) {
		cerr("%s/%s", repo, err);
		return -1;
	}
	return 0;
}

/* The version of the role document REPO/file, 0 when absent; -1 after reporting. */
static int peek_version(int dfd, const char *repo, const char *role, const char *file, uint64_t *ret,
			struct rf_tuf_target **ret_targets, size_t *ret_n)
{
	unsigned char *buf;
	size_t len;
	int64_t expires;
	char err[256];
	*ret = 0;
	if (read_repo(dfd, repo, file, true, &buf, &len) < 0)
		return -1;
	if (!buf)
		return 0;
	enum rf_tuf_err e = rf_tuf_peek(buf, len, role, ret, &expires, ret_targets, ret_n, err, sizeof err);
	free(buf);
	if (e != RF_TUF_OK) {
		cerr("%s/%s", repo, err);
		return -1;
	}
	return 0;
}

/* The newest N.root.json: its version and bytes. */
static int latest_root(int dfd, const char *repo, uint64_t *ret_v, unsigned char **ret_buf, size_t *ret_len)
{
	unsigned char *buf = NULL, *next;
	size_t len = 0, nlen;
	uint64_t v = 0;
	char name[32];
	for (;;) {
		snprintf(name, sizeof name, "%" PRIu64 ".root.json", v + 1);
		if (v == ROOTS_MAX || read_repo(dfd, repo, name, true, &next, &nlen) < 0 || !next)
			break;
		free(buf);
		buf = next;
		len = nlen;
		v++;
	}
	if (!buf) {
		cerr("%s: no 1.root.json (make one with rfctl content init)", repo);
		return -1;
	}
	*ret_v = v;
	*ret_buf = buf;
	*ret_len = len;
	return 0;
}

/*
 * What the tools check before they write: the repository as a client sees
 * it, with some files replaced by the new ones in memory.
 */
struct overlay {
	struct rf_tuf_source *repo;
	unsigned n;
	const char *name[4];
	const unsigned char *buf[4];
	size_t len[4];
	bool root_only, reached_timestamp;   /* root_only: stop after the root walk */
	uint64_t asked_root;                 /* the last N of N.root.json asked for */
};

static enum rf_tuf_err overlay_fetch(void *ctx, const char *name, size_t max, unsigned char **ret_buf,
				     size_t *ret_len, char *err, size_t errlen)
{
	struct overlay *o = ctx;
	uint64_t v;
	char rest[16];
	if (sscanf(name, "%" SCNu64 "%15s", &v, rest) == 2 && strcmp(rest, ".root.json") == 0)
		o->asked_root = v;
	for (unsigned i = 0; i < o->n; i++) {
		if (strcmp(name, o->name[i]) != 0)
			continue;
		if (o->len[i] > max) {
			snprintf(err, errlen, "%s: more than %zu bytes", name, max);
			return RF_TUF_E_TOO_BIG;
		}
		*ret_buf = malloc(o->len[i] ? o->len[i] : 1);
		if (!*ret_buf) {
			snprintf(err, errlen, "out of memory");
			return RF_TUF_E_IO;
		}
		memcpy(*ret_buf, o->buf[i], o->len[i]);
		*ret_len = o->len[i];
		return RF_TUF_OK;
	}
	if (o->root_only && strcmp(name, "timestamp.json") == 0) {
		o->reached_timestamp = true;
		snprintf(err, errlen, "root walk only");
		return RF_TUF_E_MISSING;
	}
	return rf_tuf_source_fetch(o->repo, name, max, ret_buf, ret_len, err, errlen);
}

static void overlay_add(struct overlay *o, const char *name, const unsigned char *buf, size_t len)
{
	o->name[o->n] = name;
	o->buf[o->n] = buf;
	o->len[o->n++] = len;
}

/* Refreshes a trust anchored at REPO/1.root.json through o, expiry aside. */
static enum rf_tuf_err check_repo(const char *repo, struct overlay *o, struct rf_tuf_trust **ret,
				  char *err, size_t errlen)
{
	char root[4096];
	snprintf(root, sizeof root, "%s/1.root.json", repo);
	o->repo = rf_tuf_source_open(repo, err, errlen);
	if (!o->repo)
		return RF_TUF_E_IO;
	struct rf_tuf_trust *t = NULL;
	enum rf_tuf_err e = rf_tuf_trust_load(NULL, root, &t, err, errlen);
	if (e == RF_TUF_OK)
		e = rf_tuf_refresh(t, overlay_fetch, o, INT64_MIN, err, errlen);
	rf_tuf_source_close(o->repo);
	o->repo = NULL;
	if (e == RF_TUF_OK && ret)
		*ret = t;
	else
		rf_tuf_trust_free(t);
	return e;
}

static void warn_expired(const char *file, int64_t expires)
{
	char when[21];
	if (expires > time(NULL))
		return;
	rf_tuf_format_time(expires, when);
	cerr("warning: %s: expiry %s is already past, endpoints will refuse it", file, when);
}

/* ---- keygen ---- */

static int sub_keygen(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, OPT(O_DIR), 1, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	const char *name = o.pos[0], *dir = o.arg[O_DIR] ? o.arg[O_DIR] : ".";
	if (!rf_tuf_valid_client(name))
		return usage_error("key name '%s': [A-Za-z0-9_.-], 1..%d characters", name,
					 RF_TUF_CLIENT_MAX - 1);
	int dfd = open_dir(dir);
	if (dfd < 0)
		return RFCTL_FAIL;

	char kname[48], pname[48], id[65], pub[65], seed[65], err[256];
	snprintf(kname, sizeof kname, "%s.key", name);
	snprintf(pname, sizeof pname, "%s.pub", name);
	if (faccessat(dfd, kname, F_OK, AT_SYMLINK_NOFOLLOW) == 0 ||
	    faccessat(dfd, pname, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		cerr("%s/%s or %s/%s exists: not overwritten", dir, kname, dir, pname);
		close(dfd);
		return RFCTL_FAIL;
	}
	struct rf_tuf_key k;
	crypto_sign_keypair(k.pub, k.sec);
	rf_tuf_keyid(k.pub, id);
	sodium_bin2hex(pub, sizeof pub, k.pub, 32);
	sodium_bin2hex(seed, sizeof seed, k.sec, 32);   /* libsodium's secret key starts with the seed */
	char *ktext = NULL, *ptext = NULL;
	int rc = RFCTL_FAIL;
	if (asprintf(&ktext, "{\"keytype\":\"ed25519\",\"keyid\":\"%s\",\"public\":\"%s\",\"private\":\"%s\"}\n",
		     id, pub, seed) < 0 ||
	    asprintf(&ptext, "{\"keytype\":\"ed25519\",\"keyid\":\"%s\",\"public\":\"%s\"}\n", id, pub) < 0) {
		cerr("out of memory");
	} else if (rf_tuf_write_file(dfd, kname, ktext, strlen(ktext), 0600, true, err, sizeof err) != RF_TUF_OK ||
		   rf_tuf_write_file(dfd, pname, ptext, strlen(ptext), 0644, true, err, sizeof err) != RF_TUF_OK) {
		cerr("%s/%s", dir, err);
	} else {
		printf("%s  %s/%s %s/%s\n", id, dir, kname, dir, pname);
		rc = RFCTL_OK;
	}
	if (ktext)
		sodium_memzero(ktext, strlen(ktext));
	sodium_memzero(seed, sizeof seed);
	sodium_memzero(&k, sizeof k);
	free(ktext);
	free(ptext);
	close(dfd);
	return rc;
}

/* ---- init and root ---- */

/*
 * The root document of version v from the role options, signed by signers.
 * need_secret: root keys must be .key files (init signs with them).
 */
static int make_root(const struct opts *o, uint64_t v, const struct rf_tuf_key *signers, unsigned nsigners,
		     bool root_keys_sign, unsigned char **ret, size_t *ret_len)
{
	static const int th_opt[NROLES] = { O_ROOT_TH, O_TARGETS_TH, O_SNAPSHOT_TH, O_TIMESTAMP_TH };
	uint8_t pub[NROLES][RF_TUF_MAX_KEYS][32];
	struct rf_tuf_key signing[RF_TUF_MAX_KEYS];
	struct rf_tuf_role_spec spec[NROLES];
	int64_t dur;
	char err[256];

	if (parse_dur(o->arg[O_EXPIRES], ROOT_EXPIRES, &dur) < 0)
		return usage_error("--expires '%s': a duration like 30s, 15m, 12h, 365d or -1h",
					 o->arg[O_EXPIRES]);
	for (int r = 0; r < NROLES; r++) {
		uint64_t th = 1;
		if (o->nkeys[r] == 0)
			return usage_error("--%s-key is needed (at least one)", role_name[r]);
		if (o->arg[th_opt[r]] && parse_u64(o->arg[th_opt[r]], 1, o->nkeys[r], &th) < 0)
			return usage_error("--%s-threshold '%s': 1..%u (the number of --%s-key)",
						 role_name[r], o->arg[th_opt[r]], o->nkeys[r], role_name[r]);
		for (unsigned i = 0; i < o->nkeys[r]; i++) {
			struct key k;
			if (load_key(o->keys[r][i], r == ROOT && root_keys_sign, &k) < 0)
				return RFCTL_FAIL;
			for (unsigned j = 0; j < i; j++)
				if (memcmp(pub[r][j], k.k.pub, 32) == 0) {
					cerr("key %s is given twice for %s", o->keys[r][i], role_name[r]);
					return RFCTL_FAIL;
				}
			memcpy(pub[r][i], k.k.pub, 32);
			if (r == ROOT && root_keys_sign)
				signing[i] = k.k;
			sodium_memzero(&k, sizeof k);
		}
		spec[r] = (struct rf_tuf_role_spec){ .pub = pub[r], .nkeys = o->nkeys[r], .threshold = (unsigned)th };
	}
	if (root_keys_sign) {
		signers = signing;
		nsigners = o->nkeys[ROOT];
	}
	int64_t expires = (int64_t)time(NULL) + dur;
	char *doc = rf_tuf_root_json(v, expires, spec);
	enum rf_tuf_err e = RF_TUF_E_IO;
	snprintf(err, sizeof err, "out of memory");
	if (doc)
		e = rf_tuf_sign_envelope("root", doc, strlen(doc), signers, nsigners, ret, ret_len, err, sizeof err);
	sodium_memzero(signing, sizeof signing);
	free(doc);
	if (e != RF_TUF_OK) {
		cerr("root: %s", err);
		return RFCTL_FAIL;
	}
	warn_expired("the root", expires);
	return RFCTL_OK;
}

static int sub_init(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, ROLE_OPTS, 1, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	const char *repo = o.pos[0];
	unsigned char *env;
	size_t len;
	if ((r = make_root(&o, 1, NULL, 0, true, &env, &len)) != RFCTL_OK)
		return r;
	if (mkdir(repo, 0755) < 0 && errno != EEXIST) {
		cerr("%s: %s", repo, strerror(errno));
		free(env);
		return RFCTL_FAIL;
	}
	int dfd = open_dir(repo);
	int rc = RFCTL_FAIL;
	if (dfd >= 0 && mkdirat(dfd, "targets", 0755) < 0 && errno != EEXIST)
		cerr("%s/targets: %s", repo, strerror(errno));
	else if (dfd >= 0 && write_repo(dfd, repo, "1.root.json", env, len, true) == 0 &&
		 write_repo(dfd, repo, "root.json", env, len, false) == 0) {
		printf("%s: root version 1 written (1.root.json, root.json)\n", repo);
		rc = RFCTL_OK;
	}
	if (dfd >= 0)
		close(dfd);
	free(env);
	return rc;
}

static int sub_root(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, ROLE_OPTS | OPT(O_VERSION) | OPT(O_SIGN), 1, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	const char *repo = o.pos[0];
	uint64_t v;
	if (parse_u64(o.arg[O_VERSION], 2, INT64_MAX - 1, &v) < 0)
		return usage_error("--version N is needed, N >= 2 (version 1 is made by init)");
	if (o.nsign == 0)
		return usage_error("--sign K.key is needed: the old and the new root's keys sign");

	struct rf_tuf_key signers[2 * RF_TUF_MAX_KEYS];
	unsigned nsigners;
	unsigned char *env = NULL, *prev;
	size_t len, plen;
	char name[32], pname[32], err[256];
	int rc = RFCTL_FAIL;
	int dfd = open_dir(repo);
	if (dfd < 0)
		return RFCTL_FAIL;
	snprintf(name, sizeof name, "%" PRIu64 ".root.json", v);
	snprintf(pname, sizeof pname, "%" PRIu64 ".root.json", v - 1);
	if (read_repo(dfd, repo, pname, false, &prev, &plen) < 0)
		goto out;
	free(prev);
	if (faccessat(dfd, name, F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		cerr("%s/%s exists (add signatures to it with rfctl content sign)", repo, name);
		goto out;
	}
	if (load_signers(o.sign, o.nsign, signers, &nsigners) < 0 ||
	    make_root(&o, v, signers, nsigners, false, &env, &len) != RFCTL_OK ||
	    write_repo(dfd, repo, name, env, len, true) < 0)
		goto out;
	rc = RFCTL_OK;
	/* the chain up to the new root, as a client walks it */
	struct overlay ov = { .root_only = true };
	enum rf_tuf_err e = check_repo(repo, &ov, NULL, err, sizeof err);
	/* the walk asks for N+1 only after it accepted N */
	if (ov.reached_timestamp && ov.asked_root == v + 1)
		printf("%s: root version %" PRIu64 " written and signed as rotation needs\n", repo, v);
	else if (ov.reached_timestamp)
		printf("%s: root version %" PRIu64 " written; the walk from 1.root.json stops at %" PRIu64
		       ".root.json (missing)\n", repo, v, ov.asked_root);
	else
		printf("%s: root version %" PRIu64 " written, not yet valid for endpoints (%s: %s);\n"
		       "  add signatures with: rfctl content sign %s/%s --key K.key\n",
		       repo, v, rf_tuf_err_name(e), err, repo, name);
out:
	sodium_memzero(signers, sizeof signers);
	free(env);
	close(dfd);
	return rc;
}

/* ---- sign ---- */

static int sub_sign(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, OPT(O_KEY), 1, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	if (!o.arg[O_KEY])
		return usage_error("--key K.key is needed");
	const char *file = o.pos[0];
	struct key k;
	unsigned char *buf, *out;
	size_t len, olen;
	char err[256];
	if (load_key(o.arg[O_KEY], true, &k) < 0)
		return RFCTL_FAIL;
	enum rf_tuf_err e = rf_tuf_read_file(AT_FDCWD, file, RF_TUF_META_MAX, 0, &buf, &len, err, sizeof err);
	if (e == RF_TUF_OK) {
		e = rf_tuf_add_signature(buf, len, &k.k, &out, &olen, err, sizeof err);
		if (e != RF_TUF_OK)
			free(buf);
	}
	sodium_memzero(&k.k, sizeof k.k);
	if (e != RF_TUF_OK) {
		cerr("%s", err);
		return RFCTL_FAIL;
	}
	bool same = olen == len && memcmp(out, buf, len) == 0;
	free(buf);
	if (!same && rf_tuf_write_file(AT_FDCWD, file, out, olen, 0644, false, err, sizeof err) != RF_TUF_OK) {
		cerr("%s", err);
		free(out);
		return RFCTL_FAIL;
	}
	free(out);
	printf("%s: %s key %s\n", file, same ? "already signed by" : "signed with", k.id);
	return RFCTL_OK;
}

/* ---- publish and timestamp ---- */

/* content_version and ABI range of a ringfence bundle, read by the engine's loader. */
static int bundle_info(const char *path, const unsigned char *buf, size_t len, char cver[RF_TUF_CVER_MAX],
		       uint32_t abi[2], bool *ret_is_bundle)
{
	char err[256];
	struct rfe_engine *e;
	*ret_is_bundle = len >= RFB_HDR_SIZE && memcmp(buf, RFB_MAGIC, RFB_MAGIC_LEN) == 0;
	if (!*ret_is_bundle)
		return 0;
	if (rfe_load(buf, len, rfs_engine_schema, RFS_NFIELDS, &e, err, sizeof err) != 0) {
		cerr("%s: a ringfence bundle this rfctl's engine refuses: %s", path, err);
		return -1;
	}
	snprintf(cver, RF_TUF_CVER_MAX, "%s", rfe_content_version(e));
	rfe_free(e);
	for (int i = 0; i < 2; i++) {
		const unsigned char *p = buf + (i ? RFB_HDR_ABI_MAX : RFB_HDR_ABI_MIN);
		abi[i] = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
	}
	return 0;
}

static int mkdirs_for(int dfd, const char *repo, const char *path)
{
	char d[RF_TUF_NAME_MAX + 16];
	for (const char *s = strchr(path, '/'); s; s = strchr(s + 1, '/')) {
		snprintf(d, sizeof d, "%.*s", (int)(s - path), path);
		if (mkdirat(dfd, d, 0755) < 0 && errno != EEXIST) {
			cerr("%s/%s: %s", repo, d, strerror(errno));
			return -1;
		}
	}
	return 0;
}

/* The target entry of the bundle from the options; -1 or RFCTL_USAGE after reporting. */
static int make_target(const struct opts *o, const char *bundle, const unsigned char *buf, size_t len,
		       struct rf_tuf_target *tg)
{
	uint32_t abi[2] = { 1, 1 };
	bool is_bundle;
	memset(tg, 0, sizeof *tg);
	if (!o->arg[O_CLIENT] || !rf_tuf_valid_client(o->arg[O_CLIENT]))
		return usage_error("--client NAME is needed: [A-Za-z0-9_.-], 1..%d characters",
					 RF_TUF_CLIENT_MAX - 1);
	if (parse_u64(o->arg[O_VERSION], 1, INT64_MAX - 1, &tg->version) < 0)
		return usage_error("--version V is needed, a positive integer");
	if (len == 0 || len > RF_TUF_TARGET_MAX) {
		cerr("%s: %zu bytes; a target has 1..%u", bundle, len, RF_TUF_TARGET_MAX);
		return -1;
	}
	if (bundle_info(bundle, buf, len, tg->content_version, abi, &is_bundle) < 0)
		return -1;
	if (!is_bundle)
		snprintf(tg->content_version, sizeof tg->content_version, "%" PRIu64, tg->version);
	if (o->arg[O_CVER]) {
		const char *s = o->arg[O_CVER];
		size_t n = strlen(s);
		for (size_t i = 0; i < n; i++)
			if (s[i] < 0x21 || s[i] > 0x7e)
				n = 0;
		if (n == 0 || n >= RF_TUF_CVER_MAX)
			return usage_error("--content-version: printable ASCII without spaces, 1..%d",
						 RF_TUF_CVER_MAX - 1);
		strcpy(tg->content_version, s);
	}
	if (o->arg[O_ABI]) {
		uint64_t lo, hi;
		char *dash = strchr(o->arg[O_ABI], '-'), lo_s[16];
		snprintf(lo_s, sizeof lo_s, "%.*s", dash ? (int)(dash - o->arg[O_ABI]) : 0, o->arg[O_ABI]);
		if (!dash || parse_u64(lo_s, 1, UINT32_MAX, &lo) < 0 || parse_u64(dash + 1, lo, UINT32_MAX, &hi) < 0)
			return usage_error("--abi '%s': MIN-MAX, 1 <= MIN <= MAX", o->arg[O_ABI]);
		abi[0] = (uint32_t)lo;
		abi[1] = (uint32_t)hi;
	}
	tg->abi_min = abi[0];
	tg->abi_max = abi[1];
	for (unsigned i = 0; i < o->ncohort; i++) {
		if (!rf_tuf_valid_cohort(o->cohort[i]))
			return usage_error("--cohort '%s': [A-Za-z0-9_.-], 1..%d characters",
						 o->cohort[i], RF_TUF_COHORT_MAX - 1);
		for (unsigned j = 0; j < i; j++)
			if (strcmp(o->cohort[i], o->cohort[j]) == 0)
				return usage_error("--cohort '%s' given twice", o->cohort[i]);
		strcpy(tg->cohorts[tg->ncohorts++], o->cohort[i]);
	}
	strcpy(tg->client, o->arg[O_CLIENT]);
	tg->length = len;
	crypto_hash_sha256(tg->sha256, buf, len);

	if (o->arg[O_NAME]) {
		if (strlen(o->arg[O_NAME]) >= sizeof tg->name || !rf_tuf_valid_target_name(o->arg[O_NAME]))
			return usage_error("--name '%s': [A-Za-z0-9._-] and '/', no '..', at most %d",
						 o->arg[O_NAME], RF_TUF_NAME_MAX - 1);
		strcpy(tg->name, o->arg[O_NAME]);
	} else {
		/* CLIENT/VERSION-HASH16.EXT, the bundle's extension if it is a plain one */
		const char *base = strrchr(bundle, '/') ? strrchr(bundle, '/') + 1 : bundle;
		const char *dot = strrchr(base, '.');
		char ext[16] = "bin", hex[65];
		if (dot && dot != base && strlen(dot + 1) >= 1 && strlen(dot + 1) < sizeof ext &&
		    strspn(dot + 1, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") ==
			    strlen(dot + 1))
			strcpy(ext, dot + 1);
		sodium_bin2hex(hex, sizeof hex, tg->sha256, 32);
		snprintf(tg->name, sizeof tg->name, "%s/%" PRIu64 "-%.16s.%s", tg->client, tg->version, hex, ext);
	}
	return 0;
}

/* Signs the document text doc (freed) as role with the keys of paths. */
static int sign_doc(const char *role, char *doc, const char *const *paths, unsigned n, unsigned char **ret,
		    size_t *ret_len)
{
	struct rf_tuf_key keys[RF_TUF_MAX_KEYS];
	unsigned nkeys;
	char err[256];
	int rc = -1;
	if (!doc)
		cerr("%s: out of memory", role);
	else if (load_signers(paths, n, keys, &nkeys) == 0) {
		if (rf_tuf_sign_envelope(role, doc, strlen(doc), keys, nkeys, ret, ret_len, err, sizeof err) == RF_TUF_OK)
			rc = 0;
		else
			cerr("%s: %s", role, err);
	}
	sodium_memzero(keys, sizeof keys);
	free(doc);
	return rc;
}

static int sub_publish(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv,
			   OPT(O_CLIENT) | OPT(O_VERSION) | OPT(O_CVER) | OPT(O_ABI) | OPT(O_COHORT) | OPT(O_NAME) |
				   OPT(O_TARGETS_KEY) | OPT(O_SNAPSHOT_KEY) | OPT(O_TIMESTAMP_KEY) | OPT(O_EXPIRES) |
				   OPT(O_TS_EXPIRES),
			   2, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	const char *repo = o.pos[0], *bundle = o.pos[1];
	int64_t dur, ts_dur, now = (int64_t)time(NULL);
	if (parse_dur(o.arg[O_EXPIRES], TARGETS_EXPIRES, &dur) < 0 ||
	    parse_dur(o.arg[O_TS_EXPIRES], TIMESTAMP_EXPIRES, &ts_dur) < 0)
		return usage_error("--expires/--timestamp-expires: a duration like 30s, 15m, 12h, 7d or -1h");
	for (int k = TARGETS; k < NROLES; k++)
		if (o.nkeys[k] == 0)
			return usage_error("--%s-key K.key is needed", role_name[k]);

	struct rf_tuf_target tg, *old = NULL, *all = NULL;
	size_t nold = 0;
	unsigned char *bbuf = NULL, *root = NULL, *cur = NULL, *env[NROLES] = { NULL };
	size_t blen, rootlen, curlen, len[NROLES] = { 0 };
	uint64_t rootv, ver[NROLES] = { 0 };
	char err[256], tname[RF_TUF_NAME_MAX + 8];
	int rc = RFCTL_FAIL;
	int dfd = open_dir(repo);
	if (dfd < 0)
		return RFCTL_FAIL;

	if (rf_tuf_read_file(AT_FDCWD, bundle, RF_TUF_TARGET_MAX, 0, &bbuf, &blen, err, sizeof err) != RF_TUF_OK) {
		cerr("%s", err);
		goto out;
	}
	if ((r = make_target(&o, bundle, bbuf, blen, &tg)) != 0) {
		rc = r == RFCTL_USAGE ? r : RFCTL_FAIL;
		goto out;
	}
	if (latest_root(dfd, repo, &rootv, &root, &rootlen) < 0 ||
	    peek_version(dfd, repo, "targets", "targets.json", &ver[TARGETS], &old, &nold) < 0 ||
	    peek_version(dfd, repo, "snapshot", "snapshot.json", &ver[SNAPSHOT], NULL, NULL) < 0 ||
	    peek_version(dfd, repo, "timestamp", "timestamp.json", &ver[TIMESTAMP], NULL, NULL) < 0)
		goto out;
	for (size_t i = 0; i < nold; i++)
		if (strcmp(old[i].client, tg.client) == 0 && old[i].version >= tg.version) {
			cerr("%s: %s version %" PRIu64 " is listed (%s); publish a higher version", repo, tg.client,
			     old[i].version, old[i].name);
			goto out;
		}
	for (size_t i = 0; i < nold; i++)
		if (strcmp(old[i].name, tg.name) == 0) {
			cerr("%s: targets.json already lists %s (choose another --name)", repo, tg.name);
			goto out;
		}
	if (nold >= RF_TUF_MAX_TARGETS) {
		cerr("%s: targets.json lists %d targets already, the most it may", repo, RF_TUF_MAX_TARGETS);
		goto out;
	}
	all = malloc((nold + 1) * sizeof *all);
	if (!all) {
		cerr("out of memory");
		goto out;
	}
	if (nold)
		memcpy(all, old, nold * sizeof *all);
	all[nold] = tg;

	/* the new metadata, children first: each parent lists its child's bytes */
	if (sign_doc("targets", rf_tuf_targets_json(ver[TARGETS] + 1, now + dur, all, nold + 1), o.keys[TARGETS],
		     o.nkeys[TARGETS], &env[TARGETS], &len[TARGETS]) < 0 ||
	    sign_doc("snapshot", rf_tuf_meta_json("snapshot", ver[SNAPSHOT] + 1, now + dur, ver[TARGETS] + 1,
						  env[TARGETS], len[TARGETS]),
		     o.keys[SNAPSHOT], o.nkeys[SNAPSHOT], &env[SNAPSHOT], &len[SNAPSHOT]) < 0 ||
	    sign_doc("timestamp", rf_tuf_meta_json("timestamp", ver[TIMESTAMP] + 1, now + ts_dur, ver[SNAPSHOT] + 1,
						   env[SNAPSHOT], len[SNAPSHOT]),
		     o.keys[TIMESTAMP], o.nkeys[TIMESTAMP], &env[TIMESTAMP], &len[TIMESTAMP]) < 0)
		goto out;

	snprintf(tname, sizeof tname, "targets/%s", tg.name);
	struct overlay ov = { 0 };
	struct rf_tuf_trust *t = NULL;
	overlay_add(&ov, "targets.json", env[TARGETS], len[TARGETS]);
	overlay_add(&ov, "snapshot.json", env[SNAPSHOT], len[SNAPSHOT]);
	overlay_add(&ov, "timestamp.json", env[TIMESTAMP], len[TIMESTAMP]);
	overlay_add(&ov, tname, bbuf, blen);
	enum rf_tuf_err e = check_repo(repo, &ov, &t, err, sizeof err);
	for (size_t i = 0; e == RF_TUF_OK && i < rf_tuf_ntargets(t); i++) {
		const struct rf_tuf_target *x = rf_tuf_target_at(t, i);
		unsigned char *got;
		size_t glen;
		if (strcmp(x->name, tg.name) == 0 &&
		    (e = rf_tuf_fetch_target(x, overlay_fetch, &ov, &got, &glen, err, sizeof err)) == RF_TUF_OK)
			free(got);
	}
	rf_tuf_trust_free(t);
	if (e != RF_TUF_OK) {
		cerr("publish: nothing written, endpoints would refuse the new metadata: %s: %s",
		     rf_tuf_err_name(e), err);
		goto out;
	}

	/* the bundle first (unlisted, it is harmless), then children before parents */
	if (mkdirs_for(dfd, repo, tname) < 0)
		goto out;
	if (rf_tuf_write_file(dfd, tname, bbuf, blen, 0644, true, err, sizeof err) != RF_TUF_OK) {
		bool same = rf_tuf_read_file(dfd, tname, blen, O_NOFOLLOW, &cur, &curlen, NULL, 0) == RF_TUF_OK &&
			    curlen == blen && memcmp(cur, bbuf, blen) == 0;
		if (!same) {
			cerr("%s/%s (and it holds other bytes)", repo, err);
			goto out;
		}
	}
	free(cur);
	cur = NULL;
	if (write_repo(dfd, repo, "targets.json", env[TARGETS], len[TARGETS], false) < 0 ||
	    write_repo(dfd, repo, "snapshot.json", env[SNAPSHOT], len[SNAPSHOT], false) < 0 ||
	    write_repo(dfd, repo, "timestamp.json", env[TIMESTAMP], len[TIMESTAMP], false) < 0)
		goto out;
	if (read_repo(dfd, repo, "root.json", true, &cur, &curlen) < 0 ||
	    ((!cur || curlen != rootlen || memcmp(cur, root, rootlen) != 0) &&
	     write_repo(dfd, repo, "root.json", root, rootlen, false) < 0))
		goto out;
	warn_expired("targets.json", now + dur);
	warn_expired("snapshot.json", now + dur);
	warn_expired("timestamp.json", now + ts_dur);
	printf("%s: published %s (client %s, version %" PRIu64 ", content_version %s, abi %u-%u, %zu bytes)\n"
	       "  targets.json %" PRIu64 ", snapshot.json %" PRIu64 ", timestamp.json %" PRIu64
	       ", root.json %" PRIu64 "\n",
	       repo, tname, tg.client, tg.version, tg.content_version, tg.abi_min, tg.abi_max, blen,
	       ver[TARGETS] + 1, ver[SNAPSHOT] + 1, ver[TIMESTAMP] + 1, rootv);
	rc = RFCTL_OK;
out:
	for (int k = 0; k < NROLES; k++)
		free(env[k]);
	free(all);
	free(old);
	free(bbuf);
	free(root);
	free(cur);
	close(dfd);
	return rc;
}

static int sub_timestamp(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, OPT(O_TIMESTAMP_KEY) | OPT(O_EXPIRES), 1, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	const char *repo = o.pos[0];
	int64_t dur, now = (int64_t)time(NULL), expires;
	if (parse_dur(o.arg[O_EXPIRES], TIMESTAMP_EXPIRES, &dur) < 0)
		return usage_error("--expires '%s': a duration like 30s, 15m, 12h, 1d or -1h",
					 o.arg[O_EXPIRES]);
	if (o.nkeys[TIMESTAMP] == 0)
		return usage_error("--timestamp-key K.key is needed");

	unsigned char *snap = NULL, *env = NULL;
	size_t slen, len;
	uint64_t sv, tv;
	char err[256];
	int rc = RFCTL_FAIL;
	int dfd = open_dir(repo);
	if (dfd < 0)
		return RFCTL_FAIL;
	if (read_repo(dfd, repo, "snapshot.json", false, &snap, &slen) < 0)
		goto out;
	if (rf_tuf_peek(snap, slen, "snapshot", &sv, &expires, NULL, NULL, err, sizeof err) != RF_TUF_OK) {
		cerr("%s/%s", repo, err);
		goto out;
	}
	if (peek_version(dfd, repo, "timestamp", "timestamp.json", &tv, NULL, NULL) < 0 ||
	    sign_doc("timestamp", rf_tuf_meta_json("timestamp", tv + 1, now + dur, sv, snap, slen), o.keys[TIMESTAMP],
		     o.nkeys[TIMESTAMP], &env, &len) < 0)
		goto out;
	struct overlay ov = { 0 };
	overlay_add(&ov, "timestamp.json", env, len);
	enum rf_tuf_err e = check_repo(repo, &ov, NULL, err, sizeof err);
	if (e != RF_TUF_OK) {
		cerr("timestamp: nothing written, endpoints would refuse the new metadata: %s: %s",
		     rf_tuf_err_name(e), err);
		goto out;
	}
	if (write_repo(dfd, repo, "timestamp.json", env, len, false) < 0)
		goto out;
	warn_expired("snapshot.json (publish again)", expires);
	warn_expired("timestamp.json", now + dur);
	printf("%s: timestamp.json version %" PRIu64 " (snapshot.json %" PRIu64 ")\n", repo, tv + 1, sv);
	rc = RFCTL_OK;
out:
	free(snap);
	free(env);
	close(dfd);
	return rc;
}

/* ---- verify ---- */

static int sub_verify(int argc, char **argv)
{
	struct opts o;
	int r = parse_opts(argc, argv, OPT(O_ROOT) | OPT(O_NOW), 1, &o);
	if (r)
		return r == 1 ? RFCTL_OK : r;
	int64_t now = (int64_t)time(NULL);
	if (!o.arg[O_ROOT])
		return usage_error("--root ROOT.json is needed: the root the endpoints start from");
	if (o.arg[O_NOW] && rf_tuf_parse_time(o.arg[O_NOW], &now) < 0)
		return usage_error("--now '%s': RFC 3339 UTC, like 2026-11-21T12:00:00Z", o.arg[O_NOW]);

	char err[512], when[21];
	struct rf_tuf_trust *t = NULL;
	struct rf_tuf_source *src = rf_tuf_source_open(o.pos[0], err, sizeof err);
	if (!src) {
		cerr("verify: %s", err);
		return RFCTL_FAIL;
	}
	enum rf_tuf_err e = rf_tuf_trust_load(NULL, o.arg[O_ROOT], &t, err, sizeof err);
	if (e == RF_TUF_OK)
		e = rf_tuf_refresh(t, rf_tuf_source_fetch, src, now, err, sizeof err);
	if (e == RF_TUF_OK) {
		for (int k = 0; k < NROLES; k++) {
			rf_tuf_format_time(rf_tuf_expires(t, role_name[k]), when);
			printf("%-10s version %-6" PRIu64 " expires %s\n", role_name[k], rf_tuf_version(t, role_name[k]),
			       when);
		}
	}
	for (size_t i = 0; e == RF_TUF_OK && i < rf_tuf_ntargets(t); i++) {
		const struct rf_tuf_target *x = rf_tuf_target_at(t, i);
		unsigned char *buf;
		size_t len;
		char hex[65];
		e = rf_tuf_fetch_target(x, rf_tuf_source_fetch, src, &buf, &len, err, sizeof err);
		if (e != RF_TUF_OK)
			break;
		free(buf);
		sodium_bin2hex(hex, sizeof hex, x->sha256, 32);
		printf("target %s\n  client %s, version %" PRIu64 ", content_version %s, abi %u-%u, cohorts ",
		       x->name, x->client, x->version, x->content_version, x->abi_min, x->abi_max);
		for (unsigned c = 0; c < x->ncohorts; c++)
			printf("%s%s", c ? "," : "", x->cohorts[c]);
		printf("%s\n  length %" PRIu64 ", sha256 %s\n", x->ncohorts ? "" : "(all)", x->length, hex);
	}
	if (e == RF_TUF_OK)
		printf("ok: %zu target(s) verified\n", rf_tuf_ntargets(t));
	else
		cerr("verify: %s: %s", rf_tuf_err_name(e), err);
	rf_tuf_trust_free(t);
	rf_tuf_source_close(src);
	return e == RF_TUF_OK ? RFCTL_OK : RFCTL_FAIL;
}

int cmd_content(const struct rfctl *ctl, int argc, char **argv)
{
	static const struct {
		const char *name;
		int (*run)(int argc, char **argv);
	} subs[] = {
		{ "keygen", sub_keygen }, { "init", sub_init },     { "root", sub_root },
		{ "sign", sub_sign },     { "publish", sub_publish }, { "timestamp", sub_timestamp },
		{ "verify", sub_verify },
	};
	if (argc < 2)
		return usage_error("a subcommand is needed");
	if (strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0) {
		rfctl_usage(stdout, "content");
		return RFCTL_OK;
	}
	if (sodium_init() < 0) {
		cerr("libsodium does not initialise");
		return RFCTL_FAIL;
	}
	for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++)
		if (strcmp(argv[1], subs[i].name) == 0)
			return subs[i].run(argc - 1, argv + 1);
	/* the endpoint's side, over the broker's control socket */
	int r = content_ops(ctl, argc - 1, argv + 1);
	if (r >= 0)
		return r;
	return usage_error("unknown subcommand '%s'", argv[1]);
}
