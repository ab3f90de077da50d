/*
 * sandbox.h - the client sandbox: what a client process may do, and the
 * broker's half of enforcing it.
 *
 * A client runs as its own uid, in its own cgroup (memory, pids, cpu), in an
 * empty network namespace, under rlimits, a Landlock ruleset (only the paths
 * its manifest grants plus what the dynamic loader needs) and a seccomp
 * filter whose default action is a user notification: every system call
 * off the allowlist is stopped and sent to the broker, which answers EPERM
 * and counts it per client and syscall.  Only the client's very first
 * execve (of the manifest's exec, made by rf_sandbox_drop's caller) is let
 * through.
 *
 * The calls, in the order the broker makes them for one client start:
 *
 *   broker, before fork   rf_sandbox_prepare(): probe features, make the cgroup
 *                         socketpair(AF_UNIX, SOCK_SEQPACKET|SOCK_CLOEXEC|SOCK_NONBLOCK)
 *                         for the setup channel
 *   child, after fork     descriptors in place (control socket on 3, setup end
 *                         on 4, everything else closed), environment set, then
 *                         rf_sandbox_drop(sb, m, 4); execv(m->exec, m->argv)
 *   broker, after fork    close the child's setup end, poll our end (EPOLLIN)
 *   broker, setup readable  rf_sandbox_recv_notify_fd(): -EAGAIN: wait; 0: close
 *                         the setup end, poll the notify fd; other: the child
 *                         failed before it finished (it exits 126), close it
 *   broker, notify readable rf_sandbox_on_notify(), once per wake-up (level
 *                         triggered epoll comes back while more are queued)
 *   broker, after reap    close the notify fd, rf_sandbox_release()
 *
 * Ordering inside rf_sandbox_drop, which the broker relies on: the filter is
 * loaded, then the notify descriptor is sent on the setup channel (sendmsg
 * is on the allowlist), then both are closed, then the function returns and
 * the caller's execv reaches the broker as a notification.  So the child
 * never needs an answer before the broker can have its descriptor: between
 * the filter load and the send it makes only allowlisted calls.  Until the
 * broker polls the notify fd the child simply waits in execve.
 *
 * All broker-side functions return 0 or a negative errno and do not log; the
 * child-side function does not return on failure.
 */
#ifndef RF_SANDBOX_H
#define RF_SANDBOX_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "broker/config.h"

/* Exit status of a child whose sandbox could not be set up. */
#define RF_SANDBOX_EXIT 126
/* Largest file a client may write (RLIMIT_FSIZE): reports and state, not disks. */
#define RF_SANDBOX_FSIZE_MAX (1ull << 30)
/* The payload of the one setup datagram (with the notify fd as SCM_RIGHTS). */
#define RF_SANDBOX_SETUP_MAGIC 0x42534652u   /* "RFSB" */

enum rf_cgroup_kind {
	RF_CGROUP_NONE = 0,    /* no usable hierarchy: no cgroup limits ("unavailable") */
	RF_CGROUP_V1,          /* one directory per v1 hierarchy (memory, pids, cpu) */
	RF_CGROUP_V2,          /* one directory in the unified hierarchy */
};

/* Controllers whose limits are in force (rf_sandbox.cgroup_ctrls). */
#define RF_CG_MEMORY 0x1u
#define RF_CG_PIDS   0x2u
#define RF_CG_CPU    0x4u
#define RF_CG_ALL    (RF_CG_MEMORY | RF_CG_PIDS | RF_CG_CPU)

#define RF_SANDBOX_MAX_CGROUPS 3

/*
 * What one client start gets: filled by rf_sandbox_prepare, read by
 * rf_sandbox_drop in the child and by the status report.
 */
struct rf_sandbox {
	char name[RF_NAME_MAX];          /* the client's name: the leaf cgroup's name */
	uint32_t uid, gid;               /* the client's credentials, never 0 */
	bool seccomp;                    /* always true: prepare fails without user notification */
	bool netns;                      /* always true: drop is fatal without a network namespace */
	int landlock_abi;                /* ABI the ruleset is built for; 0: Landlock unavailable */
	enum rf_cgroup_kind cgroup;
	unsigned cgroup_ctrls;           /* RF_CG_*: limits actually written */
	unsigned ncgroup_dirs;
	char cgroup_dirs[RF_SANDBOX_MAX_CGROUPS][PATH_MAX];  /* to join, and to remove after reap */
	char cgroup_note[160];           /* why limits are missing or partial; "" when all are in force */
};

