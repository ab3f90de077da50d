/*
 * rf_bpf_events.h - the records that ringfence's eBPF programs write into
 * their ring buffers, and the pending-argv map value.  Shared, byte for
 * byte, by the BPF programs (src/bpf/NAME.bpf.c) and the broker's eBPF sensor
 * (src/broker/sensor_ebpf.c).
 *
 * Rules for this file, because it is an ABI between two compilers:
 *  - fixed-width fields only, naturally aligned, explicit padding;
 *  - every struct's size is asserted below;
 *  - any change to a layout or a meaning bumps RF_BPF_SCHEMA_VERSION.  The
 *    loader compares the version compiled into the BPF object (the read-only
 *    global rf_schema_version) with its own and refuses a mismatch; every
 *    record carries the version too, and the reader checks it and the size
 *    before it reads anything else.
 *
 * From BPF code, include vmlinux.h first (it provides the __u32 family);
 * from user space, <linux/types.h> is used.
 */
#ifndef RF_BPF_EVENTS_H
#define RF_BPF_EVENTS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define RF_BPF_SCHEMA_VERSION 2

#define RF_BPF_COMM_LEN 16
#define RF_BPF_FILENAME_MAX 512     /* exec filename, NUL included */
#define RF_BPF_ARGS_MAX 4096        /* argv bytes, NUL separated; a power of two */
#define RF_BPF_ARGV_MAX_ARGS 256    /* arguments read at execve entry */
#define RF_BPF_PATH_MAX 4096        /* a path resolved in the kernel, NUL included; a power of two */
#define RF_BPF_PATH_DEPTH 64        /* components (and mount crossings) walked at most */
#define RF_BPF_KMOD_NAME_MAX 64     /* MODULE_NAME_LEN is 56 */
#define RF_BPF_PROG_NAME_MAX 16     /* BPF_OBJ_NAME_LEN */

/* 32-bit ids that the kernel could not provide (e.g. loginuid unset). */
#define RF_BPF_ID_NONE 0xffffffffu

enum rf_bpf_rec_type {
	RF_BPF_REC_NONE = 0,
	RF_BPF_REC_FORK = 1,        /* struct rf_bpf_fork */
	RF_BPF_REC_EXEC = 2,        /* struct rf_bpf_exec, variable length */
	RF_BPF_REC_EXIT = 3,        /* struct rf_bpf_exit */
	RF_BPF_REC_EXEC_ARGV = 4,   /* struct rf_bpf_argv: map value, never in a ring */
	RF_BPF_REC_CONNECT = 5,     /* struct rf_bpf_net */
	RF_BPF_REC_ACCEPT = 6,      /* struct rf_bpf_net */
	RF_BPF_REC_LISTEN = 7,      /* struct rf_bpf_net */
	RF_BPF_REC_SETUID = 8,      /* struct rf_bpf_cred */
	RF_BPF_REC_SETGID = 9,      /* struct rf_bpf_cred */
	RF_BPF_REC_PTRACE = 10,     /* struct rf_bpf_ptrace */
	RF_BPF_REC_KMOD_LOAD = 11,  /* struct rf_bpf_kmod */
	RF_BPF_REC_BPF_LOAD = 12,   /* struct rf_bpf_bpf */
	RF_BPF_REC_MAX
};

/*
 * Every ring record starts with this: who did it, when, as whom.  The task
 * is always `current` at the moment of the event.
 *
 * start_time_ns is the thread group leader's start_boottime truncated down
 * to a multiple of 10^7 ns, so it equals /proc/PID/stat field 22 * 10^7 on
 * USER_HZ=100 systems; (pid, start_time_ns) names a process across pid reuse.
 * Ids are kernel (init user namespace) ids from the task's objective creds;
 * auid is RF_BPF_ID_NONE when unset.  Pids are in the init pid namespace.
 */
struct rf_bpf_hdr {
	__u16 type;                 /* enum rf_bpf_rec_type */
	__u16 version;              /* RF_BPF_SCHEMA_VERSION */
	__u32 size;                 /* bytes in the whole record, this header included */
	__u64 ktime_ns;             /* bpf_ktime_get_ns(): CLOCK_MONOTONIC */
	__u32 pid;                  /* tgid */
	__u32 tid;
	__u32 ppid;                 /* real_parent's tgid */
	__u32 pgid;
	__u64 start_time_ns;
	__u32 uid, euid, gid, egid;
	__u32 auid;                 /* loginuid */
	__u32 sessionid;
	__u64 cgroup_id;            /* bpf_get_current_cgroup_id() (cgroup v2) */
	char comm[RF_BPF_COMM_LEN];
};

