/*
 * rfb-client - the bench's allow-all client, written against the public
 * header only (include/ringfence/ringfence.h).
 *
 *   rfb-client [--auth exec,open] [--notify TYPE,...] [--cache] [--idle-ms N]
 *
 * It allows every AUTH event at once (asking for caching with --cache) and
 * counts NOTIFY events.  For every AUTH event it records, against the
 * broker's receipt time hdr.mono_ns (CLOCK_MONOTONIC, same clock here):
 *   recv: when rf_next() handed it to us (broker receipt -> client receipt)
 *   resp: when rf_respond() returned (broker receipt -> answer in the ring
 *         and the broker's eventfd written)
 * and, per report, its own CPU time since the previous one (cpu_ns: what
 * waiting and spinning cost the client).
 *
 * Reports go to stderr (which the broker's supervisor leaves pointing at
 * the broker's own log), one line each: "RFB-CLIENT {json}".  A report is
 * written, and the counters reset, when
 *   - an AUTH open, or an exec (AUTH or NOTIFY), of a file whose name starts
 *     with ".rfb-report-" arrives (the bench's in-band marker; the rest of the
 *     name is the report's tag),
 *   - NOTIFY events stopped arriving for --idle-ms (tag "idle"),
 *   - the broker goes away (tag "exit").
 */
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

#define MAX_SAMPLES (1u << 20)
#define MARKER ".rfb-report-"

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct lat {
	uint32_t *v;
	uint32_t n;
};

struct state {
	const char *name;
	struct lat recv, resp;
	uint64_t auth[3];          /* by type: exec, open */
	uint64_t notify;
	uint64_t first_ns, last_ns;
	uint64_t gaps0, dropped0;  /* client counters at the last report */
	uint64_t cpu0_ns;          /* own CPU time at the last report */
	uint64_t reports;
};

static void lat_add(struct lat *l, uint64_t ns)
{
	if (l->n < MAX_SAMPLES)
		l->v[l->n++] = ns > UINT32_MAX ? UINT32_MAX : (uint32_t)ns;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

static uint32_t q(const struct lat *l, double p)
{
	if (!l->n)
		return 0;
	uint32_t k = (uint32_t)(p * l->n);
	return l->v[k >= l->n ? l->n - 1 : k];
}

/* This process's CPU time (user + system), ns (clock_gettime: the sandbox allows it). */
static uint64_t cpu_ns(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) < 0)
		return 0;
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void report(rf_client_t *c, struct state *s, const char *tag)
{
	uint64_t cpu = cpu_ns();
	struct rf_client_stats st = { 0 };
	rf_stats(c, &st);
	qsort(s->recv.v, s->recv.n, sizeof *s->recv.v, cmp_u32);
	qsort(s->resp.v, s->resp.n, sizeof *s->resp.v, cmp_u32);
	double span = s->last_ns > s->first_ns ? (double)(s->last_ns - s->first_ns) : 0;
	char line[1024];
	int len = snprintf(line, sizeof line,
			   "RFB-CLIENT {\"client\":\"%s\",\"tag\":\"%.64s\",\"auth_exec\":%llu,\"auth_open\":%llu,"
			   "\"recv_p50_ns\":%u,\"recv_p99_ns\":%u,\"recv_p999_ns\":%u,"
			   "\"resp_p50_ns\":%u,\"resp_p99_ns\":%u,\"resp_p999_ns\":%u,\"resp_max_ns\":%u,"
			   "\"notify\":%llu,\"notify_span_ns\":%.0f,\"notify_per_s\":%.1f,"
			   "\"gaps\":%llu,\"broker_dropped\":%llu,\"cpu_ns\":%llu}\n",
			   s->name, tag, (unsigned long long)s->auth[1], (unsigned long long)s->auth[2],
			   q(&s->recv, 0.5), q(&s->recv, 0.99), q(&s->recv, 0.999), q(&s->resp, 0.5),
			   q(&s->resp, 0.99), q(&s->resp, 0.999), s->resp.n ? s->resp.v[s->resp.n - 1] : 0,
			   (unsigned long long)s->notify, span,
			   span > 0 && s->notify > 1 ? (double)(s->notify - 1) * 1e9 / span : 0.0,
			   (unsigned long long)(st.gaps - s->gaps0),
			   (unsigned long long)(st.broker_dropped - s->dropped0),
			   (unsigned long long)(cpu - s->cpu0_ns));
	if (len > 0 && write(2, line, (size_t)len < sizeof line ? (size_t)len : sizeof line - 1) < 0) {
		/* nowhere to complain */
	}
	s->recv.n = s->resp.n = 0;
	s->auth[0] = s->auth[1] = s->auth[2] = 0;
	s->notify = s->first_ns = s->last_ns = 0;
	s->gaps0 = st.gaps;
	s->dropped0 = st.broker_dropped;
	s->cpu0_ns = cpu;
	s->reports++;
}

