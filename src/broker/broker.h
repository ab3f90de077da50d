/*
 * broker.h - ringfenced's shared state and the contracts between its modules.
 *
 * One thread runs one epoll loop over every descriptor (fanotify, sensors,
 * clients, the operator socket, signals, the deadline timer); a second
 * thread only writes log lines.  Nothing on the loop blocks: descriptors are
 * non-blocking, logging is queued, and the loop never opens files in the
 * watched scope while permission marks exist.  Modules:
 *   broker.c   loop, normaliser (raw event -> message), dispatch, mutes
 *   bclient.c  client connections: spawn, handshake, control requests, rings
 *   arbiter.c  AUTH events: fanotify permission group, deadlines, verdicts, cache
 *   fannotify.c fanotify notification events as a sensor
 *   ops.c      operator socket: status, clients, tail
 */
#ifndef RF_BROKER_H
#define RF_BROKER_H

#include <stdbool.h>
#include <stdint.h>
#include <signal.h>
#include <sys/types.h>

#include "broker/config.h"
#include "broker/proctable.h"
#include "broker/sensor.h"
#include "common/msgbuild.h"
#include "common/ring.h"

#define RF_MAX_OPS_CONNS 16
#define RF_MAX_SENSORS 4
#define RF_CLIENT_MUTES 256

enum rf_client_state {
	RF_CS_EMPTY = 0,      /* unused slot */
	RF_CS_STARTING,       /* spawned, no handshake yet */
	RF_CS_CONNECTED,      /* handshake done, subscribing */
	RF_CS_RUNNING,        /* said ready */
	RF_CS_DEMOTED,        /* running, AUTH taken away for missing deadlines */
	RF_CS_BACKOFF,        /* died; restart scheduled */
	RF_CS_QUARANTINED,    /* died too often; not restarted until released */
	RF_CS_STOPPED,        /* not to be restarted (broker stopping) */
	RF_CS_COUNT
};

/* What can happen to a client (supervisor.c has the state x event table). */
enum rf_sv_event {
	RF_SV_START = 0,      /* backoff over: spawn */
	RF_SV_HELLO,          /* handshake done */
	RF_SV_READY,          /* rf_ready() */
	RF_SV_DIED,           /* reaped; detail: "exit N" / "signal N" */
	RF_SV_KILL,           /* misbehaved; detail: why */
	RF_SV_MISS_LIMIT,     /* too many AUTH deadline misses */
	RF_SV_STOP,           /* broker stopping */
	RF_SV_RELEASE,        /* operator lifts quarantine */
	RF_SV_COUNT
};

#define RF_DEATH_LOG 8
#define RF_DEATH_TALLY 32
#define RF_MISS_TALLY 64
#define RF_MAX_ALERTS 32

struct rf_death {
	uint64_t time_ms;              /* CLOCK_REALTIME */
	char reason[128];
	char status[32];
	char binary_sha256[65];
	char content_version[64];
};

struct rf_alert {
	uint64_t time_ms;              /* CLOCK_REALTIME */
	char client[RF_NAME_MAX];
	char kind[24];
	char detail[160];
};

/* Outstanding AUTH events of one type for one client with a shorter deadline. */
struct rf_authq {
	uint64_t *ids;
	uint64_t *deadline_ns;
	uint32_t head, tail, cap;      /* free-running, cap a power of two */
};

struct rf_path_mute {
	char *path;
	uint32_t len;
	uint32_t flags;       /* RF_MUTE_* */
};

struct rf_proc_mute {
	uint32_t pid;
	uint64_t start_time_ns;
};

/* What the client cost the broker (budget.c). */
struct rf_budget {
	uint64_t cpu_ns;               /* broker CPU spent on it since since_ns */
	uint64_t since_ns;             /* CLOCK_MONOTONIC, the last tick */
	pid_t pid;                     /* the process the tally is for */
	uint32_t last_permille;        /* of a core, over the last second */
	uint32_t peak_permille;
	uint32_t over_s;               /* measurements over budget in a row (throttle periods between) */
	bool throttled;                /* its descriptors are out of the epoll set until release_ns */
	uint64_t release_ns;
	uint64_t throttles, kills;
};

