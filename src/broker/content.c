/*
 * content.c - managed content: store, updates, trial, activation, blessing
 * and revert; see content.h and docs/CONTENT-DELIVERY.md.
 *
 * The loop thread owns every struct rf_cstore and decides; the worker
 * thread does what touches files or the network (refreshing the signed
 * metadata, downloading a bundle, saving a slots file) and hands the job
 * back through a pipe.  One job runs at a time, in order.
 */
#include "broker/content.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <limits.h>
#include <pthread.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/wire.h"

#define SLOTS_MAX (64u << 10)
#define TRIAL_AUTH_INFLIGHT 8    /* replayed AUTH events outstanding at once, as live ones would be */        /* a slots or controls file */
#define BLOB_MAX RF_TUF_TARGET_MAX

enum job_kind { JOB_CHECK = 1, JOB_FETCH, JOB_SAVE };

struct job {
	enum job_kind kind;
	int client;                      /* FETCH, SAVE of slots: slot index; -1 */
	struct rf_tuf_target target;     /* FETCH */
	char path[PATH_MAX];             /* SAVE: destination */
	char *text;                      /* SAVE: contents */
	/* results */
	enum rf_tuf_err err;
	char msg[256];
	struct rf_tuf_target *targets;   /* CHECK */
	size_t ntargets;
	uint64_t ver[4];                 /* CHECK: root, timestamp, snapshot, targets */
	int64_t exp[4];
	struct job *next;
};

struct win_rec {
	unsigned char *data;
	uint32_t len, cap;
};

struct rf_content {
	/* worker */
	pthread_t thread;
	bool started;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct job *head, *tail;
	bool quit;
	int pipe[2];                     /* worker -> loop: struct job * */
	unsigned inflight;               /* jobs posted, not yet handled by the loop */
	struct rf_tuf_trust *trust;      /* worker's */
	/* loop's */
	bool checking;
	uint64_t next_check_ms;
	bool paused;
	uint32_t delay_h;
	uint64_t last_check_ms;          /* realtime */
	char last_result[32];            /* "ok" or an rf_tuf_err name */
	char last_error[256];
	uint64_t checks, refused;
	uint64_t ver[4];
	int64_t exp[4];
	unsigned nmanaged;
	/* the window of recent events */
	struct win_rec *win;
	uint32_t nwin;
	uint64_t win_total;
};

static const char *const roles[4] = { "root", "timestamp", "snapshot", "targets" };

/* ---- files (worker thread, and the loop before any mark) ---- */

/* Writes path atomically (tuf.c's writer), making its directory first. 0, or -1 with err set. */
static int store_write(const char *path, const void *data, size_t len, char *err, size_t errlen)
{
	char dir[PATH_MAX];
	snprintf(dir, sizeof dir, "%s", path);
	char *slash = strrchr(dir, '/');
	if (slash)
		*slash = '\0';
	int r = slash ? rf_mkdir_p(dir, 0700) : 0;
	if (r < 0) {
		snprintf(err, errlen, "%s: %s", dir, strerror(-r));
		return -1;
	}
	return rf_tuf_write_file(AT_FDCWD, path, data, len, 0600, false, err, errlen) == RF_TUF_OK ? 0 : -1;
}

/* One of the store's own JSON files: -ENOENT (none), -EIO (unreadable) or -EINVAL (not JSON). */
static int store_read_json(const char *path, json_object **ret)
{
	unsigned char *buf;
	size_t len;
	char err[256];
	enum rf_tuf_err e = rf_tuf_read_file(AT_FDCWD, path, SLOTS_MAX, O_NOFOLLOW, &buf, &len, err, sizeof err);
	if (e != RF_TUF_OK)
		return e == RF_TUF_E_MISSING ? -ENOENT : -EIO;
	json_tokener *tok = json_tokener_new();
	json_object *o = tok ? json_tokener_parse_ex(tok, (const char *)buf, (int)len) : NULL;
	bool whole = tok && json_tokener_get_error(tok) == json_tokener_success;
	if (tok)
		json_tokener_free(tok);
	free(buf);
	if (!o || !whole) {
		json_object_put(o);
		return -EINVAL;
	}
	*ret = o;
	return 0;
}

static void blob_path(const struct rf_broker *b, const char *client, const char *sha, char *out, size_t n)
{
	snprintf(out, n, "%s/%s/%s.blob", b->cfg.content_store, client, sha);
}

/* ---- the worker ---- */

static void job_check(struct rf_broker *b, struct rf_content *ct, struct job *j)
{
	char trustdir[PATH_MAX];
	snprintf(trustdir, sizeof trustdir, "%s/trust", b->cfg.content_store);
	if (!ct->trust) {
		int r = rf_mkdir_p(trustdir, 0700);
		if (r < 0) {
			j->err = RF_TUF_E_IO;
			snprintf(j->msg, sizeof j->msg, "cannot create %s: %s", trustdir, strerror(-r));
			return;
		}
		j->err = rf_tuf_trust_load(trustdir, b->cfg.content_root[0] ? b->cfg.content_root : NULL,
					   &ct->trust, j->msg, sizeof j->msg);
		if (j->err)
			return;
	}
	struct rf_tuf_source *src = rf_tuf_source_open(b->cfg.content_repo, j->msg, sizeof j->msg);
	if (!src) {
		j->err = RF_TUF_E_IO;
		return;
	}
	j->err = rf_tuf_refresh(ct->trust, rf_tuf_source_fetch, src, (int64_t)time(NULL), j->msg, sizeof j->msg);
	rf_tuf_source_close(src);
	if (j->err == RF_TUF_OK)
		j->err = rf_tuf_trust_save(ct->trust, trustdir, j->msg, sizeof j->msg);
	for (int i = 0; i < 4; i++) {
		j->ver[i] = rf_tuf_version(ct->trust, roles[i]);
		j->exp[i] = rf_tuf_expires(ct->trust, roles[i]);
	}
	if (j->err)
		return;
	j->ntargets = rf_tuf_ntargets(ct->trust);
	j->targets = j->ntargets ? calloc(j->ntargets, sizeof *j->targets) : NULL;
	if (j->ntargets && !j->targets) {
		j->ntargets = 0;
		j->err = RF_TUF_E_IO;
		snprintf(j->msg, sizeof j->msg, "out of memory");
		return;
	}
	for (size_t i = 0; i < j->ntargets; i++)
		j->targets[i] = *rf_tuf_target_at(ct->trust, i);
}

