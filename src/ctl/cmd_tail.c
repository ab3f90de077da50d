/*
 * cmd_tail.c - `rfctl tail` (events as JSON Lines on stdout) and `rfctl
 * record` (events into a recording file), which share one stream loop.
 *
 * Every datagram from the broker is checked before use: a 16-byte
 * rf_ops_drop notice, or a message that passes rf_msg_validate() and fits
 * RF_MSG_MAX (MSG_TRUNC exposes longer ones, which are rejected).  Anything
 * else is reported, counted and skipped; it never stops the stream.
 *
 * SIGINT and SIGTERM are blocked except inside ppoll(), so a signal always
 * ends the loop at a well-defined point and record can close its file.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "common/recfile.h"
#include "common/wire.h"
#include "ctl/ctl.h"
#include "ctl/render.h"
#include "ringfence/ringfence.h"

/* Invalid datagrams reported one by one before going quiet. */
#define MAX_INVALID_WARNINGS 10

enum { SINK_CONTINUE = 0, SINK_STOP = 1, SINK_FAIL = -1 };

struct stream {
	uint64_t mask;             /* requested types; 0: all */
	uint64_t max_count;        /* 0: no limit */
	uint64_t deadline_ns;      /* CLOCK_MONOTONIC; 0: none */
	int (*on_msg)(struct stream *s, const void *msg, size_t len);
	void (*on_drop)(struct stream *s, uint64_t n);
	uint64_t msgs, dropped, invalid;
	struct rf_rec_writer *writer;     /* record */
	const char *path;                 /* record */
};

static volatile sig_atomic_t stop_signal;

static void on_signal(int sig)
{
	stop_signal = sig;
}

/* Blocks SIGINT and SIGTERM (they are taken inside ppoll only). */
static void setup_signals(sigset_t *ret_orig)
{
	struct sigaction sa;
	sigset_t block;

	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	/* A closed stdout is reported as EPIPE, and tail then ends quietly. */
	signal(SIGPIPE, SIG_IGN);

	sigemptyset(&block);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGTERM);
	sigprocmask(SIG_BLOCK, &block, ret_orig);
}

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void warn_invalid(struct stream *s, const char *why)
{
	s->invalid++;
	if (s->invalid <= MAX_INVALID_WARNINGS)
		rfctl_err(0, "warning: skipped an invalid message from ringfenced (%s)%s", why,
			  s->invalid == MAX_INVALID_WARNINGS ? "; not reporting more" : "");
}

/*
 * Reads the stream on fd until a signal, the end of the stream, the count
 * or the deadline, or a sink's request.  Returns RFCTL_OK or RFCTL_FAIL.
 */
