/*
 * ctl.h - what the rfctl modules share: the command entry points, the
 * connection to ringfenced's operator control socket (ops.c) and small
 * output helpers.  Commands return an exit status: RFCTL_OK, RFCTL_FAIL
 * (the operation failed; already reported on stderr) or RFCTL_USAGE.
 */
#ifndef RF_CTL_CTL_H
#define RF_CTL_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/un.h>

enum { RFCTL_OK = 0, RFCTL_FAIL = 1, RFCTL_USAGE = 2 };

#define RFCTL_DEFAULT_STATE_DIR "/run/ringfence"
#define RFCTL_SOCKET_NAME "control.sock"
/* How long status and clients wait for connect and for the reply. */
#define RFCTL_REPLY_TIMEOUT_MS 2000
/* Largest status reply accepted; the broker's is a few KiB. */
#define RFCTL_REPLY_MAX (16u << 20)

struct rfctl {
	char sock_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
};

/* Commands: argv[0] is the command name; options are parsed from argv[1]. */
int cmd_status(const struct rfctl *ctl, int argc, char **argv);
int cmd_clients(const struct rfctl *ctl, int argc, char **argv);
int cmd_tail(const struct rfctl *ctl, int argc, char **argv);
int cmd_record(const struct rfctl *ctl, int argc, char **argv);
/* `content SUBCOMMAND`: the signed content repository tools (cmd_content.c). */
int cmd_content(const struct rfctl *ctl, int argc, char **argv);

/* Prints the usage of command (NULL: the overview) to out. */
void rfctl_usage(FILE *out, const char *command);
/* Reports a usage error for command on stderr; returns RFCTL_USAGE. */
int rfctl_usage_error(const char *command, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* "rfctl: " + message (+ ": " + strerror(errnum) when errnum != 0) on stderr. */
void rfctl_err(int errnum, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * Parses a comma-separated list of event type names into a mask of
 * 1 << type.  On an unknown or empty name, reports a usage error listing
 * the valid names and returns -EINVAL; *ret_mask is then untouched.
 */
int rfctl_parse_events(const char *command, const char *list, uint64_t *ret_mask);

/* ---- ops.c: the operator control socket ---- */

/*
 * Connects to ctl->sock_path (waiting at most RFCTL_REPLY_TIMEOUT_MS) and
 * sends one request.  Returns the socket, or -1 after reporting why.
 */
int ops_open(const struct rfctl *ctl, uint16_t cmd, uint64_t type_mask, uint32_t exclude_pgid);

/*
 * Waits up to timeout_ms for one datagram of any size up to RFCTL_REPLY_MAX
 * and stores it, malloc()ed and NUL terminated, in *ret_buf and its length
 * in *ret_len.  Returns 0, or -1 after reporting why.
 */
int ops_recv_reply(int fd, int timeout_ms, char **ret_buf, size_t *ret_len);

/*
 * If the datagram is the broker's refusal, a JSON object with an "error"
 * string, reports it and returns true.
 */
bool ops_reply_is_error(const char *buf, size_t len);

/* After getopt_long() returned '?': the option it did not know. */
const char *rfctl_bad_option(char **argv);

/* Writes s to out with control characters replaced, for terminal output. */
void rfctl_put_safe(FILE *out, const char *s);

#endif