static void job_fetch(struct rf_broker *b, struct job *j)
{
	struct rf_tuf_source *src = rf_tuf_source_open(b->cfg.content_repo, j->msg, sizeof j->msg);
	if (!src) {
		j->err = RF_TUF_E_IO;
		return;
	}
	unsigned char *buf = NULL;
	size_t len = 0;
	j->err = rf_tuf_fetch_target(&j->target, rf_tuf_source_fetch, src, &buf, &len, j->msg, sizeof j->msg);
	rf_tuf_source_close(src);
	if (j->err)
		return;
	char sha[65], path[PATH_MAX];
	sodium_bin2hex(sha, sizeof sha, j->target.sha256, sizeof j->target.sha256);
	blob_path(b, j->target.client, sha, path, sizeof path);
	char err[200];
	if (store_write(path, buf, len, err, sizeof err) < 0) {
		j->err = RF_TUF_E_IO;
		snprintf(j->msg, sizeof j->msg, "cannot store the bundle: %s", err);
	}
	free(buf);
}

static void *worker(void *arg)
{
	struct rf_broker *b = arg;
	struct rf_content *ct = b->content;
	for (;;) {
		pthread_mutex_lock(&ct->mu);
		while (!ct->head && !ct->quit)
			pthread_cond_wait(&ct->cv, &ct->mu);
		/* stopping: saves still waiting are written (a revert or a pause must
		 * outlive the restart), checks and downloads are dropped */
		while (ct->quit && ct->head && ct->head->kind != JOB_SAVE) {
			struct job *d = ct->head;
			ct->head = d->next;
			free(d);
		}
		if (ct->quit && !ct->head) {
			ct->tail = NULL;
			pthread_mutex_unlock(&ct->mu);
			return NULL;
		}
		struct job *j = ct->head;
		ct->head = j->next;
		if (!ct->head)
			ct->tail = NULL;
		pthread_mutex_unlock(&ct->mu);
		switch (j->kind) {
		case JOB_CHECK:
			job_check(b, ct, j);
			break;
		case JOB_FETCH:
			job_fetch(b, j);
			break;
		case JOB_SAVE: {
			if (store_write(j->path, j->text, strlen(j->text), j->msg, sizeof j->msg) < 0)
				j->err = RF_TUF_E_IO;
			break;
		}
		}
		while (write(ct->pipe[1], &j, sizeof j) < 0 && errno == EINTR)
			;
	}
}

static void post(struct rf_content *ct, struct job *j)
{
	if (!ct) {   /* the store failed to start: nothing is saved, said at start */
		free(j->text);
		free(j);
		return;
	}
	j->next = NULL;
	pthread_mutex_lock(&ct->mu);
	if (ct->tail)
		ct->tail->next = j;
	else
		ct->head = j;
	ct->tail = j;
	ct->inflight++;
	pthread_cond_signal(&ct->cv);
	pthread_mutex_unlock(&ct->mu);
}

/* ---- slots files ---- */

static json_object *ref_json(const struct rf_content_ref *r)
{
	if (!r->sha256[0])
		return NULL;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "version", json_object_new_int64((int64_t)r->version));
	json_object_object_add(o, "content_version", json_object_new_string(r->content_version));
	json_object_object_add(o, "sha256", json_object_new_string(r->sha256));
	json_object_object_add(o, "since_ms", json_object_new_int64((int64_t)r->since_ms));
	return o;
}

static const char *const slot_names[RF_SLOT_COUNT] = { "current", "candidate", "last_known_good" };

static json_object *cstore_json(const struct rf_cstore *cs)
{
	json_object *o = json_object_new_object();
	for (int i = 0; i < RF_SLOT_COUNT; i++)
		json_object_object_add(o, slot_names[i], ref_json(&cs->slot[i]));
	json_object_object_add(o, "blessed", json_object_new_boolean(cs->blessed));
	json_object_object_add(o, "pin", json_object_new_int64((int64_t)cs->pin));
	json_object_object_add(o, "seen_version", json_object_new_int64((int64_t)cs->seen_version));
	json_object_object_add(o, "seen_ms", json_object_new_int64((int64_t)cs->seen_ms));
	json_object *rj = json_object_new_array();
	for (unsigned i = 0; i < cs->nrejected; i++) {
		json_object *x = json_object_new_object();
		json_object_object_add(x, "version", json_object_new_int64((int64_t)cs->rejected[i].version));
		json_object_object_add(x, "why", json_object_new_string(cs->rejected[i].why));
		json_object_array_add(rj, x);
	}
	json_object_object_add(o, "rejected", rj);
	json_object_object_add(o, "outcome", json_object_new_string(cs->outcome));
	return o;
}

static void save_slots(struct rf_broker *b, struct rf_bclient *c)
{
	struct job *j = calloc(1, sizeof *j);
	json_object *o = cstore_json(c->cs);
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY);
	if (j && (j->text = strdup(s))) {
		j->kind = JOB_SAVE;
		j->client = (int)c->slot;
		snprintf(j->path, sizeof j->path, "%s/%s/slots.json", b->cfg.content_store, c->man.name);
		post(b->content, j);
	} else {
		free(j);
		rf_warnx("content %s: out of memory: slots not saved", c->man.name);
	}
	json_object_put(o);
}

static void save_controls(struct rf_broker *b)
{
	struct job *j = calloc(1, sizeof *j);
	char text[128];
	snprintf(text, sizeof text, "{ \"paused\": %s, \"delay_hours\": %u }\n",
		 b->content->paused ? "true" : "false", b->content->delay_h);
	if (j && (j->text = strdup(text))) {
		j->kind = JOB_SAVE;
		j->client = -1;
		snprintf(j->path, sizeof j->path, "%s/controls.json", b->cfg.content_store);
		post(b->content, j);
	} else {
		free(j);
	}
}

