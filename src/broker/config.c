/*
 * config.c - INI parsing with inih; see config.h.
 */
#include "broker/config.h"

#include <errno.h>
#include <fcntl.h>
#include <ini.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ringfence/ringfence.h"

#define FILE_MAX (1u << 20)

const char rf_config_embedded_default[] =
	"# ringfenced built-in default: monitor mode, nothing is ever denied\n"
	"[broker]\n"
	"state_dir = /run/ringfence\n"
	"clients_dir = /etc/ringfence/clients.d\n"
	"[auth]\n"
	"exec_deadline_ms = 1000\n"
	"open_deadline_ms = 250\n"
	"default_verdict = allow\n";

void rf_config_defaults(struct rf_config *c)
{
	memset(c, 0, sizeof *c);
	strcpy(c->state_dir, "/run/ringfence");
	strcpy(c->clients_dir, "/etc/ringfence/clients.d");
	c->exec_deadline_ms = 1000;
	c->open_deadline_ms = 250;
	c->default_verdict = RF_ALLOW;
	c->cache = true;
	c->ebpf = true;
	c->proc_connector = true;
	c->file_events = true;
	c->ebpf_batch_ms = 2;
	c->ring_kib = 1024;
	c->max_pending = 4096;
	c->ready_timeout_ms = 10000;
	c->hang_timeout_ms = 5000;
	c->max_deaths = 5;
	c->death_window_ms = 60000;
	c->miss_limit = 5;
	c->miss_window_ms = 10000;
	c->budget_cpu_percent = 5;
	c->budget_kill_after_s = 10;
	c->miss_long_limit = 20;
	c->miss_long_window_ms = 600000;
	c->miss_restart = false;
	c->uid_base = 61000;
	strcpy(c->content_store, "/var/lib/ringfence/content");
	strcpy(c->content_cohort, "broad");
	c->content_interval_s = 3600;
	c->trial_window = 2048;
	c->trial_settle_ms = 1000;
	c->trial_timeout_ms = 30000;
	c->trial_max_alerts = 100;
	c->trial_max_miss_pct = 10;
	c->healthy_s = 600;
	c->revert_deaths = 2;
}

static int parse_u32(const char *v, uint32_t min, uint32_t max, uint32_t *ret)
{
	char *end;
	errno = 0;
	if (!*v || *v == '-')
		return -1;
	unsigned long long x = strtoull(v, &end, 10);
	if (errno || *end || x < min || x > max)
		return -1;
	*ret = (uint32_t)x;
	return 0;
}

static int parse_bool(const char *v, bool *ret)
{
	if (!strcmp(v, "yes") || !strcmp(v, "true") || !strcmp(v, "on") || !strcmp(v, "1"))
		return *ret = true, 0;
	if (!strcmp(v, "no") || !strcmp(v, "false") || !strcmp(v, "off") || !strcmp(v, "0"))
		return *ret = false, 0;
	return -1;
}

static int parse_path(const char *v, char *dst)
{
	size_t n = strlen(v);
	if (n == 0 || n >= PATH_MAX || v[0] != '/')
		return -1;
	memcpy(dst, v, n + 1);
	return 0;
}

struct cfg_ctx {
	struct rf_config *cfg;
	char *err;
	size_t errlen;
	bool failed;
};

/* Records why; inih then stops and returns the line, which run_ini() adds. */
static int fail(struct cfg_ctx *x, const char *sec, const char *key, const char *why)
{
	if (!x->failed)
		snprintf(x->err, x->errlen, "[%s] %s: %s", sec, key, why);
	x->failed = true;
	return 0;
}

/*
 * The configuration language allows "key = value   # comment": inih only
 * knows ';' comments, so cut at a '#' that follows a blank, and trim.
 */
static void strip_comment(const char *val, char *out, size_t outlen)
{
	size_t n = 0;
	for (const char *p = val; *p && n + 1 < outlen; p++) {
		if (*p == '#' && (p == val || p[-1] == ' ' || p[-1] == '\t'))
			break;
		out[n++] = *p;
	}
	while (n > 0 && (out[n - 1] == ' ' || out[n - 1] == '\t'))
		n--;
	out[n] = '\0';
}

/* A section's numeric keys: a table of name, field and range. */
struct num_key {
	const char *key;
	size_t off;
	uint32_t min, max;
};

