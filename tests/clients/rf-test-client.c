/*
 * rf-test-client - a configurable client for integration tests, written
 * against the public header only.
 *
 *   --subscribe LIST     comma-separated: auth_exec, auth_open, or event names
 *   --deny GLOB          deny AUTH events whose target matches (repeatable)
 *   --cache              ask for caching of allows
 *   --hang               subscribe, say ready, never answer anything
 *   --mute-target P, --mute-target-literal P, --mute-exe P   (prefix / literal mutes)
 *   --invert-target      invert target muting
 *   --alert-on GLOB      report an alert (rule test-001) for events whose target matches
 *   --report FILE        append one line per message: "<action> <type> <seq> <target>"
 *                        (FILE must be outside any watched filesystem)
 */
#include <fnmatch.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

static const char *target_of(const struct rf_message *m)
{
	switch (m->hdr.type) {
	case RF_EVENT_EXEC: return rf_msg_str(m, m->ev.exec.target.path);
	case RF_EVENT_OPEN: return rf_msg_str(m, m->ev.open.target.path);
	case RF_EVENT_CREATE:
	case RF_EVENT_CLOSE_WRITE:
	case RF_EVENT_UNLINK:
	case RF_EVENT_RENAME: return rf_msg_str(m, m->ev.file.target.path);
	default: return "-";
	}
}

static int die(const char *what, int err)
{
	fprintf(stderr, "rf-test-client: %s: %s\n", what, rf_strerror(err));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "subscribe", required_argument, NULL, 's' }, { "deny", required_argument, NULL, 'd' },
		{ "cache", no_argument, NULL, 'c' },           { "hang", no_argument, NULL, 'H' },
		{ "mute-target", required_argument, NULL, 't' },
		{ "mute-target-literal", required_argument, NULL, 'T' },
		{ "mute-exe", required_argument, NULL, 'e' },  { "invert-target", no_argument, NULL, 'i' },
		{ "report", required_argument, NULL, 'r' },    { "alert-on", required_argument, NULL, 'a' },
		{ NULL, 0, NULL, 0 },
	};
	const char *subs = "auth_exec", *deny[16], *report = NULL, *alert_on = NULL;
	const char *mute[16];
	unsigned mflags[16];
	int ndeny = 0, nmute = 0, o;
	bool cache = false, hang = false, invert = false;
	while ((o = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (o) {
		case 's': subs = optarg; break;
		case 'd': if (ndeny < 16) deny[ndeny++] = optarg; break;
		case 'c': cache = true; break;
		case 'H': hang = true; break;
		case 't': case 'T': case 'e':
			if (nmute < 16) {
				mute[nmute] = optarg;
				mflags[nmute++] = (o == 'T' ? RF_MUTE_LITERAL : RF_MUTE_PREFIX) |
						  (o == 'e' ? RF_MUTE_EXE : RF_MUTE_TARGET);
			}
			break;
		case 'i': invert = true; break;
		case 'r': report = optarg; break;
		case 'a': alert_on = optarg; break;
		default: return 2;
		}
	}
	int err;
	const char *name = getenv("RF_CLIENT_NAME");
	rf_client_t *c = rf_client_new(name ? name : "test", &err);
	if (!c)
		return die("connect", err);
	char list[512];
	snprintf(list, sizeof list, "%s", subs);
	for (char *save, *p = strtok_r(list, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		bool auth = !strncmp(p, "auth_", 5);
		enum rf_event_type t = rf_event_type_from_name(auth ? p + 5 : p);
		if ((err = rf_subscribe(c, t, auth ? RF_ACTION_AUTH : RF_ACTION_NOTIFY)) != RF_OK)
			return die(p, err);
	}
	for (int i = 0; i < nmute; i++)
		if ((err = rf_mute_path(c, mute[i], mflags[i])) != RF_OK)
			return die("mute", err);
	if (invert && (err = rf_mute_invert(c, RF_MUTE_TARGET, true)) != RF_OK)
		return die("invert", err);
	if ((err = rf_ready(c)) != RF_OK)
		return die("ready", err);
	FILE *rep = report ? fopen(report, "a") : NULL;
	for (;;) {
		const struct rf_message *m;
		err = rf_next(c, &m, -1);
		if (err == RF_E_CLOSED)
			break;
		if (err != RF_OK)
			return die("next", err);
		if (rep) {
			fprintf(rep, "%s %s %llu %s\n", m->hdr.action == RF_ACTION_AUTH ? "auth" : "notify",
				rf_event_type_name(m->hdr.type), (unsigned long long)m->hdr.seq, target_of(m));
			fflush(rep);
		}
		if (alert_on && fnmatch(alert_on, target_of(m), 0) == 0 &&
		    (err = rf_emit_alert(c, m, "test-001", "Test rule matched", "high",
					 "attack.execution,test")) != RF_OK)
			return die("alert", err);
		if (hang || m->hdr.action != RF_ACTION_AUTH)
			continue;
		enum rf_verdict v = RF_ALLOW;
		for (int i = 0; i < ndeny; i++)
			if (fnmatch(deny[i], target_of(m), 0) == 0)
				v = RF_DENY;
		if ((err = rf_respond(c, m, v, cache && v == RF_ALLOW)) != RF_OK)
			return die("respond", err);
	}
	rf_client_free(c);
	return 0;
}