/* A new process (threads are not reported).  The header is the parent. */
struct rf_bpf_fork {
	struct rf_bpf_hdr hdr;
	__u32 child_pid;
	__u32 reserved;
	__u64 child_start_time_ns;  /* same truncation as hdr.start_time_ns */
};

#define RF_BPF_EXEC_F_MEMFD 0x1u           /* the executable has no link (memfd, deleted) */
#define RF_BPF_EXEC_F_ARGS_TRUNCATED 0x2u  /* argv was longer than RF_BPF_ARGS_MAX */
#define RF_BPF_EXEC_F_ARGS_FROM_ENTRY 0x4u /* argv copied from the execve-entry capture */
#define RF_BPF_EXEC_F_NO_FILE 0x8u         /* dev/ino unknown */
#define RF_BPF_EXEC_F_EXE_UNRESOLVED 0x10u /* exe path deeper or longer than the walk: exe_len 0 */
#define RF_BPF_EXEC_F_CWD_UNRESOLVED 0x20u /* the same for the working directory */

/*
 * A successful exec, seen after the point of no return (sched_process_exec);
 * the header describes the new image (new comm, new creds).
 *
 * dev/ino/MEMFD describe the file the kernel actually mapped (bprm->file,
 * what /proc/PID/exe shows: for a "#!" script, the interpreter), while
 * filename is the name that was asked for.  dev is the kernel-internal
 * dev_t (major << 20 | minor), not st_dev; the sensor converts it.
 *
 * The record is variable length: size == offsetof(data) + args_len +
 * exe_len + cwd_len, and data holds, one after the other:
 *  - args: argv read from the new mm (arg_start..arg_end), NUL separated, the
 *    last byte NUL when args_len > 0.  argc is the kernel's count
 *    (bprm->argc), which exceeds the strings present when ARGS_TRUNCATED is
 *    set;
 *  - exe: the path of bprm->file, walked up its dentries and mounts in the
 *    kernel (what /proc/PID/exe shows, without " (deleted)"), NUL
 *    terminated; exe_len 0 when the walk gave up (EXE_UNRESOLVED);
 *  - cwd: the same for the process's working directory.
 * Paths are resolved here, at the event, because a process may be gone
 * (and /proc with it) by the time the broker reads the record.  A path in
 * another mount namespace is relative to that namespace's root.
 * ctime_ns and mode are the executable's inode's (what stat(2) says).
 */
struct rf_bpf_exec {
	struct rf_bpf_hdr hdr;
	__u64 dev;
	__u64 ino;
	__u32 flags;                /* RF_BPF_EXEC_F_* */
	__u32 argc;
	__u32 args_len;             /* bytes of args in data */
	__u16 exe_len;              /* bytes of the exe path after them, NUL included */
	__u16 cwd_len;              /* bytes of the cwd path after that, NUL included */
	__u64 ctime_ns;
	__u32 mode;
	__u32 reserved;
	char filename[RF_BPF_FILENAME_MAX];   /* NUL terminated */
	char data[RF_BPF_ARGS_MAX + 2 * RF_BPF_PATH_MAX];
};

#define RF_BPF_EXEC_FIXED_SIZE ((__u32)__builtin_offsetof(struct rf_bpf_exec, data))

/* A process is gone: sent when its last thread exits. */
struct rf_bpf_exit {
	struct rf_bpf_hdr hdr;
	__s32 status;               /* task->exit_code: wait(2) status, code << 8 | signal */
	__u32 reserved;
};

#define RF_BPF_ARGV_F_TRUNCATED 0x1u   /* more than RF_BPF_ARGS_MAX bytes or ARGV_MAX_ARGS strings */
#define RF_BPF_ARGV_F_FAULT 0x2u       /* a pointer or string was not readable: incomplete */

/*
 * Map value of process.bpf's pending_argv map (LRU hash keyed by __u32):
 * argv captured at sys_enter_execve/execveat, read from the caller's memory
 * before the kernel copies it.  Stored under the calling tid and, when that
 * differs, also under its tgid (fanotify permission events name the tgid);
 * deleted at sched_process_exec and at a failed execve's syscall exit.
 * Trust it as much as the caller's memory: another thread of the caller can
 * change argv between this copy and the kernel's.  A tracepoint program
 * cannot take page faults, so strings on pages the caller has not touched
 * since fork (e.g. literals in a child's read-only data) cannot be read:
 * the capture then stops there and sets RF_BPF_ARGV_F_FAULT.
 */
