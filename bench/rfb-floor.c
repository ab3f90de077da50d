/*
 * rfb-floor - the bench's raw-fanotify floor: the least a user-space AUTH
 * responder can cost.  One process, one FAN_CLASS_CONTENT group, a
 * FAN_MARK_FILESYSTEM permission mark (open and exec) on one tmpfs, a
 * blocking read loop that allows every event.  With --cache it also places
 * an evictable ignore mark on each answered inode (what ringfence's verdict
 * cache does), so a repeated access of an unchanged file raises no event.
 *
 *   rfb-floor --watch DIR [--cache] [--ready FILE]
 *
 * Safety: refuses any DIR that is not on a tmpfs or that shares a device
 * with "/", so it can never mark the root filesystem.  Run it in a private
 * mount namespace under a timeout.  When it exits, for any reason, the
 * kernel allows whatever was still pending.  SIGTERM ends it; it prints its
 * event count on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/magic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#define PERM_MASK (FAN_OPEN_PERM | FAN_OPEN_EXEC_PERM)

static volatile sig_atomic_t stop;

static void on_term(int sig)
{
	(void)sig;
	stop = 1;
}

static int die(const char *what)
{
	fprintf(stderr, "rfb-floor: %s: %s\n", what, strerror(errno));
	return 1;
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "watch", required_argument, NULL, 'w' },
		{ "cache", no_argument, NULL, 'c' },
		{ "ready", required_argument, NULL, 'r' },
		{ NULL, 0, NULL, 0 },
	};
	const char *watch = NULL, *ready = NULL;
	int cache = 0, o;
	while ((o = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (o) {
		case 'w': watch = optarg; break;
		case 'c': cache = 1; break;
		case 'r': ready = optarg; break;
		default: return 2;
		}
	}
	if (!watch) {
		fprintf(stderr, "usage: rfb-floor --watch DIR [--cache] [--ready FILE]\n");
		return 2;
	}
	struct statfs sfs;
	struct stat st, root;
	if (statfs(watch, &sfs) < 0 || stat(watch, &st) < 0 || stat("/", &root) < 0)
		return die(watch);
	if (sfs.f_type != TMPFS_MAGIC || st.st_dev == root.st_dev) {
		fprintf(stderr, "rfb-floor: %s is not a tmpfs of its own: refusing to mark it\n", watch);
		return 1;
	}

	struct sigaction sa = { .sa_handler = on_term };   /* no SA_RESTART: read returns EINTR */
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);

	int fan = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
	if (fan < 0)
		return die("fanotify_init");
	if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_FILESYSTEM, PERM_MASK, AT_FDCWD, watch) < 0)
		return die("fanotify_mark");
	if (ready) {
		FILE *f = fopen(ready, "w");
		if (!f)
			return die(ready);
		fprintf(f, "%d\n", (int)getpid());
		fclose(f);
	}

	uint64_t events = 0, marks = 0, mark_fail = 0;
	_Alignas(struct fanotify_event_metadata) char buf[8192];
	while (!stop) {
		ssize_t n = read(fan, buf, sizeof buf);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return die("read");
		}
		const struct fanotify_event_metadata *md = (const void *)buf;
		for (; FAN_EVENT_OK(md, n); md = FAN_EVENT_NEXT(md, n)) {
			if (md->fd < 0)
				continue;
			if (md->mask & PERM_MASK) {
				struct fanotify_response r = { .fd = md->fd, .response = FAN_ALLOW };
				if (write(fan, &r, sizeof r) != sizeof r)
					return die("response");
				events++;
				if (cache) {
					if (fanotify_mark(fan, FAN_MARK_ADD | FAN_MARK_IGNORED_MASK | FAN_MARK_EVICTABLE,
							  md->mask & PERM_MASK, md->fd, NULL) == 0)
						marks++;
					else
						mark_fail++;
				}
			}
			close(md->fd);
		}
	}
	fprintf(stderr, "rfb-floor: %llu events answered, %llu cache marks, %llu mark failures\n",
		(unsigned long long)events, (unsigned long long)marks, (unsigned long long)mark_fail);
	return 0;
}
