/*
 * supervisor.c - what happens to a client, as a table of state x event.
 *
 * Like s6-supervise, every cell is spelled out: an event that does not
 * apply in a state is listed as IGNORE, not left to a default.  The
 * mechanisms (fork/exec, kill, disconnect) live in bclient.c; this file
 * decides.  Readiness is the client's rf_ready(); liveness is its draining
 * of the event ring; deaths are tallied over a window and too many
 * quarantine the client with an alert; repeated AUTH deadline misses demote
 * it (AUTH taken away, telemetry kept) or restart it, as policy says.
 * Every death is recorded with the client, its binary's hash and its content
 * version.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "broker/broker.h"
#include "broker/content.h"
#include "common/log.h"

#define BACKOFF_MIN_MS 1000
#define BACKOFF_MAX_MS 60000
#define HEALTHY_RESET_MS 60000

enum sv_action {
	A_IGNORE = 0,
	A_SPAWN,          /* start the process */
	A_CONNECTED,
	A_READY,
	A_KILL,           /* kill it; the death arrives later */
	A_DIED,           /* record, then backoff or quarantine */
	A_DEMOTE,
	A_STOP,           /* kill if alive; never restart */
	A_RELEASE,        /* quarantine lifted by the operator */
	A_PROTO,          /* event not allowed in this state: a protocol violation */
};

struct sv_cell {
	enum rf_client_state next;   /* RF_CS_EMPTY: stays */
	enum sv_action action;
};

#define KEEP RF_CS_EMPTY
static const struct sv_cell table[RF_CS_COUNT][RF_SV_COUNT] = {
	[RF_CS_STARTING] = {
		[RF_SV_START] = { KEEP, A_IGNORE },
		[RF_SV_HELLO] = { RF_CS_CONNECTED, A_CONNECTED },
		[RF_SV_READY] = { KEEP, A_PROTO },
		[RF_SV_DIED] = { KEEP, A_DIED },
		[RF_SV_KILL] = { KEEP, A_KILL },
		[RF_SV_MISS_LIMIT] = { KEEP, A_IGNORE },
		[RF_SV_STOP] = { RF_CS_STOPPED, A_STOP },
		[RF_SV_RELEASE] = { KEEP, A_IGNORE },
	},
	[RF_CS_CONNECTED] = {
		[RF_SV_START] = { KEEP, A_IGNORE },
		[RF_SV_HELLO] = { KEEP, A_PROTO },
		[RF_SV_READY] = { RF_CS_RUNNING, A_READY },
		[RF_SV_DIED] = { KEEP, A_DIED },
		[RF_SV_KILL] = { KEEP, A_KILL },
		[RF_SV_MISS_LIMIT] = { KEEP, A_DEMOTE },
		[RF_SV_STOP] = { RF_CS_STOPPED, A_STOP },
		[RF_SV_RELEASE] = { KEEP, A_IGNORE },
	},
	[RF_CS_RUNNING] = {
		[RF_SV_START] = { KEEP, A_IGNORE },
		[RF_SV_HELLO] = { KEEP, A_PROTO },
		[RF_SV_READY] = { KEEP, A_PROTO },
		[RF_SV_DIED] = { KEEP, A_DIED },
		[RF_SV_KILL] = { KEEP, A_KILL },
		[RF_SV_MISS_LIMIT] = { KEEP, A_DEMOTE },
		[RF_SV_STOP] = { RF_CS_STOPPED, A_STOP },
		[RF_SV_RELEASE] = { KEEP, A_IGNORE },
	},
	[RF_CS_DEMOTED] = {
		[RF_SV_START] = { KEEP, A_IGNORE },
		[RF_SV_HELLO] = { KEEP, A_PROTO },
		[RF_SV_READY] = { KEEP, A_PROTO },
		[RF_SV_DIED] = { KEEP, A_DIED },
		[RF_SV_KILL] = { KEEP, A_KILL },
		[RF_SV_MISS_LIMIT] = { KEEP, A_IGNORE },
		[RF_SV_STOP] = { RF_CS_STOPPED, A_STOP },
		[RF_SV_RELEASE] = { KEEP, A_IGNORE },
	},
	[RF_CS_BACKOFF] = {
		[RF_SV_START] = { RF_CS_STARTING, A_SPAWN },
		[RF_SV_HELLO] = { KEEP, A_IGNORE },
		[RF_SV_READY] = { KEEP, A_IGNORE },
		[RF_SV_DIED] = { KEEP, A_IGNORE },
		[RF_SV_KILL] = { KEEP, A_IGNORE },
		[RF_SV_MISS_LIMIT] = { KEEP, A_IGNORE },
		[RF_SV_STOP] = { RF_CS_STOPPED, A_STOP },
		[RF_SV_RELEASE] = { KEEP, A_IGNORE },
	},
	[RF_CS_QUARANTINED] = {
		[RF_SV_START] = { KEEP, A_IGNORE },
		[RF_SV_HELLO] = { KEEP, A_IGNORE },
		[RF_SV_READY] = { KEEP, A_IGNORE },
		[RF_SV_DIED] = { KEEP, A_IGNORE },
		[RF_SV_KILL] = { KEEP, A_IGNORE },
		[RF_SV_MISS_LIMIT] = { KEEP, A_IGNORE },
		[RF_SV_STOP] = { RF_CS_STOPPED, A_STOP },
		[RF_SV_RELEASE] = { RF_CS_BACKOFF, A_RELEASE },
	},
	[RF_CS_STOPPED] = {
		[RF_SV_START] = { KEEP, A_IGNORE },
		[RF_SV_HELLO] = { KEEP, A_IGNORE },
		[RF_SV_READY] = { KEEP, A_IGNORE },
		[RF_SV_DIED] = { KEEP, A_IGNORE },
		[RF_SV_KILL] = { KEEP, A_KILL },
		[RF_SV_MISS_LIMIT] = { KEEP, A_IGNORE },
		[RF_SV_STOP] = { KEEP, A_IGNORE },
		[RF_SV_RELEASE] = { KEEP, A_IGNORE },
	},
};

