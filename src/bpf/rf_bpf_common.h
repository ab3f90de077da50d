/*
 * rf_bpf_common.h - what every ringfence BPF program has: the load-time
 * settings, the lost-record counter, the record header filler and the
 * syscall tracepoint context layouts.  BPF side only; include it after
 * vmlinux.h, bpf_helpers.h, bpf_core_read.h and rf_bpf_events.h.
 *
 * Each program file defines a ring buffer named `events`; at load the broker
 * makes them all one map (bpf_map__reuse_fd of the process program's), so
 * that one thread's events keep their order across programs.
 */
#ifndef RF_BPF_COMMON_H
#define RF_BPF_COMMON_H

/* Set by the loader between open and load (rodata: frozen after load). */
const volatile __u32 rf_schema_version = RF_BPF_SCHEMA_VERSION;
const volatile __u32 ignore_tgid = 0;   /* the broker: its own activity is not reported */

/*
 * Set by the broker at run time (.bss, mapped into the broker).  0: every
 * record written into an empty ring wakes the broker (the ring buffer's
 * default).  Otherwise the broker drains the ring on a short timer of its own
 * because records come faster than it wants to be woken: write without a
 * wake-up, and force one only when the ring holds this many bytes, so that
 * a burst never waits for the timer with the ring filling.
 */
volatile __u32 rf_wake_batch_bytes = 0;

/* Records that did not fit in the ring buffer, per CPU; the broker sums them. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} lost SEC(".maps");

/*
 * Layouts of syscalls/sys_enter_* and syscalls/sys_exit_* tracepoints: the
 * common 8-byte header, the syscall number, then 8-byte argument slots (or
 * the return value).  Generated identically for every syscall.
 */
struct rf_sys_enter_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__u64 args[6];
};

struct rf_sys_exit_ctx {
	__u64 common;
	__s32 nr;
	__u32 pad;
	__s64 ret;
};

#define RF_PF_KTHREAD 0x00200000u  /* include/linux/sched.h */
#define RF_AF_INET 2
#define RF_AF_INET6 10
#define RF_IPPROTO_TCP 6
#define RF_START_TIME_TICK 10000000ull   /* 10^9 / USER_HZ */

static __always_inline bool rf_ignored(void)
{
	return (__u32)(bpf_get_current_pid_tgid() >> 32) == ignore_tgid;
}

static __always_inline void rf_count_lost(void)
{
	__u32 zero = 0;
	__u64 *n = bpf_map_lookup_elem(&lost, &zero);

	if (n)
		*n += 1;   /* per-CPU slot: no atomics needed */
}

/*
 * Writes a record into ring; counts it as lost when it does not fit.  See
 * rf_wake_batch_bytes for when it wakes the broker.
 */
static __always_inline void rf_emit(void *ring, void *rec, __u64 size)
{
	__u32 batch = rf_wake_batch_bytes;
	__u64 flags = 0;

	if (batch)
		flags = bpf_ringbuf_query(ring, BPF_RB_AVAIL_DATA) >= batch ? BPF_RB_FORCE_WAKEUP
									    : BPF_RB_NO_WAKEUP;
	if (bpf_ringbuf_output(ring, rec, size, flags) < 0)
		rf_count_lost();
}

static __always_inline __u64 rf_start_time(__u64 boottime_ns)
{
	return boottime_ns - boottime_ns % RF_START_TIME_TICK;
}

/* The process's start time: the thread group leader's, as /proc shows it. */
static __always_inline __u64 rf_task_start_time(struct task_struct *task)
{
	return rf_start_time(BPF_CORE_READ(task, group_leader, start_boottime));
}

static __always_inline __u32 rf_task_pgid(struct task_struct *task)
{
	struct pid *pgrp = BPF_CORE_READ(task, signal, pids[PIDTYPE_PGID]);

	if (!pgrp)
		return 0;
	return BPF_CORE_READ(pgrp, numbers[0].nr);
}

/* Fills the common header from current; size is the record's total size. */
static __always_inline void rf_fill_hdr(struct rf_bpf_hdr *h, __u16 type, __u32 size)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	const struct cred *cred = BPF_CORE_READ(task, real_cred);

	h->type = type;
	h->version = (__u16)rf_schema_version;
	h->size = size;
	h->ktime_ns = bpf_ktime_get_ns();
	h->pid = (__u32)(pid_tgid >> 32);
	h->tid = (__u32)pid_tgid;
	h->ppid = BPF_CORE_READ(task, real_parent, tgid);
	h->pgid = rf_task_pgid(task);
	h->start_time_ns = rf_task_start_time(task);
	h->uid = BPF_CORE_READ(cred, uid.val);
	h->euid = BPF_CORE_READ(cred, euid.val);
	h->gid = BPF_CORE_READ(cred, gid.val);
	h->egid = BPF_CORE_READ(cred, egid.val);
	if (bpf_core_field_exists(task->loginuid)) {
		h->auid = BPF_CORE_READ(task, loginuid.val);
		h->sessionid = BPF_CORE_READ(task, sessionid);
	} else {
		h->auid = RF_BPF_ID_NONE;
		h->sessionid = RF_BPF_ID_NONE;
	}
	h->cgroup_id = bpf_get_current_cgroup_id();
	bpf_get_current_comm(h->comm, sizeof(h->comm));
}

#endif
