/*
 * fdpass.h - sending descriptors over a unix socket (SCM_RIGHTS).
 *
 * Used by the broker's handshake (memfd and eventfds), its per-event file
 * descriptors for scanners, and the sandboxed child handing its seccomp
 * notify descriptor to the broker, which may call nothing but sendmsg.
 */
#ifndef RF_FDPASS_H
#define RF_FDPASS_H

#include <stddef.h>
#include <sys/types.h>

#define RF_FDPASS_MAX 4

/*
 * Sends one datagram of len bytes carrying nfds (1..RF_FDPASS_MAX)
 * descriptors.  Makes no system call but sendmsg (retried on EINTR).
 * Returns the bytes sent, or -errno (-EINVAL for a bad nfds).
 */
ssize_t rf_send_with_fds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds, int flags);

#endif