/*
 * Broker side, before fork.  Probes seccomp user notification (required)
 * and the Landlock ABI, and makes the client's cgroup with memory (plus
 * swap: none beyond the memory limit), pids and cpu limits from the
 * manifest.  The cgroup goes beneath the broker's own cgroup, so clients
 * stay inside whatever limits the broker runs under:
 *   v2: <base>/ringfence/<name>, <base> the broker's cgroup if it is the
 *       root, else its parent (a cgroup holding processes cannot hand
 *       controllers down; with systemd use Delegate=yes and
 *       DelegateSubgroup=, so <base> is the service's own cgroup);
 *   v1: <own cgroup in each of memory, pids, cpu>/ringfence/<name>.
 * v2 is used when its hierarchy offers memory, pids and cpu; else v1 when
 * it has all three; else whichever offers more; a missing controller or a
 * failing write is recorded in cgroup_note, never an error.  A leftover
 * cgroup of the same name is emptied (SIGKILL) first.
 * Returns 0 and fills *ret; -EINVAL for uid or gid 0; -EOPNOTSUPP when the
 * kernel or libseccomp lacks seccomp user notification.  *ret is untouched
 * on error.
 */
int rf_sandbox_prepare(const struct rf_manifest *m, uint32_t uid, uint32_t gid,
		       struct rf_sandbox *ret);

/*
 * Child side, after fork, immediately before execv(m->exec).  THE drop
 * function: joins the cgroups, enters a new network namespace, sets
 * rlimits, makes the process non-dumpable, applies the Landlock ruleset,
 * becomes uid/gid for good, sets no_new_privs and loads the seccomp filter,
 * sends the notify descriptor on setup_fd and closes both.  Any failure
 * prints the step and errno to stderr and _exit(RF_SANDBOX_EXIT).
 * The caller must already have closed every descriptor the client must not
 * inherit; it must be single-threaded (it is: a fresh fork).
 */
void rf_sandbox_drop(const struct rf_sandbox *sb, const struct rf_manifest *m, int setup_fd);

/*
 * Broker side: receives the notify descriptor (close-on-exec) from a setup
 * socket without blocking.  Returns 0 and sets *ret_fd; -EAGAIN when it has
 * not arrived yet; -EPIPE when the child closed the channel without sending
 * (it failed or died: close the setup end); -EPROTO for a malformed message.
 */
int rf_sandbox_recv_notify_fd(int setup_fd, int *ret_fd);

/*
 * Broker side: takes one pending notification from notify_fd and answers
 * it, never blocking.  An execve/execveat while allow_first_exec is true is
 * let through (SECCOMP_USER_NOTIF_FLAG_CONTINUE) and sets *ret_exec_allowed;
 * pass true only until that has happened once.  Everything else fails with
 * EPERM in the client; *ret_syscall_nr tells which call, for the counters.
 * Returns 0 with both outputs set (also when the target died after the
 * notification was read: the attempt still counts); -EAGAIN when nothing is
 * pending; -ENOENT when the target died before it could be read (nothing to
 * count); -EPIPE when every process under the filter is gone (close the
 * fd: the client is dead); another negative errno on an unexpected failure.
 * Closing notify_fd never frees a client: its unlisted calls then fail with
 * ENOSYS.  Not thread-safe: call from the broker's event loop only.
 */
int rf_sandbox_on_notify(int notify_fd, bool allow_first_exec, bool *ret_exec_allowed,
			 int *ret_syscall_nr);

/* The native name of syscall nr ("socket"), or "unknown"; a static string. */
const char *rf_sandbox_syscall_name(int nr);

/* "v1", "v2" or "unavailable". */
const char *rf_sandbox_cgroup_name(enum rf_cgroup_kind kind);

/*
 * Broker side, after the client was reaped: kills anything still in its
 * cgroups and removes them.  A cgroup that is still busy stays and is
 * emptied by the next rf_sandbox_prepare of the same name.  Accepts NULL;
 * may be called twice.
 */
void rf_sandbox_release(struct rf_sandbox *sb);

/*
 * Names this broker instance's parent cgroup ("ringfence-ID"), so that two
 * brokers on one machine (or a test beside a deployment) never share or
 * empty each other's client cgroups.  Call once before the first prepare.
 */
void rf_sandbox_set_instance(const char *id);

#endif
