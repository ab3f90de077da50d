/*
 * sensor.h - one interface for every source of kernel events.
 *
 * Like an event loop with interchangeable back ends, each sensor (eBPF
 * tracepoints, the netlink proc connector, fanotify notification events,
 * the replay file) exposes one pollable descriptor and a drain function.
 * The broker polls the descriptors; when one is readable it calls drain(),
 * which turns whatever the kernel produced into struct rf_raw_event values
 * and hands each to the sink.  Sensors do not know about clients, the
 * process table or the wire format; the normaliser (process table) does.
 *
 * Strings in a raw event point into the sensor's own buffers and are valid
 * only during the sink call.
 */
#ifndef RF_SENSOR_H
#define RF_SENSOR_H

#include <stdbool.h>
#include <stdint.h>

#include "ringfence/message.h"

struct rf_raw_event {
	uint16_t type;              /* enum rf_event_type */
	uint16_t reserved;
	uint32_t pid;               /* tgid of the acting process */
	uint32_t tid;
	uint32_t ppid;              /* 0 when the sensor does not know */
	uint64_t start_time_ns;     /* of the acting process; 0 when unknown */
	uint64_t ktime_ns;          /* CLOCK_MONOTONIC (bpf_ktime_get_ns) when known, else 0 */
	bool has_creds;             /* uid..egid below are valid */
	uint32_t uid, euid, gid, egid;
	uint32_t auid, sessionid;
	uint64_t cgroup_id;
	uint32_t pgid;
	const char *comm;           /* NULL when unknown */
	union {
		struct {
			const char *filename;   /* as the kernel resolved it (may be relative) */
			const char *args;       /* NUL separated, args_len bytes */
			uint32_t args_len;
			uint32_t argc;
			bool memfd;
			uint64_t dev, ino;      /* 0 when unknown */
			/* resolved at the event by the sensor, NULL when it could not */
			const char *exe_path;   /* what /proc/PID/exe shows */
			const char *cwd;
			int64_t ctime_ns;       /* the executable's, with exe_path */
			uint32_t mode;
		} exec;
		struct {
			uint32_t child_pid;
			uint64_t child_start_time_ns;
		} fork;
		struct {
			int32_t status;         /* wait status: code << 8 | signal */
		} exit;
		struct {
			const char *path;
			const char *dest;       /* rename */
			bool is_dir;
		} file;
		struct {
			uint16_t family, proto, sport, dport;
			uint8_t saddr[16], daddr[16];
		} net;
		struct {
			uint32_t syscall_nr;
			int32_t retval;
			uint32_t old_id[4], new_id[4];
		} cred;
		struct {
			uint32_t request;
			uint32_t target_pid;
		} ptrace;
		struct {
			const char *name;
		} kmod;
		struct {
			uint32_t cmd, prog_type;
			const char *name;
		} bpf;
	} u;
};

/* Receives each event; the broker's normaliser. */
typedef void (*rf_sink_fn)(void *sink_ctx, const struct rf_raw_event *ev);

struct rf_sensor;

struct rf_sensor_ops {
	const char *name;           /* "ebpf", "proc_connector", "fanotify_notify", "replay" */
	/*
	 * Starts the sensor.  Returns 0, or a negative errno with nothing left
	 * open; the caller then logs why and may start a fallback.
	 */
	int (*start)(struct rf_sensor *s);
	/* Drains what is ready without blocking; returns events handled or -errno. */
	int (*drain)(struct rf_sensor *s);
	/* Releases everything; accepts a sensor that failed to start. */
	void (*stop)(struct rf_sensor *s);
};

struct rf_sensor {
	const struct rf_sensor_ops *ops;
	int fd;                     /* pollable while running, -1 otherwise */
	bool running;
	/*
	 * fd signals new data rather than unread data: the broker registers it
	 * edge-triggered, and drain() must take everything there is.  (The
	 * eBPF ring polls readable whenever it holds a record, including those
	 * written without a wake-up while batching: level-triggered, the loop
	 * would be woken for each of them anyway.)
	 */
	bool edge;
	rf_sink_fn sink;
	void *sink_ctx;
	uint64_t events;            /* handed to the sink */
	uint64_t lost;              /* lost in the kernel or by the sensor, when it can tell */
	void *priv;                 /* the back end's state */
	const char *detail;         /* short human note for status ("tracepoints: 12") */
	/*
	 * Set before start: how long a sensor that can batch its wake-ups may
	 * hold events under load (0: never).  Set by the sensor: the monotonic
	 * time by which the broker calls drain() even if fd has not become
	 * readable (0: no such time).
	 */
	uint32_t batch_us;
	uint64_t next_drain_ns;
	bool batching;              /* wake-ups batched right now (status) */
	uint64_t batch_switches;    /* times batching was turned on */
};

extern const struct rf_sensor_ops rf_sensor_ebpf;
extern const struct rf_sensor_ops rf_sensor_proc_connector;

/*
 * eBPF sensor extension used by the AUTH path: the argv that a thread passed
 * to execve(2), captured at syscall entry, for the pending exec of tid.  Copies
 * at most cap bytes into buf and sets *ret_len and *ret_argc.  *ret_argc
 * counts one more than the strings in buf when the argv was longer than the
 * capture (RF_BPF_ARGS_MAX bytes or its string limit) or than cap: the caller
 * flags it cut.  Returns 0, or -ENOENT when nothing is known.  Never blocks.
 */
int rf_sensor_ebpf_pending_argv(struct rf_sensor *s, uint32_t tid, char *buf, uint32_t cap,
				uint32_t *ret_len, uint32_t *ret_argc);

#endif
