/*
 * rf-detect - ringfence's behaviour-rule client: evaluates a content bundle
 * of compiled Sigma rules (rf-content) on exec, file and network events and
 * reports matches as alerts through the broker.  Uses the public client API
 * only, and runs in the client sandbox (no fork, exec, sockets; the bundle
 * is read once, from a path the manifest grants).
 *
 *   rf-detect [--bundle FILE] [--enforce] [--unknown-target default|deny]
 *
 * Without --bundle the content is the one the broker manages for the client
 * (manifest `content = managed`): rf_content_fd().
 *
 * Monitor mode (the default) only reports.  --enforce also answers AUTH
 * exec: an exec that matches a rule marked blocking is denied, everything
 * else is allowed; the manifest must say `mode = enforce` and grant
 * auth_exec, or the broker delivers exec as NOTIFY and nothing is blocked.
 *
 * Exit status: 0 when the broker went away, 1 on a client error, 3 when
 * the bundle was refused (the supervisor attributes that to the content).
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

#include "clients/rf-detect/detect.h"

static void usage(FILE *out)
{
	fputs("Usage: rf-detect [--bundle FILE] [--enforce] [--unknown-target default|deny]\n"
	      "Evaluates the rules of a content bundle (rf-content compile) on exec, file\n"
	      "and network events and reports matches as alerts (rfctl tail).  Without\n"
	      "--bundle, the content the broker manages for this client.  --enforce\n"
	      "denies AUTH execs that match a blocking rule.  --unknown-target deny\n"
	      "also denies those whose target path is unknown or cut, or where a\n"
	      "blocking rule reads a cut field and did not match (default: judge on\n"
	      "what the message holds).  The client name is $RF_CLIENT_NAME, or rf-detect.\n",
	      out);
}

static void pause_1ms(void)
{
	nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
}

/*
 * Subscribes to what the rules need.  A type the manifest does not grant is
 * a warning, not a failure: the rules for it see no events, the others run.
 */
