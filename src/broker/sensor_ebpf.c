/*
 * sensor_ebpf.c - the eBPF sensor: ringfence's own tracepoint programs
 * (src/bpf/NAME.bpf.c, embedded as libbpf skeletons) behind the sensor
 * interface.
 *
 * Four units, each one skeleton with its own lost counter:
 *   process  fork, exec, exit, execve argv capture   required
 *   net      TCP connect, listen, accept             optional
 *   cred     set*uid, set*gid                        optional
 *   kernel   ptrace, module load, bpf prog load      optional
 * An optional unit, or an optional program in any unit, that cannot load or
 * attach is logged by name and left out; the others run.  The broker's own
 * activity (its tgid, the programs' ignore_tgid) is not reported.
 *
 * Every unit writes into one ring buffer: the process unit's `events` map,
 * grown to EBPF_RING_BYTES, which the other units reuse in place of their
 * own before they load.  A ring hands records out in the order they were
 * reserved, so the broker sees what one thread did in the order it did it:
 * a connect before the exec or exit that follows it, a setuid before the
 * fork after it.  With a ring per unit, one drain consumed the rings one
 * after the other, and the process table had already applied a later exec
 * (or reaped the exited process) when an earlier connect of the same
 * process was normalised: the event named the next image, or none.  One
 * libbpf ring_buffer manager polls the ring; its epoll descriptor is the
 * sensor's descriptor.
 *
 * Records are checked before use: size at least a header, schema version,
 * header size equal to the ring record's size, exact size for the type
 * (exec: fixed part plus args_len).  A record that fails is counted in
 * s->lost and skipped.  s->lost also holds the records the programs could
 * not reserve (kernel per-CPU counters, re-read about once a second).
 */
#include "broker/sensor.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bpf/rf_bpf_events.h"
#include "broker/mounts.h"
#include "common/log.h"

#include "cred.skel.h"
#include "kernel.skel.h"
#include "net.skel.h"
#include "process.skel.h"

#define EBPF_MAX_PROGS 32
#define EBPF_LOST_PERIOD_NS 1000000000ull
/*
 * The shared ring.  Its data pages count twice in the broker's resident
 * memory (the kernel maps them twice, back to back, and maps them all at
 * mmap), so every MiB here is two of RSS.  4 MiB hold about two seconds of
 * an exec storm at this machine's top rate (about 1600 spawns/s, four
 * records and 1.3 KiB each); with batching the broker is woken at a
 * quarter full.
 */
#define EBPF_RING_BYTES (4u << 20)

/*
 * Wake-up batching (see rf_wake_batch_bytes in rf_bpf_common.h).  By
 * default a record written into an empty ring wakes the broker: one wake-up
 * per fork, exec or exit at a low rate, which is what it should be.  Under
 * load every record still tends to find the ring empty (the broker drains
 * it at once), so a spawn loop wakes the broker three times per spawn, each
 * wake-up an inter-processor interrupt that the spawning CPU pays for too.
 * When the drains that found records reach BATCH_ON_DRAINS in a window, the
 * programs stop waking the broker and it drains on a timer of batch_us
 * instead; when fewer records came in a window than the timer would wake it
 * in that window (then per-record wake-ups are the cheaper), the default
 * comes back.  A record written around the switch back can be left
 * without a wake-up: the drain one period later, and a drain at least every
 * EBPF_IDLE_DRAIN_NS in any mode, collect it.
 */
#define BATCH_WINDOW_NS 100000000ull      /* 100 ms */
#define BATCH_ON_DRAINS 100               /* per window: 1000 wake-ups/s */
#define EBPF_IDLE_DRAIN_NS 1000000000ull

/*
 * Records per drain.  libbpf's consume goes on while producers keep adding
 * records, so a machine that writes them faster than the broker reads them
 * (a setuid loop on every core) would keep the loop in one drain and away
 * from AUTH deadlines; a drain stops after this many (a few milliseconds)
 * and asks to be called again at once (next_drain_ns = now).
 */
#define EBPF_DRAIN_MAX 2048

enum { U_PROCESS, U_NET, U_CRED, U_KERNEL, U_COUNT };

