/*
 * proctable.h - the broker's table of live processes.
 *
 * Identity is (pid, start time).  The table is seeded from /proc at start,
 * kept current from fork, exec, exit and credential events, and fills the
 * process and parent parts of every message, so a sensor that knows only a
 * pid (fanotify) still yields a complete event.  Entries are reaped when the
 * exit event has been dispatched.  Size is bounded.
 */
#ifndef RF_PROCTABLE_H
#define RF_PROCTABLE_H

#include <stdbool.h>
#include <stdint.h>

#include "broker/sensor.h"
#include "common/msgbuild.h"

#define RF_ARGS_MAX 4096

struct rf_proc {
	struct rf_proc *next;            /* hash chain */
	uint32_t pid, ppid, pgid;
	uint64_t start_time_ns;
	uint64_t parent_start_time_ns;
	uint32_t uid, euid, gid, egid, auid, sessionid;
	uint64_t cgroup_id;
	uint64_t exe_dev, exe_ino;
	int64_t exe_ctime_ns;
	uint32_t exe_mode;
	char comm[16];
	char *exe;                       /* heap; may be NULL */
	char *cwd;
	char *args;                      /* NUL separated */
	uint32_t args_len, argc;
};

struct rf_proctable {
	struct rf_proc **buckets;
	uint32_t nbuckets;               /* power of two */
	uint32_t count;
	uint32_t limit;
	uint64_t loads;                  /* entries read from /proc */
	uint64_t load_failures;
	uint64_t evictions;              /* entries dropped because the table was full */
	const char *proc_root;           /* "/proc"; tests may point elsewhere */
};

/* Returns 0 or -ENOMEM. limit bounds the entries (oldest arbitrary one evicted past it). */
int rf_proctable_init(struct rf_proctable *pt, uint32_t limit);
void rf_proctable_free(struct rf_proctable *pt);

/* Reads every process in /proc; returns the number loaded. */
int rf_proctable_seed(struct rf_proctable *pt);

/* Looks pid up; when missing and load is set, reads it from /proc.  NULL when unknown. */
struct rf_proc *rf_proctable_get(struct rf_proctable *pt, uint32_t pid, bool load);

/*
 * Brings the table up to date with ev (fork adds the child, exec replaces
 * the image, credential events update ids) and returns the acting process,
 * creating a minimal entry from the event itself when /proc no longer has it.
 * Returns NULL only on allocation failure.
 */
struct rf_proc *rf_proctable_apply(struct rf_proctable *pt, const struct rf_raw_event *ev);

/* Removes pid (after its exit event went out). */
void rf_proctable_remove(struct rf_proctable *pt, uint32_t pid);

/* Fills msg.process and msg.parent from e (and its parent). */
void rf_proctable_fill(struct rf_proctable *pt, struct rf_msgb *b, const struct rf_proc *e);

/* Boot-relative start time of pid from /proc, in ns at tick resolution; 0 when gone. */
uint64_t rf_proc_start_time(const char *proc_root, uint32_t pid);

#endif
