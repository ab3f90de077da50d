/*
 * wire.h - the private half of the client protocol: the shared-memory layout
 * and the control messages on the client's socket.  Shared by libringfence
 * and ringfenced; clients never include it.
 *
 * Per client the broker creates one sealed memfd holding two rings:
 *   events    broker -> client, variable-length rf_message records
 *   responses client -> broker, fixed 32-byte rf_wire_response slots
 * and two eventfds (events available, responses available).  Control traffic
 * (hello, subscribe, mute, ready) goes over a SOCK_SEQPACKET socket, one
 * message per datagram, each acknowledged.
 *
 * The broker trusts nothing in the shared memory: it keeps its own copy of
 * every index it owns and checks every index and record the client writes.
 */
#ifndef RF_WIRE_H
#define RF_WIRE_H

#include <stdint.h>

#include "ringfence/message.h"

#define RF_SHM_MAGIC 0x52465348u /* "RFSH" */

/* Ring control words; each on its own cache line. */
struct rf_ring_ctl {
	_Alignas(64) uint64_t head;      /* producer position, bytes or slots, monotonic */
	_Alignas(64) uint64_t tail;      /* consumer position */
	_Alignas(64) uint32_t waiting;   /* consumer is about to sleep: producer must signal */
	uint32_t reserved;
};

struct rf_shm_hdr {
	uint32_t magic;
	uint32_t version;                /* RF_PROTO_VERSION */
	uint32_t hdr_size;               /* sizeof(struct rf_shm_hdr) */
	uint32_t evt_off;                /* offset of event data */
	uint32_t evt_size;               /* bytes, power of two */
	uint32_t resp_off;               /* offset of response slots */
	uint32_t resp_slots;             /* count, power of two */
	uint32_t reserved;
	uint64_t dropped;                /* broker's count of this client's drops (informative) */
	struct rf_ring_ctl evt;
	struct rf_ring_ctl resp;
};

/* A pad record fills the end of the event ring when a message would wrap. */
#define RF_RING_PAD_TYPE 0xffffu

#define RF_RESP_F_CACHE 0x1u

struct rf_wire_response {
	uint64_t id;                     /* rf_msg_hdr.id of the AUTH event */
	uint32_t verdict;                /* RF_ALLOW or RF_DENY */
	uint32_t flags;                  /* RF_RESP_F_* */
	uint64_t reserved[2];
};

_Static_assert(sizeof(struct rf_ring_ctl) == 192, "ring ctl layout");
_Static_assert(sizeof(struct rf_wire_response) == 32, "response layout");

/* ---- control messages on the client socket ---- */

enum rf_ctl_type {
	RF_CTL_HELLO = 1,          /* client -> broker: rf_ctl_hello */
	RF_CTL_HELLO_ACK = 2,      /* broker -> client: rf_ctl_hello_ack + [memfd, evt_efd, resp_efd] */
	RF_CTL_SUBSCRIBE = 3,      /* rf_ctl_sub */
	RF_CTL_UNSUBSCRIBE = 4,    /* rf_ctl_sub */
	RF_CTL_MUTE_PROC = 5,      /* rf_ctl_mute_proc */
	RF_CTL_UNMUTE_PROC = 6,    /* rf_ctl_mute_proc */
	RF_CTL_MUTE_PATH = 7,      /* rf_ctl_mute_path + path bytes */
	RF_CTL_UNMUTE_PATH = 8,    /* rf_ctl_mute_path + path bytes */
	RF_CTL_MUTE_INVERT = 9,    /* rf_ctl_mute_invert */
	RF_CTL_READY = 10,         /* no payload */
	RF_CTL_ACK = 11,           /* broker -> client: rf_ctl_ack */
	RF_CTL_ALERT = 12,         /* rf_ctl_alert + strings + trigger message; not acknowledged */
	RF_CTL_SUBSCRIBE_FD = 13,  /* rf_ctl_sub, AUTH only: also pass the file's descriptor */
	RF_CTL_FD = 14,            /* broker -> client only: rf_ctl_fd + [one O_RDONLY descriptor] */
	RF_CTL_MAX
};

struct rf_ctl_hdr {
	uint32_t size;             /* whole datagram */
	uint16_t version;          /* RF_PROTO_VERSION */
	uint16_t type;             /* enum rf_ctl_type */
	uint32_t req_id;           /* echoed in the ack */
	uint32_t reserved;
};

#define RF_NAME_MAX 64

struct rf_ctl_hello {
	struct rf_ctl_hdr hdr;
	uint32_t proto_version;
	uint32_t flags;
	char name[RF_NAME_MAX];    /* NUL terminated */
};

struct rf_ctl_hello_ack {
	struct rf_ctl_hdr hdr;
	int32_t status;            /* RF_OK or enum rf_err */
	uint32_t shm_size;
	uint64_t client_id;
};

struct rf_ctl_sub {
	struct rf_ctl_hdr hdr;
	uint32_t type;
	uint32_t action;
};

struct rf_ctl_mute_proc {
	struct rf_ctl_hdr hdr;
	uint32_t pid;
	uint32_t reserved;
	uint64_t start_time_ns;
};

#define RF_PATH_MAX 4096

struct rf_ctl_mute_path {
	struct rf_ctl_hdr hdr;
	uint32_t flags;            /* RF_MUTE_* */
	uint32_t len;              /* path bytes that follow, NUL included */
	/* char path[len] */
};

struct rf_ctl_mute_invert {
	struct rf_ctl_hdr hdr;
	uint32_t kind;
	uint32_t inverted;
};

