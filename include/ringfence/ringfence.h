/*
 * ringfence/ringfence.h - the public client API of ringfence.
 *
 * A client is a process that ringfenced spawned from a manifest.  It receives
 * events (the kernel's exec, open, process, file, network and credential
 * activity), answers AUTH events with a verdict before their deadline, and
 * can mute what it does not care about.  This header is all a client needs;
 * ringfence's own clients use nothing else.
 *
 * Conventions: functions returning int return RF_OK (0) or a negative
 * enum rf_err; on error nothing is changed.  A client handle is used by one
 * thread at a time.  Message pointers returned by rf_next() stay valid until
 * the next call of rf_next() or rf_client_free() on the same handle.
 *
 * Version: RF_API_VERSION below; the wire version is RF_PROTO_VERSION.
 */
#ifndef RINGFENCE_H
#define RINGFENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ringfence/message.h"

#ifdef __cplusplus
extern "C" {
#endif

#define RF_API_VERSION_MAJOR 0
#define RF_API_VERSION_MINOR 2

typedef struct rf_client rf_client_t;

enum rf_err {
	RF_OK = 0,
	RF_E_INVAL = -1,      /* a bad argument */
	RF_E_NOBROKER = -2,   /* not started by ringfenced (no RF_CLIENT_FD) */
	RF_E_PROTO = -3,      /* the broker sent something malformed */
	RF_E_VERSION = -4,    /* protocol version mismatch */
	RF_E_NOMEM = -5,
	RF_E_SYS = -6,        /* a system call failed; errno tells which */
	RF_E_TIMEOUT = -7,    /* rf_next(): nothing arrived in time */
	RF_E_CLOSED = -8,     /* the broker went away: exit cleanly */
	RF_E_PERM = -9,       /* the manifest does not grant this */
	RF_E_LIMIT = -10,     /* a per-client limit was reached (mutes, ...) */
	RF_E_STATE = -11,     /* not allowed now (e.g. respond to a NOTIFY) */
	RF_E_NOENT = -12,     /* no such mute */
	RF_E_FULL = -13,      /* response ring full; try again */
};

/* A static string describing err; never NULL, also for unknown values. */
const char *rf_strerror(int err);

/*
 * Connects to the broker that spawned this process (it hands the connection
 * over on the descriptor named by the RF_CLIENT_FD environment variable) and
 * performs the versioned handshake.  name is informative and must match the
 * manifest's name.  Returns a handle, or NULL with *ret_err set (ret_err may
 * be NULL).
 */
rf_client_t *rf_client_new(const char *name, int *ret_err);

/* Closes the connection and frees everything; accepts NULL. */
void rf_client_free(rf_client_t *c);

/*
 * Starts (or stops) delivery of events of type with the given action.
 * RF_ACTION_AUTH is valid for RF_EVENT_EXEC and RF_EVENT_OPEN only, and only
 * when the manifest lists it.  A client in monitor mode that subscribes to
 * AUTH receives the events as NOTIFY: it can never block the machine.
 * Returns RF_OK, RF_E_INVAL, RF_E_PERM or a transport error.
 */
int rf_subscribe(rf_client_t *c, enum rf_event_type type, enum rf_action action);
int rf_unsubscribe(rf_client_t *c, enum rf_event_type type, enum rf_action action);

/*
 * Like rf_subscribe() with RF_ACTION_AUTH (the only action accepted), and
 * the events come with a read-only descriptor of the file (the one being
 * executed or opened), for clients that read its content: rf_msg_fd().
 * rf_subscribe() of the same type and action turns the descriptors off
 * again.  A client in monitor mode gets NOTIFY events, without descriptors.
 */
int rf_subscribe_fd(rf_client_t *c, enum rf_event_type type, enum rf_action action);

/*
 * Tells the broker that the client is ready (subscriptions made, content
 * loaded).  The supervisor counts a client that never says so as failed.
 */
int rf_ready(rf_client_t *c);

/*
 * Waits up to timeout_ms (0: do not wait, -1: forever) for the next message
 * and stores a pointer to it in *ret_msg.  Messages arrive in batches; this
 * call makes no system call while a batch lasts.  Returns RF_OK,
 * RF_E_TIMEOUT, RF_E_CLOSED (the broker is gone) or RF_E_PROTO.
 */
int rf_next(rf_client_t *c, const struct rf_message **ret_msg, int timeout_ms);

/*
 * Answers an AUTH message.  cache asks the broker to let the kernel remember
 * an ALLOW for this file until it changes (the broker caches only when every
 * answering client agrees).  A late answer is accepted here but ignored and
 * counted by the broker.  Returns RF_OK, RF_E_INVAL, RF_E_STATE (not AUTH)
 * or RF_E_FULL.
 */
int rf_respond(rf_client_t *c, const struct rf_message *msg, enum rf_verdict verdict,
	       bool cache);

/*
 * Mutes every event of one process for this client (pid and start time, so a
 * reused pid is not muted by mistake; start_time_ns 0 matches any).
 */
int rf_mute_process(rf_client_t *c, uint32_t pid, uint64_t start_time_ns);
int rf_unmute_process(rf_client_t *c, uint32_t pid, uint64_t start_time_ns);

#define RF_MUTE_LITERAL 0x1u   /* the whole path */
#define RF_MUTE_PREFIX  0x2u   /* any path starting with it */
#define RF_MUTE_EXE     0x10u  /* match the acting process's executable */
#define RF_MUTE_TARGET  0x20u  /* match the file the event is about */

/*
 * Mutes events by path.  flags: exactly one of RF_MUTE_LITERAL and
 * RF_MUTE_PREFIX, and exactly one of RF_MUTE_EXE and RF_MUTE_TARGET.  path
 * is absolute, at most 4095 bytes.
 */
int rf_mute_path(rf_client_t *c, const char *path, unsigned flags);
int rf_unmute_path(rf_client_t *c, const char *path, unsigned flags);

/*
 * Inverts path muting of one kind (RF_MUTE_EXE or RF_MUTE_TARGET): when
 * inverted, only events whose path matches a mute of that kind are delivered.
 */
int rf_mute_invert(rf_client_t *c, unsigned kind, bool inverted);

/*
 * A descriptor that becomes readable when messages may be waiting; for
 * clients with their own poll loop.  After it polls readable, call rf_next()
 * with timeout 0 until it returns RF_E_TIMEOUT.
 */
int rf_fd(const rf_client_t *c);

struct rf_client_stats {
	uint64_t received;        /* messages returned by rf_next() */
	uint64_t gaps;            /* sequence numbers skipped: events the broker dropped */
	uint64_t invalid;         /* malformed messages skipped */
	uint64_t broker_dropped;  /* the broker's own count of our drops (informative) */
};

/* Copies the client-side counters into *ret_stats. */
int rf_stats(const rf_client_t *c, struct rf_client_stats *ret_stats);

/*
 * Returns the string a reference points at, or "" when absent.  Messages
 * from rf_next() are checked, so the result is always NUL terminated inside
 * the message.
 */
const char *rf_msg_str(const struct rf_message *msg, rf_str_t s);

/*
 * Which string fields of msg were shortened or left out to fit RF_MSG_MAX:
 * RF_CUT_* bits (message.h), 0 when the message is whole.  A cut field is
 * as good as unknown: match on it only as the client's policy says (a rule
 * that does not match a cut argument vector may have matched the whole one).
 * The field's own flag says the same (RF_PROC_F_ARGS_CUT, RF_EXEC_F_ARGS_CUT,
 * RF_PROC_F_CWD_CUT, RF_FILE_F_PATH_CUT, ...).  Since API 0.2.
 */
uint32_t rf_msg_cut(const struct rf_message *msg);

/*
 * The file the event is about (exec, memfd exec, open, create, close-write,
 * unlink, rename), or NULL for other types.  Since API 0.2.
 */
const struct rf_file *rf_msg_target(const struct rf_message *msg);

/*
 * True when msg names its target file whole: a path is present, and neither
 * RF_FILE_F_PATH_UNKNOWN (the kernel could not give it) nor
 * RF_FILE_F_PATH_CUT / RF_CUT_TARGET (it did not fit) is set.  False also
 * for types without a target.  A client must not judge an AUTH event by a
 * path it does not have: when this is false it answers by its
 * unknown-target policy (docs/PROTOCOL.md, "Cut and unknown fields"); the
 * target's identity (dev, ino, ctime, mode) is always present.  Since API 0.2.
 */
bool rf_msg_target_known(const struct rf_message *msg);

/*
 * Reports a detection about the event msg (any message from rf_next()):
 * rule_id, title and level (informational, low, medium, high, critical) are
 * required, tags (comma separated) may be NULL; each string at most 255
 * bytes.  The broker attaches the triggering process and parent and streams
 * it as an RF_EVENT_ALERT message to `rfctl tail` and to clients subscribed
 * to alerts.  Not acknowledged: returns RF_OK once sent, RF_E_INVAL,
 * RF_E_FULL when the socket is full (the alert is lost; try later) or
 * RF_E_CLOSED.  The broker limits the rate per client and counts the excess.
 */
int rf_emit_alert(rf_client_t *c, const struct rf_message *msg, const char *rule_id,
		  const char *title, const char *level, const char *tags);

/*
 * The read-only descriptor of the file of the AUTH message msg (the message
 * rf_next() returned last), or -1: not subscribed with rf_subscribe_fd(),
 * not an AUTH message, or the broker could not send it (its socket was
 * full; the event is still to be answered).  The library owns the
 * descriptor and closes it at the next rf_next() or rf_client_free(): dup()
 * it to keep it.  It shares its file offset with the broker's: use pread()
 * or mmap(), not read() and lseek().
 */
int rf_msg_fd(rf_client_t *c, const struct rf_message *msg);

/*
 * Managed content (docs/CONTENT-DELIVERY.md).  A client whose manifest says
 * `content = managed` is started with its active content as a read-only
 * descriptor; these return it, or -1 when the client was started without
 * (then it should use content named on its command line, or none), and its
 * content_version string, or NULL.  The descriptor is the client's: it may
 * read it, mmap it or close it.  Content is untrusted input: load it with a
 * bounded, versioned parser and exit with status 3 if it is refused, so the
 * supervisor attributes the failure to the content.  Need no connection.
 */
int rf_content_fd(void);
const char *rf_content_version(void);

/* Lower-case name of an event type ("exec", "close_write", ...), or NULL. */
const char *rf_event_type_name(unsigned type);
/* The type for a name, or RF_EVENT_NONE. */
enum rf_event_type rf_event_type_from_name(const char *name);

/*
 * Checks a message of len bytes from an untrusted source: size, version,
 * type, action and that every string reference lies inside the message and
 * is NUL terminated.  Returns RF_OK or RF_E_PROTO / RF_E_VERSION.
 */
int rf_msg_validate(const void *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
