/*
 * rfb-load - the bench's workload driver.  Each subcommand runs one workload
 * and prints one JSON object on stdout.
 *
 *   rfb-load spawn     --path BIN  [--max N] [--secs S] [--warm W]
 *       posix_spawn(BIN) and waitpid, N times (or for S seconds)
 *   rfb-load open-hot  --path FILE [--max N] [--secs S] [--warm W]
 *       open(FILE, O_RDONLY) and close, N times
 *   rfb-load open-cold --dir DIR --count N [--secs S] [--warm W] [--gap-us G]
 *       open and close DIR/f000000 .. once each (made by mkfiles: no cache
 *       of any kind has seen them); the first W files are the warm-up.
 *       --gap-us sleeps G us between opens (a sparse stream of AUTH events;
 *       then each open is timed on its own and the sleeps are not counted)
 *   rfb-load mkfiles   --dir DIR --count N
 *       creates N empty files with mknod(2), which opens nothing, so no
 *       permission event and no cache mark can exist for them
 *   rfb-load touch     --path FILE
 *       one open and close (the bench's in-band marker for its clients)
 *   rfb-load storm     --path BIN --secs S [--workers W]
 *       W processes posix_spawn+wait BIN as fast as they can for S seconds;
 *       prints the total rate
 *   rfb-load wake-rtt  [--max N] [--cpus A,B] [--hops H]
 *       the machine's price of a sleeping hand-off: two processes bounce a
 *       token over a pair of eventfds (each side sleeps in read), N round
 *       trips; one round trip is two sleeping wake-ups.  --cpus pins the
 *       parent to CPU A and the child to CPU B.  --hops H (2..8) passes the
 *       token round a ring of H processes instead (op "wake-ringH"): with
 *       H = 4 on one CPU, the least an AUTH event can cost when the opener,
 *       the broker and a client share a CPU (opener -> broker -> client ->
 *       broker -> opener)
 *   rfb-load spin-rtt  [--max N] [--cpus A,B]
 *       the same over shared memory with both sides spinning: a hand-off
 *       that never sleeps
 *
 * Timing: one CLOCK_MONOTONIC read per operation (chained), so the loop's
 * total and every operation's latency come from the same reads.  ns_per_op
 * is total / n: the mean cost of one operation.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static uint64_t now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void die(const char *what)
{
	fprintf(stderr, "rfb-load: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void usage(void)
{
	fprintf(stderr, "usage: rfb-load spawn|open-hot|open-cold|mkfiles|touch|storm|wake-rtt|spin-rtt "
			"[--path P] [--dir D] [--count N] [--max N] [--secs S] [--warm W] [--workers W] [--gap-us G] [--hops H]\n");
	exit(2);
}

struct opts {
	const char *path, *dir;
	unsigned long count, max, warm, workers;
	int cpu_a, cpu_b;              /* -1: not pinned */
	double secs;
	unsigned long gap_us;          /* open-cold: sleep between opens */
	unsigned long hops;            /* wake-rtt: processes in the ring (2) */
};

/* ---- samples ---- */

struct samples {
	uint32_t *v;
	size_t n, cap;
	uint64_t total_ns;
};