/* 1 (parsed) or 0 (refused, via fail()) when key is in the table; -1 when it is not. */
static int num_keys(struct cfg_ctx *x, struct rf_config *c, const char *sec, const char *key, const char *val,
		    const struct num_key *nums, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(key, nums[i].key))
			return parse_u32(val, nums[i].min, nums[i].max, (uint32_t *)((char *)c + nums[i].off))
				       ? fail(x, sec, key, "out of range") : 1;
	return -1;
}

static int cfg_handler(void *user, const char *sec, const char *key, const char *rawval)
{
	struct cfg_ctx *x = user;
	struct rf_config *c = x->cfg;
	char val[PATH_MAX * 2];
	if (!key)
		return 1;   /* a section header alone */
	if (strlen(rawval) >= sizeof val)
		return fail(x, sec, key, "value too long");
	strip_comment(rawval, val, sizeof val);
	if (!strcmp(sec, "broker")) {
		if (!strcmp(key, "state_dir"))
			return parse_path(val, c->state_dir) ? fail(x, sec, key, "want an absolute path") : 1;
		if (!strcmp(key, "clients_dir"))
			return parse_path(val, c->clients_dir) ? fail(x, sec, key, "want an absolute path") : 1;
		if (!strcmp(key, "watch")) {
			/* blank-separated list; may repeat */
			char tmp[PATH_MAX * 2];
			if (strlen(val) >= sizeof tmp)
				return fail(x, sec, key, "too long");
			strcpy(tmp, val);
			for (char *s, *p = strtok_r(tmp, " \t", &s); p; p = strtok_r(NULL, " \t", &s)) {
				if (c->nwatch >= RF_MAX_WATCH)
					return fail(x, sec, key, "too many watch paths (max 16)");
				if (parse_path(p, c->watch[c->nwatch]))
					return fail(x, sec, key, "want absolute paths");
				c->nwatch++;
			}
			return 1;
		}
		if (!strcmp(key, "ring_kib"))
			return parse_u32(val, 64, 65536, &c->ring_kib) ||
				       (c->ring_kib & (c->ring_kib - 1))
				       ? fail(x, sec, key, "want a power of two from 64 to 65536")
				       : 1;
		if (!strcmp(key, "mute_exe")) {
			if (c->nmute_exe >= RF_MAX_MUTES)
				return fail(x, sec, key, "too many mutes");
			return parse_path(val, c->mute_exe[c->nmute_exe++])
				       ? fail(x, sec, key, "want an absolute path")
				       : 1;
		}
	} else if (!strcmp(sec, "auth")) {
		if (!strcmp(key, "exec_deadline_ms"))
			return parse_u32(val, 1, 60000, &c->exec_deadline_ms)
				       ? fail(x, sec, key, "want 1..60000") : 1;
		if (!strcmp(key, "open_deadline_ms"))
			return parse_u32(val, 1, 60000, &c->open_deadline_ms)
				       ? fail(x, sec, key, "want 1..60000") : 1;
		if (!strcmp(key, "default_verdict")) {
			if (!strcmp(val, "allow"))
				c->default_verdict = RF_ALLOW;
			else if (!strcmp(val, "deny"))
				c->default_verdict = RF_DENY;
			else
				return fail(x, sec, key, "want allow or deny");
			return 1;
		}
		if (!strcmp(key, "on_overflow")) {
			if (!strcmp(val, "default"))
				c->on_overflow = 0;
			else if (!strcmp(val, "deny"))
				c->on_overflow = RF_DENY;
			else
				return fail(x, sec, key, "want default or deny");
			return 1;
		}
		if (!strcmp(key, "cache"))
			return parse_bool(val, &c->cache) ? fail(x, sec, key, "want yes or no") : 1;
		if (!strcmp(key, "max_pending"))
			return parse_u32(val, 16, 65536, &c->max_pending)
				       ? fail(x, sec, key, "want 16..65536") : 1;
	} else if (!strcmp(sec, "sensors")) {
		if (!strcmp(key, "ebpf"))
			return parse_bool(val, &c->ebpf) ? fail(x, sec, key, "want yes or no") : 1;
		if (!strcmp(key, "ebpf_batch_ms"))
			return parse_u32(val, 0, 100, &c->ebpf_batch_ms) ? fail(x, sec, key, "want 0..100") : 1;
		if (!strcmp(key, "proc_connector"))
			return parse_bool(val, &c->proc_connector) ? fail(x, sec, key, "want yes or no") : 1;
		if (!strcmp(key, "file_events"))
			return parse_bool(val, &c->file_events) ? fail(x, sec, key, "want yes or no") : 1;
		if (!strcmp(key, "replay"))
			return parse_path(val, c->replay) ? fail(x, sec, key, "want an absolute path") : 1;
		if (!strcmp(key, "replay_loops"))
			return parse_u32(val, 0, 1000000, &c->replay_loops)
				       ? fail(x, sec, key, "want 0..1000000") : 1;
	} else if (!strcmp(sec, "supervisor")) {
		static const struct num_key nums[] = {
			{ "ready_timeout_ms", offsetof(struct rf_config, ready_timeout_ms), 100, 600000 },
			{ "hang_timeout_ms", offsetof(struct rf_config, hang_timeout_ms), 100, 600000 },
			{ "max_deaths", offsetof(struct rf_config, max_deaths), 1, 32 },
			{ "death_window_ms", offsetof(struct rf_config, death_window_ms), 1000, 86400000 },
			{ "miss_limit", offsetof(struct rf_config, miss_limit), 1, 64 },
			{ "miss_window_ms", offsetof(struct rf_config, miss_window_ms), 100, 86400000 },
			{ "miss_long_limit", offsetof(struct rf_config, miss_long_limit), 1, 100000 },
			{ "budget_cpu_percent", offsetof(struct rf_config, budget_cpu_percent), 0, 100 },
			{ "budget_kill_after_s", offsetof(struct rf_config, budget_kill_after_s), 1, 3600 },
			{ "miss_long_window_ms", offsetof(struct rf_config, miss_long_window_ms), 1000, 86400000 },
			{ "uid_base", offsetof(struct rf_config, uid_base), 1000, 4000000000u },
		};
		int r = num_keys(x, c, sec, key, val, nums, sizeof nums / sizeof *nums);
		if (r >= 0)
			return r;
		if (!strcmp(key, "on_miss_limit")) {
			if (!strcmp(val, "demote"))
				c->miss_restart = false;
			else if (!strcmp(val, "restart"))
				c->miss_restart = true;
			else
				return fail(x, sec, key, "want demote or restart");
			return 1;
		}
	} else if (!strcmp(sec, "content")) {
		static const struct num_key nums[] = {
			{ "interval_s", offsetof(struct rf_config, content_interval_s), 0, 604800 },
			{ "delay_hours", offsetof(struct rf_config, content_delay_h), 0, 8760 },
			{ "trial_window", offsetof(struct rf_config, trial_window), 0, 65536 },
			{ "trial_settle_ms", offsetof(struct rf_config, trial_settle_ms), 0, 600000 },
			{ "trial_timeout_ms", offsetof(struct rf_config, trial_timeout_ms), 1000, 3600000 },
			{ "trial_max_alerts", offsetof(struct rf_config, trial_max_alerts), 0, 1000000 },
			{ "trial_max_miss_percent", offsetof(struct rf_config, trial_max_miss_pct), 0, 100 },
			{ "healthy_s", offsetof(struct rf_config, healthy_s), 1, 604800 },
			{ "revert_deaths", offsetof(struct rf_config, revert_deaths), 1, 32 },
		};
		int r = num_keys(x, c, sec, key, val, nums, sizeof nums / sizeof *nums);
		if (r >= 0)
			return r;
		if (!strcmp(key, "repository")) {
			if (!*val || strlen(val) >= sizeof c->content_repo)
				return fail(x, sec, key, "want a directory or an http(s):// URL");
			if (val[0] != '/' && strncmp(val, "file:///", 8) && strncmp(val, "http://", 7) &&
			    strncmp(val, "https://", 8))
				return fail(x, sec, key, "want an absolute directory, file:///, http:// or https://");
			strcpy(c->content_repo, val);
			return 1;
		}
		if (!strcmp(key, "root"))
			return parse_path(val, c->content_root) ? fail(x, sec, key, "want an absolute path") : 1;
		if (!strcmp(key, "store"))
			return parse_path(val, c->content_store) ? fail(x, sec, key, "want an absolute path") : 1;
		if (!strcmp(key, "paused"))
			return parse_bool(val, &c->content_paused) ? fail(x, sec, key, "want yes or no") : 1;
		if (!strcmp(key, "cohort")) {
			size_t n = strlen(val);
			if (n == 0 || n >= sizeof c->content_cohort || strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789-_") != n)
				return fail(x, sec, key, "want 1..15 of a-z 0-9 - _");
			strcpy(c->content_cohort, val);
			return 1;
		}
	} else {
		return fail(x, sec, key, "unknown section");
	}
	return fail(x, sec, key, "unknown key");
}

/* inih wants a NUL-terminated string; the input may not be one. */
static char *dup_text(const char *text, size_t len)
{
	if (len > FILE_MAX)
		return NULL;
	char *s = malloc(len + 1);
	if (!s)
		return NULL;
	memcpy(s, text, len);
	s[len] = '\0';
	if (strlen(s) != len) {   /* embedded NUL: not a text file */
		free(s);
		return NULL;
	}
	return s;
}

/*
 * inih reads each line into INI_MAX_LINE bytes and parses the rest of a
 * longer line as a line of its own, after handing the cut value to the
 * handler: refuse such lines up front, naming the right line.
 */
#define LINE_MAX_BYTES (INI_MAX_LINE - 2)   /* room for the newline and the NUL */

static int check_lines(const char *s, struct cfg_ctx *x)
{
	int line = 1;
	size_t col = 0;
	for (; *s; s++) {
		if (*s == '\n') {
			line++;
			col = 0;
		} else if (++col > LINE_MAX_BYTES) {
			snprintf(x->err, x->errlen, "line %d: longer than %d bytes", line, LINE_MAX_BYTES);
			return -EINVAL;
		}
	}
	return 0;
}

static int run_ini(const char *text, size_t len, ini_handler h, struct cfg_ctx *x)
{
	char *s = dup_text(text, len);
	if (!s) {
		snprintf(x->err, x->errlen, "not a text file of at most 1 MiB");
		return -EINVAL;
	}
	if (check_lines(s, x) < 0) {
		free(s);
		return -EINVAL;
	}
	int r = ini_parse_string(s, h, x);
	free(s);
	if (r != 0) {
		char why[256];
		snprintf(why, sizeof why, "%s", x->failed ? x->err : "syntax error");
		snprintf(x->err, x->errlen, "line %d: %s", r, why);
	}
	return (r != 0 || x->failed) ? -EINVAL : 0;
}

int rf_config_parse(const char *text, size_t len, struct rf_config *cfg)
{
	struct rf_config *tmp = malloc(sizeof *tmp);
	if (!tmp)
		return -ENOMEM;
	*tmp = *cfg;
	tmp->nwatch = 0;
	tmp->nmute_exe = 0;
	struct cfg_ctx x = { .cfg = tmp, .err = cfg->err, .errlen = sizeof cfg->err };
	int r = run_ini(text, len, cfg_handler, &x);
	if (r == 0) {
		memcpy(tmp->err, cfg->err, sizeof tmp->err);
		*cfg = *tmp;
	}
	free(tmp);
	return r;
}

static int read_file(const char *path, char **ret, size_t *ret_len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	char *buf = malloc(FILE_MAX + 1);
	if (!buf) {
		close(fd);
		return -ENOMEM;
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, FILE_MAX + 1 - n);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			int e = -errno;
			free(buf);
			close(fd);
			return e;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n > FILE_MAX) {
			free(buf);
			close(fd);
			return -EFBIG;
		}
	}
	close(fd);
	*ret = buf;
	*ret_len = n;
	return 0;
}

