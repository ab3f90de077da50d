/*
 * rf-chaos2 - a second, independent chaos client: same mode names and the
 * same promises as rf-chaos-client.c, written differently, so that the
 * suite shows the broker's handling does not depend on one client's code.
 *
 *   rf-chaos2 MODE        or        rf-chaos2 @FILE
 *
 * Differences from rf-chaos-client: its own poll() loop on rf_fd() with
 * rf_next(..., 0); a table of fault handlers; raw syscall() for the escape
 * attempts and the fork bomb; mmap'ed chunks for the leak; a uint32 record
 * layout for the out-of-bounds read; random forged ids; the control socket
 * found through RF_CLIENT_FD; the shared memory found through /proc with
 * mincore() probing as the fallback.  Public API (ringfence/ringfence.h) and
 * libc only.  Safety nets as in rf-chaos-client.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0";
}

static rf_client_t *h;
static const char *mname;
static pid_t boss;                 /* the broker: our parent */

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...)
{
	va_list ap;
	char line[600];
	int n = snprintf(line, sizeof line, "rf-chaos2[%d] %s: ", (int)getpid(), mname);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof line - (size_t)n, fmt, ap);
	va_end(ap);
	size_t len = strlen(line);
	line[len] = '\n';
	if (write(2, line, len + 1) < 0) {
		/* nowhere to report it */
	}
}

static uint64_t now_us(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000u + (uint64_t)t.tv_nsec / 1000u;
}

static void orphan_check(void)
{
	if (getppid() != boss)
		_exit(0);
}

/* ALLOW/DENY with a bounded retry on a full response ring. */
static void vote(const struct rf_message *m, enum rf_verdict v)
{
	uint64_t give_up = now_us() + 150000;
	while (rf_respond(h, m, v, false) == RF_E_FULL && now_us() < give_up)
		poll(NULL, 0, 1);
}

/* ------------------------------------------------------------------ faults */

/* oob-read: a rule VM matching a sensor record against a content template */
struct tmpl {
	uint32_t input_count;      /* what the content says the sensor supplies */
	uint32_t want[32];
};

static int rule_matches(const struct tmpl *t, const volatile uint32_t *rec)
{
	int hits = 0;
	for (uint32_t i = 0; i < t->input_count; i++)
		hits += rec[i] == t->want[i];
	return hits;
}

