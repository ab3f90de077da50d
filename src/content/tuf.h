/*
 * tuf.h - signed content metadata in the style of The Update Framework.
 *
 * Four roles, each a JSON document inside a signing envelope:
 *   root       the keys (Ed25519) and thresholds of every role; rotated by
 *              publishing N+1.root.json signed by the thresholds of root N
 *              and of root N+1
 *   targets    every content bundle: its length, SHA-256, client, monotonic
 *              version, content_version string, engine ABI range, cohorts
 *   snapshot   the version, length and hash of targets.json
 *   timestamp  the version, length and hash of snapshot.json; short-lived
 * The envelope signs the payload bytes as they are (no canonical JSON):
 *   {"payloadType":"application/vnd.ringfence.<role>+json",
 *    "payload":"<base64 of the role's JSON>",
 *    "signatures":[{"keyid":"<hex>","sig":"<base64>"}]}
 * and each signature is Ed25519 over the DSSE pre-authentication encoding
 *   "DSSEv1" SP len(type) SP type SP len(payload) SP payload.
 * docs/CONTENT-DELIVERY.md describes the documents field by field.
 *
 * The endpoint's trusted state is a directory (STATE/content/trust) holding
 * the last verified root.json, timestamp.json, snapshot.json and
 * targets.json, each written with fsync and rename.  Everything read from a
 * repository is untrusted: sizes are capped before reading (timestamp and
 * root at RF_TUF_META_MAX, snapshot and targets at the length the verified
 * parent lists, targets at their listed length), signatures are checked
 * before the payload is parsed, versions never go back, expired metadata is
 * refused.
 */
#ifndef RF_CONTENT_TUF_H
#define RF_CONTENT_TUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RF_TUF_META_MAX      (1u << 20)     /* root.json, timestamp.json cap */
#define RF_TUF_TARGET_MAX    (256u << 20)   /* no bundle may list more */
#define RF_TUF_MAX_KEYS      16             /* per role */
#define RF_TUF_MAX_TARGETS   256
#define RF_TUF_NAME_MAX      128            /* target path within targets/ */
#define RF_TUF_CLIENT_MAX    64             /* = RF_NAME_MAX: 1..63 characters */
#define RF_TUF_CVER_MAX      32             /* content_version string, with NUL */
#define RF_TUF_MAX_COHORTS   4
#define RF_TUF_COHORT_MAX    16
#define RF_TUF_ROOT_CHAIN_MAX 64            /* root versions walked in one refresh */

/* Why a refresh or a target fetch failed; docs and status use the names. */
enum rf_tuf_err {
	RF_TUF_OK = 0,
	RF_TUF_E_IO,          /* could not read or write (errno in the message) */
	RF_TUF_E_MISSING,     /* a file the repository must have is not there */
	RF_TUF_E_FORMAT,      /* not a well-formed envelope or document */
	RF_TUF_E_SIGNATURE,   /* below threshold: forged or wrongly signed */
	RF_TUF_E_ROLLBACK,    /* a version lower than the trusted one */
	RF_TUF_E_EXPIRED,     /* freeze: metadata past its expiry */
	RF_TUF_E_TOO_BIG,     /* more bytes than the cap or listed length (endless data) */
	RF_TUF_E_HASH,        /* length or hash not what the parent lists (truncated, altered) */
	RF_TUF_E_MISMATCH,    /* version not what the parent lists */
	RF_TUF_E_COUNT
};

/* "io", "missing", "format", "signature", "rollback", "expired", "too-big", "hash", "mismatch" */
const char *rf_tuf_err_name(enum rf_tuf_err e);

struct rf_tuf_target {
	char name[RF_TUF_NAME_MAX];            /* path under the repository's targets/ */
	char client[RF_TUF_CLIENT_MAX];        /* manifest name it is for */
	uint64_t length;
	uint8_t sha256[32];
	uint64_t version;                      /* monotonic per client, >= 1 */
	char content_version[RF_TUF_CVER_MAX]; /* printable ASCII, 1..31 */
	uint32_t abi_min, abi_max;             /* engine ABI range, abi_min <= abi_max */
	char cohorts[RF_TUF_MAX_COHORTS][RF_TUF_COHORT_MAX]; /* empty list: every cohort */
	unsigned ncohorts;
};

/*
 * A fetcher reads one file of the repository ("timestamp.json",
 * "2.root.json", "targets/<name>") into a malloc'ed buffer.  It must not
 * read more than max bytes: when the file holds more it returns
 * RF_TUF_E_TOO_BIG; when it does not exist, RF_TUF_E_MISSING.
 */