static bool is_hex64(const char *s)
{
	if (strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int ref_from_json(json_object *o, struct rf_content_ref *r)
{
	memset(r, 0, sizeof *r);
	if (!o || json_object_is_type(o, json_type_null))
		return 0;
	json_object *v, *cv, *sh, *since;
	if (!json_object_is_type(o, json_type_object) || !json_object_object_get_ex(o, "version", &v) ||
	    !json_object_object_get_ex(o, "content_version", &cv) || !json_object_object_get_ex(o, "sha256", &sh) ||
	    !json_object_is_type(v, json_type_int) || !json_object_is_type(cv, json_type_string) ||
	    !json_object_is_type(sh, json_type_string) || !is_hex64(json_object_get_string(sh)) ||
	    json_object_get_string_len(cv) >= RF_TUF_CVER_MAX || json_object_get_int64(v) < 0)
		return -EINVAL;
	r->version = (uint64_t)json_object_get_int64(v);
	snprintf(r->content_version, sizeof r->content_version, "%s", json_object_get_string(cv));
	snprintf(r->sha256, sizeof r->sha256, "%s", json_object_get_string(sh));
	if (json_object_object_get_ex(o, "since_ms", &since) && json_object_is_type(since, json_type_int))
		r->since_ms = (uint64_t)json_object_get_int64(since);
	return 0;
}

static uint64_t get_u64(json_object *o, const char *k)
{
	json_object *v;
	if (!json_object_object_get_ex(o, k, &v) || !json_object_is_type(v, json_type_int) ||
	    json_object_get_int64(v) < 0)
		return 0;
	return (uint64_t)json_object_get_int64(v);
}

/* Loads STORE/<client>/slots.json (our own file; still checked). 0, -ENOENT, -EIO or -EINVAL. */
static int load_slots(struct rf_broker *b, struct rf_bclient *c)
{
	char path[PATH_MAX];
	snprintf(path, sizeof path, "%s/%s/slots.json", b->cfg.content_store, c->man.name);
	json_object *o;
	int r = store_read_json(path, &o);
	if (r < 0)
		return r;
	struct rf_cstore *cs = c->cs;
	r = json_object_is_type(o, json_type_object) ? 0 : -EINVAL;
	for (int i = 0; i < RF_SLOT_COUNT && r == 0; i++) {
		json_object *s = NULL;
		json_object_object_get_ex(o, slot_names[i], &s);
		r = ref_from_json(s, &cs->slot[i]);
	}
	if (r == 0) {
		json_object *v, *rj;
		cs->blessed = json_object_object_get_ex(o, "blessed", &v) && json_object_get_boolean(v);
		cs->pin = get_u64(o, "pin");
		cs->seen_version = get_u64(o, "seen_version");
		cs->seen_ms = get_u64(o, "seen_ms");
		if (json_object_object_get_ex(o, "rejected", &rj) && json_object_is_type(rj, json_type_array)) {
			size_t n = json_object_array_length(rj);
			for (size_t i = 0; i < n && cs->nrejected < RF_REJECTED_MAX; i++) {
				json_object *x = json_object_array_get_idx(rj, i), *w;
				cs->rejected[cs->nrejected].version = get_u64(x, "version");
				snprintf(cs->rejected[cs->nrejected].why, sizeof cs->rejected[0].why, "%s",
					 json_object_object_get_ex(x, "why", &w) && json_object_is_type(w, json_type_string)
						 ? json_object_get_string(w) : "");
				cs->nrejected++;
			}
		}
		/* a trial interrupted by a restart is not resumed: it is tried again */
		memset(&cs->slot[RF_SLOT_CANDIDATE], 0, sizeof cs->slot[0]);
	}
	json_object_put(o);
	return r;
}

/* Makes the manifest's content_initial version 0, current and last-known-good. 0, or -1 with err set. */
static int import_initial(struct rf_broker *b, struct rf_bclient *c, char *err, size_t errlen)
{
	unsigned char *data;
	size_t len;
	if (rf_tuf_read_file(AT_FDCWD, c->man.content_initial, BLOB_MAX, O_NOFOLLOW, &data, &len, err, errlen) !=
	    RF_TUF_OK)
		return -1;
	unsigned char h[32];
	crypto_hash_sha256(h, data, len);
	struct rf_content_ref ref = { .version = 0, .since_ms = rf_now_realtime_ms() };
	sodium_bin2hex(ref.sha256, sizeof ref.sha256, h, sizeof h);
	snprintf(ref.content_version, sizeof ref.content_version, "initial");
	char path[PATH_MAX];
	blob_path(b, c->man.name, ref.sha256, path, sizeof path);
	int r = store_write(path, data, len, err, errlen);
	free(data);
	if (r < 0)
		return r;
	c->cs->slot[RF_SLOT_CURRENT] = ref;
	c->cs->slot[RF_SLOT_LKG] = ref;
	c->cs->blessed = true;
	snprintf(c->cs->outcome, sizeof c->cs->outcome, "initial content installed from %s", c->man.content_initial);
	return 0;
}

/* ---- set-up ---- */

int rf_content_init(struct rf_broker *b)
{
	unsigned managed = 0;
	for (unsigned i = 0; i < b->nclients; i++)
		managed += b->clients[i].cs != NULL;
	if (!managed && !b->cfg.content_repo[0])
		return 0;
	struct rf_content *ct = calloc(1, sizeof *ct);
	if (!ct)
		return -ENOMEM;
	b->content = ct;
	ct->pipe[0] = ct->pipe[1] = -1;
	ct->nmanaged = managed;
	ct->paused = b->cfg.content_paused;
	/* a crash loop of new content must revert it before it can quarantine the client */
	if (b->cfg.revert_deaths > b->cfg.max_deaths) {
		rf_warnx("[content] revert_deaths %u > [supervisor] max_deaths %u: using %u", b->cfg.revert_deaths,
			 b->cfg.max_deaths, b->cfg.max_deaths);
		b->cfg.revert_deaths = b->cfg.max_deaths;
	}
	ct->delay_h = b->cfg.content_delay_h;
	snprintf(ct->last_result, sizeof ct->last_result, "never");
	/* the worker's end blocks (a job is never lost to a full pipe); the loop's does not */
	if (pipe2(ct->pipe, O_CLOEXEC) < 0 || fcntl(ct->pipe[0], F_SETFL, O_NONBLOCK) < 0) {
		int e = -errno;
		rf_content_fini(b);
		return e;
	}
	pthread_mutex_init(&ct->mu, NULL);
	pthread_cond_init(&ct->cv, NULL);
	int r = rf_mkdir_p(b->cfg.content_store, 0700);
	if (r < 0) {
		rf_warnx("content store %s: %s", b->cfg.content_store, strerror(-r));
		rf_content_fini(b);
		return r;
	}
	/* operator controls set with rfctl outlive restarts */
	char path[PATH_MAX];
	json_object *o, *v;
	snprintf(path, sizeof path, "%s/controls.json", b->cfg.content_store);
	if (store_read_json(path, &o) == 0) {
		if (json_object_object_get_ex(o, "paused", &v) && json_object_is_type(v, json_type_boolean))
			ct->paused = json_object_get_boolean(v);
		if (json_object_object_get_ex(o, "delay_hours", &v) && json_object_is_type(v, json_type_int) &&
		    json_object_get_int64(v) >= 0 && json_object_get_int64(v) <= 8760)
			ct->delay_h = (uint32_t)json_object_get_int64(v);
		json_object_put(o);
	}
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (!c->cs)
			continue;
		r = load_slots(b, c);
		if (r == -EINVAL)
			rf_warnx("content %s: %s/%s/slots.json is damaged: starting from the initial content",
				 c->man.name, b->cfg.content_store, c->man.name);
		if (r < 0) {
			char err[256];
			memset(c->cs->slot, 0, sizeof c->cs->slot);
			if (c->man.content_initial[0] && import_initial(b, c, err, sizeof err) < 0)
				rf_warnx("content %s: cannot install %s: %s", c->man.name, c->man.content_initial, err);
			save_slots(b, c);   /* written by the worker once it runs */
		}
		if (c->man.content_pin && !c->cs->pin)
			c->cs->pin = c->man.content_pin;
		const struct rf_content_ref *cur = &c->cs->slot[RF_SLOT_CURRENT];
		if (cur->sha256[0])
			rf_info("content %s: version %llu (%s)%s", c->man.name, (unsigned long long)cur->version,
				cur->content_version, c->cs->blessed ? ", blessed" : ", not blessed yet");
		else
			rf_warnx("content %s: no content yet: not started until an update arrives", c->man.name);
		c->cs->activated_mono_ms = rf_now_ms();
	}
	if (managed && b->cfg.trial_window) {
		ct->win = calloc(b->cfg.trial_window, sizeof *ct->win);
		if (!ct->win) {
			rf_content_fini(b);
			return -ENOMEM;
		}
		ct->nwin = b->cfg.trial_window;
	}
	if (pthread_create(&ct->thread, NULL, worker, b) != 0) {
		rf_content_fini(b);
		return -EAGAIN;
	}
	ct->started = true;
	ct->next_check_ms = rf_now_ms() + 1000;   /* first check shortly after start */
	return rf_epoll_add(b, ct->pipe[0], RF_TAG_CONTENT, 0);
}

void rf_content_fini(struct rf_broker *b)
{
	struct rf_content *ct = b->content;
	if (!ct)
		return;
	if (ct->started) {
		pthread_mutex_lock(&ct->mu);
		ct->quit = true;
		pthread_cond_signal(&ct->cv);
		pthread_mutex_unlock(&ct->mu);
		pthread_join(ct->thread, NULL);
	}
	for (struct job *j = ct->head, *n; j; j = n) {
		n = j->next;
		free(j->text);
		free(j);
	}
	for (uint32_t i = 0; i < ct->nwin; i++)
		free(ct->win[i].data);
	free(ct->win);
	rf_tuf_trust_free(ct->trust);
	if (ct->pipe[0] >= 0)
		close(ct->pipe[0]);
	if (ct->pipe[1] >= 0)
		close(ct->pipe[1]);
	free(ct);
	b->content = NULL;
}

int rf_content_pipe(const struct rf_broker *b)
{
	return b->content ? b->content->pipe[0] : -1;
}

/* ---- the window ---- */

void rf_content_window_add(struct rf_broker *b, const struct rf_message *m)
{
	struct rf_content *ct = b->content;
	if (!ct || !ct->nwin || m->hdr.type == RF_EVENT_ALERT || m->hdr.size > RF_MSG_MAX)
		return;
	struct win_rec *w = &ct->win[ct->win_total % ct->nwin];
	if (w->cap < m->hdr.size) {
		uint32_t cap = (m->hdr.size + 511) & ~511u;   /* a record holds at most RF_MSG_MAX */
		unsigned char *p = realloc(w->data, cap);
		if (!p)
			return;
		w->data = p;
		w->cap = cap;
	}
	memcpy(w->data, m, m->hdr.size);
	w->len = m->hdr.size;
	ct->win_total++;
}

/* ---- spawning ---- */

static struct rf_bclient *parent_of(struct rf_broker *b, const struct rf_bclient *s)
{
	return s->shadow_of >= 0 && (unsigned)s->shadow_of < b->nclients ? &b->clients[s->shadow_of] : NULL;
}

bool rf_content_for_spawn(struct rf_broker *b, struct rf_bclient *c, char *path, size_t pathlen, char *cver,
			  size_t cverlen)
{
	struct rf_bclient *p = parent_of(b, c);
	const struct rf_content_ref *r = NULL;
	if (p && p->cs)
		r = &p->cs->slot[RF_SLOT_CANDIDATE];
	else if (c->cs)
		r = &c->cs->slot[RF_SLOT_CURRENT];
	if (!r || !r->sha256[0])
		return false;
	blob_path(b, p ? p->man.name : c->man.name, r->sha256, path, pathlen);
	snprintf(cver, cverlen, "%s", r->content_version);
	return true;
}

bool rf_content_startable(struct rf_broker *b, const struct rf_bclient *c)
{
	struct rf_bclient *p = parent_of(b, c);
	if (p)
		return p->cs && p->cs->trial == RF_TRIAL_STARTING;
	return !c->cs || c->cs->slot[RF_SLOT_CURRENT].sha256[0];
}

/* ---- trials ---- */

static void pump(struct rf_broker *b, struct rf_bclient *p);
static const char *held(const struct rf_broker *b, const struct rf_cstore *cs, uint64_t version);

static void add_rejected(struct rf_cstore *cs, uint64_t version, const char *why)
{
	if (cs->nrejected == RF_REJECTED_MAX) {
		memmove(cs->rejected, cs->rejected + 1, sizeof cs->rejected[0] * (RF_REJECTED_MAX - 1));
		cs->nrejected--;
	}
	cs->rejected[cs->nrejected].version = version;
	snprintf(cs->rejected[cs->nrejected].why, sizeof cs->rejected[0].why, "%s", why);
	cs->nrejected++;
}

static bool is_rejected(const struct rf_cstore *cs, uint64_t version)
{
	for (unsigned i = 0; i < cs->nrejected; i++)
		if (cs->rejected[i].version == version)
			return true;
	return false;
}

static void stop_shadow(struct rf_broker *b, struct rf_bclient *p)
{
	struct rf_bclient *s = &b->clients[p->cs->shadow];
	p->cs->trial = RF_TRIAL_NONE;
	if (s->pid > 0)
		rf_client_kill(b, s, "trial over");   /* its death is then ignored */
	else
		s->state = RF_CS_STOPPED;
}

static void trial_fail(struct rf_broker *b, struct rf_bclient *p, const char *why)
{
	struct rf_cstore *cs = p->cs;
	const struct rf_content_ref *cand = &cs->slot[RF_SLOT_CANDIDATE];
	char msg[200];
	snprintf(msg, sizeof msg, "candidate %llu (%s) rejected: %s", (unsigned long long)cand->version,
		 cand->content_version, why);
	stop_shadow(b, p);
	add_rejected(cs, cand->version, why);
	memset(&cs->slot[RF_SLOT_CANDIDATE], 0, sizeof cs->slot[0]);
	snprintf(cs->outcome, sizeof cs->outcome, "%s", msg);
	rf_alert(b, p->man.name, "content-rejected", msg);
	save_slots(b, p);
}

static void restart_for_switch(struct rf_broker *b, struct rf_bclient *c)
{
	if (c->pid > 0 && c->kill_reason[0]) {
		/* already being killed for a failure: that death counts; the restart takes the new content */
	} else if (c->pid > 0) {
		c->content_switch = true;
		snprintf(c->kill_reason, sizeof c->kill_reason, "content switch");
		rf_client_kill(b, c, "content switch");
	} else if (c->state == RF_CS_BACKOFF) {
		c->restart_at_ms = 0;
	}
}

static void trial_pass(struct rf_broker *b, struct rf_bclient *p)
{
	struct rf_cstore *cs = p->cs;
	stop_shadow(b, p);
	if (cs->blessed)
		cs->slot[RF_SLOT_LKG] = cs->slot[RF_SLOT_CURRENT];
	cs->slot[RF_SLOT_CURRENT] = cs->slot[RF_SLOT_CANDIDATE];
	cs->slot[RF_SLOT_CURRENT].since_ms = rf_now_realtime_ms();
	memset(&cs->slot[RF_SLOT_CANDIDATE], 0, sizeof cs->slot[0]);
	cs->blessed = false;
	cs->activated_mono_ms = rf_now_ms();
	cs->deaths_since_switch = 0;
	memset(p->death_times, 0, sizeof p->death_times);   /* new content, new tally */
	snprintf(cs->outcome, sizeof cs->outcome,
		 "version %llu (%s) activated after its trial: %llu events, %llu AUTH answered, %llu alerts",
		 (unsigned long long)cs->slot[RF_SLOT_CURRENT].version, cs->slot[RF_SLOT_CURRENT].content_version,
		 (unsigned long long)cs->fed, (unsigned long long)cs->answered,
		 (unsigned long long)cs->trial_alerts);
	rf_info("content %s: %s", p->man.name, cs->outcome);
	save_slots(b, p);
	restart_for_switch(b, p);
}

static void start_trial(struct rf_broker *b, struct rf_bclient *p)
{
	struct rf_cstore *cs = p->cs;
	struct rf_bclient *s = &b->clients[cs->shadow];
	cs->trial = RF_TRIAL_STARTING;
	cs->trial_start_ms = rf_now_ms();
	cs->fed = cs->fed_auth = cs->answered = cs->late = cs->trial_alerts = 0;
	cs->nauth = 0;
	rf_info("content %s: trying version %llu (%s) in a shadow instance", p->man.name,
		(unsigned long long)cs->slot[RF_SLOT_CANDIDATE].version, cs->slot[RF_SLOT_CANDIDATE].content_version);
	s->state = RF_CS_BACKOFF;
	s->restart_at_ms = 0;
	s->backoff_ms = 1000;
	rf_sv_event(b, s, RF_SV_START, NULL);
}

void rf_content_shadow_ready(struct rf_broker *b, struct rf_bclient *s)
{
	struct rf_bclient *p = parent_of(b, s);
	if (!p || !p->cs || p->cs->trial != RF_TRIAL_STARTING)
		return;
	struct rf_content *ct = b->content;
	p->cs->trial = RF_TRIAL_REPLAYING;
	p->cs->win_next = ct->win_total > ct->nwin ? ct->win_total - ct->nwin : 0;
	p->cs->win_end = ct->win_total;   /* events arriving from now on are not replayed */
	pump(b, p);
}

void rf_content_shadow_died(struct rf_broker *b, struct rf_bclient *s, const char *status)
{
	struct rf_bclient *p = parent_of(b, s);
	if (!p || !p->cs || p->cs->trial < RF_TRIAL_STARTING)
		return;
	char why[160];
	snprintf(why, sizeof why, "the shadow instance died (%s%s%s) after %llu of the recent events",
		 status, s->kill_reason[0] ? ", " : "", s->kill_reason, (unsigned long long)p->cs->fed);
	trial_fail(b, p, why);
}

void rf_content_shadow_response(struct rf_broker *b, struct rf_bclient *s, const struct rf_wire_response *r)
{
	struct rf_bclient *p = parent_of(b, s);
	if (!p || !p->cs)
		return;
	struct rf_cstore *cs = p->cs;
	for (unsigned i = 0; i < cs->nauth; i++) {
		if (cs->auth_ids[i] != r->id)
			continue;
		if (rf_now_ms() > cs->auth_deadline_ms[i])
			cs->late++;
		else
			cs->answered++;
		cs->auth_ids[i] = cs->auth_ids[--cs->nauth];
		cs->auth_deadline_ms[i] = cs->auth_deadline_ms[cs->nauth];
		if (cs->trial == RF_TRIAL_REPLAYING)
			pump(b, p);
		return;
	}
	/* unknown, or answered after it was counted late: ignored */
}

void rf_content_shadow_alert(struct rf_broker *b, struct rf_bclient *s)
{
	struct rf_bclient *p = parent_of(b, s);
	if (p && p->cs && p->cs->trial >= RF_TRIAL_STARTING)
		p->cs->trial_alerts++;
}

static uint32_t deadline_for(const struct rf_broker *b, const struct rf_bclient *c, unsigned type)
{
	bool exec = type == RF_EVENT_EXEC || type == RF_EVENT_MEMFD_EXEC;
	uint32_t d = exec ? b->cfg.exec_deadline_ms : b->cfg.open_deadline_ms;
	uint32_t mine = c->deadline_ms[exec ? 0 : 1];
	return mine && mine < d ? mine : d;
}

/* Feeds the shadow what fits of the window. */
static void pump(struct rf_broker *b, struct rf_bclient *p)
{
	struct rf_content *ct = b->content;
	struct rf_cstore *cs = p->cs;
	struct rf_bclient *s = &b->clients[cs->shadow];
	uint64_t end = cs->win_end;
	uint64_t now = rf_now_ms();
	while (s->shm && cs->win_next < end) {
		if (ct->win_total > ct->nwin && cs->win_next < ct->win_total - ct->nwin)
			cs->win_next = ct->win_total - ct->nwin;   /* overwritten meanwhile */
		if (cs->win_next >= end)
			break;
		struct win_rec *w = &ct->win[cs->win_next % ct->nwin];
		const struct rf_message *rm = (const struct rf_message *)w->data;
		uint64_t bit = 1ull << rm->hdr.type;
		bool auth = (s->trial_auth_mask & bit) && !(s->fd_mask & bit);
		if (!auth && !(s->trial_notify_mask & bit) && !(s->trial_auth_mask & bit)) {
			cs->win_next++;
			continue;
		}
		if (auth && cs->nauth >= RF_TRIAL_AUTH_MAX)
			break;   /* more when answers come back */
		if (!rf_client_has_room(s, w->len))
			break;
		memcpy(b->mb.u.bytes, w->data, w->len);
		struct rf_message *m = &b->mb.u.msg;
		m->hdr.action = auth ? RF_ACTION_AUTH : RF_ACTION_NOTIFY;
		m->hdr.flags = RF_MSG_F_REPLAYED | (m->hdr.flags & RF_MSG_F_CUT);   /* hdr.cut stays */
		m->hdr.verdict = 0;
		m->hdr.decided_by = 0;
		m->hdr.decider = (rf_str_t){ 0, 0 };
		uint64_t id = 0;
		if (auth) {
			id = (1ull << 62) | ++cs->next_id;
			m->hdr.deadline_ns = (now + deadline_for(b, p, rm->hdr.type)) * 1000000ull;
		} else {
			m->hdr.deadline_ns = 0;
		}
		if (rf_client_push(b, s, id) < 0)
			break;
		if (auth) {
			cs->auth_ids[cs->nauth] = id;
			cs->auth_deadline_ms[cs->nauth++] = now + deadline_for(b, p, rm->hdr.type);
			cs->fed_auth++;
		}
		cs->fed++;
		cs->win_next++;
	}
}

static void trial_step(struct rf_broker *b, struct rf_bclient *p)
{
	struct rf_cstore *cs = p->cs;
	struct rf_bclient *s = &b->clients[cs->shadow];
	uint64_t now = rf_now_ms();
	if (now - cs->trial_start_ms > b->cfg.trial_timeout_ms) {
		char why[96];
		snprintf(why, sizeof why, "the trial did not finish within %u ms", b->cfg.trial_timeout_ms);
		trial_fail(b, p, why);
		return;
	}
	if (cs->trial < RF_TRIAL_REPLAYING)
		return;
	/* replayed AUTH events not answered by their deadline are late */
	for (unsigned i = 0; i < cs->nauth;) {
		if (now > cs->auth_deadline_ms[i]) {
			cs->late++;
			cs->auth_ids[i] = cs->auth_ids[--cs->nauth];
			cs->auth_deadline_ms[i] = cs->auth_deadline_ms[cs->nauth];
			continue;
		}
		i++;
	}
	/* too many late already: no need to wait for the rest */
	if (cs->fed_auth >= RF_TRIAL_AUTH_MAX && cs->late * 100 > cs->fed_auth * b->cfg.trial_max_miss_pct) {
		char why[128];
		snprintf(why, sizeof why, "%llu of the first %llu replayed AUTH events answered late or not at all",
			 (unsigned long long)cs->late, (unsigned long long)cs->fed_auth);
		trial_fail(b, p, why);
		return;
	}
	if (cs->trial_alerts > b->cfg.trial_max_alerts) {
		char why[96];
		snprintf(why, sizeof why, "alert storm: %llu alerts (at most %u allowed)",
			 (unsigned long long)cs->trial_alerts, b->cfg.trial_max_alerts);
		trial_fail(b, p, why);
		return;
	}
	if (cs->trial == RF_TRIAL_REPLAYING) {
		pump(b, p);
		bool drained = s->shm && __atomic_load_n(&s->evt.ctl->tail, __ATOMIC_ACQUIRE) == s->evt.head;
		if (cs->win_next >= cs->win_end && drained && cs->nauth == 0) {
			cs->trial = RF_TRIAL_SETTLING;
			cs->settle_from_ms = now;
		}
		return;
	}
	if (now - cs->settle_from_ms < b->cfg.trial_settle_ms)
		return;
	if (cs->fed_auth && cs->late * 100 > cs->fed_auth * b->cfg.trial_max_miss_pct) {
		char why[128];
		snprintf(why, sizeof why, "%llu of %llu replayed AUTH events answered late or not at all",
			 (unsigned long long)cs->late, (unsigned long long)cs->fed_auth);
		trial_fail(b, p, why);
		return;
	}
	const char *why = held(b, cs, cs->slot[RF_SLOT_CANDIDATE].version);
	if (why) {   /* not a failure of the candidate: it is tried again later */
		snprintf(cs->outcome, sizeof cs->outcome, "version %llu passed its trial, not activated: %s",
			 (unsigned long long)cs->slot[RF_SLOT_CANDIDATE].version, why);
		stop_shadow(b, p);
		memset(&cs->slot[RF_SLOT_CANDIDATE], 0, sizeof cs->slot[0]);
		save_slots(b, p);
		return;
	}
	trial_pass(b, p);
}

/* ---- updates ---- */

static bool in_cohort(const struct rf_broker *b, const struct rf_tuf_target *t)
{
	if (!t->ncohorts)
		return true;
	for (unsigned i = 0; i < t->ncohorts; i++)
		if (!strcmp(t->cohorts[i], b->cfg.content_cohort))
			return true;
	return false;
}

/* Picks what a client should try from the verified targets, or NULL. */
static const struct rf_tuf_target *choose(struct rf_broker *b, struct rf_bclient *c,
					  const struct rf_tuf_target *ts, size_t n)
{
	struct rf_cstore *cs = c->cs;
	const struct rf_tuf_target *best = NULL, *pinned = NULL;
	for (size_t i = 0; i < n; i++) {
		const struct rf_tuf_target *t = &ts[i];
		if (strcmp(t->client, c->man.name) || !in_cohort(b, t) || c->man.content_abi < t->abi_min ||
		    c->man.content_abi > t->abi_max)
			continue;
		if (!best || t->version > best->version)
			best = t;
		if (cs->pin && t->version == cs->pin)
			pinned = t;
	}
	if (!best)
		return NULL;
	uint64_t now = rf_now_realtime_ms();
	if (best->version > cs->seen_version) {
		cs->seen_version = best->version;
		cs->seen_ms = now;
		save_slots(b, c);
	}
	const struct rf_tuf_target *want = cs->pin ? pinned : best;
	uint64_t cur = cs->slot[RF_SLOT_CURRENT].sha256[0] ? cs->slot[RF_SLOT_CURRENT].version : 0;
	bool have = cs->slot[RF_SLOT_CURRENT].sha256[0];
	if (!want) {
		snprintf(cs->outcome, sizeof cs->outcome, "pinned to version %llu, which is not listed",
			 (unsigned long long)cs->pin);
		return NULL;
	}
	if (have && want->version <= cur)
		return NULL;   /* up to date; versions never go back */
	if (is_rejected(cs, want->version))
		return NULL;
	uint64_t delay_ms = (uint64_t)b->content->delay_h * 3600000ull;
	if (delay_ms && want->version == cs->seen_version && now < cs->seen_ms + delay_ms) {
		time_t until = (time_t)((cs->seen_ms + delay_ms) / 1000);
		char when[32];
		strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&until));
		snprintf(cs->outcome, sizeof cs->outcome, "version %llu waits until %s (delay %u h after first seen)",
			 (unsigned long long)want->version, when, b->content->delay_h);
		return NULL;
	}
	return want;
}

