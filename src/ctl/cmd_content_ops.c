/*
 * cmd_content_ops.c - the operator's side of managed content, over the
 * control socket: what the store holds and what it last did (status), and
 * the controls (check now, pause, resume, pin, unpin, delay).  The
 * repository side (keygen, sign, publish, verify) is cmd_content.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/wire.h"
#include "ctl/ctl.h"
#include "ctl/opsreq.h"

/* The broker's JSON reply on fd (closed here), or NULL after reporting why. */
static json_object *reply_json(int fd)
{
	if (fd < 0)
		return NULL;
	char *buf;
	size_t len;
	int r = ops_recv_reply(fd, RFCTL_REPLY_TIMEOUT_MS, &buf, &len);
	close(fd);
	if (r < 0)
		return NULL;
	json_object *o = json_tokener_parse(buf);
	free(buf);
	if (!o)
		rfctl_err(0, "the broker's reply is not JSON");
	return o;
}

static int fetch_status(const struct rfctl *ctl, json_object **ret)
{
	json_object *o = reply_json(ops_open(ctl, RF_OPS_STATUS, 0, 0));
	if (!o)
		return RFCTL_FAIL;
	json_object *c;
	if (!o || !json_object_object_get_ex(o, "content", &c)) {
		json_object_put(o);
		rfctl_err(0, "the broker's status has no content section");
		return RFCTL_FAIL;
	}
	*ret = json_object_get(c);
	json_object_put(o);
	return RFCTL_OK;
}

static const char *str(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_string(v) : "";
}

static int64_t num(json_object *o, const char *k)
{
	json_object *v;
	return json_object_object_get_ex(o, k, &v) && v ? json_object_get_int64(v) : 0;
}

static void put_ref(const char *label, json_object *c, const char *k)
{
	json_object *r;
	printf("    %-16s ", label);
	if (!json_object_object_get_ex(c, k, &r) || !r) {
		puts("-");
		return;
	}
	printf("%" PRId64 " (", num(r, "version"));
	rfctl_put_safe(stdout, str(r, "content_version"));
	printf(") sha256 %.16s\n", str(r, "sha256"));
}

static int show_status(const struct rfctl *ctl, bool json)
{
	json_object *c;
	if (fetch_status(ctl, &c) != RFCTL_OK)
		return RFCTL_FAIL;
	if (json) {
		puts(json_object_to_json_string_ext(c, JSON_C_TO_STRING_PRETTY));
		json_object_put(c);
		return RFCTL_OK;
	}
	json_object *v;
	if (!json_object_object_get_ex(c, "enabled", &v) || !json_object_get_boolean(v)) {
		puts("managed content: off (no client has content = managed, no [content] repository)");
		json_object_put(c);
		return RFCTL_OK;
	}
	printf("repository  ");
	rfctl_put_safe(stdout, *str(c, "repository") ? str(c, "repository") : "(none)");
	printf("\nupdates     %s, delay %" PRId64 " h, cohort %s\n",
	       json_object_object_get_ex(c, "paused", &v) && json_object_get_boolean(v) ? "PAUSED" : "on",
	       num(c, "delay_hours"), str(c, "cohort"));
	printf("last check  %s", str(c, "last_result"));
	if (*str(c, "last_error")) {
		printf(": ");
		rfctl_put_safe(stdout, str(c, "last_error"));
	}
	printf("  (%" PRId64 " checks, %" PRId64 " refused)\n", num(c, "checks"), num(c, "refused"));
	json_object *tr;
	if (json_object_object_get_ex(c, "trusted", &tr)) {
		printf("trusted    ");
		json_object_object_foreach(tr, role, r) {
			time_t e = (time_t)num(r, "expires");
			char when[32] = "-";
			if (e)
				strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", gmtime(&e));
			printf(" %s v%" PRId64 " (expires %s)", role, num(r, "version"), when);
		}
		putchar('\n');
	}
	json_object *cl;
	if (json_object_object_get_ex(c, "clients", &cl)) {
		json_object_object_foreach(cl, name, x) {
			printf("client %s%s", name, json_object_object_get_ex(x, "blessed", &v) &&
							   json_object_get_boolean(v) ? "" : "  (current not blessed yet)");
			if (num(x, "pin"))
				printf("  pinned to %" PRId64, num(x, "pin"));
			putchar('\n');
			put_ref("current", x, "current");
			put_ref("candidate", x, "candidate");
			put_ref("last-known-good", x, "last_known_good");
			json_object *t, *rj;
			if (json_object_object_get_ex(x, "trial", &t) && strcmp(str(t, "state"), "none"))
				printf("    %-16s %s: %" PRId64 " events, %" PRId64 "/%" PRId64 " AUTH answered, %" PRId64
				       " late, %" PRId64 " alerts\n", "trial", str(t, "state"), num(t, "events"),
				       num(t, "answered"), num(t, "auth"), num(t, "late"), num(t, "alerts"));
			if (json_object_object_get_ex(x, "rejected", &rj))
				for (size_t i = 0; i < json_object_array_length(rj); i++) {
					json_object *e = json_object_array_get_idx(rj, i);
					printf("    %-16s %" PRId64 ": ", i ? "" : "rejected", num(e, "version"));
					rfctl_put_safe(stdout, str(e, "why"));
					putchar('\n');
				}
			printf("    %-16s ", "last");
			rfctl_put_safe(stdout, str(x, "outcome"));
			putchar('\n');
		}
	}
	json_object_put(c);
	return RFCTL_OK;
}

