/*
 * rf-chaos-client - a misbehaving ringfence client for the fault-injection
 * suite (tests/faults/faults.sh, chaos-random.sh, latency.sh).
 *
 *   rf-chaos-client MODE        or        rf-chaos-client @FILE
 *
 * (@FILE: the mode is the first word of FILE, read at start; chaos-random.sh
 * changes a client's mode between its lives that way.)
 *
 * It is built on the public API only (ringfence/ringfence.h and libc), like a
 * third-party product.  It subscribes to AUTH exec, says ready, and answers
 * every AUTH event with ALLOW until the first AUTH event arrives; then it
 * commits its fault, so the fault happens while an exec is waiting.
 *
 * Modes:
 *   none            a well-behaved client (the baseline)
 *   oob-read        a content interpreter whose template declares 21 input
 *                   fields while the sensor supplies 20 reads field[20] past
 *                   the end of the array (July 2024); the array ends a page
 *                   that a PROT_NONE page follows, so the read always faults
 *   abort           abort()
 *   hang-auth       keep the AUTH event, never answer, stop reading
 *   spin            busy loop forever without answering
 *   leak            keep serving while allocating and touching memory
 *   fork-bomb       fork in a loop (expect EPERM/EAGAIN), then keep serving
 *   fd-exhaust      open /dev/null until EMFILE, then keep serving
 *   flood-bogus     answer, then push thousands of responses with forged ids
 *   malformed-resp  write garbage verdicts/flags straight into the response
 *                   ring through the shared mapping, kick the eventfds, and
 *                   from then on write responses through the mapping too
 *   oversized-ctl   send a 70 KB datagram on the control socket (fd 3)
 *   duplicate       answer every AUTH event twice (ALLOW, then DENY)
 *   late            answer every AUTH event 100 ms after its deadline
 *   foreign         also answer ids it was never sent (own id +- k << 20)
 *   escape          try to leave the sandbox (file, network, ptrace, exec,
 *                   mount, bpf, write outside the grant), report each
 *                   attempt on stderr, keep serving
 *   crash-at-start  exit 1 before rf_ready(), every time
 *
 * Safety nets, so that a broker without a working sandbox cannot hurt the
 * machine that runs the tests: the leak stops at 512 MiB, the fork bomb at
 * 64 children, descriptor exhaustion at 65536; the destructive escapes
 * (ptrace of init, mount, writing /etc) are not tried when running as root
 * (which itself means the sandbox dropped no uid) and that is reported.
 * A spinning or hanging client, and every fork-bomb child, exits when its
 * parent is gone (polling getppid(): prctl(PR_SET_PDEATHSIG) would be one
 * more denied call in the sandbox's counters).  Reaching a net is reported on stderr, where the
 * tests look for it.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <netinet/in.h>
#include <time.h>
#include <unistd.h>

#include <ringfence/ringfence.h>

/* ASan builds: let a SEGV be a SIGSEGV (the supervisor must see signal 11). */
const char *__asan_default_options(void);
const char *__asan_default_options(void)
{
	return "handle_segv=0:handle_sigbus=0:handle_abort=0:detect_leaks=0";
}

#define LEAK_CAP_MB 512
#define FORK_CAP 64
#define FD_CAP 65536
#define FLOOD_PER_EVENT 1500

static const char *mode;
static rf_client_t *cl;
static pid_t parent;

static void say(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char *fmt, ...)
{
	char buf[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof buf, fmt, ap);
	va_end(ap);
	fprintf(stderr, "rf-chaos-client[%d] %s: %s\n", (int)getpid(), mode, buf);
}

static int64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Exits when the broker (our parent) is gone: for modes that stop reading. */
static void exit_if_orphaned(void)
{
	if (getppid() != parent)
		_exit(0);
}

/* Answers an AUTH message; waits (bounded) while the response ring is full. */
static int answer(const struct rf_message *m, enum rf_verdict v)
{
	int64_t end = mono_ns() + 200 * 1000000LL;
	for (;;) {
		int r = rf_respond(cl, m, v, false);
		if (r != RF_E_FULL || mono_ns() > end)
			return r;
		struct timespec ts = { 0, 200 * 1000 };
		nanosleep(&ts, NULL);
	}
}

/* Answers every AUTH event that is already waiting, without blocking. */
static void drain(void)
{
	const struct rf_message *m;
	while (rf_next(cl, &m, 0) == RF_OK)
		if (m->hdr.action == RF_ACTION_AUTH)
			answer(m, RF_ALLOW);
}