static void on_check(struct rf_broker *b, struct job *j)
{
	struct rf_content *ct = b->content;
	ct->checking = false;
	ct->checks++;
	ct->last_check_ms = rf_now_realtime_ms();
	memcpy(ct->ver, j->ver, sizeof ct->ver);
	memcpy(ct->exp, j->exp, sizeof ct->exp);
	snprintf(ct->last_result, sizeof ct->last_result, "%s", j->err ? rf_tuf_err_name(j->err) : "ok");
	if (j->err) {
		ct->refused++;
		snprintf(ct->last_error, sizeof ct->last_error, "%s", j->msg);
		rf_warnx("content update refused: %s: %s", rf_tuf_err_name(j->err), j->msg);
		rf_alert(b, NULL, j->err == RF_TUF_E_EXPIRED ? "content-freeze" : "content-refused", j->msg);
		return;
	}
	ct->last_error[0] = '\0';
	if (ct->paused)
		return;
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		if (!c->cs || c->cs->trial != RF_TRIAL_NONE)
			continue;
		const struct rf_bclient *sh = &b->clients[c->cs->shadow];
		if (sh->pid > 0 || sh->state != RF_CS_STOPPED)
			continue;   /* the last trial's shadow is not reaped yet: next check */
		const struct rf_tuf_target *t = choose(b, c, j->targets, j->ntargets);
		if (!t)
			continue;
		struct job *f = calloc(1, sizeof *f);
		if (!f)
			continue;
		f->kind = JOB_FETCH;
		f->client = (int)i;
		f->target = *t;
		c->cs->target = *t;
		c->cs->trial = RF_TRIAL_FETCHING;
		rf_info("content %s: version %llu (%s) listed: fetching", c->man.name, (unsigned long long)t->version,
			t->content_version);
		post(ct, f);
	}
}

