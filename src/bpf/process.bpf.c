// SPDX-License-Identifier: GPL-2.0
/*
 * process.bpf.c - process lifecycle sensor: fork (processes, not threads),
 * exec (with argv from the new image), exit (when the last thread of a
 * process is gone), and the argv passed to execve(2) captured at syscall
 * entry for the broker's exec AUTH path (pending_argv map).
 *
 * The sched tracepoints are raw tracepoints: they hand us the task and
 * linux_binprm pointers, need no tracefs and do not depend on the text
 * format of the classic events.  The execve entry/exit hooks are classic
 * syscall tracepoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "rf_bpf_events.h"
#include "rf_bpf_common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4 * 1024 * 1024);
} events SEC(".maps");

/* tid (and tgid) -> argv of an execve in flight.  See rf_bpf_argv. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct rf_bpf_argv);
} pending_argv SEC(".maps");

/* Exec records are too large for the 512-byte BPF stack. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct rf_bpf_exec);
} exec_scratch SEC(".maps");

/*
 * Capture buffer: each string read may write up to RF_BPF_ARGS_MAX bytes at
 * an offset below RF_BPF_ARGS_MAX, so the slack behind the value keeps every
 * access provably inside the map value.
 */
struct argv_scratch {
	struct rf_bpf_argv v;
	char slack[RF_BPF_ARGS_MAX];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct argv_scratch);
} argv_scratch SEC(".maps");

SEC("raw_tp/sched_process_fork")
int BPF_PROG(rf_fork, struct task_struct *parent, struct task_struct *child)
{
	struct rf_bpf_fork r = {};
	__u32 pid, tgid;

	if (rf_ignored())
		return 0;
	pid = BPF_CORE_READ(child, pid);
	tgid = BPF_CORE_READ(child, tgid);
	if (pid != tgid)
		return 0;   /* a new thread, not a new process */
	if (BPF_CORE_READ(child, flags) & RF_PF_KTHREAD)
		return 0;
	rf_fill_hdr(&r.hdr, RF_BPF_REC_FORK, sizeof(r));
	r.child_pid = tgid;
	r.child_start_time_ns = rf_start_time(BPF_CORE_READ(child, start_boottime));
	rf_emit(&events, &r, sizeof(r));
	return 0;
}

SEC("raw_tp/sched_process_exec")
int BPF_PROG(rf_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
	__u32 zero = 0, tgid = (__u32)(bpf_get_current_pid_tgid() >> 32);
	__u32 old_tid = (__u32)old_pid;
	struct rf_bpf_exec *r;
	struct rf_bpf_argv *pend;
	struct mm_struct *mm;
	struct inode *inode;
	__u64 start, end, len;

	r = bpf_map_lookup_elem(&exec_scratch, &zero);
	if (!r || rf_ignored())
		goto out;

	rf_fill_hdr(&r->hdr, RF_BPF_REC_EXEC, 0);
	r->flags = 0;
	r->reserved = 0;
	r->argc = BPF_CORE_READ(bprm, argc);

	inode = BPF_CORE_READ(bprm, file, f_inode);
	if (inode) {
		r->ino = BPF_CORE_READ(inode, i_ino);
		r->dev = BPF_CORE_READ(inode, i_sb, s_dev);
		if (BPF_CORE_READ(inode, __i_nlink) == 0)
			r->flags |= RF_BPF_EXEC_F_MEMFD;
	} else {
		r->ino = 0;
		r->dev = 0;
		r->flags |= RF_BPF_EXEC_F_NO_FILE;
	}

	__builtin_memset(r->filename, 0, sizeof(r->filename));
	bpf_probe_read_kernel_str(r->filename, sizeof(r->filename), BPF_CORE_READ(bprm, filename));

	/* The new image's argv: the kernel just copied it onto the new stack. */
	mm = BPF_CORE_READ(p, mm);
	start = BPF_CORE_READ(mm, arg_start);
	end = BPF_CORE_READ(mm, arg_end);
	len = end > start ? end - start : 0;
	if (len > RF_BPF_ARGS_MAX) {
		len = RF_BPF_ARGS_MAX;
		r->flags |= RF_BPF_EXEC_F_ARGS_TRUNCATED;
	}
	barrier_var(len);
	if (len > RF_BPF_ARGS_MAX)
		len = 0;
	if (len && bpf_probe_read_user(r->args, len, (const void *)start) < 0) {
		/* Not readable (should not happen): fall back to the entry capture. */
		len = 0;
		pend = bpf_map_lookup_elem(&pending_argv, &old_tid);
		if (pend && !(pend->flags & RF_BPF_ARGV_F_FAULT)) {
			len = pend->len;
			barrier_var(len);
			if (len > RF_BPF_ARGS_MAX)
				len = 0;
			if (len && bpf_probe_read_kernel(r->args, len, pend->args) < 0)
				len = 0;
			r->flags |= RF_BPF_EXEC_F_ARGS_FROM_ENTRY;
			if (pend->flags & RF_BPF_ARGV_F_TRUNCATED)
				r->flags |= RF_BPF_EXEC_F_ARGS_TRUNCATED;
		}
	}
	if (len)
		r->args[(len - 1) & (RF_BPF_ARGS_MAX - 1)] = '\0';
	r->args_len = (__u32)len;
	r->hdr.size = RF_BPF_EXEC_FIXED_SIZE + (__u32)len;
	rf_emit(&events, r, RF_BPF_EXEC_FIXED_SIZE + len);
out:
	/* The exec is done: its pending argv is no longer pending. */
	bpf_map_delete_elem(&pending_argv, &old_tid);
	if (tgid != old_tid)
		bpf_map_delete_elem(&pending_argv, &tgid);
	return 0;
}

