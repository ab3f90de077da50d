/*
 * log.h - logging that never blocks the caller.
 *
 * Lines are formatted by the caller into a bounded in-memory queue; a
 * logger thread writes them to stderr.  When the queue is full the line is
 * dropped and counted, and the next line written says how many were lost.
 * This is what lets the thread that answers the kernel log at all: a write
 * to a pipe or journald can block, and a blocked broker blocks the machine.
 *
 * Vocabulary as in OpenBSD daemons: rf_warn (with errno), rf_warnx
 * (without), rf_info, rf_debug, rf_fatal / rf_fatalx (flush and exit 1).
 */
#ifndef RF_LOG_H
#define RF_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum rf_log_level { RF_LOG_ERR = 0, RF_LOG_WARN, RF_LOG_INFO, RF_LOG_DEBUG };

/* Starts the logger thread; before this, lines are written synchronously. */
int rf_log_start(const char *ident, enum rf_log_level level);
/* Flushes what is queued and stops the thread. */
void rf_log_stop(void);
/* Lines dropped because the queue was full. */
uint64_t rf_log_dropped(void);

void rf_logf(enum rf_log_level lvl, int errnum, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define rf_warn(...) rf_logf(RF_LOG_WARN, errno, __VA_ARGS__)
#define rf_warnx(...) rf_logf(RF_LOG_WARN, 0, __VA_ARGS__)
#define rf_info(...) rf_logf(RF_LOG_INFO, 0, __VA_ARGS__)
#define rf_debug(...) rf_logf(RF_LOG_DEBUG, 0, __VA_ARGS__)

void rf_fatal(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
void rf_fatalx(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