/* Why a candidate must not go on now (paused, pinned to another version), or NULL. */
static const char *held(const struct rf_broker *b, const struct rf_cstore *cs, uint64_t version)
{
	if (b->content->paused)
		return "updates are paused";
	if (cs->pin && cs->pin != version)
		return "the client is pinned to another version";
	return NULL;
}

static void on_fetch(struct rf_broker *b, struct job *j)
{
	if (j->client < 0 || (unsigned)j->client >= b->nclients || !b->clients[j->client].cs)
		return;
	struct rf_bclient *c = &b->clients[j->client];
	struct rf_cstore *cs = c->cs;
	if (cs->trial != RF_TRIAL_FETCHING)
		return;
	if (j->err) {
		cs->trial = RF_TRIAL_NONE;
		b->content->refused++;
		snprintf(cs->outcome, sizeof cs->outcome, "version %llu refused: %s: %s",
			 (unsigned long long)j->target.version, rf_tuf_err_name(j->err), j->msg);
		rf_alert(b, c->man.name, "content-refused", cs->outcome);
		return;
	}
	const char *why = held(b, cs, j->target.version);
	if (why) {
		cs->trial = RF_TRIAL_NONE;
		snprintf(cs->outcome, sizeof cs->outcome, "version %llu fetched, not tried: %s",
			 (unsigned long long)j->target.version, why);
		return;
	}
	struct rf_content_ref *r = &cs->slot[RF_SLOT_CANDIDATE];
	memset(r, 0, sizeof *r);
	r->version = j->target.version;
	snprintf(r->content_version, sizeof r->content_version, "%s", j->target.content_version);
	sodium_bin2hex(r->sha256, sizeof r->sha256, j->target.sha256, sizeof j->target.sha256);
	r->since_ms = rf_now_realtime_ms();
	save_slots(b, c);
	start_trial(b, c);
}