typedef enum rf_tuf_err (*rf_tuf_fetch_fn)(void *ctx, const char *name, size_t max,
					    unsigned char **ret_buf, size_t *ret_len,
					    char *err, size_t errlen);

struct rf_tuf_trust;   /* opaque: the verified metadata */

/*
 * Loads the trusted state from dir (root.json must exist; the others are
 * optional).  The files were verified when saved; they are verified again
 * (signatures against the root itself, not expiry).  When dir has no
 * root.json and initial_root is not NULL, that file is taken as the trust
 * anchor (checked to be signed by its own threshold); dir may be NULL to
 * start from initial_root alone.  A saved timestamp, snapshot or targets
 * file that the root's keys for its role do not sign is dropped, as a
 * refresh drops it when a root rotation changed that role's keys (a save
 * interrupted by a crash can leave one behind); any other fault is an
 * error.  err gets a reason.
 */
enum rf_tuf_err rf_tuf_trust_load(const char *dir, const char *initial_root,
				  struct rf_tuf_trust **ret, char *err, size_t errlen);
void rf_tuf_trust_free(struct rf_tuf_trust *t);

/*
 * The client workflow: walk root versions N+1, N+2 ... (each signed by the
 * old and the new root's thresholds, versions exactly +1), then timestamp
 * (cap RF_TUF_META_MAX), snapshot (cap, hash and version as the timestamp
 * lists), targets (as the snapshot lists).  Each role's version must not be
 * lower than the trusted one; no document may be expired at now (seconds
 * since the epoch).  On success the new state is held in t (not yet saved);
 * on failure t is unchanged.  now may be INT64_MIN to check everything but
 * expiry (the repository tools check what they are about to publish so).
 * When a new root changes the keys or threshold of timestamp, snapshot or
 * targets, the trusted version of that role no longer bounds the new one
 * (recovery from a fast-forward attack, as in TUF).
 */
enum rf_tuf_err rf_tuf_refresh(struct rf_tuf_trust *t, rf_tuf_fetch_fn fetch, void *ctx,
			       int64_t now, char *err, size_t errlen);

/*
 * Writes the state to dir (created 0700 if missing), each file with fsync
 * and rename, then fsyncs dir; a role the state does not hold is removed.
 */
enum rf_tuf_err rf_tuf_trust_save(const struct rf_tuf_trust *t, const char *dir,
				  char *err, size_t errlen);

/* The verified targets (empty before a successful refresh or load of targets.json). */
size_t rf_tuf_ntargets(const struct rf_tuf_trust *t);
const struct rf_tuf_target *rf_tuf_target_at(const struct rf_tuf_trust *t, size_t i);
/* Versions and expiry of the trusted roles, for status (0 when absent). */
uint64_t rf_tuf_version(const struct rf_tuf_trust *t, const char *role);
int64_t rf_tuf_expires(const struct rf_tuf_trust *t, const char *role);

/*
 * Fetches "targets/<tg->name>" capped at tg->length and checks length and
 * SHA-256: RF_TUF_E_TOO_BIG (more bytes), RF_TUF_E_HASH (fewer or other).
 */
enum rf_tuf_err rf_tuf_fetch_target(const struct rf_tuf_target *tg, rf_tuf_fetch_fn fetch,
				    void *ctx, unsigned char **ret_buf, size_t *ret_len,
				    char *err, size_t errlen);

/*
 * Fetchers (fetch.c): a local directory, or an http:// or https:// base URL
 * (each file through a child process, rf-fetch, found through $RF_FETCH or
 * next to the running program; HTTP 403, 404 and 410 are RF_TUF_E_MISSING).
 * A source is used by one thread at a time.
 */
struct rf_tuf_source;
/* location is a directory path, file:///dir, http://... or https://... */
struct rf_tuf_source *rf_tuf_source_open(const char *location, char *err, size_t errlen);
void rf_tuf_source_close(struct rf_tuf_source *s);
enum rf_tuf_err rf_tuf_source_fetch(void *source, const char *name, size_t max,
				    unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen);

/*
 * ---- Names, times and files, for the broker and the tools ----
 */

/* Target names: [A-Za-z0-9._-] and '/' separators, no "..", "." or empty component. */
bool rf_tuf_valid_target_name(const char *s);
/* Client names: [A-Za-z0-9_.-], 1..RF_TUF_CLIENT_MAX-1 characters; cohorts the same, 1..15. */
bool rf_tuf_valid_client(const char *s);
bool rf_tuf_valid_cohort(const char *s);