struct rf_bpf_argv {
	__u16 type;                 /* RF_BPF_REC_EXEC_ARGV */
	__u16 version;              /* RF_BPF_SCHEMA_VERSION */
	__u32 flags;                /* RF_BPF_ARGV_F_* */
	__u32 tid;                  /* the thread that called execve */
	__u32 tgid;
	__u64 ktime_ns;
	__u32 argc;                 /* strings in args */
	__u32 len;                  /* bytes used in args, <= RF_BPF_ARGS_MAX */
	char args[RF_BPF_ARGS_MAX];
};

/*
 * TCP connect (SYN sent), listen, accept.  s* is the local end, d* the
 * remote end (zero for listen).  Ports are in host byte order; addresses in
 * network byte order, IPv4 in the first 4 bytes.
 */
struct rf_bpf_net {
	struct rf_bpf_hdr hdr;
	__u16 family;               /* AF_INET or AF_INET6 */
	__u16 proto;                /* IPPROTO_TCP */
	__u16 sport;
	__u16 dport;
	__u8 saddr[16];
	__u8 daddr[16];
};

/*
 * set*uid (RF_BPF_REC_SETUID) and set*gid (RF_BPF_REC_SETGID), reported at
 * syscall exit whether or not it succeeded.  Ids are real, effective, saved,
 * fs; the header's ids are already the new ones.
 */
struct rf_bpf_cred {
	struct rf_bpf_hdr hdr;
	__u32 syscall_nr;
	__s32 retval;
	__u32 old_id[4];
	__u32 new_id[4];
};

/*
 * ptrace(2) requests that take control of or modify another process
 * (attach, seize, traceme, poke*, set*regs*), at syscall entry.  target_pid
 * is the pid argument as the caller passed it (its own pid namespace); for
 * PTRACE_TRACEME it is the caller itself, the process about to be traced.
 */
struct rf_bpf_ptrace {
	struct rf_bpf_hdr hdr;
	__u32 request;
	__u32 target_pid;
};

/* A kernel module was loaded (tracepoint module/module_load). */
struct rf_bpf_kmod {
	struct rf_bpf_hdr hdr;
	__u32 taints;
	__u32 reserved;
	char name[RF_BPF_KMOD_NAME_MAX];   /* NUL terminated */
};

/* bpf(BPF_PROG_LOAD), at syscall entry (the attempt, not the result). */
struct rf_bpf_bpf {
	struct rf_bpf_hdr hdr;
	__u32 cmd;
	__u32 prog_type;
	__u32 insn_cnt;
	__u32 reserved;
	char name[RF_BPF_PROG_NAME_MAX];   /* NUL terminated by the reader */
};

_Static_assert(sizeof(struct rf_bpf_hdr) == 88, "rf_bpf_hdr layout");
_Static_assert(sizeof(struct rf_bpf_fork) == 104, "rf_bpf_fork layout");
_Static_assert(sizeof(struct rf_bpf_exec) ==
		       88 + 48 + RF_BPF_FILENAME_MAX + RF_BPF_ARGS_MAX + 2 * RF_BPF_PATH_MAX,
	       "rf_bpf_exec layout");
_Static_assert(__builtin_offsetof(struct rf_bpf_exec, data) == 648, "rf_bpf_exec data offset");
_Static_assert(RF_BPF_PATH_MAX - 1 <= 0xffff, "a path length fits exe_len and cwd_len");
_Static_assert(sizeof(struct rf_bpf_exit) == 96, "rf_bpf_exit layout");
_Static_assert(sizeof(struct rf_bpf_argv) == 32 + RF_BPF_ARGS_MAX, "rf_bpf_argv layout");
_Static_assert(sizeof(struct rf_bpf_net) == 128, "rf_bpf_net layout");
_Static_assert(sizeof(struct rf_bpf_cred) == 128, "rf_bpf_cred layout");
_Static_assert(sizeof(struct rf_bpf_ptrace) == 96, "rf_bpf_ptrace layout");
_Static_assert(sizeof(struct rf_bpf_kmod) == 160, "rf_bpf_kmod layout");
_Static_assert(sizeof(struct rf_bpf_bpf) == 120, "rf_bpf_bpf layout");
_Static_assert((RF_BPF_ARGS_MAX & (RF_BPF_ARGS_MAX - 1)) == 0, "RF_BPF_ARGS_MAX is a power of two");
_Static_assert((RF_BPF_PATH_MAX & (RF_BPF_PATH_MAX - 1)) == 0, "RF_BPF_PATH_MAX is a power of two");

#endif