static void samples_init(struct samples *s, size_t cap)
{
	s->v = malloc(cap * sizeof *s->v);
	if (!s->v)
		die("malloc");
	s->n = 0;
	s->cap = cap;
	s->total_ns = 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of sorted samples. */
static uint32_t quantile(const struct samples *s, double q)
{
	if (!s->n)
		return 0;
	size_t k = (size_t)(q * (double)s->n);
	if (k >= s->n)
		k = s->n - 1;
	return s->v[k];
}

static void print_result(const char *op, struct samples *s)
{
	qsort(s->v, s->n, sizeof *s->v, cmp_u32);
	printf("{\"op\":\"%s\",\"n\":%zu,\"total_ns\":%llu,\"ns_per_op\":%.1f,"
	       "\"p50_ns\":%u,\"p90_ns\":%u,\"p99_ns\":%u,\"p999_ns\":%u,\"max_ns\":%u}\n",
	       op, s->n, (unsigned long long)s->total_ns, s->n ? (double)s->total_ns / (double)s->n : 0.0,
	       quantile(s, 0.50), quantile(s, 0.90), quantile(s, 0.99), quantile(s, 0.999),
	       s->n ? s->v[s->n - 1] : 0);
	fflush(stdout);
}

static uint32_t clamp32(uint64_t x)
{
	return x > UINT32_MAX ? UINT32_MAX : (uint32_t)x;
}

/* ---- operations ---- */

static void spawn_one(const char *path)
{
	char *argv[] = { (char *)path, NULL };
	pid_t pid;
	int r = posix_spawn(&pid, path, NULL, NULL, argv, environ);
	if (r) {
		errno = r;
		die(path);
	}
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			die("waitpid");
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		fprintf(stderr, "rfb-load: %s: exit status 0x%x\n", path, st);
		exit(1);
	}
}

static void open_one(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(path);
	close(fd);
}

static void cold_name(char *buf, size_t len, const char *dir, unsigned long i)
{
	snprintf(buf, len, "%s/f%06lu", dir, i);
}

/* Runs op until max operations or secs seconds, whichever first. */
static void timed_loop(const struct opts *o, const char *op, int kind)
{
	const char *path = o->path;
	unsigned long max = o->max;
	if (kind == 2)
		max = o->count > o->warm ? o->count - o->warm : 0;
	if (!max)
		usage();
	char name[4096];
	for (unsigned long i = 0; i < o->warm; i++) {
		if (kind == 0)
			spawn_one(path);
		else if (kind == 1)
			open_one(path);
		else {
			cold_name(name, sizeof name, o->dir, i);
			open_one(name);
		}
	}
	struct samples s;
	samples_init(&s, max);
	uint64_t limit = o->secs > 0 ? (uint64_t)(o->secs * 1e9) : UINT64_MAX;
	uint64_t start = now_ns(), t0 = start, slept = 0;
	for (unsigned long i = 0; i < max; i++) {
		if (o->gap_us && i) {
			struct timespec gap = { .tv_sec = (time_t)(o->gap_us / 1000000),
						.tv_nsec = (long)(o->gap_us % 1000000) * 1000 };
			nanosleep(&gap, NULL);
			uint64_t t = now_ns();
			slept += t - t0;
			t0 = t;
		}
		if (kind == 0) {
			spawn_one(path);
		} else if (kind == 1) {
			open_one(path);
		} else {
			cold_name(name, sizeof name, o->dir, o->warm + i);
			open_one(name);
		}
		uint64_t t1 = now_ns();
		s.v[s.n++] = clamp32(t1 - t0);
		t0 = t1;
		if (t1 - start >= limit)
			break;
	}
	s.total_ns = t0 - start - slept;
	print_result(op, &s);
	free(s.v);
}