/* ---- oob-read: the content interpreter ---- */

struct content_template {
	const char *name;
	unsigned nfields;             /* input fields the template declares */
};

/* Evaluates a template against the sensor's fields: reads every declared field. */
static unsigned long interpret(const struct content_template *t, const unsigned long *fields)
{
	unsigned long acc = 0;
	for (unsigned i = 0; i < t->nfields; i++)
		acc += ((const volatile unsigned long *)fields)[i];
	return acc;
}

static void fault_oob_read(void)
{
	long pg = sysconf(_SC_PAGESIZE);
	unsigned char *p = mmap(NULL, 2 * (size_t)pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
				-1, 0);
	if (p == MAP_FAILED || mmap(p + pg, (size_t)pg, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				    -1, 0) == MAP_FAILED) {
		say("mmap failed: %s; faulting on NULL instead", strerror(errno));
		p = NULL;
		pg = 0;
	}
	/* the sensor supplies 20 fields, at the very end of the page */
	unsigned long *fields = (unsigned long *)(p + pg - 20 * sizeof(unsigned long));
	if (p)
		for (unsigned i = 0; i < 20; i++)
			fields[i] = i;
	static const struct content_template channel_291 = { "named-pipe-rule", 21 };
	say("interpreting template %s: %u fields declared, 20 supplied", channel_291.name,
	    channel_291.nfields);
	unsigned long r = interpret(&channel_291, fields);
	say("survived the out-of-bounds read (%lu): no guard page?", r);
	abort();
}

/* ---- leak ---- */

static void fault_leak(void)
{
	size_t mb = 0;
	for (;;) {
		char *q = malloc(1 << 20);
		if (!q) {
			say("malloc failed after %zu MiB: aborting like xmalloc", mb);
			abort();
		}
		memset(q, 0x5a, 1 << 20);
		mb++;
		drain();
		if (mb == LEAK_CAP_MB) {
			say("SAFETY NET: %d MiB leaked and not stopped: no memory limit", LEAK_CAP_MB);
			return;
		}
	}
}

/* ---- fork-bomb ---- */

static void fault_fork_bomb(void)
{
	int n = 0;
	for (; n < FORK_CAP; n++) {
		pid_t p = fork();
		if (p < 0) {
			say("fork failed after %d children: %s", n, strerror(errno));
			return;
		}
		if (p == 0) {
			parent = getppid();   /* sleep until the client is gone */
			for (;;) {
				sleep(1);
				exit_if_orphaned();
			}
		}
	}
	say("SAFETY NET: %d forks succeeded: no process limit", n);
}

/* ---- fd-exhaust ---- */

static void fault_fd_exhaust(void)
{
	int n = 0, last_err = 0;
	for (; n < FD_CAP; n++) {
		int fd = open("/dev/null", O_RDONLY);
		if (fd < 0 && errno != EMFILE && errno != ENFILE)
			fd = dup(2);   /* /dev/null not granted: any descriptor will do */
		if (fd < 0) {
			last_err = errno;
			break;
		}
	}
	if (n == FD_CAP)
		say("SAFETY NET: %d descriptors opened: no descriptor limit", n);
	else
		say("descriptors exhausted after %d opens: %s", n, strerror(last_err));
}

/* ---- flood-bogus / foreign ---- */

static uint64_t forged;

static void flood_forged(const struct rf_message *m)
{
	struct rf_message fake = *m;   /* a copy of the message with another id */
	int64_t end = mono_ns() + 250 * 1000000LL;
	for (unsigned k = 1; k <= FLOOD_PER_EVENT && mono_ns() < end; k++) {
		fake.hdr.id = m->hdr.id ^ ((uint64_t)k << 24) ^ 0x3c00000000000000ull;
		if (fake.hdr.id == 0)
			continue;
		while (rf_respond(cl, &fake, RF_DENY, false) == RF_E_FULL && mono_ns() < end) {
			struct timespec ts = { 0, 100 * 1000 };
			nanosleep(&ts, NULL);
		}
		forged++;
	}
}

static void answer_foreign(const struct rf_message *m)
{
	struct rf_message fake = *m;
	for (int k = 1; k <= 4; k++) {
		fake.hdr.id = m->hdr.id + ((uint64_t)k << 20);
		answer(&fake, RF_DENY);
		if (m->hdr.id > ((uint64_t)k << 20)) {
			fake.hdr.id = m->hdr.id - ((uint64_t)k << 20);
			answer(&fake, RF_DENY);
		}
	}
}

