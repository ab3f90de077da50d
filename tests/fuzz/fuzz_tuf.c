/*
 * fuzz_tuf.c - libFuzzer harness for the signed content metadata
 * (src/content/tuf.c): the envelope and document parsers and the whole
 * client workflow, against a fixed root made from fixed seeds.
 *
 * An input's first line says how it is used:
 *   #files      the rest is the repository: "@@ NAME" lines, each followed
 *               by that file's bytes (up to the next "@@ " line), served to
 *               rf_tuf_refresh and rf_tuf_fetch_target
 *   #root #targets #snapshot #timestamp
 *               the rest is that role's document, which the harness signs
 *               with the fixed keys (a root as 2.root.json, by the old and
 *               new root keys) and serves with the fixed repository's other
 *               files, so that mutations reach the schema checks behind the
 *               signatures
 * Every input is also given to rf_tuf_peek as each role's envelope.
 * Checked: what a refresh accepts is within the documented ranges; a
 * refused refresh leaves the trust as it was and says why.
 *
 * Built with -DFUZZ_TUF_GEN, this file is the seed generator instead:
 * `make fuzz-corpus-tuf` writes tests/fuzz/corpus/tuf/.
 */
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sodium.h>

#include "content/tuf.h"

#define CHECK(c) do { if (!(c)) __builtin_trap(); } while (0)

#define NOW     INT64_C(1800000000)      /* 2027-01-15 */
#define EXPIRES INT64_C(4102444800)      /* 2100-01-01 */
#define MAX_FILES 16

static const char *const roles[4] = { "root", "targets", "snapshot", "timestamp" };
static const char *const files[4] = { "root.json", "targets.json", "snapshot.json", "timestamp.json" };
static const char bundle[] = "a ringfence bundle, or anything else";

/* K[0] root, K[1] targets, K[2] snapshot, K[3] timestamp, K[4] the next root */
static struct rf_tuf_key K[5];

struct file {
	char name[160];
	const unsigned char *buf;
	size_t len;
};

struct repo {
	struct file f[MAX_FILES];
	unsigned n;
};

/* The fixed repository: signed envelopes of every role, one target. */
static struct fixed {
	unsigned char *env[4];
	size_t len[4];
	char *doc[4];                /* the payloads, for the seeds */
	char root_path[64];          /* 1.root.json, the trust anchor (a memfd) */
} fx;

static void add(struct repo *r, const char *name, const void *buf, size_t len)
{
	if (r->n == MAX_FILES)
		return;
	struct file *f = &r->f[r->n++];
	snprintf(f->name, sizeof f->name, "%s", name);
	f->buf = buf;
	f->len = len;
}

static enum rf_tuf_err fetch(void *ctx, const char *name, size_t max, unsigned char **ret_buf, size_t *ret_len,
			     char *err, size_t errlen)
{
	struct repo *r = ctx;
	for (unsigned i = 0; i < r->n; i++) {
		if (strcmp(r->f[i].name, name) != 0)
			continue;
		if (r->f[i].len > max) {
			snprintf(err, errlen, "%s: too big", name);
			return RF_TUF_E_TOO_BIG;
		}
		*ret_buf = malloc(r->f[i].len + 1);
		CHECK(*ret_buf);
		memcpy(*ret_buf, r->f[i].buf, r->f[i].len);
		*ret_len = r->f[i].len;
		return RF_TUF_OK;
	}
	snprintf(err, errlen, "%s: not found", name);
	return RF_TUF_E_MISSING;
}

static unsigned char *sign(const char *role, const char *doc, size_t len, const struct rf_tuf_key *keys,
			   size_t nkeys, size_t *ret_len)
{
	unsigned char *env = NULL;
	char err[256];
	if (rf_tuf_sign_envelope(role, doc, len, keys, nkeys, &env, ret_len, err, sizeof err) != RF_TUF_OK)
		return NULL;
	return env;
}

static char *root_doc(uint64_t version, const struct rf_tuf_key *root)
{
	struct rf_tuf_role_spec spec[4];
	for (int r = 0; r < 4; r++)
		spec[r] = (struct rf_tuf_role_spec){ .pub = r ? &K[r].pub : &root->pub, .nkeys = 1, .threshold = 1 };
	return rf_tuf_root_json(version, EXPIRES, spec);
}

