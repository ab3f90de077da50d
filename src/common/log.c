/*
 * log.c - a bounded, drop-counting log queue drained by one thread.
 */
#include "common/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define LOG_LINE_MAX 512
#define LOG_QUEUE 1024

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stopping;
	enum rf_log_level level;
	const char *ident;
	unsigned head, tail;          /* head - tail = queued lines */
	uint64_t dropped, dropped_reported;
	char lines[LOG_QUEUE][LOG_LINE_MAX];
} L = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.cond = PTHREAD_COND_INITIALIZER,
	.level = RF_LOG_INFO,
	.ident = "ringfence",
};

static const char *level_name[] = { "error", "warning", "info", "debug" };

static void write_all(const char *s, size_t n)
{
	while (n > 0) {
		ssize_t w = write(STDERR_FILENO, s, n);
		if (w < 0) {
			if (errno == EINTR)
				continue;
			return;
		}
		s += w;
		n -= (size_t)w;
	}
}

static void *log_thread(void *arg)
{
	(void)arg;
	char line[LOG_LINE_MAX + 96];
	pthread_mutex_lock(&L.lock);
	for (;;) {
		while (L.head == L.tail && !L.stopping)
			pthread_cond_wait(&L.cond, &L.lock);
		if (L.head == L.tail && L.stopping)
			break;
		memcpy(line, L.lines[L.tail % LOG_QUEUE], LOG_LINE_MAX);
		L.tail++;
		uint64_t lost = L.dropped - L.dropped_reported;
		L.dropped_reported = L.dropped;
		pthread_mutex_unlock(&L.lock);
		if (lost) {
			char m[96];
			int n = snprintf(m, sizeof m, "%s: warning: log queue full, %llu lines lost\n",
					 L.ident, (unsigned long long)lost);
			write_all(m, (size_t)n);
		}
		write_all(line, strnlen(line, LOG_LINE_MAX));
		pthread_mutex_lock(&L.lock);
	}
	pthread_mutex_unlock(&L.lock);
	return NULL;
}

int rf_log_start(const char *ident, enum rf_log_level level)
{
	L.ident = ident;
	L.level = level;
	if (L.running)
		return 0;
	int r = pthread_create(&L.thread, NULL, log_thread, NULL);
	if (r != 0)
		return -r;
	L.running = true;
	return 0;
}

void rf_log_stop(void)
{
	if (!L.running)
		return;
	pthread_mutex_lock(&L.lock);
	L.stopping = true;
	pthread_cond_signal(&L.cond);
	pthread_mutex_unlock(&L.lock);
	pthread_join(L.thread, NULL);
	L.running = false;
	L.stopping = false;
}

uint64_t rf_log_dropped(void)
{
	pthread_mutex_lock(&L.lock);
	uint64_t d = L.dropped;
	pthread_mutex_unlock(&L.lock);
	return d;
}

static void vlog(enum rf_log_level lvl, int errnum, const char *fmt, va_list ap)
{
	char buf[LOG_LINE_MAX];
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	struct tm tm;
	gmtime_r(&ts.tv_sec, &tm);
	int n = snprintf(buf, sizeof buf, "%02d:%02d:%02d.%03ld %s: %s: ", tm.tm_hour, tm.tm_min,
			 tm.tm_sec, ts.tv_nsec / 1000000, L.ident, level_name[lvl]);
	if (n < 0)
		return;
	if ((size_t)n < sizeof buf)
		n += vsnprintf(buf + n, sizeof buf - (size_t)n, fmt, ap);
	if ((size_t)n < sizeof buf && errnum)
		n += snprintf(buf + n, sizeof buf - (size_t)n, ": %s", strerror(errnum));
	if ((size_t)n >= sizeof buf - 1)
		n = (int)sizeof buf - 2;
	buf[n] = '\n';
	buf[n + 1] = '\0';

	if (!L.running) {
		write_all(buf, (size_t)n + 1);
		return;
	}
	pthread_mutex_lock(&L.lock);
	if (L.head - L.tail >= LOG_QUEUE) {
		L.dropped++;
	} else {
		memcpy(L.lines[L.head % LOG_QUEUE], buf, (size_t)n + 2);
		L.head++;
		pthread_cond_signal(&L.cond);
	}
	pthread_mutex_unlock(&L.lock);
}

void rf_logf(enum rf_log_level lvl, int errnum, const char *fmt, ...)
{
	if (lvl > L.level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vlog(lvl, errnum, fmt, ap);
	va_end(ap);
}

void rf_fatal(const char *fmt, ...)
{
	int e = errno;
	va_list ap;
	va_start(ap, fmt);
	vlog(RF_LOG_ERR, e, fmt, ap);
	va_end(ap);
	rf_log_stop();
	exit(1);
}

void rf_fatalx(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vlog(RF_LOG_ERR, 0, fmt, ap);
	va_end(ap);
	rf_log_stop();
	exit(1);
}
