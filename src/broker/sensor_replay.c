/*
 * sensor_replay.c - replays a recording made by `rfctl record` as if the
 * kernel produced it: for tests, benchmarks and trying content on recent
 * events.  Every record is checked by the recfile reader (size, version,
 * string references) before use; a bad record ends the replay, logged.
 *
 * The file is mapped read-only.  The sensor's descriptor is a timerfd armed
 * to fire at once while messages remain, so the loop drains a bounded batch
 * per turn and other sources (AUTH above all) are never starved.  Unlike the
 * kernel, a recording can wait: when a subscribed client's ring is nearly
 * full the replay pauses (re-checking every 100 us) instead of dropping.
 * Messages go out as NOTIFY with RF_MSG_F_REPLAYED, re-stamped with the
 * current time.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"
#include "common/recfile.h"

#define REPLAY_MAX_BYTES (4ull << 30)
#define REPLAY_BATCH 4096

struct replay_priv {
	struct rf_broker *b;
	void *map;
	size_t len;
	struct rf_rec_reader *r;
	uint32_t loops_left;
	bool done;
	bool held;            /* next holds the next message, not yet dispatched */
	_Alignas(8) unsigned char next[RF_MSG_MAX];
};

void rf_replay_sensor_bind(struct rf_sensor *s, struct rf_broker *b)
{
	struct replay_priv *p = calloc(1, sizeof *p);
	if (p) {
		p->b = b;
		p->loops_left = b->cfg.replay_loops;
	}
	s->priv = p;
}

/* Fires after ns nanoseconds; 0 disarms. */
static void arm(int fd, long ns)
{
	struct itimerspec its = { .it_value = { 0, ns } };
	timerfd_settime(fd, 0, &its, NULL);
}

/* True when every client that would receive m has room for a burst. */
static bool clients_have_room(struct rf_broker *b, const struct rf_message *m)
{
	for (unsigned i = 0; i < b->nclients; i++) {
		const struct rf_bclient *c = &b->clients[i];
		if (c->shm && (c->notify_mask & (1ull << m->hdr.type)) && !rf_client_has_room(c, 4 * RF_MSG_MAX))
			return false;
	}
	return true;
}

static int replay_start(struct rf_sensor *s)
{
	struct replay_priv *p = s->priv;
	if (!p)
		return -ENOMEM;
	int fd = open(p->b->cfg.replay, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || st.st_size <= 0 ||
	    (uint64_t)st.st_size > REPLAY_MAX_BYTES) {
		close(fd);
		return -EINVAL;
	}
	p->len = (size_t)st.st_size;
	p->map = mmap(NULL, p->len, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p->map == MAP_FAILED) {
		p->map = NULL;
		return -errno;
	}
	madvise(p->map, p->len, MADV_SEQUENTIAL);
	int r = rf_rec_reader_new_mem(p->map, p->len, &p->r);
	if (r < 0) {
		rf_warnx("replay %s: %s", p->b->cfg.replay, rf_rec_strerror(r));
		return r;
	}
	s->fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (s->fd < 0)
		return -errno;
	arm(s->fd, 1);
	s->detail = p->b->cfg.replay;
	return 0;
}

static void finish(struct rf_sensor *s, struct replay_priv *p)
{
	arm(s->fd, 0);
	p->done = true;
	rf_info("replay %s: done, %llu events", p->b->cfg.replay, (unsigned long long)s->events);
}

static int replay_drain(struct rf_sensor *s)
{
	struct replay_priv *p = s->priv;
	struct rf_broker *b = p->b;
	uint64_t v;
	if (read(s->fd, &v, sizeof v) < 0 && errno != EAGAIN)
		return -errno;
	if (p->done)
		return 0;
	int n = 0;
	bool blocked = false;
	while (n < REPLAY_BATCH) {
		const struct rf_message *m;
		size_t len;
		if (p->held) {
			m = (const void *)p->next;
			if (!clients_have_room(b, m)) {
				blocked = true;
				break;
			}
			p->held = false;
			memcpy(b->mb.u.bytes, p->next, m->hdr.size);
			rf_stamp(&b->mb.u.msg);
			s->events++;
			rf_dispatch_notify(b);
			n++;
			continue;
		}
		int r = rf_rec_reader_next(p->r, &m, &len);
		if (r == 0) {
			if (p->loops_left == 0) {
				finish(s, p);
				break;
			}
			p->loops_left--;
			rf_rec_reader_free(p->r);
			p->r = NULL;
			if (rf_rec_reader_new_mem(p->map, p->len, &p->r) < 0) {
				finish(s, p);
				break;
			}
			continue;
		}
		if (r < 0) {
			rf_warnx("replay %s: record at offset %llu: %s", b->cfg.replay,
				 (unsigned long long)rf_rec_reader_offset(p->r), rf_rec_strerror(r));
			s->lost++;
			finish(s, p);
			break;
		}
		memcpy(p->next, m, len);
		struct rf_message *out = (void *)p->next;
		out->hdr.action = RF_ACTION_NOTIFY;
		out->hdr.verdict = RF_VERDICT_NONE;
		out->hdr.decided_by = RF_DECIDER_NONE;
		out->hdr.decider = (rf_str_t){ 0, 0 };
		out->hdr.deadline_ns = 0;
		out->hdr.id = 0;
		out->hdr.flags |= RF_MSG_F_REPLAYED;
		p->held = true;   /* goes out at the top of the loop, when there is room */
	}
	if (!p->done)
		arm(s->fd, blocked ? 100000 : 1);
	return n;
}

static void replay_stop(struct rf_sensor *s)
{
	struct replay_priv *p = s->priv;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	if (p) {
		rf_rec_reader_free(p->r);
		if (p->map)
			munmap(p->map, p->len);
		free(p);
	}
	s->priv = NULL;
}

const struct rf_sensor_ops rf_sensor_replay = {
	.name = "replay",
	.start = replay_start,
	.drain = replay_drain,
	.stop = replay_stop,
};
