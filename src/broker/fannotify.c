/*
 * fannotify.c - fanotify notification events (create, close-after-write,
 * unlink, rename) as a sensor.
 *
 * The group reports directory file handles and names (FAN_REPORT_DFID_NAME),
 * which the sensor turns into paths with open_by_handle_at(O_PATH) against
 * the watched filesystem the event's fsid names.  O_PATH opens raise no
 * fanotify events, so this can never wait on the broker's own permission
 * group.  A queue overflow is counted as lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "broker/broker.h"
#include "common/log.h"

struct fan_priv {
	struct rf_broker *b;
};

void rf_fanotify_sensor_bind(struct rf_sensor *s, struct rf_broker *b)
{
	struct fan_priv *p = calloc(1, sizeof *p);
	if (p)
		p->b = b;
	s->priv = p;
}

#define NOTIFY_MASK (FAN_CREATE | FAN_DELETE | FAN_CLOSE_WRITE | FAN_RENAME | FAN_ONDIR)

static int fan_start(struct rf_sensor *s)
{
	struct fan_priv *p = s->priv;
	if (!p)
		return -ENOMEM;
	int fd = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK | FAN_REPORT_DFID_NAME,
			       O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	unsigned marked = 0;
	for (unsigned i = 0; i < p->b->nwatch_fds; i++) {
		if (fanotify_mark(fd, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, NOTIFY_MASK, p->b->watch_fds[i],
				  NULL) == 0)
			marked++;
		else
			rf_warn("fanotify notify mark on watch %u", i);
	}
	if (!marked) {
		close(fd);
		return -ENODEV;
	}
	s->fd = fd;
	static char detail[64];
	snprintf(detail, sizeof detail, "%u filesystems", marked);
	s->detail = detail;
	return 0;
}

static int mount_fd_for(struct rf_broker *b, const __kernel_fsid_t *fsid)
{
	uint64_t want;
	memcpy(&want, fsid, sizeof want);
	for (unsigned i = 0; i < b->nwatch_fds; i++)
		if (b->watch_fsid[i] == want)
			return b->watch_fds[i];
	return -1;
}

/* Resolves a directory handle plus name to a path; 0 or -1. */
static int resolve(struct rf_broker *b, const struct fanotify_event_info_fid *fid, size_t len,
		   char *out, size_t outlen)
{
	if (len < sizeof *fid + sizeof(struct file_handle))
		return -1;
	const struct file_handle *fh = (const void *)fid->handle;
	size_t fh_size = sizeof *fh + fh->handle_bytes;
	if (sizeof *fid + fh_size > len || fh->handle_bytes > MAX_HANDLE_SZ)
		return -1;
	const char *name = (const char *)fid->handle + fh_size;
	size_t name_max = len - sizeof *fid - fh_size;
	if (!name_max || !memchr(name, '\0', name_max))
		return -1;
	int mfd = mount_fd_for(b, &fid->fsid);
	if (mfd < 0)
		return -1;
	_Alignas(struct file_handle) char hbuf[sizeof(struct file_handle) + MAX_HANDLE_SZ];
	memcpy(hbuf, fh, fh_size);
	int dfd = open_by_handle_at(mfd, (struct file_handle *)hbuf, O_PATH | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	char link[64], dir[PATH_MAX];
	snprintf(link, sizeof link, "/proc/self/fd/%d", dfd);
	ssize_t n = readlink(link, dir, sizeof dir - 1);
	close(dfd);
	if (n <= 0)
		return -1;
	dir[n] = '\0';
	if (!strcmp(name, "."))
		snprintf(out, outlen, "%s", dir);
	else
		snprintf(out, outlen, "%s%s%s", dir, strcmp(dir, "/") ? "/" : "", name);
	return 0;
}

static void handle(struct rf_sensor *s, const struct fanotify_event_metadata *md, const char *info,
		   size_t left)
{
	struct fan_priv *p = s->priv;
	char path[PATH_MAX] = "", dest[PATH_MAX] = "";
	bool have_path = false, have_dest = false;
	while (left >= sizeof(struct fanotify_event_info_header)) {
		const struct fanotify_event_info_header *h = (const void *)info;
		if (h->len < sizeof *h || h->len > left)
			break;
		const struct fanotify_event_info_fid *fid = (const void *)info;
		if (h->info_type == FAN_EVENT_INFO_TYPE_DFID_NAME ||
		    h->info_type == FAN_EVENT_INFO_TYPE_OLD_DFID_NAME)
			have_path = resolve(p->b, fid, h->len, path, sizeof path) == 0;
		else if (h->info_type == FAN_EVENT_INFO_TYPE_NEW_DFID_NAME)
			have_dest = resolve(p->b, fid, h->len, dest, sizeof dest) == 0;
		info += h->len;
		left -= h->len;
	}
	if (!have_path) {
		s->lost++;   /* the directory is gone already: nothing to name */
		return;
	}
	/*
	 * The kernel merges queued events on the same name, so one record can
	 * carry several: report each, in the order they happen.
	 */
	static const struct { uint64_t bit; uint16_t type; } order[] = {
		{ FAN_CREATE, RF_EVENT_CREATE },
		{ FAN_CLOSE_WRITE, RF_EVENT_CLOSE_WRITE },
		{ FAN_RENAME, RF_EVENT_RENAME },
		{ FAN_DELETE, RF_EVENT_UNLINK },
	};
	for (size_t i = 0; i < sizeof order / sizeof *order; i++) {
		if (!(md->mask & order[i].bit))
			continue;
		struct rf_raw_event ev = { .type = order[i].type, .pid = (uint32_t)md->pid,
					   .tid = (uint32_t)md->pid };
		ev.u.file.path = path;
		ev.u.file.dest = order[i].type == RF_EVENT_RENAME && have_dest ? dest : NULL;
		ev.u.file.is_dir = (md->mask & FAN_ONDIR) != 0;
		s->events++;
		s->sink(s->sink_ctx, &ev);
	}
}

static int fan_drain(struct rf_sensor *s)
{
	struct fan_priv *p = s->priv;
	_Alignas(struct fanotify_event_metadata) char buf[16384];
	int handled = 0;
	for (int rounds = 0; rounds < 16; rounds++) {
		ssize_t n = read(s->fd, buf, sizeof buf);
		if (n < 0)
			return errno == EAGAIN || errno == EINTR ? handled : -errno;
		/*
		 * Records with file handles are only 4-byte aligned: copy each
		 * header out instead of casting into the buffer.
		 */
		size_t off = 0;
		while ((size_t)n - off >= sizeof(struct fanotify_event_metadata)) {
			struct fanotify_event_metadata md;
			memcpy(&md, buf + off, sizeof md);
			if (md.event_len < sizeof md || md.event_len > (size_t)n - off ||
			    md.metadata_len < sizeof md || md.metadata_len > md.event_len)
				return -EPROTO;
			if (md.vers != FANOTIFY_METADATA_VERSION)
				return -EPROTO;
			const char *info = buf + off + md.metadata_len;
			size_t info_len = md.event_len - md.metadata_len;
			off += md.event_len;
			if (md.mask & FAN_Q_OVERFLOW) {
				s->lost++;
				p->b->stats.notify_overflow++;
				continue;
			}
			if (md.fd >= 0)
				close(md.fd);
			if (md.pid == p->b->self)
				continue;
			handle(s, &md, info, info_len);
			handled++;
		}
	}
	return handled;
}

static void fan_stop(struct rf_sensor *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->priv);
	s->priv = NULL;
}

const struct rf_sensor_ops rf_sensor_fanotify = {
	.name = "fanotify_notify",
	.start = fan_start,
	.drain = fan_drain,
	.stop = fan_stop,
};
