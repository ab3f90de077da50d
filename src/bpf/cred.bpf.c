// SPDX-License-Identifier: GPL-2.0
/*
 * cred.bpf.c - credential change sensor: setuid, setreuid, setresuid,
 * setfsuid and the gid equivalents.
 *
 * At syscall entry the thread's ids are parked (per thread); at syscall
 * exit the record is sent with the old ids, the new ids and the return
 * value, whether the call succeeded or not (a refused setuid is news too).
 * The ids are the task's objective credentials (real_cred), as /proc shows
 * them.  Compat (32-bit) and 16-bit-id syscalls are not covered.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>

#include "rf_bpf_events.h"
#include "rf_bpf_common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct old_ids {
	__u32 id[4];
};

/* tid -> ids before the set*id call in progress. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 4096);
	__type(key, __u32);
	__type(value, struct old_ids);
} inflight SEC(".maps");

static __always_inline void read_ids(__u32 id[4], bool gid)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	const struct cred *cred = BPF_CORE_READ(task, real_cred);

	if (gid) {
		id[0] = BPF_CORE_READ(cred, gid.val);
		id[1] = BPF_CORE_READ(cred, egid.val);
		id[2] = BPF_CORE_READ(cred, sgid.val);
		id[3] = BPF_CORE_READ(cred, fsgid.val);
	} else {
		id[0] = BPF_CORE_READ(cred, uid.val);
		id[1] = BPF_CORE_READ(cred, euid.val);
		id[2] = BPF_CORE_READ(cred, suid.val);
		id[3] = BPF_CORE_READ(cred, fsuid.val);
	}
}

static __always_inline int park(bool gid)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct old_ids o;

	if (rf_ignored())
		return 0;
	read_ids(o.id, gid);
	bpf_map_update_elem(&inflight, &tid, &o, BPF_ANY);
	return 0;
}

static __always_inline int report(struct rf_sys_exit_ctx *ctx, bool gid)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct old_ids *o = bpf_map_lookup_elem(&inflight, &tid);
	struct rf_bpf_cred r = {};

	if (!o)
		return 0;   /* entry not seen (loaded mid-call) or ignored */
	rf_fill_hdr(&r.hdr, gid ? RF_BPF_REC_SETGID : RF_BPF_REC_SETUID, sizeof(r));
	r.syscall_nr = (__u32)ctx->nr;
	r.retval = (__s32)ctx->ret;
	__builtin_memcpy(r.old_id, o->id, sizeof(r.old_id));
	read_ids(r.new_id, gid);
	bpf_map_delete_elem(&inflight, &tid);
	rf_emit(&events, &r, sizeof(r));
	return 0;
}

#define RF_CRED_HOOKS(name, gid)                                                \
	SEC("tp/syscalls/sys_enter_" #name)                                     \
	int rf_enter_##name(struct rf_sys_enter_ctx *ctx) { return park(gid); } \
	SEC("tp/syscalls/sys_exit_" #name)                                      \
	int rf_exit_##name(struct rf_sys_exit_ctx *ctx) { return report(ctx, gid); }

RF_CRED_HOOKS(setuid, false)
RF_CRED_HOOKS(setreuid, false)
RF_CRED_HOOKS(setresuid, false)
RF_CRED_HOOKS(setfsuid, false)
RF_CRED_HOOKS(setgid, true)
RF_CRED_HOOKS(setregid, true)
RF_CRED_HOOKS(setresgid, true)
RF_CRED_HOOKS(setfsgid, true)