void rf_content_on_done(struct rf_broker *b)
{
	struct rf_content *ct = b->content;
	struct job *j;
	while (read(ct->pipe[0], &j, sizeof j) == (ssize_t)sizeof j) {
		ct->inflight--;
		switch (j->kind) {
		case JOB_CHECK:
			on_check(b, j);
			break;
		case JOB_FETCH:
			on_fetch(b, j);
			break;
		case JOB_SAVE:
			if (j->err)
				rf_warnx("content store: cannot save %s", j->msg);
			break;
		}
		free(j->targets);
		free(j->text);
		free(j);
	}
}

static void check_now(struct rf_broker *b)
{
	struct rf_content *ct = b->content;
	struct job *j = calloc(1, sizeof *j);
	if (!j)
		return;
	j->kind = JOB_CHECK;
	j->client = -1;
	ct->checking = true;
	post(ct, j);
}

void rf_content_tick(struct rf_broker *b)
{
	struct rf_content *ct = b->content;
	if (!ct || b->stopping)
		return;
	uint64_t now = rf_now_ms();
	if (b->cfg.content_repo[0] && !ct->paused && !ct->checking && b->cfg.content_interval_s &&
	    now >= ct->next_check_ms) {
		ct->next_check_ms = now + (uint64_t)b->cfg.content_interval_s * 1000;
		check_now(b);
	}
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		struct rf_cstore *cs = c->cs;
		if (!cs)
			continue;
		if (cs->trial >= RF_TRIAL_STARTING)
			trial_step(b, c);
		/* healthy: running, for healthy_s since the switch, the last death and the last start */
		uint64_t t = rf_now_ms(), since = cs->activated_mono_ms;
		if (c->started_at_ms > since)
			since = c->started_at_ms;
		if (!cs->blessed && cs->slot[RF_SLOT_CURRENT].sha256[0] && c->state == RF_CS_RUNNING &&
		    c->pid > 0 && t >= since && t - since >= (uint64_t)b->cfg.healthy_s * 1000) {
			cs->slot[RF_SLOT_LKG] = cs->slot[RF_SLOT_CURRENT];
			cs->blessed = true;
			snprintf(cs->outcome, sizeof cs->outcome, "version %llu (%s) blessed: healthy for %u s",
				 (unsigned long long)cs->slot[RF_SLOT_CURRENT].version,
				 cs->slot[RF_SLOT_CURRENT].content_version, b->cfg.healthy_s);
			rf_info("content %s: %s", c->man.name, cs->outcome);
			save_slots(b, c);
		}
	}
}