static void fixed_init(void)
{
	if (fx.env[0])
		return;
	for (int i = 0; i < 5; i++) {
		uint8_t seed[32];
		memset(seed, 0x61 + i, sizeof seed);
		rf_tuf_key_from_seed(seed, &K[i]);
	}
	struct rf_tuf_target tg = { .name = "rf-detect/1-0123456789abcdef.rfb", .client = "rf-detect",
				    .length = sizeof bundle - 1, .version = 1, .content_version = "seed-1",
				    .abi_min = 1, .abi_max = 1, .cohorts = { "canary" }, .ncohorts = 1 };
	crypto_hash_sha256(tg.sha256, (const unsigned char *)bundle, sizeof bundle - 1);
	fx.doc[0] = root_doc(1, &K[0]);
	fx.doc[1] = rf_tuf_targets_json(1, EXPIRES, &tg, 1);
	for (int r = 0; r < 4; r++) {
		if (r >= 2)
			fx.doc[r] = rf_tuf_meta_json(roles[r], 1, EXPIRES, 1, fx.env[r - 1], fx.len[r - 1]);
		CHECK(fx.doc[r]);
		fx.env[r] = sign(roles[r], fx.doc[r], strlen(fx.doc[r]), &K[r], 1, &fx.len[r]);
		CHECK(fx.env[r]);
	}
	/* the trust anchor as a file rf_tuf_trust_load can read, leaving nothing behind */
	int fd = memfd_create("tuf-root", 0);
	CHECK(fd >= 0 && write(fd, fx.env[0], fx.len[0]) == (ssize_t)fx.len[0]);
	snprintf(fx.root_path, sizeof fx.root_path, "/proc/self/fd/%d", fd);
}

/* The fixed files but those the input replaces. */
static void add_fixed(struct repo *r)
{
	for (int k = 1; k < 4; k++) {
		unsigned i = 0;
		while (i < r->n && strcmp(r->f[i].name, files[k]) != 0)
			i++;
		if (i == r->n)
			add(r, files[k], fx.env[k], fx.len[k]);
	}
	add(r, "targets/rf-detect/1-0123456789abcdef.rfb", bundle, sizeof bundle - 1);
}

static void check_target(const struct rf_tuf_target *t)
{
	CHECK(rf_tuf_valid_target_name(t->name));
	CHECK(rf_tuf_valid_client(t->client));
	CHECK(t->version >= 1 && t->length >= 1 && t->length <= RF_TUF_TARGET_MAX);
	size_t n = strnlen(t->content_version, sizeof t->content_version);
	CHECK(n >= 1 && n < sizeof t->content_version);
	for (size_t i = 0; i < n; i++)
		CHECK(t->content_version[i] >= 0x21 && t->content_version[i] <= 0x7e);
	CHECK(t->abi_min >= 1 && t->abi_min <= t->abi_max);
	CHECK(t->ncohorts <= RF_TUF_MAX_COHORTS);
	for (unsigned i = 0; i < t->ncohorts; i++)
		CHECK(rf_tuf_valid_cohort(t->cohorts[i]));
}

static enum rf_tuf_err run(struct repo *r)
{
	struct rf_tuf_trust *t = NULL;
	char err[512] = "";
	CHECK(rf_tuf_trust_load(NULL, fx.root_path, &t, err, sizeof err) == RF_TUF_OK);
	enum rf_tuf_err e = rf_tuf_refresh(t, fetch, r, NOW, err, sizeof err);
	if (e != RF_TUF_OK) {
		CHECK(e < RF_TUF_E_COUNT && err[0] && strnlen(err, sizeof err) < sizeof err);
		CHECK(rf_tuf_version(t, "root") == 1 && rf_tuf_version(t, "timestamp") == 0);
		CHECK(rf_tuf_ntargets(t) == 0);
		rf_tuf_trust_free(t);
		return e;
	}
	CHECK(rf_tuf_version(t, "root") >= 1 && rf_tuf_version(t, "targets") >= 1);
	for (int k = 0; k < 4; k++)
		CHECK(rf_tuf_expires(t, roles[k]) > NOW);
	CHECK(rf_tuf_ntargets(t) <= RF_TUF_MAX_TARGETS);
	for (size_t i = 0; i < rf_tuf_ntargets(t); i++) {
		const struct rf_tuf_target *tg = rf_tuf_target_at(t, i);
		unsigned char *buf;
		size_t len;
		check_target(tg);
		if (rf_tuf_fetch_target(tg, fetch, r, &buf, &len, err, sizeof err) == RF_TUF_OK) {
			CHECK(len == tg->length);
			free(buf);
		} else {
			e = RF_TUF_E_HASH;   /* for the seed generator: every seed's targets are good */
		}
	}
	rf_tuf_trust_free(t);
	return e;
}

/* "#files": "@@ NAME\n" then the bytes up to the next line starting "@@ ". */
static enum rf_tuf_err run_files(const char *p, const char *end)
{
	struct repo r = { 0 };
	while (p < end && r.n < MAX_FILES) {
		if (end - p < 3 || memcmp(p, "@@ ", 3) != 0)
			break;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		if (!nl || nl - p - 3 >= 160)
			break;
		char name[160];
		snprintf(name, sizeof name, "%.*s", (int)(nl - p - 3), p + 3);
		const char *body = nl + 1, *q = body;
		while (q < end && !(end - q >= 4 && memcmp(q, "\n@@ ", 4) == 0))
			q++;
		if (q < end)
			q++;   /* the newline belongs to the file */
		add(&r, name, body, (size_t)(q - body));
		p = q;
	}
	return run(&r);
}

/* "#ROLE": the document, signed here, listed by its parents and served with the fixed files. */
static enum rf_tuf_err run_doc(int role, const char *doc, size_t len)
{
	struct repo r = { 0 };
	unsigned char *own[3] = { NULL };
	size_t olen[3];