struct ebpf_unit {
	const char *name;
	void *skel;                     /* struct rf_NAME_bpf */
	struct bpf_object *obj;
	void (*destroy)(void *skel);
	struct bpf_link *links[EBPF_MAX_PROGS];
	unsigned int nlinks;            /* programs attached */
	unsigned int nprogs;            /* programs in the object */
	int lost_fd;
	/*
	 * Sets the unit's rf_wake_batch_bytes through its .bss map (a syscall:
	 * only when batching switches; the skeleton's bss pointer is not the
	 * map's memory when the object is loaded without the skeleton's load).
	 */
	int (*set_wake)(void *skel, __u32 bytes);
};

struct ebpf_state {
	struct rf_sensor *s;
	struct ebpf_unit unit[U_COUNT];
	struct ring_buffer *rb;
	int ring_fd;                    /* the shared ring (the process unit's events map) */
	int pending_fd;                 /* process unit's pending_argv map */
	int ncpus;
	uint64_t *percpu;               /* ncpus slots, for reading lost counters */
	uint64_t bad_records;           /* failed validation here */
	uint64_t kernel_lost;           /* sum of the units' lost counters */
	uint64_t lost_read_ns;
	int handled;                    /* sink calls in the current drain */
	uint64_t win_start_ns;          /* wake-up batching: the current window */
	uint32_t win_drains;            /* drains that found records in it */
	uint64_t win_records;
	uint64_t grace_ns;              /* batching ended: one more drain at this time */
	char detail[160];
	/* NUL-terminated copies of record strings, valid during the sink call */
	char comm[RF_BPF_COMM_LEN + 1];
	char text[RF_BPF_FILENAME_MAX + 1];
	char args[RF_BPF_ARGS_MAX + 1];
	char exe[RF_BPF_PATH_MAX + sizeof(" (deleted)")];
	char cwd[RF_BPF_PATH_MAX];
};

/* Programs without which there is no process sensor worth the name. */
static const char *const required_progs[] = { "rf_fork", "rf_exec", "rf_exit" };

/*
 * Typed open/destroy for each skeleton.  Open checks that the object was
 * built against this header and sets the load-time globals.
 */
#define EBPF_SKEL_FUNCS(NAME)                                                   \
	static void destroy_##NAME(void *skel)                                  \
	{                                                                       \
		rf_##NAME##_bpf__destroy(skel);                                 \
	}                                                                       \
	static int set_wake_##NAME(void *skel, __u32 bytes)                     \
	{                                                                       \
		struct rf_##NAME##_bpf *k = skel;                               \
		struct rf_##NAME##_bpf__bss bss;                                \
		__u32 zero = 0;                                                 \
		int fd = k->maps.bss ? bpf_map__fd(k->maps.bss) : -1;           \
		if (fd < 0 || bpf_map_lookup_elem(fd, &zero, &bss) < 0)         \
			return -ENOENT;                                         \
		bss.rf_wake_batch_bytes = bytes;                                \
		return bpf_map_update_elem(fd, &zero, &bss, BPF_ANY) < 0 ? -errno : 0; \
	}                                                                       \
	static int open_##NAME(struct ebpf_unit *u, uint32_t self)              \
	{                                                                       \
		struct rf_##NAME##_bpf *k = rf_##NAME##_bpf__open();            \
		if (!k)                                                         \
			return errno ? -errno : -EINVAL;                        \
		u->skel = k;                                                    \
		u->obj = k->obj;                                                \
		u->destroy = destroy_##NAME;                                    \
		u->set_wake = set_wake_##NAME;                                  \
		if (k->rodata->rf_schema_version != RF_BPF_SCHEMA_VERSION)      \
			return -EPROTO;                                         \
		k->rodata->ignore_tgid = self;                                  \
		return 0;                                                       \
	}

EBPF_SKEL_FUNCS(process)
EBPF_SKEL_FUNCS(net)
EBPF_SKEL_FUNCS(cred)
EBPF_SKEL_FUNCS(kernel)

static int (*const unit_open[U_COUNT])(struct ebpf_unit *, uint32_t) = {
	[U_PROCESS] = open_process,
	[U_NET] = open_net,
	[U_CRED] = open_cred,
	[U_KERNEL] = open_kernel,
};