static int f_oob_read(const struct rf_message *m)
{
	size_t pg = (size_t)getpagesize();
	/* reserve two inaccessible pages, then make the first one usable */
	unsigned char *area = mmap(NULL, 2 * pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (area == MAP_FAILED ||
	    mmap(area, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == MAP_FAILED) {
		note("mmap: %s", strerror(errno));
		raise(SIGSEGV);
	}
	uint32_t *rec = (uint32_t *)(area + pg) - 20;     /* 20 inputs, flush with the guard */
	for (int i = 0; i < 20; i++)
		rec[i] = (uint32_t)m->process.pid + (uint32_t)i;
	struct tmpl t = { .input_count = 21 };
	note("rule VM: template wants %u inputs, sensor record has 20", t.input_count);
	int hits = rule_matches(&t, rec);
	note("no fault reading input 20 (hits %d): guard page missing", hits);
	raise(SIGSEGV);
	return 0;
}

static int f_abort(const struct rf_message *m)
{
	note("content_validate: assertion 'fields <= schema->fields' failed");
	sigset_t s;
	sigemptyset(&s);
	sigaddset(&s, SIGABRT);
	sigprocmask(SIG_UNBLOCK, &s, NULL);
	signal(SIGABRT, SIG_DFL);
	raise(SIGABRT);
	return 0;
}

static struct rf_message held;

static int f_hang(const struct rf_message *m)
{
	held = *m;                  /* keep it, never answer it, never read again */
	for (;;) {
		poll(NULL, 0, 1000);
		orphan_check();
	}
	return 0;
}

static int f_spin(const struct rf_message *m)
{
	uint64_t x = 1469598103934665603ull;
	const unsigned char *p = (const unsigned char *)m;
	uint64_t next_check = now_us() + 1000000;
	for (;;) {
		for (size_t i = 0; i < sizeof *m; i++)
			x = (x ^ p[i]) * 1099511628211ull;
		__asm__ volatile("" : "+r"(x));
		if (now_us() > next_check) {
			orphan_check();
			next_check = now_us() + 1000000;
		}
	}
	return 0;
}

/* leak: 4 MiB mmap chunks, every page touched, between event batches */
static size_t leaked_mb;
static bool leaking;

static int f_leak(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	leaking = true;
	return 1;
}

static void leak_step(void)
{
	if (!leaking)
		return;
	size_t chunk = 4u << 20, pg = (size_t)getpagesize();
	char *p = mmap(NULL, chunk, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED) {
		note("out of memory after %zu MiB (%s): abort", leaked_mb, strerror(errno));
		abort();
	}
	for (size_t o = 0; o < chunk; o += pg)
		p[o] = (char)o | 1;
	leaked_mb += 4;
	if (leaked_mb >= 512) {
		note("SAFETY NET: %zu MiB leaked and not stopped: no memory limit", leaked_mb);
		leaking = false;
	}
}

/* fork-bomb: raw clone(SIGCHLD), children sleep until their parent dies */
static int f_fork_bomb(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	int made = 0;
	while (made < 64) {
		long pid = syscall(SYS_clone, (long)SIGCHLD, 0L, 0L, 0L, 0L);
		if (pid == 0) {
			boss = getppid();     /* the client: sleep until it is gone */
			for (;;) {
				poll(NULL, 0, 1000);
				orphan_check();
			}
		}
		if (pid < 0) {
			note("clone failed after %d children: %s", made, strerror(errno));
			return 1;
		}
		made++;
	}
	note("SAFETY NET: %d children made: no process limit", made);
	return 1;
}

static int f_fd_exhaust(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	int count = 0, e = 0;
	while (count < 65536) {
		int fd = openat(AT_FDCWD, "/dev/null", O_RDWR);
		if (fd < 0 && errno == EACCES)
			fd = fcntl(0, F_DUPFD, 0);    /* no grant for /dev/null: duplicate instead */
		if (fd < 0) {
			e = errno;
			break;
		}
		count++;
	}
	if (count >= 65536)
		note("SAFETY NET: %d descriptors: no descriptor limit", count);
	else
		note("out of descriptors after %d: %s", count, strerror(e));
	return 1;
}

/* flood-bogus: random ids from xorshift64* */
static uint64_t rng = 0x9e3779b97f4a7c15ull;
static uint64_t bogus_sent;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 2685821657736338717ull;
}

static void e_flood(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	struct rf_message copy;
	memcpy(&copy, m, sizeof copy);
	uint64_t stop = now_us() + 250000;
	int k = 0;
	while (k < 2000 && now_us() < stop) {
		copy.hdr.id = rnd() | 1;
		int r = rf_respond(h, &copy, RF_DENY, false);
		if (r == RF_E_FULL) {
			poll(NULL, 0, 1);
			continue;
		}
		k++;
	}
	bogus_sent += (uint64_t)k;
	note("bogus responses sent: %llu", (unsigned long long)bogus_sent);
}

static int f_flood(const struct rf_message *m)
{
	e_flood(m);
	return 1;
}

/* malformed-resp: the response ring, seen through a local overlay.
 * Offsets hard-coded from ringfence's private src/common/wire.h: rf_shm_hdr
 * at 0 (magic u32 @0, resp_off u32 @20, resp_slots u32 @24); the response
 * ring control at 256 (head u64 @256, tail u64 @320, waiting @384); slots of
 * 32 bytes {u64 id; u32 verdict; u32 flags; u64 reserved[2]}. */
struct raw_slot {
	uint64_t id;
	uint32_t verdict;
	uint32_t flags;
	uint64_t reserved[2];
};
_Static_assert(sizeof(struct raw_slot) == 32, "slot layout");

static unsigned char *region;
static size_t region_len;

static bool looks_like_shm(const unsigned char *p, size_t len)
{
	const uint32_t *w = (const uint32_t *)p;
	return w[0] == 0x52465348u && w[6] && (w[6] & (w[6] - 1)) == 0 &&
	       w[5] + (uint64_t)w[6] * sizeof(struct raw_slot) <= len;
}

static void locate_region(void)
{
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	if (fd >= 0) {
		static char text[1 << 16];
		ssize_t n, got = 0;
		while (got < (ssize_t)sizeof text - 1 && (n = read(fd, text + got, sizeof text - 1 - (size_t)got)) > 0)
			got += n;
		close(fd);
		text[got < 0 ? 0 : got] = '\0';
		for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
			if (!strstr(line, "ringfence"))
				continue;
			char *dash;
			unsigned long lo = strtoul(line, &dash, 16), hi = strtoul(dash + 1, NULL, 16);
			if (hi > lo && looks_like_shm((unsigned char *)lo, hi - lo)) {
				region = (unsigned char *)lo;
				region_len = hi - lo;
				return;
			}
		}
	}
	/* no /proc: the library's handle holds a pointer to the mapping and its size */
	size_t pg = (size_t)getpagesize();
	unsigned char vec[16];
	const uint64_t *words = (const uint64_t *)(const void *)h;
	for (int i = 0; i < 32; i++) {
		uint64_t p = words[i], len = words[i + 1];
		if (!p || p % pg || len < pg || len % pg || len > (1ull << 30))
			continue;
		if (mincore((void *)(uintptr_t)p, pg, vec) < 0)
			continue;       /* ENOMEM: nothing mapped there */
		if (looks_like_shm((unsigned char *)(uintptr_t)p, len)) {
			region = (unsigned char *)(uintptr_t)p;
			region_len = len;
			return;
		}
	}
}