static int subscribe_all(rf_client_t *c, const struct detector *d)
{
	uint32_t types = det_notify_types(d);
	int err;
	for (unsigned t = 1; t < RF_EVENT_MAX && t < 32; t++) {
		if (!(types & (1u << t)))
			continue;
		err = rf_subscribe(c, (enum rf_event_type)t, RF_ACTION_NOTIFY);
		if (err == RF_E_PERM)
			fprintf(stderr, "rf-detect: warning: the manifest does not grant %s events: "
				"rules on them see nothing\n", rf_event_type_name(t));
		else if (err != RF_OK) {
			fprintf(stderr, "rf-detect: subscribe %s: %s\n", rf_event_type_name(t), rf_strerror(err));
			return err;
		}
	}
	if (det_wants_auth_exec(d)) {
		err = rf_subscribe(c, RF_EVENT_EXEC, RF_ACTION_AUTH);
		if (err == RF_E_PERM)
			fprintf(stderr, "rf-detect: warning: the manifest does not grant auth_exec: "
				"blocking rules only report\n");
		else if (err != RF_OK) {
			fprintf(stderr, "rf-detect: subscribe auth exec: %s\n", rf_strerror(err));
			return err;
		}
	}
	return RF_OK;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "bundle", required_argument, NULL, 'b' },
		{ "enforce", no_argument, NULL, 'e' },
		{ "unknown-target", required_argument, NULL, 'u' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *bundle = NULL;
	bool enforce = false;
	enum det_unknown unknown = DET_UNKNOWN_DEFAULT;
	int opt;
	while ((opt = getopt_long(argc, argv, "b:eu:h", lo, NULL)) != -1) {
		switch (opt) {
		case 'b': bundle = optarg; break;
		case 'e': enforce = true; break;
		case 'u':
			if (strcmp(optarg, "deny") && strcmp(optarg, "default")) {
				fprintf(stderr, "rf-detect: --unknown-target: default or deny, not %s\n", optarg);
				return 2;
			}
			unknown = strcmp(optarg, "deny") ? DET_UNKNOWN_DEFAULT : DET_UNKNOWN_DENY;
			break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	int cfd = bundle ? -1 : rf_content_fd();
	if ((!bundle && cfd < 0) || optind != argc) {
		if (!bundle)
			fputs("rf-detect: no --bundle and no managed content (RF_CONTENT_FD)\n", stderr);
		usage(stderr);
		return 2;
	}

	/* Content first: a bundle this engine refuses is never half-used. */
	char err[256];
	struct rfe_engine *e;
	int lr = bundle ? rfe_load_file(bundle, &e, err, sizeof err)
			: rfe_load_fd(cfd, "managed content", &e, err, sizeof err);
	if (cfd >= 0)
		close(cfd);
	if (lr < 0) {
		fprintf(stderr, "rf-detect: bundle refused: %s\n", err);
		return 3;
	}
	fprintf(stderr, "rf-detect: content %s: %zu rules%s%s\n", rfe_content_version(e), rfe_nrules(e),
		rfe_has_blocking(e) ? " (some blocking)" : "", enforce ? ", enforce mode" : ", monitor mode");
	struct detector *d = det_new(e, enforce);
	if (!d) {
		fprintf(stderr, "rf-detect: out of memory\n");
		return 1;
	}
	d->unknown_target = unknown;

	const char *name = getenv("RF_CLIENT_NAME");
	if (!name || !*name)
		name = "rf-detect";
	int rc;
	rf_client_t *c = rf_client_new(name, &rc);
	if (!c) {
		fprintf(stderr, "rf-detect: cannot connect: %s\n", rf_strerror(rc));
		det_free(d);
		return 1;
	}
	if ((rc = subscribe_all(c, d)) != RF_OK || (rc = rf_ready(c)) != RF_OK) {
		rf_client_free(c);
		det_free(d);
		return 1;
	}

	uint64_t alerts_lost = 0;
	for (;;) {
		const struct rf_message *m;
		if ((rc = rf_next(c, &m, -1)) != RF_OK)
			break;
		struct det_result res;
		det_handle(d, m, &res);
		/* the verdict first: the kernel is waiting on it, nobody waits on alerts */
		if (m->hdr.action == RF_ACTION_AUTH) {
			enum rf_verdict v = res.deny ? RF_DENY : RF_ALLOW;
			/* never cached: the verdict depends on argv and parent, not only the file */
			while ((rc = rf_respond(c, m, v, false)) == RF_E_FULL)
				pause_1ms();
			if (rc != RF_OK)
				break;
		}
		for (unsigned i = 0; i < res.nalerts; i++) {
			struct rfe_rule_info ri;
			rfe_rule(d->e, res.alerts[i], &ri);
			rc = rf_emit_alert(c, m, ri.id, ri.title, ri.level, ri.tags[0] ? ri.tags : NULL);
			if (rc == RF_E_FULL) {
				alerts_lost++;   /* telemetry never blocks us; the loss is counted */
				rc = RF_OK;
			} else if (rc != RF_OK) {
				break;
			}
		}
		if (rc != RF_OK)
			break;
	}
	if (rc == RF_E_CLOSED)
		rc = RF_OK;   /* the broker is gone: a clean end */
	if (rc != RF_OK)
		fprintf(stderr, "rf-detect: %s\n", rf_strerror(rc));
	struct rfe_stats es;
	rfe_get_stats(d->e, &es);
	fprintf(stderr,
		"rf-detect: %llu messages, %llu evaluated, %llu alerts (%llu lost, %llu repeats), "
		"%llu auth (%llu denied; %llu unknown or cut, %llu of them denied), %llu regex errors\n",
		(unsigned long long)d->stats.messages, (unsigned long long)d->stats.evaluated,
		(unsigned long long)d->stats.alerts, (unsigned long long)alerts_lost,
		(unsigned long long)d->stats.repeats, (unsigned long long)d->stats.auth,
		(unsigned long long)d->stats.denied, (unsigned long long)d->stats.unknown,
		(unsigned long long)d->stats.unknown_denied, (unsigned long long)es.re_errors);
	rf_client_free(c);
	det_free(d);
	return rc == RF_OK ? 0 : 1;
}