static const char *const unit_name[U_COUNT] = {
	[U_PROCESS] = "process",
	[U_NET] = "net",
	[U_CRED] = "cred",
	[U_KERNEL] = "kernel",
};

__attribute__((format(printf, 2, 0)))
static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	char line[400];
	size_t n;

	if (level == LIBBPF_DEBUG)
		return 0;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && line[n - 1] == '\n')
		line[--n] = '\0';
	if (level == LIBBPF_WARN)
		rf_warnx("libbpf: %s", line);
	else
		rf_debug("libbpf: %s", line);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool is_required(const struct ebpf_unit *u, const char *prog)
{
	if (u != NULL && strcmp(u->name, "process") != 0)
		return false;
	for (size_t i = 0; i < sizeof(required_progs) / sizeof(required_progs[0]); i++)
		if (strcmp(prog, required_progs[i]) == 0)
			return true;
	return false;
}

/* For "tp/CAT/NAME" and "tracepoint/CAT/NAME": does tracefs list it? */
static bool tracepoint_missing(const char *sec)
{
	static const char *const roots[] = { "/sys/kernel/tracing", "/sys/kernel/debug/tracing" };
	const char *tp;
	char path[256];

	if (strncmp(sec, "tp/", 3) == 0)
		tp = sec + 3;
	else if (strncmp(sec, "tracepoint/", 11) == 0)
		tp = sec + 11;
	else
		return false;   /* raw tracepoints need no tracefs; attach will tell */
	for (size_t i = 0; i < sizeof(roots) / sizeof(roots[0]); i++) {
		snprintf(path, sizeof(path), "%s/events/%s/id", roots[i], tp);
		if (access(path, F_OK) == 0)
			return false;
	}
	return true;
}

static void unit_close(struct ebpf_unit *u)
{
	for (unsigned int i = 0; i < u->nlinks; i++)
		bpf_link__destroy(u->links[i]);
	if (u->skel)
		u->destroy(u->skel);
	memset(u, 0, sizeof(*u));
	u->lost_fd = -1;
}

static int on_record(void *ctx, void *data, size_t size);

/*
 * Opens, loads and attaches one unit: the process unit (started first)
 * creates the shared ring and st->rb, the others write into that ring.
 * Returns 0, or -errno with the unit closed.  Missing optional programs are logged
 * and skipped; a missing required program fails the unit.
 */