struct rf_bclient {
	struct rf_manifest man;
	unsigned slot;                 /* index in broker.clients, bit in AUTH masks */
	enum rf_client_state state;
	pid_t pid;
	int sock;                      /* control socket (our end) */
	int memfd;
	void *shm;
	uint32_t shm_size;
	int evt_efd, resp_efd;
	struct rf_evring evt;
	struct rf_respring resp;
	uint64_t auth_mask;            /* 1 << type subscribed as AUTH */
	uint64_t notify_mask;
	uint64_t fd_mask;              /* 1 << type: AUTH events come with the file's descriptor */
	uint64_t fd_sent, fd_failed;   /* descriptors passed, and not passed (socket full) */
	struct rf_proc_mute pmutes[RF_CLIENT_MUTES];
	unsigned npmutes;
	struct rf_path_mute tmutes[RF_CLIENT_MUTES];
	unsigned ntmutes;
	bool invert_exe, invert_target;
	uint64_t seq;
	uint64_t type_seq[RF_EVENT_MAX];
	/* counters */
	uint64_t delivered, dropped, auth_asked, auth_answered, auth_missed;
	uint64_t late, duplicate, foreign, invalid;
	uint64_t auth_full;            /* AUTH events its ring never had room for by their deadline */
	uint64_t auth_waited;          /* AUTH events that waited in the broker for room in its ring */
	uint64_t restarts, deaths, hung_kills;
	uint64_t backoff_ms;
	uint64_t restart_at_ms;        /* CLOCK_MONOTONIC ms */
	uint64_t started_at_ms;
	char last_exit[64];
	/* supervision */
	bool demoted;
	uint64_t demoted_at_ms;        /* last demotion: a restart within the death window stays demoted */
	char kill_reason[160];         /* why we killed it, for the death record */
	char binary_sha256[65];        /* of man.exec when the manifest was loaded */
	struct rf_death death_log[RF_DEATH_LOG];
	uint64_t death_times[RF_DEATH_TALLY];
	uint64_t miss_times[RF_MISS_TALLY];
	uint64_t miss_long_start_ms;   /* the long miss window (fixed, restarted when over); kept across restarts */
	uint32_t miss_long_n;
	uint64_t live_tail, live_since_ms;
	/* per-client AUTH deadlines shorter than the broker's */
	uint32_t deadline_ms[2];       /* exec, open; 0: the broker's */
	struct rf_authq authq[2];
	/* sandbox */
	void *sandbox;                 /* struct rf_sandbox, NULL when none */
	int setup_fd;                  /* receives the seccomp notify fd, -1 */
	int notify_fd;                 /* seccomp user notifications, -1 */
	bool first_exec_done;
	uint64_t alerts, alerts_dropped, alerts_in_window, alert_window_ms;
	bool unflushed;                /* pushed to since the last wake-up check */
	bool eof_kill;                 /* SIGKILLed after its connection closed */
	pid_t last_pid;                /* of the process last reaped */
	uint64_t seccomp_denied;
	uint32_t seccomp_by_nr[512];   /* denials per syscall number */
	/* managed content (content.c) */
	struct rf_cstore *cs;          /* NULL unless content = managed */
	int shadow_of;                 /* a shadow instance: its client's slot; else -1 */
	uint64_t trial_auth_mask, trial_notify_mask; /* a shadow's subscriptions (never dispatched live) */
	bool content_switch;           /* killed to switch content: not a failure */
	struct rf_budget budget;
};

struct rf_ops_conn {
	int fd;                        /* -1 when free */
	bool tail;
	uint64_t last_ms;              /* accepted or last request (rf_now_ms); idle timeout */
	uint64_t type_mask;
	uint32_t exclude;
	bool exclude_is_pid;
	uint64_t dropped;              /* lost since the last notice */
	uint64_t dropped_total;
	uint64_t sent;
};

struct rf_pending;
struct rf_content;

struct rf_broker {
	struct rf_config cfg;
	int epfd;
	int sigfd;
	int timerfd;                   /* AUTH deadlines */
	uint64_t timer_armed_ns;       /* when it fires, 0 when disarmed */
	int tickfd;                    /* 1 s housekeeping: restarts */
	bool stopping;
	uint64_t started_ms;
	uint64_t watchdog_usec, watchdog_last_usec;
	pid_t self;

	/* sensors */
	struct rf_sensor sensors[RF_MAX_SENSORS];
	unsigned nsensors;
	struct rf_sensor *ebpf;        /* the running eBPF sensor, for pending argv */
	bool replay_pending;           /* replay configured, not started yet */

	/* fanotify */
	int fan_auth;                  /* permission group, -1 when not open */
	int fan_notify;                /* notification group (also a sensor) */
	bool exec_marked, open_marked;
	int watch_fds[RF_MAX_WATCH];   /* O_PATH of each watched path, for handles */
	uint64_t watch_fsid[RF_MAX_WATCH];
	unsigned nwatch_fds;

	/* AUTH */
	struct rf_pending *pending;    /* cfg.max_pending slots */
	uint32_t npending;
	uint64_t next_auth_seq;
	uint32_t fifo_head[2], fifo_tail[2]; /* per AUTH type, UINT32_MAX when empty */
	uint32_t free_head;
	uint64_t cache_gen;