static void mkfiles(const struct opts *o)
{
	if (!o->dir || !o->count)
		usage();
	int dfd = open(o->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		die(o->dir);
	char name[32];
	for (unsigned long i = 0; i < o->count; i++) {
		snprintf(name, sizeof name, "f%06lu", i);
		if (mknodat(dfd, name, S_IFREG | 0644, 0) < 0 && errno != EEXIST)
			die(name);
	}
	close(dfd);
	printf("{\"op\":\"mkfiles\",\"n\":%lu}\n", o->count);
}

static void storm(const struct opts *o)
{
	if (!o->path || o->secs <= 0)
		usage();
	unsigned long w = o->workers ? o->workers : 2;
	int pfd[2];
	if (pipe(pfd) < 0)
		die("pipe");
	uint64_t start = now_ns(), end = start + (uint64_t)(o->secs * 1e9);
	for (unsigned long i = 0; i < w; i++) {
		pid_t pid = fork();
		if (pid < 0)
			die("fork");
		if (pid == 0) {
			close(pfd[0]);
			uint64_t n = 0;
			while (now_ns() < end) {
				spawn_one(o->path);
				n++;
			}
			if (write(pfd[1], &n, sizeof n) != sizeof n)
				_exit(1);
			_exit(0);
		}
	}
	close(pfd[1]);
	uint64_t total = 0, n;
	while (read(pfd[0], &n, sizeof n) == sizeof n)
		total += n;
	while (wait(NULL) > 0)
		;
	uint64_t took = now_ns() - start;
	printf("{\"op\":\"storm\",\"n\":%llu,\"workers\":%lu,\"total_ns\":%llu,\"per_s\":%.1f}\n",
	       (unsigned long long)total, w, (unsigned long long)took, (double)total * 1e9 / (double)took);
}

/* Ping-pong between a parent and a child: sleeping (eventfd) or spinning (shared memory). */
static void pin(int cpu)
{
	if (cpu < 0)
		return;
	cpu_set_t set;
	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof set, &set) < 0)
		die("sched_setaffinity");
}

/* wake-rtt --hops H: a ring of H processes, each sleeping in read until its turn. */
static void ring_rtt(const struct opts *o)
{
	unsigned long n = o->max ? o->max : 20000, h = o->hops;
	int efd[8];
	for (unsigned long i = 0; i < h; i++)
		if ((efd[i] = eventfd(0, EFD_CLOEXEC)) < 0)
			die("eventfd");
	pid_t kids[8];
	for (unsigned long p = 1; p < h; p++) {
		kids[p] = fork();
		if (kids[p] < 0)
			die("fork");
		if (kids[p] == 0) {
			pin(o->cpu_b);
			uint64_t v;
			for (unsigned long i = 0; i < n + 100; i++)
				if (read(efd[p], &v, sizeof v) != sizeof v || write(efd[(p + 1) % h], &v, sizeof v) != sizeof v)
					_exit(1);
			_exit(0);
		}
	}
	pin(o->cpu_a);
	struct samples s;
	samples_init(&s, n);
	uint64_t v = 1, start = 0, t0 = 0;
	for (unsigned long i = 0; i < n + 100; i++) {
		if (i == 100)
			start = t0 = now_ns();
		if (write(efd[1], &v, sizeof v) != sizeof v || read(efd[0], &v, sizeof v) != sizeof v)
			die("ring");
		if (i >= 100) {
			uint64_t t1 = now_ns();
			s.v[s.n++] = clamp32(t1 - t0);
			t0 = t1;
		}
	}
	s.total_ns = t0 - start;
	for (unsigned long p = 1; p < h; p++)
		waitpid(kids[p], NULL, 0);
	char op[32];
	snprintf(op, sizeof op, "wake-ring%lu", h);
	print_result(op, &s);
	free(s.v);
}

