/*
 * rfctl.c - the operator CLI of ringfence: global options, command
 * dispatch, usage texts and small helpers shared by the commands.
 *
 * rfctl talks to ringfenced over STATE_DIR/control.sock (AF_UNIX,
 * SOCK_SEQPACKET): one struct rf_ops_req, then one JSON reply (status,
 * clients) or a stream of messages (tail, record).  See ctl.h.
 */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl/ctl.h"
#include "ringfence/ringfence.h"

struct command {
	const char *name;
	int (*run)(const struct rfctl *ctl, int argc, char **argv);
	const char *synopsis;
	const char *help;
};

static const struct command commands[] = {
	{ "status", cmd_status, "status [--json]",
	  "Shows the broker's health: sensors, AUTH marks, deadlines and verdict\n"
	  "counters, event counters and the supervised clients.\n\n"
	  "  -j, --json          print the broker's JSON reply as it is\n" },
	{ "clients", cmd_clients, "clients [--json]",
	  "Lists the supervised clients: state, mode, subscriptions, deliveries,\n"
	  "drops and AUTH answers (asked, answered, missed deadlines, late).\n\n"
	  "  -j, --json          print the broker's JSON reply as it is\n" },
	{ "tail", cmd_tail, "tail [--events LIST]",
	  "Streams events, AUTH events with their verdicts included, as JSON Lines\n"
	  "(one object per line) until interrupted.  rfctl's own process group is\n"
	  "left out.  Events the broker had to drop because this reader was slow\n"
	  "are announced by a line {\"schema_version\":1,\"type\":\"dropped\",\"count\":N}.\n\n"
	  "  -e, --events LIST   only these event types (comma separated)\n" },
	{ "record", cmd_record, "record FILE [--events LIST] [--count N] [--duration SECONDS]",
	  "Records events to FILE (created with mode 0600) in the binary format the\n"
	  "broker's replay source reads, until interrupted, N events or SECONDS have\n"
	  "passed.  A summary goes to stderr.\n\n"
	  "  -e, --events LIST   only these event types (comma separated)\n"
	  "  -n, --count N       stop after N events\n"
	  "  -d, --duration S    stop after S seconds (fractions allowed)\n" },
	{ "content", cmd_content, "content SUBCOMMAND [ARGS] [OPTIONS]",
	  "Makes and maintains a signed content repository (docs/CONTENT-DELIVERY.md)\n"
	  "and checks one as an endpoint does (no broker needed); shows and steers\n"
	  "the broker's managed content (status ... delay).\n\n"
	  "  keygen NAME [--dir D]\n"
	  "      a new Ed25519 key: D/NAME.key (mode 0600, keep it offline) and D/NAME.pub\n"
	  "  init REPO --root-key K.key... --targets-key K.pub... --snapshot-key K.pub...\n"
	  "       --timestamp-key K.pub... [--ROLE-threshold N] [--expires DUR]\n"
	  "      a repository with root version 1 (1.root.json, root.json), signed by\n"
	  "      the root keys; ROLE is root, targets, snapshot or timestamp\n"
	  "  root REPO --version N --root-key K... --targets-key K... --snapshot-key K...\n"
	  "       --timestamp-key K... [--ROLE-threshold N] [--expires DUR] --sign K.key...\n"
	  "      root version N (N.root.json) for a rotation; it must be signed by the\n"
	  "      thresholds of the old and of the new root keys\n"
	  "  sign FILE --key K.key\n"
	  "      adds the key's signature to a metadata file (none twice)\n"
	  "  publish REPO BUNDLE --client NAME --version V [--content-version S]\n"
	  "       [--abi MIN-MAX] [--cohort C]... [--name TARGET] --targets-key K.key\n"
	  "       --snapshot-key K.key --timestamp-key K.key [--expires DUR]\n"
	  "       [--timestamp-expires DUR]\n"
	  "      adds BUNDLE as targets/TARGET (default NAME/V-HASH.EXT) with new targets,\n"
	  "      snapshot and timestamp metadata; V must exceed every listed version of\n"
	  "      NAME; content version and ABI range default to the bundle's\n"
	  "  timestamp REPO --timestamp-key K.key [--expires DUR]\n"
	  "      a new timestamp over the current snapshot (for cron)\n"
	  "  verify LOCATION --root ROOT.json [--now TIME]\n"
	  "      an endpoint's checks of a directory, file://, http:// or https://\n"
	  "      repository and every target; exit 1 names the error class\n"
	  "On the endpoint, through the broker:\n"
	  "  status [--json]     what each managed client runs: current, candidate,\n"
	  "                      last-known-good, trial, rejections; trusted metadata\n"
	  "  check               check the repository now\n"
	  "  pause | resume      stop / restart checks and activations\n"
	  "  pin CLIENT [VERSION]  stay on VERSION (default: the current one)\n"
	  "  unpin CLIENT\n"
	  "  delay HOURS         new content waits HOURS after it is first seen\n\n"
	  "  DUR   30s, 15m, 12h, 7d; negative (-1h) makes metadata already expired,\n"
	  "        for tests.  Defaults: root 365d, targets and snapshot 30d, timestamp 1d\n"
	  "  TIME  RFC 3339 UTC, like 2026-11-21T12:00:00Z\n" },
};

#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < N_COMMANDS; i++)
		if (strcmp(commands[i].name, name) == 0)
			return &commands[i];
	return NULL;
}

static void print_event_names(FILE *out)
{
	fputs("Event types:", out);
	for (unsigned t = 1; t < RF_EVENT_MAX; t++)
		fprintf(out, "%s%s", t == 1 ? " " : ",", rf_event_type_name(t));
	fputc('\n', out);
}

