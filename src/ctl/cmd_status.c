/*
 * cmd_status.c - `rfctl status` and `rfctl clients`: one request, one JSON
 * reply, printed as it is (--json) or as a summary for people.
 *
 * The summary tolerates missing keys and unexpected types (printed as "-"),
 * so an older or newer broker still gives a readable answer; strings from
 * the broker are printed with control characters replaced, because client
 * names and exit reasons must not be able to drive the operator's terminal.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <json-c/json.h>

#include "common/wire.h"
#include "ctl/ctl.h"

/* ---- reading the reply ---- */

static json_object *get(json_object *o, const char *key)
{
	json_object *v;
	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

/* A scalar as text: numbers as they are, booleans yes/no, "-" when absent. */
static void fmt_val(json_object *v, char *out, size_t n)
{
	switch (v ? json_object_get_type(v) : json_type_null) {
	case json_type_int:
	case json_type_double:
		snprintf(out, n, "%s", json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
		break;
	case json_type_boolean:
		snprintf(out, n, "%s", json_object_get_boolean(v) ? "yes" : "no");
		break;
	case json_type_string:
		snprintf(out, n, "%s", json_object_get_string(v));
		break;
	default:
		snprintf(out, n, "-");
		break;
	}
}

static const char *str_or(json_object *o, const char *key, const char *def)
{
	json_object *v = get(o, key);
	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : def;
}

/* Prints "label value" pairs of one object on one indented line. */
static void print_pairs(json_object *o, const char *const pairs[][2], size_t n)
{
	char val[64];
	fputs("  ", stdout);
	for (size_t i = 0; i < n; i++) {
		fmt_val(get(o, pairs[i][1]), val, sizeof val);
		printf("%s%s ", i ? ", " : "", pairs[i][0]);
		rfctl_put_safe(stdout, val);
	}
	fputc('\n', stdout);
}

/* ---- a small text table ---- */

#define TABLE_MAX_COLS 16

struct table {
	size_t ncols;
	const char *head[TABLE_MAX_COLS];
	bool right[TABLE_MAX_COLS];    /* right-aligned (numbers) */
	char **cells;                  /* nrows * ncols, strdup()ed */
	size_t nrows, cap;
	bool oom;
};

static void table_add_row(struct table *t, char *const row[])
{
	if (t->oom)
		return;
	if (t->nrows == t->cap) {
		size_t cap = t->cap ? 2 * t->cap : 8;
		char **cells = realloc(t->cells, cap * t->ncols * sizeof *cells);
		if (!cells) {
			t->oom = true;
			return;
		}
		t->cells = cells;
		t->cap = cap;
	}
	for (size_t c = 0; c < t->ncols; c++) {
		char *s = strdup(row[c]);
		if (!s)
			t->oom = true;
		t->cells[t->nrows * t->ncols + c] = s;
	}
	t->nrows++;
}

static void put_padded(const char *s, size_t width, bool right)
{
	size_t len = strlen(s);
	size_t pad = width > len ? width - len : 0;
	if (right)
		printf("%*s", (int)pad, "");
	rfctl_put_safe(stdout, s);
	if (!right)
		printf("%*s", (int)pad, "");
}

static void table_print(const struct table *t)
{
	size_t w[TABLE_MAX_COLS];
	for (size_t c = 0; c < t->ncols; c++) {
		w[c] = strlen(t->head[c]);
		for (size_t r = 0; r < t->nrows; r++) {
			const char *s = t->cells[r * t->ncols + c];
			if (s && strlen(s) > w[c])
				w[c] = strlen(s);
		}
	}
	for (size_t r = 0; r <= t->nrows; r++) {
		fputs("  ", stdout);
		for (size_t c = 0; c < t->ncols; c++) {
			const char *s = r == 0 ? t->head[c] : t->cells[(r - 1) * t->ncols + c];
			bool last = c + 1 == t->ncols;
			/* The last column is not padded, so lines carry no trailing blanks. */
			put_padded(s ? s : "?", last && !t->right[c] ? 0 : w[c], t->right[c]);
			if (!last)
				fputs("  ", stdout);
		}
		fputc('\n', stdout);
	}
}

static void table_free(struct table *t)
{
	for (size_t i = 0; i < t->nrows * t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
}

/* ---- the summaries ---- */

/* "auth:exec notify:fork,open" from {"auth":["exec"],"notify":["fork","open"]} */
static void fmt_subscriptions(json_object *subs, char *out, size_t n)
{
	size_t used = 0;
	out[0] = '\0';
	if (!subs || !json_object_is_type(subs, json_type_object))
		return;
	json_object_object_foreach(subs, action, list) {
		if (!json_object_is_type(list, json_type_array) || json_object_array_length(list) == 0)
			continue;
		int k = snprintf(out + used, n - used, "%s%s:", used ? " " : "", action);
		if (k < 0 || (size_t)k >= n - used)
			return;
		used += (size_t)k;
		size_t len = json_object_array_length(list);
		for (size_t i = 0; i < len; i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(list, i));
			k = snprintf(out + used, n - used, "%s%s", i ? "," : "", s ? s : "?");
			if (k < 0 || (size_t)k >= n - used)
				return;
			used += (size_t)k;
		}
	}
}

static int print_clients(json_object *clients)
{
	if (!clients || !json_object_is_type(clients, json_type_array) ||
	    json_object_array_length(clients) == 0) {
		puts("  (no clients)");
		return 0;
	}

	static const char *const head[] = { "NAME", "PID", "STATE", "MODE", "RESTARTS",
		"DELIVERED", "DROPPED", "ASKED", "ANSWERED", "MISSED", "LATE", "INVALID",
		"SUBSCRIPTIONS" };
	static const char *const keys[] = { "name", "pid", "state", "mode", "restarts",
		"delivered", "dropped", "auth_asked", "auth_answered", "auth_missed", "late",
		"invalid", NULL };
	enum { NCOLS = sizeof head / sizeof head[0] };
	_Static_assert(NCOLS <= TABLE_MAX_COLS, "table columns");

	struct table t = { .ncols = NCOLS };
	char cellbuf[NCOLS][256];
	char *row[NCOLS];
	for (size_t c = 0; c < NCOLS; c++) {
		t.head[c] = head[c];
		t.right[c] = c != 0 && c != 2 && c != 3 && c != NCOLS - 1;
		row[c] = cellbuf[c];
	}

	size_t n = json_object_array_length(clients);
	for (size_t i = 0; i < n; i++) {
		json_object *cl = json_object_array_get_idx(clients, i);
		for (size_t c = 0; c + 1 < NCOLS; c++)
			fmt_val(get(cl, keys[c]), cellbuf[c], sizeof cellbuf[c]);
		fmt_subscriptions(get(cl, "subscriptions"), cellbuf[NCOLS - 1],
				  sizeof cellbuf[NCOLS - 1]);
		if (!cellbuf[NCOLS - 1][0])
			snprintf(cellbuf[NCOLS - 1], sizeof cellbuf[NCOLS - 1], "-");
		table_add_row(&t, row);
	}
	if (t.oom) {
		table_free(&t);
		rfctl_err(ENOMEM, "cannot print the clients");
		return -1;
	}
	table_print(&t);
	table_free(&t);

	for (size_t i = 0; i < n; i++) {
		json_object *cl = json_object_array_get_idx(clients, i);
		const char *last = str_or(cl, "last_exit", "");
		if (*last) {
			fputs("  ", stdout);
			rfctl_put_safe(stdout, str_or(cl, "name", "?"));
			fputs(": last exit: ", stdout);
			rfctl_put_safe(stdout, last);
			fputc('\n', stdout);
		}
	}
	return 0;
}

static void print_uptime(json_object *v)
{
	if (!v || !json_object_is_type(v, json_type_int)) {
		fputs("-", stdout);
		return;
	}
	int64_t ms = json_object_get_int64(v);
	if (ms < 0)
		ms = 0;
	int64_t s = ms / 1000;
	if (s >= 86400)
		printf("%" PRId64 "d ", s / 86400);
	printf("%02d:%02d:%02d", (int)(s % 86400 / 3600), (int)(s % 3600 / 60), (int)(s % 60));
}

static int print_status(json_object *st)
{
	char val[64];

	fputs("ringfenced ", stdout);
	rfctl_put_safe(stdout, str_or(st, "version", "?"));
	fmt_val(get(st, "pid"), val, sizeof val);
	printf(", pid %s, up ", val);
	print_uptime(get(st, "uptime_ms"));
	fputs("\n\nSensors:\n", stdout);

	json_object *sensors = get(st, "sensors");
	size_t ns = sensors && json_object_is_type(sensors, json_type_array)
			    ? json_object_array_length(sensors) : 0;
	if (ns == 0) {
		puts("  (none)");
	} else {
		struct table t = { .ncols = 5, .head = { "NAME", "ACTIVE", "EVENTS", "LOST", "DETAIL" },
				   .right = { false, false, true, true, false } };
		static const char *const keys[] = { "name", "active", "events", "lost", "detail" };
		char cellbuf[5][256], *row[5];
		for (size_t i = 0; i < ns; i++) {
			json_object *s = json_object_array_get_idx(sensors, i);
			for (size_t c = 0; c < 5; c++) {
				fmt_val(get(s, keys[c]), cellbuf[c], sizeof cellbuf[c]);
				row[c] = cellbuf[c];
			}
			table_add_row(&t, row);
		}
		if (!t.oom)
			table_print(&t);
		table_free(&t);
	}

	json_object *auth = get(st, "auth");
	fputs("\nAUTH:\n", stdout);
	static const char *const types[] = { "exec", "open" };
	for (size_t i = 0; i < 2; i++) {
		char key[32];
		snprintf(key, sizeof key, "%s_marked", types[i]);
		json_object *marked = get(auth, key);
		snprintf(key, sizeof key, "%s_deadline_ms", types[i]);
		fmt_val(get(auth, key), val, sizeof val);
		printf("  %s: %s, deadline %s ms\n", types[i],
		       !marked ? "-" : json_object_get_boolean(marked) ? "marked" : "not marked",
		       val);
	}
	fputs("  default verdict: ", stdout);
	rfctl_put_safe(stdout, str_or(auth, "default_verdict", "-"));
	fputc('\n', stdout);
	static const char *const decided[][2] = {
		{ "pending", "pending" }, { "decided", "decided" },
		{ "allowed", "allowed" }, { "denied", "denied" } };
	print_pairs(auth, decided, 4);
	static const char *const by[][2] = {
		{ "by client", "by_client" }, { "by default", "by_default" },
		{ "by cache", "by_cache" }, { "by policy", "by_policy" },
		{ "cache marks", "cache_marks" } };
	print_pairs(auth, by, 5);

	fputs("\nCounters:\n", stdout);
	static const char *const counters[][2] = {
		{ "events", "events" }, { "dispatched", "dispatched" }, { "dropped", "dropped" },
		{ "tail dropped", "tail_dropped" }, { "log dropped", "log_dropped" },
		{ "messages cut", "messages_cut" } };
	print_pairs(get(st, "counters"), counters, 6);

	fputs("\nClients:\n", stdout);
	return print_clients(get(st, "clients"));
}

/* ---- the commands ---- */

static json_object *parse_reply(const char *buf, size_t len)
{
	json_tokener *tok = json_tokener_new();
	if (!tok) {
		rfctl_err(ENOMEM, "cannot parse the reply");
		return NULL;
	}
	json_object *o = json_tokener_parse_ex(tok, buf, (int)len);
	enum json_tokener_error e = json_tokener_get_error(tok);
	if (!o || e != json_tokener_success ||
	    !json_object_is_type(o, json_type_object)) {
		rfctl_err(0, "ringfenced sent a reply that is not a JSON object (%s)",
			  e != json_tokener_success ? json_tokener_error_desc(e) : "wrong type");
		json_object_put(o);
		o = NULL;
	} else {
		/* Only blanks may follow the object. */
		for (size_t i = json_tokener_get_parse_end(tok); i < len; i++) {
			if (!strchr(" \t\r\n", buf[i])) {
				rfctl_err(0, "ringfenced sent trailing data after the JSON reply");
				json_object_put(o);
				o = NULL;
				break;
			}
		}
	}
	json_tokener_free(tok);
	return o;
}

static int run_query(const struct rfctl *ctl, const char *command, uint16_t cmd,
		     int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool json = false;
	int c;

	while ((c = getopt_long(argc, argv, ":jh", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'h':
			rfctl_usage(stdout, command);
			return RFCTL_OK;
		default:
			return rfctl_usage_error(command, "unknown option '%s'", rfctl_bad_option(argv));
		}
	}
	if (optind < argc)
		return rfctl_usage_error(command, "unexpected argument '%s'", argv[optind]);

	int fd = ops_open(ctl, cmd, 0, 0);
	if (fd < 0)
		return RFCTL_FAIL;
	char *buf = NULL;
	size_t len = 0;
	int r = ops_recv_reply(fd, RFCTL_REPLY_TIMEOUT_MS, &buf, &len);
	close(fd);
	if (r < 0)
		return RFCTL_FAIL;

	/* A NUL or a newline at the end is the broker's business, not the JSON's. */
	while (len > 0 && (buf[len - 1] == '\0' || strchr(" \t\r\n", buf[len - 1])))
		len--;
	buf[len] = '\0';

	int ret = RFCTL_FAIL;
	json_object *o = NULL;
	if (ops_reply_is_error(buf, len))
		goto out;
	o = parse_reply(buf, len);
	if (!o)
		goto out;
	if (json) {
		fwrite(buf, 1, len, stdout);
		fputc('\n', stdout);
		ret = RFCTL_OK;
	} else {
		int p = cmd == RF_OPS_STATUS ? print_status(o) : print_clients(get(o, "clients"));
		ret = p < 0 ? RFCTL_FAIL : RFCTL_OK;
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		int e = errno;
		if (e != EPIPE) {
			rfctl_err(e, "cannot write to stdout");
			ret = RFCTL_FAIL;
		}
	}
out:
	json_object_put(o);
	free(buf);
	return ret;
}

int cmd_status(const struct rfctl *ctl, int argc, char **argv)
{
	return run_query(ctl, "status", RF_OPS_STATUS, argc, argv);
}

int cmd_clients(const struct rfctl *ctl, int argc, char **argv)
{
	return run_query(ctl, "clients", RF_OPS_CLIENTS, argc, argv);
}