void rf_alert(struct rf_broker *b, const char *client, const char *kind, const char *detail)
{
	struct rf_alert *a = &b->alerts[b->nalerts % RF_MAX_ALERTS];
	b->nalerts++;
	a->time_ms = rf_now_realtime_ms();
	snprintf(a->client, sizeof a->client, "%s", client ? client : "");
	snprintf(a->kind, sizeof a->kind, "%s", kind);
	snprintf(a->detail, sizeof a->detail, "%s", detail ? detail : "");
	rf_warnx("ALERT %s: client %s: %s", kind, client ? client : "-", detail ? detail : "");
}

int rf_sv_hash_binary(struct rf_bclient *c)
{
	int fd = open(c->man.exec, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	crypto_hash_sha256_state st;
	crypto_hash_sha256_init(&st);
	unsigned char buf[65536];
	ssize_t n;
	uint64_t total = 0;
	while ((n = read(fd, buf, sizeof buf)) > 0 && total < (1ull << 30)) {
		crypto_hash_sha256_update(&st, buf, (unsigned long long)n);
		total += (uint64_t)n;
	}
	close(fd);
	if (n < 0)
		return -errno;
	unsigned char h[crypto_hash_sha256_BYTES];
	crypto_hash_sha256_final(&st, h);
	sodium_bin2hex(c->binary_sha256, sizeof c->binary_sha256, h, sizeof h);
	return 0;
}

/* Deaths within the window, this one included. */
static unsigned recent_deaths(struct rf_broker *b, struct rf_bclient *c, uint64_t now)
{
	c->death_times[c->deaths % RF_DEATH_TALLY] = now;
	unsigned n = 0;
	for (unsigned i = 0; i < RF_DEATH_TALLY && i <= c->deaths; i++)
		if (c->death_times[i] && now - c->death_times[i] <= b->cfg.death_window_ms)
			n++;
	return n;
}

static enum rf_client_state on_died(struct rf_broker *b, struct rf_bclient *c, const char *status)
{
	uint64_t now = rf_now_ms();
	struct rf_death *d = &c->death_log[c->deaths % RF_DEATH_LOG];
	d->time_ms = rf_now_realtime_ms();
	snprintf(d->status, sizeof d->status, "%s", status);
	if (c->kill_reason[0])
		snprintf(d->reason, sizeof d->reason, "%s", c->kill_reason);
	else if (c->eof_kill && !strcmp(status, "signal 9"))
		snprintf(d->reason, sizeof d->reason, "killed: closed its connection");
	else
		snprintf(d->reason, sizeof d->reason, "%s", status);
	c->eof_kill = false;
	memcpy(d->binary_sha256, c->binary_sha256, sizeof d->binary_sha256);
	snprintf(d->content_version, sizeof d->content_version, "%s", c->man.content_version);
	unsigned recent = recent_deaths(b, c, now);
	c->deaths++;
	snprintf(c->last_exit, sizeof c->last_exit, "%s", status);
	c->kill_reason[0] = '\0';
	if (b->stopping)
		return RF_CS_STOPPED;
	/* deaths that start with new content: the content goes back, not the client to quarantine */
	if (rf_content_on_death(b, c, d->reason)) {
		memset(c->death_times, 0, sizeof c->death_times);
		c->backoff_ms = BACKOFF_MIN_MS;
		c->restart_at_ms = now;
		return RF_CS_BACKOFF;
	}
	if (recent >= b->cfg.max_deaths) {
		char why[128];
		snprintf(why, sizeof why, "%u deaths within %u ms (last: %s); not restarted", recent,
			 b->cfg.death_window_ms, d->reason);
		rf_alert(b, c->man.name, "quarantined", why);
		return RF_CS_QUARANTINED;
	}
	if (now - c->started_at_ms > HEALTHY_RESET_MS)
		c->backoff_ms = BACKOFF_MIN_MS;
	c->restart_at_ms = now + c->backoff_ms;
	if (strcmp(d->reason, status))
		rf_warnx("client %s (pid %d) died: %s (%s); restart in %llu ms", c->man.name,
			 (int)c->last_pid, status, d->reason, (unsigned long long)c->backoff_ms);
	else
		rf_warnx("client %s (pid %d) died: %s; restart in %llu ms", c->man.name,
			 (int)c->last_pid, status, (unsigned long long)c->backoff_ms);
	c->backoff_ms = c->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : c->backoff_ms * 2;
	return RF_CS_BACKOFF;
}

void rf_sv_event(struct rf_broker *b, struct rf_bclient *c, enum rf_sv_event ev, const char *detail)
{
	if (c->state >= RF_CS_COUNT || ev >= RF_SV_COUNT || c->state == RF_CS_EMPTY)
		return;
	if (ev == RF_SV_DIED && (c->shadow_of >= 0 || c->content_switch)) {
		/* a trial's end, or a restart to switch content: not a failure of the client */
		c->pid = 0;
		rf_client_kill(b, c, NULL);
		rf_sandbox_release_client(b, c);
		snprintf(c->last_exit, sizeof c->last_exit, "%s", detail ? detail : "");
		if (c->shadow_of >= 0) {
			c->state = RF_CS_STOPPED;
			rf_content_shadow_died(b, c, detail ? detail : "");   /* reads kill_reason */
			c->kill_reason[0] = '\0';
		} else {
			c->kill_reason[0] = '\0';
			c->content_switch = false;
			c->state = b->stopping ? RF_CS_STOPPED : RF_CS_BACKOFF;
			c->restart_at_ms = 0;
		}
		return;
	}
	struct sv_cell cell = table[c->state][ev];
	enum rf_client_state next = cell.next == KEEP ? c->state : cell.next;
	switch (cell.action) {
	case A_IGNORE:
		return;
	case A_SPAWN:
		if (c->restart_at_ms)
			c->restarts++;
		c->state = next;
		rf_client_spawn(b, c);   /* sets its own state on failure */
		return;
	case A_CONNECTED:
		break;
	case A_READY:
		rf_info("client %s: ready", c->man.name);
		if (c->shadow_of >= 0) {
			c->state = next;
			rf_content_shadow_ready(b, c);
			return;
		}
		break;
	case A_PROTO:
		detail = "control message out of order";
		/* fall through */
	case A_KILL:
		if (c->pid > 0 && !c->kill_reason[0])
			snprintf(c->kill_reason, sizeof c->kill_reason, "killed: %s", detail ? detail : "");
		rf_client_kill(b, c, detail ? detail : "");
		return;
	case A_DIED:
		c->pid = 0;                   /* reaped: never signal that pid again */
		rf_client_kill(b, c, NULL);   /* releases the connection */
		next = on_died(b, c, detail ? detail : "");
		rf_sandbox_release_client(b, c);
		break;
	case A_DEMOTE:
		if (b->cfg.miss_restart) {
			snprintf(c->kill_reason, sizeof c->kill_reason, "killed: %s", detail);
			rf_client_kill(b, c, detail);
			return;
		}
		c->auth_mask = 0;
		c->demoted = true;
		c->demoted_at_ms = rf_now_ms();
		next = RF_CS_DEMOTED;
		c->state = next;
		rf_arbiter_client_gone(b, c);
		rf_arbiter_update_marks(b);
		rf_arbiter_flush_cache(b);
		rf_alert(b, c->man.name, "demoted", detail);
		return;
	case A_STOP:
		if (c->pid > 0)
			rf_client_kill(b, c, "stopped");
		break;
	case A_RELEASE:
		memset(c->death_times, 0, sizeof c->death_times);
		c->backoff_ms = BACKOFF_MIN_MS;
		c->restart_at_ms = rf_now_ms();
		c->demoted_at_ms = 0;
		rf_info("client %s: released from quarantine", c->man.name);
		break;
	}
	c->state = next;
}

void rf_sv_tick(struct rf_broker *b)
{
	uint64_t now = rf_now_ms();
	for (unsigned i = 0; i < b->nclients; i++) {
		struct rf_bclient *c = &b->clients[i];
		switch (c->state) {
		case RF_CS_BACKOFF:
			if (now >= c->restart_at_ms && !b->stopping && rf_content_startable(b, c))
				rf_sv_event(b, c, RF_SV_START, NULL);
			break;
		case RF_CS_STARTING:
		case RF_CS_CONNECTED:
			if (c->pid > 0 && now - c->started_at_ms > b->cfg.ready_timeout_ms)
				rf_sv_event(b, c, RF_SV_KILL, "not ready in time");
			break;
		case RF_CS_RUNNING:
		case RF_CS_DEMOTED: {
			if (!c->shm || c->pid <= 0)
				break;
			/* liveness: events waiting and the consumer's tail not moving */
			uint64_t tail = __atomic_load_n(&c->evt.ctl->tail, __ATOMIC_ACQUIRE);
			if (tail != c->live_tail || c->evt.head == tail) {
				c->live_tail = tail;
				c->live_since_ms = now;
			} else if (now - c->live_since_ms > b->cfg.hang_timeout_ms) {
				char why[96];
				snprintf(why, sizeof why, "hung (events waiting, ring not drained for %llu ms)",
					 (unsigned long long)(now - c->live_since_ms));
				c->hung_kills++;
				rf_alert(b, c->man.name, "hung", why);
				rf_sv_event(b, c, RF_SV_KILL, why);
			}
			break;
		}
		default:
			break;
		}
	}
}

void rf_sv_missed(struct rf_broker *b, struct rf_bclient *c)
{
	uint64_t now = rf_now_ms();
	c->auth_missed++;
	c->miss_times[c->auth_missed % RF_MISS_TALLY] = now;
	unsigned n = 0;
	for (unsigned i = 0; i < RF_MISS_TALLY; i++)
		if (c->miss_times[i] && now - c->miss_times[i] <= b->cfg.miss_window_ms)
			n++;
	if (n >= b->cfg.miss_limit && (c->state == RF_CS_RUNNING || c->state == RF_CS_CONNECTED)) {
		char why[96];
		snprintf(why, sizeof why, "%u AUTH deadline misses within %u ms", n, b->cfg.miss_window_ms);
		memset(c->miss_times, 0, sizeof c->miss_times);
		rf_sv_event(b, c, RF_SV_MISS_LIMIT, why);
		return;
	}
	/* one miss every few seconds stays under the short limit forever: a long
	 * window catches the drip (fixed window; at worst twice the limit) */
	if (!c->miss_long_start_ms || now - c->miss_long_start_ms > b->cfg.miss_long_window_ms) {
		c->miss_long_start_ms = now;
		c->miss_long_n = 0;
	}
	if (++c->miss_long_n >= b->cfg.miss_long_limit && (c->state == RF_CS_RUNNING || c->state == RF_CS_CONNECTED)) {
		char why[96];
		snprintf(why, sizeof why, "%u AUTH deadline misses within %u ms", c->miss_long_n,
			 b->cfg.miss_long_window_ms);
		c->miss_long_n = 0;
		c->miss_long_start_ms = 0;
		rf_sv_event(b, c, RF_SV_MISS_LIMIT, why);
	}
}

const char *rf_client_state_name(enum rf_client_state s)
{
	switch (s) {
	case RF_CS_EMPTY: return "empty";
	case RF_CS_STARTING: return "starting";
	case RF_CS_CONNECTED: return "connected";
	case RF_CS_RUNNING: return "running";
	case RF_CS_DEMOTED: return "demoted";
	case RF_CS_BACKOFF: return "backoff";
	case RF_CS_QUARANTINED: return "quarantined";
	case RF_CS_STOPPED: return "stopped";
	case RF_CS_COUNT: break;
	}
	return "unknown";
}
