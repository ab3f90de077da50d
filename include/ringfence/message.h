/*
 * ringfence/message.h - the event message a client receives from ringfenced.
 *
 * Every struct here crosses a process boundary (broker -> client, broker ->
 * rfctl, and recorded files), so all fields are fixed width, the layout is
 * asserted at compile time, and the whole message carries a version.  A
 * message is a fixed part (struct rf_message) followed by a bounded tail of
 * NUL-terminated strings; string fields are rf_str_t references (offset and
 * length from the start of the message) that libringfence checks against the
 * message size before a client ever sees the message.
 *
 * See docs/PROTOCOL.md for the layout, sequence numbers and drop semantics.
 */
#ifndef RINGFENCE_MESSAGE_H
#define RINGFENCE_MESSAGE_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bumped on any incompatible change to the layout below. */
#define RF_PROTO_VERSION 1u
/* Largest message, header and string tail included. */
#define RF_MSG_MAX 8192u
/* Every message size is a multiple of this. */
#define RF_MSG_ALIGN 8u

enum rf_event_type {
	RF_EVENT_NONE = 0,
	RF_EVENT_EXEC = 1,        /* AUTH and NOTIFY */
	RF_EVENT_OPEN = 2,        /* AUTH and NOTIFY */
	RF_EVENT_FORK = 3,
	RF_EVENT_EXIT = 4,
	RF_EVENT_CREATE = 5,
	RF_EVENT_CLOSE_WRITE = 6,
	RF_EVENT_UNLINK = 7,
	RF_EVENT_RENAME = 8,
	RF_EVENT_CONNECT = 9,
	RF_EVENT_ACCEPT = 10,
	RF_EVENT_LISTEN = 11,
	RF_EVENT_SETUID = 12,
	RF_EVENT_SETGID = 13,
	RF_EVENT_PTRACE = 14,
	RF_EVENT_KMOD_LOAD = 15,
	RF_EVENT_BPF_LOAD = 16,
	RF_EVENT_MEMFD_EXEC = 17,
	RF_EVENT_ALERT = 18,       /* a client's detection (rf_emit_alert), NOTIFY only */
	RF_EVENT_MAX               /* one past the last valid type */
};

/* Event types for which the kernel can wait on a verdict. */
#define RF_EVENT_IS_AUTHABLE(t) ((t) == RF_EVENT_EXEC || (t) == RF_EVENT_OPEN)

enum rf_action {
	RF_ACTION_NOTIFY = 0,
	RF_ACTION_AUTH = 1,
};

enum rf_verdict {
	RF_VERDICT_NONE = 0,       /* NOTIFY, or AUTH not yet decided */
	RF_ALLOW = 1,
	RF_DENY = 2,
};

/* Who decided an AUTH event (set on messages streamed to rfctl tail). */
enum rf_decider {
	RF_DECIDER_NONE = 0,
	RF_DECIDER_CLIENT = 1,     /* hdr.decider names the client */
	RF_DECIDER_DEFAULT = 2,    /* deadline passed: the policy's default verdict */
	RF_DECIDER_CACHE = 3,      /* the broker's verdict cache */
	RF_DECIDER_POLICY = 4,     /* no client was asked (muted or none subscribed) */
};

/* A string in the message tail: bytes [off, off+len) plus a NUL at off+len. */
typedef struct rf_str {
	uint32_t off;              /* 0 means absent */
	uint32_t len;              /* length without the terminating NUL */
} rf_str_t;

#define RF_FILE_F_HASH 0x1u        /* sha256 is valid */
#define RF_FILE_F_PATH_UNKNOWN 0x2u /* the kernel could not give the path: path is absent, never guessed */
#define RF_FILE_F_PATH_CUT 0x4u    /* path did not fit the message and was shortened */

/* A file's identity: the inode triple survives renames; path is informative. */
struct rf_file {
	uint64_t dev;              /* st_dev, as the kernel encodes it */
	uint64_t ino;
	int64_t ctime_ns;          /* change time: moves whenever content or metadata does */
	uint32_t mode;             /* st_mode, 0 when unknown */
	uint32_t flags;            /* RF_FILE_F_* */
	rf_str_t path;
	uint8_t sha256[32];
};