int rf_config_load(const char *path, struct rf_config *cfg)
{
	char *buf;
	size_t n;
	int r = read_file(path, &buf, &n);
	if (r < 0) {
		snprintf(cfg->err, sizeof cfg->err, "%s: %s", path, strerror(-r));
		return r;
	}
	r = rf_config_parse(buf, n, cfg);
	free(buf);
	if (r < 0) {
		char why[sizeof cfg->err];
		memcpy(why, cfg->err, sizeof why);
		size_t pl = strlen(path) < 128 ? strlen(path) : 128;
		snprintf(cfg->err, sizeof cfg->err, "%.*s: %.*s", (int)pl, path,
			 (int)(sizeof cfg->err - pl - 3), why);
	}
	return r;
}

/* ---- manifests ---- */

struct man_ctx {
	struct cfg_ctx x;          /* first: run_ini() hands &x to the handler */
	struct rf_manifest *m;
	bool have_sub;
};

/* "auth_exec", "notify_fork", or a bare type ("fork") meaning notify. */
static int parse_subs(struct rf_manifest *m, const char *val)
{
	char tmp[1024];
	if (strlen(val) >= sizeof tmp)
		return -1;
	strcpy(tmp, val);
	for (char *s, *p = strtok_r(tmp, " \t,", &s); p; p = strtok_r(NULL, " \t,", &s)) {
		bool auth = false;
		if (!strncmp(p, "auth_", 5)) {
			auth = true;
			p += 5;
		} else if (!strncmp(p, "notify_", 7)) {
			p += 7;
		}
		if (!strcmp(p, "all") && !auth) {
			m->notify_allowed = ((1ull << RF_EVENT_MAX) - 1) & ~1ull;
			continue;
		}
		enum rf_event_type t = rf_event_type_from_name(p);
		if (t == RF_EVENT_NONE || (auth && !RF_EVENT_IS_AUTHABLE(t)))
			return -1;
		if (auth)
			m->auth_allowed |= 1ull << t;
		else
			m->notify_allowed |= 1ull << t;
	}
	return 0;
}

