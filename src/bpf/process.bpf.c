// SPDX-License-Identifier: GPL-2.0
/*
 * process.bpf.c - process lifecycle sensor: fork (processes, not threads),
 * exec (with argv from the new image), exit (when the last thread of a
 * process is gone), and the argv passed to execve(2) captured at syscall
 * entry for the broker's exec AUTH path (pending_argv map).
 *
 * Exec records carry the executable's and the working directory's paths,
 * resolved here by walking dentries and mounts (rf_walk_path): by the time
 * the broker reads a record the process may be gone, and reading /proc for
 * every exec cost the broker three path lookups per exec.
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

/*
 * A path being resolved: written from the end of buf towards its start, the
 * slack behind it keeps each component's copy provably inside the value.
 */
struct path_scratch {
	char buf[RF_BPF_PATH_MAX];
	char slack[256];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct path_scratch);
} path_scratch SEC(".maps");

#define RF_PATH_MASK (RF_BPF_PATH_MAX - 1)
#define RF_DATA_MASK (2 * RF_BPF_PATH_MAX - 1)

/* kernels before 6.11 kept ctime as a timespec64 (6.6: __i_ctime, before: i_ctime) */
struct inode___ts_ctime {
	struct timespec64 __i_ctime;
} __attribute__((preserve_access_index));

struct inode___old_ctime {
	struct timespec64 i_ctime;
} __attribute__((preserve_access_index));

static __always_inline __u64 rf_inode_ctime_ns(struct inode *inode)
{
	struct inode___ts_ctime *ts = (void *)inode;
	struct inode___old_ctime *old = (void *)inode;

	/*
	 * Since 6.13 bit 31 of i_ctime_nsec says "ctime was queried"
	 * (I_CTIME_QUERIED, set by any stat()); the kernel's accessor strips
	 * it and so must this.  Nanoseconds never reach bit 30.
	 */
	if (bpf_core_field_exists(inode->i_ctime_sec))
		return (__u64)BPF_CORE_READ(inode, i_ctime_sec) * 1000000000ull +
		       (BPF_CORE_READ(inode, i_ctime_nsec) & 0x3fffffffu);
	if (bpf_core_field_exists(ts->__i_ctime))
		return (__u64)BPF_CORE_READ(ts, __i_ctime.tv_sec) * 1000000000ull +
		       BPF_CORE_READ(ts, __i_ctime.tv_nsec);
	return (__u64)BPF_CORE_READ(old, i_ctime.tv_sec) * 1000000000ull +
	       BPF_CORE_READ(old, i_ctime.tv_nsec);
}

/*
 * The path of (d, vm) as d_path(3) would give it from the root of the mount
 * tree it belongs to: each dentry's name up to the mount's root, then on
 * from the mountpoint in the parent mount, until a mount that is its own
 * parent (a namespace's root).  A dentry that is its own parent below a
 * mount root is a pseudo file's (memfd, pipe): its name is the whole path.
 * One step per bpf_loop() iteration, so that the verifier checks the step
 * once instead of every unrolled iteration of a loop.  Concurrent renames
 * can tear a path, as they can d_path's without the rename lock: it is
 * telemetry, not a verdict.
 */
struct walk_ctx {
	__u64 d;                    /* struct dentry * */
	__u64 m;                    /* struct mount * */
	__u64 mnt_off;              /* offsetof(struct mount, mnt) */
	__u32 off;                  /* first byte of the path in path_scratch */
	int done;                   /* 1 resolved, -1 given up, 0 walking */
};

static long rf_walk_step(__u64 i, void *arg)
{
	struct walk_ctx *c = arg;
	struct dentry *d = (struct dentry *)c->d, *parent;
	struct mount *m = (struct mount *)c->m, *up;
	struct vfsmount *vm = (struct vfsmount *)(c->m + c->mnt_off);
	struct path_scratch *ps;
	const unsigned char *name;
	__u32 zero = 0, len, off;

	if (d == BPF_CORE_READ(vm, mnt_root)) {
		up = BPF_CORE_READ(m, mnt_parent);
		if (up == m || !up) {
			c->done = 1;
			return 1;
		}
		c->d = (__u64)BPF_CORE_READ(m, mnt_mountpoint);
		c->m = (__u64)up;
		return 0;
	}
	ps = bpf_map_lookup_elem(&path_scratch, &zero);
	len = BPF_CORE_READ(d, d_name.len);
	name = BPF_CORE_READ(d, d_name.name);
	off = c->off;
	if (!ps || len > 255 || len + 2 > off) {
		c->done = -1;
		return 1;
	}
	parent = BPF_CORE_READ(d, d_parent);
	if (d == parent && len == 1) {
		char c0 = 0;

		bpf_probe_read_kernel(&c0, 1, name);
		if (c0 == '/') {
			/*
			 * A file system's root, not its mount's: the dentry is
			 * outside what its mount shows (moved from under a bind
			 * mount, or disconnected).  d_path gives up too.
			 */
			c->done = -1;
			return 1;
		}
	}
	off -= len;
	bpf_probe_read_kernel(&ps->buf[off & RF_PATH_MASK], len & 255, name);
	off--;
	ps->buf[off & RF_PATH_MASK] = '/';
	c->off = off;
	if (d == parent) {
		c->done = 1;
		return 1;
	}
	c->d = (__u64)parent;
	return 0;
}