static int unit_start(struct ebpf_state *st, int idx, uint32_t self)
{
	struct ebpf_unit *u = &st->unit[idx];
	struct bpf_program *prog;
	struct bpf_map *map;
	int r, ring_fd;

	u->name = unit_name[idx];
	u->lost_fd = -1;
	r = unit_open[idx](u, self);
	if (r < 0) {
		if (r == -EPROTO)
			rf_warnx("ebpf: %s: object built for another record schema", u->name);
		else
			rf_warnx("ebpf: %s: cannot open: %s", u->name, strerror(-r));
		goto fail;
	}

	bpf_object__for_each_program(prog, u->obj) {
		const char *pname = bpf_program__name(prog);
		const char *sec = bpf_program__section_name(prog);

		u->nprogs++;
		if (!tracepoint_missing(sec))
			continue;
		if (is_required(u, pname)) {
			rf_warnx("ebpf: %s: tracepoint %s missing", u->name, sec);
			r = -ENOENT;
			goto fail;
		}
		rf_warnx("ebpf: %s: tracepoint %s missing; %s left out", u->name, sec, pname);
		bpf_program__set_autoload(prog, false);
	}
	if (u->nprogs > EBPF_MAX_PROGS) {
		r = -E2BIG;
		goto fail;
	}

	/* one ring for every unit: the process unit creates it, the others reuse it */
	map = bpf_object__find_map_by_name(u->obj, "events");
	if (!map) {
		r = -ENOENT;
		goto fail;
	}
	if (idx == U_PROCESS)
		r = bpf_map__set_max_entries(map, EBPF_RING_BYTES);
	else
		r = st->ring_fd >= 0 ? bpf_map__reuse_fd(map, st->ring_fd) : -EBADF;
	if (r < 0) {
		rf_warnx("ebpf: %s: cannot set up the shared ring buffer: %s", u->name, strerror(-r));
		goto fail;
	}

	r = bpf_object__load(u->obj);
	if (r < 0) {
		rf_warnx("ebpf: %s: cannot load: %s", u->name, strerror(-r));
		goto fail;
	}

	bpf_object__for_each_program(prog, u->obj) {
		const char *pname = bpf_program__name(prog);
		struct bpf_link *link;

		if (!bpf_program__autoload(prog))
			continue;
		link = bpf_program__attach(prog);
		if (!link) {
			r = errno ? -errno : -EINVAL;
			rf_warnx("ebpf: %s: cannot attach %s (%s): %s", u->name, pname,
				 bpf_program__section_name(prog), strerror(-r));
			if (is_required(u, pname))
				goto fail;
			continue;
		}
		u->links[u->nlinks++] = link;
	}
	if (u->nlinks == 0) {
		r = -ENOENT;
		goto fail;
	}

	map = bpf_object__find_map_by_name(u->obj, "lost");
	u->lost_fd = map ? bpf_map__fd(map) : -1;
	if (idx == U_PROCESS) {
		map = bpf_object__find_map_by_name(u->obj, "events");
		ring_fd = map ? bpf_map__fd(map) : -1;
		if (ring_fd < 0) {
			r = -ENOENT;
			goto fail;
		}
		st->rb = ring_buffer__new(ring_fd, on_record, st, NULL);
		if (!st->rb) {
			r = errno ? -errno : -ENOMEM;
			rf_warnx("ebpf: %s: cannot poll its ring buffer: %s", u->name, strerror(-r));
			goto fail;
		}
		st->ring_fd = ring_fd;   /* owned by the process unit's object, which outlives the others */
		map = bpf_object__find_map_by_name(u->obj, "pending_argv");
		st->pending_fd = map ? bpf_map__fd(map) : -1;
	}
	return 0;
fail:
	unit_close(u);
	return r;
}

static void refresh_lost(struct ebpf_state *st, bool force)
{
	uint64_t now = mono_ns(), total = 0;
	uint32_t zero = 0;

	if (!force && now - st->lost_read_ns < EBPF_LOST_PERIOD_NS) {
		st->s->lost = st->kernel_lost + st->bad_records;
		return;
	}
	st->lost_read_ns = now;
	for (int i = 0; i < U_COUNT; i++) {
		if (st->unit[i].lost_fd < 0)
			continue;
		if (bpf_map_lookup_elem(st->unit[i].lost_fd, &zero, st->percpu) < 0)
			continue;
		for (int c = 0; c < st->ncpus; c++)
			total += st->percpu[c];
	}
	/* Counters only grow; never let a failed read make the sum go back. */
	if (total > st->kernel_lost)
		st->kernel_lost = total;
	st->s->lost = st->kernel_lost + st->bad_records;
}

/* The exact size of a fixed-size record type, 0 for exec or unknown types. */
static size_t fixed_size(uint16_t type)
{
	switch (type) {
	case RF_BPF_REC_FORK: return sizeof(struct rf_bpf_fork);
	case RF_BPF_REC_EXIT: return sizeof(struct rf_bpf_exit);
	case RF_BPF_REC_CONNECT:
	case RF_BPF_REC_ACCEPT:
	case RF_BPF_REC_LISTEN: return sizeof(struct rf_bpf_net);
	case RF_BPF_REC_SETUID:
	case RF_BPF_REC_SETGID: return sizeof(struct rf_bpf_cred);
	case RF_BPF_REC_PTRACE: return sizeof(struct rf_bpf_ptrace);
	case RF_BPF_REC_KMOD_LOAD: return sizeof(struct rf_bpf_kmod);
	case RF_BPF_REC_BPF_LOAD: return sizeof(struct rf_bpf_bpf);
	default: return 0;
	}
}

/* Copies a possibly unterminated field into dst (cap >= n + 1 bytes). */
static const char *copy_str(char *dst, const char *src, size_t n)
{
	size_t len = strnlen(src, n);

	memcpy(dst, src, len);
	dst[len] = '\0';
	return dst;
}