static int run_stream(struct stream *s, int fd, const sigset_t *orig)
{
	static _Alignas(struct rf_message) unsigned char buf[RF_MSG_MAX];

	while (!stop_signal) {
		struct timespec ts, *tsp = NULL;
		if (s->deadline_ns) {
			uint64_t now = now_ns();
			if (now >= s->deadline_ns)
				break;
			uint64_t left = s->deadline_ns - now;
			ts.tv_sec = (time_t)(left / 1000000000u);
			ts.tv_nsec = (long)(left % 1000000000u);
			tsp = &ts;
		}
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		int r = ppoll(&pfd, 1, tsp, orig);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			rfctl_err(errno, "ppoll");
			return RFCTL_FAIL;
		}
		if (r == 0)
			continue;

		ssize_t n = recv(fd, buf, sizeof buf, MSG_TRUNC | MSG_DONTWAIT);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		if (n == 0 || (n < 0 && errno == ECONNRESET)) {
			rfctl_err(0, "ringfenced closed the stream");
			break;
		}
		if (n < 0) {
			rfctl_err(errno, "cannot receive from ringfenced");
			return RFCTL_FAIL;
		}
		if ((size_t)n > sizeof buf) {
			warn_invalid(s, "larger than RF_MSG_MAX");
			continue;
		}

		struct rf_ops_drop drop;
		if ((size_t)n == sizeof drop) {
			memcpy(&drop, buf, sizeof drop);
			if (drop.magic == RF_OPS_DROP_MAGIC) {
				s->dropped += drop.dropped;
				s->on_drop(s, drop.dropped);
				continue;
			}
		}

		int v = rf_msg_validate(buf, (size_t)n);
		if (v == RF_E_VERSION) {
			uint16_t version;
			memcpy(&version, buf + offsetof(struct rf_msg_hdr, version), sizeof version);
			rfctl_err(0, "ringfenced sends protocol version %u; rfctl speaks %u",
				  (unsigned)version, RF_PROTO_VERSION);
			return RFCTL_FAIL;
		}
		if (v != RF_OK) {
			/* Before the first message, JSON is the broker refusing the request. */
			if (s->msgs == 0 && s->invalid == 0 &&
			    ops_reply_is_error((const char *)buf, (size_t)n))
				return RFCTL_FAIL;
			warn_invalid(s, rf_strerror(v));
			continue;
		}

		/* The broker filters; this keeps the promise with an older one too. */
		uint16_t type = ((const struct rf_message *)(const void *)buf)->hdr.type;
		if (s->mask && !(s->mask & (UINT64_C(1) << type)))
			continue;

		int k = s->on_msg(s, buf, (size_t)n);
		if (k == SINK_FAIL)
			return RFCTL_FAIL;
		if (k == SINK_STOP)
			break;
		if (s->max_count && s->msgs >= s->max_count)
			break;
	}
	return RFCTL_OK;
}

/* ---- tail ---- */

/* Writes one line to stdout; SINK_STOP quietly when the reader went away. */
static int put_line(const char *line)
{
	if (fputs(line, stdout) >= 0 && fputc('\n', stdout) != EOF && fflush(stdout) == 0)
		return SINK_CONTINUE;
	if (errno == EPIPE)
		return SINK_STOP;
	rfctl_err(errno, "cannot write to stdout");
	return SINK_FAIL;
}

static int tail_msg(struct stream *s, const void *msg, size_t len)
{
	char *line;
	int r = rf_render_json(msg, len, &line);
	if (r < 0) {
		rfctl_err(-r, "cannot render a message");
		return r == -ENOMEM ? SINK_FAIL : SINK_CONTINUE;
	}
	s->msgs++;
	int k = put_line(line);
	free(line);
	return k;
}

static void tail_drop(struct stream *s, uint64_t n)
{
	char line[96];
	snprintf(line, sizeof line, "{\"schema_version\":%d,\"type\":\"dropped\",\"count\":%" PRIu64 "}",
		 RF_RENDER_SCHEMA_VERSION, n);
	rfctl_err(0, "warning: ringfenced dropped %" PRIu64 " event%s for this reader (too slow)",
		  n, n == 1 ? "" : "s");
	/* A write error shows up again on the next message line. */
	(void)put_line(line);
}

