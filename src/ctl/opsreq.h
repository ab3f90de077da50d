/*
 * opsreq.h - requests to the broker beyond ops_open()'s fixed one, and the
 * operator's content commands (cmd_content_ops.c).
 */
#ifndef RF_CTL_OPSREQ_H
#define RF_CTL_OPSREQ_H

#include <stddef.h>

#include "ctl/ctl.h"

/* Connects and sends len bytes of req; the socket, or -1 after reporting why. */
int ops_send_request(const struct rfctl *ctl, const void *req, size_t len);

/*
 * rfctl content status|check|pause|resume|pin|unpin|delay: argv[0] is the
 * subcommand.  Returns -1 when argv[0] is not one of them (the caller
 * handles it), else an exit status.
 */
int content_ops(const struct rfctl *ctl, int argc, char **argv);

#endif