/* RFC 3339 UTC, "2026-11-21T12:00:00Z" exactly: 0 or -EINVAL (*ret untouched). */
int rf_tuf_parse_time(const char *s, int64_t *ret);
/* The same format, years 0000..9999 (times outside are clamped). */
void rf_tuf_format_time(int64_t t, char ret[21]);

/*
 * Reads name (relative to dirfd, which may be AT_FDCWD) into a malloc'ed
 * buffer, refusing anything but a regular file; open_flags are added to
 * open()'s (O_NOFOLLOW for repositories and the trust directory).
 * RF_TUF_E_MISSING when it does not exist, RF_TUF_E_TOO_BIG when it holds
 * more than max bytes, RF_TUF_E_IO otherwise.
 */
enum rf_tuf_err rf_tuf_read_file(int dirfd, const char *name, size_t max, int open_flags,
				 unsigned char **ret_buf, size_t *ret_len, char *err, size_t errlen);

/*
 * Writes buf to name (relative to dirfd) with the given mode: a temporary
 * file in the same directory, fsync, rename (or, when exclusive, link, which
 * fails if name exists), fsync of the directory.  RF_TUF_E_IO on failure;
 * name is then unchanged.
 */
enum rf_tuf_err rf_tuf_write_file(int dirfd, const char *name, const void *buf, size_t len,
				  unsigned mode, bool exclusive, char *err, size_t errlen);

/*
 * ---- Writer side: the repository tools (rfctl content), tests, fuzz seeds ----
 * One implementation of the documents and the envelope, so that what the
 * tools write is what the client reads.
 */

/* An Ed25519 key pair; sec is libsodium's 64-byte form (seed, then pub). */
struct rf_tuf_key {
	uint8_t pub[32];
	uint8_t sec[64];
};
void rf_tuf_key_from_seed(const uint8_t seed[32], struct rf_tuf_key *ret);
/* Lowercase hex SHA-256 of the public key. */
void rf_tuf_keyid(const uint8_t pub[32], char ret[65]);

/* The keys and threshold of one role of a root document being written. */
struct rf_tuf_role_spec {
	const uint8_t (*pub)[32];
	unsigned nkeys, threshold;
};

/*
 * Role documents as JSON text (malloc'ed, NUL terminated), or NULL when out
 * of memory or given a role name other than those below.  The writers do
 * not check what they are given; the client's checks apply when the
 * document is read (rfctl content checks before it writes).
 *   roles: root, targets, snapshot, timestamp, in that order
 *   rf_tuf_meta_json: role "snapshot" lists child as targets.json, role
 *   "timestamp" lists it as snapshot.json
 */
char *rf_tuf_root_json(uint64_t version, int64_t expires, const struct rf_tuf_role_spec roles[4]);
char *rf_tuf_targets_json(uint64_t version, int64_t expires, const struct rf_tuf_target *tg, size_t n);
char *rf_tuf_meta_json(const char *role, uint64_t version, int64_t expires, uint64_t child_version,
		       const void *child, size_t child_len);

/*
 * Wraps payload in an envelope of role's payloadType, signed by keys (one
 * signature per distinct key), as malloc'ed text ending in a newline.
 */
enum rf_tuf_err rf_tuf_sign_envelope(const char *role, const void *payload, size_t len,
				     const struct rf_tuf_key *keys, size_t nkeys,
				     unsigned char **ret_env, size_t *ret_len, char *err, size_t errlen);
/*
 * The envelope env with key's signature added, replacing any signature
 * under the same key id (Ed25519 is deterministic, so signing twice gives
 * the same bytes).  Checks the envelope's form, not its other signatures.
 */
enum rf_tuf_err rf_tuf_add_signature(const void *env, size_t len, const struct rf_tuf_key *key,
				     unsigned char **ret_env, size_t *ret_len, char *err, size_t errlen);
/*
 * Reads the role document in env as a client would (envelope form, schema)
 * but without checking signatures, versions or expiry: the tools re-sign
 * what they read.  ret_targets (may be NULL) gets a malloc'ed array of a
 * targets document's targets, sorted by name.
 */
enum rf_tuf_err rf_tuf_peek(const void *env, size_t len, const char *role, uint64_t *ret_version,
			    int64_t *ret_expires, struct rf_tuf_target **ret_targets, size_t *ret_ntargets,
			    char *err, size_t errlen);

#endif