/* ---- malformed-resp: writing the response ring through the mapping ----
 *
 * The layout is private to ringfence (src/common/wire.h); a hostile client
 * would find it out, so it is hard-coded here on purpose:
 *   struct rf_shm_hdr at offset 0: u32 magic "RFSH" (0x52465348) @0,
 *     u32 resp_off @20, u32 resp_slots @24;
 *   struct rf_ring_ctl resp @256: u64 head @+0, u64 tail @+64, u32 waiting @+128;
 *   slots at resp_off, 32 bytes each: u64 id, u32 verdict, u32 flags, u64 reserved[2].
 */
#define SHM_MAGIC 0x52465348u
#define SHM_RESP_OFF 20
#define SHM_RESP_SLOTS 24
#define SHM_RESP_HEAD (256 + 0)
#define SHM_RESP_TAIL (256 + 64)
#define SLOT_SIZE 32

static unsigned char *shm;
static size_t shm_len;

static int shm_plausible(unsigned char *p, size_t len)
{
	uint32_t magic, off, slots;
	memcpy(&magic, p, 4);
	memcpy(&off, p + SHM_RESP_OFF, 4);
	memcpy(&slots, p + SHM_RESP_SLOTS, 4);
	return magic == SHM_MAGIC && slots && !(slots & (slots - 1)) && off >= 448 &&
	       (uint64_t)off + (uint64_t)slots * SLOT_SIZE <= len;
}

/* /proc/self/maps names the memfd; without /proc (landlock) the handle points to it. */
static int find_shm(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	if (f) {
		char line[512];
		while (!shm && fgets(line, sizeof line, f)) {
			unsigned long lo, hi;
			if (strstr(line, "memfd:ringfence") && sscanf(line, "%lx-%lx", &lo, &hi) == 2 &&
			    shm_plausible((unsigned char *)lo, hi - lo)) {
				shm = (unsigned char *)lo;
				shm_len = hi - lo;
			}
		}
		fclose(f);
		if (shm)
			return 0;
	}
	long pg = sysconf(_SC_PAGESIZE);
	const unsigned char *h = (const unsigned char *)cl;
	for (size_t off = 0; off + 16 <= 256; off += 8) {
		uintptr_t p;
		uint64_t len;
		memcpy(&p, h + off, sizeof p);
		memcpy(&len, h + off + 8, sizeof len);
		if (!p || p % (uintptr_t)pg || len < 4096 || len > (1u << 30) || len % (uint64_t)pg)
			continue;
		if (msync((void *)p, len, MS_ASYNC) < 0)   /* not mapped */
			continue;
		if (shm_plausible((unsigned char *)p, len)) {
			shm = (unsigned char *)p;
			shm_len = len;
			return 0;
		}
	}
	return -1;
}

/* Wakes the broker: every eventfd we hold (anonymous inodes have no file type). */
static void kick_eventfds(void)
{
	for (int fd = 3; fd < 256; fd++) {
		struct stat st;
		uint64_t one = 1;
		if (fstat(fd, &st) == 0 && (st.st_mode & S_IFMT) == 0 && write(fd, &one, sizeof one) < 0)
			continue;
	}
}

/* Pushes one raw slot; 0, or -1 when the ring is full. */
static int raw_push(uint64_t id, uint32_t verdict, uint32_t flags, uint64_t junk)
{
	uint64_t *head = (uint64_t *)(shm + SHM_RESP_HEAD);
	uint64_t *tail = (uint64_t *)(shm + SHM_RESP_TAIL);
	uint32_t off, slots;
	memcpy(&off, shm + SHM_RESP_OFF, 4);
	memcpy(&slots, shm + SHM_RESP_SLOTS, 4);
	uint64_t h = __atomic_load_n(head, __ATOMIC_RELAXED);
	uint64_t t = __atomic_load_n(tail, __ATOMIC_ACQUIRE);
	if (h - t >= slots)
		return -1;
	unsigned char *s = shm + off + (h & (slots - 1)) * SLOT_SIZE;
	memcpy(s, &id, 8);
	memcpy(s + 8, &verdict, 4);
	memcpy(s + 12, &flags, 4);
	memcpy(s + 16, &junk, 8);
	memcpy(s + 24, &junk, 8);
	__atomic_store_n(head, h + 1, __ATOMIC_RELEASE);
	return 0;
}