bool rf_content_on_death(struct rf_broker *b, struct rf_bclient *c, const char *reason)
{
	struct rf_cstore *cs = c->cs;
	if (!cs || cs->blessed || !cs->slot[RF_SLOT_LKG].sha256[0] ||
	    !strcmp(cs->slot[RF_SLOT_LKG].sha256, cs->slot[RF_SLOT_CURRENT].sha256))
		return false;
	/* a death restarts the healthy period: blessing needs healthy_s without one */
	cs->activated_mono_ms = rf_now_ms();
	if (++cs->deaths_since_switch < b->cfg.revert_deaths)
		return false;
	struct rf_content_ref bad = cs->slot[RF_SLOT_CURRENT];
	char why[160];
	snprintf(why, sizeof why, "%u deaths since it was activated (last: %s)", cs->deaths_since_switch, reason);
	add_rejected(cs, bad.version, why);
	cs->slot[RF_SLOT_CURRENT] = cs->slot[RF_SLOT_LKG];
	cs->blessed = true;
	cs->deaths_since_switch = 0;
	snprintf(cs->outcome, sizeof cs->outcome, "version %llu (%s) reverted to last-known-good %llu (%s): %s",
		 (unsigned long long)bad.version, bad.content_version,
		 (unsigned long long)cs->slot[RF_SLOT_CURRENT].version, cs->slot[RF_SLOT_CURRENT].content_version, why);
	rf_alert(b, c->man.name, "content-reverted", cs->outcome);
	save_slots(b, c);
	return true;
}

