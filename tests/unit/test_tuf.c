/*
 * test_tuf.c - signed content metadata (src/content/tuf.c, fetch.c): the
 * client workflow accepts a good repository and refuses every attack TUF
 * names - forged or too few signatures, tampered payloads, rollback,
 * freeze (expiry), endless data (size caps), altered or truncated files,
 * bad root rotations - leaving the trust as it was; the trusted state
 * survives a save and load; names, times and the local fetcher.
 *
 * Repositories are built in memory with the writer side of tuf.h and keys
 * from fixed seeds; an in-memory fetcher serves them.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <json-c/json.h>
#include <sodium.h>

#include "content/tuf.h"

#define NOW  INT64_C(1800000000)       /* 2027-01-15 */
#define DAY  INT64_C(86400)
#define NKEYS 10
#define MAX_FILES 96

static char err[512];
static struct rf_tuf_key K[NKEYS];    /* K[0..2] root, K[3] targets, K[4] snapshot, K[5] timestamp, K[6..] spare */

/* ---- an in-memory repository ---- */

struct file {
	char name[160];
	unsigned char *buf;
	size_t len;
};

struct repo {
	struct file f[MAX_FILES];
	unsigned n;
};

static struct file *find(struct repo *r, const char *name)
{
	for (unsigned i = 0; i < r->n; i++)
		if (strcmp(r->f[i].name, name) == 0)
			return &r->f[i];
	return NULL;
}

/* Stores buf (taken over) as name. */
static void put(struct repo *r, const char *name, unsigned char *buf, size_t len)
{
	struct file *f = find(r, name);
	if (!f) {
		assert_true(r->n < MAX_FILES);
		f = &r->f[r->n++];
		snprintf(f->name, sizeof f->name, "%s", name);
	} else {
		free(f->buf);
	}
	f->buf = buf;
	f->len = len;
}

static void put_copy(struct repo *r, const char *name, const void *buf, size_t len)
{
	unsigned char *c = malloc(len + 1);
	assert_non_null(c);
	memcpy(c, buf, len);
	put(r, name, c, len);
}

static void drop(struct repo *r, const char *name)
{
	struct file *f = find(r, name);
	if (f) {
		free(f->buf);
		*f = r->f[--r->n];
	}
}

static void repo_free(struct repo *r)
{
	for (unsigned i = 0; i < r->n; i++)
		free(r->f[i].buf);
	r->n = 0;
}

static enum rf_tuf_err mem_fetch(void *ctx, const char *name, size_t max, unsigned char **ret_buf,
				 size_t *ret_len, char *e, size_t elen)
{
	struct repo *r = ctx;
	struct file *f = find(r, name);
	if (!f) {
		snprintf(e, elen, "%s: not found", name);
		return RF_TUF_E_MISSING;
	}
	if (f->len > max) {
		snprintf(e, elen, "%s: more than %zu bytes", name, max);
		return RF_TUF_E_TOO_BIG;
	}
	*ret_buf = malloc(f->len + 1);
	memcpy(*ret_buf, f->buf, f->len);
	*ret_len = f->len;
	return RF_TUF_OK;
}

/* ---- a world: keys per role, targets, the repository ---- */

struct role {
	const struct rf_tuf_key *k[4];
	unsigned n, th;
};

struct world {
	struct repo repo;
	struct role roles[4];                  /* root, targets, snapshot, timestamp */
	uint64_t ver[4];                       /* published versions */
	int64_t exp[4];
	struct rf_tuf_target tg[4];
	size_t ntg;
	char dir[64];                          /* scratch directory */
	char root1[96];                        /* 1.root.json written there, the trust anchor */
};

static const char *const roles[4] = { "root", "targets", "snapshot", "timestamp" };
static const char *const files[4] = { NULL, "targets.json", "snapshot.json", "timestamp.json" };

static unsigned char *sign(const char *role, char *doc, const struct rf_tuf_key *const *keys, unsigned n,
			   size_t *len)
{
	struct rf_tuf_key ks[8];
	unsigned char *env;
	assert_non_null(doc);
	for (unsigned i = 0; i < n; i++)
		ks[i] = *keys[i];
	assert_int_equal(rf_tuf_sign_envelope(role, doc, strlen(doc), ks, n, &env, len, err, sizeof err), RF_TUF_OK);
	free(doc);
	return env;
}

static char *root_doc(struct world *w, uint64_t v, int64_t expires)
{
	uint8_t pub[4][4][32];
	struct rf_tuf_role_spec spec[4];
	for (int r = 0; r < 4; r++) {
		for (unsigned i = 0; i < w->roles[r].n; i++)
			memcpy(pub[r][i], w->roles[r].k[i]->pub, 32);
		spec[r] = (struct rf_tuf_role_spec){ .pub = pub[r], .nkeys = w->roles[r].n, .threshold = w->roles[r].th };
	}
	return rf_tuf_root_json(v, expires, spec);
}

/* Publishes root version v of w's roles as v.root.json, signed by signers. */
static void put_root(struct world *w, uint64_t v, int64_t expires, const struct rf_tuf_key *const *signers,
		     unsigned n)
{
	char name[32];
	size_t len;
	unsigned char *env = sign("root", root_doc(w, v, expires), signers, n, &len);
	snprintf(name, sizeof name, "%" PRIu64 ".root.json", v);
	put(&w->repo, name, env, len);
}

static void add_target(struct world *w, const char *name, const char *client, uint64_t version, const char *data)
{
	struct rf_tuf_target *t = &w->tg[w->ntg++];
	char path[160];
	memset(t, 0, sizeof *t);
	snprintf(t->name, sizeof t->name, "%s", name);
	snprintf(t->client, sizeof t->client, "%s", client);
	snprintf(t->content_version, sizeof t->content_version, "cv-%" PRIu64, version);
	t->version = version;
	t->length = strlen(data);
	t->abi_min = 1;
	t->abi_max = 2;
	strcpy(t->cohorts[0], "canary");
	t->ncohorts = 1;
	crypto_hash_sha256(t->sha256, (const unsigned char *)data, t->length);
	snprintf(path, sizeof path, "targets/%s", name);
	put_copy(&w->repo, path, data, t->length);
}

