/*
 * content.h - managed content: the on-host store, signed updates, the
 * trial of a candidate in a shadow instance, activation, blessing and the
 * automatic revert (docs/CONTENT-DELIVERY.md).
 *
 * The broker never parses a client's content.  It checks the signed
 * metadata (tuf.c) and the bundle's length and hash, keeps three slots per
 * client (current, candidate, last-known-good) in STORE/<client>/slots.json,
 * switched by one rename, and hands the client its bundle as a read-only
 * descriptor (RF_CONTENT_FD).  A candidate is first run by a shadow instance
 * of the client, in the same sandbox, fed the recent events the broker kept
 * (a window of them): a crash, a timeout, late answers or an alert storm
 * reject it and the current content stays.  After the switch the new content
 * is blessed (becomes last-known-good) after a healthy period; if the client
 * dies repeatedly before that, the store goes back to last-known-good by
 * itself, without the network.
 *
 * Every file operation runs on a worker thread: the loop thread must never
 * open a file while permission marks may cover it (it alone answers them).
 */
#ifndef RF_BROKER_CONTENT_H
#define RF_BROKER_CONTENT_H

#include <stdbool.h>
#include <stdint.h>

#include "content/tuf.h"

struct rf_broker;
struct rf_bclient;
struct rf_message;
struct rf_wire_response;

enum rf_cslot { RF_SLOT_CURRENT = 0, RF_SLOT_CANDIDATE, RF_SLOT_LKG, RF_SLOT_COUNT };

struct rf_content_ref {
	uint64_t version;                      /* 0 with an empty sha256: no content */
	char content_version[RF_TUF_CVER_MAX];
	char sha256[65];
	uint64_t since_ms;                     /* CLOCK_REALTIME: entered this slot */
};

enum rf_trial_state {
	RF_TRIAL_NONE = 0,
	RF_TRIAL_FETCHING,     /* worker downloading and checking the bundle */
	RF_TRIAL_STARTING,     /* shadow spawned, not ready yet */
	RF_TRIAL_REPLAYING,    /* feeding it the window */
	RF_TRIAL_SETTLING,     /* all fed and answered; watching a little longer */
};

#define RF_TRIAL_AUTH_MAX 8      /* replayed AUTH events outstanding at once, as live ones would be */
#define RF_REJECTED_MAX 8

/* Per managed client; owned by the loop thread. */
struct rf_cstore {
	struct rf_content_ref slot[RF_SLOT_COUNT];
	bool blessed;                          /* current is last-known-good */
	uint64_t activated_mono_ms;            /* current switched in (monotonic) */
	unsigned deaths_since_switch;
	uint64_t pin;                          /* operator: stay on this version (0: none) */
	uint64_t seen_version, seen_ms;        /* newest listed version, first seen (realtime) */
	struct { uint64_t version; char why[160]; } rejected[RF_REJECTED_MAX];
	unsigned nrejected;
	char outcome[200];                     /* the last thing that happened, for status */
	/* the trial of slot[RF_SLOT_CANDIDATE] */
	enum rf_trial_state trial;
	struct rf_tuf_target target;           /* being fetched / tried */
	int shadow;                            /* slot of the shadow instance */
	uint64_t trial_start_ms, settle_from_ms;
	uint64_t fed, fed_auth, answered, late, trial_alerts;
	uint64_t win_next, win_end;            /* next window record to feed; where to stop */
	uint64_t auth_ids[RF_TRIAL_AUTH_MAX];  /* replayed AUTH events waiting for an answer */
	uint64_t auth_deadline_ms[RF_TRIAL_AUTH_MAX];
	unsigned nauth;
	uint64_t next_id;
};

/* Broker-wide state of managed content (struct rf_content in content.c). */
struct rf_content;

/* Sets up the store and the worker; loads the slots (before any mark). 0, or -errno. */
int rf_content_init(struct rf_broker *b);
void rf_content_fini(struct rf_broker *b);
/* The worker's completion descriptor (epoll, RF_TAG_CONTENT) and its handler. */
int rf_content_pipe(const struct rf_broker *b);
void rf_content_on_done(struct rf_broker *b);
/* Housekeeping, once a second: checks due, trials, blessing. */
void rf_content_tick(struct rf_broker *b);

/* Keeps the event in the window of recent events (when a client is managed). */
void rf_content_window_add(struct rf_broker *b, const struct rf_message *m);

/*
 * The bundle the client (or, for a shadow, its candidate) gets: path to open
 * in the spawned child and its content_version; false when it has none.
 */
bool rf_content_for_spawn(struct rf_broker *b, struct rf_bclient *c, char *path, size_t pathlen,
			  char *cver, size_t cverlen);
/* A managed client with no content is not started. */
bool rf_content_startable(struct rf_broker *b, const struct rf_bclient *c);

/* Shadow instances: events of the supervisor and the connection. */
void rf_content_shadow_ready(struct rf_broker *b, struct rf_bclient *s);
void rf_content_shadow_died(struct rf_broker *b, struct rf_bclient *s, const char *status);
void rf_content_shadow_response(struct rf_broker *b, struct rf_bclient *s, const struct rf_wire_response *r);
void rf_content_shadow_alert(struct rf_broker *b, struct rf_bclient *s);

/*
 * A managed client died (reason given).  Returns true when its content was
 * reverted to last-known-good: the supervisor restarts it at once instead
 * of counting the death towards quarantine.
 */
bool rf_content_on_death(struct rf_broker *b, struct rf_bclient *c, const char *reason);

/* Operator requests (rfctl content ...); reply is a JSON object (json_object *). */
void *rf_content_op(struct rf_broker *b, unsigned action, const char *client, uint64_t version,
		    uint32_t hours);
/* The "content" object of the status reply (json_object *). */
void *rf_content_status(const struct rf_broker *b);

#endif