/* Dev as the kernel keeps it (major << 20 | minor) to st_dev's encoding. */
static uint64_t kdev_to_st_dev(uint64_t kdev)
{
	return makedev((unsigned int)(kdev >> 20), (unsigned int)(kdev & 0xfffff));
}

/*
 * A path of the exec record's data: len bytes (NUL included) copied and
 * terminated here whatever the BPF side wrote; NULL when len is 0.
 */
static const char *exec_path(char *dst, const char *src, uint32_t len)
{
	if (len == 0)
		return NULL;
	memcpy(dst, src, len);
	dst[len - 1] = '\0';
	/*
	 * A NUL inside is a name torn by a concurrent rename (the walk reads
	 * d_name's length and bytes without the rename lock): not the path.
	 */
	if (dst[0] != '/' || strlen(dst) != len - 1)
		return NULL;
	return dst;
}

/* on_record checked that the three lengths add up to the record's size. */
static void fill_exec(struct ebpf_state *st, const struct rf_bpf_exec *r, struct rf_raw_event *ev)
{
	uint32_t len = r->args_len, argc = 0;

	memcpy(st->args, r->data, len);
	if (len > 0 && st->args[len - 1] != '\0')
		st->args[len++] = '\0';   /* the BPF side ends it; never trust that here */
	for (uint32_t i = 0; i < len; i++)
		argc += st->args[i] == '\0';
	ev->type = RF_EVENT_EXEC;
	ev->u.exec.filename = copy_str(st->text, r->filename, sizeof(r->filename));
	ev->u.exec.args = len ? st->args : NULL;
	ev->u.exec.args_len = len;
	ev->u.exec.argc = argc;   /* strings present, so that args parses exactly */
	ev->u.exec.memfd = (r->flags & RF_BPF_EXEC_F_MEMFD) != 0;
	if (!(r->flags & RF_BPF_EXEC_F_NO_FILE)) {
		ev->u.exec.dev = kdev_to_st_dev(r->dev);
		ev->u.exec.ino = r->ino;
		ev->u.exec.exe_path = exec_path(st->exe, r->data + r->args_len, r->exe_len);
		if (ev->u.exec.exe_path && ev->u.exec.memfd)
			strcat(st->exe, " (deleted)");   /* as /proc says it; room reserved */
		ev->u.exec.ctime_ns = (int64_t)r->ctime_ns;
		ev->u.exec.mode = r->mode;
	}
	ev->u.exec.cwd = exec_path(st->cwd, r->data + r->args_len + r->exe_len, r->cwd_len);
}

static void fill_net(const struct rf_bpf_net *r, struct rf_raw_event *ev)
{
	ev->u.net.family = r->family;
	ev->u.net.proto = r->proto;
	ev->u.net.sport = r->sport;
	ev->u.net.dport = r->dport;
	memcpy(ev->u.net.saddr, r->saddr, sizeof(ev->u.net.saddr));
	memcpy(ev->u.net.daddr, r->daddr, sizeof(ev->u.net.daddr));
}