static bool ring_put(const struct raw_slot *s)
{
	volatile uint64_t *head = (volatile uint64_t *)(region + 256);
	volatile uint64_t *tail = (volatile uint64_t *)(region + 320);
	uint32_t off = ((uint32_t *)region)[5], n = ((uint32_t *)region)[6];
	uint64_t hd = *head, tl = __atomic_load_n(tail, __ATOMIC_ACQUIRE);
	if (hd - tl >= n)
		return false;
	struct raw_slot *slots = (struct raw_slot *)(region + off);
	slots[hd % n] = *s;
	__atomic_store_n(head, hd + 1, __ATOMIC_RELEASE);
	return true;
}

static void poke_broker(void)
{
	uint64_t one = 1;
	for (int fd = 0; fd < 128; fd++) {
		char link[40], to[80];
		snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
		ssize_t n = readlink(link, to, sizeof to - 1);
		bool efd;
		if (n > 0) {
			to[n] = '\0';
			efd = strstr(to, "[eventfd]") != NULL;
		} else {
			struct stat st;   /* no /proc: eventfds are anonymous inodes without a type */
			efd = fstat(fd, &st) == 0 && !(st.st_mode & S_IFMT);
		}
		if (efd && write(fd, &one, sizeof one) < 0)
			continue;
	}
}

static int f_malformed(const struct rf_message *m)
{
	locate_region();
	if (!region) {
		note("shared memory not found: answering normally");
		vote(m, RF_ALLOW);
		return 1;
	}
	int put = 0;
	for (int i = 0; i < 12; i++) {
		struct raw_slot s = { .id = i == 0 ? m->hdr.id : rnd(),
				      .verdict = 0x80000000u | (uint32_t)i,
				      .flags = 0xfffffff0u,
				      .reserved = { ~0ull, (uint64_t)i } };
		put += ring_put(&s);
	}
	poke_broker();
	note("%d malformed responses written at %p", put, (void *)region);
	return 1;
}

static void e_malformed(const struct rf_message *m)
{
	if (!region) {
		vote(m, RF_ALLOW);
		return;
	}
	struct raw_slot s = { .id = m->hdr.id, .verdict = RF_ALLOW };
	if (ring_put(&s))
		poke_broker();
}

/* oversized-ctl: a plausible control header announcing 70000 bytes, then the bytes */
static int f_oversized(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	const char *fds = getenv("RF_CLIENT_FD");
	int sock = fds ? atoi(fds) : 3;
	struct {
		uint32_t size;
		uint16_t version, type;
		uint32_t req_id, reserved;
	} hdr = { 70000, RF_PROTO_VERSION, 3, 999, 0 };
	static char body[70000 - sizeof hdr];
	memset(body, 'Z', sizeof body);
	struct iovec iov[2] = { { &hdr, sizeof hdr }, { body, sizeof body } };
	struct msghdr mh = { .msg_iov = iov, .msg_iovlen = 2 };
	ssize_t n = sendmsg(sock, &mh, MSG_NOSIGNAL);
	note("70000-byte control message on fd %d: %zd%s%s", sock, n, n < 0 ? " " : "",
	     n < 0 ? strerror(errno) : "");
	return 1;
}