static int subscribe_list(rf_client_t *c, const char *list, enum rf_action action)
{
	char buf[512];
	snprintf(buf, sizeof buf, "%s", list);
	for (char *sv, *p = strtok_r(buf, ",", &sv); p; p = strtok_r(NULL, ",", &sv)) {
		enum rf_event_type t = rf_event_type_from_name(p);
		int err = t == RF_EVENT_NONE ? RF_E_INVAL : rf_subscribe(c, t, action);
		if (err != RF_OK) {
			fprintf(stderr, "rfb-client: subscribe %s: %s\n", p, rf_strerror(err));
			return -1;
		}
	}
	return 0;
}

/* The tag of a marker file's path (an open or an exec of it), or NULL. */
static const char *marker_tag(const struct rf_message *m)
{
	const char *path;
	if (m->hdr.type == RF_EVENT_OPEN)
		path = rf_msg_str(m, m->ev.open.target.path);
	else if (m->hdr.type == RF_EVENT_EXEC)
		path = rf_msg_str(m, m->ev.exec.target.path);
	else
		return NULL;
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strncmp(base, MARKER, strlen(MARKER)) ? NULL : base + strlen(MARKER);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "auth", required_argument, NULL, 'a' },   { "notify", required_argument, NULL, 'n' },
		{ "cache", no_argument, NULL, 'c' },        { "idle-ms", required_argument, NULL, 'i' },
		{ NULL, 0, NULL, 0 },
	};
	const char *auth = NULL, *notify = NULL;
	bool cache = false;
	uint64_t idle_ns = 300000000ull;
	int o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'a': auth = optarg; break;
		case 'n': notify = optarg; break;
		case 'c': cache = true; break;
		case 'i': idle_ns = strtoull(optarg, NULL, 10) * 1000000ull; break;
		default: return 2;
		}
	}
	struct state s = { 0 };
	s.name = getenv("RF_CLIENT_NAME");
	if (!s.name)
		s.name = "rfb";
	s.recv.v = malloc(MAX_SAMPLES * sizeof *s.recv.v);
	s.resp.v = malloc(MAX_SAMPLES * sizeof *s.resp.v);
	if (!s.recv.v || !s.resp.v)
		return 1;
	int err;
	rf_client_t *c = rf_client_new(s.name, &err);
	if (!c) {
		fprintf(stderr, "rfb-client: connect: %s\n", rf_strerror(err));
		return 1;
	}
	if ((auth && subscribe_list(c, auth, RF_ACTION_AUTH) < 0) ||
	    (notify && subscribe_list(c, notify, RF_ACTION_NOTIFY) < 0))
		return 1;
	if ((err = rf_ready(c)) != RF_OK) {
		fprintf(stderr, "rfb-client: ready: %s\n", rf_strerror(err));
		return 1;
	}
	for (;;) {
		const struct rf_message *m;
		err = rf_next(c, &m, 100);
		if (err == RF_E_TIMEOUT) {
			if (s.notify && now_ns() - s.last_ns >= idle_ns)
				report(c, &s, "idle");
			continue;
		}
		if (err == RF_E_CLOSED)
			break;
		if (err != RF_OK) {
			fprintf(stderr, "rfb-client: next: %s\n", rf_strerror(err));
			return 1;
		}
		uint64_t t = now_ns();
		if (m->hdr.action != RF_ACTION_AUTH) {
			const char *tag = marker_tag(m);
			if (tag) {
				report(c, &s, tag);
				continue;
			}
			if (!s.notify)
				s.first_ns = t;
			s.last_ns = t;
			s.notify++;
			continue;
		}
		lat_add(&s.recv, t - m->hdr.mono_ns);
		if ((err = rf_respond(c, m, RF_ALLOW, cache)) != RF_OK) {
			fprintf(stderr, "rfb-client: respond: %s\n", rf_strerror(err));
			return 1;
		}
		lat_add(&s.resp, now_ns() - m->hdr.mono_ns);
		if (m->hdr.type == RF_EVENT_EXEC || m->hdr.type == RF_EVENT_OPEN)
			s.auth[m->hdr.type]++;
		const char *tag = marker_tag(m);
		if (tag) {
			/* the marker itself is not part of the workload */
			s.auth[m->hdr.type]--;
			if (s.recv.n)
				s.recv.n--;
			if (s.resp.n)
				s.resp.n--;
			report(c, &s, tag);
		}
	}
	if (s.notify || s.recv.n)
		report(c, &s, "exit");
	rf_client_free(c);
	return 0;
}