static int on_record(void *ctx, void *data, size_t size)
{
	struct ebpf_state *st = ctx;
	struct rf_sensor *s = st->s;
	struct rf_raw_event ev;
	struct rf_bpf_hdr h;
	size_t want;

	if (size < sizeof(h))
		goto bad;
	memcpy(&h, data, sizeof(h));
	if (h.version != RF_BPF_SCHEMA_VERSION || h.size != size)
		goto bad;
	if (h.type == RF_BPF_REC_EXEC) {
		const struct rf_bpf_exec *x = data;
		if (size < RF_BPF_EXEC_FIXED_SIZE || x->args_len > RF_BPF_ARGS_MAX ||
		    x->exe_len > RF_BPF_PATH_MAX - 1 || x->cwd_len > RF_BPF_PATH_MAX - 1 ||
		    size != RF_BPF_EXEC_FIXED_SIZE + (size_t)x->args_len + x->exe_len + x->cwd_len)
			goto bad;
	} else {
		want = fixed_size(h.type);
		if (want == 0 || size != want)
			goto bad;
	}

	memset(&ev, 0, sizeof(ev));
	ev.pid = h.pid;
	ev.tid = h.tid;
	ev.ppid = h.ppid;
	ev.start_time_ns = h.start_time_ns;
	ev.ktime_ns = h.ktime_ns;
	ev.has_creds = true;
	ev.uid = h.uid;
	ev.euid = h.euid;
	ev.gid = h.gid;
	ev.egid = h.egid;
	ev.auid = h.auid;
	ev.sessionid = h.sessionid;
	ev.cgroup_id = h.cgroup_id;
	ev.pgid = h.pgid;
	ev.comm = copy_str(st->comm, h.comm, sizeof(h.comm));

	switch (h.type) {
	case RF_BPF_REC_FORK: {
		const struct rf_bpf_fork *r = data;
		ev.type = RF_EVENT_FORK;
		ev.u.fork.child_pid = r->child_pid;
		ev.u.fork.child_start_time_ns = r->child_start_time_ns;
		break;
	}
	case RF_BPF_REC_EXEC:
		fill_exec(st, data, &ev);
		break;
	case RF_BPF_REC_EXIT: {
		const struct rf_bpf_exit *r = data;
		ev.type = RF_EVENT_EXIT;
		ev.u.exit.status = r->status;
		break;
	}
	case RF_BPF_REC_CONNECT:
	case RF_BPF_REC_ACCEPT:
	case RF_BPF_REC_LISTEN:
		ev.type = h.type == RF_BPF_REC_CONNECT ? RF_EVENT_CONNECT :
			  h.type == RF_BPF_REC_ACCEPT ? RF_EVENT_ACCEPT : RF_EVENT_LISTEN;
		fill_net(data, &ev);
		break;
	case RF_BPF_REC_SETUID:
	case RF_BPF_REC_SETGID: {
		const struct rf_bpf_cred *r = data;
		ev.type = h.type == RF_BPF_REC_SETUID ? RF_EVENT_SETUID : RF_EVENT_SETGID;
		ev.u.cred.syscall_nr = r->syscall_nr;
		ev.u.cred.retval = r->retval;
		memcpy(ev.u.cred.old_id, r->old_id, sizeof(ev.u.cred.old_id));
		memcpy(ev.u.cred.new_id, r->new_id, sizeof(ev.u.cred.new_id));
		break;
	}
	case RF_BPF_REC_PTRACE: {
		const struct rf_bpf_ptrace *r = data;
		ev.type = RF_EVENT_PTRACE;
		ev.u.ptrace.request = r->request;
		ev.u.ptrace.target_pid = r->target_pid;
		break;
	}
	case RF_BPF_REC_KMOD_LOAD: {
		const struct rf_bpf_kmod *r = data;
		ev.type = RF_EVENT_KMOD_LOAD;
		ev.u.kmod.name = copy_str(st->text, r->name, sizeof(r->name));
		break;
	}
	case RF_BPF_REC_BPF_LOAD: {
		const struct rf_bpf_bpf *r = data;
		ev.type = RF_EVENT_BPF_LOAD;
		ev.u.bpf.cmd = r->cmd;
		ev.u.bpf.prog_type = r->prog_type;
		ev.u.bpf.name = copy_str(st->text, r->name, sizeof(r->name));
		break;
	}
	default:
		goto bad;
	}
	s->events++;
	st->handled++;
	if (s->sink)
		s->sink(s->sink_ctx, &ev);
	/* consumed; stop the drain here so the loop can answer AUTH events */
	return st->handled >= EBPF_DRAIN_MAX ? -EAGAIN : 0;
bad:
	st->bad_records++;
	return 0;   /* keep consuming: one bad record must not stall the ring */
}

static void ebpf_stop(struct rf_sensor *s);

