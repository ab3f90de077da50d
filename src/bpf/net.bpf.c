// SPDX-License-Identifier: GPL-2.0
/*
 * net.bpf.c - TCP sensor: connect, listen, accept (IPv4 and IPv6).
 *
 * connect and listen are seen at sock/inet_sock_set_state (-> SYN_SENT,
 * -> LISTEN), which runs in the calling process.  At that moment the kernel
 * may not have picked the local port yet (tcp_v4_connect sets SYN_SENT
 * before inet_hash_connect; listen sets LISTEN before get_port), so a record
 * whose local port is still 0 is parked per thread and finished at the exit
 * of the connect(2)/listen(2) syscall, when the port is known.  A parked
 * record that no syscall exit finishes (io_uring, kernel sockets) is sent,
 * port 0, when the same thread next parks one; it is lost only if that
 * thread never does (LRU eviction), which the broker cannot see.
 *
 * accept is seen at sys_exit_accept/accept4: the returned descriptor is
 * looked up in current->files and the socket read from the file.
 *
 * Every record is written by (and names) the thread that made the call:
 * `current` in these tracepoints is the socket's caller, never a softirq
 * (the SYN_SENT transition runs in connect(2), LISTEN in listen(2); the
 * transitions a softirq makes are not reported).  The `events` ring below is
 * replaced at load by the process unit's (sensor_ebpf.c), so a connect
 * reaches the broker before the exec or exit that follows it in the same
 * thread, and the broker still knows the image that connected.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>

#include "rf_bpf_events.h"
#include "rf_bpf_common.h"

char LICENSE[] SEC("license") = "GPL";

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1024 * 1024);
} events SEC(".maps");

struct parked {
	struct rf_bpf_net rec;
	const struct sock *sk;
};

/* tid -> connect/listen record waiting for its local port. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, struct parked);
} parked SEC(".maps");

/* Addresses and ports from the socket itself; false if not TCP over IP. */
static __always_inline bool fill_addrs(struct rf_bpf_net *r, const struct sock *sk)
{
	__u16 family = BPF_CORE_READ(sk, __sk_common.skc_family);

	if (family != RF_AF_INET && family != RF_AF_INET6)
		return false;
	r->family = family;
	r->proto = RF_IPPROTO_TCP;
	r->sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	r->dport = bpf_ntohs(BPF_CORE_READ(sk, __sk_common.skc_dport));
	if (family == RF_AF_INET) {
		BPF_CORE_READ_INTO((__be32 *)r->saddr, sk, __sk_common.skc_rcv_saddr);
		BPF_CORE_READ_INTO((__be32 *)r->daddr, sk, __sk_common.skc_daddr);
	} else {
		BPF_CORE_READ_INTO((struct in6_addr *)r->saddr, sk, __sk_common.skc_v6_rcv_saddr);
		BPF_CORE_READ_INTO((struct in6_addr *)r->daddr, sk, __sk_common.skc_v6_daddr);
	}
	return true;
}

SEC("tp/sock/inet_sock_set_state")
int rf_sock_state(struct trace_event_raw_inet_sock_set_state *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	const struct sock *sk = ctx->skaddr;
	struct parked p = {}, *old;
	__u16 type;

	if (ctx->protocol != RF_IPPROTO_TCP)
		return 0;
	if (ctx->newstate == TCP_SYN_SENT)
		type = RF_BPF_REC_CONNECT;
	else if (ctx->newstate == TCP_LISTEN)
		type = RF_BPF_REC_LISTEN;
	else
		return 0;
	if (rf_ignored())
		return 0;

	rf_fill_hdr(&p.rec.hdr, type, sizeof(p.rec));
	if (!fill_addrs(&p.rec, sk))
		return 0;
	if (type == RF_BPF_REC_LISTEN)
		__builtin_memset(p.rec.daddr, 0, sizeof(p.rec.daddr));
	if (p.rec.sport != 0) {
		rf_emit(&events, &p.rec, sizeof(p.rec));
		return 0;
	}
	old = bpf_map_lookup_elem(&parked, &tid);
	if (old)
		rf_emit(&events, &old->rec, sizeof(old->rec));
	p.sk = sk;
	if (bpf_map_update_elem(&parked, &tid, &p, BPF_ANY) < 0)
		rf_emit(&events, &p.rec, sizeof(p.rec));
	return 0;
}

/* connect(2) or listen(2) returns: finish a parked record of this thread. */
static __always_inline int finish_parked(__u16 type)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	struct parked *p = bpf_map_lookup_elem(&parked, &tid);
	const struct sock *sk;

	if (!p || p->rec.hdr.type != type)
		return 0;
	sk = p->sk;
	p->rec.sport = BPF_CORE_READ(sk, __sk_common.skc_num);
	if (p->rec.family == RF_AF_INET)
		BPF_CORE_READ_INTO((__be32 *)p->rec.saddr, sk, __sk_common.skc_rcv_saddr);
	else
		BPF_CORE_READ_INTO((struct in6_addr *)p->rec.saddr, sk, __sk_common.skc_v6_rcv_saddr);
	rf_emit(&events, &p->rec, sizeof(p->rec));
	bpf_map_delete_elem(&parked, &tid);
	return 0;
}

SEC("tp/syscalls/sys_exit_connect")
int rf_connect_exit(struct rf_sys_exit_ctx *ctx)
{
	return finish_parked(RF_BPF_REC_CONNECT);
}

SEC("tp/syscalls/sys_exit_listen")
int rf_listen_exit(struct rf_sys_exit_ctx *ctx)
{
	return finish_parked(RF_BPF_REC_LISTEN);
}

/* The socket behind descriptor fd of current, or NULL. */
static __always_inline struct sock *sock_from_fd(long fd)
{
	struct task_struct *task = (struct task_struct *)bpf_get_current_task();
	struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
	struct file **fds, *file = NULL;
	struct socket *sock;

	if (!fdt || fd < 0 || (__u64)fd >= BPF_CORE_READ(fdt, max_fds))
		return NULL;
	fds = BPF_CORE_READ(fdt, fd);
	if (bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]) < 0 || !file)
		return NULL;
	sock = BPF_CORE_READ(file, private_data);
	/* Only a socket's file and struct socket point at each other. */
	if (!sock || BPF_CORE_READ(sock, file) != file)
		return NULL;
	return BPF_CORE_READ(sock, sk);
}

static __always_inline int report_accept(long fd)
{
	struct rf_bpf_net r = {};
	struct sock *sk;

	if (fd < 0 || rf_ignored())
		return 0;
	sk = sock_from_fd(fd);
	if (!sk || BPF_CORE_READ(sk, sk_protocol) != RF_IPPROTO_TCP)
		return 0;
	rf_fill_hdr(&r.hdr, RF_BPF_REC_ACCEPT, sizeof(r));
	if (!fill_addrs(&r, sk))
		return 0;
	rf_emit(&events, &r, sizeof(r));
	return 0;
}

SEC("tp/syscalls/sys_exit_accept")
int rf_accept_exit(struct rf_sys_exit_ctx *ctx)
{
	return report_accept(ctx->ret);
}

SEC("tp/syscalls/sys_exit_accept4")
int rf_accept4_exit(struct rf_sys_exit_ctx *ctx)
{
	return report_accept(ctx->ret);
}