static int send_op(const struct rfctl *ctl, uint32_t action, const char *client, uint64_t version, uint32_t hours)
{
	struct rf_ops_content q;
	memset(&q, 0, sizeof q);
	q.req.magic = RF_OPS_MAGIC;
	q.req.version = RF_PROTO_VERSION;
	q.req.cmd = RF_OPS_CONTENT;
	q.action = action;
	q.version = version;
	q.hours = hours;
	if (client) {
		if (!*client || strlen(client) >= sizeof q.client)
			return rfctl_usage_error("content", "client name: 1..%zu characters", sizeof q.client - 1);
		memcpy(q.client, client, strlen(client));
	}
	json_object *o = reply_json(ops_send_request(ctl, &q, sizeof q));
	if (!o)
		return RFCTL_FAIL;
	json_object *ok, *msg;
	if (!json_object_object_get_ex(o, "ok", &ok)) {
		json_object_put(o);
		rfctl_err(0, "unexpected reply from the broker");
		return RFCTL_FAIL;
	}
	bool good = json_object_get_boolean(ok);
	if (json_object_object_get_ex(o, good ? "message" : "error", &msg)) {
		if (good) {
			rfctl_put_safe(stdout, json_object_get_string(msg));
			putchar('\n');
		} else {
			rfctl_err(0, "%s", json_object_get_string(msg));
		}
	}
	json_object_put(o);
	return good ? RFCTL_OK : RFCTL_FAIL;
}

static int parse_num(const char *s, uint64_t max, uint64_t *ret)
{
	char *end;
	errno = 0;
	if (!s || !*s || *s == '-')
		return -1;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || *end || v > max)
		return -1;
	*ret = v;
	return 0;
}

int content_ops(const struct rfctl *ctl, int argc, char **argv)
{
	const char *sub = argv[0];
	uint64_t v = 0;
	if (!strcmp(sub, "status")) {
		bool json = argc == 2 && (!strcmp(argv[1], "--json") || !strcmp(argv[1], "-j"));
		if (argc > 2 || (argc == 2 && !json))
			return rfctl_usage_error("content", "status takes only --json");
		return show_status(ctl, json);
	}
	if (!strcmp(sub, "check") || !strcmp(sub, "pause") || !strcmp(sub, "resume")) {
		if (argc != 1)
			return rfctl_usage_error("content", "%s takes no arguments", sub);
		return send_op(ctl, sub[0] == 'c' ? RF_OPS_CONTENT_CHECK : sub[0] == 'p' ? RF_OPS_CONTENT_PAUSE
										: RF_OPS_CONTENT_RESUME,
			       NULL, 0, 0);
	}
	if (!strcmp(sub, "pin")) {
		if (argc < 2 || argc > 3 || (argc == 3 && (parse_num(argv[2], UINT32_MAX, &v) < 0 || !v)))
			return rfctl_usage_error("content", "pin CLIENT [VERSION], VERSION a number from 1");
		return send_op(ctl, RF_OPS_CONTENT_PIN, argv[1], v, 0);
	}
	if (!strcmp(sub, "unpin")) {
		if (argc != 2)
			return rfctl_usage_error("content", "unpin CLIENT");
		return send_op(ctl, RF_OPS_CONTENT_UNPIN, argv[1], 0, 0);
	}
	if (!strcmp(sub, "delay")) {
		if (argc != 2 || parse_num(argv[1], 8760, &v) < 0)
			return rfctl_usage_error("content", "delay HOURS, 0..8760");
		return send_op(ctl, RF_OPS_CONTENT_DELAY, NULL, 0, (uint32_t)v);
	}
	return -1;
}