int cmd_tail(const struct rfctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t mask = 0;
	int c;

	while ((c = getopt_long(argc, argv, ":e:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (rfctl_parse_events("tail", optarg, &mask) < 0)
				return RFCTL_USAGE;
			break;
		case 'h':
			rfctl_usage(stdout, "tail");
			return RFCTL_OK;
		case ':':
			return rfctl_usage_error("tail", "option '%s' needs an argument", argv[optind - 1]);
		default:
			return rfctl_usage_error("tail", "unknown option '%s'", rfctl_bad_option(argv));
		}
	}
	if (optind < argc)
		return rfctl_usage_error("tail", "unexpected argument '%s'", argv[optind]);

	sigset_t orig;
	setup_signals(&orig);
	int fd = ops_open(ctl, RF_OPS_TAIL, mask, (uint32_t)getpgrp());
	if (fd < 0)
		return RFCTL_FAIL;

	struct stream s = { .mask = mask, .on_msg = tail_msg, .on_drop = tail_drop };
	int ret = run_stream(&s, fd, &orig);
	close(fd);
	if (s.invalid)
		rfctl_err(0, "%" PRIu64 " invalid message%s skipped", s.invalid,
			  s.invalid == 1 ? "" : "s");
	return ret;
}

/* ---- record ---- */

static int record_msg(struct stream *s, const void *msg, size_t len)
{
	int r = rf_rec_writer_append(s->writer, msg, len);
	if (r < 0) {
		rfctl_err(0, "cannot write %s: %s", s->path, rf_rec_strerror(r));
		return SINK_FAIL;
	}
	s->msgs++;
	return SINK_CONTINUE;
}

static void record_drop(struct stream *s, uint64_t n)
{
	/* Counted in s->dropped; the summary reports it. */
}

static int parse_count(const char *arg, uint64_t *ret)
{
	char *end;
	errno = 0;
	unsigned long long v = strtoull(arg, &end, 10);
	if (arg[0] < '0' || arg[0] > '9' || *end != '\0' || errno != 0 || v == 0)
		return -EINVAL;
	*ret = v;
	return 0;
}

static int parse_duration(const char *arg, uint64_t *ret_ns)
{
	char *end;
	errno = 0;
	double v = strtod(arg, &end);
	/* Up to ten years: well inside 64-bit nanoseconds. */
	if (end == arg || *end != '\0' || errno != 0 || !isfinite(v) || v <= 0 || v > 3.2e8)
		return -EINVAL;
	uint64_t ns = (uint64_t)(v * 1e9);
	*ret_ns = ns ? ns : 1;
	return 0;
}

int cmd_record(const struct rfctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "events", required_argument, NULL, 'e' },
		{ "count", required_argument, NULL, 'n' },
		{ "duration", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	uint64_t mask = 0, count = 0, duration_ns = 0;
	int c;

	while ((c = getopt_long(argc, argv, ":e:n:d:h", opts, NULL)) != -1) {
		switch (c) {
		case 'e':
			if (rfctl_parse_events("record", optarg, &mask) < 0)
				return RFCTL_USAGE;
			break;
		case 'n':
			if (parse_count(optarg, &count) < 0)
				return rfctl_usage_error("record", "--count needs a positive integer, not '%s'",
							 optarg);
			break;
		case 'd':
			if (parse_duration(optarg, &duration_ns) < 0)
				return rfctl_usage_error("record", "--duration needs a positive number of seconds, not '%s'",
							 optarg);
			break;
		case 'h':
			rfctl_usage(stdout, "record");
			return RFCTL_OK;
		case ':':
			return rfctl_usage_error("record", "option '%s' needs an argument", argv[optind - 1]);
		default:
			return rfctl_usage_error("record", "unknown option '%s'", rfctl_bad_option(argv));
		}
	}
	if (optind >= argc)
		return rfctl_usage_error("record", "missing FILE");
	if (optind + 1 < argc)
		return rfctl_usage_error("record", "unexpected argument '%s'", argv[optind + 1]);
	const char *path = argv[optind];

	sigset_t orig;
	setup_signals(&orig);
	/* Connect first, so that a broker that is not running leaves FILE alone. */
	int fd = ops_open(ctl, RF_OPS_TAIL, mask, (uint32_t)getpgrp());
	if (fd < 0)
		return RFCTL_FAIL;

	struct stream s = { .mask = mask, .on_msg = record_msg, .on_drop = record_drop,
			    .path = path, .max_count = count };
	int r = rf_rec_writer_open(path, &s.writer);
	if (r < 0) {
		rfctl_err(-r, "cannot create %s", path);
		close(fd);
		return RFCTL_FAIL;
	}
	if (duration_ns)
		s.deadline_ns = now_ns() + duration_ns;

	int ret = run_stream(&s, fd, &orig);
	close(fd);
	r = rf_rec_writer_close(s.writer);
	if (r < 0 && ret == RFCTL_OK) {
		rfctl_err(0, "cannot write %s: %s", path, rf_rec_strerror(r));
		ret = RFCTL_FAIL;
	}
	fprintf(stderr, "rfctl: recorded %" PRIu64 " event%s to %s; %" PRIu64
		" dropped by ringfenced, %" PRIu64 " invalid skipped\n",
		s.msgs, s.msgs == 1 ? "" : "s", path, s.dropped, s.invalid);
	return ret;
}