struct rf_ctl_ack {
	struct rf_ctl_hdr hdr;
	int32_t status;            /* RF_OK or enum rf_err */
	uint32_t reserved;
};

/*
 * The file of an AUTH event, for clients subscribed with RF_CTL_SUBSCRIBE_FD.
 * Sent before the event is pushed to the ring, with exactly one descriptor
 * (SCM_RIGHTS): the fanotify event's own read-only open file description.
 * The event then carries RF_MSG_F_HAS_FD.  Not acknowledged; never accepted
 * from a client.
 */
#define RF_CTL_FD_MAGIC 0x52464644u /* "RFFD" */
struct rf_ctl_fd {
	struct rf_ctl_hdr hdr;
	uint32_t magic;            /* RF_CTL_FD_MAGIC */
	uint32_t reserved;
	uint64_t id;               /* rf_msg_hdr.id of the AUTH event */
};

#define RF_ALERT_STR_MAX 255

/* Followed by rule_id, title, level, tags (no NULs), then the trigger message. */
struct rf_ctl_alert {
	struct rf_ctl_hdr hdr;
	uint16_t rule_len, title_len, level_len, tags_len;
	uint32_t msg_len;          /* the triggering rf_message, as the client received it */
	uint32_t reserved;
};

#define RF_CTL_MAX_SIZE (sizeof(struct rf_ctl_alert) + 4 * RF_ALERT_STR_MAX + RF_MSG_MAX)

_Static_assert(sizeof(struct rf_ctl_hdr) == 16, "ctl hdr layout");
_Static_assert(sizeof(struct rf_ctl_hello) == 88, "hello layout");
_Static_assert(sizeof(struct rf_ctl_hello_ack) == 32, "hello ack layout");
_Static_assert(sizeof(struct rf_ctl_sub) == 24, "sub layout");
_Static_assert(sizeof(struct rf_ctl_mute_proc) == 32, "mute proc layout");
_Static_assert(sizeof(struct rf_ctl_mute_path) == 24, "mute path layout");
_Static_assert(sizeof(struct rf_ctl_ack) == 24, "ack layout");
_Static_assert(sizeof(struct rf_ctl_alert) == 32, "alert layout");
_Static_assert(sizeof(struct rf_ctl_fd) == 32, "fd layout");

/* ---- operator control socket (rfctl <-> ringfenced) ---- */

#define RF_OPS_MAGIC 0x5246434fu /* "RFCO" */

enum rf_ops_cmd {
	RF_OPS_STATUS = 1,         /* reply: one datagram of JSON */
	RF_OPS_CLIENTS = 2,        /* reply: one datagram of JSON */
	RF_OPS_TAIL = 3,           /* reply: stream of rf_message datagrams and rf_ops_drop notices */
	RF_OPS_CONTENT = 4,        /* request: struct rf_ops_content; reply: one datagram of JSON */
	RF_OPS_MAX
};

struct rf_ops_req {
	uint32_t magic;
	uint16_t version;
	uint16_t cmd;
	uint64_t type_mask;        /* TAIL: 1 << type for each wanted type; 0 = all */
	uint32_t exclude_pgid;     /* TAIL: events of this process group are not sent */
	uint32_t flags;            /* RF_OPS_F_* */
};

/* TAIL: exclude_pgid holds a pid, not a process group (rfctl not a group leader). */
#define RF_OPS_F_EXCLUDE_PID 0x1u

/* Sent in the tail stream before the next message after lost lines. */
#define RF_OPS_DROP_MAGIC 0x52464450u /* "RFDP" */
struct rf_ops_drop {
	uint32_t magic;
	uint32_t reserved;
	uint64_t dropped;          /* messages this reader lost since the last notice */
};

/* Managed content: what the operator asks (rfctl content check|pause|...). */
enum rf_ops_content_action {
	RF_OPS_CONTENT_CHECK = 1,  /* check the repository now */
	RF_OPS_CONTENT_PAUSE,      /* no checks, no activations */
	RF_OPS_CONTENT_RESUME,
	RF_OPS_CONTENT_PIN,        /* client stays on version (0: its current one) */
	RF_OPS_CONTENT_UNPIN,
	RF_OPS_CONTENT_DELAY,      /* new content waits hours after it is first seen */
	RF_OPS_CONTENT_MAX
};

struct rf_ops_content {
	struct rf_ops_req req;     /* cmd = RF_OPS_CONTENT; type_mask, exclude_pgid, flags 0 */
	uint32_t action;           /* enum rf_ops_content_action */
	uint32_t hours;            /* DELAY: 0..8760 */
	uint64_t version;          /* PIN */
	char client[RF_NAME_MAX];  /* PIN, UNPIN: NUL terminated, else all zero */
};

_Static_assert(sizeof(struct rf_ops_req) == 24, "ops req layout");
_Static_assert(sizeof(struct rf_ops_content) == 104, "ops content layout");
_Static_assert(sizeof(struct rf_ops_drop) == 16, "ops drop layout");

/* ---- recorded event files (rfctl record, the replay source) ---- */

#define RF_REC_MAGIC "RFREC\0\0\1"

struct rf_rec_hdr {
	char magic[8];             /* RF_REC_MAGIC */
	uint32_t version;          /* RF_PROTO_VERSION of the messages */
	uint32_t reserved;
};
/* followed by rf_message records back to back, each hdr.size bytes */

_Static_assert(sizeof(struct rf_rec_hdr) == 16, "rec hdr layout");

#endif