SEC("raw_tp/sched_process_exit")
int BPF_PROG(rf_exit, struct task_struct *p)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct rf_bpf_exit r = {};

	if (rf_ignored())
		return 0;
	if (BPF_CORE_READ(task, flags) & RF_PF_KTHREAD)
		return 0;
	/* do_exit() decrements signal->live before this tracepoint. */
	if (BPF_CORE_READ(task, signal, live.counter) != 0)
		return 0;   /* other threads of the process still run */
	rf_fill_hdr(&r.hdr, RF_BPF_REC_EXIT, sizeof(r));
	r.status = BPF_CORE_READ(task, exit_code);
	rf_emit(&events, &r, sizeof(r));
	return 0;
}

static __always_inline int capture_argv(const char *const *argv)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 zero = 0, tid = (__u32)pid_tgid, tgid = (__u32)(pid_tgid >> 32);
	struct argv_scratch *s;
	__u32 off = 0, argc = 0, flags = 0;
	int i;

	if (rf_ignored() || !argv)
		return 0;
	s = bpf_map_lookup_elem(&argv_scratch, &zero);
	if (!s)
		return 0;

	for (i = 0; i < RF_BPF_ARGV_MAX_ARGS; i++) {
		const char *arg = NULL;
		long n;

		if (bpf_probe_read_user(&arg, sizeof(arg), &argv[i]) < 0) {
			flags |= RF_BPF_ARGV_F_FAULT;
			break;
		}
		if (!arg)
			break;
		if (off >= RF_BPF_ARGS_MAX) {
			flags |= RF_BPF_ARGV_F_TRUNCATED;
			break;
		}
		n = bpf_probe_read_user_str(&s->v.args[off & (RF_BPF_ARGS_MAX - 1)],
					    RF_BPF_ARGS_MAX, arg);
		if (n <= 0) {
			flags |= RF_BPF_ARGV_F_FAULT;
			break;
		}
		off += (__u32)n;
		argc++;
	}
	if (i == RF_BPF_ARGV_MAX_ARGS)
		flags |= RF_BPF_ARGV_F_TRUNCATED;
	if (off > RF_BPF_ARGS_MAX) {
		/* The last string ran into the slack: cut it at the limit. */
		off = RF_BPF_ARGS_MAX;
		s->v.args[RF_BPF_ARGS_MAX - 1] = '\0';
		flags |= RF_BPF_ARGV_F_TRUNCATED;
	}

	s->v.type = RF_BPF_REC_EXEC_ARGV;
	s->v.version = (__u16)rf_schema_version;
	s->v.flags = flags;
	s->v.tid = tid;
	s->v.tgid = tgid;
	s->v.ktime_ns = bpf_ktime_get_ns();
	s->v.argc = argc;
	s->v.len = off;
	bpf_map_update_elem(&pending_argv, &tid, &s->v, BPF_ANY);
	if (tgid != tid)
		bpf_map_update_elem(&pending_argv, &tgid, &s->v, BPF_ANY);
	return 0;
}

/* A failed execve returns here; a successful one was cleaned up at exec. */
static __always_inline int drop_argv(void)
{
	__u64 pid_tgid = bpf_get_current_pid_tgid();
	__u32 tid = (__u32)pid_tgid, tgid = (__u32)(pid_tgid >> 32);
	struct rf_bpf_argv *v;

	bpf_map_delete_elem(&pending_argv, &tid);
	if (tgid != tid) {
		v = bpf_map_lookup_elem(&pending_argv, &tgid);
		if (v && v->tid == tid)
			bpf_map_delete_elem(&pending_argv, &tgid);
	}
	return 0;
}

SEC("tp/syscalls/sys_enter_execve")
int rf_execve_enter(struct rf_sys_enter_ctx *ctx)
{
	return capture_argv((const char *const *)ctx->args[1]);
}

SEC("tp/syscalls/sys_enter_execveat")
int rf_execveat_enter(struct rf_sys_enter_ctx *ctx)
{
	return capture_argv((const char *const *)ctx->args[2]);
}

SEC("tp/syscalls/sys_exit_execve")
int rf_execve_exit(struct rf_sys_exit_ctx *ctx)
{
	return drop_argv();
}

SEC("tp/syscalls/sys_exit_execveat")
int rf_execveat_exit(struct rf_sys_exit_ctx *ctx)
{
	return drop_argv();
}