static void e_duplicate(const struct rf_message *m)
{
	struct rf_message again = *m;
	vote(m, RF_ALLOW);
	vote(&again, RF_ALLOW);
}

static int f_duplicate(const struct rf_message *m)
{
	e_duplicate(m);
	return 1;
}

static void e_late(const struct rf_message *m)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	int64_t now = (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
	int64_t wait_ms = m->hdr.deadline_ns ? ((int64_t)m->hdr.deadline_ns - now) / 1000000 + 100 : 1100;
	for (uint64_t end = now_us() + (uint64_t)(wait_ms > 0 ? wait_ms : 0) * 1000; now_us() < end;)
		poll(NULL, 0, (int)((end - now_us()) / 1000) + 1);
	vote(m, RF_ALLOW);
}

static int f_late(const struct rf_message *m)
{
	e_late(m);
	return 1;
}

static void e_foreign(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	struct rf_message other;
	memcpy(&other, m, sizeof other);
	for (uint64_t k = 3; k >= 1; k--) {
		other.hdr.id = m->hdr.id - (k << 20);
		if (other.hdr.id && other.hdr.id < m->hdr.id)
			vote(&other, RF_DENY);
		other.hdr.id = m->hdr.id + (k << 20);
		vote(&other, RF_DENY);
	}
}

static int f_foreign(const struct rf_message *m)
{
	e_foreign(m);
	return 1;
}

/* escape: raw system calls, one line each */
static int f_escape(const struct rf_message *m)
{
	vote(m, RF_ALLOW);
	bool privileged = geteuid() == 0;
	struct { const char *what; int nr; bool dangerous; } tries[] = {
		{ "open /etc/shadow", 0, false },
		{ "socket(AF_INET)", 1, false },
		{ "ptrace(PTRACE_ATTACH, 1)", 2, true },
		{ "execve /bin/sh", 3, false },
		{ "mount", 4, true },
		{ "bpf(BPF_PROG_LOAD)", 5, false },
		{ "write /etc/rf-escape", 6, true },
	};
	int stopped = 0;
	for (size_t i = 0; i < sizeof tries / sizeof tries[0]; i++) {
		if (tries[i].dangerous && privileged) {
			note("%s: SKIPPED: running as root (no uid drop)", tries[i].what);
			continue;
		}
		long r = -1;
		unsigned char attr[144];
		switch (tries[i].nr) {
		case 0: r = syscall(SYS_openat, AT_FDCWD, "/etc/shadow", O_RDONLY | O_CLOEXEC); break;
		case 1: r = syscall(SYS_socket, AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0); break;
		case 2: r = syscall(SYS_ptrace, 16L /* PTRACE_ATTACH */, 1L, 0L, 0L); break;
		case 3:
			note("execve /bin/sh: trying (an exit 99 means it ran)");
			r = execl("/bin/sh", "sh", "-c", "exit 99", (char *)NULL);
			break;
		case 4: r = syscall(SYS_mount, "none", "/tmp", "tmpfs", 0L, NULL); break;
		case 5:
			memset(attr, 0, sizeof attr);
			r = syscall(SYS_bpf, 5L /* BPF_PROG_LOAD */, attr, (long)sizeof attr);
			break;
		case 6: r = syscall(SYS_openat, AT_FDCWD, "/etc/rf-escape", O_WRONLY | O_CREAT | O_CLOEXEC, 0600); break;
		}
		int e = errno;
		if (r < 0) {
			stopped++;
			note("%s: blocked (%s)", tries[i].what, strerror(e));
		} else {
			note("%s: ESCAPED (returned %ld)", tries[i].what, r);
			if (tries[i].nr == 6)
				unlink("/etc/rf-escape");
			if (tries[i].nr == 2)
				syscall(SYS_ptrace, 17L /* PTRACE_DETACH */, 1L, 0L, 0L);
			if (tries[i].nr != 4 && tries[i].nr != 2)
				close((int)r);
		}
	}
	note("%d attempts blocked%s", stopped, privileged ? "; running as root" : "");
	return 1;
}