static int man_handler(void *user, const char *sec, const char *key, const char *rawval)
{
	struct man_ctx *mc = user;
	struct rf_manifest *m = mc->m;
	struct cfg_ctx *x = &mc->x;
	char val[PATH_MAX * 2];
	if (!key)
		return 1;
	if (strlen(rawval) >= sizeof val)
		return fail(x, sec, key, "value too long");
	strip_comment(rawval, val, sizeof val);
	if (strcmp(sec, "client"))
		return fail(x, sec, key, "unknown section");
	if (!strcmp(key, "name")) {
		size_t n = strlen(val);
		if (n == 0 || n >= RF_NAME_MAX)
			return fail(x, sec, key, "want 1..63 characters");
		for (size_t i = 0; i < n; i++)
			if (!((val[i] >= 'a' && val[i] <= 'z') || (val[i] >= 'A' && val[i] <= 'Z') ||
			      (val[i] >= '0' && val[i] <= '9') || val[i] == '-' || val[i] == '_' ||
			      val[i] == '.'))
				return fail(x, sec, key, "want letters, digits, - _ .");
		memcpy(m->name, val, n + 1);
		return 1;
	}
	if (!strcmp(key, "exec"))
		return parse_path(val, m->exec) ? fail(x, sec, key, "want an absolute path") : 1;
	if (!strcmp(key, "args")) {
		if (strlen(val) >= sizeof m->args_buf)
			return fail(x, sec, key, "too long");
		strcpy(m->args_buf, val);
		return 1;
	}
	if (!strcmp(key, "subscribe")) {
		mc->have_sub = true;
		return parse_subs(m, val) ? fail(x, sec, key, "unknown event (want auth_exec, auth_open, or event names)") : 1;
	}
	if (!strcmp(key, "mode")) {
		if (!strcmp(val, "enforce"))
			m->enforce = true;
		else if (!strcmp(val, "monitor"))
			m->enforce = false;
		else
			return fail(x, sec, key, "want monitor or enforce");
		return 1;
	}
	if (!strcmp(key, "user")) {
		/* "UID" or "UID:GID": numeric, so no name service is consulted */
		unsigned long u, g;
		char *end;
		errno = 0;
		u = strtoul(val, &end, 10);
		g = u;
		if (*end == ':')
			g = strtoul(end + 1, &end, 10);
		if (errno || *end || end == val || u == 0 || g == 0 || u >= UINT32_MAX || g >= UINT32_MAX)
			return fail(x, sec, key, "want UID or UID:GID, not 0 (root)");
		m->has_user = true;
		m->uid = (uint32_t)u;
		m->gid = (uint32_t)g;
		return 1;
	}
	if (!strcmp(key, "read") || !strcmp(key, "write")) {
		bool w = key[0] == 'w';
		char tmp[PATH_MAX * 2];
		snprintf(tmp, sizeof tmp, "%s", val);
		for (char *sv, *p = strtok_r(tmp, " \t", &sv); p; p = strtok_r(NULL, " \t", &sv)) {
			unsigned *n = w ? &m->nwrite : &m->nread;
			if (*n >= RF_MAX_GRANTS)
				return fail(x, sec, key, "too many paths (max 16)");
			if (parse_path(p, w ? m->write_paths[*n] : m->read_paths[*n]))
				return fail(x, sec, key, "want absolute paths");
			(*n)++;
		}
		return 1;
	}
	if (!strcmp(key, "memory_mb"))
		return parse_u32(val, 8, 1u << 20, &m->memory_mb) ? fail(x, sec, key, "want 8..1048576") : 1;
	if (!strcmp(key, "max_files"))
		return parse_u32(val, 16, 1u << 20, &m->max_files) ? fail(x, sec, key, "want 16..1048576") : 1;
	if (!strcmp(key, "max_procs"))
		return parse_u32(val, 1, 1u << 16, &m->max_procs) ? fail(x, sec, key, "want 1..65536") : 1;
	if (!strcmp(key, "cpu_percent"))
		return parse_u32(val, 1, 6400, &m->cpu_percent) ? fail(x, sec, key, "want 1..6400") : 1;
	if (!strcmp(key, "content_version")) {
		if (strlen(val) >= sizeof m->content_version)
			return fail(x, sec, key, "too long");
		strcpy(m->content_version, val);
		return 1;
	}
	if (!strcmp(key, "exec_deadline_ms"))
		return parse_u32(val, 1, 60000, &m->exec_deadline_ms) ? fail(x, sec, key, "want 1..60000") : 1;
	if (!strcmp(key, "open_deadline_ms"))
		return parse_u32(val, 1, 60000, &m->open_deadline_ms) ? fail(x, sec, key, "want 1..60000") : 1;
	if (!strcmp(key, "content")) {
		if (!strcmp(val, "managed"))
			m->managed = true;
		else if (!strcmp(val, "none"))
			m->managed = false;
		else
			return fail(x, sec, key, "want managed or none");
		return 1;
	}
	if (!strcmp(key, "content_abi"))
		return parse_u32(val, 1, 65535, &m->content_abi) ? fail(x, sec, key, "want 1..65535") : 1;
	if (!strcmp(key, "content_initial"))
		return parse_path(val, m->content_initial) ? fail(x, sec, key, "want an absolute path") : 1;
	if (!strcmp(key, "content_pin")) {
		uint32_t v;
		if (parse_u32(val, 1, UINT32_MAX, &v))
			return fail(x, sec, key, "want a content version number");
		m->content_pin = v;
		return 1;
	}
	return fail(x, sec, key, "unknown key");
}