	if (role == 0) {
		const struct rf_tuf_key both[2] = { K[0], K[4] };
		own[0] = sign("root", doc, len, both, 2, &olen[0]);
		if (own[0])
			add(&r, "2.root.json", own[0], olen[0]);
	} else if ((own[0] = sign(roles[role], doc, len, &K[role], 1, &olen[0]))) {
		add(&r, files[role], own[0], olen[0]);
		for (int p = role + 1, i = 1; p < 4; p++, i++) {
			/* listed as the version it says it is, to get past the mismatch check */
			uint64_t v;
			int64_t exp;
			if (rf_tuf_peek(own[i - 1], olen[i - 1], roles[p - 1], &v, &exp, NULL, NULL, NULL, 0) != RF_TUF_OK)
				v = 1;
			char *meta = rf_tuf_meta_json(roles[p], 1, EXPIRES, v, own[i - 1], olen[i - 1]);
			own[i] = meta ? sign(roles[p], meta, strlen(meta), &K[p], 1, &olen[i]) : NULL;
			free(meta);
			if (!own[i])
				break;
			add(&r, files[p], own[i], olen[i]);
		}
	}
	add_fixed(&r);
	enum rf_tuf_err e = run(&r);
	for (int i = 0; i < 3; i++)
		free(own[i]);
	return e;
}

/* Every parser on data; returns the refresh's result (RF_TUF_E_COUNT: no refresh). */
static enum rf_tuf_err one_input(const uint8_t *data, size_t size)
{
	static const char *const heads[5] = { "#files\n", "#root\n", "#targets\n", "#snapshot\n", "#timestamp\n" };
	const char *p = (const char *)data;
	fixed_init();
	for (int r = 0; r < 4; r++) {
		uint64_t v;
		int64_t exp;
		struct rf_tuf_target *tg = NULL;
		size_t n = 0;
		char err[256] = "";
		if (rf_tuf_peek(data, size, roles[r], &v, &exp, &tg, &n, err, sizeof err) == RF_TUF_OK) {
			CHECK(v >= 1 && n <= RF_TUF_MAX_TARGETS);
			for (size_t i = 0; i < n; i++)
				check_target(&tg[i]);
			free(tg);
		} else {
			CHECK(err[0]);
		}
	}
	for (int h = 0; h < 5; h++) {
		size_t n = strlen(heads[h]);
		if (size >= n && memcmp(p, heads[h], n) == 0)
			return h == 0 ? run_files(p + n, p + size) : run_doc(h - 1, p + n, size - n);
	}
	return RF_TUF_E_COUNT;
}

#ifndef FUZZ_TUF_GEN

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	one_input(data, size);
	return 0;
}

#else

/* Writes a seed, after checking that the harness takes it as it should. */
static void put(const char *dir, const char *name, const char *head, const struct repo *r, const char *doc,
		enum rf_tuf_err want)
{
	char path[512], *buf = NULL;
	size_t len = 0;
	FILE *m = open_memstream(&buf, &len);
	CHECK(m);
	fputs(head, m);
	for (unsigned i = 0; r && i < r->n; i++) {
		fprintf(m, "@@ %s\n", r->f[i].name);
		fwrite(r->f[i].buf, 1, r->f[i].len, m);
	}
	if (doc)
		fputs(doc, m);
	CHECK(fclose(m) == 0);
	if (one_input((const uint8_t *)buf, len) != want) {
		fprintf(stderr, "gen_tuf_corpus: seed %s is not taken as it should be\n", name);
		exit(1);
	}
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	CHECK(f && fwrite(buf, 1, len, f) == len && fclose(f) == 0);
	free(buf);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: gen_tuf_corpus DIR\n");
		return 2;
	}
	fixed_init();
	struct repo r = { 0 }, r2 = { 0 };
	add_fixed(&r);
	put(argv[1], "files-good", "#files\n", &r, NULL, RF_TUF_OK);
	/* a rotation to root key K[4] */
	char *doc = root_doc(2, &K[4]);
	const struct rf_tuf_key both[2] = { K[0], K[4] };
	size_t len;
	unsigned char *env = sign("root", doc, strlen(doc), both, 2, &len);
	add(&r2, "2.root.json", env, len);
	add_fixed(&r2);
	put(argv[1], "files-rotation", "#files\n", &r2, NULL, RF_TUF_OK);
	put(argv[1], "root", "#root\n", NULL, doc, RF_TUF_OK);
	put(argv[1], "targets", "#targets\n", NULL, fx.doc[1], RF_TUF_OK);
	put(argv[1], "snapshot", "#snapshot\n", NULL, fx.doc[2], RF_TUF_OK);
	put(argv[1], "timestamp", "#timestamp\n", NULL, fx.doc[3], RF_TUF_OK);
	put(argv[1], "envelope", "", NULL, (const char *)fx.env[3], RF_TUF_E_COUNT);
	free(env);
	free(doc);
	return 0;
}

#endif