static void fault_malformed(const struct rf_message *m)
{
	if (find_shm() < 0) {
		say("cannot find the shared memory; answering normally");
		answer(m, RF_ALLOW);
		return;
	}
	/* garbage: impossible verdicts, unknown flags, reserved words set, the real id too */
	static const uint32_t bad_verdicts[] = { 0xdeadbeefu, 7, 0xffffffffu, 3 };
	int n = 0;
	for (unsigned i = 0; i < 16; i++)
		n += raw_push(i % 2 ? m->hdr.id : m->hdr.id + i, bad_verdicts[i % 4],
			      0xffffffffu << (i % 8), 0x4141414141414141ull) == 0;
	kick_eventfds();
	say("wrote %d garbage responses into the ring at %p", n, (void *)shm);
}

/* After the garbage, the library's private head is stale: answer through the mapping. */
static void answer_raw(const struct rf_message *m)
{
	if (!shm) {
		answer(m, RF_ALLOW);
		return;
	}
	if (raw_push(m->hdr.id, RF_ALLOW, 0, 0) == 0)
		kick_eventfds();
}

/* ---- oversized-ctl ---- */

static void fault_oversized(void)
{
	static unsigned char big[70 * 1024];
	for (size_t i = 0; i < sizeof big; i++)
		big[i] = (unsigned char)(i * 29 + 11);
	ssize_t n = send(3, big, sizeof big, MSG_NOSIGNAL);
	say("sent a %zu-byte control datagram: %zd (%s)", sizeof big, n, n < 0 ? strerror(errno) : "ok");
}

/* ---- late ---- */

static void answer_late(const struct rf_message *m)
{
	int64_t dl = (int64_t)m->hdr.deadline_ns;
	if (dl <= 0)
		dl = mono_ns() + 1000 * 1000000LL;
	int64_t when = dl + 100 * 1000000LL;
	struct timespec ts = { (time_t)(when / 1000000000), (long)(when % 1000000000) };
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
	answer(m, RF_ALLOW);
}

/* ---- escape ---- */

static int blocked, tried;

static void report(const char *what, long r, int err)
{
	tried++;
	if (r < 0) {
		blocked++;
		say("%s: blocked (%s)", what, strerror(err));
	} else {
		say("%s: ESCAPED (returned %ld)", what, r);
	}
}

static void fault_escape(void)
{
	bool root = getuid() == 0 || geteuid() == 0;
	long r;

	r = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
	report("open /etc/shadow", r, errno);
	if (r >= 0)
		close((int)r);

	r = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	report("socket(AF_INET)", r, errno);
	if (r >= 0) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(9),
					  .sin_addr.s_addr = htonl(0x7f000001) };
		if (connect((int)r, (struct sockaddr *)&sa, sizeof sa) < 0)
			say("connect 127.0.0.1:9: %s", strerror(errno));
		close((int)r);
	}

	if (root) {
		say("ptrace(PTRACE_ATTACH, 1): SKIPPED: running as root (no uid drop)");
	} else {
		r = ptrace(PTRACE_ATTACH, 1, NULL, NULL);
		report("ptrace(PTRACE_ATTACH, 1)", r, errno);
		if (r >= 0)
			ptrace(PTRACE_DETACH, 1, NULL, NULL);
	}

	say("execve /bin/sh: trying (an exit 99 means it ran)");
	char *const av[] = { "sh", "-c", "exit 99", NULL };
	char *const ev[] = { NULL };
	r = execve("/bin/sh", av, ev);
	report("execve /bin/sh", r, errno);

	if (root) {
		say("mount: SKIPPED: running as root (no uid drop)");
	} else {
		r = mount("rf-escape", "/tmp", "tmpfs", 0, NULL);
		report("mount tmpfs on /tmp", r, errno);
		if (r == 0)
			umount("/tmp");
	}

	unsigned char attr[128] = { 0 };   /* BPF_PROG_LOAD with an empty program */
	r = syscall(SYS_bpf, 5 /* BPF_PROG_LOAD */, attr, sizeof attr);
	report("bpf(BPF_PROG_LOAD)", r, errno);

	if (root) {
		say("write /etc/rf-escape: SKIPPED: running as root (no uid drop)");
	} else {
		r = open("/etc/rf-escape", O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
		report("write /etc/rf-escape", r, errno);
		if (r >= 0) {
			close((int)r);
			unlink("/etc/rf-escape");
		}
	}
	say("%d of %d attempts blocked%s", blocked, tried, root ? "; running as root" : "");
}