static void put_role(struct world *w, int r, char *doc)
{
	size_t len;
	unsigned char *env = sign(roles[r], doc, w->roles[r].k, w->roles[r].n, &len);
	put(&w->repo, files[r], env, len);
}

static struct file *file_of(struct world *w, int r)
{
	struct file *f = find(&w->repo, files[r]);
	assert_non_null(f);
	return f;
}

/* New targets, snapshot and timestamp: each version + 1. */
static void publish(struct world *w)
{
	put_role(w, 1, rf_tuf_targets_json(++w->ver[1], w->exp[1], w->tg, w->ntg));
	put_role(w, 2, rf_tuf_meta_json("snapshot", ++w->ver[2], w->exp[2], w->ver[1], file_of(w, 1)->buf,
					 file_of(w, 1)->len));
	put_role(w, 3, rf_tuf_meta_json("timestamp", ++w->ver[3], w->exp[3], w->ver[2], file_of(w, 2)->buf,
					file_of(w, 2)->len));
}

static void world_init(struct world *w)
{
	memset(w, 0, sizeof *w);
	for (int r = 0; r < 4; r++) {
		w->roles[r] = (struct role){ .k = { &K[r == 0 ? 0 : r + 2] }, .n = 1, .th = 1 };
		w->exp[r] = NOW + 30 * DAY;
	}
	snprintf(w->dir, sizeof w->dir, "/tmp/test_tuf.XXXXXX");
	assert_non_null(mkdtemp(w->dir));
	snprintf(w->root1, sizeof w->root1, "%s/1.root.json", w->dir);
	put_root(w, 1, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	struct file *f = find(&w->repo, "1.root.json");
	FILE *out = fopen(w->root1, "w");
	assert_non_null(out);
	assert_int_equal(fwrite(f->buf, 1, f->len, out), f->len);
	fclose(out);
	add_target(w, "rf-detect/1.rfb", "rf-detect", 1, "bundle one");
	publish(w);
}

static void rm_rf(const char *dir)
{
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void world_free(struct world *w)
{
	repo_free(&w->repo);
	rm_rf(w->dir);
}

static struct rf_tuf_trust *anchor(struct world *w)
{
	struct rf_tuf_trust *t = NULL;
	assert_int_equal(rf_tuf_trust_load(NULL, w->root1, &t, err, sizeof err), RF_TUF_OK);
	return t;
}

static enum rf_tuf_err refresh(struct rf_tuf_trust *t, struct world *w)
{
	err[0] = '\0';
	return rf_tuf_refresh(t, mem_fetch, &w->repo, NOW, err, sizeof err);
}

/* A trust refreshed once from w (all versions 1). */
static struct rf_tuf_trust *refreshed(struct world *w)
{
	struct rf_tuf_trust *t = anchor(w);
	assert_int_equal(refresh(t, w), RF_TUF_OK);
	return t;
}

static void expect(enum rf_tuf_err got, enum rf_tuf_err want, const char *needle)
{
	if (got != want || (needle && !strstr(err, needle)))
		fail_msg("got %s (%s), want %s with \"%s\"", rf_tuf_err_name(got), err, rf_tuf_err_name(want),
			 needle ? needle : "");
}

/* The trust's versions and targets, to show that a failure changed nothing. */
static void assert_versions(struct rf_tuf_trust *t, uint64_t root, uint64_t v)
{
	assert_int_equal(rf_tuf_version(t, "root"), root);
	for (int r = 1; r < 4; r++)
		assert_int_equal(rf_tuf_version(t, roles[r]), v);
}

/* ---- the good path ---- */

static void test_good_refresh(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = anchor(&w);
	assert_int_equal(rf_tuf_ntargets(t), 0);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_versions(t, 1, 1);
	assert_int_equal(rf_tuf_expires(t, "timestamp"), NOW + 30 * DAY);
	assert_int_equal(rf_tuf_ntargets(t), 1);
	const struct rf_tuf_target *tg = rf_tuf_target_at(t, 0);
	assert_non_null(tg);
	assert_null(rf_tuf_target_at(t, 1));
	assert_memory_equal(tg, &w.tg[0], sizeof *tg);

	unsigned char *buf;
	size_t len;
	expect(rf_tuf_fetch_target(tg, mem_fetch, &w.repo, &buf, &len, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(len, 10);
	assert_memory_equal(buf, "bundle one", 10);
	free(buf);

	/* a second publication, two targets; then nothing new is fine too */
	add_target(&w, "rf-detect/2.rfb", "rf-detect", 2, "bundle two");
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_versions(t, 1, 2);
	assert_int_equal(rf_tuf_ntargets(t), 2);
	assert_string_equal(rf_tuf_target_at(t, 1)->name, "rf-detect/2.rfb");
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_versions(t, 1, 2);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- signatures ---- */

static void test_forged_signature(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = refreshed(&w);

	/* timestamp signed by a key the root does not list */
	w.roles[3].k[0] = &K[6];
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "timestamp.json");
	/* targets signed by the timestamp's key */
	w.roles[3].k[0] = &K[5];
	w.roles[1].k[0] = &K[5];
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "targets.json");
	assert_versions(t, 1, 1);
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_threshold(void **state)
{
	struct world w;
	world_init(&w);
	/* a root whose targets role is 2 of K3, K6, K7 */
	w.roles[1] = (struct role){ .k = { &K[3], &K[6], &K[7] }, .n = 3, .th = 2 };
	put_root(&w, 1, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	FILE *out = fopen(w.root1, "w");
	struct file *f = find(&w.repo, "1.root.json");
	fwrite(f->buf, 1, f->len, out);
	fclose(out);
	struct rf_tuf_trust *t = anchor(&w);

	w.roles[1].n = 1;                      /* signed by K3 alone */
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "1 valid signature(s), targets needs 2 of its 3");
	w.roles[1] = (struct role){ .k = { &K[3], &K[8] }, .n = 2 };   /* K8 is not a targets key */
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "1 valid");
	w.roles[1] = (struct role){ .k = { &K[7], &K[3] }, .n = 2 };
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* Rewrites an envelope's JSON: its first signature twice, or another payload. */
static void rewrite(struct world *w, const char *file, bool dup_sig, const char *find_s, const char *repl)
{
	struct file *f = find(&w->repo, file);
	struct json_object *o = json_tokener_parse((const char *)f->buf), *sigs, *p;
	assert_non_null(o);
	assert_true(json_object_object_get_ex(o, "signatures", &sigs));
	if (dup_sig)
		json_object_array_add(sigs, json_object_get(json_object_array_get_idx(sigs, 0)));
	if (find_s) {
		assert_true(json_object_object_get_ex(o, "payload", &p));
		const char *b64 = json_object_get_string(p);
		unsigned char bin[8192];
		char text[8192], *at, out[16384];
		size_t n;
		assert_int_equal(sodium_base642bin(bin, sizeof bin, b64, strlen(b64), NULL, &n, NULL,
						   sodium_base64_VARIANT_ORIGINAL), 0);
		snprintf(text, sizeof text, "%.*s", (int)n, bin);
		at = strstr(text, find_s);
		assert_non_null(at);
		snprintf((char *)bin, sizeof bin, "%.*s%s%s", (int)(at - text), text, repl, at + strlen(find_s));
		sodium_bin2base64(out, sizeof out, bin, strlen((char *)bin), sodium_base64_VARIANT_ORIGINAL);
		json_object_object_add(o, "payload", json_object_new_string(out));
	}
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	put_copy(&w->repo, file, s, strlen(s));
	json_object_put(o);
}

/* Lists the current snapshot and timestamp again over changed children. */
static void relist(struct world *w, int from)
{
	if (from <= 2)
		put_role(w, 2, rf_tuf_meta_json("snapshot", w->ver[2], w->exp[2], w->ver[1], file_of(w, 1)->buf,
						 file_of(w, 1)->len));
	put_role(w, 3, rf_tuf_meta_json("timestamp", w->ver[3], w->exp[3], w->ver[2], file_of(w, 2)->buf,
					file_of(w, 2)->len));
}

static void test_duplicate_signature(void **state)
{
	struct world w;
	world_init(&w);
	w.roles[3] = (struct role){ .k = { &K[5], &K[6] }, .n = 2, .th = 2 };
	put_root(&w, 2, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	publish(&w);
	struct rf_tuf_trust *t = refreshed(&w);   /* takes root 2: timestamp needs K5 and K6 */
	assert_int_equal(rf_tuf_version(t, "root"), 2);

	w.roles[3].n = 1;
	publish(&w);
	rewrite(&w, "timestamp.json", true, NULL, NULL);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "1 valid signature(s), timestamp needs 2");
	w.roles[3].n = 2;
	publish(&w);
	rewrite(&w, "timestamp.json", true, NULL, NULL);   /* duplicates are harmless otherwise */
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_tampered_payload(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = anchor(&w);
	/* a longer expiry in the timestamp, under the old signature */
	rewrite(&w, "timestamp.json", false, "\"expires\":\"2027", "\"expires\":\"2099");
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "timestamp.json");
	/* the targets' hash changed and snapshot, timestamp re-listed by their honest keys */
	publish(&w);
	rewrite(&w, "targets.json", false, "\"length\":10", "\"length\":11");
	relist(&w, 2);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "targets.json");
	/* a timestamp envelope served as the snapshot (type confusion) */
	publish(&w);
	struct file *ts = file_of(&w, 3);
	unsigned char *copy = malloc(ts->len);
	memcpy(copy, ts->buf, ts->len);
	put(&w.repo, "snapshot.json", copy, ts->len);
	relist(&w, 3);
	expect(refresh(t, &w), RF_TUF_E_FORMAT, "payloadType");
	assert_int_equal(rf_tuf_ntargets(t), 0);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- rollback and versions ---- */

static void test_rollback(void **state)
{
	struct world w;
	world_init(&w);
	struct repo v1 = { 0 };
	for (int r = 1; r < 4; r++)
		put_copy(&v1, files[r], file_of(&w, r)->buf, file_of(&w, r)->len);
	publish(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	assert_versions(t, 1, 2);

	/* the whole of version 1 again */
	for (int r = 1; r < 4; r++)
		put_copy(&w.repo, files[r], find(&v1, files[r])->buf, find(&v1, files[r])->len);
	expect(refresh(t, &w), RF_TUF_E_ROLLBACK, "timestamp.json: version 1 is below the trusted 2");

	/* a new timestamp listing the old snapshot */
	w.ver[3] = 2;
	w.ver[2] = 1;
	relist(&w, 3);
	expect(refresh(t, &w), RF_TUF_E_ROLLBACK, "lists snapshot.json version 1");

	/* a new timestamp and snapshot listing the old targets */
	w.ver[2] = 2;
	w.ver[1] = 1;
	relist(&w, 2);
	expect(refresh(t, &w), RF_TUF_E_ROLLBACK, "lists targets.json version 1");

	/* a snapshot whose version is not the one the timestamp lists */
	w.ver[1] = 2;
	publish(&w);       /* targets 3, snapshot 3, timestamp 3 */
	put_role(&w, 3, rf_tuf_meta_json("timestamp", 4, w.exp[3], 7, file_of(&w, 2)->buf, file_of(&w, 2)->len));
	expect(refresh(t, &w), RF_TUF_E_MISMATCH, "snapshot.json: version 3, timestamp.json lists 7");
	assert_versions(t, 1, 2);
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	repo_free(&v1);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- freeze ---- */

static void test_expired(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	for (int r = 1; r < 4; r++) {
		w.exp[r] = NOW;               /* expired at NOW exactly */
		publish(&w);
		expect(refresh(t, &w), RF_TUF_E_EXPIRED, files[r]);
		w.exp[r] = NOW + 1;
	}
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	/* an expired root after the walk */
	put_root(&w, 2, NOW - 1, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	expect(refresh(t, &w), RF_TUF_E_EXPIRED, "root version 2");
	assert_int_equal(rf_tuf_version(t, "root"), 1);
	/* the expiry check can be left out (the tools' check before they publish) */
	expect(rf_tuf_refresh(t, mem_fetch, &w.repo, INT64_MIN, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(rf_tuf_version(t, "root"), 2);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- endless data, altered and truncated files ---- */

static void test_too_big(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = anchor(&w);
	struct file *f;

	unsigned char *huge = calloc(1, RF_TUF_META_MAX + 1);
	put(&w.repo, "timestamp.json", huge, RF_TUF_META_MAX + 1);
	expect(refresh(t, &w), RF_TUF_E_TOO_BIG, "timestamp.json");
	publish(&w);
	for (int r = 1; r < 3; r++) {
		/* one byte more than the parent lists */
		f = file_of(&w, r);
		f->buf = realloc(f->buf, f->len + 1);
		f->buf[f->len++] = '\n';
		expect(refresh(t, &w), RF_TUF_E_TOO_BIG, files[r]);
		publish(&w);
	}
	expect(refresh(t, &w), RF_TUF_OK, NULL);

	unsigned char *buf;
	size_t len;
	f = find(&w.repo, "targets/rf-detect/1.rfb");
	put_copy(&w.repo, f->name, "bundle one!", 11);
	expect(rf_tuf_fetch_target(rf_tuf_target_at(t, 0), mem_fetch, &w.repo, &buf, &len, err, sizeof err),
	       RF_TUF_E_TOO_BIG, NULL);
	put_copy(&w.repo, f->name, "bundle on", 9);
	expect(rf_tuf_fetch_target(rf_tuf_target_at(t, 0), mem_fetch, &w.repo, &buf, &len, err, sizeof err),
	       RF_TUF_E_HASH, "9 bytes");
	put_copy(&w.repo, f->name, "bundle 0ne", 10);
	expect(rf_tuf_fetch_target(rf_tuf_target_at(t, 0), mem_fetch, &w.repo, &buf, &len, err, sizeof err),
	       RF_TUF_E_HASH, "SHA-256");
	drop(&w.repo, f->name);
	expect(rf_tuf_fetch_target(rf_tuf_target_at(t, 0), mem_fetch, &w.repo, &buf, &len, err, sizeof err),
	       RF_TUF_E_MISSING, NULL);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* A fetcher that ignores max: the library holds the cap itself. */
static enum rf_tuf_err sloppy_fetch(void *ctx, const char *name, size_t max, unsigned char **ret_buf,
				    size_t *ret_len, char *e, size_t elen)
{
	return mem_fetch(ctx, name, SIZE_MAX, ret_buf, ret_len, e, elen);
}

static void test_hash(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = anchor(&w);
	/* snapshot: same length, one byte changed */
	struct file *f = file_of(&w, 2);
	f->buf[f->len - 1] = ' ';
	expect(refresh(t, &w), RF_TUF_E_HASH, "snapshot.json: SHA-256");
	publish(&w);
	f = file_of(&w, 1);
	f->len -= 2;
	expect(refresh(t, &w), RF_TUF_E_HASH, "targets.json");
	publish(&w);
	f = file_of(&w, 1);
	f->buf = realloc(f->buf, f->len + 1);
	f->buf[f->len++] = '\n';
	expect(rf_tuf_refresh(t, sloppy_fetch, &w.repo, NOW, err, sizeof err), RF_TUF_E_TOO_BIG, "targets.json");
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- root rotation ---- */

static void test_rotation_good(void **state)
{
	struct world w;
	world_init(&w);
	publish(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	assert_versions(t, 1, 2);

	/* 2: root key K1, signed by K0 (old) and K1 (new) */
	w.roles[0].k[0] = &K[1];
	put_root(&w, 2, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0], &K[1] }, 2);
	/* 3: root key K2 and a new timestamp key, K6 */
	w.roles[0].k[0] = &K[2];
	w.roles[3].k[0] = &K[6];
	put_root(&w, 3, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[1], &K[2] }, 2);
	/* the new timestamp key starts over at version 1: not a rollback */
	w.ver[3] = 0;
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_int_equal(rf_tuf_version(t, "root"), 3);
	assert_int_equal(rf_tuf_version(t, "timestamp"), 1);
	assert_int_equal(rf_tuf_version(t, "snapshot"), 3);
	/* but the snapshot key did not change: its versions still may not go back */
	w.ver[2] = 1;
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_ROLLBACK, "snapshot.json");
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_rotation_bad(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	w.roles[0].k[0] = &K[1];

	put_root(&w, 2, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[1] }, 1);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "2.root.json: 0 valid signature(s), the trusted root");
	put_root(&w, 2, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "2.root.json: 0 valid signature(s), its own root");
	/* 2.root.json that says it is version 3 */
	put_root(&w, 3, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0], &K[1] }, 2);
	struct file *f = find(&w.repo, "3.root.json");
	put_copy(&w.repo, "2.root.json", f->buf, f->len);
	expect(refresh(t, &w), RF_TUF_E_MISMATCH, "2.root.json: version 3, expected 2");
	/* skipping version 2: 3.root.json is never looked at, so its timestamp key is not trusted */
	drop(&w.repo, "2.root.json");
	w.roles[3].k[0] = &K[6];
	put_root(&w, 3, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0], &K[1] }, 2);
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_SIGNATURE, "timestamp.json");
	assert_int_equal(rf_tuf_version(t, "root"), 1);
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_rotation_cap(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	for (uint64_t v = 2; v <= RF_TUF_ROOT_CHAIN_MAX + 3; v++)
		put_root(&w, v, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_int_equal(rf_tuf_version(t, "root"), 1 + RF_TUF_ROOT_CHAIN_MAX);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_int_equal(rf_tuf_version(t, "root"), RF_TUF_ROOT_CHAIN_MAX + 3);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- the trusted state on disk ---- */

static void test_save_load(void **state)
{
	struct world w;
	world_init(&w);
	publish(&w);
	struct rf_tuf_trust *t = refreshed(&w), *u = NULL;
	char dir[96], path[128];
	snprintf(dir, sizeof dir, "%s/trust", w.dir);

	expect(rf_tuf_trust_save(t, dir, err, sizeof err), RF_TUF_OK, NULL);
	expect(rf_tuf_trust_load(dir, NULL, &u, err, sizeof err), RF_TUF_OK, NULL);
	assert_versions(u, 1, 2);
	assert_int_equal(rf_tuf_ntargets(u), 1);
	assert_memory_equal(rf_tuf_target_at(u, 0), rf_tuf_target_at(t, 0), sizeof(struct rf_tuf_target));
	for (int r = 1; r < 4; r++)
		assert_int_equal(rf_tuf_expires(u, roles[r]), rf_tuf_expires(t, roles[r]));
	/* the files are the envelopes as verified */
	unsigned char *buf;
	size_t len;
	int dfd = open(dir, O_RDONLY | O_DIRECTORY);
	expect(rf_tuf_read_file(dfd, "targets.json", RF_TUF_META_MAX, O_NOFOLLOW, &buf, &len, err, sizeof err),
	       RF_TUF_OK, NULL);
	assert_int_equal(len, file_of(&w, 1)->len);
	assert_memory_equal(buf, file_of(&w, 1)->buf, len);
	free(buf);
	/* the loaded trust refuses the same rollback */
	w.ver[3] = 0;
	publish(&w);
	expect(refresh(u, &w), RF_TUF_E_ROLLBACK, "timestamp.json");
	rf_tuf_trust_free(u);
	u = NULL;

	/* a saved file the root's keys do not sign is dropped; a damaged one is an error */
	assert_int_equal(rf_tuf_write_file(dfd, "timestamp.json", find(&w.repo, "targets.json")->buf,
					   find(&w.repo, "targets.json")->len, 0600, false, err, sizeof err),
			 RF_TUF_OK);
	expect(rf_tuf_trust_load(dir, NULL, &u, err, sizeof err), RF_TUF_E_FORMAT, "payloadType");
	w.roles[3].k[0] = &K[7];
	publish(&w);
	rf_tuf_write_file(dfd, "timestamp.json", file_of(&w, 3)->buf, file_of(&w, 3)->len, 0600, false, err,
			  sizeof err);
	expect(rf_tuf_trust_load(dir, NULL, &u, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(rf_tuf_version(u, "timestamp"), 0);
	assert_int_equal(rf_tuf_version(u, "snapshot"), 2);
	rf_tuf_trust_free(u);
	u = NULL;
	/* a symbolic link is not followed */
	unlinkat(dfd, "timestamp.json", 0);
	assert_int_equal(symlinkat("targets.json", dfd, "timestamp.json"), 0);
	expect(rf_tuf_trust_load(dir, NULL, &u, err, sizeof err), RF_TUF_E_IO, "symbolic link");

	/* no root.json: the initial root, or nothing */
	unlinkat(dfd, "root.json", 0);
	expect(rf_tuf_trust_load(dir, NULL, &u, err, sizeof err), RF_TUF_E_MISSING, NULL);
	snprintf(path, sizeof path, "%s/nothing", w.dir);
	expect(rf_tuf_trust_load(path, w.root1, &u, err, sizeof err), RF_TUF_OK, NULL);
	assert_versions(u, 1, 0);
	/* a save of a state without targets removes the old file */
	expect(rf_tuf_trust_save(u, dir, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(faccessat(dfd, "targets.json", F_OK, 0), -1);
	rf_tuf_trust_free(u);
	u = NULL;
	/* an initial root not signed by its own keys */
	w.roles[0].k[0] = &K[1];
	put_root(&w, 1, NOW + DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	struct file *f = find(&w.repo, "1.root.json");
	rf_tuf_write_file(AT_FDCWD, w.root1, f->buf, f->len, 0600, false, err, sizeof err);
	expect(rf_tuf_trust_load(path, w.root1, &u, err, sizeof err), RF_TUF_E_SIGNATURE, "its own root");
	close(dfd);
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_unchanged_after_failure(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	/* root 2 valid, but the targets then fail: root 1 stays */
	put_root(&w, 2, NOW + 365 * DAY, (const struct rf_tuf_key *[]){ &K[0] }, 1);
	add_target(&w, "rf-detect/2.rfb", "rf-detect", 2, "bundle two");
	w.exp[1] = NOW - DAY;
	publish(&w);
	expect(refresh(t, &w), RF_TUF_E_EXPIRED, "targets.json");
	assert_versions(t, 1, 1);
	assert_int_equal(rf_tuf_ntargets(t), 1);
	assert_string_equal(rf_tuf_target_at(t, 0)->name, "rf-detect/1.rfb");
	w.exp[1] = NOW + DAY;
	publish(&w);
	expect(refresh(t, &w), RF_TUF_OK, NULL);
	assert_versions(t, 2, 3);
	assert_int_equal(rf_tuf_ntargets(t), 2);
	rf_tuf_trust_free(t);
	world_free(&w);
}

/* ---- documents and names ---- */

/* Publishes targets.json with payload text as it is and refreshes. */
static enum rf_tuf_err with_targets(struct world *w, struct rf_tuf_trust *t, const char *text)
{
	char *doc = strdup(text);
	put_role(w, 1, doc);
	w->ver[1]++;
	w->ver[2]++;
	w->ver[3]++;
	relist(w, 2);
	return refresh(t, w);
}

static void test_schema(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = refreshed(&w);
	char doc[1024];
	const char *head = "{\"_type\":\"targets\",\"spec_version\":\"ringfence-tuf/1\",\"version\":%d,"
			   "\"expires\":\"2027-02-01T00:00:00Z\",\"targets\":{%s}%s}";
	const char *entry = "\"%s\":{\"length\":3,\"hashes\":{\"sha256\":\"%064d\"},\"custom\":{\"client\":\"c\","
			    "\"version\":1,\"content_version\":\"x\",\"abi\":[1,1],\"cohorts\":[%s]}%s}";
	char e[400];
	static const struct {
		const char *name, *cohorts, *extra_entry, *extra_doc, *needle;
	} cases[] = {
		{ "a/b", "", "", "", NULL },
		{ "a/b", "", ",\"x\":1", "", "targets.a/b: unknown field \"x\"" },
		{ "a/b", "", "", ",\"more\":true", "unknown field \"more\"" },
		{ "../b", "", "", "", "not a valid target name" },
		{ "/b", "", "", "", "not a valid target name" },
		{ "a//b", "", "", "", "not a valid target name" },
		{ "a/./b", "", "", "", "not a valid target name" },
		{ "a b", "", "", "", "not a valid target name" },
		{ "a/b", "\"ok\",\"ok\"", "", "", "listed twice" },
		{ "a/b", "\"a\",\"b\",\"c\",\"d\",\"e\"", "", "", "at most 4" },
		{ "a/b", "\"this-is-too-long-a-cohort\"", "", "", "not a cohort name" },
		{ "a/b", "1", "", "", "not a string" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		snprintf(e, sizeof e, entry, cases[i].name, 0, cases[i].cohorts, cases[i].extra_entry);
		snprintf(doc, sizeof doc, head, (int)w.ver[1] + 1, e, cases[i].extra_doc);
		expect(with_targets(&w, t, doc), cases[i].needle ? RF_TUF_E_FORMAT : RF_TUF_OK, cases[i].needle);
	}
	/* types, ranges, missing fields, duplicate client versions */
	static const struct {
		const char *from, *to, *needle;
	} edits[] = {
		{ "\"length\":3", "\"length\":\"3\"", "length: not an integer" },
		{ "\"length\":3", "\"length\":0", "out of range" },
		{ "\"length\":3", "\"length\":3.0", "not an integer" },
		{ "\"abi\":[1,1]", "\"abi\":[2,1]", "min above max" },
		{ "\"abi\":[1,1]", "\"abi\":[1]", "not [min, max]" },
		{ "\"abi\":[1,1]", "\"abi\":[1,4294967296]", "out of range" },
		{ "\"client\":\"c\",", "", "missing field \"client\"" },
		{ "\"client\":\"c\"", "\"client\":\"c/d\"", "not a client name" },
		{ "\"content_version\":\"x\"", "\"content_version\":\"\\u0001\"", "not printable" },
		{ "\"content_version\":\"x\"", "\"content_version\":\"x\\u0000y\"", "NUL" },
		{ "\"sha256\":\"0000", "\"sha256\":\"A000", "hex" },
		{ "ringfence-tuf/1", "ringfence-tuf/2", "spec_version: unsupported" },
		{ "2027-02-01T00:00:00Z", "2027-02-30T00:00:00Z", "expires: not an RFC 3339" },
		{ "2027-02-01T00:00:00Z", "2027-02-01 00:00:00Z", "expires: not an RFC 3339" },
		{ "\"_type\":\"targets\"", "\"_type\":\"snapshot\"", "_type: \"snapshot\"" },
		{ "\"version\":", "\"version\":-", "out of range" },
		{ "\"version\":", "\"version\":99999999999999999999", "out of range" },
	};
	for (size_t i = 0; i < sizeof edits / sizeof edits[0]; i++) {
		snprintf(e, sizeof e, entry, "a/b", 0, "", "");
		snprintf(doc, sizeof doc, head, (int)w.ver[1] + 1, e, "");
		char *at = strstr(doc, edits[i].from), out[1100];
		assert_non_null(at);
		snprintf(out, sizeof out, "%.*s%s%s", (int)(at - doc), doc, edits[i].to, at + strlen(edits[i].from));
		expect(with_targets(&w, t, out), RF_TUF_E_FORMAT, edits[i].needle);
	}
	char e2[400];
	snprintf(e, sizeof e, entry, "a/b", 0, "", "");
	snprintf(e2, sizeof e2, entry, "a/c", 0, "", "");
	strcat(e, ",");
	strcat(e, e2);
	snprintf(doc, sizeof doc, head, (int)w.ver[1] + 1, e, "");
	expect(with_targets(&w, t, doc), RF_TUF_E_FORMAT, "both version 1 of c");
	/* not JSON, trailing data, not an object */
	expect(with_targets(&w, t, "{\"_type\":"), RF_TUF_E_FORMAT, "payload: not valid JSON");
	expect(with_targets(&w, t, "{} {}"), RF_TUF_E_FORMAT, "payload: not valid JSON");
	expect(with_targets(&w, t, "{}x"), RF_TUF_E_FORMAT, "payload: not valid JSON");
	expect(with_targets(&w, t, "[1]"), RF_TUF_E_FORMAT, "not a JSON object");
	expect(with_targets(&w, t, "{\"a\":1,}"), RF_TUF_E_FORMAT, "not valid JSON");
	assert_int_equal(rf_tuf_ntargets(t), 1);
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_envelope(void **state)
{
	struct world w;
	world_init(&w);
	struct rf_tuf_trust *t = anchor(&w);
	static const struct {
		const char *text, *needle;
	} cases[] = {
		{ "", "not valid JSON" },
		{ "{}", "missing field \"payloadType\"" },
		{ "{\"payloadType\":\"application/vnd.ringfence.timestamp+json\",\"payload\":\"e30=\","
		  "\"signatures\":[],\"x\":1}", "unknown field \"x\"" },
		{ "{\"payloadType\":\"application/vnd.ringfence.timestamp+json\",\"payload\":\"e30\","
		  "\"signatures\":[]}", "payload: not base64" },
		{ "{\"payloadType\":\"application/vnd.ringfence.timestamp+json\",\"payload\":\"e3 0=\","
		  "\"signatures\":[]}", "payload: not base64" },
		{ "{\"payloadType\":\"text/plain\",\"payload\":\"e30=\",\"signatures\":[]}", "payloadType" },
		{ "{\"payloadType\":\"application/vnd.ringfence.timestamp+json\",\"payload\":\"e30=\","
		  "\"signatures\":[{\"keyid\":\"00\",\"sig\":\"\"}]}", "signatures[0].keyid" },
		{ "{\"payloadType\":\"application/vnd.ringfence.timestamp+json\",\"payload\":\"e30=\","
		  "\"signatures\":{}}", "signatures: not an array" },
		{ "{\"payloadType\":\"application/vnd.ringfence.timestamp+json\",\"payload\":\"e30=\","
		  "\"signatures\":[]}", "0 valid signature(s)" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		put_copy(&w.repo, "timestamp.json", cases[i].text, strlen(cases[i].text));
		expect(refresh(t, &w), strstr(cases[i].needle, "valid sig") ? RF_TUF_E_SIGNATURE : RF_TUF_E_FORMAT,
		       cases[i].needle);
	}
	/* the NUL byte inside the JSON text */
	put_copy(&w.repo, "timestamp.json", "{\"a\":\"\0\"}", 9);
	expect(refresh(t, &w), RF_TUF_E_FORMAT, "not a JSON text");

	/* sign, add a signature, read back */
	unsigned char *env, *env2, *env3;
	size_t len, len2, len3;
	uint64_t v;
	int64_t exp;
	char *doc = rf_tuf_meta_json("snapshot", 5, NOW, 4, "abc", 3);
	assert_int_equal(rf_tuf_sign_envelope("snapshot", doc, strlen(doc), &K[4], 1, &env, &len, err, sizeof err),
			 RF_TUF_OK);
	assert_int_equal(env[len - 1], '\n');
	assert_int_equal(rf_tuf_add_signature(env, len, &K[4], &env2, &len2, err, sizeof err), RF_TUF_OK);
	assert_int_equal(len2, len);
	assert_memory_equal(env2, env, len);
	assert_int_equal(rf_tuf_add_signature(env, len, &K[5], &env3, &len3, err, sizeof err), RF_TUF_OK);
	assert_true(len3 > len);
	expect(rf_tuf_peek(env3, len3, "snapshot", &v, &exp, NULL, NULL, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(v, 5);
	assert_int_equal(exp, NOW);
	expect(rf_tuf_peek(env3, len3, "timestamp", &v, &exp, NULL, NULL, err, sizeof err), RF_TUF_E_FORMAT,
	       "payloadType");
	assert_int_equal(rf_tuf_sign_envelope("nope", doc, strlen(doc), &K[4], 1, &env, &len, err, sizeof err),
			 RF_TUF_E_FORMAT);
	assert_null(rf_tuf_meta_json("targets", 1, NOW, 1, "", 0));
	free(doc);
	free(env);
	free(env2);
	free(env3);
	rf_tuf_trust_free(t);
	world_free(&w);
}

static void test_names_times(void **state)
{
	static const char *const good[] = { "a", "rf-detect/3-0123456789abcdef.rfb", "A_b.c-d/e/f", ".hidden",
					    "x.", "a/b-/c" };
	static const char *const bad[] = { "", "/a", "a/", "a//b", "..", "a/../b", "a..b", ".", "a/./b", "a b",
					   "a\\b", "a\nb", "é", "a:b" };
	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
		assert_true(rf_tuf_valid_target_name(good[i]));
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (rf_tuf_valid_target_name(bad[i]))
			fail_msg("target name \"%s\" accepted", bad[i]);
	char longname[RF_TUF_NAME_MAX + 1];
	memset(longname, 'a', sizeof longname);
	longname[RF_TUF_NAME_MAX - 1] = '\0';
	assert_true(rf_tuf_valid_target_name(longname));
	longname[RF_TUF_NAME_MAX - 1] = 'a';
	longname[RF_TUF_NAME_MAX] = '\0';
	assert_false(rf_tuf_valid_target_name(longname));

	assert_true(rf_tuf_valid_client("rf-detect"));
	char client[RF_TUF_CLIENT_MAX + 1];
	memset(client, 'c', sizeof client);
	client[RF_TUF_CLIENT_MAX - 1] = '\0';
	assert_true(rf_tuf_valid_client(client));
	client[RF_TUF_CLIENT_MAX - 1] = 'c';
	client[RF_TUF_CLIENT_MAX] = '\0';
	assert_false(rf_tuf_valid_client(client));
	assert_false(rf_tuf_valid_client(""));
	assert_false(rf_tuf_valid_client("a/b"));
	assert_true(rf_tuf_valid_cohort("canary"));
	assert_false(rf_tuf_valid_cohort("0123456789abcdef"));

	int64_t t;
	char s[21];
	assert_int_equal(rf_tuf_parse_time("2026-11-21T12:00:00Z", &t), 0);
	assert_int_equal(t, INT64_C(1795262400));
	assert_int_equal(rf_tuf_parse_time("1970-01-01T00:00:00Z", &t), 0);
	assert_int_equal(t, 0);
	assert_int_equal(rf_tuf_parse_time("2024-02-29T23:59:59Z", &t), 0);
	assert_int_equal(t, INT64_C(1709251199));
	static const char *const badt[] = { "2023-02-29T00:00:00Z", "2026-13-01T00:00:00Z", "2026-11-21T24:00:00Z",
					    "2026-11-21T12:00:60Z", "2026-11-21T12:00:00", "2026-11-21T12:00:00+00:00",
					    "2026-11-21t12:00:00Z", " 2026-11-21T12:00:00Z", "2026-11-00T12:00:00Z" };
	for (size_t i = 0; i < sizeof badt / sizeof badt[0]; i++)
		assert_int_equal(rf_tuf_parse_time(badt[i], &t), -EINVAL);
	static const int64_t round[] = { 0, 1, 951782400 /* 2000-02-29 */, 1795262400, -86400, 253402300799 };
	for (size_t i = 0; i < sizeof round / sizeof round[0]; i++) {
		rf_tuf_format_time(round[i], s);
		assert_int_equal(rf_tuf_parse_time(s, &t), 0);
		assert_int_equal(t, round[i]);
	}
	rf_tuf_format_time(INT64_MAX, s);
	assert_string_equal(s, "9999-12-31T23:59:59Z");
	rf_tuf_format_time(INT64_MIN, s);
	assert_string_equal(s, "0000-01-01T00:00:00Z");
	rf_tuf_format_time(-86400, s);
	assert_string_equal(s, "1969-12-31T00:00:00Z");

	char id[65];
	rf_tuf_keyid(K[0].pub, id);
	assert_int_equal(strlen(id), 64);
	assert_int_equal(strspn(id, "0123456789abcdef"), 64);
	assert_string_equal(rf_tuf_err_name(RF_TUF_E_TOO_BIG), "too-big");
	assert_string_equal(rf_tuf_err_name(RF_TUF_E_MISMATCH), "mismatch");
	assert_string_equal(rf_tuf_err_name(RF_TUF_E_COUNT), "unknown");
}

/* ---- the local fetcher ---- */

static void test_local_source(void **state)
{
	char dir[] = "/tmp/test_tuf_src.XXXXXX", url[64], path[96];
	unsigned char *buf;
	size_t len;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof path, "%s/targets", dir);
	assert_int_equal(mkdir(path, 0755), 0);
	snprintf(path, sizeof path, "%s/targets/a.rfb", dir);
	FILE *f = fopen(path, "w");
	fputs("0123456789", f);
	fclose(f);
	snprintf(path, sizeof path, "%s/timestamp.json", dir);
	assert_int_equal(symlink("targets/a.rfb", path), 0);
	snprintf(path, sizeof path, "%s/fifo.json", dir);
	assert_int_equal(mkfifo(path, 0600), 0);

	snprintf(url, sizeof url, "file://%s", dir);
	struct rf_tuf_source *s = rf_tuf_source_open(url, err, sizeof err);
	assert_non_null(s);
	expect(rf_tuf_source_fetch(s, "targets/a.rfb", 10, &buf, &len, err, sizeof err), RF_TUF_OK, NULL);
	assert_int_equal(len, 10);
	free(buf);
	expect(rf_tuf_source_fetch(s, "targets/a.rfb", 9, &buf, &len, err, sizeof err), RF_TUF_E_TOO_BIG, NULL);
	expect(rf_tuf_source_fetch(s, "targets/b.rfb", 9, &buf, &len, err, sizeof err), RF_TUF_E_MISSING, NULL);
	expect(rf_tuf_source_fetch(s, "2.root.json", 9, &buf, &len, err, sizeof err), RF_TUF_E_MISSING, NULL);
	expect(rf_tuf_source_fetch(s, "timestamp.json", 100, &buf, &len, err, sizeof err), RF_TUF_E_IO, "symbolic");
	expect(rf_tuf_source_fetch(s, "fifo.json", 100, &buf, &len, err, sizeof err), RF_TUF_E_IO, "regular");
	expect(rf_tuf_source_fetch(s, "targets", 100, &buf, &len, err, sizeof err), RF_TUF_E_IO, "regular");
	static const char *const bad[] = { "../x", "targets/../timestamp.json", "/etc/passwd", "a/b.json", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		expect(rf_tuf_source_fetch(s, bad[i], 100, &buf, &len, err, sizeof err), RF_TUF_E_IO,
		       "not a repository file name");
	rf_tuf_source_close(s);
	s = rf_tuf_source_open(dir, err, sizeof err);
	assert_non_null(s);
	rf_tuf_source_close(s);
	rf_tuf_source_close(NULL);
	assert_null(rf_tuf_source_open("ftp://example.com/", err, sizeof err));
	assert_null(rf_tuf_source_open("file://relative", err, sizeof err));
	assert_null(rf_tuf_source_open("/nonexistent/repo", err, sizeof err));
	s = rf_tuf_source_open("http://127.0.0.1:9/", err, sizeof err);
	assert_non_null(s);
	rf_tuf_source_close(s);
	rm_rf(dir);
}

int main(void)
{
	if (sodium_init() < 0)
		return 1;
	for (int i = 0; i < NKEYS; i++) {
		uint8_t seed[32];
		memset(seed, 0x41 + i, sizeof seed);
		rf_tuf_key_from_seed(seed, &K[i]);
	}
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_good_refresh),
		cmocka_unit_test(test_forged_signature),
		cmocka_unit_test(test_threshold),
		cmocka_unit_test(test_duplicate_signature),
		cmocka_unit_test(test_tampered_payload),
		cmocka_unit_test(test_rollback),
		cmocka_unit_test(test_expired),
		cmocka_unit_test(test_too_big),
		cmocka_unit_test(test_hash),
		cmocka_unit_test(test_rotation_good),
		cmocka_unit_test(test_rotation_bad),
		cmocka_unit_test(test_rotation_cap),
		cmocka_unit_test(test_save_load),
		cmocka_unit_test(test_unchanged_after_failure),
		cmocka_unit_test(test_schema),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_names_times),
		cmocka_unit_test(test_local_source),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