static int ebpf_start(struct rf_sensor *s)
{
	struct ebpf_state *st;
	uint32_t self = (uint32_t)getpid();
	size_t off = 0;
	int r;

	if (s->priv)
		return -EALREADY;
	st = calloc(1, sizeof(*st));
	if (!st)
		return -ENOMEM;
	st->s = s;
	st->ring_fd = -1;
	st->pending_fd = -1;
	for (int i = 0; i < U_COUNT; i++)
		st->unit[i].lost_fd = -1;
	s->priv = st;
	s->fd = -1;
	s->running = false;

	libbpf_set_print(libbpf_print);
	r = rf_mount_kernel_fs();
	if (r < 0)
		rf_warnx("ebpf: tracefs/securityfs not mounted: %s", strerror(-r));

	st->ncpus = libbpf_num_possible_cpus();
	if (st->ncpus <= 0) {
		r = st->ncpus < 0 ? st->ncpus : -EINVAL;
		goto fail;
	}
	st->percpu = calloc((size_t)st->ncpus, sizeof(uint64_t));
	if (!st->percpu) {
		r = -ENOMEM;
		goto fail;
	}

	for (int i = 0; i < U_COUNT; i++) {
		r = unit_start(st, i, self);
		if (r < 0 && i == U_PROCESS)
			goto fail;
		if (r < 0)
			rf_warnx("ebpf: %s sensor left out: %s", unit_name[i], strerror(-r));
	}

	for (int i = 0; i < U_COUNT && off < sizeof(st->detail); i++) {
		const struct ebpf_unit *u = &st->unit[i];
		int n = snprintf(st->detail + off, sizeof(st->detail) - off, "%s%s %u/%u",
				 off ? ", " : "", unit_name[i], u->nlinks, u->skel ? u->nprogs : 0);
		if (n < 0)
			break;
		off += (size_t)n;
	}
	s->detail = st->detail;
	s->fd = ring_buffer__epoll_fd(st->rb);
	s->edge = true;   /* a drain consumes the whole ring; see sensor.h */
	s->lost = 0;
	s->running = true;
	s->batching = false;
	st->win_start_ns = mono_ns();
	s->next_drain_ns = st->win_start_ns + EBPF_IDLE_DRAIN_NS;
	refresh_lost(st, true);
	return 0;
fail:
	ebpf_stop(s);
	return r;
}

/*
 * Tells every unit's programs how to wake the broker (0: the default).
 * Returns 0, or the first error; switching on, a failure puts every unit
 * back to the default, so no program is left writing without wake-ups.
 */
static int set_wake_batch(struct ebpf_state *st, uint32_t bytes)
{
	int err = 0;
	for (int i = 0; i < U_COUNT; i++) {
		struct ebpf_unit *u = &st->unit[i];
		int r = u->skel && u->nlinks ? u->set_wake(u->skel, bytes) : 0;
		if (r < 0 && !err)
			err = r;
	}
	if (err && bytes) {
		rf_warnx("ebpf: cannot batch wake-ups: %s", strerror(-err));
		set_wake_batch(st, 0);
	}
	return err;
}

/* After a drain: batch or not, and when the next timed drain is due. */
static void batch_policy(struct ebpf_state *st, int handled, bool more, uint64_t now)
{
	struct rf_sensor *s = st->s;

	if (handled > 0) {
		st->win_drains++;
		st->win_records += (uint64_t)handled;
	}
	if (now - st->win_start_ns >= BATCH_WINDOW_NS) {
		uint64_t timer_wakes = s->batch_us ? BATCH_WINDOW_NS / ((uint64_t)s->batch_us * 1000) : 0;
		if (!s->batching && s->batch_us && st->win_drains >= BATCH_ON_DRAINS) {
			/* wake only when a quarter of the ring is waiting */
			if (set_wake_batch(st, EBPF_RING_BYTES / 4) == 0) {
				s->batching = true;
				s->batch_switches++;
			} else {
				s->batch_us = 0;   /* not again */
			}
		} else if (s->batching && st->win_records < timer_wakes) {
			/*
			 * Until every unit is back to waking the broker, it stays
			 * batching (and draining on its timer); tried again next window.
			 */
			if (set_wake_batch(st, 0) == 0) {
				s->batching = false;
				st->grace_ns = now + (uint64_t)s->batch_us * 1000;
			}
		}
		st->win_start_ns = now;
		st->win_drains = 0;
		st->win_records = 0;
	}
	if (st->grace_ns && now >= st->grace_ns)
		st->grace_ns = 0;
	if (more)
		s->next_drain_ns = now;   /* the drain stopped at its cap: go on next turn */
	else if (s->batching)
		s->next_drain_ns = now + (uint64_t)s->batch_us * 1000;
	else if (st->grace_ns)
		s->next_drain_ns = st->grace_ns;
	else
		s->next_drain_ns = now + EBPF_IDLE_DRAIN_NS;
}