/* ------------------------------------------------------------------ table */

struct fault {
	const char *name;
	int (*first)(const struct rf_message *m);   /* at the first AUTH event; 1 = handled */
	void (*each)(const struct rf_message *m);    /* later AUTH events; NULL = ALLOW */
	bool dies_at_start;
};

static const struct fault table[] = {
	{ "none", NULL, NULL, false },
	{ "oob-read", f_oob_read, NULL, false },
	{ "abort", f_abort, NULL, false },
	{ "hang-auth", f_hang, NULL, false },
	{ "spin", f_spin, NULL, false },
	{ "leak", f_leak, NULL, false },
	{ "fork-bomb", f_fork_bomb, NULL, false },
	{ "fd-exhaust", f_fd_exhaust, NULL, false },
	{ "flood-bogus", f_flood, e_flood, false },
	{ "malformed-resp", f_malformed, e_malformed, false },
	{ "oversized-ctl", f_oversized, NULL, false },
	{ "duplicate", f_duplicate, e_duplicate, false },
	{ "late", f_late, e_late, false },
	{ "foreign", f_foreign, e_foreign, false },
	{ "escape", f_escape, NULL, false },
	{ "crash-at-start", NULL, NULL, true },
};

static const struct fault *lookup(const char *arg)
{
	char buf[64];
	if (arg[0] == '@') {
		int fd = open(arg + 1, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
		if (fd >= 0)
			close(fd);
		if (n <= 0)
			return NULL;
		buf[n] = '\0';
		buf[strcspn(buf, " \t\r\n")] = '\0';
		arg = buf;
	}
	for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
		if (!strcmp(table[i].name, arg))
			return &table[i];
	return NULL;
}

int main(int argc, char **argv)
{
	const struct fault *f = argc == 2 ? lookup(argv[1]) : NULL;
	if (!f) {
		fprintf(stderr, "usage: rf-chaos2 MODE | @FILE (a known mode)\n");
		return 2;
	}
	mname = f->name;
	boss = getppid();
	rng ^= (uint64_t)getpid() << 17;

	const char *nm = getenv("RF_CLIENT_NAME");
	int e = 0;
	h = rf_client_new(nm ? nm : "chaos2", &e);
	if (!h) {
		note("connect: %s", rf_strerror(e));
		return 1;
	}
	if ((e = rf_subscribe(h, RF_EVENT_EXEC, RF_ACTION_AUTH)) != RF_OK) {
		note("subscribe: %s", rf_strerror(e));
		return 1;
	}
	if (f->dies_at_start) {
		note("giving up before ready");
		return 1;
	}
	if ((e = rf_ready(h)) != RF_OK) {
		note("ready: %s", rf_strerror(e));
		return 1;
	}
	note("ready");

	bool fired = false;
	for (;;) {
		/* drain first: an empty rf_next(..., 0) is what asks the broker to
		 * signal rf_fd() for the next message */
		for (;;) {
			const struct rf_message *m;
			int r = rf_next(h, &m, 0);
			if (r == RF_E_TIMEOUT)
				break;
			if (r == RF_E_CLOSED) {
				rf_client_free(h);
				return 0;
			}
			if (r != RF_OK) {
				note("rf_next: %s", rf_strerror(r));
				rf_client_free(h);
				return 1;
			}
			if (m->hdr.action != RF_ACTION_AUTH)
				continue;
			if (!fired) {
				fired = true;
				note("first AUTH event (id %llu): fault", (unsigned long long)m->hdr.id);
				if (f->first && f->first(m))
					continue;
			}
			if (f->each)
				f->each(m);
			else
				vote(m, RF_ALLOW);
		}
		leak_step();
		struct pollfd p = { .fd = rf_fd(h), .events = POLLIN };
		int n = poll(&p, 1, leaking ? 0 : 1000);
		if (n < 0 && errno != EINTR)
			break;
		if (n > 0 && (p.revents & POLLIN)) {
			uint64_t v;   /* consume the wake-up before draining */
			if (read(p.fd, &v, sizeof v) < 0 && errno != EAGAIN)
				break;
		}
	}
	rf_client_free(h);
	return 0;
}
