// SPDX-License-Identifier: GPL-2.0
/*
 * kernel.bpf.c - sensor for operations that reach into the kernel or into
 * other processes: ptrace(2) requests that attach or modify, kernel module
 * loads, and bpf(BPF_PROG_LOAD).
 *
 * Each program is optional: the broker loads those whose tracepoint exists
 * (a kernel built without modules has no module/module_load).
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

/* include/uapi/linux/ptrace.h and arch/x86/include/uapi/asm/ptrace-abi.h */
#define RF_PTRACE_TRACEME 0
#define RF_PTRACE_POKETEXT 4
#define RF_PTRACE_POKEDATA 5
#define RF_PTRACE_POKEUSR 6
#define RF_PTRACE_SETREGS 13
#define RF_PTRACE_SETFPREGS 15
#define RF_PTRACE_ATTACH 16
#define RF_PTRACE_SETFPXREGS 19
#define RF_PTRACE_SETREGSET 0x4205
#define RF_PTRACE_SEIZE 0x4206

/* Requests that take control of a process or change it; reads are not news. */
static __always_inline bool ptrace_interesting(__u64 req)
{
	switch (req) {
	case RF_PTRACE_TRACEME:
	case RF_PTRACE_POKETEXT:
	case RF_PTRACE_POKEDATA:
	case RF_PTRACE_POKEUSR:
	case RF_PTRACE_SETREGS:
	case RF_PTRACE_SETFPREGS:
	case RF_PTRACE_ATTACH:
	case RF_PTRACE_SETFPXREGS:
	case RF_PTRACE_SETREGSET:
	case RF_PTRACE_SEIZE:
		return true;
	default:
		return false;
	}
}

SEC("tp/syscalls/sys_enter_ptrace")
int rf_ptrace_enter(struct rf_sys_enter_ctx *ctx)
{
	struct rf_bpf_ptrace r = {};
	__u64 req = ctx->args[0];

	if (!ptrace_interesting(req) || rf_ignored())
		return 0;
	rf_fill_hdr(&r.hdr, RF_BPF_REC_PTRACE, sizeof(r));
	r.request = (__u32)req;
	r.target_pid = req == RF_PTRACE_TRACEME ? r.hdr.pid : (__u32)ctx->args[1];
	rf_emit(&events, &r, sizeof(r));
	return 0;
}

/*
 * module/module_load: taints, then the module name as a __data_loc string
 * (low 16 bits: offset from the start of the record; high 16: length).
 * Spelled out here because vmlinux.h of a kernel without modules lacks it.
 */
struct rf_module_load_ctx {
	__u64 common;
	__u32 taints;
	__u32 name_loc;
};

SEC("tp/module/module_load")
int rf_module_load(struct rf_module_load_ctx *ctx)
{
	struct rf_bpf_kmod r = {};

	if (rf_ignored())
		return 0;
	rf_fill_hdr(&r.hdr, RF_BPF_REC_KMOD_LOAD, sizeof(r));
	r.taints = ctx->taints;
	bpf_probe_read_kernel_str(r.name, sizeof(r.name), (const char *)ctx + (ctx->name_loc & 0xffff));
	rf_emit(&events, &r, sizeof(r));
	return 0;
}

#define RF_BPF_PROG_LOAD 5   /* enum bpf_cmd */

/* The start of union bpf_attr for BPF_PROG_LOAD (UAPI, stable). */
struct rf_prog_load_attr {
	__u32 prog_type;
	__u32 insn_cnt;
	__u64 insns;
	__u64 license;
	__u32 log_level;
	__u32 log_size;
	__u64 log_buf;
	__u32 kern_version;
	__u32 prog_flags;
	char prog_name[RF_BPF_PROG_NAME_MAX];
};

SEC("tp/syscalls/sys_enter_bpf")
int rf_bpf_enter(struct rf_sys_enter_ctx *ctx)
{
	struct rf_prog_load_attr a = {};
	struct rf_bpf_bpf r = {};
	__u64 size = ctx->args[2];

	if (ctx->args[0] != RF_BPF_PROG_LOAD || rf_ignored())
		return 0;
	if (size > sizeof(a))
		size = sizeof(a);
	barrier_var(size);
	if (size <= sizeof(a))
		bpf_probe_read_user(&a, size, (const void *)ctx->args[1]);
	rf_fill_hdr(&r.hdr, RF_BPF_REC_BPF_LOAD, sizeof(r));
	r.cmd = RF_BPF_PROG_LOAD;
	r.prog_type = a.prog_type;
	r.insn_cnt = a.insn_cnt;
	__builtin_memcpy(r.name, a.prog_name, sizeof(r.name));
	rf_emit(&events, &r, sizeof(r));
	return 0;
}