/*
 * A process.  (pid, start_time_ns) identifies it uniquely across pid reuse.
 * start_time_ns is boot-relative, truncated to clock ticks so that it equals
 * field 22 of /proc/PID/stat times 10^9/USER_HZ.
 */
struct rf_process {
	uint32_t pid;
	uint32_t tid;
	uint64_t start_time_ns;
	uint32_t ppid;
	uint32_t pgid;
	uint64_t parent_start_time_ns;
	uint32_t uid, euid, gid, egid;
	uint32_t auid;             /* loginuid, 0xffffffff when unset */
	uint32_t sessionid;
	uint64_t cgroup_id;
	struct rf_file exe;
	rf_str_t comm;
	rf_str_t cwd;
	rf_str_t args;             /* argv, NUL separated; argc entries */
	uint32_t argc;
	uint32_t flags;            /* RF_PROC_F_* */
};

#define RF_PROC_F_LD_ENV      0x1u  /* started with LD_PRELOAD, LD_AUDIT or LD_LIBRARY_PATH (read in the kernel) */
#define RF_PROC_F_CWD_UNKNOWN 0x2u  /* cwd could not be resolved by the kernel: absent, never guessed */
#define RF_PROC_F_CWD_CUT     0x4u  /* cwd shortened to fit */
#define RF_PROC_F_ARGS_CUT    0x8u  /* args shortened to fit (fewer than argc entries may be present) */
#define RF_PROC_F_EXE_CUT     0x10u /* exe.path shortened to fit (see also exe.flags) */
#define RF_PROC_F_COMM_CUT    0x20u

/* The parent, for context without a second lookup. */
struct rf_parent {
	uint32_t pid;
	uint32_t reserved;
	uint64_t start_time_ns;
	rf_str_t exe;
	rf_str_t comm;
};

#define RF_EXEC_F_MEMFD 0x1u       /* the executable has no name on disk */
#define RF_EXEC_F_UNLINKED 0x2u    /* the executable's inode has no links left (deleted file) */
#define RF_EXEC_F_VIA_FD 0x4u      /* executed by descriptor (fexecve / execveat AT_EMPTY_PATH) */
#define RF_EXEC_F_LOADER 0x8u      /* the dynamic loader itself was executed to run target */
#define RF_EXEC_F_ARGS_CUT 0x10u   /* args shortened to fit */

struct rf_ev_exec {
	struct rf_file target;     /* the file being executed */
	rf_str_t args;             /* new argv (NUL separated) when known */
	uint32_t argc;
	uint32_t flags;            /* RF_EXEC_F_* */
};

struct rf_ev_open {
	struct rf_file target;
	uint32_t flags;            /* open flags when known */
	uint32_t reserved;
};

struct rf_ev_fork {
	uint32_t child_pid;
	uint32_t reserved;
	uint64_t child_start_time_ns;
};

struct rf_ev_exit {
	int32_t status;            /* wait(2) status: exit code << 8 | signal */
	uint32_t reserved;
};

/* create, close_write, unlink, rename */
struct rf_ev_file {
	struct rf_file target;     /* for rename, the old name */
	rf_str_t dest;             /* rename: the new path */
	uint32_t is_dir;
	uint32_t reserved;
};

struct rf_ev_net {
	uint16_t family;           /* AF_INET or AF_INET6 */
	uint16_t proto;            /* IPPROTO_TCP */
	uint16_t sport;            /* host byte order */
	uint16_t dport;
	uint8_t saddr[16];         /* IPv4 in the first 4 bytes */
	uint8_t daddr[16];
};

/* setuid family (RF_EVENT_SETUID) and setgid family (RF_EVENT_SETGID) */
struct rf_ev_cred {
	uint32_t syscall_nr;
	int32_t retval;
	uint32_t old_id[4];        /* real, effective, saved, fs */
	uint32_t new_id[4];
};

struct rf_ev_ptrace {
	uint32_t request;
	uint32_t target_pid;
	uint64_t target_start_time_ns;
};

struct rf_ev_kmod {
	rf_str_t name;
};

struct rf_ev_bpf {
	uint32_t cmd;
	uint32_t prog_type;
	rf_str_t name;
};

