/*
 * deny-exec.c - the smallest useful ringfence client: denies the execution
 * of files whose path matches one of the glob patterns given as arguments,
 * allows everything else.  Uses the public client API only.
 *
 *   rf-example-deny-exec [--unknown-target=deny] '*evil*' '*.sh'
 *
 * An exec whose target path the message does not hold whole (the kernel
 * could not name it, or it was cut: rf_msg_target_known()) cannot be
 * matched: it is allowed, the answer for "no pattern matched", or denied
 * with --unknown-target=deny.
 *
 * ringfenced starts it from a manifest that grants AUTH on exec; run by
 * hand it fails with "not started by ringfenced".
 */
#include <fnmatch.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ringfence/ringfence.h>

static void usage(FILE *out)
{
	fputs("Usage: rf-example-deny-exec [--unknown-target=default|deny] PATTERN...\n"
	      "Denies exec of files whose path matches a fnmatch(3) PATTERN\n"
	      "('*' also matches '/'), allows everything else.  A target whose\n"
	      "path is unknown or cut is allowed (default) or denied (deny).\n"
	      "The client name is $RF_CLIENT_NAME, or deny-exec.\n", out);
}

static bool unknown_deny;   /* --unknown-target=deny */

static enum rf_verdict judge(const struct rf_message *m, char **patterns, int n)
{
	const char *path = rf_msg_str(m, m->ev.exec.target.path);

	/* never match a pattern against a path we do not have whole */
	if (!rf_msg_target_known(m))
		return unknown_deny ? RF_DENY : RF_ALLOW;

	for (int i = 0; i < n; i++)
		if (fnmatch(patterns[i], path, 0) == 0)
			return RF_DENY;
	return RF_ALLOW;
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	char **patterns = argv + 1;
	int npatterns = argc - 1;
	if (strcmp(argv[1], "--unknown-target=deny") == 0 || strcmp(argv[1], "--unknown-target=default") == 0) {
		unknown_deny = strcmp(argv[1], "--unknown-target=deny") == 0;
		patterns++, npatterns--;
	} else if (strncmp(argv[1], "--", 2) == 0) {
		usage(stderr);
		return 2;
	}
	if (npatterns < 1) {
		usage(stderr);
		return 2;
	}

	const char *name = getenv("RF_CLIENT_NAME");
	if (!name || !*name)
		name = "deny-exec";

	int err;
	rf_client_t *c = rf_client_new(name, &err);
	if (!c) {
		fprintf(stderr, "deny-exec: cannot connect: %s\n", rf_strerror(err));
		return 1;
	}
	if ((err = rf_subscribe(c, RF_EVENT_EXEC, RF_ACTION_AUTH)) != RF_OK ||
	    (err = rf_ready(c)) != RF_OK) {
		fprintf(stderr, "deny-exec: cannot subscribe: %s\n", rf_strerror(err));
		rf_client_free(c);
		return 1;
	}

	for (;;) {
		const struct rf_message *m;
		if ((err = rf_next(c, &m, -1)) != RF_OK)
			break;
		if (m->hdr.action != RF_ACTION_AUTH) {
			/* monitor mode: the broker sends exec as NOTIFY; report only */
			if (m->hdr.type == RF_EVENT_EXEC && judge(m, patterns, npatterns) == RF_DENY)
				fprintf(stderr, "deny-exec: would deny %s (monitor mode)\n",
					rf_msg_str(m, m->ev.exec.target.path));
			continue;
		}
		/*
		 * No caching (cache = false): the verdict depends on the path,
		 * but the kernel's cache is keyed by the inode, so an ALLOW for
		 * /tmp/ok would wrongly survive `mv /tmp/ok /tmp/evil`.
		 */
		enum rf_verdict v = m->hdr.type == RF_EVENT_EXEC
					    ? judge(m, patterns, npatterns) : RF_ALLOW;
		while ((err = rf_respond(c, m, v, false)) == RF_E_FULL)
			nanosleep(&(struct timespec){ .tv_nsec = 1000000 }, NULL);
		if (err != RF_OK)
			break;
	}
	if (err == RF_E_CLOSED)
		err = RF_OK;                   /* the broker is gone: a clean end */
	if (err != RF_OK)
		fprintf(stderr, "deny-exec: %s\n", rf_strerror(err));
	rf_client_free(c);
	return err == RF_OK ? 0 : 1;
}