void rfctl_usage(FILE *out, const char *command)
{
	const struct command *c = command ? find_command(command) : NULL;
	if (c) {
		fprintf(out, "Usage: rfctl [-S STATE_DIR] %s\n\n%s", c->synopsis, c->help);
		fputs("  -h, --help          show this help\n", out);
		if (c->run == cmd_tail || c->run == cmd_record) {
			fputc('\n', out);
			print_event_names(out);
		}
		return;
	}
	fputs("Usage: rfctl [-S STATE_DIR] COMMAND [OPTIONS]\n\n"
	      "The operator tool of ringfenced, the ringfence endpoint-security broker.\n\n"
	      "Commands:\n", out);
	for (size_t i = 0; i < N_COMMANDS; i++)
		fprintf(out, "  %s\n", commands[i].synopsis);
	fputs("  help [COMMAND]\n\n"
	      "Options:\n"
	      "  -S, --state-dir DIR  ringfenced's state directory (default "
	      RFCTL_DEFAULT_STATE_DIR ")\n"
	      "  -h, --help           show this help; `rfctl COMMAND -h` for a command's\n\n"
	      "Exit status: 0 success, 1 failure, 2 usage error.\n", out);
}

int rfctl_usage_error(const char *command, const char *fmt, ...)
{
	va_list ap;
	fputs("rfctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (command)
		fprintf(stderr, "\nUsage: rfctl [-S STATE_DIR] %s\nTry 'rfctl %s --help'.\n",
			find_command(command) ? find_command(command)->synopsis : command, command);
	else
		fputs("\nTry 'rfctl --help'.\n", stderr);
	return RFCTL_USAGE;
}

void rfctl_err(int errnum, const char *fmt, ...)
{
	va_list ap;
	fputs("rfctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (errnum)
		fprintf(stderr, ": %s", strerror(errnum));
	fputc('\n', stderr);
}

int rfctl_parse_events(const char *command, const char *list, uint64_t *ret_mask)
{
	_Static_assert(RF_EVENT_MAX <= 64, "event mask is 64 bits");
	uint64_t mask = 0;
	const char *p = list;

	for (;;) {
		size_t n = strcspn(p, ",");
		char name[32];
		enum rf_event_type t = RF_EVENT_NONE;
		if (n > 0 && n < sizeof name) {
			memcpy(name, p, n);
			name[n] = '\0';
			t = rf_event_type_from_name(name);
		}
		if (t == RF_EVENT_NONE) {
			char valid[256];
			size_t used = 0;
			valid[0] = '\0';
			for (unsigned i = 1; i < RF_EVENT_MAX && used < sizeof valid; i++) {
				int k = snprintf(valid + used, sizeof valid - used, "%s%s",
						 i == 1 ? "" : ",", rf_event_type_name(i));
				used += k > 0 ? (size_t)k : 0;
			}
			rfctl_usage_error(command, "unknown event type '%.*s' in --events (valid: %s)",
					  (int)n, p, valid);
			return -EINVAL;
		}
		mask |= UINT64_C(1) << t;
		if (p[n] == '\0')
			break;
		p += n + 1;
	}
	*ret_mask = mask;
	return 0;
}

const char *rfctl_bad_option(char **argv)
{
	static char buf[3];
	if (optopt) {
		snprintf(buf, sizeof buf, "-%c", optopt);
		return buf;
	}
	return argv[optind - 1];
}

void rfctl_put_safe(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	for (; *p; p++) {
		/* C0 controls, DEL, and C1 controls (U+0080..U+009F in UTF-8). */
		if (*p < 0x20 || *p == 0x7f) {
			fputc('?', out);
		} else if (*p == 0xc2 && p[1] >= 0x80 && p[1] <= 0x9f) {
			fputc('?', out);
			p++;
		} else {
			fputc(*p, out);
		}
	}
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "state-dir", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *state_dir = RFCTL_DEFAULT_STATE_DIR;
	int c;

	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:S:h", opts, NULL)) != -1) {
		switch (c) {
		case 'S':
			state_dir = optarg;
			break;
		case 'h':
			rfctl_usage(stdout, NULL);
			return RFCTL_OK;
		case ':':
			return rfctl_usage_error(NULL, "option '%s' needs an argument", argv[optind - 1]);
		default:
			return rfctl_usage_error(NULL, "unknown option '%s'", rfctl_bad_option(argv));
		}
	}
	if (optind >= argc) {
		rfctl_usage(stderr, NULL);
		return RFCTL_USAGE;
	}

	const char *name = argv[optind];
	if (strcmp(name, "help") == 0) {
		const char *topic = optind + 1 < argc ? argv[optind + 1] : NULL;
		if (topic && !find_command(topic))
			return rfctl_usage_error(NULL, "unknown command '%s'", topic);
		rfctl_usage(stdout, topic);
		return RFCTL_OK;
	}
	const struct command *cmd = find_command(name);
	if (!cmd)
		return rfctl_usage_error(NULL, "unknown command '%s'", name);

	struct rfctl ctl;
	int n = snprintf(ctl.sock_path, sizeof ctl.sock_path, "%s/%s", state_dir,
			 RFCTL_SOCKET_NAME);
	if (n < 0 || (size_t)n >= sizeof ctl.sock_path) {
		rfctl_err(0, "state directory path too long: %s", state_dir);
		return RFCTL_FAIL;
	}

	/* Commands parse their own options with a fresh getopt state. */
	int first = optind;
	optind = 0;
	return cmd->run(&ctl, argc - first, argv + first);
}