static void rtt(const struct opts *o, int spin)
{
	if (!spin && o->hops > 2) {
		ring_rtt(o);
		return;
	}
	unsigned long n = o->max ? o->max : 20000;
	int ping = eventfd(0, EFD_CLOEXEC), pong = eventfd(0, EFD_CLOEXEC);
	uint64_t *flag = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (ping < 0 || pong < 0 || flag == MAP_FAILED)
		die("eventfd/mmap");
	*flag = 0;
	pid_t pid = fork();
	if (pid < 0)
		die("fork");
	uint64_t v = 1;
	if (pid == 0) {
		pin(o->cpu_b);
		for (unsigned long i = 0; i < n + 100; i++) {
			if (spin) {
				while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 2 * i + 1)
					__builtin_ia32_pause();
				__atomic_store_n(flag, 2 * i + 2, __ATOMIC_RELEASE);
			} else if (read(ping, &v, sizeof v) != sizeof v || write(pong, &v, sizeof v) != sizeof v) {
				_exit(1);
			}
		}
		_exit(0);
	}
	pin(o->cpu_a);
	struct samples s;
	samples_init(&s, n);
	uint64_t start = 0, t0 = 0;
	for (unsigned long i = 0; i < n + 100; i++) {
		if (i == 100)
			start = t0 = now_ns();
		if (spin) {
			__atomic_store_n(flag, 2 * i + 1, __ATOMIC_RELEASE);
			while (__atomic_load_n(flag, __ATOMIC_ACQUIRE) != 2 * i + 2)
				__builtin_ia32_pause();
		} else if (write(ping, &v, sizeof v) != sizeof v || read(pong, &v, sizeof v) != sizeof v) {
			die("ping-pong");
		}
		if (i >= 100) {
			uint64_t t1 = now_ns();
			s.v[s.n++] = clamp32(t1 - t0);
			t0 = t1;
		}
	}
	s.total_ns = t0 - start;
	waitpid(pid, NULL, 0);
	print_result(spin ? "spin-rtt" : "wake-rtt", &s);
	free(s.v);
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	const char *cmd = argv[1];
	static const struct option lo[] = {
		{ "path", required_argument, NULL, 'p' },  { "dir", required_argument, NULL, 'd' },
		{ "count", required_argument, NULL, 'c' }, { "max", required_argument, NULL, 'n' },
		{ "secs", required_argument, NULL, 's' },  { "warm", required_argument, NULL, 'w' },
		{ "workers", required_argument, NULL, 'W' }, { "cpus", required_argument, NULL, 'C' },
		{ "gap-us", required_argument, NULL, 'g' }, { "hops", required_argument, NULL, 'H' },
		{ NULL, 0, NULL, 0 },
	};
	struct opts o = { .warm = ~0ul, .cpu_a = -1, .cpu_b = -1 };
	int c;
	optind = 2;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'p': o.path = optarg; break;
		case 'd': o.dir = optarg; break;
		case 'c': o.count = strtoul(optarg, NULL, 10); break;
		case 'n': o.max = strtoul(optarg, NULL, 10); break;
		case 's': o.secs = strtod(optarg, NULL); break;
		case 'w': o.warm = strtoul(optarg, NULL, 10); break;
		case 'W': o.workers = strtoul(optarg, NULL, 10); break;
		case 'g': o.gap_us = strtoul(optarg, NULL, 10); break;
		case 'H':
			o.hops = strtoul(optarg, NULL, 10);
			if (o.hops < 2 || o.hops > 8)
				usage();
			break;
		case 'C':
			if (sscanf(optarg, "%d,%d", &o.cpu_a, &o.cpu_b) != 2)
				usage();
			break;
		default: usage();
		}
	}
	signal(SIGPIPE, SIG_IGN);
	if (!strcmp(cmd, "spawn")) {
		if (!o.path)
			usage();
		if (o.warm == ~0ul)
			o.warm = 20;
		timed_loop(&o, "spawn", 0);
	} else if (!strcmp(cmd, "open-hot")) {
		if (!o.path)
			usage();
		if (o.warm == ~0ul)
			o.warm = 200;
		timed_loop(&o, "open-hot", 1);
	} else if (!strcmp(cmd, "open-cold")) {
		if (!o.dir || !o.count)
			usage();
		if (o.warm == ~0ul)
			o.warm = o.count / 20;
		timed_loop(&o, "open-cold", 2);
	} else if (!strcmp(cmd, "mkfiles")) {
		mkfiles(&o);
	} else if (!strcmp(cmd, "touch")) {
		if (!o.path)
			usage();
		open_one(o.path);
	} else if (!strcmp(cmd, "storm")) {
		storm(&o);
	} else if (!strcmp(cmd, "wake-rtt")) {
		rtt(&o, 0);
	} else if (!strcmp(cmd, "spin-rtt")) {
		rtt(&o, 1);
	} else {
		usage();
	}
	return 0;
}