/* A detection a client reported; process and parent are the triggering event's. */
struct rf_ev_alert {
	rf_str_t client;           /* the reporting client, as the broker knows it */
	rf_str_t rule_id;
	rf_str_t title;
	rf_str_t level;            /* informational, low, medium, high, critical */
	rf_str_t tags;             /* comma separated */
	rf_str_t target;           /* the triggering event's target path, when it has one */
	uint32_t trigger_type;     /* enum rf_event_type of the triggering event */
	uint32_t trigger_action;
	uint64_t trigger_seq;      /* its hdr.seq as the client saw it */
	uint64_t trigger_time_ns;
};

struct rf_msg_hdr {
	uint32_t size;             /* whole message, multiple of RF_MSG_ALIGN */
	uint16_t version;          /* RF_PROTO_VERSION */
	uint16_t type;             /* enum rf_event_type */
	uint8_t action;            /* enum rf_action */
	uint8_t verdict;           /* enum rf_verdict; for decided AUTH in tail/record */
	uint8_t decided_by;        /* enum rf_decider */
	uint8_t flags;             /* RF_MSG_F_* */
	uint32_t cut;              /* RF_CUT_*: fields shortened or left out to fit RF_MSG_MAX; 0 = whole */
	uint64_t id;               /* AUTH: what rf_respond() answers; 0 for NOTIFY */
	uint64_t seq;              /* per client, +1 per event dispatched to it, delivered or not */
	uint64_t type_seq;         /* per client and event type, likewise */
	uint64_t time_ns;          /* CLOCK_REALTIME at the broker's receipt */
	uint64_t mono_ns;          /* CLOCK_MONOTONIC, same instant */
	uint64_t deadline_ns;      /* AUTH: CLOCK_MONOTONIC deadline; 0 for NOTIFY */
	rf_str_t decider;          /* name of the deciding client, when decided_by == CLIENT */
};

#define RF_MSG_F_REPLAYED 0x1u     /* came from the replay source, not the kernel */
#define RF_MSG_F_HAS_FD   0x2u     /* AUTH: the file's descriptor was sent; rf_msg_fd() */
#define RF_MSG_F_CUT      0x4u     /* something in the message was shortened: see hdr.cut */

/*
 * hdr.cut: which string fields did not fit whole.  The target's identity
 * (dev, ino, ctime, mode) is fixed-size and always present; the target path
 * is placed first in the tail, so RF_CUT_TARGET is set only for a path longer
 * than the whole tail.  A client must treat a cut field as unknown (match on
 * it only as its policy says), exactly like RF_FILE_F_PATH_UNKNOWN.
 */
#define RF_CUT_TARGET     0x1u     /* ev.*.target.path */
#define RF_CUT_ARGS       0x2u     /* process.args or ev.exec.args */
#define RF_CUT_CWD        0x4u
#define RF_CUT_EXE        0x8u     /* process.exe.path */
#define RF_CUT_PARENT     0x10u    /* parent.exe or parent.comm */
#define RF_CUT_DEST       0x20u    /* ev.file.dest (rename) */
#define RF_CUT_OTHER      0x40u    /* any other string (comm, alert strings, decider) */

struct rf_message {
	struct rf_msg_hdr hdr;
	struct rf_process process;
	struct rf_parent parent;
	union {
		struct rf_ev_exec exec;
		struct rf_ev_open open;
		struct rf_ev_fork fork;
		struct rf_ev_exit exit;
		struct rf_ev_file file;
		struct rf_ev_net net;
		struct rf_ev_cred cred;
		struct rf_ev_ptrace ptrace;
		struct rf_ev_kmod kmod;
		struct rf_ev_bpf bpf;
		struct rf_ev_alert alert;
		uint8_t reserved[128];
	} ev;
	/* string tail follows, up to hdr.size */
};

#define RF_SA(cond, msg) _Static_assert(cond, msg)
RF_SA(sizeof(rf_str_t) == 8, "rf_str_t layout");
RF_SA(sizeof(struct rf_file) == 72, "rf_file layout");
RF_SA(sizeof(struct rf_process) == 168, "rf_process layout");
RF_SA(sizeof(struct rf_parent) == 32, "rf_parent layout");
RF_SA(sizeof(struct rf_msg_hdr) == 72, "rf_msg_hdr layout");
RF_SA(sizeof(struct rf_message) == 400, "rf_message layout");
RF_SA(sizeof(struct rf_message) % RF_MSG_ALIGN == 0, "rf_message alignment");
#undef RF_SA

#ifdef __cplusplus
}
#endif
#endif