/*
 * Writes the path of (d, vm), NUL terminated, at the end of ps->buf and
 * returns the offset of its first byte, or -1 when it is deeper than
 * RF_BPF_PATH_DEPTH or longer than RF_BPF_PATH_MAX.
 */
static __always_inline int rf_walk_path(struct path_scratch *ps, struct dentry *d, struct vfsmount *vm)
{
	struct walk_ctx c = {
		.d = (__u64)d,
		.mnt_off = bpf_core_field_offset(struct mount, mnt),
		.off = RF_BPF_PATH_MAX - 1,
	};

	c.m = (__u64)vm - c.mnt_off;
	ps->buf[RF_PATH_MASK] = '\0';
	bpf_loop(RF_BPF_PATH_DEPTH, rf_walk_step, &c, 0);
	if (c.done != 1)
		return -1;
	if (c.off == RF_BPF_PATH_MAX - 1) {
		c.off--;
		ps->buf[c.off & RF_PATH_MASK] = '/';   /* the root itself */
	}
	return (int)c.off;
}

/*
 * Resolves (d, vm) into the exec record's data at pos; returns the bytes
 * written (NUL included) or 0 when the path could not be resolved.
 */
static __always_inline __u32 rf_put_path(struct rf_bpf_exec *r, __u32 pos, struct path_scratch *ps,
					  struct dentry *d, struct vfsmount *vm)
{
	int off;
	__u32 len;

	if (!d || !vm || pos > RF_BPF_ARGS_MAX + RF_BPF_PATH_MAX - 1)
		return 0;
	off = rf_walk_path(ps, d, vm);
	if (off < 1 || off > RF_BPF_PATH_MAX - 2)
		return 0;
	len = RF_BPF_PATH_MAX - (__u32)off;
	barrier_var(len);
	len &= RF_PATH_MASK;   /* kept: the verifier needs the bound on the size */
	if (len < 2)
		return 0;
	barrier_var(pos);
	if (pos > RF_DATA_MASK)
		return 0;
	if (bpf_probe_read_kernel(&r->data[pos & RF_DATA_MASK], len, &ps->buf[off & RF_PATH_MASK]) < 0)
		return 0;
	return len;
}

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
	struct path_scratch *ps;
	struct mm_struct *mm;
	struct inode *inode;
	__u64 start, end, len, size;
	__u32 exe_len = 0, cwd_len = 0;

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
		r->ctime_ns = rf_inode_ctime_ns(inode);
		r->mode = BPF_CORE_READ(inode, i_mode);
		if (BPF_CORE_READ(inode, __i_nlink) == 0)
			r->flags |= RF_BPF_EXEC_F_MEMFD;
	} else {
		r->ino = 0;
		r->dev = 0;
		r->ctime_ns = 0;
		r->mode = 0;
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
	if (len && bpf_probe_read_user(r->data, len, (const void *)start) < 0) {
		/* Not readable (should not happen): fall back to the entry capture. */
		len = 0;
		pend = bpf_map_lookup_elem(&pending_argv, &old_tid);
		if (pend && !(pend->flags & RF_BPF_ARGV_F_FAULT)) {
			len = pend->len;
			barrier_var(len);
			if (len > RF_BPF_ARGS_MAX)
				len = 0;
			if (len && bpf_probe_read_kernel(r->data, len, pend->args) < 0)
				len = 0;
			r->flags |= RF_BPF_EXEC_F_ARGS_FROM_ENTRY;
			if (pend->flags & RF_BPF_ARGV_F_TRUNCATED)
				r->flags |= RF_BPF_EXEC_F_ARGS_TRUNCATED;
		}
	}
	if (len)
		r->data[(len - 1) & (RF_BPF_ARGS_MAX - 1)] = '\0';
	r->args_len = (__u32)len;

	/* The paths, after argv. */
	r->exe_len = 0;
	r->cwd_len = 0;
	ps = bpf_map_lookup_elem(&path_scratch, &zero);
	if (ps) {
		exe_len = rf_put_path(r, (__u32)len, ps, BPF_CORE_READ(bprm, file, f_path.dentry),
				      BPF_CORE_READ(bprm, file, f_path.mnt));
		cwd_len = rf_put_path(r, (__u32)len + exe_len, ps, BPF_CORE_READ(p, fs, pwd.dentry),
				      BPF_CORE_READ(p, fs, pwd.mnt));
	}
	if (!exe_len)
		r->flags |= RF_BPF_EXEC_F_EXE_UNRESOLVED;
	if (!cwd_len)
		r->flags |= RF_BPF_EXEC_F_CWD_UNRESOLVED;
	r->exe_len = (__u16)exe_len;
	r->cwd_len = (__u16)cwd_len;
	size = RF_BPF_EXEC_FIXED_SIZE + len + exe_len + cwd_len;
	barrier_var(size);
	if (size > sizeof(*r))
		goto out;
	r->hdr.size = (__u32)size;
	rf_emit(&events, r, size);
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