	struct rf_proctable procs;
	struct rf_bclient clients[RF_MAX_CLIENTS];
	unsigned nclients;
	struct rf_ops_conn ops[RF_MAX_OPS_CONNS];
	int ops_listen;
	uint64_t ops_idle_closed, ops_evicted; /* control connections timed out / pushed out */
	unsigned ntail;                /* tail readers connected */

	struct rf_alert alerts[RF_MAX_ALERTS];
	uint64_t nalerts;

	struct rf_content *content;    /* managed content, NULL when none (content.c) */

	/* broker-wide sequence, as seen by tail readers */
	uint64_t seq;
	uint64_t type_seq[RF_EVENT_MAX];

	struct rf_msgb mb;             /* scratch message */

	struct {
		uint64_t events, dispatched, dropped, tail_dropped;
		uint64_t auth_events, auth_decided, allowed, denied;
		uint64_t by_client, by_default, by_cache, by_policy;
		uint64_t cache_marks, cache_mark_failures, auth_overflow;
		uint64_t ctl_rejected;
		uint64_t notify_overflow;
		uint64_t alerts;
		/* messages with a field shortened or left out (hdr.cut), and the fields that matter most */
		uint64_t messages_cut, cut_target, cut_args, cut_cwd;
	} stats;
};

/* Counts a built event message whose hdr.cut is not empty. */
static inline void rf_count_cut(struct rf_broker *b, const struct rf_message *m)
{
	if (!m->hdr.cut)
		return;
	b->stats.messages_cut++;
	b->stats.cut_target += !!(m->hdr.cut & RF_CUT_TARGET);
	b->stats.cut_args += !!(m->hdr.cut & RF_CUT_ARGS);
	b->stats.cut_cwd += !!(m->hdr.cut & RF_CUT_CWD);
}

/* epoll tags: kind in the high 32 bits, index in the low. */
enum rf_tag {
	RF_TAG_SIGNAL = 1,
	RF_TAG_TIMER,
	RF_TAG_TICK,
	RF_TAG_FAN_AUTH,
	RF_TAG_SENSOR,
	RF_TAG_CLIENT_SOCK,
	RF_TAG_CLIENT_RESP,
	RF_TAG_OPS_LISTEN,
	RF_TAG_OPS_CONN,
	RF_TAG_CLIENT_SETUP,
	RF_TAG_CLIENT_NOTIFY,
	RF_TAG_CONTENT,
};

int rf_epoll_add(struct rf_broker *b, int fd, enum rf_tag tag, uint32_t idx);
void rf_epoll_del(struct rf_broker *b, int fd);
uint64_t rf_now_mono_ns(void);
uint64_t rf_now_ms(void);
/* mkdir -p: missing parents 0755, path itself mode (also when it exists). 0 or -errno. */
int rf_mkdir_p(const char *path, mode_t mode);
uint64_t rf_now_realtime_ms(void);

/* broker.c */
/* The signals the loop takes from its signalfd (block them before any thread starts). */
void rf_broker_signals(sigset_t *ret_set);
int rf_broker_init(struct rf_broker *b, const struct rf_config *cfg);
int rf_broker_run(struct rf_broker *b);
void rf_broker_free(struct rf_broker *b);
/* Sends a NOTIFY message (in b->mb, finished) to subscribed clients and tail readers. */
void rf_dispatch_notify(struct rf_broker *b);
/* True when client c has muted the event in msg. */
bool rf_client_muted(const struct rf_bclient *c, const struct rf_message *m);
/* The path an event is about (exec/open/file events), or NULL. */
const char *rf_msg_target_path(const struct rf_message *m);
/* True when the process is in the default mute set (broker, clients, init, loggers). */
bool rf_default_muted(struct rf_broker *b, const struct rf_proc *p);
/* Stamps the message's clock fields. */
void rf_stamp(struct rf_message *m);

/* bclient.c */
int rf_clients_load(struct rf_broker *b);
void rf_client_spawn(struct rf_broker *b, struct rf_bclient *c);
void rf_client_on_sock(struct rf_broker *b, struct rf_bclient *c);
void rf_client_on_resp(struct rf_broker *b, struct rf_bclient *c);
void rf_client_on_exit(struct rf_broker *b, pid_t pid, int status);
/* Mechanism: SIGKILL the process (when why != NULL and it lives) and drop the connection. */
void rf_client_kill(struct rf_broker *b, struct rf_bclient *c, const char *why);
void rf_client_on_setup(struct rf_broker *b, struct rf_bclient *c);
void rf_client_on_notify(struct rf_broker *b, struct rf_bclient *c);
/* Adds the client's sandbox report ("sandbox": {...}) to a status object (json_object *). */
void rf_sandbox_status(const struct rf_bclient *c, void *json_obj);
/* Removes the client's cgroups once it is reaped. */
void rf_sandbox_release_client(struct rf_broker *b, struct rf_bclient *c);