static int ebpf_drain(struct rf_sensor *s)
{
	struct ebpf_state *st = s->priv;
	int r;

	if (!st || !st->rb)
		return -EINVAL;
	st->handled = 0;
	r = ring_buffer__consume(st->rb);
	refresh_lost(st, false);
	if (r == -EAGAIN)
		r = 0;   /* stopped at EBPF_DRAIN_MAX: more is waiting */
	batch_policy(st, r < 0 ? -1 : st->handled, st->handled >= EBPF_DRAIN_MAX, mono_ns());
	if (r < 0)
		return r;
	return st->handled;
}

static void ebpf_stop(struct rf_sensor *s)
{
	struct ebpf_state *st = s->priv;

	if (st) {
		if (st->percpu && st->s)
			refresh_lost(st, true);
		ring_buffer__free(st->rb);
		for (int i = U_COUNT - 1; i >= 0; i--)
			unit_close(&st->unit[i]);
		free(st->percpu);
		free(st);
	}
	s->priv = NULL;
	s->fd = -1;
	s->running = false;
	s->batching = false;
	s->next_drain_ns = 0;
	s->detail = NULL;
}

const struct rf_sensor_ops rf_sensor_ebpf = {
	.name = "ebpf",
	.start = ebpf_start,
	.drain = ebpf_drain,
	.stop = ebpf_stop,
};

/*
 * The capture is stored under the calling thread's tid and, when it differs,
 * under its tgid too, so the pid of a fanotify permission event (a tgid)
 * finds an exec called from any thread; it disappears when the exec
 * completes or fails.  *ret_len counts the bytes copied, the last one a
 * NUL; *ret_argc the strings among them.  A capture longer than cap (or
 * than RF_BPF_ARGS_MAX) is cut, its last string shortened and terminated.  A
 * capture that hit a page the BPF program could not read is refused with
 * -ENOENT, like no capture: a partial argv would mislead a verdict.
 * Safe to call from another thread than drain(); one map lookup syscall.
 */
int rf_sensor_ebpf_pending_argv(struct rf_sensor *s, uint32_t tid, char *buf, uint32_t cap,
				uint32_t *ret_len, uint32_t *ret_argc)
{
	const struct ebpf_state *st;
	struct rf_bpf_argv v;
	uint32_t n, argc = 0;

	if (!s || s->ops != &rf_sensor_ebpf || !s->priv)
		return -ENOENT;
	st = s->priv;
	if (st->pending_fd < 0)
		return -ENOENT;
	if (cap > 0 && !buf)
		return -EINVAL;
	if (bpf_map_lookup_elem(st->pending_fd, &tid, &v) < 0)
		return errno == ENOENT || errno == 0 ? -ENOENT : -errno;
	if (v.type != RF_BPF_REC_EXEC_ARGV || v.version != RF_BPF_SCHEMA_VERSION ||
	    v.len > RF_BPF_ARGS_MAX)
		return -EPROTO;
	/* Part of argv was unreadable: a partial argv would mislead a verdict. */
	if (v.flags & RF_BPF_ARGV_F_FAULT)
		return -ENOENT;

	n = v.len < cap ? v.len : cap;
	if (n > 0) {
		memcpy(buf, v.args, n);
		if (buf[n - 1] != '\0') {
			if (n < cap)
				buf[n++] = '\0';
			else
				buf[n - 1] = '\0';
		}
	}
	for (uint32_t i = 0; i < n; i++)
		argc += buf[i] == '\0';
	*ret_len = n;
	/* more strings than buf holds: the caller flags the argv cut (sensor.h) */
	*ret_argc = argc + ((v.flags & RF_BPF_ARGV_F_TRUNCATED) || n < v.len ? 1 : 0);
	return 0;
}