/* ---- operator ---- */

static json_object *reply(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_object *reply(bool ok, const char *fmt, ...)
{
	char msg[256];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof msg, fmt, ap);
	va_end(ap);
	json_object *o = json_object_new_object();
	json_object_object_add(o, "ok", json_object_new_boolean(ok));
	json_object_object_add(o, ok ? "message" : "error", json_object_new_string(msg));
	return o;
}

void *rf_content_op(struct rf_broker *b, unsigned action, const char *client, uint64_t version, uint32_t hours)
{
	struct rf_content *ct = b->content;
	if (!ct)
		return reply(false, "no managed content: no client has content = managed and no [content] repository is set");
	struct rf_bclient *c = NULL;
	if (action == RF_OPS_CONTENT_PIN || action == RF_OPS_CONTENT_UNPIN) {
		for (unsigned i = 0; i < b->nclients && !c; i++)
			if (b->clients[i].cs && !strcmp(b->clients[i].man.name, client))
				c = &b->clients[i];
		if (!c)
			return reply(false, "no client named %s has managed content", client);
	}
	switch (action) {
	case RF_OPS_CONTENT_CHECK:
		if (!b->cfg.content_repo[0])
			return reply(false, "no [content] repository is configured");
		if (ct->paused)
			return reply(false, "updates are paused (rfctl content resume)");
		if (ct->checking)
			return reply(true, "a check is already running");
		check_now(b);
		return reply(true, "checking %s", b->cfg.content_repo);
	case RF_OPS_CONTENT_PAUSE:
		ct->paused = true;
		save_controls(b);
		return reply(true, "updates paused: no checks and no activations until resumed");
	case RF_OPS_CONTENT_RESUME:
		ct->paused = false;
		ct->next_check_ms = rf_now_ms();
		save_controls(b);
		return reply(true, "updates resumed");
	case RF_OPS_CONTENT_DELAY:
		ct->delay_h = hours;
		save_controls(b);
		return reply(true, "new content waits %u hours after it is first seen", hours);
	case RF_OPS_CONTENT_PIN: {
		uint64_t v = version ? version : c->cs->slot[RF_SLOT_CURRENT].version;
		if (!c->cs->slot[RF_SLOT_CURRENT].sha256[0] && !version)
			return reply(false, "%s has no content yet: give the version to pin", client);
		if (!v)
			return reply(false, "%s runs its initial content (version 0), which cannot be pinned: "
				     "pin a published version", client);
		if (version && version < c->cs->slot[RF_SLOT_CURRENT].version)
			return reply(false, "version %llu is older than the current %llu: versions never go back "
				     "(publish the old content as a new version)", (unsigned long long)version,
				     (unsigned long long)c->cs->slot[RF_SLOT_CURRENT].version);
		c->cs->pin = v;
		save_slots(b, c);
		return reply(true, "%s pinned to version %llu", client, (unsigned long long)v);
	}
	case RF_OPS_CONTENT_UNPIN:
		c->cs->pin = 0;
		save_slots(b, c);
		return reply(true, "%s unpinned", client);
	}
	return reply(false, "unknown content request");
}

void *rf_content_status(const struct rf_broker *b)
{
	const struct rf_content *ct = b->content;
	json_object *o = json_object_new_object();
	json_object_object_add(o, "enabled", json_object_new_boolean(ct != NULL));
	if (!ct)
		return o;
	json_object_object_add(o, "repository", json_object_new_string(b->cfg.content_repo));
	json_object_object_add(o, "store", json_object_new_string(b->cfg.content_store));
	json_object_object_add(o, "cohort", json_object_new_string(b->cfg.content_cohort));
	json_object_object_add(o, "paused", json_object_new_boolean(ct->paused));
	json_object_object_add(o, "delay_hours", json_object_new_int64(ct->delay_h));
	json_object_object_add(o, "checks", json_object_new_int64((int64_t)ct->checks));
	json_object_object_add(o, "refused", json_object_new_int64((int64_t)ct->refused));
	json_object_object_add(o, "last_check_ms", json_object_new_int64((int64_t)ct->last_check_ms));
	json_object_object_add(o, "last_result", json_object_new_string(ct->last_result));
	json_object_object_add(o, "last_error", json_object_new_string(ct->last_error));
	json_object *tr = json_object_new_object();
	for (int i = 0; i < 4; i++) {
		json_object *r = json_object_new_object();
		json_object_object_add(r, "version", json_object_new_int64((int64_t)ct->ver[i]));
		json_object_object_add(r, "expires", json_object_new_int64(ct->exp[i]));
		json_object_object_add(tr, roles[i], r);
	}
	json_object_object_add(o, "trusted", tr);
	json_object_object_add(o, "window", json_object_new_int64((int64_t)(ct->win_total < ct->nwin ? ct->win_total : ct->nwin)));
	json_object *cl = json_object_new_object();
	static const char *const tnames[] = { "none", "fetching", "starting", "replaying", "settling" };
	for (unsigned i = 0; i < b->nclients; i++) {
		const struct rf_bclient *c = &b->clients[i];
		if (!c->cs)
			continue;
		json_object *x = cstore_json(c->cs);
		json_object *t = json_object_new_object();
		json_object_object_add(t, "state", json_object_new_string(tnames[c->cs->trial]));
		json_object_object_add(t, "events", json_object_new_int64((int64_t)c->cs->fed));
		json_object_object_add(t, "auth", json_object_new_int64((int64_t)c->cs->fed_auth));
		json_object_object_add(t, "answered", json_object_new_int64((int64_t)c->cs->answered));
		json_object_object_add(t, "late", json_object_new_int64((int64_t)c->cs->late));
		json_object_object_add(t, "alerts", json_object_new_int64((int64_t)c->cs->trial_alerts));
		json_object_object_add(x, "trial", t);
		json_object_object_add(cl, c->man.name, x);
	}
	json_object_object_add(o, "clients", cl);
	return o;
}