/* supervisor.c */
void rf_sv_event(struct rf_broker *b, struct rf_bclient *c, enum rf_sv_event ev, const char *detail);
void rf_sv_tick(struct rf_broker *b);
/* An AUTH deadline miss by c: counted, and past the limit, the policy acts. */
void rf_sv_missed(struct rf_broker *b, struct rf_bclient *c);
/* Hashes the client binary (before any permission mark exists); 0 or -errno. */
int rf_sv_hash_binary(struct rf_bclient *c);
void rf_alert(struct rf_broker *b, const char *client, const char *kind, const char *detail);
/*
 * Pushes the finished message in b->mb to client c with c's sequence
 * numbers.  Returns 0, -ENOSPC (dropped and counted) or -EPROTO (client killed).
 */
int rf_client_push(struct rf_broker *b, struct rf_bclient *c, uint64_t id);
int rf_client_send_fd(struct rf_bclient *c, uint64_t id, int fd);
/* Wakes every client pushed to since the last flush that asked to be woken. */
void rf_clients_flush(struct rf_broker *b);
/*
 * Before the loop sleeps: asks every client to signal its next response and
 * handles responses that arrived meanwhile.  True when there were any (do
 * not sleep).
 */
bool rf_clients_prepare_sleep(struct rf_broker *b);
/* Handles the responses in c's ring; true when there were any. */
bool rf_client_take_responses(struct rf_broker *b, struct rf_bclient *c);
/* True when c's event ring has at least bytes free (for sources that can wait). */
bool rf_client_has_room(const struct rf_bclient *c, uint32_t bytes);
/* True when the client receives type as AUTH (enforcing, live, subscribed). */
bool rf_client_wants_auth(const struct rf_bclient *c, unsigned type);
const char *rf_client_state_name(enum rf_client_state s);

/* arbiter.c */
int rf_arbiter_init(struct rf_broker *b);
void rf_arbiter_free(struct rf_broker *b);
/* Places or removes permission marks to match the enforcing subscriptions. */
void rf_arbiter_update_marks(struct rf_broker *b);
void rf_arbiter_on_fanotify(struct rf_broker *b);
void rf_arbiter_on_timer(struct rf_broker *b);
/* A client's response; validated here. */
void rf_arbiter_on_response(struct rf_broker *b, struct rf_bclient *c, const struct rf_wire_response *r);
/* Client c is gone or lost AUTH: its outstanding votes become the default. */
void rf_arbiter_client_gone(struct rf_broker *b, struct rf_bclient *c);
/* Forgets every cached verdict (policy changed). */
void rf_arbiter_flush_cache(struct rf_broker *b);
/* True when some AUTH event waits for room in a client's ring. */
bool rf_arbiter_backlog(const struct rf_broker *b);
/* Pushes AUTH events that waited for room to the clients that now have it. */
void rf_arbiter_retry_backlog(struct rf_broker *b);
/* Answers everything pending with the default verdict (shutdown). */
void rf_arbiter_drain_all(struct rf_broker *b);

/* fannotify.c */
extern const struct rf_sensor_ops rf_sensor_fanotify;
/* The broker the fanotify sensor works for (it needs the watch list). */
void rf_fanotify_sensor_bind(struct rf_sensor *s, struct rf_broker *b);

/* sensor_replay.c */
extern const struct rf_sensor_ops rf_sensor_replay;
void rf_replay_sensor_bind(struct rf_sensor *s, struct rf_broker *b);

/* ops.c */
int rf_ops_init(struct rf_broker *b);
void rf_ops_free(struct rf_broker *b);
void rf_ops_on_listen(struct rf_broker *b);
void rf_ops_on_conn(struct rf_broker *b, unsigned idx);
void rf_ops_tick(struct rf_broker *b);
/* Streams the finished message in b->mb to tail readers. */
void rf_ops_tail(struct rf_broker *b, const struct rf_message *m);
/*
 * Parses an operator request of len bytes.  Returns 0 and fills *ret, or
 * -EINVAL (bad size, magic, version, command or flags).
 */
int rf_ops_parse_req(const void *buf, size_t len, struct rf_ops_req *ret);
/* A content request (RF_OPS_CONTENT): exact size, known action, fields as the action needs. */
int rf_ops_parse_content(const void *buf, size_t len, struct rf_ops_content *ret);

/*
 * Validates one control datagram of len bytes from a client in state st.
 * Returns 0 when well formed and allowed now, else a negative rf_err
 * (RF_E_PROTO for malformed, RF_E_STATE for out of order, RF_E_INVAL).
 */
int rf_ctl_validate(const void *buf, size_t len, enum rf_client_state st);

#endif
