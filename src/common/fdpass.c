/*
 * fdpass.c - see fdpass.h.
 */
#include "common/fdpass.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>

ssize_t rf_send_with_fds(int sock, const void *buf, size_t len, const int *fds, unsigned nfds, int flags)
{
	if (nfds == 0 || nfds > RF_FDPASS_MAX)
		return -EINVAL;
	union {
		char buf[CMSG_SPACE(RF_FDPASS_MAX * sizeof(int))];
		struct cmsghdr align;
	} cb;
	memset(&cb, 0, sizeof cb);
	struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cb.buf,
			     .msg_controllen = CMSG_SPACE(nfds * sizeof(int)) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(nfds * sizeof(int));
	memcpy(CMSG_DATA(cm), fds, nfds * sizeof(int));
	ssize_t n;
	do
		n = sendmsg(sock, &mh, flags);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}