/* ---- main ---- */

static const char *const modes[] = {
	"none", "oob-read", "abort", "hang-auth", "spin", "leak", "fork-bomb", "fd-exhaust",
	"flood-bogus", "malformed-resp", "oversized-ctl", "duplicate", "late", "foreign",
	"escape", "crash-at-start", NULL
};

static const char *mode_from_file(const char *path)
{
	static char buf[64];
	FILE *f = fopen(path, "r");
	if (!f || !fgets(buf, sizeof buf, f)) {
		fprintf(stderr, "rf-chaos-client: cannot read the mode from %s: %s\n", path, strerror(errno));
		exit(2);
	}
	fclose(f);
	buf[strcspn(buf, " \t\r\n")] = '\0';
	return buf;
}

static bool is(const char *m)
{
	return !strcmp(mode, m);
}

int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: rf-chaos-client MODE | @FILE\n");
		return 2;
	}
	mode = argv[1][0] == '@' ? mode_from_file(argv[1] + 1) : argv[1];
	bool known = false;
	for (int i = 0; modes[i]; i++)
		known |= is(modes[i]);
	if (!known) {
		fprintf(stderr, "rf-chaos-client: unknown mode %s\n", mode);
		return 2;
	}
	parent = getppid();   /* the broker; modes that stop reading exit when it is gone */

	const char *name = getenv("RF_CLIENT_NAME");
	int err;
	cl = rf_client_new(name && *name ? name : "chaos", &err);
	if (!cl) {
		say("rf_client_new: %s", rf_strerror(err));
		return 1;
	}
	if ((err = rf_subscribe(cl, RF_EVENT_EXEC, RF_ACTION_AUTH)) != RF_OK) {
		say("rf_subscribe: %s", rf_strerror(err));
		return 1;
	}
	if (is("crash-at-start")) {
		say("exiting before rf_ready()");
		exit(1);
	}
	if ((err = rf_ready(cl)) != RF_OK) {
		say("rf_ready: %s", rf_strerror(err));
		return 1;
	}
	say("ready");

	bool faulted = false;
	for (;;) {
		const struct rf_message *m;
		err = rf_next(cl, &m, -1);
		if (err == RF_E_CLOSED)
			break;
		if (err != RF_OK) {
			say("rf_next: %s", rf_strerror(err));
			if (err == RF_E_PROTO)
				break;
			continue;
		}
		if (m->hdr.action != RF_ACTION_AUTH)
			continue;
		if (!faulted) {
			faulted = true;
			say("first AUTH event (id %llu): fault", (unsigned long long)m->hdr.id);
			if (is("oob-read")) {
				fault_oob_read();
			} else if (is("abort")) {
				abort();
			} else if (is("hang-auth")) {
				for (;;) {          /* holds m, never answers, never reads again */
					sleep(1);
					exit_if_orphaned();
				}
			} else if (is("spin")) {
				for (unsigned long i = 0;; i++) {
					__asm__ volatile("" ::: "memory");
					if (!(i & 0xffffff))
						exit_if_orphaned();
				}
			} else if (is("leak")) {
				answer(m, RF_ALLOW);
				fault_leak();
				continue;
			} else if (is("fork-bomb")) {
				answer(m, RF_ALLOW);
				fault_fork_bomb();
				continue;
			} else if (is("fd-exhaust")) {
				answer(m, RF_ALLOW);
				fault_fd_exhaust();
				continue;
			} else if (is("malformed-resp")) {
				fault_malformed(m);
				continue;
			} else if (is("oversized-ctl")) {
				answer(m, RF_ALLOW);
				fault_oversized();
				continue;
			} else if (is("escape")) {
				answer(m, RF_ALLOW);
				fault_escape();
				continue;
			}
		}
		if (is("flood-bogus")) {
			answer(m, RF_ALLOW);
			flood_forged(m);
			say("%llu forged responses so far", (unsigned long long)forged);
		} else if (is("malformed-resp")) {
			answer_raw(m);
		} else if (is("duplicate")) {
			answer(m, RF_ALLOW);
			answer(m, RF_DENY);
		} else if (is("late")) {
			answer_late(m);
		} else if (is("foreign")) {
			answer(m, RF_ALLOW);
			answer_foreign(m);
		} else {
			answer(m, RF_ALLOW);
		}
	}
	rf_client_free(cl);
	return 0;
}