int rf_manifest_parse(const char *text, size_t len, struct rf_manifest *ret, char *err, size_t errlen)
{
	struct rf_manifest *m = calloc(1, sizeof *m);
	if (!m)
		return -ENOMEM;
	struct man_ctx mc = { .m = m, .x = { .err = err, .errlen = errlen } };
	m->memory_mb = 256;
	m->max_files = 256;
	m->max_procs = 32;
	m->cpu_percent = 100;
	m->content_abi = 1;
	int r = run_ini(text, len, man_handler, &mc.x);
	if (r == 0 && (!m->name[0] || !m->exec[0])) {
		snprintf(err, errlen, "[client] needs name and exec");
		r = -EINVAL;
	}
	if (r == 0) {
		if (!mc.have_sub)   /* no list: every notification, no AUTH */
			m->notify_allowed = ((1ull << RF_EVENT_MAX) - 1) & ~1ull;
		/* an AUTH grant implies the notification of the same type */
		m->notify_allowed |= m->auth_allowed;
		m->argc = 1;
		char *s, *p = strtok_r(m->args_buf, " \t", &s);
		for (; p; p = strtok_r(NULL, " \t", &s)) {
			if (m->argc > RF_MAX_ARGS) {
				snprintf(err, errlen, "[client] args: more than %d", RF_MAX_ARGS);
				r = -EINVAL;
				break;
			}
			m->arg_off[m->argc++ - 1] = (uint16_t)(p - m->args_buf);
		}
	}
	if (r == 0) {
		*ret = *m;
		rf_manifest_fix_argv(ret);
	}
	free(m);
	return r;
}

void rf_manifest_fix_argv(struct rf_manifest *m)
{
	m->argv[0] = m->exec;
	for (unsigned i = 1; i < m->argc && i <= RF_MAX_ARGS; i++)
		m->argv[i] = m->args_buf + m->arg_off[i - 1];
	m->argv[m->argc] = NULL;
}

int rf_manifest_load(const char *path, struct rf_manifest *ret, char *err, size_t errlen)
{
	char *buf;
	size_t n;
	int r = read_file(path, &buf, &n);
	if (r < 0) {
		snprintf(err, errlen, "%s", strerror(-r));
		return r;
	}
	r = rf_manifest_parse(buf, n, ret, err, errlen);
	free(buf);
	if (r == 0)
		snprintf(ret->path, sizeof ret->path, "%s", path);
	return r;
}
